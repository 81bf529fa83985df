#!/usr/bin/env python3
"""`make bench`: the Swift engine (kd-bench) against PyTorch on the same machine, in one run.

Peers: Debian's PyTorch 1.13 (/usr/bin/python3) and the current PyTorch from PyPI
(.venv-torch, `make deps-bench`), each with 2 threads, NCHW and channels_last. For each ISA
(the machine's, and on an AVX-512 machine also capped to AVX2: DNNL_MAX_CPU_ISA for the engine,
ONEDNN_MAX_CPU_ISA + ATEN_CPU_CAPABILITY for PyTorch), each round runs every implementation back
to back per model, so all see the same machine state. The table keeps each side's best round
(interference only ever slows a run down) and PyTorch's faster layout, and gives the ratio to
the faster PyTorch. A measured FMA peak (scripts/fma_peak.c) puts the engine's arithmetic rate in
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


def profile(model, mode, seconds, env):
    """ms per step per oneDNN primitive kind, and the wall time per step."""
    out = subprocess.run([KD_BENCH, "--model", model, "--mode", mode, "--seconds", str(seconds)],
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
    ap.add_argument("--models", default="cnn5,resnet20")
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--seconds", type=float, default=4)
    ap.add_argument("--isa", action="append", help="ISA caps to measure (e.g. AVX2); default: the machine's, "
                    "plus AVX2 on an AVX-512 machine")
    ap.add_argument("--no-profile", action="store_true")
    args = ap.parse_args()
    models = args.models.split(",")
    peers = []
    for python, source in PEERS:
        if os.path.exists(python) and subprocess.run([python, "-c", "import torch"], capture_output=True).returncode == 0:
            peers.append(python)
        else:
            print(f"note: no PyTorch from {source} at {python} (make deps-bench installs it); measuring without it")
    native = run_lines([KD_BENCH, "audit", "--model", "cnn5"], os.environ)[0]["isa"]
    caps = args.isa or ([None, "AVX2"] if native.startswith("AVX512") else [None])
    lines = []
    print(f"Machine: {platform.processor() or platform.machine()}, {os.cpu_count()} cores, oneDNN ISA {native}; batch 128, "
          f"1x28x28, 10 classes; best of {args.rounds} rounds of {args.seconds:g} s", flush=True)
    for cap in caps:
        env = isa_env(cap, os.environ)
        isa = cap or native
        peak = fma_peak(wide=isa.startswith("AVX512"))
        for r in range(args.rounds):
            peak = max(peak, fma_peak(wide=isa.startswith("AVX512"), probes=2))
            for m in models:
                got = run_lines([KD_BENCH, "--model", m, "--seconds", str(args.seconds)], env)
                for python in peers:
                    got += run_lines([python, os.path.join(HERE, "bench_pytorch.py"), "--model", m,
                                      "--seconds", str(args.seconds)], env)
                for g in got:
                    g.update(round=r + 1, isa_cap=cap or "none")
                    print(json.dumps(g), file=sys.stderr, flush=True)
                lines += got
        report(lines, cap, isa, peak, models, peers, args)
    with open(os.path.join(ROOT, "bench-results.jsonl"), "w") as f:
        for l in lines:
            f.write(json.dumps(l) + "\n")


def report(lines, cap, isa, peak, models, peers, args):
    best = {}
    for l in lines:
        if l["isa_cap"] != (cap or "none"):
            continue
        key = (l["impl"], l.get("version"), l["model"], l["mode"])
        if key not in best or l["images_per_s"] > best[key]["images_per_s"]:
            best[key] = l
    versions = sorted({k[1] for k in best if k[0] == "pytorch"})
    print(f"\n### {isa}{' (capped with DNNL_MAX_CPU_ISA / ONEDNN_MAX_CPU_ISA / ATEN_CPU_CAPABILITY)' if cap else ''}")
    print(f"\nMeasured 2-thread FMA peak: {peak:.0f} GFLOP/s ({'512' if isa.startswith('AVX512') else '256'}-bit).\n")
    print("| model | mode | Swift images/s | Swift GFLOP/s (of peak) | "
          + " | ".join(f"PyTorch {v} images/s (layout)" for v in versions) + " | Swift / faster PyTorch |")
    print("|---|---|---:|---:|" + "---:|" * len(versions) + "---:|")
    for m in models:
        for mode in ["train", "infer"]:
            s = best[("swift", None, m, mode)]
            ps = [best[("pytorch", v, m, mode)] for v in versions]
            faster = max(p["images_per_s"] for p in ps) if ps else float("nan")
            cells = " | ".join(f"{p['images_per_s']:.0f} ({p['layout']})" for p in ps)
            print(f"| {m} | {mode} | {s['images_per_s']:.0f} | {s['gflops']:.0f} ({100 * s['gflops'] / peak:.0f}%) | "
                  f"{cells} | **{s['images_per_s'] / faster:.2f}x** |")
    rss = [l["peak_rss_mib"] for l in lines if l["impl"] == "swift" and l["model"] == "resnet20"]
    if rss:
        print(f"\nPeak resident memory of the Swift resnet20 process (training at batch 128, then inference): {max(rss)} MiB")
    if not args.no_profile:
        print("\nWhere the Swift time goes (ms per step; DNNL_VERBOSE, which itself adds a little; "
              "\"other\" is time outside oneDNN, the engine's own kernels included):")
        for m in models:
            for mode in ["train", "infer"]:
                per_step, wall = profile(m, mode, 2, isa_env(cap, os.environ))
                total = sum(per_step.values())
                parts = ", ".join(f"{k} {v:.1f}" for k, v in sorted(per_step.items(), key=lambda kv: -kv[1])[:6])
                print(f"- {m} {mode}: wall {wall:.1f}; oneDNN {total:.1f} ({parts}); other {max(wall - total, 0):.1f}")
    sys.stdout.flush()


if __name__ == "__main__":
    sys.exit(main())
