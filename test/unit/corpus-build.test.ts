// The proxy-tree builders: version mapping, go.mod rewriting, the fixture tree and a real
// Debian corpus subset, checked file by file.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { promises as fsp } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { fitMajor, goVersion, rewriteGoMod } from '../../scripts/build-corpus.js';
import { readZip, type ZipEntryData } from '../support/module-zip.js';
import { REPO_ROOT } from '../support/modfs-process.js';

const run = promisify(execFile);
const SRC = '/usr/share/gocode/src';
let tmp: string;

before(async () => {
  tmp = await fsp.mkdtemp(path.join(os.tmpdir(), 'modfs-corpus-'));
});
after(async () => {
  await fsp.rm(tmp, { recursive: true, force: true });
});

const script = (name: string, ...args: string[]) =>
  run(process.execPath, [path.join(REPO_ROOT, 'dist', 'scripts', `${name}.js`), ...args], { maxBuffer: 16 << 20 });

/** Go's escaping of capitals, written out here so the test does not lean on the code under test. */
const esc = (s: string) => s.replace(/[A-Z]/g, (c) => '!' + c.toLowerCase());

/** dirhash.Hash1 over a zip's files, computed independently for the check against go's value. */
function h1(entries: ZipEntryData[]): string {
  const lines = entries
    .map((e) => ({ name: e.name, sum: createHash('sha256').update(e.data).digest('hex') }))
    .sort((a, b) => Buffer.compare(Buffer.from(a.name), Buffer.from(b.name)))
    .map((e) => `${e.sum}  ${e.name}\n`)
    .join('');
  return 'h1:' + createHash('sha256').update(lines).digest('base64');
}

/** Checks one module version of a tree and returns its zip entries. */
async function checkVersion(tree: string, module: string, version: string): Promise<{ entries: ZipEntryData[]; mod: Buffer }> {
  const dir = path.join(tree, esc(module), '@v');
  const ev = esc(version);
  assert.ok((await fsp.readFile(path.join(dir, 'list'), 'utf8')).split('\n').includes(version), `${module} list`);
  const info = await fsp.readFile(path.join(dir, `${ev}.info`), 'utf8');
  assert.match(info, /^\{"Version":"[^"]+","Time":"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ"\}$/, `${module} canonical .info`);
  assert.equal(JSON.parse(info).Version, version);
  const mod = await fsp.readFile(path.join(dir, `${ev}.mod`));
  assert.match(mod.toString(), new RegExp(`^module ${module.replace(/[.]/g, '\\.')}\\n`, 'm'));
  const entries = await readZip(path.join(dir, `${ev}.zip`));
  assert.ok(entries.length > 0);
  const prefix = `${module}@${version}/`;
  for (const e of entries) {
    assert.ok(e.name.startsWith(prefix), `${e.name} carries ${prefix}`);
    assert.ok(!e.isDir, `no directory entries (${e.name})`);
  }
  const names = entries.map((e) => e.name);
  assert.deepEqual(names, [...names].sort((a, b) => Buffer.compare(Buffer.from(a), Buffer.from(b))), 'sorted names');
  const zipMod = entries.find((e) => e.name === prefix + 'go.mod');
  if (zipMod) assert.deepEqual(zipMod.data, mod, `${module}: the zip's go.mod is the .mod, byte for byte`);
  return { entries, mod };
}

test('Debian versions map to Go versions', () => {
  const cases: Array<[string, string]> = [
    ['1.2.0-2', 'v1.2.0'],
    ['1:0.7.0+dfsg-1', 'v0.7.0'],
    ['2.0.2+ds1-1', 'v2.0.2'],
    ['0.0~git20210226.20ebb0f-1', 'v0.0.0-20210226000000-20ebb0f00000'],
    ['1.0.6~git20210604-d5e0c0615ace-1', 'v1.0.6-0.20210604000000-d5e0c0615ace'],
    ['1.2.0+git20190917.de67a66-3', 'v1.2.1-0.20190917000000-de67a6600000'],
    ['2.57.6-1+deb12u1', 'v2.57.6'],
    ['1.1.0+really1.1.0-2', 'v1.1.0'],
    ['3.0~rc2-1', 'v3.0.0-rc2'],
    ['1.66.2-1', 'v1.66.2'],
  ];
  for (const [deb, go] of cases) assert.equal(goVersion(deb)?.version, go, deb);
  assert.equal(goVersion('0.0~git20210226.20ebb0f-1')?.time.toISOString(), '2021-02-26T00:00:00.000Z');
  assert.equal(goVersion('not-a-version'), null);
});

test('versions fit the module path major', () => {
  const t = new Date('2023-01-02T00:00:00Z');
  assert.equal(fitMajor('gopkg.in/yaml.v3', 'v3.0.1', true, t), 'v3.0.1');
  assert.equal(fitMajor('github.com/Masterminds/semver/v3', 'v3.2.0', true, t), 'v3.2.0');
  assert.equal(fitMajor('example.com/legacy', 'v2.4.0', false, t), 'v2.4.0+incompatible');
  assert.equal(fitMajor('example.com/x/v2', 'v0.0.0-20210226000000-20ebb0f00000', true, t), 'v2.0.0-20210226000000-20ebb0f00000');
  // v2+ with go.mod but no /vN cannot be tagged; it becomes a v0.0.0 pseudo-version.
  assert.match(fitMajor('example.com/big', 'v2.57.6', true, t) ?? '', /^v0\.0\.0-20230102000000-[0-9a-f]{12}$/);
});

test('go.mod rewrite: tree versions, dropped requires, no replace/exclude/toolchain', () => {
  const src = [
    'module example.com/a // the module',
    '',
    'go 1.21',
    '',
    'toolchain go1.21.3',
    '',
    'require (',
    '\texample.com/b v1.0.0 // indirect',
    '\t"example.com/c" v0.1.0',
    '\texample.com/gone v1.0.0',
    ')',
    '',
    'require example.com/gone2 v2.0.0',
    'require example.com/b v0.9.0',
    '',
    'replace example.com/b => ../b',
    'replace (',
    '\texample.com/c => example.com/c v0.2.0',
    ')',
    'exclude example.com/b v0.5.0',
    '',
    'retract (',
    '\tv0.1.0 // oops',
    ')',
    '',
  ].join('\n');
  const out = rewriteGoMod(src, new Map([['example.com/b', 'v1.2.0'], ['example.com/c', 'v0.3.0']]));
  assert.equal(
    out,
    [
      'module example.com/a // the module',
      '',
      'go 1.21',
      '',
      'require (',
      '\texample.com/b v1.2.0',
      '\texample.com/c v0.3.0',
      ')',
      '',
      'require example.com/b v1.2.0',
      '',
      'retract (',
      '\tv0.1.0 // oops',
      ')',
      '',
    ].join('\n'),
  );
  // A require block left empty disappears.
  assert.equal(rewriteGoMod('module m.com/x\n\nrequire (\n\tother.com/y v1.0.0\n)\n', new Map()), 'module m.com/x\n\n');
});

test('fixtures: layout, prefixes, synthesized .mod, nested module excluded, stamp', async () => {
  const out = path.join(tmp, 'fixtures');
  const first = await script('build-fixtures', '--out', out);
  assert.match(first.stdout, /^fixtures: 5 module versions/);
  const want: Array<[string, string]> = [
    ['example.com/Upper/Case', 'v1.0.0'],
    ['example.com/incompat', 'v2.0.0+incompatible'],
    ['example.com/nested', 'v1.0.0'],
    ['example.com/pseudo', 'v0.0.0-20240102030405-abcdefabcdef'],
    ['example.com/unicode', 'v1.0.0'],
  ];
  const zips = new Map<string, ZipEntryData[]>();
  for (const [m, v] of want) zips.set(m, (await checkVersion(out, m, v)).entries);

  await fsp.access(path.join(out, 'example.com', '!upper', '!case', '@v', 'v1.0.0.zip'));
  const incompat = path.join(out, 'example.com', 'incompat', '@v');
  assert.equal(await fsp.readFile(path.join(incompat, 'v2.0.0+incompatible.mod'), 'utf8'), 'module example.com/incompat\n');
  assert.ok(!zips.get('example.com/incompat')!.some((e) => e.name.endsWith('/go.mod')), 'no go.mod in the +incompatible zip');
  assert.equal(
    await fsp.readFile(path.join(out, 'example.com', 'pseudo', '@v', 'v0.0.0-20240102030405-abcdefabcdef.info'), 'utf8'),
    '{"Version":"v0.0.0-20240102030405-abcdefabcdef","Time":"2024-01-02T03:04:05Z"}',
  );
  assert.deepEqual(
    zips.get('example.com/nested')!.map((e) => e.name),
    ['example.com/nested@v1.0.0/go.mod', 'example.com/nested@v1.0.0/nested.go'],
  );
  const uni = zips.get('example.com/unicode')!;
  const accented = uni.find((e) => e.name === 'example.com/unicode@v1.0.0/données/é.txt');
  assert.ok(accented, 'non-ASCII name kept');
  assert.ok(accented.utf8, 'UTF-8 flag set on the non-ASCII name');
  // What `go mod download -json example.com/unicode@v1.0.0` reported for these sources.
  assert.equal(h1(uni), 'h1:cn9SyHFGg0tPoJqtapQPFtKkOCoCIbW2sMGxj15rrEU=');

  const zipFile = path.join(out, 'example.com', 'unicode', '@v', 'v1.0.0.zip');
  const bytes = await fsp.readFile(zipFile);
  assert.match((await script('build-fixtures', '--out', out)).stdout, /^fixtures up to date/);
  await script('build-fixtures', '--out', out, '--force');
  assert.deepEqual(await fsp.readFile(zipFile), bytes, 'zips are byte-for-byte reproducible');

  const bad = path.join(tmp, 'fixtures-bad');
  await script('build-fixtures', '--out', bad, '--include-nested');
  const names = (await readZip(path.join(bad, 'example.com', 'nested', '@v', 'v1.0.0.zip'))).map((e) => e.name);
  assert.ok(names.includes('example.com/nested@v1.0.0/inner/go.mod'), 'the hostile variant keeps the nested go.mod');
});

test('real corpus subset from Debian sources', async (t) => {
  if (!(await fsp.stat(SRC).catch(() => null))) {
    t.skip(`${SRC} is missing: install the packages in scripts/corpus-packages.txt (make setup)`);
    return;
  }
  const out = path.join(tmp, 'corpus');
  const only = ['github.com/BurntSushi/toml', 'golang.org/x/text'];
  const { stdout } = await script('build-corpus', '--out', out, '--only', only.join(','));
  assert.match(stdout, /^corpus: 2 modules, \d+ files/);
  const tops = (await fsp.readdir(out)).sort();
  assert.deepEqual(tops, ['.corpus-stamp', 'github.com', 'golang.org']);
  for (const m of only) {
    const [version] = (await fsp.readFile(path.join(out, esc(m), '@v', 'list'), 'utf8')).split('\n');
    assert.match(version, /^v\d+\.\d+\.\d+/);
    const { entries, mod } = await checkVersion(out, m, version);
    assert.ok(entries.some((e) => e.name.endsWith('.go')));
    assert.ok(!entries.some((e) => /\/vendor\/|\/\.git\//.test(e.name)));
    // Only modules of this subset may be required, and nothing is replaced.
    for (const line of mod.toString().split('\n')) {
      assert.doesNotMatch(line, /^\s*(replace|exclude|toolchain)\b/);
      const req = /^(?:require\s+|\t)(\S+) v/.exec(line);
      if (req) assert.ok(only.includes(req[1]), `${m} requires ${req[1]}, which is not in the tree`);
    }
  }
  // No nested module (testdata or not) leaks a go.mod into a parent zip.
  const text = await readZip(path.join(out, 'golang.org', 'x', 'text', '@v', (await fsp.readdir(path.join(out, 'golang.org', 'x', 'text', '@v'))).find((f) => f.endsWith('.zip'))!));
  assert.deepEqual(text.filter((e) => e.name.endsWith('/go.mod')).map((e) => e.name.split('/').slice(3).join('/')), ['go.mod']);
  assert.match((await script('build-corpus', '--out', out, '--only', only.join(','))).stdout, /^corpus up to date/);
});
