#!/usr/bin/python3
"""Data-parallel training with torch DistributedDataParallel over gloo (CPU), as a Ladle gang job.

experiment.yaml asks for `ranks: 2`: Ladle starts two processes at once, possibly on two workers,
each with torchrun's environment (RANK, WORLD_SIZE, LOCAL_RANK, LOCAL_WORLD_SIZE, MASTER_ADDR,
MASTER_PORT), so `init_process_group("gloo")` finds its peers with nothing else to configure.
Each rank trains on its own shard of Fashion-MNIST; DDP averages the gradients, so every rank
ends with the same weights: each prints the SHA-256 of its parameters and rank 0 checks that all
are equal (summary key ranks_agree). Only rank 0 reports metrics, the summary and the model.

By hand, two processes on this machine:
    RANK=0 WORLD_SIZE=2 MASTER_ADDR=127.0.0.1 MASTER_PORT=29500 /usr/bin/python3 train.py &
    RANK=1 WORLD_SIZE=2 MASTER_ADDR=127.0.0.1 MASTER_PORT=29500 /usr/bin/python3 train.py
(PYTHONPATH=../../client/python for the ladle module.) Data: Debian's dataset-fashion-mnist.

fail_rank (default -1): that rank exits 1 before joining the group on the job's first attempt —
the failure path: Ladle stops the other ranks and retries the gang.
"""
import gzip
import hashlib
import os
import sys
import time

import numpy as np
import torch
import torch.distributed as dist
import torch.nn.functional as F
from torch.nn.parallel import DistributedDataParallel

import ladle

DATA = "/usr/share/datasets/fashion-mnist"


def load(kind):
    with gzip.open(os.path.join(DATA, "%s-images-idx3-ubyte.gz" % kind)) as f:
        images = np.frombuffer(f.read(), np.uint8, offset=16).reshape(-1, 784)
    with gzip.open(os.path.join(DATA, "%s-labels-idx1-ubyte.gz" % kind)) as f:
        labels = np.frombuffer(f.read(), np.uint8, offset=8)
    return torch.tensor(images, dtype=torch.float32) / 255.0, torch.tensor(labels, dtype=torch.long)


def weights_sha256(model):
    h = hashlib.sha256()
    for t in model.state_dict().values():
        h.update(t.detach().contiguous().numpy().tobytes())
    return h.hexdigest()


def main():
    p = ladle.params(lr=0.05, seed=1, epochs=1, hidden=128, batch_size=64, train_samples=10000,
                     fail_rank=-1)
    rank, world = int(os.environ.get("RANK", "0")), int(os.environ.get("WORLD_SIZE", "1"))
    if rank == p["fail_rank"] and os.environ.get("LADLE_ATTEMPT", "1") == "1":
        print("rank %d: failing on purpose (fail_rank)" % rank, file=sys.stderr, flush=True)
        sys.exit(1)
    dist.init_process_group("gloo")  # env://: MASTER_ADDR, MASTER_PORT, RANK, WORLD_SIZE
    print("rank %d of %d joined (local %s of %s, master %s:%s)" % (
        rank, world, os.environ.get("LOCAL_RANK"), os.environ.get("LOCAL_WORLD_SIZE"),
        os.environ.get("MASTER_ADDR"), os.environ.get("MASTER_PORT")), flush=True)
    torch.manual_seed(p["seed"])  # the same initial weights on every rank
    x, y = load("train")
    x_train, y_train = x[: p["train_samples"]], y[: p["train_samples"]]
    x_val, y_val = x[50000:], y[50000:]
    shard = torch.arange(rank, len(x_train), world)  # this rank's examples
    model = DistributedDataParallel(torch.nn.Sequential(
        torch.nn.Linear(784, p["hidden"]), torch.nn.ReLU(), torch.nn.Linear(p["hidden"], 10)))
    opt = torch.optim.SGD(model.parameters(), lr=p["lr"], momentum=0.9)
    generator = torch.Generator().manual_seed(p["seed"] * 1000 + rank)
    started, step = time.time(), 0
    loss = torch.tensor(float("nan"))
    for epoch in range(p["epochs"]):
        order = shard[torch.randperm(len(shard), generator=generator)]
        for i in range(0, len(order) - p["batch_size"] + 1, p["batch_size"]):
            batch = order[i:i + p["batch_size"]]
            loss = F.cross_entropy(model(x_train[batch]), y_train[batch])
            opt.zero_grad()
            loss.backward()  # DDP all-reduces the gradients here
            opt.step()
            step += 1
            if rank == 0 and step % 20 == 0:
                ladle.report(step, train_loss=loss.item(), epoch=epoch)
    digest = weights_sha256(model.module)
    print("rank %d weights sha256 %s" % (rank, digest), flush=True)
    digests = [None] * world
    dist.all_gather_object(digests, digest)
    if rank == 0:
        with torch.no_grad():
            val = (model.module(x_val).argmax(1) == y_val).float().mean().item()
        torch.save(model.module.state_dict(), os.path.join(ladle.output_dir(), "model.pt"))
        ladle.report(step, val_accuracy=val, train_loss=loss.item(), epoch=p["epochs"])
        ladle.summary(val_accuracy=val, final_train_loss=loss.item(), steps=step,
                      world_size=world, ranks_agree=int(len(set(digests)) == 1),
                      seconds=time.time() - started)
        print("val_accuracy %.4f; weights equal on all %d ranks: %s" % (
            val, world, len(set(digests)) == 1), flush=True)
    dist.destroy_process_group()


if __name__ == "__main__":
    main()
