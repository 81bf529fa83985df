#!/usr/bin/env bash
# Peak memory at 224 pixels, side by side (BENCHMARKS.md, "Memory at 224 pixels"): teacher-export
# and teacher-train of a torchvision ResNet (random weights, imported from PyTorch) against
# PyTorch evaluating and training the same model at the same batch (scripts/torch_eval_rss.py),
# Debian's PyTorch 1.13 and the PyPI one in $TORCH_VENV (make deps-bench).
#
#   scripts/bench_memory_224.sh [MODEL] [BATCH]     default: resnet50 32
#   WORK (env): scratch folder, default /tmp/kd-bench-224 (removed at the start).
set -euo pipefail
MODEL=${1:-resnet50}
BATCH=${2:-32}
WORK=${WORK:-/tmp/kd-bench-224}
VENV=${TORCH_VENV:-.venv-torch}
BIN=$(swift build -c release --show-bin-path)
rm -rf "$WORK"; mkdir -p "$WORK"
rss() { /usr/bin/time -f "%M" -o "$WORK/time" "$@" >"$WORK/out" 2>&1 || { cat "$WORK/out"; exit 1; }; echo $(( $(cat "$WORK/time") / 1024 )); }

"$BIN/kd-bench" make-store --out "$WORK/data" --train 64 --val 64 --test 64 --classes 1000 --size 224 >/dev/null
/usr/bin/python3 -c "import torch, torchvision; torch.save(torchvision.models.$MODEL(weights=None).state_dict(), '$WORK/w.pt')"
for run in export train; do
  data=$([ $run = export ] && echo data || echo data2)
  mkdir -p "$WORK/$run"; cat >"$WORK/$run/params.json" <<JSON
{"dataset": "image-store", "data_dir": "$WORK/$data", "model_version": "torchvision_$MODEL", "eval_batch_size": $BATCH,
 "batch_size": $BATCH, "num_epochs": 1, "optimizer": "sgd", "learning_rate": 0.01, "augmentation": false,
 "normalization_mean": [0.485, 0.456, 0.406], "normalization_std": [0.229, 0.224, 0.225]}
JSON
done
/usr/bin/python3 scripts/import_torch_teacher.py "$WORK/w.pt" --model-dir "$WORK/export" >/dev/null
echo "| $MODEL at 224, batch $BATCH | this tool (MiB) | PyTorch 1.13, Debian (MiB) | PyTorch $("$VENV/bin/python" -c 'import torch; print(torch.__version__)'), PyPI (MiB) |"
echo "|---|---:|---:|---:|"
swift_eval=$(rss "$BIN/teacher-export" --model-dir "$WORK/export" --splits test)
t113=$(/usr/bin/python3 scripts/torch_eval_rss.py "$MODEL" --batch "$BATCH" | python3 -c "import json,sys; print(json.load(sys.stdin)['peak_rss_mib'])")
tpypi=$("$VENV/bin/python" scripts/torch_eval_rss.py "$MODEL" --batch "$BATCH" | python3 -c "import json,sys; print(json.load(sys.stdin)['peak_rss_mib'])")
echo "| evaluation (teacher-export; 64 images) | $swift_eval | $t113 | $tpypi |"
# Training: one epoch of one batch of 2 classes (then val and test, at the same batch).
"$BIN/kd-bench" make-store --out "$WORK/data2" --train "$BATCH" --val 32 --test 32 --classes 2 --size 224 >/dev/null
swift_train=$(rss "$BIN/teacher-train" --model-dir "$WORK/train")
t113=$(/usr/bin/python3 scripts/torch_eval_rss.py "$MODEL" --batch "$BATCH" --train | python3 -c "import json,sys; print(json.load(sys.stdin)['peak_rss_mib'])")
tpypi=$("$VENV/bin/python" scripts/torch_eval_rss.py "$MODEL" --batch "$BATCH" --train | python3 -c "import json,sys; print(json.load(sys.stdin)['peak_rss_mib'])")
echo "| training, one epoch of one batch (teacher-train; PyTorch: SGD steps) | $swift_train | $t113 | $tpypi |"
