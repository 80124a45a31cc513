# halun: `make test` runs everything CI runs.
SHELL := /bin/bash
GO ?= go
FUZZTIME ?= 100000x
# Trials of each fault in `make soak`'s campaign (make test runs 2).
HA_TRIALS ?= 100

.PHONY: all build test deps lint unit race fuzz integration crash conformance soak soak-ha release release-test clean

all: build

build:
	$(GO) build ./...

deps:
	./scripts/deps.sh

lint:
	@out=$$(gofmt -l $$(git ls-files '*.go')); if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi
	$(GO) vet ./...

unit:
	$(GO) test ./internal/... ./cmd/...

race:
	$(GO) test -race ./internal/... ./cmd/...

fuzz:
	FUZZTIME=$(FUZZTIME) ./scripts/fuzz.sh

integration: deps
	$(GO) test -race -timeout 20m ./test/clients/... ./test/integration/... ./test/admin/... ./test/tgt/... ./test/cluster/... ./test/service/...
	$(GO) test -v -timeout 10m ./test/scale/
	$(GO) test -v -timeout 20m ./test/ha/

# A few SIGKILLs under a verified write load; `make soak` runs 60.
crash:
	$(GO) test -timeout 10m -v ./test/crash/

conformance: deps
	$(GO) test -timeout 60m -v ./test/conformance/

# The host architecture's .deb built, inspected with dpkg-deb, unpacked and
# run; the arm64 binary checked to be a static aarch64 ELF.
release-test:
	$(GO) test -v -timeout 20m ./test/release/

test: deps lint race fuzz integration crash conformance release-test

# Static binaries for linux/amd64 and arm64, a .deb for each, and SHA256SUMS
# in dist/out. VERSION and COMMIT default to git's (a v* tag on HEAD, else
# a v0.0.0-git.<time>.<commit> development version).
VERSION ?=
COMMIT ?=
release:
	$(GO) run ./scripts/release -out dist/out $(if $(VERSION),-version $(VERSION)) $(if $(COMMIT),-commit $(COMMIT))

# Soak-sized versions of the robustness tests; results go to docs/robustness.md:
# 60 SIGKILLs under load, 100,000 cycles of each leak pattern, and ten
# minutes of hostile PDU streams; then the HA soak (soak-ha).
soak: deps
	HALUN_CRASH_KILLS=60 $(GO) test -timeout 60m -v ./test/crash/
	HALUN_LEAK_CYCLES=100000 $(GO) test -timeout 60m -v -run 'TestNoLeaks' ./test/scale/
	$(GO) test -run '^$$' -fuzz '^FuzzFullFeatureStream$$' -fuzztime 10m ./test/integration/
	$(MAKE) soak-ha

# HA_TRIALS trials of every fault of the HA campaign with two copies and
# with three (about 2.5 hours per layout at 100), their tables in
# docs/ha/latest.md and docs/ha/latest-three.md. Every finished trial is
# recorded in docs/ha/soak-two.jsonl and soak-three.jsonl, and a run
# does only what they lack: a soak stopped part way goes on where it
# stopped. Remove them to start a new soak.
soak-ha: deps
	HALUN_HA_TRIALS=$(HA_TRIALS) HALUN_HA_REPORT=$(CURDIR)/docs/ha/latest.md HALUN_HA_STATE=$(CURDIR)/docs/ha/soak-two.jsonl \
	HALUN_HA_TRIALS_THREE=$(HA_TRIALS) HALUN_HA_REPORT_THREE=$(CURDIR)/docs/ha/latest-three.md HALUN_HA_STATE_THREE=$(CURDIR)/docs/ha/soak-three.jsonl \
	$(GO) test -v -timeout 900m ./test/ha/

clean:
	rm -rf halun-data dist/out
