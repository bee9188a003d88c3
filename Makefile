# bgpsentry — see README.md. `make run` runs the main job on the embedded
# default; `make test` installs what the tests need and runs every test.
SHELL := /bin/bash
GO ?= go
VERSION ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
LDFLAGS := -X main.version=$(VERSION)
FUZZTIME ?= 10m

.PHONY: events-eval rule-baselines seeds operating-points scale all build run test test-go test-race test-py venv train parity deps lint fmt-check vet proto proto-check fuzz bench bench-compare clean

all: build

build:
	CGO_ENABLED=0 $(GO) build -ldflags "$(LDFLAGS)" -o dist/bgpsentry ./cmd/bgpsentry

# The main job: `serve` on the embedded default (no other services). The
# speaker listens for BGP on 127.0.0.1:1179 and the gRPC alert service on
# 127.0.0.1:50051; the state is bootstrapped from a bundled real baseline
# (pyasn, RouteViews 2008-05) and a bundled real RouteViews sample is
# replayed at 60x real time (30 minutes of 2008-02-24, the YouTube hijack
# at 18:47:57 among them). Alert events print as they occur; Ctrl-C stops.
DEMO_BASELINE ?= testdata/demo/ipasn_20080501_v12.dat.gz
DEMO_REPLAY ?= testdata/demo/updates.20080224.1824.bz2 testdata/demo/updates.20080224.1839.bz2
DEMO_SPEED ?= 60
# CAIDA as-org data (sibling ASes), the file training used, when ../shared
# is beside the repository (too large to bundle); without it the demo runs
# and hijacks between sibling ASes are not vetoed.
DEMO_ASORG ?= ../shared/data/asorg/caida/20211001.as-org2info.jsonl.gz
run: build
	./dist/bgpsentry serve --baseline $(DEMO_BASELINE) $(if $(wildcard $(DEMO_ASORG)),--asorg $(DEMO_ASORG)) $(addprefix --replay ,$(DEMO_REPLAY)) --replay.speed $(DEMO_SPEED) $(ARGS)

# Debian packages (bgpdump; BIRD 2, ExaBGP and gobgpd for the peering
# tests), and the Kafka 4.x jars from Maven Central into
# .cache/kafka (once) for the tests that run a real broker.
deps:
	bash scripts/deps.sh
	bash scripts/peers-deps.sh
	bash scripts/kafka.sh fetch

test: deps lint proto-check test-go test-race test-py

test-go:
	$(GO) test -count=1 ./...

# Concurrent code under the race detector (the long real-data comparison
# is left to test-go).
test-race:
	$(GO) test -count=1 -race -short ./...

# Python: the training package's tests in the pinned venv (.venv).
test-py: venv
	cd training && ../.venv/bin/python -m pytest -q

venv:
	bash scripts/venv.sh

# inject -> featurize -> train -> evaluate -> export (classifier/model,
# training/REPORT.md, testdata/model/bgpsentry); deterministic.
train: build venv
	PYTHONPATH=training .venv/bin/python -m bgpsentry_train.pipeline --config training/pipeline.json --bin dist/bgpsentry --out training/out

# Event-level evaluation of the held-out synthetic test set (after make train):
# every injected test stream through bgpsentry score, events matched to the
# injected instances; writes training/events-eval.md.
events-eval: build venv
	PYTHONPATH=training .venv/bin/python -m bgpsentry_train.events_eval --config training/pipeline.json --bin dist/bgpsentry --out training/out --split test --md training/events-eval.md

# Event-level operating points (after make train): the synthetic validation
# streams (where targets.event_floors are chosen) and test streams, and the
# real-data runs, at several threshold floors; writes
# training/operating-points{-valid,}.md and training/report/operating_points{_valid,}.png.
operating-points: build venv
	PYTHONPATH=training .venv/bin/python -m bgpsentry_train.operating --config training/pipeline.json --realdata training/realdata.json --bin dist/bgpsentry --out training/out --split valid --md training/operating-points-valid.md --plot training/report/operating_points_valid.png
	PYTHONPATH=training .venv/bin/python -m bgpsentry_train.operating --config training/pipeline.json --realdata training/realdata.json --bin dist/bgpsentry --out training/out --split test --md training/operating-points.md --plot training/report/operating_points.png

# The model against the rules of the detectors operators run (BGPalerter's
# hijack and upstream monitors, Cloudflare Radar's hairpin leak), on the
# same test streams and real-data runs (after make train, make events-eval
# and the real-data runs of training/REPORT.md); writes training/rule-baselines.md.
rule-baselines: build venv
	PYTHONPATH=training .venv/bin/python -m bgpsentry_train.rule_baselines --config training/pipeline.json --realdata training/realdata.json --bin dist/bgpsentry --out training/out --split test --model-real training/out/realdata --md training/rule-baselines.md

# How much of the results is the LightGBM seed (after make train): the rows
# trained with each seed, each model through events-eval's test streams and
# the real-data runs; writes training/seeds.md.
seeds: build venv
	PYTHONPATH=training .venv/bin/python -m bgpsentry_train.seeds --config training/pipeline.json --realdata training/realdata.json --bin dist/bgpsentry --out training/out --md training/seeds.md

# Go inference against Python's predictions on the same rows.
parity: venv
	cd training && ../.venv/bin/python -m pytest -q tests/test_parity.py
	$(GO) test -count=1 -run 'Parity|Leaves' ./classifier/...

lint: fmt-check vet

fmt-check:
	@out=$$(gofmt -l $$(git ls-files '*.go' | grep -v '\.pb\.go$$')); \
	if [ -n "$$out" ]; then echo "gofmt would change:"; echo "$$out"; exit 1; fi

vet:
	$(GO) vet ./...

# Regenerate proto/ Go code with pinned buf + protoc-gen-go (.tools/bin).
proto:
	bash scripts/proto.sh

# buf lint, buf breaking, and fail when the committed generated code is stale.
proto-check:
	bash scripts/proto.sh check

# Every fuzz target for FUZZTIME each (default 10m).
fuzz:
	GO=$(GO) FUZZTIME=$(FUZZTIME) bash scripts/fuzz.sh

bench:
	$(GO) test -run '^$$' -bench . -benchmem ./...

# Whole-process comparison with bgpdump on a real RIS file (ratios in README).
bench-compare: build
	bash scripts/bench-compare.sh

clean:
	rm -rf dist

# Full-table scale of the speaker (opt-in, heavy: several minutes and
# several GB): three real gobgpd peers send a full table each; prints the
# time to full tables, memory, bytes per route and the extrapolation to
# 100 peers. BGPSENTRY_SCALE_PREFIXES=N for a part of the table.
scale:
	bash scripts/peers-deps.sh
	BGPSENTRY_SCALE=1 $(GO) test -count=1 -run TestFullTableScale -v -timeout 60m ./bgpfeed/speaker/
