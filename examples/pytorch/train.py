#!/usr/bin/python3
"""A Fashion-MNIST MLP in PyTorch, run by Ladle as a `kind: command` job (experiment.yaml).

It uses the `ladle` module (client/python/ladle) for everything Ladle-specific: parameters in,
live metrics, the summary, an output file, and a checkpoint every epoch. A retry (a worker was
lost, the job was drained) finds the latest checkpoint restored and resumes after its epoch.
Run by hand it works too, on files under ./ladle-out/:

    /usr/bin/python3 train.py          # the defaults below; PYTHONPATH=../../client/python

Data: Debian's dataset-fashion-mnist (/usr/share/datasets/fashion-mnist). Needs python3-torch.
"""
import gzip
import os
import time

import numpy as np
import torch
import torch.nn.functional as F

import ladle

DATA = "/usr/share/datasets/fashion-mnist"


def load(kind):
    with gzip.open(os.path.join(DATA, "%s-images-idx3-ubyte.gz" % kind)) as f:
        images = np.frombuffer(f.read(), np.uint8, offset=16).reshape(-1, 784)
    with gzip.open(os.path.join(DATA, "%s-labels-idx1-ubyte.gz" % kind)) as f:
        labels = np.frombuffer(f.read(), np.uint8, offset=8)
    return torch.tensor(images, dtype=torch.float32) / 255.0, torch.tensor(labels, dtype=torch.long)


def accuracy(model, x, y):
    model.eval()
    with torch.no_grad():
        correct = (model(x).argmax(1) == y).sum().item()
    model.train()
    return correct / len(y)


def main():
    p = ladle.params(lr=0.1, seed=1, epochs=3, hidden=256, batch_size=128, train_samples=60000)
    torch.manual_seed(p["seed"])
    x, y = load("train")
    x_test, y_test = load("t10k")
    # The last 10,000 training images are the validation split.
    x_train, y_train = x[:50000][: p["train_samples"]], y[:50000][: p["train_samples"]]
    x_val, y_val = x[50000:], y[50000:]
    model = torch.nn.Sequential(torch.nn.Linear(784, p["hidden"]), torch.nn.ReLU(),
                                torch.nn.Linear(p["hidden"], 10))
    opt = torch.optim.SGD(model.parameters(), lr=p["lr"], momentum=0.9)
    ckpt = os.path.join(ladle.checkpoint_dir(), "checkpoint.pt")
    start_epoch, step, resumed_from = 0, 0, 0
    if os.path.exists(ckpt):  # a retry: go on after the saved epoch
        state = torch.load(ckpt)
        model.load_state_dict(state["model"])
        opt.load_state_dict(state["optimizer"])
        torch.set_rng_state(state["rng"])
        start_epoch, step = state["epoch"] + 1, state["step"]
        resumed_from = start_epoch
        print("resuming after epoch %d (step %d)" % (state["epoch"], step), flush=True)
    started = time.time()
    loss = torch.tensor(float("nan"))
    for epoch in range(start_epoch, p["epochs"]):
        order = torch.randperm(len(x_train))
        for i in range(0, len(order), p["batch_size"]):
            batch = order[i:i + p["batch_size"]]
            loss = F.cross_entropy(model(x_train[batch]), y_train[batch])
            opt.zero_grad()
            loss.backward()
            opt.step()
            step += 1
            if step % 50 == 0:
                ladle.report(step, train_loss=loss.item(), epoch=epoch)
            if ladle.should_stop():  # cancel, timeout or drain: the last epoch's checkpoint stands
                ladle.exit_stopped()
        val = accuracy(model, x_val, y_val)
        ladle.report(step, val_accuracy=val, train_loss=loss.item(), epoch=epoch + 1)
        tmp = ckpt + ".tmp"  # complete before it is announced
        torch.save({"model": model.state_dict(), "optimizer": opt.state_dict(),
                    "rng": torch.get_rng_state(), "epoch": epoch, "step": step}, tmp)
        os.replace(tmp, ckpt)
        ladle.checkpoint_saved(step)
        print("epoch %d: val_accuracy %.4f" % (epoch + 1, val), flush=True)
    test = accuracy(model, x_test, y_test)
    torch.save(model.state_dict(), os.path.join(ladle.output_dir(), "model.pt"))
    ladle.summary(test_accuracy=test, val_accuracy=accuracy(model, x_val, y_val),
                  final_train_loss=loss.item(), steps=step, resumed_from_epoch=resumed_from,
                  seconds=time.time() - started)
    print("test_accuracy %.4f" % test)


if __name__ == "__main__":
    main()
