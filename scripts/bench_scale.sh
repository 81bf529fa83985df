#!/usr/bin/env bash
# The scale benchmark (make bench-scale; figures in BENCHMARKS.md): a generated ImageNet-shaped
# image store (1000 classes, 3x32x32 images) at several sizes, each through the three stages
# and a summary, under a fixed memory budget so that data and logits beyond it stay in their
# files. Prints one row per stage and size: peak RSS, seconds, images/s, disk. Then the
# student's images/s on data that fits, in memory against streamed, in interleaved rounds.
#
#   scripts/bench_scale.sh [SIZES] [BUDGET_MB] [ROUNDS]
#   SIZES: training-set sizes, default "10000 100000 1281167"; BUDGET_MB default 64; ROUNDS 3.
#   WORK (env): where the data and runs go, default /tmp/kd-bench-scale (removed at the start).
set -euo pipefail
SIZES=${1:-"10000 100000 1281167"}
BUDGET=${2:-64}
ROUNDS=${3:-3}
WORK=${WORK:-/tmp/kd-bench-scale}
BIN=$(swift build -c release --show-bin-path)
rm -rf "$WORK"; mkdir -p "$WORK"

# Runs a stage under /usr/bin/time; prints "peak_rss_mib seconds".
timed() { local log=$1; shift; /usr/bin/time -f "%M %e" -o "$log.time" "$@" >"$log" 2>&1 || { cat "$log"; exit 1; }
          awk '{printf "%d %s\n", $1/1024, $2}' "$log.time"; }
params() {  # dir data budget-mb extra-json
  mkdir -p "$1"; cat >"$1/params.json" <<JSON
{"dataset": "image-store", "data_dir": "$2", "model_version": "cnn5", "num_channels": 32, "batch_size": 128,
 "num_epochs": 1, "optimizer": "adam", "learning_rate": 0.001, "augmentation": false, "memory_budget_mb": $3 $4}
JSON
}

echo "| images (train) | stage | peak RSS (MiB) | seconds | images/s | disk (MiB) |"
echo "|---:|---|---:|---:|---:|---:|"
for n in $SIZES; do
  data="$WORK/data-$n"
  "$BIN/kd-bench" make-store --out "$data" --train "$n" --val 10000 --test 10000 --classes 1000 --size 32 >/dev/null
  disk=$(du -m "$data/images.h5" | cut -f1)
  # The teacher trains on 20,000 images (20 a class) whatever the size: its CPU time is not the point.
  params "$WORK/t-$n" "$data" "$BUDGET" ", \"subset_percent\": $(python3 -c "print(min(1.0, 20000/$n))")"
  read rss s < <(timed "$WORK/t-$n.log" "$BIN/teacher-train" --model-dir "$WORK/t-$n")
  echo "| $n | teacher-train (at most 20,000 of them) | $rss | $s | | $disk (store) |"
  read rss s < <(timed "$WORK/e-$n.log" "$BIN/teacher-export" --model-dir "$WORK/t-$n")
  rate=$(grep -o "^train: .*(\([0-9]*\) images/s)" "$WORK/e-$n.log" | grep -o "[0-9]* images/s" | cut -d' ' -f1)
  echo "| $n | teacher-export | $rss | $s | $rate | $(du -m -c "$WORK/t-$n/logits/"*.h5 | tail -1 | cut -f1) (logits) |"
  params "$WORK/s-$n" "$data" "$BUDGET" ", \"alpha\": 0.9, \"temperature\": 4, \"num_channels\": 16, \"teacher_logits\": \"$WORK/t-$n/logits\""
  read rss s < <(timed "$WORK/s-$n.log" "$BIN/student-distill" --model-dir "$WORK/s-$n")
  rate=$(grep -o "([0-9]* img/s)" "$WORK/s-$n/train.log" | tail -1 | tr -dc 0-9)
  echo "| $n | student-distill (1 epoch) | $rss | $s | $rate | |"
  read rss s < <(timed "$WORK/r-$n.log" "$BIN/student-distill" summary "$WORK/t-$n" "$WORK/s-$n")
  echo "| $n | summary | $rss | $s | | |"
  rm -rf "$WORK/t-$n/logits"   # keep the disk for the next size
  [ "$n" = "$(echo $SIZES | awk '{print $NF}')" ] || rm -rf "$data"
done

# In memory against streamed on data that fits (FIT training images, default 100,000): the
# student's epoch images/s, each round both ways.
FIT=${FIT:-100000}
fit="$WORK/fit"; "$BIN/kd-bench" make-store --out "$fit" --train "$FIT" --val 10000 --test 10000 --classes 1000 --size 32 >/dev/null
params "$WORK/fit-t" "$fit" 0 ", \"subset_percent\": $(python3 -c "print(min(1.0, 20000/$FIT))")"
"$BIN/teacher-train" --model-dir "$WORK/fit-t" >/dev/null 2>&1
"$BIN/teacher-export" --model-dir "$WORK/fit-t" >/dev/null 2>&1
echo
echo "| round | in memory (img/s) | streamed, memory_budget_mb 1 (img/s) | streamed / in memory |"
echo "|---:|---:|---:|---:|"
for r in $(seq 1 "$ROUNDS"); do
  for mode in memory streamed; do
    budget=$([ $mode = memory ] && echo 0 || echo 1)
    d="$WORK/fit-$mode-$r"
    params "$d" "$fit" "$budget" ", \"alpha\": 0.9, \"temperature\": 4, \"num_channels\": 16, \"teacher_logits\": \"$WORK/fit-t/logits\""
    "$BIN/student-distill" --model-dir "$d" >/dev/null 2>&1
    eval "$mode=$(grep -o '([0-9]* img/s)' "$d/train.log" | tail -1 | tr -dc 0-9)"
  done
  echo "| $r | $memory | $streamed | $(python3 -c "print(f'{$streamed/$memory:.3f}')") |"
done
