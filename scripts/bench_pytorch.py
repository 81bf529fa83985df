#!/usr/bin/env python3
"""The peer of `make bench`: PyTorch (Debian's python3-torch 1.13, or the current release from
PyPI in .venv-torch; 2 threads) training and inference throughput on random 1x28x28 batches,
in NCHW and channels_last.

Prints one JSON line per measurement, like kd-bench:
{"impl": "pytorch", "version": "2.15.0", "isa": "AVX2", "model": ..., "mode": "train"|"infer",
 "batch": 128, "images_per_s": ..., "layout": ...}
The training step matches the Swift one: forward, CE + KD loss against stored logits,
backward, SGD with momentum.
"""
import argparse
import json
import os
import sys
import time

import torch
import torch.nn as nn
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import models  # noqa: E402


def measure(step, seconds):
    for _ in range(3):
        step()
    start = time.perf_counter()
    steps = 0
    while True:
        step()
        steps += 1
        elapsed = time.perf_counter() - start
        if elapsed >= seconds:
            return steps, elapsed


def capability():
    """The vector ISA ATen's own kernels use (PyTorch 2.x); oneDNN inside follows ONEDNN_MAX_CPU_ISA."""
    try:
        return torch.backends.cpu.get_cpu_capability()
    except AttributeError:  # 1.13 has no such query
        return os.environ.get("ATEN_CPU_CAPABILITY", "default").upper()


def main():
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--model", default="cnn5")
    ap.add_argument("--batch", type=int, default=128)
    ap.add_argument("--input", default="1,28,28", help="C,H,W of one image")
    ap.add_argument("--seconds", type=float, default=5)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--layouts", default="nchw,channels_last")
    ap.add_argument("--mode", action="append")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(1)
    n, classes, temperature, alpha = args.batch, 10, 4.0, 0.9
    for layout in args.layouts.split(","):
        fmt = torch.channels_last if layout == "channels_last" else torch.contiguous_format
        c, h, w = (int(v) for v in args.input.split(","))
        net = models.build(args.model, in_channels=c, size=h).to(memory_format=fmt)
        x = torch.randn(n, c, h, w).to(memory_format=fmt)
        labels = torch.randint(0, classes, (n,))
        teacher = torch.randn(n, classes) * 3
        opt = torch.optim.SGD(net.parameters(), lr=0.01, momentum=0.9, weight_decay=5e-4)

        def train_step():
            opt.zero_grad()
            s = net(x)
            kl = F.kl_div(F.log_softmax(s / temperature, dim=1), F.softmax(teacher / temperature, dim=1),
                          reduction="batchmean")
            loss = kl * (alpha * temperature ** 2) + F.cross_entropy(s, labels) * (1 - alpha)
            loss.backward()
            opt.step()

        def infer_step():
            with torch.no_grad():
                net(x)

        for mode in args.mode or ["train", "infer"]:
            net.train(mode == "train")
            steps, elapsed = measure(train_step if mode == "train" else infer_step, args.seconds)
            print(json.dumps({"impl": "pytorch", "version": torch.__version__.split("+")[0], "isa": capability(),
                              "model": args.model, "mode": mode, "input": args.input, "batch": n, "layout": layout,
                              "images_per_s": round(steps * n / elapsed, 1), "steps": steps}), flush=True)


if __name__ == "__main__":
    main()
