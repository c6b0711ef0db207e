import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import {
  canonical, canonicalInfo, checkFilePath, checkModuleVersion, checkPath, checkZipEntries, compare, escapePath,
  escapeVersion, hash1, hashGoMod, isPseudoVersion, isValid, matchPrefixPatterns, moduleLine, parseGoProxy,
  parseInfo, pseudoVersionTime, sortVersions, splitPathVersion, unescapePath, unescapeVersion, GoModError,
  type ZipEntryMeta,
} from '../../lib/gomod/index.js';

test('escaping round-trips and matches the go command', () => {
  const table: Array<[string, string]> = [
    ['github.com/BurntSushi/toml', 'github.com/!burnt!sushi/toml'],
    ['github.com/Masterminds/semver/v3', 'github.com/!masterminds/semver/v3'],
    ['example.com/Upper/Case', 'example.com/!upper/!case'],
    ['golang.org/x/text', 'golang.org/x/text'],
    ['gopkg.in/yaml.v3', 'gopkg.in/yaml.v3'],
  ];
  for (const [p, e] of table) {
    assert.equal(escapePath(p), e);
    assert.equal(unescapePath(e), p);
  }
  assert.equal(escapeVersion('v1.0.0-RC1'), 'v1.0.0-!r!c1');
  assert.equal(unescapeVersion('v1.0.0-!r!c1'), 'v1.0.0-RC1');
  assert.equal(escapeVersion('v2.0.0+incompatible'), 'v2.0.0+incompatible');
});

test('escaping rejects what the go command rejects', () => {
  for (const bad of ['github.com/!', 'github.com/!!x', 'github.com/Upper', 'github.com/!1', 'github.com/x!', 'exa\u00e9mple.com/x', '!github.com/x']) {
    assert.throws(() => unescapePath(bad), GoModError, bad);
  }
  for (const bad of ['', 'nodot/x', '-x.com/y', 'x.com//y', 'x.com/y/', 'x.com/.y', 'x.com/y.', 'x.com/../y', 'x.com/a b', 'X.com/y', 'x.com/y/v1', 'x.com/y/v0', 'x.com/y/v01', 'x.com/con', 'x.com/y~1', 'gopkg.in/yaml', 'gopkg.in/yaml.v0x']) {
    assert.throws(() => checkPath(bad), GoModError, JSON.stringify(bad));
    assert.throws(() => escapePath(bad), GoModError, JSON.stringify(bad));
  }
  for (const bad of ['v1.0.0!', 'v1.0.0/x', 'v1.0.0\u00e9', '']) assert.throws(() => escapeVersion(bad), GoModError, bad);
  for (const good of ['x.com/y', 'x.com/y/v2', 'gopkg.in/yaml.v3', 'gopkg.in/check.v1', 'x.com/y~z', 'x.com/y.z_w-~']) checkPath(good);
});

test('major version suffixes', () => {
  assert.deepEqual(splitPathVersion('x.com/y/v2'), { prefix: 'x.com/y', pathMajor: '/v2' });
  assert.deepEqual(splitPathVersion('x.com/y'), { prefix: 'x.com/y', pathMajor: '' });
  assert.deepEqual(splitPathVersion('gopkg.in/yaml.v3'), { prefix: 'gopkg.in/yaml', pathMajor: '.v3' });
  assert.equal(splitPathVersion('x.com/y/v1'), null);
  checkModuleVersion('x.com/y/v2', 'v2.1.0');
  checkModuleVersion('x.com/y', 'v2.0.0+incompatible');
  checkModuleVersion('gopkg.in/check.v1', 'v0.0.0-20201130134442-10cb98267c6c');
  for (const [p, v] of [['x.com/y/v2', 'v1.0.0'], ['x.com/y', 'v2.0.0'], ['x.com/y', 'v1.2'], ['x.com/y', 'v1.0.0+meta'], ['x.com/y/v2', 'v2.0.0+incompatible'], ['x.com/y', 'v1.0.0+incompatible'], ['x.com/y', 'latest']]) {
    assert.throws(() => checkModuleVersion(p, v), GoModError, `${p}@${v}`);
  }
});

test('semantic versions: validity, canonical form, ordering', () => {
  for (const v of ['v1', 'v1.2', 'v1.2.3', 'v1.2.3-pre', 'v1.2.3-pre.1+build', 'v0.0.0-20240102030405-abcdefabcdef']) assert.ok(isValid(v), v);
  for (const v of ['1.2.3', 'v1.2.3.4', 'v01.2.3', 'v1.2.3-01', 'v1.2.3-', 'v1.2.3+', 'vx']) assert.ok(!isValid(v), v);
  assert.equal(canonical('v1'), 'v1.0.0');
  assert.equal(canonical('v1.2'), 'v1.2.0');
  assert.equal(canonical('v1.2.3+build'), 'v1.2.3');
  assert.equal(canonical('bad'), '');
  const ordered = ['v0.0.0-20200101000000-aaaaaaaaaaaa', 'v1.0.0-alpha', 'v1.0.0-alpha.1', 'v1.0.0-alpha.beta', 'v1.0.0-beta', 'v1.0.0-beta.2', 'v1.0.0-beta.11', 'v1.0.0-rc.1', 'v1.0.0', 'v1.0.1', 'v1.10.0', 'v2.0.0+incompatible'];
  assert.deepEqual(sortVersions([...ordered].reverse()), ordered);
  assert.equal(compare('v1.0.0', 'v1.0.0+meta'), 0);
  assert.equal(compare('bad', 'v0.0.1'), -1);
});

test('pseudo-versions of all three forms', () => {
  for (const v of ['v0.0.0-20240102030405-abcdefabcdef', 'v1.2.3-pre.0.20240102030405-abcdefabcdef', 'v1.2.4-0.20240102030405-abcdefabcdef', 'v2.0.1-0.20240102030405-abcdefabcdef+incompatible']) {
    assert.ok(isPseudoVersion(v), v);
  }
  for (const v of ['v1.2.3', 'v1.2.3-pre', 'v0.0.0-2024-abc']) assert.ok(!isPseudoVersion(v), v);
  assert.equal(pseudoVersionTime('v0.0.0-20240102030405-abcdefabcdef').toISOString(), '2024-01-02T03:04:05.000Z');
});

test('file paths inside zips', () => {
  for (const ok of ['a.go', 'dir/b.go', 'données/é.txt', 'a b.txt', '.hidden', 'x@y/z']) checkFilePath(ok);
  for (const bad of ['', '/abs', 'a//b', 'a/', 'a\\b', 'a\0b', 'a/../b', '..', 'a:b', 'a*b', 'NUL.txt', 'com1', 'x/aux.go']) {
    assert.throws(() => checkFilePath(bad), GoModError, JSON.stringify(bad));
  }
});

test('h1 hashes: the summary-line algorithm', () => {
  const sha = (s: string) => createHash('sha256').update(s).digest();
  const lines = `${sha('b').toString('hex')}  m@v1.0.0/B\n${sha('a').toString('hex')}  m@v1.0.0/a\n`;
  const expected = 'h1:' + createHash('sha256').update(lines).digest('base64');
  // Byte order puts the capital B first; input order does not matter.
  assert.equal(hash1([{ name: 'm@v1.0.0/a', sha256: sha('a') }, { name: 'm@v1.0.0/B', sha256: sha('b') }]), expected);
  const mod = 'module example.com/x\n';
  assert.equal(hashGoMod(Buffer.from(mod)), 'h1:' + createHash('sha256').update(`${sha(mod).toString('hex')}  go.mod\n`).digest('base64'));
  assert.equal(hashGoMod(Buffer.from(mod)).length, 47);
  assert.throws(() => hash1([{ name: 'a\nb', sha256: sha('') }]), GoModError);
});

test('canonical .info bytes', () => {
  assert.equal(canonicalInfo('v1.2.0', '2024-01-02T03:04:05Z').toString(), '{"Version":"v1.2.0","Time":"2024-01-02T03:04:05Z"}');
  assert.equal(canonicalInfo('v1.2.0', '2024-01-02T03:04:05.500000Z').toString(), '{"Version":"v1.2.0","Time":"2024-01-02T03:04:05.5Z"}');
  assert.equal(canonicalInfo('v1.2.0', '2024-01-02T04:04:05+01:00').toString(), '{"Version":"v1.2.0","Time":"2024-01-02T03:04:05Z"}');
  assert.equal(canonicalInfo('v1.2.0', new Date(Date.UTC(2024, 0, 2, 3, 4, 5))).toString(), '{"Version":"v1.2.0","Time":"2024-01-02T03:04:05Z"}');
  assert.deepEqual(parseInfo(Buffer.from('{"Version":"v1.0.0","Time":"2024-01-02T03:04:05Z","Origin":{}}\n')), { Version: 'v1.0.0', Time: '2024-01-02T03:04:05Z' });
  for (const bad of ['', 'null', '{}', '{"Version":1}', '{"Version":"v1.0.0","Time":"yesterday"}']) assert.throws(() => parseInfo(Buffer.from(bad)), GoModError, bad);
});

test('module line of a go.mod', () => {
  assert.equal(moduleLine('// comment\nmodule example.com/x // trailing\n\ngo 1.19\n'), 'example.com/x');
  assert.equal(moduleLine('module "example.com/q"\n'), 'example.com/q');
  assert.equal(moduleLine('module `example.com/b`\n'), 'example.com/b');
  assert.equal(moduleLine('go 1.19\n'), null);
});

test('GOPROXY lists and prefix patterns', () => {
  assert.deepEqual(parseGoProxy('http://a.test,https://b.test/|direct'), [
    { kind: 'url', url: 'http://a.test', fallThroughOnAnyError: false },
    { kind: 'url', url: 'https://b.test', fallThroughOnAnyError: true },
    { kind: 'direct', fallThroughOnAnyError: false },
  ]);
  assert.deepEqual(parseGoProxy('off'), [{ kind: 'off' }]);
  assert.deepEqual(parseGoProxy('proxy.test'), [{ kind: 'url', url: 'https://proxy.test', fallThroughOnAnyError: false }]);
  assert.throws(() => parseGoProxy(''), GoModError);
  assert.throws(() => parseGoProxy(' , '), GoModError);
  assert.ok(matchPrefixPatterns('*.corp.example,rsc.io/private', 'git.corp.example/x/y'));
  assert.ok(matchPrefixPatterns('rsc.io/private', 'rsc.io/private/quux'));
  assert.ok(!matchPrefixPatterns('rsc.io/private', 'rsc.io/privateer'));
  assert.ok(matchPrefixPatterns('github.com/org/*', 'github.com/org/repo/sub'));
  assert.ok(!matchPrefixPatterns('github.com/org/*', 'github.com/org'));
  assert.ok(!matchPrefixPatterns(',,', 'x.com/y'));
});

function entry(name: string, extra: Partial<ZipEntryMeta> = {}): ZipEntryMeta {
  return { name, isDir: false, isSymlink: false, isOtherSpecial: false, encrypted: false, compressedSize: 10, uncompressedSize: 10, ...extra };
}

test('zip rules: accepted layout and one specific error per violation', () => {
  const P = 'example.com/m@v1.0.0/';
  const kept = checkZipEntries('example.com/m', 'v1.0.0', [entry(P + 'go.mod'), entry(P + 'a/b.go')]);
  assert.deepEqual(kept.map((k) => k.path), ['go.mod', 'a/b.go']);
  const cases: Array<[string, ZipEntryMeta[]]> = [
    ['zip-prefix', [entry('example.com/other@v1.0.0/a.go')]],
    ['zip-path-unclean', [entry(P + '../a.go')]],
    ['zip-path-unclean', [entry(P + '/abs.go')]],
    ['zip-name-backslash', [entry(P + 'a\\b.go')]],
    ['zip-name-nul', [entry(P + 'a\0.go')]],
    ['zip-name-utf8', [entry(P + 'x.go', { nameBytes: Buffer.concat([Buffer.from(P), Buffer.from([0xff, 0x2e])]) })]],
    ['zip-case-collision', [entry(P + 'a.go'), entry(P + 'A.go')]],
    ['zip-duplicate', [entry(P + 'a.go'), entry(P + 'a.go')]],
    ['zip-file-dir-conflict', [entry(P + 'a'), entry(P + 'a/b.go')]],
    ['zip-gomod-not-root', [entry(P + 'sub/go.mod')]],
    ['zip-gomod-case', [entry(P + 'GO.MOD')]],
    ['zip-directory-entry', [entry(P + 'dir/', { isDir: true })]],
    ['zip-symlink', [entry(P + 'link', { isSymlink: true })]],
    ['zip-special-file', [entry(P + 'dev', { isOtherSpecial: true })]],
    ['zip-encrypted', [entry(P + 'a.go', { encrypted: true })]],
    ['zip-file-too-large', [entry(P + 'go.mod', { uncompressedSize: (16 << 20) + 1 })]],
    ['zip-file-too-large', [entry(P + 'LICENSE', { uncompressedSize: (16 << 20) + 1 })]],
    ['zip-too-large', [entry(P + 'a', { uncompressedSize: 300 << 20 }), entry(P + 'b', { uncompressedSize: 300 << 20 })]],
    ['zip-path-invalid', [entry(P + 'a:b.go')]],
  ];
  for (const [code, entries] of cases) {
    assert.throws(() => checkZipEntries('example.com/m', 'v1.0.0', entries), (e: GoModError) => {
      assert.equal(e.code, code, `${entries.map((x) => JSON.stringify(x.name)).join(',')}: ${e.message}`);
      assert.match(e.message, /example\.com\/m@v1\.0\.0/);
      return true;
    });
  }
});
