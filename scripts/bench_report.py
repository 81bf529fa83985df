#!/usr/bin/env python3
"""`make bench`: the Swift engine (kd-bench) against PyTorch on the same machine, in one run.

Peers: Debian's PyTorch 1.13 (/usr/bin/python3) and the current PyTorch from PyPI
(.venv-torch, `make deps-bench`), each with 2 threads, NCHW and channels_last. Rows are
model:CxHxW:batch (--rows; by default the issue-26 set: cnn5 and resnet20 at 1x28x28, the
RepDistiller CIFAR pairs at 3x32x32 and batch 64, torchvision's ResNet-18 and ResNet-50 at
3x224x224 and batch 32). For each ISA (the machine's, and on an AVX-512 machine also capped to
AVX2: DNNL_MAX_CPU_ISA for the engine, ONEDNN_MAX_CPU_ISA + ATEN_CPU_CAPABILITY for PyTorch),
each round runs every implementation back to back per row, so all see the same machine state.
A round's ratio is the engine's images/s over the fastest PyTorch (version and layout) of that
round; the table gives the median ratio over the rounds with its range, and the medians of
the images/s. A measured FMA peak (scripts/fma_peak.c) puts the engine's arithmetic rate in
proportion; a profile pass (DNNL_VERBOSE) shows where the engine's time goes.
Every measurement line is also written to bench-results.jsonl.
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
PEERS = [("/usr/bin/python3", "Debian"), (os.path.join(ROOT, ".venv-torch", "bin", "python"), "PyPI")]


def run_lines(cmd, env):
    out = subprocess.run(cmd, check=True, capture_output=True, text=True, env=env).stdout
    return [json.loads(l) for l in out.splitlines() if l.startswith("{")]


def isa_env(isa, base):
    """Environment capping both oneDNNs (and ATen) at `isa`; None leaves the machine's own."""
    env = dict(base)
    if isa:
        env.update(DNNL_MAX_CPU_ISA=isa, ONEDNN_MAX_CPU_ISA=isa, ATEN_CPU_CAPABILITY=isa.lower())
    return env


def fma_peak(wide, probes=5):
    """Best of `probes` short probes of the 2-thread FMA peak (GFLOP/s): the machine is shared and
    noisy, so main() probes again in every round and keeps the best."""
    exe = os.path.join(ROOT, ".build", "fma_peak")
    subprocess.run(["gcc", "-O2", "-pthread", os.path.join(HERE, "fma_peak.c"), "-o", exe], check=True)
    runs = [json.loads(subprocess.run([exe, "2", "0.5"], check=True, capture_output=True, text=True).stdout) for _ in range(probes)]
    key = "avx512_fma_gflops" if wide else "avx2_fma_gflops"
    return max(r[key] for r in runs)


DEFAULT_ROWS = ("cnn5:1x28x28:128,resnet20:1x28x28:128,resnet56:3x32x32:64,resnet20:3x32x32:64,resnet32x4:3x32x32:64,"
                "resnet8x4:3x32x32:64,vgg13:3x32x32:64,mobilenetv2:3x32x32:64,"
                "torchvision_resnet18:3x224x224:32,torchvision_resnet50:3x224x224:32")


def parse_rows(text):
    """"model:CxHxW:batch,..." as (model, "C,H,W", batch, label) tuples."""
    rows = []
    for item in text.split(","):
        model, shape, batch = item.split(":")
        rows.append((model, shape.replace("x", ","), int(batch), f"{model} {shape} b{batch}"))
    return rows


def profile(row, mode, seconds, env):
    """ms per step per oneDNN primitive kind, and the wall time per step."""
    model, shape, batch, _ = row
    out = subprocess.run([KD_BENCH, "--model", model, "--input", shape, "--batch", str(batch), "--mode", mode, "--seconds", str(seconds)],
                         check=True, capture_output=True, text=True, env=dict(env, DNNL_VERBOSE="1")).stdout
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
    return {k: v / steps for k, v in times.items()}, 1000 * result["batch"] / result["images_per_s"]


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--rows", default=DEFAULT_ROWS, help="model:CxHxW:batch,... (default: the issue-26 rows)")
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--seconds", type=float, default=2, help="seconds a measurement times, after 3 warm-up steps (at least one step)")
    ap.add_argument("--isa", action="append", help="ISA caps to measure (e.g. AVX2); default: the machine's, "
                    "plus AVX2 on an AVX-512 machine")
    ap.add_argument("--no-profile", action="store_true")
    args = ap.parse_args()
    rows = parse_rows(args.rows)
    peers = []
    for python, source in PEERS:
        if os.path.exists(python) and subprocess.run([python, "-c", "import torch"], capture_output=True).returncode == 0:
            peers.append(python)
        else:
            print(f"note: no PyTorch from {source} at {python} (make deps-bench installs it); measuring without it")
    native = run_lines([KD_BENCH, "audit", "--model", "cnn5"], os.environ)[0]["isa"]
    caps = args.isa or ([None, "AVX2"] if native.startswith("AVX512") else [None])
    lines = []
    print(f"Machine: {platform.processor() or platform.machine()}, {os.cpu_count()} cores, oneDNN ISA {native}; 10 classes; "
          f"median of {args.rounds} interleaved rounds of {args.seconds:g} s a measurement", flush=True)
    for cap in caps:
        env = isa_env(cap, os.environ)
        isa = cap or native
        peak = fma_peak(wide=isa.startswith("AVX512"))
        for r in range(args.rounds):
            peak = max(peak, fma_peak(wide=isa.startswith("AVX512"), probes=2))
            for model, shape, batch, _ in rows:
                sizes = ["--model", model, "--input", shape, "--batch", str(batch), "--seconds", str(args.seconds)]
                got = run_lines([KD_BENCH] + sizes, env)
                for python in peers:
                    got += run_lines([python, os.path.join(HERE, "bench_pytorch.py")] + sizes, env)
                for g in got:
                    g.update(round=r + 1, isa_cap=cap or "none")
                    print(json.dumps(g), file=sys.stderr, flush=True)
                lines += got
        report(lines, cap, isa, peak, rows, args)
    with open(os.path.join(ROOT, "bench-results.jsonl"), "w") as f:
        for l in lines:
            f.write(json.dumps(l) + "\n")


def median(values):
    v = sorted(values)
    return v[len(v) // 2] if len(v) % 2 else (v[len(v) // 2 - 1] + v[len(v) // 2]) / 2


def report(lines, cap, isa, peak, rows, args):
    mine = [l for l in lines if l["isa_cap"] == (cap or "none")]
    versions = sorted({l["version"] for l in mine if l["impl"] == "pytorch"})
    print(f"\n### {isa}{' (capped with DNNL_MAX_CPU_ISA / ONEDNN_MAX_CPU_ISA / ATEN_CPU_CAPABILITY)' if cap else ''}")
    print(f"\nMeasured 2-thread FMA peak: {peak:.0f} GFLOP/s ({'512' if isa.startswith('AVX512') else '256'}-bit).\n")
    print("| model | input | batch | mode | Swift images/s | Swift GFLOP/s (of peak) | "
          + " | ".join(f"PyTorch {v} images/s" for v in versions) + " | Swift / faster PyTorch, median (range) |")
    print("|---|---|---:|---|---:|---:|" + "---:|" * len(versions) + "---:|")
    for model, shape, batch, _ in rows:
        for mode in ["train", "infer"]:
            same = [l for l in mine if l["model"] == model and l["input"] == shape and l["batch"] == batch and l["mode"] == mode]
            swift = {l["round"]: l for l in same if l["impl"] == "swift"}
            ratios, per_version = [], {v: [] for v in versions}
            for r, s in swift.items():
                torch = [l for l in same if l["impl"] == "pytorch" and l["round"] == r]
                for v in versions:
                    best = max((l["images_per_s"] for l in torch if l["version"] == v), default=None)
                    if best:
                        per_version[v].append(best)
                if torch:
                    ratios.append(s["images_per_s"] / max(l["images_per_s"] for l in torch))
            rates = [s["images_per_s"] for s in swift.values()]
            gflops = median([s["gflops"] for s in swift.values()])
            cells = " | ".join(f"{median(per_version[v]):.0f}" if per_version[v] else "—" for v in versions)
            ratio = f"**{median(ratios):.2f}x** ({min(ratios):.2f}-{max(ratios):.2f})" if ratios else "—"
            print(f"| {model} | {shape.replace(',', 'x')} | {batch} | {mode} | {median(rates):.0f} | {gflops:.0f} ({100 * gflops / peak:.0f}%) | "
                  f"{cells} | {ratio} |")
    rss = {(l["model"], l["input"]): l["peak_rss_mib"] for l in mine if l["impl"] == "swift"}
    print("\nPeak resident memory of each Swift process (training, then inference): "
          + ", ".join(f"{m} {i.replace(',', 'x')} {v} MiB" for (m, i), v in rss.items()))
    if not args.no_profile:
        print("\nWhere the Swift time goes (ms per step; DNNL_VERBOSE, which itself adds a little; "
              "\"other\" is time outside oneDNN, the engine's own kernels included):")
        for row in rows:
            for mode in ["train", "infer"]:
                per_step, wall = profile(row, mode, 2, isa_env(cap, os.environ))
                total = sum(per_step.values())
                parts = ", ".join(f"{k} {v:.1f}" for k, v in sorted(per_step.items(), key=lambda kv: -kv[1])[:6])
                print(f"- {row[3]} {mode}: wall {wall:.1f}; oneDNN {total:.1f} ({parts}); other {max(wall - total, 0):.1f}")
    sys.stdout.flush()


if __name__ == "__main__":
    sys.exit(main())
