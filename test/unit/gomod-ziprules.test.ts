// Module zip entry rules (x/mod/zip CheckZip, plus modfs's stricter rules: see ziprules.ts).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  checkZipEntries, cleanPath, fileSizeLimit, foldName, MAX_GO_MOD, MAX_LICENSE, MAX_ZIP_FILE, GoModError,
  type ZipEntryMeta,
} from '../../lib/gomod/index.js';

const M = 'example.com/Mod';
const V = 'v1.0.0-RC1';
const P = `${M}@${V}/`; // module path unescaped, version as is

function entry(name: string, extra: Partial<ZipEntryMeta> = {}): ZipEntryMeta {
  return { name, isDir: false, isSymlink: false, isOtherSpecial: false, encrypted: false, compressedSize: 10, uncompressedSize: 10, ...extra };
}

function codeOf(f: () => unknown): string {
  try {
    f();
  } catch (e) {
    assert.ok(e instanceof GoModError, `not a GoModError: ${String(e)}`);
    return e.code;
  }
  return 'ok';
}

test('constants', () => {
  assert.equal(MAX_ZIP_FILE, 500 * 1024 * 1024);
  assert.equal(MAX_GO_MOD, 16 * 1024 * 1024);
  assert.equal(MAX_LICENSE, 16 * 1024 * 1024);
  assert.equal(fileSizeLimit('go.mod'), MAX_GO_MOD);
  assert.equal(fileSizeLimit('LICENSE'), MAX_LICENSE);
  assert.equal(fileSizeLimit('sub/LICENSE'), MAX_ZIP_FILE);
  assert.equal(fileSizeLimit('a.go'), MAX_ZIP_FILE);
});

test('a valid zip keeps every file, in zip order, with its path and size', () => {
  const kept = checkZipEntries(M, V, [
    entry(P + 'go.mod', { uncompressedSize: 30 }),
    entry(P + 'a/b.go'),
    entry(P + 'LICENSE', { uncompressedSize: MAX_LICENSE }),
    entry(P + 'sub/LICENSE', { uncompressedSize: MAX_LICENSE + 1 }), // limit only at the root
    entry(P + 'vendor/x.com/y/z.go'), // CheckZip keeps vendor and .hg_archival.txt (only Create drops them)
    entry(P + '.hg_archival.txt'),
    entry(P + 'd\u00e9j\u00e0 vu/#1 (x).txt'),
    entry(P + '-dash.go'),
  ]);
  assert.deepEqual(kept[0], { name: P + 'go.mod', path: 'go.mod', size: 30 });
  assert.deepEqual(kept.map((k) => k.path), [
    'go.mod', 'a/b.go', 'LICENSE', 'sub/LICENSE', 'vendor/x.com/y/z.go', '.hg_archival.txt', 'd\u00e9j\u00e0 vu/#1 (x).txt', '-dash.go',
  ]);
  assert.deepEqual(checkZipEntries(M, V, []), []);
});

test('one specific code per violation', () => {
  const nonUtf8 = Buffer.concat([Buffer.from(P), Buffer.from([0xff, 0x2e, 0x67, 0x6f])]);
  const cases: Array<[string, ZipEntryMeta[]]> = [
    ['zip-prefix', [entry('example.com/other@v1.0.0/a.go')]],
    ['zip-prefix', [entry('example.com/!mod@v1.0.0-!r!c1/a.go')]], // the escaped form is not the prefix
    ['zip-prefix', [entry(`${M}@${V}a.go`)]],
    ['zip-name-utf8', [entry(P + '\u00ff.go', { nameBytes: nonUtf8 })]],
    ['zip-directory-entry', [entry(P + 'dir/', { isDir: true })]],
    ['zip-directory-entry', [entry(P + 'dir/')]], // a trailing slash is enough
    ['zip-directory-entry', [entry(P + 'dir', { isDir: true })]],
    ['zip-directory-entry', [entry(P, { isDir: true })]], // the root itself
    ['zip-path-unclean', [entry(P + '../a.go')]],
    ['zip-path-unclean', [entry(P + '/abs.go')]],
    ['zip-path-unclean', [entry(P + 'a//b.go')]],
    ['zip-path-unclean', [entry(P + './a.go')]],
    ['zip-path-unclean', [entry(P + 'a/./b.go')]],
    ['zip-path-unclean', [entry(P + 'a/../b.go')]],
    ['zip-path-unclean', [entry(P + '.')]],
    ['zip-name-nul', [entry(P + 'a\0.go')]],
    ['zip-name-backslash', [entry(P + 'a\\b.go')]],
    ['zip-path-invalid', [entry(P + 'a:b.go')]],
    ['zip-path-invalid', [entry(P + 'a*.go')]],
    ['zip-path-invalid', [entry(P + 'con.go')]],
    ['zip-path-invalid', [entry(P + 'sub/aux')]],
    ['zip-path-invalid', [entry(P + 'trailing.')]],
    ['zip-path-invalid', [entry(P + '\u2603.go')]],
    ['zip-path-invalid', [entry(P + '\ud800.go')]],
    ['zip-case-collision', [entry(P + 'a.go'), entry(P + 'A.go')]],
    ['zip-case-collision', [entry(P + 'Dir/a.go'), entry(P + 'dir/b.go')]],
    ['zip-case-collision', [entry(P + 'stra\u00dfe'), entry(P + 'STRA\u1e9eE')]], // ß and ẞ fold together
    ['zip-case-collision', [entry(P + '\u03c3'), entry(P + '\u03c2')]], // σ and final ς too
    ['zip-case-collision', [entry(P + 'k'), entry(P + '\u212a')]], // Kelvin sign is a k
    ['zip-duplicate', [entry(P + 'a.go'), entry(P + 'a.go')]],
    ['zip-file-dir-conflict', [entry(P + 'a'), entry(P + 'a/b.go')]],
    ['zip-file-dir-conflict', [entry(P + 'a/b.go'), entry(P + 'a')]],
    ['zip-symlink', [entry(P + 'link', { isSymlink: true })]],
    ['zip-special-file', [entry(P + 'dev', { isOtherSpecial: true })]],
    ['zip-encrypted', [entry(P + 'a.go', { encrypted: true })]],
    ['zip-gomod-not-root', [entry(P + 'sub/go.mod')]],
    ['zip-gomod-not-root', [entry(P + 'sub/GO.MOD')]],
    ['zip-gomod-case', [entry(P + 'GO.MOD')]],
    ['zip-gomod-case', [entry(P + 'Go.mod')]],
    ['zip-file-too-large', [entry(P + 'go.mod', { uncompressedSize: MAX_GO_MOD + 1 })]],
    ['zip-file-too-large', [entry(P + 'LICENSE', { uncompressedSize: MAX_LICENSE + 1 })]],
    ['zip-too-large', [entry(P + 'a', { uncompressedSize: 300 << 20 }), entry(P + 'b', { uncompressedSize: 300 << 20 })]],
    ['zip-too-large', [entry(P + 'a', { uncompressedSize: -1 })]],
    ['zip-compressed-too-large', [entry(P + 'a', { compressedSize: 300 << 20 }), entry(P + 'b', { compressedSize: 300 << 20 })]],
  ];
  for (const [code, entries] of cases) {
    assert.throws(
      () => checkZipEntries(M, V, entries),
      (e: unknown) => {
        assert.ok(e instanceof GoModError);
        assert.equal(e.code, code, `${entries.map((x) => JSON.stringify(x.name)).join(',')}: ${e.message}`);
        assert.ok(e.message.includes(`${M}@${V}`), e.message);
        return true;
      },
    );
  }
});

test('things that are not collisions', () => {
  // dotless ı folds only under Turkish rules, not Unicode simple folding
  assert.equal(codeOf(() => checkZipEntries(M, V, [entry(P + 'i'), entry(P + '\u0131')])), 'ok');
  // the same directory may hold many files
  assert.equal(codeOf(() => checkZipEntries(M, V, [entry(P + 'd/a'), entry(P + 'd/b'), entry(P + 'd/e/f')])), 'ok');
  // go.mod, LICENSE and other names are fine in subdirectories when not go.mod
  assert.equal(codeOf(() => checkZipEntries(M, V, [entry(P + 'go.mod'), entry(P + 'sub/go.sum'), entry(P + 'sub/go.mod.txt')])), 'ok');
});

test('the zip file size, when given, replaces the sum of compressed sizes', () => {
  const entries = [entry(P + 'a.go')];
  assert.equal(codeOf(() => checkZipEntries(M, V, entries, { zipSize: MAX_ZIP_FILE })), 'ok');
  assert.equal(codeOf(() => checkZipEntries(M, V, entries, { zipSize: MAX_ZIP_FILE + 1 })), 'zip-compressed-too-large');
});

test('total uncompressed size may reach exactly the limit', () => {
  const half = MAX_ZIP_FILE / 2;
  assert.equal(codeOf(() => checkZipEntries(M, V, [entry(P + 'a', { uncompressedSize: half }), entry(P + 'b', { uncompressedSize: half })])), 'ok');
  assert.equal(codeOf(() => checkZipEntries(M, V, [entry(P + 'a', { uncompressedSize: half }), entry(P + 'b', { uncompressedSize: half + 1 })])), 'zip-too-large');
});

test('a size error wins over invalid entries, as in CheckedFiles.Err', () => {
  const entries = [entry(P + 'A'), entry(P + 'a'), entry(P + 'big', { uncompressedSize: MAX_ZIP_FILE + 1 })];
  assert.equal(codeOf(() => checkZipEntries(M, V, entries)), 'zip-too-large');
});

test('the first invalid entry decides the code; the message counts the rest', () => {
  const entries = [entry(P + 'ok.go'), entry(P + 'a:b'), entry(P + 'link', { isSymlink: true })];
  assert.throws(() => checkZipEntries(M, V, entries), (e: GoModError) => e.code === 'zip-path-invalid' && /and 1 more/.test(e.message));
});

test('the module version itself must be valid for a zip', () => {
  assert.equal(codeOf(() => checkZipEntries('example.com/m', 'v1.0', [])), 'version-not-canonical');
  assert.equal(codeOf(() => checkZipEntries('example.com/m', 'v2.0.0', [])), 'version-major-mismatch');
  assert.equal(codeOf(() => checkZipEntries('example.com/m/v2', 'v2.0.0+incompatible', [])), 'version-incompatible');
  assert.equal(codeOf(() => checkZipEntries('Example.com/m', 'v1.0.0', [])), 'invalid-module-path');
  assert.equal(codeOf(() => checkZipEntries('example.com/m', 'v2.0.0+incompatible', [entry('example.com/m@v2.0.0+incompatible/a.go')])), 'ok');
});

test('cleanPath is path.Clean', () => {
  const table: Array<[string, string]> = [
    ['', '.'], ['.', '.'], ['a', 'a'], ['a/', 'a'], ['a//b', 'a/b'], ['./a', 'a'], ['a/./b', 'a/b'], ['a/../b', 'b'],
    ['..', '..'], ['../a', '../a'], ['../../a/..', '../..'], ['a/../..', '..'], ['/', '/'], ['/..', '/'], ['/../a/', '/a'], ['//a', '/a'],
  ];
  for (const [p, want] of table) assert.equal(cleanPath(p), want, JSON.stringify(p));
});

test('foldName approximates Unicode simple folding', () => {
  assert.equal(foldName('ABC.go'), 'abc.go');
  assert.equal(foldName('\u212a'), foldName('K'));
  assert.equal(foldName('\u017f'), foldName('S'));
  assert.equal(foldName('\u1e9e'), foldName('\u00df'));
  assert.equal(foldName('\u03a3'), foldName('\u03c2'));
  assert.notEqual(foldName('\u0131'), foldName('i'));
  assert.notEqual(foldName('\u0130'), foldName('i'));
});
