#!/usr/bin/env bash
# Before/after speed of two builds, interleaved on one machine: kd-bench's engine workload
# (`kd-bench speed`, the Swift side of `make bench`) and a student's training throughput
# (student-distill on the full Fashion-MNIST, 2 epochs, cnn5 with KD from a logits folder).
# Usage: scripts/bench_before_after.sh OLD_BIN NEW_BIN LOGITS_DIR [ROUNDS]
#   OLD_BIN, NEW_BIN: folders holding kd-bench and student-distill (e.g. a clone's .build/release)
#   LOGITS_DIR: a teacher's logits/ folder for the full data (make logits, or make demo's
#   experiments/demo/teacher/logits). Prints one line per measurement; the ratio is yours.
set -euo pipefail
OLD=$1 NEW=$2 LOGITS=$(realpath "$3") ROUNDS=${4:-5}
OUT=$(mktemp -d /tmp/kd-bench-ab.XXXXXX)
for r in $(seq "$ROUNDS"); do
  for side in old new; do
    B=$OLD; [ "$side" = new ] && B=$NEW
    for m in cnn5 resnet20; do "$B/kd-bench" speed --model "$m" --seconds 4 | sed "s/^/$side $m round$r /"; done
  done
done
for r in $(seq 3); do
  for side in old new; do
    B=$OLD; [ "$side" = new ] && B=$NEW
    D=$OUT/student_${side}_$r; mkdir -p "$D"
    cat > "$D/params.json" <<JSON
{"model_version": "cnn5", "teacher_logits": "$LOGITS", "alpha": 0.9, "temperature": 4, "dataset": "fashion-mnist",
 "optimizer": "adam", "learning_rate": 1e-3, "batch_size": 128, "num_epochs": 2, "dropout_rate": 0.5, "seed": 1}
JSON
    "$B/student-distill" --model-dir "$D" > "$D/out.txt" 2>&1
    grep "epoch [0-9]/2  lr" "$D/train.log" | sed "s/^/$side round$r /"
  done
done
