#!/usr/bin/python3
"""PyTorch baseline for bench/train_bench.sh: trains on the very data ladle-train used
(exported by ladle-export-data) and prints one JSON line with throughput and accuracy.

Runs PyTorch the fairest way this machine allows: torch.set_num_threads(N) and
OMP_WAIT_POLICY=passive (set by the caller before Python starts).

  pytorch_baseline.py mlp DATA.safetensors --hidden 1024 1024 --batch 128 --epochs 1
  pytorch_baseline.py gcn DATA.safetensors --hidden 128 --epochs 100
"""
import argparse
import json
import struct
import time

import numpy as np
import torch
import torch.nn.functional as F

DTYPES = {"F32": np.float32, "I32": np.int32}


def read_safetensors(path):
    with open(path, "rb") as f:
        (n,) = struct.unpack("<Q", f.read(8))
        header = json.loads(f.read(n))
        data = f.read()
    out = {}
    for name, t in header.items():
        if name == "__metadata__":
            continue
        a, b = t["data_offsets"]
        out[name] = torch.from_numpy(
            np.frombuffer(data[a:b], dtype=DTYPES[t["dtype"]]).reshape(t["shape"]).copy())
    return out


def sync(t):
    if t.is_cuda:
        torch.cuda.synchronize()


def accuracy(logits, y):
    return (logits.argmax(1) == y).float().mean().item()


def run_mlp(args, d):
    torch.manual_seed(args.seed)
    x, y = d["train_x"], d["train_y"].long()
    dims = [x.shape[1]] + args.hidden + [10]
    layers = []
    for i in range(len(dims) - 1):
        layers.append(torch.nn.Linear(dims[i], dims[i + 1]))
        if i + 2 < len(dims):
            layers.append(torch.nn.ReLU())
    model = torch.nn.Sequential(*layers).to(x.device)
    opt = torch.optim.AdamW(model.parameters(), lr=args.lr, weight_decay=0.0)
    n = x.shape[0]
    train_seconds, samples = 0.0, 0
    gen = torch.Generator().manual_seed(args.seed)
    for _ in range(args.epochs):
        perm = torch.randperm(n, generator=gen).to(x.device)
        for i in range(0, n, args.batch):
            idx = perm[i:i + args.batch]
            t0 = time.perf_counter()
            xb, yb = x[idx], y[idx]
            loss = F.cross_entropy(model(xb), yb)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            sync(x)
            train_seconds += time.perf_counter() - t0
            samples += len(idx)
    with torch.no_grad():
        test = accuracy(model(d["test_x"]), d["test_y"].long())
    return {"framework": "pytorch", "model": "mlp", "batch": args.batch,
            "train_samples_per_second": samples / train_seconds, "train_seconds": train_seconds,
            "test_accuracy": test}


def run_gcn(args, d):
    torch.manual_seed(args.seed)
    x, y = d["x"], d["y"].long()
    n = x.shape[0]
    adj = torch.sparse_csr_tensor(d["adj_row_ptr"].long(), d["adj_col_idx"].long(),
                                  d["adj_values"], size=(n, n))
    dims = [x.shape[1]] + args.hidden + [int(y.max()) + 1]
    lins = torch.nn.ModuleList(
        torch.nn.Linear(dims[i], dims[i + 1]) for i in range(len(dims) - 1)).to(x.device)
    opt = torch.optim.AdamW(lins.parameters(), lr=args.lr, weight_decay=args.weight_decay)
    train_nodes, test_nodes = d["train_nodes"].long(), d["test_nodes"].long()

    def forward(training):
        h = x
        for i, lin in enumerate(lins):
            h = F.dropout(h, args.dropout, training)
            h = torch.sparse.mm(adj, h @ lin.weight.t()) + lin.bias
            if i + 1 < len(lins):
                h = F.relu(h)
        return h

    train_seconds = 0.0
    for _ in range(args.epochs):
        t0 = time.perf_counter()
        loss = F.cross_entropy(forward(True)[train_nodes], y[train_nodes])
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        sync(x)
        train_seconds += time.perf_counter() - t0
    with torch.no_grad():
        test = accuracy(forward(False)[test_nodes], y[test_nodes])
    return {"framework": "pytorch", "model": "gcn", "epoch_seconds": train_seconds / args.epochs,
            "test_accuracy": test}


def main():
    p = argparse.ArgumentParser()
    p.add_argument("model", choices=["mlp", "gcn"])
    p.add_argument("data")
    p.add_argument("--hidden", type=int, nargs="+", default=[1024, 1024])
    p.add_argument("--batch", type=int, default=128)
    p.add_argument("--epochs", type=int, default=1)
    p.add_argument("--lr", type=float, default=1e-3)
    p.add_argument("--weight-decay", type=float, default=0.0)
    p.add_argument("--dropout", type=float, default=0.0)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--device", default="cpu", help="cpu or cuda")
    args = p.parse_args()
    torch.set_num_threads(args.threads)
    d = {k: v.to(args.device) for k, v in read_safetensors(args.data).items()}
    result = run_mlp(args, d) if args.model == "mlp" else run_gcn(args, d)
    result["threads"] = torch.get_num_threads()
    result["torch"] = torch.__version__
    print(json.dumps(result))


if __name__ == "__main__":
    main()
