// GOPROXY parsing (cmd/go modfetch.proxyList) and GOPRIVATE-style patterns
// (module.MatchPrefixPatterns, x/mod's module_test.go table, and path.Match).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { matchPrefixPatterns, parseGoProxy, pathMatch, GoModError } from '../../lib/gomod/index.js';

const url = (u: string, fallThroughOnAnyError = false) => ({ kind: 'url' as const, url: u, fallThroughOnAnyError });
const direct = (fallThroughOnAnyError = false) => ({ kind: 'direct' as const, fallThroughOnAnyError });

test('separators: "," falls through on not-found, "|" on any error', () => {
  assert.deepEqual(parseGoProxy('http://a.test,https://b.test/|direct'), [url('http://a.test'), url('https://b.test', true), direct()]);
  assert.deepEqual(parseGoProxy('https://a.test|https://b.test'), [url('https://a.test', true), url('https://b.test')]);
  assert.deepEqual(parseGoProxy('https://a.test|direct|'), [url('https://a.test', true), direct(true)]);
});

test('off and direct end the list; noproxy reads as direct', () => {
  assert.deepEqual(parseGoProxy('off'), [{ kind: 'off' }]);
  assert.deepEqual(parseGoProxy('https://a.test,off,https://b.test'), [url('https://a.test'), { kind: 'off' }]);
  assert.deepEqual(parseGoProxy('direct,https://b.test'), [direct()]);
  assert.deepEqual(parseGoProxy('noproxy'), [direct()]);
});

test('URLs: https:// added to hosts, trailing slashes trimmed, schemes checked', () => {
  assert.deepEqual(parseGoProxy('proxy.test'), [url('https://proxy.test')]);
  assert.deepEqual(parseGoProxy('localhost:3000/sub/'), [url('https://localhost:3000/sub')]);
  assert.deepEqual(parseGoProxy(' proxy.test/go// , direct'), [url('https://proxy.test/go'), direct()]);
  assert.deepEqual(parseGoProxy('file:///srv/goproxy/'), [url('file:///srv/goproxy')]);
  assert.deepEqual(parseGoProxy('file:///'), [url('file://')]);
  assert.deepEqual(parseGoProxy('HTTP://A.test'), [url('HTTP://A.test')]);
  for (const bad of ['proxy', '/srv/goproxy', 'ftp://a.test', 'C:/x', 'file://host/x', 'file:///x?q=1', 'https://a b']) {
    assert.throws(() => parseGoProxy(bad), (e: GoModError) => e instanceof GoModError && e.code === 'goproxy-invalid', bad);
  }
});

test('empty values: the default applies only to the empty string', () => {
  assert.deepEqual(parseGoProxy('', 'https://default.test,direct'), [url('https://default.test'), direct()]);
  assert.deepEqual(parseGoProxy('off', 'https://default.test'), [{ kind: 'off' }]);
  for (const v of ['', ' ', ',', ' , |']) {
    assert.throws(() => parseGoProxy(v), (e: GoModError) => e.code === 'goproxy-empty', JSON.stringify(v));
  }
  assert.throws(() => parseGoProxy(' ', 'https://default.test'), GoModError); // like go: " " is not unset
  assert.throws(() => parseGoProxy('', ''), GoModError);
});

test('matchPrefixPatterns', () => {
  const table: Array<[string, string, boolean]> = [
    ['*/quote', 'rsc.io/quote', true],
    ['*/quo', 'rsc.io/quote', false],
    ['*/quo??', 'rsc.io/quote', true],
    ['*/quo*', 'rsc.io/quote', true],
    ['*quo*', 'rsc.io/quote', false],
    ['rsc.io', 'rsc.io/quote', true],
    ['*.io', 'rsc.io/quote', true],
    ['rsc.io/', 'rsc.io/quote', true], // one trailing slash is ignored
    ['rsc.io//', 'rsc.io/quote', false],
    ['rsc', 'rsc.io/quote', false],
    ['rsc*', 'rsc.io/quote', true],
    ['rsc.io', 'rsc.io/quote/v3', true],
    ['*/quote', 'rsc.io/quote/v3', true],
    ['*/quote/*', 'rsc.io/quote/v3', true],
    ['*/v3', 'rsc.io/quote/v3', false],
    ['*/*/v3', 'rsc.io/quote/v3', true],
    ['*/*/*', 'rsc.io/quote/v3', true],
    ['*/*/*', 'rsc.io/quote', false],
    ['*/*/*,,', 'rsc.io/quote', false],
    ['*/*/*,,*/quote', 'rsc.io/quote', true],
    [',,*/quote', 'rsc.io/quote', true],
    ['*.corp.example,rsc.io/private', 'git.corp.example/x/y', true],
    ['rsc.io/private', 'rsc.io/private/quux', true],
    ['rsc.io/private', 'rsc.io/privateer', false],
    ['github.com/org/*', 'github.com/org', false],
    ['[', 'rsc.io', false], // malformed pattern: no match
    ['', 'rsc.io', false],
  ];
  for (const [globs, target, want] of table) assert.equal(matchPrefixPatterns(globs, target), want, `${globs} ${target}`);
});

test('pathMatch is path.Match (false for malformed patterns)', () => {
  const table: Array<[string, string, boolean]> = [
    ['abc', 'abc', true],
    ['*', 'abc', true],
    ['*c', 'abc', true],
    ['a*', 'a', true],
    ['a*', 'ab/c', false],
    ['a*/b', 'abc/b', true],
    ['a*b*c*d*e*/f', 'axbxcxdxe/f', true],
    ['a*b*c*d*e*/f', 'axbxcxdxexxx/fff', false],
    ['ab[c]', 'abc', true],
    ['ab[b-d]', 'abc', true],
    ['ab[e-g]', 'abc', false],
    ['ab[^c]', 'abc', false],
    ['ab[^e-g]', 'abc', true],
    ['a\\*b', 'a*b', true],
    ['a\\*b', 'ab', false],
    ['a?b', 'a\u2603b', true],
    ['a[^a]b', 'a\u2603b', true],
    ['a???b', 'a\u2603b', false],
    ['[a-\u03b6]*', '\u03b1', true],
    ['*[a-\u03b6]', 'A', false],
    ['a?b', 'a/b', false],
    ['a*b', 'a/b', false],
    ['[\\]a]', ']', true],
    ['[\\-]', '-', true],
    ['[x\\-]', 'z', false],
    ['[', 'a', false],
    ['[^', 'a', false],
    ['[^bc', 'a', false],
    ['a[', 'a', false],
    ['a[', 'ab', false],
    ['*x', 'xxx', true],
    ['[]a]', ']', false], // malformed
    ['[-]', '-', false], // malformed
    ['\\', 'a', false],
  ];
  for (const [p, s, want] of table) assert.equal(pathMatch(p, s), want, `${p} ${s}`);
});
