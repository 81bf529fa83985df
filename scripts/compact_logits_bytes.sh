#!/usr/bin/env bash
# Compact logits at a thousand classes and 16 views: a generated 1000-class image-store
# (kd-bench make-store), a small teacher trained on it, then scripts/compact_logits_speed.sh with
# --views 16: bytes an image, export and student speed, student peak memory, ROUNDS rounds.
#
#   scripts/compact_logits_bytes.sh OUT [ROUNDS] [BIN]
set -euo pipefail
out=$1 rounds=${2:-3} bin=${3:-.build/release}
mkdir -p "$out/teacher"
[ -f "$out/data/images.h5" ] || "$bin/kd-bench" make-store --out "$out/data" --train 5000 --val 500 --test 500 --classes 1000 --size 32
keys='"dataset": "image-store", "model_version": "cnn5", "num_channels": 16, "batch_size": 128, "optimizer": "adam", "learning_rate": 0.002, "augmentation": true'
echo "{ $keys, \"data_dir\": \"../data\", \"num_epochs\": 2 }" > "$out/teacher/params.json"
echo "{ $keys, \"data_dir\": \"data\", \"alpha\": 0.9, \"temperature\": 4 }" > "$out/student.json"
[ -f "$out/teacher/best.h5" ] || "$bin/teacher-train" --model-dir "$out/teacher" > "$out/teacher/out.txt"
"$(dirname "$0")/compact_logits_speed.sh" "$out/teacher" "$out/student.json" "$out/rounds" "$rounds" "$bin" "--views 16"
