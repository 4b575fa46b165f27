#!/usr/bin/python3
"""train_peer.py: the reference network in PyTorch (conv or locally connected), as the speed peer of
`lateral train`: same layers, AdamW, batch, threads and images. Prints one JSON line with images/s.

The locally connected layer is the usual PyTorch formulation: F.unfold, then one weight per output
position (einsum), as in the original study's code."""
import argparse
import gzip
import json
import time

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F


class LC(nn.Module):
    def __init__(self, c_in, c_out, size, k):
        super().__init__()
        self.k, self.size = k, size
        fan_in = c_in * k * k
        bound = 1 / fan_in ** 0.5
        self.w = nn.Parameter(torch.empty(c_out, fan_in, size * size).uniform_(-bound, bound))
        self.b = nn.Parameter(torch.empty(c_out, size * size).uniform_(-bound, bound))

    def forward(self, x):
        cols = F.unfold(x, self.k, padding=self.k // 2)  # B x K x L
        out = torch.einsum("bkl,okl->bol", cols, self.w) + self.b
        return out.view(x.shape[0], -1, self.size, self.size)


def network(lc):
    def layer(c_in, c_out, size):
        return LC(c_in, c_out, size, 5) if lc else nn.Conv2d(c_in, c_out, 5, padding=2)
    return nn.Sequential(layer(1, 32, 28), nn.ReLU(), nn.MaxPool2d(2),
                         layer(32, 64, 14), nn.ReLU(), nn.MaxPool2d(2),
                         nn.Flatten(), nn.Linear(3136, 10))


def load_idx(path, offset):
    with gzip.open(path) as f:
        return np.frombuffer(f.read(), np.uint8, offset=offset)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--lc", action="store_true", help="locally connected instead of conv")
    ap.add_argument("--images", type=int, default=12800)
    ap.add_argument("--batch", type=int, default=128)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--data", default="/usr/share/datasets/fashion-mnist/")
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    torch.manual_seed(1)
    x = load_idx(a.data + "train-images-idx3-ubyte.gz", 16).reshape(-1, 1, 28, 28)[: a.images]
    y = load_idx(a.data + "train-labels-idx1-ubyte.gz", 8)[: a.images]
    x = torch.tensor((x / 255.0 - 0.2860) / 0.3530, dtype=torch.float32)
    y = torch.tensor(y, dtype=torch.long)
    net = network(a.lc)
    opt = torch.optim.AdamW(net.parameters(), lr=1e-3, weight_decay=1e-4)
    start = time.perf_counter()
    for i in range(0, len(x), a.batch):
        opt.zero_grad()
        loss = F.cross_entropy(net(x[i:i + a.batch]), y[i:i + a.batch])
        loss.backward()
        opt.step()
    seconds = time.perf_counter() - start
    print(json.dumps({"peer": "pytorch " + torch.__version__, "network": "lc" if a.lc else "conv",
                      "images": len(x), "threads": a.threads, "seconds": seconds,
                      "images_per_s": len(x) / seconds}))


if __name__ == "__main__":
    main()
