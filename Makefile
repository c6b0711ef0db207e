# modfs — set-up, build, tests. `make setup` then `make test` on a fresh Debian 12 machine.
SHELL := /bin/bash
APT_PACKAGES := libfuse2 fuse golang-go git ca-certificates util-linux unzip
CORPUS_PACKAGES := $(shell grep -v '^\#' scripts/corpus-packages.txt 2>/dev/null)
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)
CORPUS_DIR ?= .corpus/proxy

.PHONY: setup apt deps build test test-unit test-e2e corpus demo bench bench-ingest clean

setup: apt deps build

# Installs only what is missing, so a second run is quick and changes nothing.
apt:
	@missing=$$(for p in $(APT_PACKAGES) $(CORPUS_PACKAGES); do dpkg-query -W -f='$${Status}\n' $$p 2>/dev/null | grep -q '^install ok installed' || echo $$p; done); \
	if [ -n "$$missing" ]; then \
	  echo "installing: $$missing"; \
	  $(SUDO) apt-get update -qq && DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq --no-install-recommends $$missing; \
	else echo "apt packages: all present"; fi

deps:
	npm ci --no-audit --no-fund

build:
	npx tsc -p tsconfig.json

corpus: build
	node dist/scripts/build-corpus.js --out $(CORPUS_DIR)

# Test files are named *.test.js; test/support holds helpers, not tests.
test: build
	node --test --test-concurrency=1 dist/test/unit/*.test.js dist/test/e2e/*.test.js

test-unit: build
	node --test dist/test/unit/*.test.js

test-e2e: build
	node --test --test-concurrency=1 dist/test/e2e/*.test.js

demo: build
	bash scripts/demo.sh

bench: build
	node dist/bench/run.js

# Ingest alone: every corpus version into a fresh store (no FUSE, no HTTP).
bench-ingest: build
	node --max-semi-space-size=4 dist/bench/ingest.js

clean:
	rm -rf dist
