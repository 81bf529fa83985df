#!/usr/bin/env bash
# What compact logits cost a student: one teacher exported dense float32, dense float16 and
# top-k float16 for each K, then KD students (and scratch ones) over seeds on each export.
#
#   scripts/compact_logits_accuracy.sh TEACHER_DIR STUDENT_BASE_JSON OUT "1 2 5 10" "1 2 3" [BIN]
#
# STUDENT_BASE_JSON is a student's params.json without teacher_logits and seed. Writes
# OUT/exports/<encoding>/ and OUT/runs/<encoding>_seed<s>/, then prints the markdown table
# (scripts/compact_logits_table.py) to OUT/table.md. The runs are sequential (2 cores).
set -euo pipefail
teacher=$1 base=$2 out=$3 ks=$4 seeds=$5 bin=${6:-.build/release}
mkdir -p "$out/exports" "$out/runs"
encodings=("dense_float32:" "dense_float16:--dtype float16")
for k in $ks; do encodings+=("top${k}_float16:--top-k $k --dtype float16"); done
for e in "${encodings[@]}"; do
  name=${e%%:*} args=${e#*:}
  [ -f "$out/exports/$name/test.h5" ] || "$bin/teacher-export" --model-dir "$teacher" --out "$out/exports/$name" $args
done
run() {  # run NAME SEED TEACHER_LOGITS(or empty)
  local dir="$out/runs/$1_seed$2"
  [ -f "$dir/metrics_test_best_weights.json" ] && return
  mkdir -p "$dir"
  /usr/bin/python3 - "$base" "$dir/params.json" "$2" "$3" <<'PY'
import json, os, sys
p = json.load(open(sys.argv[1])); p["seed"] = int(sys.argv[3])
if "data_dir" in p:  # relative to the base file, as to a run directory
    p["data_dir"] = os.path.normpath(os.path.join(os.path.dirname(os.path.abspath(sys.argv[1])), p["data_dir"]))
if sys.argv[4]: p["teacher_logits"] = os.path.abspath(sys.argv[4])
else: p["alpha"] = 0.0; p.pop("teacher_logits", None)
json.dump(p, open(sys.argv[2], "w"), indent=2)
PY
  "$bin/student-distill" --model-dir "$dir" > "$dir/out.txt" 2>&1
}
for s in $seeds; do
  run scratch "$s" ""
  for e in "${encodings[@]}"; do run "${e%%:*}" "$s" "$out/exports/${e%%:*}"; done
done
/usr/bin/python3 "$(dirname "$0")/compact_logits_table.py" "$out" > "$out/table.md"
cat "$out/table.md"
