#!/usr/bin/env bash
# Bytes an image and speed of compact logits at a thousand classes and 16 views: a generated
# 1000-class image-store (kd-bench make-store), a small teacher, its export with --views 16 dense
# float32 and top-5 float16, then students on each, ROUNDS interleaved rounds.
#
#   scripts/compact_logits_bytes.sh OUT [ROUNDS] [BIN]
set -euo pipefail
out=$1 rounds=${2:-3} bin=${3:-.build/release}
mkdir -p "$out"
[ -f "$out/data/images.h5" ] || "$bin/kd-bench" make-store --out "$out/data" --train 5000 --val 500 --test 500 --classes 1000 --size 32
common='"dataset": "image-store", "data_dir": "'$out'/data", "model_version": "cnn5", "num_channels": 8, "batch_size": 128, "optimizer": "adam", "learning_rate": 0.002'
mkdir -p "$out/teacher"
echo "{ $common, \"num_epochs\": 2, \"augmentation\": true }" > "$out/teacher/params.json"
[ -f "$out/teacher/best.h5" ] || "$bin/teacher-train" --model-dir "$out/teacher" > "$out/teacher/out.txt"
for e in "dense_float32:" "top5_float16:--top-k 5 --dtype float16"; do
  name=${e%%:*}
  [ -f "$out/$name/train.h5" ] || "$bin/teacher-export" --model-dir "$out/teacher" --views 16 --out "$out/$name" ${e#*:} > "$out/$name.txt" 2>&1
done
for r in $(seq "$rounds"); do
  for name in dense_float32 top5_float16; do
    d="$out/student_${name}_$r"; mkdir -p "$d"; rm -f "$d"/*.h5
    echo "{ $common, \"num_epochs\": 1, \"augmentation\": true, \"alpha\": 0.9, \"temperature\": 4, \"teacher_logits\": \"$out/$name\" }" > "$d/params.json"
    /usr/bin/time -f "%M" -o "$d/maxrss_kb" "$bin/student-distill" --model-dir "$d" > "$d/out.txt" 2>&1
  done
done
/usr/bin/python3 - "$out" "$rounds" <<'PY'
import json, os, re, statistics, sys
import h5py
out, rounds = sys.argv[1], int(sys.argv[2])
print("| train rows (1000 classes, 16 views) | row bytes / image | train.h5 bytes / image | export images/s | student images/s (median, range) | student peak RSS MiB |")
print("|---|---:|---:|---:|---:|---:|")
for name in ["dense_float32", "top5_float16"]:
    with h5py.File(f"{out}/{name}/train.h5", "r") as f:
        n = len(f["labels"])
        rows = sum(f[k].dtype.itemsize * f[k].size for k in ("logits", "topk_values", "topk_indices", "topk_rest") if k in f) / n
    size = os.path.getsize(f"{out}/{name}/train.h5") / n
    export = json.load(open(f"{out}/{name}/export.json"))["images_per_s"]
    speeds, rss = [], []
    for r in range(1, rounds + 1):
        d = f"{out}/student_{name}_{r}"
        speeds += [float(x) for x in re.findall(r"\((\d+) img/s\)\s*$", open(f"{d}/train.log").read(), re.M)]
        rss.append(int(open(f"{d}/maxrss_kb").read().split()[-1]) / 1024)
    print(f"| {name.replace('_', ' ').replace('top5', 'top-5')} | {rows:,.0f} | {size:,.0f} | {export:,.0f} | {statistics.median(speeds):,.0f} ({min(speeds):,.0f}-{max(speeds):,.0f}) | {statistics.median(rss):,.0f} |")
PY
