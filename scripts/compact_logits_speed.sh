#!/usr/bin/env bash
# Export and student speed, bytes and peak memory of dense float32, float16 and top-5 float16
# rows, ROUNDS interleaved rounds: each round exports the teacher in every encoding and trains
# a 1-epoch KD student on each export.
#
#   scripts/compact_logits_speed.sh TEACHER_DIR STUDENT_BASE_JSON OUT [ROUNDS] [BIN] [EXPORT_ARGS]
#
# STUDENT_BASE_JSON is a student's params.json without teacher_logits (data_dir relative to it).
set -euo pipefail
teacher=$1 base=$2 out=$3 rounds=${4:-3} bin=${5:-.build/release} extra=${6:-}
encodings=("dense_float32:" "dense_float16:--dtype float16" "top5_float16:--top-k 5 --dtype float16")
for r in $(seq "$rounds"); do
  for e in "${encodings[@]}"; do
    name=${e%%:*} logits="$out/$r/${e%%:*}" run="$out/$r/student_${e%%:*}"
    rm -rf "$logits" "$run"; mkdir -p "$run"
    "$bin/teacher-export" --model-dir "$teacher" --out "$logits" ${e#*:} $extra > "$logits.txt" 2>&1
    /usr/bin/python3 - "$base" "$run/params.json" "$logits" <<'PY'
import json, os, sys
p = json.load(open(sys.argv[1])); p["teacher_logits"] = os.path.abspath(sys.argv[3]); p["num_epochs"] = 1; p["seed"] = 1
if "data_dir" in p: p["data_dir"] = os.path.normpath(os.path.join(os.path.dirname(os.path.abspath(sys.argv[1])), p["data_dir"]))
json.dump(p, open(sys.argv[2], "w"), indent=2)
PY
    /usr/bin/time -f "%M" -o "$run/maxrss_kb" "$bin/student-distill" --model-dir "$run" > "$run/out.txt" 2>&1
  done
done
/usr/bin/python3 - "$out" "$rounds" <<'PY'
import json, os, re, statistics, sys
import h5py
out, rounds = sys.argv[1], int(sys.argv[2])
def spread(xs): return f"{statistics.median(xs):,.0f} ({min(xs):,.0f}-{max(xs):,.0f})"
print("| train rows | row bytes / image | train.h5 bytes / image | export images/s | student images/s | student peak RSS (MiB) |")
print("|---|---:|---:|---:|---:|---:|")
for name in ["dense_float32", "dense_float16", "top5_float16"]:
    exports, students, rss = [], [], []
    for r in range(1, rounds + 1):
        d = f"{out}/{r}/{name}"
        exports.append(json.load(open(f"{d}/export.json"))["images_per_s"])
        log = open(f"{out}/{r}/student_{name}/train.log").read()
        students += [float(x) for x in re.findall(r"\((\d+) img/s\)\s*$", log, re.M)]
        rss.append(int(open(f"{out}/{r}/student_{name}/maxrss_kb").read().split()[-1]) / 1024)
    with h5py.File(f"{out}/1/{name}/train.h5", "r") as f:
        n = len(f["labels"])
        rows = sum(f[k].dtype.itemsize * f[k].size for k in ("logits", "topk_values", "topk_indices", "topk_rest") if k in f) / n
    size = os.path.getsize(f"{out}/1/{name}/train.h5") / n
    print(f"| {name.replace('_', ' ').replace('top5', 'top-5')} | {rows:,.0f} | {size:,.0f} | {spread(exports)} | {spread(students)} | {statistics.median(rss):,.0f} |")
PY
