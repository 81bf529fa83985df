#!/usr/bin/env python3
"""Prints one line per run directory: model, alpha/T, best validation and test accuracy.

Used by `make demo` for its closing summary. Reads params.json and the metrics files the
stages write; a run without them is reported as not finished.
"""
import json
import os
import sys


def load(path):
    try:
        with open(path) as f:
            return json.load(f)
    except (OSError, ValueError):
        return None


def main(dirs):
    for d in dirs:
        params = load(os.path.join(d, "params.json")) or {}
        val = load(os.path.join(d, "metrics_val_best_weights.json"))
        test = load(os.path.join(d, "metrics_test_best_weights.json"))
        alpha = params.get("alpha", 0)
        role = "teacher" if os.path.isdir(os.path.join(d, "logits")) else ("KD student" if alpha > 0 else "scratch student")
        what = f"{role:<16} {params.get('model_version', '?'):<10}"
        if alpha > 0:
            what += f" alpha {alpha}, T {params.get('temperature', 1)}"
        if not (val and test):
            print(f"{what}: not finished ({d})")
            continue
        line = f"{what}: test accuracy {100 * test['accuracy']:.2f}% (best validation {100 * val['accuracy']:.2f}%, epoch {val['epoch']})"
        if "teacher_agreement" in test:
            line += f", agrees with the teacher on {100 * test['teacher_agreement']:.2f}% of test images"
        print(line)


if __name__ == "__main__":
    main(sys.argv[1:])
