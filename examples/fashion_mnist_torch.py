#!/usr/bin/env python3
"""The Fashion-MNIST demo as a plain PyTorch script, for comparing with
examples/fashion_mnist.c run as

    ./build/examples/fashion_mnist --model mlp --schedule constant --no-normalize
    python3 examples/fashion_mnist_torch.py --model mlp

Both then do the same thing step for step: the same model (examples/fmnist_models.h),
inputs x / 255, Adam with a constant learning rate, batch 128 with the last partial
batch dropped, a reshuffle every epoch, and a test-set evaluation after each epoch.
Initial weights and shuffling orders come from each library's own generator, so the
accuracies agree to within run-to-run noise, not bit for bit. --normalize and
--schedule cosine match the demo's defaults instead. Reads the IDX files (gzipped
or not) with the standard library; needs only torch.

    python3 examples/fashion_mnist_torch.py [--model mlp|cnn] [--epochs N] [--batch-size N]
        [--lr LR] [--schedule constant|cosine] [--normalize] [--seed S] [--data DIR]
        [--device cpu|cuda]
"""
import argparse
import gzip
import math
import os
import struct
import time

import torch
import torch.nn as nn
import torch.nn.functional as F

MEAN, STD = 0.2860, 0.3530  # as in examples/fmnist_options.h


def read_idx(directory, base):
    path = os.path.join(directory, base)
    opener = open
    if not os.path.exists(path):
        path, opener = path + ".gz", gzip.open
    with opener(path, "rb") as f:
        data = f.read()
    ndim = data[3]
    dims = struct.unpack(">" + "I" * ndim, data[4:4 + 4 * ndim])
    return torch.frombuffer(bytearray(data[4 + 4 * ndim:]), dtype=torch.uint8).reshape(dims)


def load(directory, prefix, normalize):
    x = read_idx(directory, f"{prefix}-images-idx3-ubyte").float().div(255).unsqueeze(1)
    y = read_idx(directory, f"{prefix}-labels-idx1-ubyte").long()
    return ((x - MEAN) / STD if normalize else x), y


def model(name):
    if name == "mlp":
        return nn.Sequential(nn.Flatten(), nn.Linear(784, 512), nn.ReLU(), nn.Linear(512, 256),
                             nn.ReLU(), nn.Linear(256, 10))
    return nn.Sequential(nn.Conv2d(1, 32, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
                         nn.Conv2d(32, 64, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2), nn.Flatten(),
                         nn.Linear(64 * 7 * 7, 128), nn.ReLU(), nn.Dropout(0.25), nn.Linear(128, 10))


@torch.no_grad()
def evaluate(net, x, y, batch=1000):
    net.eval()
    hits = sum((net(x[i:i + batch]).argmax(1) == y[i:i + batch]).sum().item()
               for i in range(0, len(x), batch))
    net.train()
    return hits / len(x)


def main():
    ap = argparse.ArgumentParser(description="Fashion-MNIST in plain PyTorch (see the docstring)")
    ap.add_argument("--model", choices=("mlp", "cnn"), default="mlp")
    ap.add_argument("--epochs", type=int)
    ap.add_argument("--batch-size", type=int, default=128)
    ap.add_argument("--lr", type=float, default=1e-3)
    ap.add_argument("--schedule", choices=("constant", "cosine"), default="constant")
    ap.add_argument("--normalize", action="store_true")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--data", default="/usr/share/datasets/fashion-mnist")
    ap.add_argument("--device", default="cpu")
    args = ap.parse_args()
    epochs = args.epochs or (6 if args.model == "cnn" else 5)
    torch.manual_seed(args.seed)
    dev = torch.device(args.device)
    xtr, ytr = (t.to(dev) for t in load(args.data, "train", args.normalize))
    xte, yte = (t.to(dev) for t in load(args.data, "t10k", args.normalize))
    net = model(args.model).to(dev)
    opt = torch.optim.Adam(net.parameters(), lr=args.lr)
    steps = len(xtr) // args.batch_size
    print(f"torch {torch.__version__}: {args.model}, {epochs} epochs, batch {args.batch_size}, "
          f"Adam lr {args.lr:g} ({args.schedule}), inputs {'standardised' if args.normalize else 'x / 255'}")
    start = time.perf_counter()
    for epoch in range(epochs):
        t0, loss_sum, hits = time.perf_counter(), 0.0, 0
        order = torch.randperm(len(xtr), device=dev)
        for step in range(steps):
            if args.schedule == "cosine":  # per step over the whole run, as the demo does
                t = epoch * steps + step
                for g in opt.param_groups:
                    g["lr"] = args.lr * (1 + math.cos(math.pi * t / (epochs * steps))) / 2
            idx = order[step * args.batch_size:(step + 1) * args.batch_size]
            logits = net(xtr[idx])
            loss = F.cross_entropy(logits, ytr[idx])
            opt.zero_grad()
            loss.backward()
            opt.step()
            loss_sum += loss.item()
            hits += (logits.argmax(1) == ytr[idx]).sum().item()
        acc = evaluate(net, xte, yte)
        print(f"epoch {epoch + 1}/{epochs} done in {time.perf_counter() - t0:.1f} s: train loss "
              f"{loss_sum / steps:.4f}, train acc {100 * hits / (steps * args.batch_size):.2f}%, "
              f"test acc {100 * acc:.2f}%")
    print(f"test accuracy: {100 * acc:.2f}% ({args.model}, torch {args.device}) in "
          f"{time.perf_counter() - start:.1f} s")


if __name__ == "__main__":
    main()
