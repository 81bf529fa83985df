#!/usr/bin/env bash
# make examples: every write-up's recipe (examples/<name>/) on small generated data of the
# right shape, one after another, in copies under WORK (the examples' own files are never
# written). Each copy's params.json is pointed at the generated data and shortened (epochs,
# images); everything else is the recipe as written. Prints each run's summary line and the
# time each example took, and writes WORK/summary.md.
#
#   examples/run_small.sh [WORK] [BIN] [EXAMPLES...]
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
WORK=$(mkdir -p "${1:-$ROOT/.build/examples}" && cd "${1:-$ROOT/.build/examples}" && pwd)
BIN=${2:-$ROOT/.build/release}
shift $(( $# > 2 ? 2 : $# ))
EXAMPLES=${*:-cs230 medium food11 keras kd_article}
PY=/usr/bin/python3
DATA=$WORK/data
SUMMARY=$WORK/summary.md

# set_params RUN_DIR key=JSON ...: edits the copy's params.json (or sweep.json's "base").
set_params() {
  local dir=$1; shift
  $PY - "$dir" "$@" <<'PYEOF'
import json, os, sys
d = sys.argv[1]
path = os.path.join(d, "params.json") if os.path.exists(os.path.join(d, "params.json")) else os.path.join(d, "sweep.json")
with open(path) as f:
    doc = json.load(f)
target = doc["base"] if path.endswith("sweep.json") else doc
for kv in sys.argv[2:]:
    key, value = kv.split("=", 1)
    if key.startswith("grid."):
        doc["grid"][key[5:]] = json.loads(value)
    else:
        target[key] = json.loads(value)
with open(path, "w") as f:
    json.dump(doc, f, indent=2)
PYEOF
}

# A random torchvision state_dict standing in for a downloaded one (no network here), its
# BatchNorm statistics those of one batch of normalised noise at SIZE pixels, so that
# activations stay in range as a trained network's do.
torch_state_dict() {  # ARCH CLASSES SIZE OUT
  $PY - "$@" <<'PYEOF'
import sys, torch, torchvision
torch.manual_seed(0)
m = getattr(torchvision.models, sys.argv[1])(num_classes=int(sys.argv[2]), zero_init_residual=True)  # blocks start as identities
for b in m.modules():
    if isinstance(b, torch.nn.BatchNorm2d):
        b.momentum = None  # a cumulative average: one batch sets the statistics
with torch.no_grad():
    m.train()(torch.randn(16, 3, int(sys.argv[3]), int(sys.argv[3])))
torch.save(m.state_dict(), sys.argv[4])
PYEOF
}

STORE32="\"image-store\""
store32() {
  [ -f "$DATA/store32/images.h5" ] || "$BIN/kd-bench" make-store --out "$DATA/store32" --train 500 --test 200 --classes 10 --size 32 --seed 3 >/dev/null
}

cs230() {
  store32
  local d=$WORK/cs230 small=("dataset=$STORE32" "data_dir=\"$DATA/store32\"" "val_size=100" "batch_size=64")
  for r in base_resnet18 base_cnn cnn_distill; do set_params "$d/$r" "${small[@]}"; done
  # Fewer, gentler SGD steps than 200 epochs at 0.1 need: 0.1 on seven batches an epoch diverges.
  set_params "$d/base_resnet18" "num_epochs=3" "learning_rate=0.02" "lr_step_size=2"
  set_params "$d/base_cnn" "num_epochs=3"; set_params "$d/cnn_distill" "num_epochs=3"
  set_params "$d/learning_rate_search" "${small[@]}" "num_epochs=1" 'grid.temperature=[4, 20]' 'grid.alpha=[0.9]'
  "$BIN/teacher-train" --model-dir "$d/base_resnet18"
  "$BIN/teacher-export" --model-dir "$d/base_resnet18" --views 4
  "$BIN/student-distill" --model-dir "$d/cnn_distill"
  "$BIN/student-distill" --model-dir "$d/base_cnn"
  "$BIN/student-distill" sweep "$d/learning_rate_search"
  "$BIN/student-distill" results "$d/learning_rate_search"
  RUNS="$d/base_resnet18 $d/cnn_distill $d/base_cnn"
}

medium() {
  [ -d "$DATA/cifar_png" ] || $PY "$ROOT/examples/make_small_data.py" folder "$DATA/cifar_png" --classes 10 --train 20 --test 5 --size 32 --seed 4
  local d=$WORK/medium small=("data_dir=\"$DATA/cifar_png\"" "val_size=40" "batch_size=32" "eval_batch_size=32")
  for r in resnet50_imagenet teacher_resnet50 student_net student_net_scratch; do set_params "$d/$r" "${small[@]}"; done
  set_params "$d/teacher_resnet50" "num_epochs=3"
  set_params "$d/student_net" "num_epochs=2"; set_params "$d/student_net_scratch" "num_epochs=2"
  torch_state_dict resnet50 1000 224 "$d/resnet50_imagenet.pt"
  $PY "$ROOT/scripts/import_torch_teacher.py" "$d/resnet50_imagenet.pt" --model-dir "$d/resnet50_imagenet"
  "$BIN/teacher-train" --model-dir "$d/teacher_resnet50"
  "$BIN/teacher-export" --model-dir "$d/teacher_resnet50"
  "$BIN/student-distill" --model-dir "$d/student_net"
  "$BIN/student-distill" --model-dir "$d/student_net_scratch"
  RUNS="$d/teacher_resnet50 $d/student_net $d/student_net_scratch"
}

food11() {
  [ -d "$DATA/food-11" ] || $PY "$ROOT/examples/make_small_data.py" food11 "$DATA/food-11" --train 12 --val 3 --test 3 --seed 5
  local d=$WORK/food11
  for r in teacher_resnet18 student_net; do set_params "$d/$r" "data_dir=\"$DATA/food-11\"" "image_cache_dir=\"$DATA/cache\""; done
  set_params "$d/student_net" "num_epochs=2" "batch_size=16"
  torch_state_dict resnet18 11 256 "$d/teacher_resnet18.bin"
  $PY "$ROOT/scripts/import_torch_teacher.py" "$d/teacher_resnet18.bin" --model-dir "$d/teacher_resnet18"
  "$BIN/teacher-export" --model-dir "$d/teacher_resnet18" --views 2
  "$BIN/student-distill" --model-dir "$d/student_net"
  RUNS="$d/student_net"
}

keras() {
  store32
  local d=$WORK/keras small=("dataset=$STORE32" "data_dir=\"$DATA/store32\"" "val_size=100")
  for r in teacher student student_scratch; do set_params "$d/$r" "${small[@]}"; done
  set_params "$d/teacher" "num_epochs=5"; set_params "$d/student" "num_epochs=10"; set_params "$d/student_scratch" "num_epochs=10"
  "$BIN/teacher-train" --model-dir "$d/teacher"
  "$BIN/teacher-export" --model-dir "$d/teacher"
  "$BIN/student-distill" --model-dir "$d/student"
  "$BIN/student-distill" --model-dir "$d/student_scratch"
  RUNS="$d/teacher $d/student $d/student_scratch"
}

kd_article() {
  store32
  local d=$WORK/kd_article small=("dataset=$STORE32" "data_dir=\"$DATA/store32\"" "val_size=100" "batch_size=64")
  for r in teacher_vgg16 student_mobilenet_v2 student_mobilenet_v2_scratch; do set_params "$d/$r" "${small[@]}" "num_epochs=3"; done
  # The write-up takes a trained teacher; VGG-16 without batch norm barely moves under Adam in
  # a few epochs, so the small run trains it with SGD.
  set_params "$d/teacher_vgg16" "num_epochs=8" "optimizer=\"sgd\"" "learning_rate=0.01" "momentum=0.9"
  "$BIN/teacher-train" --model-dir "$d/teacher_vgg16"
  "$BIN/teacher-export" --model-dir "$d/teacher_vgg16" --views 2 --features
  "$BIN/student-distill" --model-dir "$d/student_mobilenet_v2"
  "$BIN/student-distill" --model-dir "$d/student_mobilenet_v2_scratch"
  RUNS="$d/teacher_vgg16 $d/student_mobilenet_v2 $d/student_mobilenet_v2_scratch"
}

mkdir -p "$DATA"
echo "| example | small-run time | runs (test accuracy) |" > "$SUMMARY"
echo "|---|---|---|" >> "$SUMMARY"
for ex in $EXAMPLES; do
  rm -rf "${WORK:?}/$ex"
  cp -r "$ROOT/examples/$ex" "$WORK/$ex"
  echo "=== examples/$ex (copy in $WORK/$ex)"
  start=$(date +%s)
  $ex
  seconds=$(( $(date +%s) - start ))
  lines=$("$BIN/student-distill" summary $RUNS)
  echo "$lines"
  echo "=== examples/$ex: ${seconds} s"
  runs=$(echo "$lines" | sed -E 's/ +/ /g' | awk '{printf "%s%s", (n++ ? "<br>" : ""), $0}')
  echo "| $ex | ${seconds} s | ${runs} |" >> "$SUMMARY"
done
echo; cat "$SUMMARY"
