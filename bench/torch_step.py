"""PyTorch's MLP training step on random data, the shapes ladle-stepbench runs.

Forward, cross-entropy, backward and AdamW, fp32 without TF32 (PyTorch's
default for matmuls), timed with CUDA events after warm-up. Prints one JSON
line per configuration:

    python3 bench/torch_step.py --device cuda --hidden 4096,4096 --batch 4096
"""
import argparse
import json
import time

import torch


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--device", default="cuda")
    p.add_argument("--hidden", default="1024,1024")
    p.add_argument("--batch", type=int, default=512)
    p.add_argument("--steps", type=int, default=50)
    a = p.parse_args()
    torch.backends.cuda.matmul.allow_tf32 = False
    dev = torch.device(a.device)
    dims = [784] + [int(h) for h in a.hidden.split(",")] + [10]
    layers = []
    for i in range(len(dims) - 1):
        layers.append(torch.nn.Linear(dims[i], dims[i + 1]))
        if i + 2 < len(dims):
            layers.append(torch.nn.ReLU())
    model = torch.nn.Sequential(*layers).to(dev)
    opt = torch.optim.AdamW(model.parameters(), lr=1e-4, weight_decay=0.0)
    x = torch.randn(a.batch, 784, device=dev)
    y = torch.randint(0, 10, (a.batch,), device=dev)
    loss_fn = torch.nn.CrossEntropyLoss()

    def step():
        opt.zero_grad(set_to_none=True)
        loss = loss_fn(model(x), y)
        loss.backward()
        opt.step()

    for _ in range(5):
        step()
    if dev.type == "cuda":
        torch.cuda.synchronize()
    t0 = time.perf_counter()
    for _ in range(a.steps):
        step()
    if dev.type == "cuda":
        torch.cuda.synchronize()
    dt = (time.perf_counter() - t0) / a.steps
    print(json.dumps({"model": "mlp " + "-".join(map(str, dims)), "batch": a.batch,
                      "step_seconds": dt, "samples_per_second": a.batch / dt,
                      "torch": torch.__version__}))


if __name__ == "__main__":
    main()
