#!/usr/bin/python3
"""train_peer.py: the reference network in PyTorch (conv or locally connected), as the speed peer of
`lateral train`: same layers, AdamW, batch, threads and images. Prints one JSON line with images/s.

Locally connected layers (--lc):
  paper   the layer of the original study's code (Pogodin et al. 2021, networks/locally_connected_utils.py):
          the input zero-padded, x.unfold(2, k, s).unfold(3, k, s), then
          einsum('bgihwkc,igjhwkc->bgjhw') with weights laid out (c_in, groups, c_out, h_out, w_out, k, k)
          and one bias per output channel; the peer a user of that code runs (the default).
  unfold  F.unfold, then einsum('bkl,okl->bol') with one bias per output neuron: a slower formulation,
          kept only to show what an earlier comparison measured."""
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


class PaperLC(nn.Module):
    """The original study's locally connected layer (groups = 1, stride 1, padding k // 2)."""

    def __init__(self, c_in, c_out, size, k):
        super().__init__()
        self.k, self.pad = k, k // 2
        fan_in = c_in * k * k
        bound = 1 / fan_in ** 0.5
        self.weight = nn.Parameter(torch.empty(c_in, 1, c_out, size, size, k, k).uniform_(-bound, bound))
        self.bias = nn.Parameter(torch.empty(1, c_out, 1, 1).uniform_(-bound, bound))

    def forward(self, x):
        x = F.pad(x, (self.pad,) * 4)
        x = x.unfold(2, self.k, 1).unfold(3, self.k, 1)  # b i h w k c
        x = x.unsqueeze(1)  # b g i h w k c
        out = torch.einsum("bgihwkc,igjhwkc->bgjhw", x, self.weight)
        return out.flatten(1, 2) + self.bias


def network(lc):
    def layer(c_in, c_out, size):
        if lc == "paper":
            return PaperLC(c_in, c_out, size, 5)
        if lc == "unfold":
            return LC(c_in, c_out, size, 5)
        return nn.Conv2d(c_in, c_out, 5, padding=2)
    return nn.Sequential(layer(1, 32, 28), nn.ReLU(), nn.MaxPool2d(2),
                         layer(32, 64, 14), nn.ReLU(), nn.MaxPool2d(2),
                         nn.Flatten(), nn.Linear(3136, 10))


def load_idx(path, offset):
    with gzip.open(path) as f:
        return np.frombuffer(f.read(), np.uint8, offset=offset)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--lc", nargs="?", const="paper", choices=["paper", "unfold"],
                    help="locally connected instead of conv: the paper's layer (default) or F.unfold")
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
    print(json.dumps({"peer": "pytorch " + torch.__version__, "network": "lc-" + a.lc if a.lc else "conv",
                      "images": len(x), "threads": a.threads, "seconds": seconds,
                      "images_per_s": len(x) / seconds}))


if __name__ == "__main__":
    main()
