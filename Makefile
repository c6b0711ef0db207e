# modfs — set-up, build, tests. `make setup` then `make test` on a fresh Debian 12 machine.
SHELL := /bin/bash
# fuse3 (fusermount3) replaces Debian's `fuse`; gcc, pkg-config and libfuse3-dev build the binding.
APT_PACKAGES := fuse3 libfuse3-3 libfuse3-dev libdeflate-dev gcc libc6-dev pkg-config golang-go git ca-certificates util-linux unzip
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

NATIVE := dist/lib/fs/native/modfs_fuse.node
INFLATE := dist/lib/store/native/modfs_inflate.node
# Headers node installs beside itself: zlib.h and openssl/ for inflating and hashing, whose symbols
# then resolve from the node binary itself (node exports its zlib and OpenSSL for addons).
# libdeflate (Debian's libdeflate-dev) inflates whole buffers faster than zlib.
# (`=`, not `:=`: asked only when the addon is built, not at every make.)
NODE_INCLUDE = $(shell node -p "require('path').resolve(process.execPath, '../../include/node')")

build: $(NATIVE) $(INFLATE)
	npx tsc -p tsconfig.json

# The FUSE binding is plain C against N-API (headers from node-api-headers), libfuse 3,
# libdeflate (files pushed into the page cache are inflated there) and node's zlib (for the
# heads of files pushed in part): one compiler call, no node-gyp and no header download.
$(NATIVE): lib/fs/native/fuse_lowlevel.c lib/store/native/pack_read.h
	@test -f $(NODE_INCLUDE)/zlib.h || { echo "node's zlib.h not found in $(NODE_INCLUDE)"; exit 1; }
	mkdir -p $(dir $@)
	gcc -O2 -Wall -Wextra -Wno-unused-parameter -shared -fPIC -pthread \
	  -DNODE_GYP_MODULE_NAME=modfs_fuse -DNAPI_VERSION=8 -I node_modules/node-api-headers/include -I $(NODE_INCLUDE) \
	  $$(pkg-config --cflags fuse3) $< $$(pkg-config --libs fuse3) -ldeflate -o $@

$(INFLATE): lib/store/native/inflate_work.c lib/store/native/pack_read.h
	@test -f $(NODE_INCLUDE)/zlib.h -a -f $(NODE_INCLUDE)/openssl/sha.h || { echo "node's headers (zlib.h, openssl/) not found in $(NODE_INCLUDE)"; exit 1; }
	mkdir -p $(dir $@)
	gcc -O2 -Wall -Wextra -Wno-unused-parameter -shared -fPIC \
	  -DNODE_GYP_MODULE_NAME=modfs_inflate -DNAPI_VERSION=8 -I node_modules/node-api-headers/include -I $(NODE_INCLUDE) \
	  $< -ldeflate -o $@

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
