#!/usr/bin/env python3
"""`make bench`: Swift (kd-bench) against PyTorch (bench_pytorch.py) on the same machine, in one run.

For each round and model, the two implementations run back to back (Swift, then PyTorch in
NCHW and channels_last), so both see the same machine state. The table keeps each side's best
round (interference only ever slows a run down) and PyTorch's faster layout, and gives the
ratio. A profile pass (DNNL_VERBOSE) then shows where the Swift side's time goes.
All measurement lines are also written to bench-results.jsonl.
"""
import argparse
import collections
import json
import os
import platform
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
KD_BENCH = os.path.join(ROOT, ".build", "release", "kd-bench")


def run_lines(cmd, env=None):
    out = subprocess.run(cmd, check=True, capture_output=True, text=True, env=env).stdout
    return [json.loads(l) for l in out.splitlines() if l.startswith("{")]


def profile(model, mode, seconds):
    """Share of wall time per oneDNN primitive kind, and the rest (Swift loops, losses, optimizer)."""
    env = dict(os.environ, DNNL_VERBOSE="1")
    out = subprocess.run([KD_BENCH, "--model", model, "--mode", mode, "--seconds", str(seconds)],
                         check=True, capture_output=True, text=True, env=env).stdout
    times = collections.Counter()
    result = None
    for line in out.splitlines():
        if line.startswith("onednn_verbose,exec"):
            f = line.split(",")
            kind = f[3] if f[3] != "convolution" else f"convolution {f[5]}"
            times[kind] += float(f[-1])
        elif line.startswith("{"):
            result = json.loads(line)
    steps = result["steps"] + 3  # kd-bench warms up with 3 steps
    per_step = {k: v / steps for k, v in times.items()}
    wall = 1000 * result["batch"] / result["images_per_s"]
    return per_step, wall


def main():
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--models", default="cnn5,resnet20")
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--seconds", type=float, default=4)
    ap.add_argument("--python", default="/usr/bin/python3")
    ap.add_argument("--no-profile", action="store_true")
    args = ap.parse_args()
    models = args.models.split(",")
    lines = []
    for r in range(args.rounds):
        for m in models:
            got = run_lines([KD_BENCH, "--model", m, "--seconds", str(args.seconds)])
            got += run_lines([args.python, os.path.join(HERE, "bench_pytorch.py"), "--model", m, "--seconds", str(args.seconds)])
            for g in got:
                g["round"] = r + 1
                print(json.dumps(g), flush=True)
            lines += got
    with open(os.path.join(ROOT, "bench-results.jsonl"), "w") as f:
        for l in lines:
            f.write(json.dumps(l) + "\n")

    best = {}
    for l in lines:
        key = (l["impl"], l["model"], l["mode"])
        if key not in best or l["images_per_s"] > best[key]["images_per_s"]:
            best[key] = l
    print()
    print(f"Machine: {platform.machine()}, {os.cpu_count()} cores; batch 128, 1x28x28, 10 classes; "
          f"best of {args.rounds} rounds of {args.seconds:g} s each")
    print()
    print("| model | mode | Swift images/s | Swift GFLOP/s | PyTorch images/s (layout) | Swift / PyTorch |")
    print("|---|---|---:|---:|---:|---:|")
    for m in models:
        for mode in ["train", "infer"]:
            s, p = best[("swift", m, mode)], best[("pytorch", m, mode)]
            print(f"| {m} | {mode} | {s['images_per_s']:.0f} | {s['gflops']:.0f} | "
                  f"{p['images_per_s']:.0f} ({p['layout']}) | {s['images_per_s'] / p['images_per_s']:.2f}x |")
    rss = [l["peak_rss_mib"] for l in lines if l["impl"] == "swift" and l["model"] == "resnet20"]
    if rss:
        print(f"\nPeak resident memory of the Swift resnet20 process (training then inference): {max(rss)} MiB")

    if not args.no_profile:
        print("\nWhere the Swift time goes (ms per step; DNNL_VERBOSE, which itself adds a little):")
        for m in models:
            for mode in ["train", "infer"]:
                per_step, wall = profile(m, mode, 2)
                total = sum(per_step.values())
                parts = ", ".join(f"{k} {v:.1f}" for k, v in sorted(per_step.items(), key=lambda kv: -kv[1])[:6])
                print(f"- {m} {mode}: wall {wall:.1f}; oneDNN {total:.1f} ({parts}); other {max(wall - total, 0):.1f}")


if __name__ == "__main__":
    sys.exit(main())
