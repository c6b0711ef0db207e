// Canonical .info bytes (what encoding/json writes for RevInfo{Version, Time} in UTC) and
// go.mod module lines (modfile.ModulePath). Expected bytes were checked against Go 1.19's
// json.Marshal, and the go command wrote the first one itself for a module it downloaded.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { canonicalInfo, formatGoTime, goJSONString, goUnquote, moduleLine, parseInfo, prunesGraph, requirements, GoModError, readAheadBytes, SOURCE_HEAD } from '../../lib/gomod/index.js';

const info = (v: string, t: Date | string): string => canonicalInfo(v, t).toString('utf8');

test('canonicalInfo: exact bytes, no newline', () => {
  assert.equal(info('v1.0.0-RC1', '2024-01-02T03:04:05Z'), '{"Version":"v1.0.0-RC1","Time":"2024-01-02T03:04:05Z"}');
  assert.equal(info('v1.2.0', new Date(Date.UTC(2024, 0, 2, 3, 4, 5))), '{"Version":"v1.2.0","Time":"2024-01-02T03:04:05Z"}');
  assert.ok(Buffer.isBuffer(canonicalInfo('v1.2.0', '2024-01-02T03:04:05Z')));
});

test('times: UTC, fraction only when non-zero and without trailing zeros', () => {
  const table: Array<[Date | string, string]> = [
    ['2024-01-02T03:04:05.000Z', '2024-01-02T03:04:05Z'],
    ['2024-01-02T03:04:05.120Z', '2024-01-02T03:04:05.12Z'],
    ['2024-01-02T03:04:05.123456789Z', '2024-01-02T03:04:05.123456789Z'],
    ['2024-01-02T03:04:05.1234567891Z', '2024-01-02T03:04:05.123456789Z'], // past nanoseconds: dropped
    ['2024-01-02T03:04:05,5Z', '2024-01-02T03:04:05.5Z'], // Go accepts a comma
    ['2024-01-02T03:04:05+01:30', '2024-01-02T01:34:05Z'],
    ['2024-01-02T00:04:05.5-05:00', '2024-01-02T05:04:05.5Z'],
    ['0001-01-01T00:00:00Z', '0001-01-01T00:00:00Z'], // Go's zero time
    ['0099-06-01T12:00:00Z', '0099-06-01T12:00:00Z'],
    ['2024-02-29T00:00:00Z', '2024-02-29T00:00:00Z'],
    [new Date(Date.UTC(2024, 0, 2, 3, 4, 5, 670)), '2024-01-02T03:04:05.67Z'],
    [new Date('1970-01-01T00:00:00Z'), '1970-01-01T00:00:00Z'],
  ];
  for (const [t, want] of table) assert.equal(formatGoTime(t), want, String(t));
});

test('times Go refuses to parse or to marshal', () => {
  const bad = [
    '2023-02-29T00:00:00Z', '2024-13-01T00:00:00Z', '2024-01-01T24:00:00Z', '2024-01-01T23:60:00Z', '2024-01-01T23:59:60Z',
    '2024-01-01t00:00:00Z', '2024-01-01T00:00:00z', '2024-01-01T00:00:00', '2024-01-01 00:00:00Z', '2024-1-01T00:00:00Z',
    '2024-01-01T00:00:00.Z', '2024-01-01T00:00:00+0100', '0000-01-01T00:00:00+01:00', // year -1 cannot be marshalled
    '',
  ];
  for (const t of bad) assert.throws(() => canonicalInfo('v1.0.0', t), (e: GoModError) => e.code === 'info-time', t);
  assert.throws(() => canonicalInfo('v1.0.0', new Date(NaN)), GoModError);
  assert.throws(() => canonicalInfo('v1.0.0', new Date(Date.UTC(10000, 0, 1))), GoModError);
});

test('strings are encoded as encoding/json does (HTML-safe)', () => {
  assert.equal(goJSONString('v1.0.0-<&>"\\\n\u2028\u0001\u0008'), '"v1.0.0-\\u003c\\u0026\\u003e\\"\\\\\\n\\u2028\\u0001\\u0008"');
  assert.equal(goJSONString('\u00e9'), '"\u00e9"');
});

test('parseInfo reads what Go reads and returns the canonical time', () => {
  const p = (s: string) => parseInfo(Buffer.from(s));
  assert.deepEqual(p('{"Version":"v1.2.0","Time":"2024-01-02T03:04:05Z"}'), { Version: 'v1.2.0', Time: '2024-01-02T03:04:05Z' });
  assert.deepEqual(p('{"Version":"v1.2.0","Time":"2024-01-02T04:04:05.500+01:00","Origin":{"VCS":"git"}}\n'), { Version: 'v1.2.0', Time: '2024-01-02T03:04:05.5Z' });
  assert.deepEqual(p('{"Version":"v1.2.0"}'), { Version: 'v1.2.0', Time: '' });
  assert.deepEqual(p('{"Version":"v1.2.0","Time":null}'), { Version: 'v1.2.0', Time: '' });
  assert.deepEqual(p(' {"version":"v1.2.0","TIME":"2024-01-02T03:04:05Z"} '), { Version: 'v1.2.0', Time: '2024-01-02T03:04:05Z' }); // keys fold
  for (const bad of ['', 'null', '[]', '"v1"', '{}', '{"Version":1}', '{"Version":""}', '{"Version":"v1.0.0","Time":5}', '{"Version":"v1.0.0","Time":"yesterday"}', '{"Version":"v1.0.0"']) {
    assert.throws(() => p(bad), GoModError, bad);
  }
});

test('moduleLine reads the module directive like modfile.ModulePath', () => {
  const table: Array<[string, string | null]> = [
    ['module example.com/x\n', 'example.com/x'],
    ['// comment\nmodule example.com/x // trailing\n\ngo 1.19\n', 'example.com/x'],
    ['\tmodule\t"example.com/q"\r\n', 'example.com/q'],
    ['module `example.com/b`\n', 'example.com/b'],
    ['module "example.com/\\x41\\u00e9\\101"\n', 'example.com/A\u00e9A'],
    ['module "example.com/\\q"\n', null], // bad escape
    ['module "example.com/a" b\n', null],
    ['module "example.com\n', null],
    ["module 'example.com/a'\n", "'example.com/a'"], // not a Go string quote: taken literally, as Go does
    ['modulex.com/y\nmodule example.com/z\n', 'example.com/z'],
    ['module\n', null],
    ['go 1.19\n', null],
    ['', null],
    ['module (\n\texample.com/y\n)\n', null],
    ['module example.com/first\nmodule example.com/second\n', 'example.com/first'],
    ['require x.com/y v1.0.0\nmodule example.com/late', 'example.com/late'],
    ['module\u00a0example.com/nbsp\n', 'example.com/nbsp'], // Go's TrimSpace knows Unicode spaces
    ['\ufeffmodule example.com/bom\n', null], // but not a byte order mark
  ];
  for (const [text, want] of table) {
    assert.equal(moduleLine(text), want, JSON.stringify(text));
    assert.equal(moduleLine(Buffer.from(text)), want, JSON.stringify(text));
  }
});

test('requirements: require lines and blocks, nothing from other blocks, invalid entries skipped', () => {
  const text = [
    'module example.com/main',
    'go 1.16',
    'require example.com/one v1.0.0 // indirect',
    'require(',
    '\texample.com/two v2.0.0+incompatible',
    '\t"example.com/quoted" v0.1.0',
    '\texample.com/three/v3 v3.1.0-pre.0.20210101000000-abcdefabcdef',
    '\texample.com/bad v1.2 // not canonical',
    '\texample.com/wrongmajor/v2 v1.0.0',
    '\tnot a requirement',
    '\texample.com/one v1.0.0',
    ')',
    'exclude (',
    '\texample.com/excluded v1.0.0',
    ')',
    'replace example.com/one v1.0.0 => example.com/other v1.0.0',
    'replace (',
    '\texample.com/x v1.0.0 => ../x',
    ')',
    'retract (',
    '\tv1.0.0',
    ')',
    'require example.com/after v0.0.1',
  ].join('\n');
  assert.deepEqual(requirements(text), [
    { path: 'example.com/one', version: 'v1.0.0' },
    { path: 'example.com/two', version: 'v2.0.0+incompatible' },
    { path: 'example.com/quoted', version: 'v0.1.0' },
    { path: 'example.com/three/v3', version: 'v3.1.0-pre.0.20210101000000-abcdefabcdef' },
    { path: 'example.com/after', version: 'v0.0.1' },
  ]);
  assert.deepEqual(requirements(Buffer.from('module m\n')), []);
  assert.equal(requirements(Array.from({ length: 50 }, (_, i) => `require example.com/m${i} v1.0.0`).join('\n'), 10).length, 10);
});

test('prunesGraph: go 1.17 and later prune, older or missing go lines do not', () => {
  const table: Array<[string, boolean]> = [
    ['module m\ngo 1.17\n', true],
    ['module m\ngo 1.21.0 // comment\n', true],
    ['module m\ngo 1.22rc1\n', true],
    ['module m\ngo 1.16\n', false],
    ['module m\ngo 1.9\n', false],
    ['module m\n', false],
    ['module m\n// go 1.20\n', false],
    ['module m\ngo junk\n', false],
  ];
  for (const [text, want] of table) assert.equal(prunesGraph(text), want, JSON.stringify(text));
});

test('goUnquote is strconv.Unquote for "…" and `…`', () => {
  assert.equal(goUnquote('"a\\tb"'), 'a\tb');
  assert.equal(goUnquote('`a\\tb`'), 'a\\tb');
  assert.equal(goUnquote('`a\rb`'), 'ab');
  assert.equal(goUnquote('"\\U0001F600"'), '\u{1F600}');
  for (const bad of ['"', '"a', 'a"', '"\\\'"', '"\\400"', '"\\ud800"', '"\\uD800"', '"a"b"', '``x`']) assert.equal(goUnquote(bad), null, bad);
});

test('readAheadBytes: whole small files, heads of large source files, nothing of large others', () => {
  const max = 256 << 10;
  const table: [string, number, number][] = [
    ['strutil.go', 30000, 30000],
    ['strutil_test.go', 30000, 30000], // small: whole, for readers of every file
    ['big_test.go', 300000, SOURCE_HEAD],
    ['tables.go', 4 << 20, SOURCE_HEAD], // too large to push whole: the module index reads its head
    ['asm_amd64.s', 300000, SOURCE_HEAD],
    ['cgo_helpers.h', 5000, 5000],
    ['README.md', 5000, 5000], // go:embed reads other files whole
    ['testdata.bin', 1 << 20, 0],
    ['LICENSE', 0, 0],
    ['go', 20, 20], // no extension
    ['.go', 300000, 0], // a dot file, not Go source
    ['x_test.go.orig', 300000, 0],
  ];
  for (const [name, size, want] of table) assert.equal(readAheadBytes(name, size, max), want, `${name} (${size} bytes)`);
  assert.equal(readAheadBytes('a_test.go', 30000, 1024), SOURCE_HEAD);
  assert.equal(readAheadBytes('a.go', 30000, 1024), SOURCE_HEAD);
  assert.equal(readAheadBytes('a.go', 6000, 4096), 6000, 'a head as long as the file is the file');
  assert.equal(readAheadBytes('a.txt', 30000, 1024), 0);
});
