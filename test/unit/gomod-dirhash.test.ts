// dirhash.Hash1 ("h1:") for zips and go.mod files.
//
// The expected hashes are real: the module example.com/HashMe@v1.0.0-RC1 below was served from a
// file:// GOPROXY to Go 1.19's `go mod download -json` (GOSUMDB=off), which printed
//   "Sum": "h1:au/JODjRlYAo9hrtdQ2wSThBKqC4wgZdKK9Q9OSp/GA="
//   "GoModSum": "h1:JywJdkMxAp0u0h+sv4v/PP0ZNqL1ZIZioS4IpaYxRCo="
// The go.mod hash can be reproduced with coreutils:
//   printf '%s  go.mod\n' "$(printf 'module example.com/HashMe\n\ngo 1.19\n' | sha256sum | cut -d' ' -f1)" \
//     | sha256sum | cut -d' ' -f1 | xxd -r -p | base64
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { hash1, hashGoMod, GoModError } from '../../lib/gomod/index.js';

const sha256 = (s: string | Buffer): Buffer => createHash('sha256').update(s).digest();
const GO_MOD = 'module example.com/HashMe\n\ngo 1.19\n';

test('hashGoMod matches the go command', () => {
  assert.equal(hashGoMod(Buffer.from(GO_MOD)), 'h1:JywJdkMxAp0u0h+sv4v/PP0ZNqL1ZIZioS4IpaYxRCo=');
  assert.equal(hashGoMod(Buffer.from(GO_MOD)).length, 47);
});

test('hash1 over a module zip matches the go command, whatever the input order', () => {
  const prefix = 'example.com/HashMe@v1.0.0-RC1/';
  const files: Array<[string, string]> = [
    ['go.mod', GO_MOD],
    ['b.go', 'package b\n'],
    ['sub/Z.txt', 'zz\n'],
    ['\u00e9.txt', 'accent\n'],
    ['LICENSE', 'none\n'],
  ];
  const entries = files.map(([name, content]) => ({ name: prefix + name, sha256: sha256(content) }));
  const want = 'h1:au/JODjRlYAo9hrtdQ2wSThBKqC4wgZdKK9Q9OSp/GA=';
  assert.equal(hash1(entries), want);
  assert.equal(hash1([...entries].reverse()), want);
});

test('names sort by UTF-8 bytes, not UTF-16 code units', () => {
  // U+FF5E is EF BD 9E in UTF-8 and sorts before U+1F600 (F0 9F 98 80), although its UTF-16
  // unit 0xFF5E sorts after the surrogate 0xD83D. Expected values from coreutils:
  //   A=$(printf a | sha256sum | cut -d' ' -f1); B=$(printf b | sha256sum | cut -d' ' -f1)
  //   printf '%s  m@v1.0.0/\xef\xbd\x9e\n%s  m@v1.0.0/\xf0\x9f\x98\x80\n' $A $B | sha256sum | cut -d' ' -f1 | xxd -r -p | base64
  const files = [
    { name: 'm@v1.0.0/\u{1F600}', sha256: sha256('b') },
    { name: 'm@v1.0.0/\uFF5E', sha256: sha256('a') },
  ];
  assert.equal(hash1(files), 'h1:6cJk7ttC1+v+Wkh0FfTact5jWhrILIo4af6z5iFT6rw=');
  // the UTF-16 order would have given this instead
  assert.notEqual(hash1(files), 'h1:hm2DUby1HW/1+Fj+GZluLvSK/Pf6Pg/Me2LLCDw0low=');
});

test('an empty file list hashes the empty input', () => {
  assert.equal(hash1([]), 'h1:' + sha256('').toString('base64'));
});

test('names with a newline are refused', () => {
  assert.throws(() => hash1([{ name: 'm@v1.0.0/a\nb', sha256: sha256('') }]), (e: GoModError) => e.code === 'hash-newline');
});
