#!/usr/bin/env python3
"""The table of scripts/compact_logits_accuracy.sh: per encoding, the students' validation and
test accuracy (mean +- sample std over seeds; each run's best epoch on validation, test once),
the bytes the train rows take per image (the stored datasets only, and the whole train.h5 file).
Speed is measured apart, in interleaved rounds (scripts/compact_logits_speed.sh): these runs
follow one another and share the machine with whatever else runs."""
import glob, json, os, re, statistics, sys
import h5py

out = sys.argv[1]
def mean_std(xs):
    xs = [100 * x for x in xs]
    return f"{statistics.mean(xs):.2f} ± {statistics.stdev(xs) if len(xs) > 1 else 0:.2f}"
rows = {}
for d in sorted(glob.glob(os.path.join(out, "runs", "*_seed*"))):
    name = re.sub(r"_seed\d+$", "", os.path.basename(d))
    try:
        val = json.load(open(os.path.join(d, "metrics_val_best_weights.json")))["accuracy"]
        test = json.load(open(os.path.join(d, "metrics_test_best_weights.json")))["accuracy"]
    except FileNotFoundError:
        continue
    r = rows.setdefault(name, {"val": [], "test": []})
    r["val"].append(val); r["test"].append(test)
order = ["scratch", "dense_float32", "dense_float16"] + sorted([n for n in rows if n.startswith("top")], key=lambda n: int(re.findall(r"\d+", n)[0]))
print("| teacher rows | runs | val acc | test acc | row bytes / image | train.h5 bytes / image |")
print("|---|---:|---:|---:|---:|---:|")
for name in order:
    if name not in rows: continue
    r = rows[name]
    size = file_bytes = "—"
    exp = os.path.join(out, "exports", name)
    if os.path.isdir(exp):
        with h5py.File(os.path.join(exp, "train.h5"), "r") as f:
            n = len(f["labels"])
            stored = [k for k in ("logits", "topk_values", "topk_indices", "topk_rest") if k in f]
            row_bytes = sum(f[k].dtype.itemsize * f[k].size for k in stored) / n
        size = f"{row_bytes:,.0f}"
        file_bytes = f"{os.path.getsize(os.path.join(exp, 'train.h5')) / n:,.1f}"
    label = name.replace("_", " ").replace("top", "top-")
    print(f"| {label} | {len(r['val'])} | {mean_std(r['val'])} | {mean_std(r['test'])} | {size} | {file_bytes} |")
