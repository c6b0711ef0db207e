#!/usr/bin/env bash
# Demo: serve the Debian-derived corpus on 127.0.0.1, mount an empty store, build a program
# against the mount, unmount. Nothing leaves this machine.
set -euo pipefail
cd "$(dirname "$0")/.."
work=$(mktemp -d /tmp/modfs-demo.XXXXXX)
mnt=$work/mnt; mkdir -p "$mnt" "$work/prog"
cleanup() {
  [ -n "${modfs_pid:-}" ] && kill "$modfs_pid" 2>/dev/null && wait "$modfs_pid" 2>/dev/null || true
  fusermount3 -uz "$mnt" 2>/dev/null || umount -l "$mnt" 2>/dev/null || true
  [ -n "${proxy_pid:-}" ] && kill "$proxy_pid" 2>/dev/null || true
  chmod -R u+w "$work" 2>/dev/null; rm -rf "$work"
}
trap cleanup EXIT

node dist/scripts/build-corpus.js --out .corpus/proxy >/dev/null
node dist/scripts/serve-proxy.js .corpus/proxy > "$work/url" & proxy_pid=$!
for _ in $(seq 50); do [ -s "$work/url" ] && break; sleep 0.1; done
url=$(cat "$work/url")
echo "== upstream: $url (corpus served locally)"

bin/modfs mount "$mnt" --store "$work/store" --upstream "$url" --log-level warn > "$work/modfs.out" & modfs_pid=$!
for _ in $(seq 100); do grep -q 'mounted at' "$work/modfs.out" 2>/dev/null && break; sleep 0.1; done
cat "$work/modfs.out"

v() { head -1 ".corpus/proxy/$1/@v/list"; }
cat > "$work/prog/go.mod" <<EOM
module example.org/demo

go 1.19

require (
	github.com/BurntSushi/toml $(v 'github.com/!burnt!sushi/toml')
	github.com/dustin/go-humanize $(v github.com/dustin/go-humanize)
)
EOM
cat > "$work/prog/main.go" <<'EOM'
package main

import (
	"fmt"

	"github.com/BurntSushi/toml"
	"github.com/dustin/go-humanize"
)

func main() {
	var cfg struct{ Size uint64 }
	if _, err := toml.Decode("Size = 1234567", &cfg); err != nil {
		panic(err)
	}
	fmt.Println("decoded with toml from the mount:", humanize.Bytes(cfg.Size))
}
EOM
export GOMODCACHE=$mnt GOPROXY=off GOFLAGS=-mod=mod GOTOOLCHAIN=local GOSUMDB=off GOCACHE=$work/gocache
echo "== go build (cold: modfs fetches on first access)"
(cd "$work/prog" && time go build -o demo . && ./demo)
echo "== go mod verify"
(cd "$work/prog" && go mod verify)
echo "== the mount:"
ls "$mnt/github.com" "$mnt/cache/download/github.com/dustin/go-humanize/@v"
echo "== store size: $(du -sh "$work/store" | cut -f1)"
