// Concurrency: many reader processes on one mount over cold and warm versions, and two modfs
// processes sharing one store at two mount points while both fetch overlapping versions.
// Every byte read is compared with the upstream zip (the ground truth), and the upstream
// request logs show each version's zip fetched at most once per process.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { promises as fsp } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { escapePath, escapeVersion } from '../../lib/gomod/escape.js';
import { hash1 } from '../../lib/gomod/dirhash.js';
import { startProxyServer, type ProxyServer } from '../support/proxy-server.js';
import { ensureCorpus, versionsIn, modulesIn } from '../support/corpus.js';
import { readZip } from '../support/module-zip.js';
import { forceUnmount, isMounted, startModfs, type ModfsProcess } from '../support/modfs-process.js';

const run = promisify(execFile);

interface Version {
  module: string;
  version: string;
  /** `<escaped module>@<escaped version>` */
  dir: string;
  /** the zip's URL path on the proxy */
  zipUrlPath: string;
  zipSize: number;
  mod: Buffer;
  /** file path (without the version prefix) -> bytes, from the upstream zip */
  files: Map<string, Buffer>;
  h1: string;
}

/** One read: a path on the mount and the byte range [start, start+len) expected. */
interface Read {
  rel: string;
  start: number;
  len: number;
  want: Buffer;
}

let tree: string;
let work: string;
const servers: ProxyServer[] = [];
const procs: ModfsProcess[] = [];
const mounts: string[] = [];
const corpus: Version[] = [];


async function loadVersion(module: string, version: string): Promise<Version> {
  const dir = path.join(tree, escapePath(module), '@v');
  const zipPath = path.join(dir, `${escapeVersion(version)}.zip`);
  const prefix = `${module}@${version}/`;
  const files = new Map<string, Buffer>();
  const entries = (await readZip(zipPath)).filter((e) => !e.isDir);
  for (const e of entries) files.set(e.name.slice(prefix.length), e.data);
  return {
    module,
    version,
    dir: `${escapePath(module)}@${escapeVersion(version)}`,
    zipUrlPath: `/${escapePath(module)}/@v/${escapeVersion(version)}.zip`,
    zipSize: (await fsp.stat(zipPath)).size,
    mod: await fsp.readFile(path.join(dir, `${escapeVersion(version)}.mod`)),
    files,
    h1: hash1(entries.map((e) => ({ name: e.name, sha256: createHash('sha256').update(e.data).digest() }))),
  };
}

/** A small deterministic generator, so a failure can be replayed. */
function rng(seed: number): () => number {
  let s = seed >>> 0 || 1;
  return () => {
    s ^= s << 13;
    s ^= s >>> 17;
    s ^= s << 5;
    return (s >>> 0) / 2 ** 32;
  };
}

/** Reads for one process: some whole files, some byte ranges, the .mod and the .ziphash. */
function planReads(versions: Version[], seed: number, filesPerVersion: number, ranges = true): Read[] {
  const rand = rng(seed);
  const reads: Read[] = [];
  for (const v of versions) {
    const names = [...v.files.keys()];
    // Always one of the largest files, so big reads (and unpacked large blobs) are covered.
    const largest = names.reduce((a, b) => (v.files.get(b)!.length > v.files.get(a)!.length ? b : a));
    const picks = new Set([largest]);
    while (picks.size < Math.min(filesPerVersion, names.length)) picks.add(names[Math.floor(rand() * names.length)]);
    for (const name of picks) {
      const data = v.files.get(name)!;
      let start = 0;
      let len = data.length;
      if (ranges && rand() < 0.4 && data.length > 2) {
        start = Math.floor(rand() * data.length);
        len = 1 + Math.floor(rand() * Math.min(data.length - start, 300_000));
      }
      reads.push({ rel: `${v.dir}/${name}`, start, len, want: data.subarray(start, start + len) });
    }
    const dl = `cache/download/${escapePath(v.module)}/@v/${escapeVersion(v.version)}`;
    reads.push({ rel: `${dl}.mod`, start: 0, len: v.mod.length, want: v.mod });
    if (rand() < 0.5) reads.push({ rel: `${dl}.ziphash`, start: 0, len: 47, want: Buffer.from(v.h1) });
  }
  // Shuffle so that processes do not all walk the versions in the same order.
  for (let i = reads.length - 1; i > 0; i--) {
    const j = Math.floor(rand() * (i + 1));
    [reads[i], reads[j]] = [reads[j], reads[i]];
  }
  return reads;
}

// The reader process: reads each [path, start, len] with positioned reads and prints the
// sha256 of what it got (or the error code), one JSON array on stdout.
const READER = `
const fs = require('fs'), crypto = require('crypto');
const out = [];
for (const [p, start, len] of JSON.parse(process.argv[1])) {
  try {
    const fd = fs.openSync(p, 'r');
    const buf = Buffer.alloc(len);
    let n = 0;
    while (n < len) { const r = fs.readSync(fd, buf, n, Math.min(len - n, 1 << 20), start + n); if (!r) break; n += r; }
    fs.closeSync(fd);
    out.push(n + ' ' + crypto.createHash('sha256').update(buf.subarray(0, n)).digest('hex'));
  } catch (e) { out.push('error ' + e.code); }
}
process.stdout.write(JSON.stringify(out));
`;

const sha = (b: Buffer) => `${b.length} ${createHash('sha256').update(b).digest('hex')}`;

/**
 * Runs one reader process over the mount: `cat` of whole files (plan them without ranges),
 * or node with positioned reads.
 */
async function readerProcess(mnt: string, reads: Read[], useCat: boolean, label: string): Promise<number> {
  if (useCat) {
    const files = reads;
    const { stdout } = await run('cat', files.map((r) => path.join(mnt, r.rel)), { encoding: 'buffer', maxBuffer: 256 << 20 }).catch((err) => {
      throw new Error(`${label}: cat failed: ${(err as { stderr?: Buffer }).stderr?.toString() ?? err}`);
    });
    const want = Buffer.concat(files.map((r) => r.want));
    if (!stdout.equals(want)) {
      // Find the first file that differs, for a useful message.
      let off = 0;
      for (const r of files) {
        const got = stdout.subarray(off, off + r.want.length);
        assert.ok(got.equals(r.want), `${label}: ${r.rel} read by cat differs from the zip`);
        off += r.want.length;
      }
      assert.fail(`${label}: cat output has ${stdout.length} bytes, expected ${want.length}`);
    }
    return files.length;
  }
  const args = JSON.stringify(reads.map((r) => [path.join(mnt, r.rel), r.start, r.len]));
  const { stdout } = await run(process.execPath, ['-e', READER, args], { maxBuffer: 16 << 20 });
  const got = JSON.parse(stdout) as string[];
  assert.equal(got.length, reads.length);
  reads.forEach((r, i) => assert.equal(got[i], sha(r.want), `${label}: ${r.rel} [${r.start}, +${r.len})`));
  return reads.length;
}

async function newMount(name: string, storeDir: string, server: ProxyServer): Promise<string> {
  const mnt = path.join(work, name);
  mounts.push(mnt);
  procs.push(await startModfs(mnt, ['--store', storeDir, '--upstream', server.url, '--log-level', 'warn']));
  return mnt;
}

async function newServer(): Promise<ProxyServer> {
  const s = await startProxyServer({ root: tree });
  servers.push(s);
  return s;
}

const zipCounts = (s: ProxyServer): Map<string, number> => {
  const m = new Map<string, number>();
  for (const r of s.requests) if (r.path.endsWith('.zip')) m.set(r.path, (m.get(r.path) ?? 0) + 1);
  return m;
};

async function fsck(storeDir: string): Promise<void> {
  await run('git', ['--git-dir', path.join(storeDir, 'git'), 'fsck', '--strict', '--no-dangling', '--no-progress']);
}

before(async () => {
  tree = await ensureCorpus();
  work = await fsp.mkdtemp(path.join(os.tmpdir(), 'modfs-conc-'));
  const all: Array<{ module: string; version: string; size: number }> = [];
  for (const module of await modulesIn(tree)) {
    for (const version of await versionsIn(tree, module)) {
      const size = (await fsp.stat(path.join(tree, escapePath(module), '@v', `${escapeVersion(version)}.zip`))).size;
      all.push({ module, version, size });
    }
  }
  all.sort((a, b) => a.size - b.size || a.module.localeCompare(b.module));
  // Small and medium versions keep the run short; golang.org/x/text brings multi-MiB files.
  const chosen = all.slice(0, 42);
  const text = all.find((x) => x.module === 'golang.org/x/text');
  if (text) chosen.push(text);
  for (const x of chosen) corpus.push(await loadVersion(x.module, x.version));
});

after(async () => {
  if (process.env.MODFS_TEST_DEBUG) for (const p of procs) process.stderr.write(p.stderr());
  for (const p of procs) await p.stop('SIGKILL');
  for (const m of mounts) await forceUnmount(m);
  for (const s of servers) await s.close();
  await run('chmod', ['-R', 'u+w', work]).catch(() => undefined);
  await fsp.rm(work, { recursive: true, force: true });
  for (const m of mounts) assert.equal(await isMounted(m), false, `${m} is left mounted`);
});

test('50 concurrent reader processes over cold and warm versions read exactly the zip bytes', async (t) => {
  const server = await newServer();
  const mnt = await newMount('mnt', path.join(work, 'store'), server);
  const proc = procs.at(-1)!;
  // 21 small versions (every other of the 42 smallest) plus golang.org/x/text; a third warm.
  const versions = [...corpus.filter((_, i) => i % 2 === 0 && i < 42), corpus.at(-1)!];
  const warm = versions.filter((_, i) => i % 3 === 0 && i < versions.length - 1);
  for (const v of warm) await run('stat', [path.join(mnt, v.dir)]);
  const warmZips = server.requests.filter((r) => r.path.endsWith('.zip')).length;
  assert.equal(warmZips, warm.length);

  const started = Date.now();
  const readers = Array.from({ length: 50 }, (_, k) => {
    // Each reader takes three versions, spread so that every version has several readers
    // arriving at once; every fifth reader also reads golang.org/x/text.
    const mine = [0, 7, 13].map((d) => versions[(k + d) % (versions.length - 1)]);
    if (k % 5 === 0) mine.push(versions.at(-1)!);
    const cat = k % 2 === 1;
    return readerProcess(mnt, planReads(mine, 1000 + k, 8, !cat), cat, `reader ${k}`);
  });
  const counts = await Promise.all(readers);
  t.diagnostic(`50 readers, ${counts.reduce((a, b) => a + b, 0)} reads checked in ${Date.now() - started} ms`);

  for (const [p, n] of zipCounts(server)) assert.equal(n, 1, `${p} fetched ${n} times`);
  assert.equal(zipCounts(server).size, versions.length, 'every version fetched once');
  await proc.stop('SIGTERM');
  await fsck(path.join(work, 'store'));
});

test('two modfs processes on one store fetch overlapping versions: correct reads, each zip at most once per process', async (t) => {
  const storeDir = path.join(work, 'shared-store');
  const [upA, upB] = [await newServer(), await newServer()];
  // Both start at the same moment on a store that does not exist yet.
  const [mntA, mntB] = await Promise.all([newMount('mntA', storeDir, upA), newMount('mntB', storeDir, upB)]);
  // The versions not used by the first test: A reads 0..13, B reads 7..20; 7..13 overlap.
  const versions = corpus.filter((_, i) => i % 2 === 1 && i < 42);
  const forA = versions.slice(0, 14);
  const forB = versions.slice(7);
  const readers: Array<Promise<number>> = [];
  for (let k = 0; k < 24; k++) {
    const onA = k % 2 === 0;
    const pool = onA ? forA : forB;
    const mine = [0, 3, 5, 9].map((d) => pool[(k + d) % pool.length]);
    const cat = k % 4 < 2;
    readers.push(readerProcess(onA ? mntA : mntB, planReads(mine, 2000 + k, 6, !cat), cat, `${onA ? 'A' : 'B'} reader ${k}`));
  }
  await Promise.all(readers);

  const a = zipCounts(upA);
  const b = zipCounts(upB);
  for (const [p, n] of a) assert.ok(n <= 1, `process A fetched ${p} ${n} times`);
  for (const [p, n] of b) assert.ok(n <= 1, `process B fetched ${p} ${n} times`);
  for (const v of versions) {
    const total = (a.get(v.zipUrlPath) ?? 0) + (b.get(v.zipUrlPath) ?? 0);
    assert.ok(total >= 1 && total <= 2, `${v.zipUrlPath}: ${total} fetches overall`);
  }
  const both = versions.filter((v) => a.has(v.zipUrlPath) && b.has(v.zipUrlPath)).length;
  t.diagnostic(`A fetched ${a.size} zips, B ${b.size}; ${both} of the ${forA.length + forB.length - versions.length} shared versions fetched by both`);

  // Each process now reads what only the other fetched: served from the shared store, no fetch.
  const onlyB = forB.filter((v) => !forA.includes(v));
  const onlyA = forA.filter((v) => !forB.includes(v));
  await Promise.all([
    readerProcess(mntA, planReads(onlyB, 3000, 6), false, 'A reading B-only versions'),
    readerProcess(mntB, planReads(onlyA, 3001, 6, false), true, 'B reading A-only versions'),
  ]);
  for (const v of onlyB) assert.equal(zipCounts(upA).get(v.zipUrlPath), undefined, `A fetched ${v.module}@${v.version}, which B had stored`);
  for (const v of onlyA) assert.equal(zipCounts(upB).get(v.zipUrlPath), undefined, `B fetched ${v.module}@${v.version}, which A had stored`);

  for (const p of procs.slice(-2)) assert.equal(await p.stop('SIGTERM'), 0);
  await fsck(storeDir);
  const { stdout } = await run('git', ['--git-dir', path.join(storeDir, 'git'), 'for-each-ref', '--format=%(refname)', 'refs/modfs/zip']);
  assert.equal(stdout.split('\n').filter(Boolean).length, versions.length, 'one zip ref per version');
});
