// A hostile upstream through a real mount: crafted zips (scripts/hostile-zips.ts), a .info
// naming another version and a go.mod naming another module. Each read fails promptly with
// EIO, modfs logs one line naming module, version, upstream URL and cause, and the store
// stays empty.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { promises as fsp } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { startProxyServer, type ProxyServer } from '../support/proxy-server.js';
import { catFile, forceUnmount, startModfs, statFile, type ModfsProcess } from '../support/modfs-process.js';
import { goModFor, hostileZips, wellFormedZip } from '../../scripts/hostile-zips.js';
import { infoFor } from '../support/module-zip.js';

const run = promisify(execFile);
const V = 'v1.0.0';

let work: string;
let mnt: string;
let store: string;
let up: ProxyServer;
let modfs: ModfsProcess | undefined;

before(async () => {
  work = await fsp.mkdtemp(path.join(os.tmpdir(), 'modfs-hostile-e2e-'));
  const root = path.join(work, 'proxy'); // empty: everything not faked answers 404
  await fsp.mkdir(root);
  up = await startProxyServer({ root });
  mnt = path.join(work, 'mnt');
  store = path.join(work, 'store');
  modfs = await startModfs(mnt, ['--store', store, '--upstream', up.url, '--negative-ttl', '3', '--timeout', '5', '--log-level', 'warn']);
});

after(async () => {
  if (process.env.MODFS_TEST_DEBUG) process.stderr.write(modfs?.stderr() ?? '');
  await modfs?.stop('SIGKILL').catch(() => undefined);
  await forceUnmount(mnt);
  await up?.close();
  await fsp.rm(work, { recursive: true, force: true });
});

/** Serves a module version's three files from memory. */
function serve(module: string, files: { zip?: Buffer; mod?: Buffer; info?: Buffer }): void {
  const base = `/${module}/@v/${V}`;
  if (files.zip) up.setFault(base + '.zip', { body: files.zip });
  up.setFault(base + '.mod', { body: files.mod ?? goModFor(module) });
  up.setFault(base + '.info', { body: files.info ?? infoFor(V) });
}

/**
 * Reads `rel` through the mount in a child process and expects EIO within a few seconds, and
 * exactly one new stderr line naming module@version, the URL and the cause.
 */
async function expectEIO(rel: string, module: string, url: string, cause: RegExp): Promise<void> {
  const linesBefore = modfs!.stderr().split('\n').length - 1;
  const started = Date.now();
  await assert.rejects(catFile(path.join(mnt, rel)), (e: NodeJS.ErrnoException) => {
    assert.equal(e.code, 'EIO', e.message);
    return true;
  });
  const took = Date.now() - started;
  assert.ok(took < 5000, `EIO after ${took} ms`);
  // The failure is remembered: a second look answers EIO again without a new line.
  await assert.rejects(statFile(path.join(mnt, rel)), { code: 'EIO' });
  const fresh = modfs!.stderr().split('\n').slice(linesBefore).filter(Boolean);
  const mine = fresh.filter((l) => l.includes(`${module}@${V}`));
  // Exactly one line tells the failed fetch, however many accesses hit it.
  assert.equal(mine.length, 1, `one line for ${module}@${V}:\n${fresh.join('\n')}`);
  const fetchLines = mine.filter((l) => / modfs: fetch \w+ failed: /.test(l));
  assert.equal(fetchLines.length, 1, `a fetch-failure line for ${module}@${V}:\n${fresh.join('\n')}`);
  assert.ok(fetchLines[0].includes(`${module}@${V}: rejected ${url}: `), `names ${url}: ${fetchLines[0]}`);
  assert.match(fetchLines[0], cause);
}

async function assertNothingStored(): Promise<void> {
  assert.equal((await run('git', ['--git-dir', path.join(store, 'git'), 'for-each-ref'])).stdout, '', 'no ref');
  const objects: string[] = [];
  const walk = async (d: string): Promise<void> => {
    for (const e of await fsp.readdir(d, { withFileTypes: true })) {
      if (e.isDirectory()) await walk(path.join(d, e.name));
      else objects.push(path.join(d, e.name));
    }
  };
  await walk(path.join(store, 'git', 'objects'));
  assert.deepEqual(objects, [], 'no object');
  assert.deepEqual(await fsp.readdir(path.join(store, 'tmp')), [], 'no temporary file');
}

// A handful of the crafted zips, each under its own module path.
const PICKED: Array<[string, RegExp]> = [
  ['zip-bomb', /inflates to more than the 1024 bytes/],
  ['dotdot-path', /file path is not clean and relative/],
  ['symlink', /symbolic link/],
  ['local-name-differs', /local file header names/],
  ['truncated', /truncated zip/],
  ['crc-mismatch', /CRC-32 mismatch/],
];

for (const [name, cause] of PICKED) {
  test(`hostile zip ${name}: EIO, one log line, nothing stored`, async () => {
    const module = `example.com/hostile/${name}`;
    const c = hostileZips(module, V).find((x) => x.name === name);
    assert.ok(c, name);
    serve(module, { zip: c.zip });
    await expectEIO(`${module}@${V}/go.mod`, module, `${up.url}/${module}/@v/${V}.zip`, cause);
    await assert.rejects(catFile(path.join(mnt, `cache/download/${module}/@v/${V}.ziphash`)), { code: 'EIO' });
    await assertNothingStored();
  });
}

test('.info naming a different version: EIO for the .info and for the version, nothing stored', async () => {
  const module = 'example.com/wronginfo';
  serve(module, { zip: wellFormedZip(module, V).zip, info: infoFor('v1.0.1') });
  await expectEIO(`cache/download/${module}/@v/${V}.info`, module, `${up.url}/${module}/@v/${V}.info`, /\.info names version v1\.0\.1/);
  await expectEIO(`${module}@${V}/go.mod`, module, `${up.url}/${module}/@v/${V}.zip`, /\.info names version v1\.0\.1/);
  await assertNothingStored();
});

test('go.mod naming another module: EIO for the .mod and for the version, nothing stored', async () => {
  const module = 'example.com/wrongmod';
  const mod = goModFor('example.com/someone-else');
  serve(module, { zip: wellFormedZip(module, V).zip, mod });
  await expectEIO(`cache/download/${module}/@v/${V}.mod`, module, `${up.url}/${module}/@v/${V}.mod`, /go\.mod declares module example\.com\/someone-else/);
  await expectEIO(`${module}@${V}/hostile.go`, module, `${up.url}/${module}/@v/${V}.zip`, /go\.mod declares module example\.com\/someone-else/);
  await assertNothingStored();
});

test('once the upstream serves good files and the negative-cache time has passed, the same lookups succeed', async () => {
  const repaired = ['example.com/hostile/crc-mismatch', 'example.com/hostile/truncated', 'example.com/wronginfo', 'example.com/wrongmod'];
  const expected = new Map<string, string>();
  up.clearFaults();
  for (const module of repaired) {
    const { zip, files } = wellFormedZip(module, V);
    serve(module, { zip });
    expected.set(module, files['hostile.go'].toString());
  }
  // Past --negative-ttl 3: the failures are forgotten.
  await new Promise((r) => setTimeout(r, 3200));
  for (const module of repaired) {
    assert.equal(await catFile(path.join(mnt, `${module}@${V}/hostile.go`)), expected.get(module), module);
    assert.equal(await catFile(path.join(mnt, `cache/download/${module}/@v/${V}.info`)), infoFor(V).toString(), module);
  }
});

test('control: the same proxy serves a well-formed version through the mount', async () => {
  const module = 'example.com/fine';
  const { zip, files } = wellFormedZip(module, V);
  serve(module, { zip });
  assert.equal(await catFile(path.join(mnt, `${module}@${V}/hostile.go`)), files['hostile.go'].toString());
  assert.equal((await catFile(path.join(mnt, `cache/download/${module}/@v/${V}.ziphash`))).length, 47);
});
