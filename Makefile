# Knowledge distillation of image classifiers on the CPU: build, test and run the three stages.
# `make help` lists the targets.

SHELL := /bin/bash
SWIFT ?= swift
BIN := .build/release

# Debian packages the build and tests need (C libraries, h5dump, the default dataset).
DEBIAN_PACKAGES := python3 libdnnl-dev libgcc-12-dev libhdf5-dev zlib1g-dev libturbojpeg0-dev libpng-dev libopenmpi-dev openmpi-bin pkgconf hdf5-tools dataset-fashion-mnist
# The interoperability tests (PyTorch, torchvision, h5py), regenerating fixtures and the PyTorch
# side of `make bench`: 269 Debian packages, about 900 MiB installed, a minute or two.
PYTHON_PACKAGES := python3-torch python3-torchvision python3-pil python3-h5py python3-numpy python3-onnx
# The report test renders report.html in headless Chromium (about 290 MiB installed).
REPORT_PACKAGES := chromium
# The ONNX export test: Debian's onnx checker and numpy; onnxruntime comes from PyPI (ONNX_VENV).
ONNX_PACKAGES := python3-onnx python3-numpy
# The current PyTorch from PyPI, the second peer of `make bench` (about 5.5 GiB with the CUDA
# libraries its wheel depends on; it runs on the CPU). Ignored by git.
TORCH_VENV := .venv-torch
# onnxruntime from PyPI beside Debian's python3-onnx, for the ONNX export test (about 60 MB).
ONNX_VENV := .venv-onnx

# Run directories of the pipeline stages (override on the command line).
TEACHER ?= experiments/teacher_resnet20
STUDENT ?= experiments/student_cnn5_kd
BASELINE ?= experiments/student_cnn5_scratch

.PHONY: help deps deps-python deps-onnx deps-report deps-bench build test fixtures bench bench-load demo examples folder-demo teacher logits student baseline summary sweep results methods views clean

help:
	@echo "make deps      install the Debian packages the build needs ($(DEBIAN_PACKAGES))"
	@echo "make build     release build of teacher-train, teacher-export, student-distill"
	@echo "make test      every test (swift test, then the convolution tests with Winograd off, in oneDNN alone and capped to AVX2), after installing what they need (deps, deps-python, deps-onnx, deps-report)"
	@echo "make demo      the whole pipeline on a 20% subset of Fashion-MNIST, with a summary"
	@echo "make examples  each write-up's recipe (examples/) on small generated data, with times and accuracies"
	@echo "make folder-demo  the pipeline on a folder of PNG files made from Fashion-MNIST's test split"
	@echo "make teacher   TEACHER=dir   train a teacher"
	@echo "make logits    TEACHER=dir   export the teacher's logits"
	@echo "make student   STUDENT=dir   distil a student from cached logits"
	@echo "make baseline  BASELINE=dir  train the student from scratch (alpha 0)"
	@echo "make bench     Swift against PyTorch 1.13 (Debian) and the current PyTorch (PyPI), images/s per ISA"
	@echo "make bench-load  loading full Fashion-MNIST logits and a checkpoint, with and without the HDF5 probe"
	@echo "make bench-scale  a generated 1000-class set at 10k, 100k and 1.28M images: peak RSS per stage, streamed vs in memory"
	@echo "make bench-memory  peak RSS of a ResNet-50 at 224 (export and training) against both PyTorch peers"
	@echo "make deps-onnx   install onnx (Debian) and onnxruntime (PyPI, into $(ONNX_VENV)) for the ONNX export test"
	@echo "make deps-bench  install both PyTorch peers (the PyPI one into $(TORCH_VENV), about 5.5 GiB)"
	@echo "make sweep     SWEEP=dir     run every point of dir/sweep.json (resumable)"
	@echo "make results   SWEEP=dir     results.md, results.csv and SVG pictures of a sweep"
	@echo "make methods   [SCALE=_demo] the methods table: KD, DKD, logit standardisation, AT, RKD against scratch"
	@echo "make views     [VIEWS=\"4 16\"] the augmentation table: fixed teacher against replayed views"
	@echo "make compact   the compact-logits table: dense, float16 and top-k exports, on Fashion-MNIST and a 100-class set"
	@echo "make bench-compact  bytes an image and speed of top-5 float16 against dense rows, 1000 classes and 16 views"
	@echo "make summary   RUNS=\"dirs\"   one line per finished run"
	@echo "make fixtures  regenerate Tests/Fixtures with PyTorch and h5py (needs deps-python)"

# Installs only what is missing, and says what it installs.
define apt_install
	@missing=""; for p in $(1); do \
	  dpkg-query -W -f='$${Status}' $$p 2>/dev/null | grep -q "install ok installed" || missing="$$missing $$p"; \
	done; \
	if [ -z "$$missing" ]; then echo "deps: already installed: $(1)"; else \
	  echo "deps: installing with apt-get:$$missing"; \
	  sudo=""; [ "$$(id -u)" = 0 ] || sudo=sudo; \
	  $$sudo apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$sudo apt-get install -y -qq $$missing >/dev/null \
	    && echo "deps: installed:$$missing"; \
	fi
endef

deps:
	$(call apt_install,$(DEBIAN_PACKAGES))

deps-python:
	$(call apt_install,$(PYTHON_PACKAGES))

build:
	$(SWIFT) build -c release

# Installs what every test needs first, so that none skips for want of a step. The
# convolution tests run again with Winograd off, and, on an AVX-512 machine, in oneDNN alone
# (its Winograd) and capped to AVX2 (both ways), so that every kernel is checked wherever CI
# runs.
test: deps deps-python deps-onnx deps-report
	$(SWIFT) test
	KD_WINOGRAD=0 $(SWIFT) test --filter Conv2dTests
	@if grep -qw avx512f /proc/cpuinfo; then \
	  echo "test: the convolution tests again, in oneDNN alone, then capped to AVX2"; \
	  KD_NATIVE_KERNELS=0 $(SWIFT) test --filter Conv2dTests && \
	  DNNL_MAX_CPU_ISA=AVX2 $(SWIFT) test --filter Conv2dTests && \
	  KD_WINOGRAD=0 DNNL_MAX_CPU_ISA=AVX2 $(SWIFT) test --filter Conv2dTests; \
	fi

deps-report:
	$(call apt_install,$(REPORT_PACKAGES))

fixtures: deps-python
	/usr/bin/python3 scripts/make_fixtures.py

deps-onnx:
	$(call apt_install,$(ONNX_PACKAGES))
	@if $(ONNX_VENV)/bin/python -c "import onnx, onnxruntime" 2>/dev/null; then \
	  echo "deps-onnx: onnxruntime already in $(ONNX_VENV)"; \
	else \
	  echo "deps-onnx: installing onnxruntime from PyPI into $(ONNX_VENV) (beside Debian's python3-onnx)"; \
	  /usr/bin/python3 -m venv --system-site-packages $(ONNX_VENV) && $(ONNX_VENV)/bin/pip install -q onnxruntime; \
	fi

deps-bench: deps-python
	@if $(TORCH_VENV)/bin/python -c "import torch, torchvision" 2>/dev/null; then \
	  echo "deps-bench: PyTorch $$($(TORCH_VENV)/bin/python -c 'import torch; print(torch.__version__)') already in $(TORCH_VENV)"; \
	else \
	  echo "deps-bench: installing the current PyTorch and torchvision from PyPI into $(TORCH_VENV) (about 5.5 GiB)"; \
	  python3 -m venv $(TORCH_VENV) && $(TORCH_VENV)/bin/pip install -q torch torchvision numpy; \
	fi

# Swift against both PyTorch peers on this machine, interleaved, per ISA; see BENCHMARKS.md.
# BENCH_ARGS passes options to scripts/bench_report.py (e.g. --isa AVX2 --rounds 5).
bench: deps deps-bench
	$(SWIFT) build -c release --product kd-bench
	/usr/bin/python3 scripts/bench_report.py $(BENCH_ARGS)

# What a student pays to load its inputs (full Fashion-MNIST logits files and a resnet20
# checkpoint), with and without the HDF5 probe, in interleaved rounds; see BENCHMARKS.md.
bench-load: deps
	$(SWIFT) build -c release --product kd-bench
	$(BIN)/kd-bench load --run experiments/bench_load --rounds 11 --keep /tmp/kd-bench-load
	gcc -O2 -ISources/Shared/CHDF5Probe/include scripts/probe_costs.c Sources/Shared/CHDF5Probe/probe.c \
	  -L/usr/lib/x86_64-linux-gnu/hdf5/serial -lhdf5 -o /tmp/kd-probe-costs
	/tmp/kd-probe-costs /tmp/kd-bench-load/train.h5

# The scale benchmark (BENCHMARKS.md; not in CI): a generated ImageNet-shaped image store
# (1000 classes, 3x32x32) at 10k, 100k and 1.28M training images through the three stages
# under memory_budget_mb 64, peak RSS per stage; then a student's epoch in memory against
# streamed. About 20 minutes and 12 GB of disk on 2 cores. SCALE_ARGS="SIZES BUDGET ROUNDS".
bench-scale: deps
	$(SWIFT) build -c release
	scripts/bench_scale.sh $(SCALE_ARGS)

# Peak memory of a torchvision ResNet-50 at 224 pixels, batch 32: teacher-export and
# teacher-train against both PyTorch peers (BENCHMARKS.md). MEMORY_ARGS="MODEL BATCH".
bench-memory: deps deps-bench
	$(SWIFT) build -c release
	scripts/bench_memory_224.sh $(MEMORY_ARGS)

# --- The pipeline ----------------------------------------------------------------------------

# ARGS passes options to the stage, e.g. ARGS="--restore-file last" or ARGS="--set num_epochs=5";
# EXPORT_ARGS to teacher-export, e.g. EXPORT_ARGS=--features.
teacher: build
	$(BIN)/teacher-train --model-dir $(TEACHER) $(ARGS)

logits: build
	$(BIN)/teacher-export --model-dir $(TEACHER) $(EXPORT_ARGS)

student: build
	$(BIN)/student-distill --model-dir $(STUDENT) $(ARGS)

baseline: build
	$(BIN)/student-distill --model-dir $(BASELINE) $(ARGS)

# The whole chain on a 20% stratified subset of Fashion-MNIST (a few minutes), then a summary.
DEMO := experiments/demo
demo: deps build
	$(BIN)/teacher-train --model-dir $(DEMO)/teacher
	$(BIN)/teacher-export --model-dir $(DEMO)/teacher
	$(BIN)/student-distill --model-dir $(DEMO)/student_kd
	$(BIN)/student-distill --model-dir $(DEMO)/student_scratch
	@echo
	@$(BIN)/student-distill summary $(DEMO)/teacher $(DEMO)/student_kd $(DEMO)/student_scratch

# Every write-up's recipe (examples/<name>/: params.json files and network specs at full size)
# on small generated data of the right shape, in copies under EXAMPLES_WORK; EXAMPLES picks some.
EXAMPLES_WORK ?= .build/examples
EXAMPLES ?= cs230 medium food11 keras kd_article
examples: deps deps-python build
	examples/run_small.sh $(EXAMPLES_WORK) $(BIN) $(EXAMPLES)

# The pipeline on real image files: Fashion-MNIST's test split (10,000 images) written as a
# torchvision ImageFolder of grey PNGs (8,000 train, 2,000 test; scripts/idx_to_image_folder.py),
# then teacher, export, a distilled and a scratch student on it, decoding once into the image
# cache (~/.cache/kd-pipeline, or KD_CACHE_DIR). Run directories: experiments/folder_demo/.
FOLDER_DEMO := experiments/folder_demo
FASHION_PNG := experiments/fashion_png
FASHION_CLASSES := T-shirt/top,Trouser,Pullover,Dress,Coat,Sandal,Shirt,Sneaker,Bag,Ankle boot
$(FASHION_PNG):
	python3 scripts/idx_to_image_folder.py /usr/share/datasets/fashion-mnist/t10k-images-idx3-ubyte.gz \
	  /usr/share/datasets/fashion-mnist/t10k-labels-idx1-ubyte.gz $@ --classes "$(FASHION_CLASSES)"
folder-demo: deps build $(FASHION_PNG)
	$(BIN)/teacher-train --model-dir $(FOLDER_DEMO)/teacher
	$(BIN)/teacher-export --model-dir $(FOLDER_DEMO)/teacher
	$(BIN)/student-distill --model-dir $(FOLDER_DEMO)/student_kd
	$(BIN)/student-distill --model-dir $(FOLDER_DEMO)/student_scratch
	@echo
	@$(BIN)/student-distill summary $(FOLDER_DEMO)/teacher $(FOLDER_DEMO)/student_kd $(FOLDER_DEMO)/student_scratch

# One line per run: make summary RUNS="experiments/teacher_resnet20 experiments/student_cnn5_kd"
RUNS ?= $(TEACHER) $(STUDENT) $(BASELINE)
summary: build
	@$(BIN)/student-distill summary $(RUNS)

# A temperature x alpha sweep against one teacher export (run `make teacher logits` first).
# Interrupted? Run it again: finished points are skipped, a stopped one resumes.
SWEEP ?= experiments/sweep_cnn5_fashion
sweep: build
	$(BIN)/student-distill sweep $(SWEEP)

results: build
	$(BIN)/student-distill results $(SWEEP)

# The methods table (RESULTS.md): the teacher exported once with features, then the logit
# methods (KD, DKD, each with and without logit standardisation, and scratch), KD + attention
# transfer, KD + relational KD and KD + DIST, 3 seeds each. SCALE=_demo runs it on the demo's teacher
# (after make demo; about 45 min); without it, on experiments/teacher_resnet20 and the full
# Fashion-MNIST (train that teacher first, about 30 min; then about 80 min of export and students on 2 cores).
SCALE ?=
methods: build
	$(BIN)/teacher-export --model-dir $(if $(SCALE),$(DEMO)/teacher,$(TEACHER)) --features
	for s in logit_methods at rkd dist; do \
	  $(BIN)/student-distill sweep experiments/sweep_cnn5_$${s}$(SCALE) && \
	  $(BIN)/student-distill results experiments/sweep_cnn5_$${s}$(SCALE) || exit 1; \
	done

# The augmentation table (RESULTS.md): an augmenting student distilled from the plain export (a
# fixed teacher, beside scratch with augmentation) and from 4 and 16 replayed views per image
# (teacher-export --views), 3 seeds each. Needs experiments/teacher_resnet20 trained and its
# plain export (make logits, or make methods); about 50 minutes of exports and students on 2 cores.
VIEWS ?= 4 16
views: build
	for v in $(VIEWS); do \
	  $(BIN)/teacher-export --model-dir $(TEACHER) --views $$v --out $(TEACHER)/logits_v$$v || exit 1; \
	done
	for s in fixed $(addprefix v,$(VIEWS)); do \
	  $(BIN)/student-distill sweep experiments/sweep_cnn5_views_$$s && \
	  $(BIN)/student-distill results experiments/sweep_cnn5_views_$$s || exit 1; \
	done

# The compact-logits table (RESULTS.md): KD students from one teacher's dense float32, float16
# and top-k float16 exports (k = 1, 2, 5, 10), 3 seeds each, beside scratch ones, on Fashion-MNIST
# (TEACHER, trained as for make methods) and on Fashion-MNIST pairs, a 100-class set built here
# (scripts/make_fashion_pairs.py) with its own teacher; then export and student speed on
# Fashion-MNIST, 3 interleaved rounds. About 90 minutes on 2 cores.
PAIRS_TEACHER ?= experiments/teacher_resnet20_pairs
compact: build
	/usr/bin/python3 scripts/make_fashion_pairs.py /usr/share/datasets/fashion-mnist data/fashion-pairs
	test -f $(PAIRS_TEACHER)/best.h5 || $(BIN)/teacher-train --model-dir $(PAIRS_TEACHER)
	scripts/compact_logits_accuracy.sh $(TEACHER) experiments/compact/fashion_student.json experiments/compact_fashion "1 2 5 10" "1 2 3" $(BIN)
	scripts/compact_logits_accuracy.sh $(PAIRS_TEACHER) experiments/compact/pairs_student.json experiments/compact_pairs "1 2 5 10" "1 2 3" $(BIN)
	scripts/compact_logits_speed.sh $(TEACHER) experiments/compact/fashion_student.json experiments/compact_speed 3 $(BIN)

# Bytes an image and speed of top-5 float16 rows against dense float32 at 1000 classes and 16
# views (BENCHMARKS.md): a generated store, a small teacher, both exports, students interleaved.
bench-compact: deps
	$(SWIFT) build -c release
	scripts/compact_logits_bytes.sh $${TMPDIR:-/tmp}/kd-bench-compact 3

clean:
	rm -rf .build
