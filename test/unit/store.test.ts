import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile, spawn } from 'node:child_process';
import { promises as fsp } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { fileURLToPath } from 'node:url';
import { Store } from '../../lib/store/store.js';
import { referenceZip } from '../support/zip-reference.js';
import { hash1 } from '../../lib/gomod/dirhash.js';
import { createHash, randomBytes } from 'node:crypto';
import { writeModuleZip, infoFor } from '../support/module-zip.js';
import { buildZip } from '../../scripts/hostile-zips.js';
import zlib from 'node:zlib';

const run = promisify(execFile);
const here = path.dirname(fileURLToPath(import.meta.url));
const worker = path.join(here, '..', 'support', 'ingest-worker.js');
const MOD = 'example.com/big';

async function tmpdir(): Promise<string> {
  return fsp.mkdtemp(path.join(os.tmpdir(), 'modfs-store-'));
}

async function countObjects(gitDir: string): Promise<Set<string>> {
  const { stdout } = await run('git', ['--git-dir', gitDir, 'cat-file', '--batch-all-objects', '--batch-check=%(objectname)']);
  return new Set(stdout.split('\n').filter(Boolean));
}

function bigModule(n: number): Record<string, string> {
  const files: Record<string, string> = { 'go.mod': `module ${MOD}\n\ngo 1.19\n` };
  for (let i = 0; i < n - 1; i++) files[`pkg${i % 20}/sub${i % 7}/f${i}.go`] = `package pkg${i % 20}\n\n// file ${i}\nconst C${i} = ${i}\n`;
  return files;
}

test('ingest stores files, reads them back, and the ziphash is the h1 of the zip', async () => {
  const dir = await tmpdir();
  const store = await Store.open(path.join(dir, 'store'));
  try {
    const files = { 'go.mod': 'module example.com/a\n', 'a.go': 'package a\n', 'dir/b.txt': 'bee' };
    const zip = path.join(dir, 'a.zip');
    await writeModuleZip(zip, 'example.com/a', 'v1.0.0', files);
    const v = await store.ingest('example.com/a', 'v1.0.0', { zipPath: zip, mod: Buffer.from(files['go.mod']), info: infoFor('v1.0.0') });
    const expected = hash1(
      Object.entries(files).map(([n, c]) => ({ name: `example.com/a@v1.0.0/${n}`, sha256: createHash('sha256').update(c).digest() })),
    );
    assert.equal(v.ziphash, expected);
    assert.deepEqual(v.files.map((f) => f.path), ['a.go', 'dir/b.txt', 'go.mod']);
    assert.deepEqual(v.dirs.get(''), ['a.go', 'dir', 'go.mod']);
    assert.equal((await store.readBlob(v.byPath.get('dir/b.txt')!.blob)).toString(), 'bee');
    assert.equal(v.info.toString(), '{"Version":"v1.0.0","Time":"2024-01-02T03:04:05Z"}');

    // A fresh process view (no in-memory caches) sees the same version.
    const again = await Store.open(path.join(dir, 'store'));
    const w = await again.getVersion('example.com/a', 'v1.0.0');
    again.close();
    assert.ok(w);
    assert.equal(w.ziphash, expected);
    assert.equal(w.tree, v.tree);
    assert.equal((await store.getMod('example.com/a', 'v1.0.0'))?.toString(), files['go.mod']);
    assert.equal(await store.getVersion('example.com/a', 'v1.0.1'), null);
    const { stdout } = await run('git', ['--git-dir', store.gitDir, 'fsck', '--no-dangling']);
    assert.equal(stdout.trim(), '');
  } finally {
    store.close();
  }
});

test('a large deflated file of a zip held in memory keeps its deflate bytes, without what follows the stream', async () => {
  const dir = await tmpdir();
  const store = await Store.open(path.join(dir, 'store'));
  try {
    const P = 'example.com/l@v1.0.0/';
    const goMod = Buffer.from('module example.com/l\n');
    const table = Buffer.from('package l\n\nvar T = []string{\n' + [...Array(150_000).keys()].map((i) => `\t"${(i * 7919) % 100_003}",\n`).join('') + '}\n');
    assert.ok(table.length > 1 << 20);
    // 40 bytes after the end of the deflate stream, inside the entry's compressed size
    const body = Buffer.concat([zlib.deflateRawSync(table), Buffer.alloc(40, 0x5a)]);
    const zip = path.join(dir, 'l.zip');
    await fsp.writeFile(zip, buildZip([{ name: P + 'go.mod', data: goMod }, { name: P + 'table.go', data: table, body }]));
    const v = await store.ingest('example.com/l', 'v1.0.0', { zipPath: zip, mod: goMod, info: infoFor('v1.0.0') });
    const f = v.byPath.get('table.go')!;
    assert.equal(f.blob, createHash('sha1').update(`blob ${table.length}\0`).update(table).digest('hex'));
    assert.ok((await store.readBlob(f.blob)).equals(table));
    const { stdout } = await run('git', ['--git-dir', store.gitDir, 'cat-file', 'blob', f.blob], { maxBuffer: 16 << 20, encoding: 'buffer' });
    assert.ok(stdout.equals(table), 'git reads the same bytes');
    await run('git', ['--git-dir', store.gitDir, 'fsck', '--strict']);
    // the pack entry is the zip's deflate stream (not compressed again): the pack is smaller than the file
    const packs = (await fsp.readdir(path.join(store.gitDir, 'objects', 'pack'))).filter((n) => n.endsWith('.pack'));
    const packBytes = (await Promise.all(packs.map((n) => fsp.stat(path.join(store.gitDir, 'objects', 'pack', n))))).reduce((a, st) => a + st.size, 0);
    assert.ok(packBytes < body.length + 4096, `pack ${packBytes} bytes, the entry's deflate stream ${body.length}`);
  } finally {
    store.close();
  }
});

test('a version is packed in path order, and its files read together equal each read alone', async () => {
  const dir = await tmpdir();
  const store = await Store.open(path.join(dir, 'store'));
  try {
    const files: Record<string, string | Buffer> = bigModule(400);
    files['zz/large.bin'] = randomBytes(700 << 10); // over the blob cache's entry size: read by range
    const zip = path.join(dir, 'big.zip');
    await writeModuleZip(zip, MOD, 'v1.0.0', files);
    const v = await store.ingest(MOD, 'v1.0.0', { zipPath: zip, mod: Buffer.from(files['go.mod'] as string), info: infoFor('v1.0.0') });
    const packDir = path.join(store.gitDir, 'objects', 'pack');
    const [idx] = (await fsp.readdir(packDir)).filter((n) => n.endsWith('.idx'));
    const { stdout } = await run('git', ['--git-dir', store.gitDir, 'verify-pack', '-v', path.join(packDir, idx)]);
    const offset = new Map(stdout.split('\n').map((l) => l.split(/\s+/)).filter((c) => c.length >= 5 && /^[0-9a-f]{40}$/.test(c[0])).map((c) => [c[0], Number(c[4])]));
    const blobs = [...new Set(v.files.map((f) => f.blob))];
    for (let i = 1; i < blobs.length; i++) assert.ok(offset.get(blobs[i])! > offset.get(blobs[i - 1])!, `blob of ${v.files[i].path} follows the one before it`);

    const again = await Store.open(path.join(dir, 'store'));
    try {
      // The zip read natively (small files inflated in place, the large one read by range)
      // equals the one made in JS from each file's content, over ranges that cut anywhere.
      const layout = v.zip;
      const reference = referenceZip(layout, (i) => Buffer.from(files[v.files[i].path]));
      const large = v.files.findIndex((f) => f.path === 'zz/large.bin');
      for (const [pos, len] of [[0, 512 << 10], [1, 100_000], [layout.starts[large] - 7, 800 << 10], [layout.size - 50, 4096], [0, layout.size]]) {
        const out = Buffer.alloc(len, 0xee);
        const n = await again.readZip(v, pos, out);
        assert.equal(n, Math.min(len, layout.size - pos), `bytes read at ${pos}`);
        assert.ok(out.subarray(0, n).equals(reference.subarray(pos, pos + n)), `range ${pos}+${len}`);
        assert.ok(out.subarray(n).every((b) => b === 0xee), `nothing written past the zip at ${pos}`);
      }
      const got = await again.readFileSlices(v.files.map((f, i) => ({ blob: f.blob, size: f.size, start: i % 3, end: Math.max(i % 3, f.size - (i % 5)) })));
      for (const [i, f] of v.files.entries()) assert.ok(got[i].equals(Buffer.from(files[f.path]).subarray(i % 3, Math.max(i % 3, f.size - (i % 5)))), f.path);
    } finally {
      await again.close();
    }
  } finally {
    await store.close();
    await fsp.rm(dir, { recursive: true, force: true });
  }
});

test('a .mod and .info can be stored alone, without the zip', async () => {
  const dir = await tmpdir();
  const store = await Store.open(dir);
  try {
    await store.putMod('example.com/m', 'v0.1.0', Buffer.from('module example.com/m\n'));
    const canon = await store.putInfo('example.com/m', 'v0.1.0', Buffer.from('{"Version":"v0.1.0","Time":"2023-05-06T07:08:09Z","Origin":{"VCS":"git"}}\n'));
    assert.equal(canon.toString(), '{"Version":"v0.1.0","Time":"2023-05-06T07:08:09Z"}');
    assert.equal((await store.getMod('example.com/m', 'v0.1.0'))?.toString(), 'module example.com/m\n');
    assert.equal((await store.getInfo('example.com/m', 'v0.1.0'))?.toString(), canon.toString());
    assert.equal(await store.getVersion('example.com/m', 'v0.1.0'), null);
    await assert.rejects(store.putMod('example.com/m', 'v0.2.0', Buffer.from('module example.com/other\n')), /declares module example.com\/other/);
    await assert.rejects(store.putInfo('example.com/m', 'v0.2.0', Buffer.from('{"Version":"v0.3.0"}')), /names version v0.3.0/);
    const refs = await store.listRefs(0);
    assert.deepEqual([...refs.get('example.com/m')!.get('v0.1.0')!].sort(), ['info', 'mod']);
  } finally {
    store.close();
  }
});

test('a second version changing 3 of 400 files adds only those blobs and the trees above them', async () => {
  const dir = await tmpdir();
  const store = await Store.open(path.join(dir, 's'));
  try {
    const v1 = bigModule(400);
    const z1 = path.join(dir, 'v1.zip');
    await writeModuleZip(z1, MOD, 'v1.0.0', v1);
    await store.ingest(MOD, 'v1.0.0', { zipPath: z1, mod: Buffer.from(v1['go.mod']), info: infoFor('v1.0.0') });
    const before = await countObjects(store.gitDir);

    const changed = ['pkg1/sub1/f1.go', 'pkg2/sub2/f2.go', 'pkg2/sub3/f122.go'];
    const v2 = { ...v1 };
    for (const c of changed) v2[c] += '// changed\n';
    const z2 = path.join(dir, 'v2.zip');
    await writeModuleZip(z2, MOD, 'v1.1.0', v2);
    await store.ingest(MOD, 'v1.1.0', { zipPath: z2, mod: Buffer.from(v2['go.mod']), info: infoFor('v1.1.0') });
    const after = await countObjects(store.gitDir);
    const added = [...after].filter((o) => !before.has(o));

    // 3 blobs; trees: files root, pkg1, pkg1/sub1, pkg2, pkg2/sub2, pkg2/sub3; the version tree;
    // manifest, info and ziphash blobs (go.mod is identical, so shared).
    const expected = 3 + 6 + 1 + 3;
    assert.equal(added.length, expected, `added ${added.length} objects`);
    const types = await Promise.all(
      added.map(async (id) => (await run('git', ['--git-dir', store.gitDir, 'cat-file', '-t', id])).stdout.trim()),
    );
    assert.equal(types.filter((t) => t === 'tree').length, 7);
    assert.equal(types.filter((t) => t === 'blob').length, 6);
  } finally {
    store.close();
  }
});

function runWorker(args: string[]): Promise<{ code: number | null; out: string; err: string }> {
  return new Promise((resolve) => {
    const p = spawn(process.execPath, [worker, ...args]);
    let out = '';
    let err = '';
    p.stdout.on('data', (d) => (out += d));
    p.stderr.on('data', (d) => (err += d));
    p.on('exit', (code) => resolve({ code, out, err }));
  });
}

test('two processes ingesting the same version at once both succeed with one consistent ref', async () => {
  const dir = await tmpdir();
  const storeDir = path.join(dir, 's');
  const files = bigModule(300);
  const zip = path.join(dir, 'v.zip');
  await writeModuleZip(zip, MOD, 'v1.0.0', files);
  await fsp.writeFile(path.join(dir, 'mod'), files['go.mod']);
  await fsp.writeFile(path.join(dir, 'info'), infoFor('v1.0.0'));
  (await Store.open(storeDir)).close();
  const args = [storeDir, MOD, 'v1.0.0', zip, path.join(dir, 'mod'), path.join(dir, 'info')];
  const [a, b] = await Promise.all([runWorker(args), runWorker(args)]);
  assert.equal(a.code, 0, a.err);
  assert.equal(b.code, 0, b.err);
  assert.deepEqual(JSON.parse(a.out), JSON.parse(b.out));
  const store = await Store.open(storeDir);
  try {
    const v = await store.getVersion(MOD, 'v1.0.0');
    assert.equal(v?.tree, JSON.parse(a.out).tree);
    await run('git', ['--git-dir', store.gitDir, 'fsck', '--strict']);
  } finally {
    store.close();
  }
});

test('a process killed during ingest leaves no ref, and the next ingest succeeds', async () => {
  const dir = await tmpdir();
  const storeDir = path.join(dir, 's');
  // Small files are staged in memory; 40 files over 1 MiB of a zip too large to hold in memory
  // are streamed to temporary files, which shows from outside that the worker is mid-ingest.
  const files: Record<string, string | Buffer> = bigModule(3000);
  for (let i = 0; i < 40; i++) files[`data/big${i}.bin`] = randomBytes(1_200_000);
  const zip = path.join(dir, 'v.zip');
  await writeModuleZip(zip, MOD, 'v1.0.0', files);
  await fsp.writeFile(path.join(dir, 'mod'), files['go.mod']);
  await fsp.writeFile(path.join(dir, 'info'), infoFor('v1.0.0'));
  const s0 = await Store.open(storeDir);
  await s0.close();
  const p = spawn(process.execPath, [worker, storeDir, MOD, 'v1.0.0', zip, path.join(dir, 'mod'), path.join(dir, 'info')]);
  const exited = new Promise((r) => p.on('exit', r));
  for (let i = 0; i < 2000 && p.exitCode === null; i++) {
    if ((await fsp.readdir(s0.tmpDir)).length >= 5) break;
    await new Promise((r) => setTimeout(r, 2));
  }
  p.kill('SIGKILL');
  await exited;
  assert.ok((await fsp.readdir(s0.tmpDir)).length > 0, 'the worker was killed mid-ingest');
  const { stdout } = await run('git', ['--git-dir', s0.gitDir, 'for-each-ref']);
  assert.equal(stdout.trim(), '', 'no ref is visible');

  const store = await Store.open(storeDir);
  try {
    assert.deepEqual(await fsp.readdir(store.tmpDir), [], 'temporary files of the dead process are removed');
    assert.equal(await store.getVersion(MOD, 'v1.0.0'), null);
    const v = await store.ingest(MOD, 'v1.0.0', { zipPath: zip, mod: Buffer.from(files['go.mod']), info: infoFor('v1.0.0') });
    assert.equal(v.files.length, 3040);
    await run('git', ['--git-dir', store.gitDir, 'fsck', '--strict']);
  } finally {
    store.close();
  }
});

test('a pack left without its index by a crash is removed at the next open', async () => {
  const dir = await tmpdir();
  const store = await Store.open(dir);
  const zip = path.join(dir, 'a.zip');
  await writeModuleZip(zip, 'example.com/a', 'v1.0.0', { 'go.mod': 'module example.com/a\n', 'a.go': 'package a\n' });
  await store.ingest('example.com/a', 'v1.0.0', { zipPath: zip, mod: Buffer.from('module example.com/a\n'), info: infoFor('v1.0.0') });
  await store.close();
  const packDir = path.join(dir, 'git', 'objects', 'pack');
  const real = (await fsp.readdir(packDir)).find((n) => n.endsWith('.pack'))!;
  const orphan = path.join(packDir, 'pack-' + '0'.repeat(40) + '.pack');
  await fsp.copyFile(path.join(packDir, real), orphan);
  const old = new Date(Date.now() - 3600_000);
  await fsp.utimes(orphan, old, old);
  const again = await Store.open(dir);
  try {
    await assert.rejects(fsp.stat(orphan), { code: 'ENOENT' });
    assert.ok(await again.getVersion('example.com/a', 'v1.0.0'), 'the real pack and its version stay');
  } finally {
    await again.close();
  }
});

test('a store repacked by git (deltas, one pack) still reads every file: deltas go through git cat-file', async () => {
  const dir = await tmpdir();
  try {
    const store = await Store.open(path.join(dir, 'store'));
    const versions = ['v1.0.0', 'v1.1.0'];
    const expected = new Map<string, Record<string, string>>();
    for (const [i, version] of versions.entries()) {
      const files: Record<string, string> = { 'go.mod': `module ${MOD}\n` };
      // Similar large files across versions: git stores the second as a delta of the first.
      for (let f = 0; f < 5; f++) files[`f${f}.go`] = `package big\n${'// a line that repeats\n'.repeat(2000)}const V${f} = ${i}\n`;
      const zip = path.join(dir, `${version}.zip`);
      await writeModuleZip(zip, MOD, version, files);
      await store.ingest(MOD, version, { zipPath: zip, mod: Buffer.from(files['go.mod']), info: infoFor(version) });
      expected.set(version, files);
    }
    await store.close();
    await run('git', ['--git-dir', store.gitDir, 'repack', '-a', '-d', '-f', '--window=10', '--depth=10']);
    const { stdout } = await run('git', ['--git-dir', store.gitDir, 'verify-pack', '-v', ...(await fsp.readdir(path.join(store.gitDir, 'objects', 'pack'))).filter((n) => n.endsWith('.idx')).map((n) => path.join(store.gitDir, 'objects', 'pack', n))]);
    assert.match(stdout, /chain length = 1/, 'the repack made deltas');

    const again = await Store.open(path.join(dir, 'store'));
    try {
      for (const version of versions) {
        const v = await again.getVersion(MOD, version);
        assert.ok(v, version);
        for (const [name, content] of Object.entries(expected.get(version)!)) {
          assert.equal((await again.readBlob(v.byPath.get(name)!.blob)).toString(), content, `${version} ${name}`);
        }
        // Read together, deltas among them, they come back the same.
        const got = await again.readFileSlices(v.files.map((f) => ({ blob: f.blob, size: f.size, start: 0, end: f.size })));
        v.files.forEach((f, i) => assert.equal(got[i].toString(), expected.get(version)![f.path], `${version} ${f.path} together`));
        // Its zip: the deltas are left by the native read and read through git.
        const want = referenceZip(v.zip, (i) => Buffer.from(expected.get(version)![v.files[i].path]));
        const zip = Buffer.alloc(v.zip.size);
        assert.equal(await again.readZip(v, 0, zip), zip.length);
        assert.ok(zip.equals(want), `${version} zip`);
      }
    } finally {
      await again.close();
    }
  } finally {
    await fsp.rm(dir, { recursive: true, force: true });
  }
});

test('large files kept unpacked on disk stay within their budget, the least recently used going first', async () => {
  const dir = await tmpdir();
  try {
    // Blobs over 8 KiB take the large-blob path; each is ~600 KB, the budget holds two.
    const store = await Store.open(path.join(dir, 'store'), { blobCacheBytes: 64 << 10, rawCacheBytes: 1_300_000 });
    const files: Record<string, string> = { 'go.mod': `module ${MOD}\n` };
    for (let f = 0; f < 3; f++) files[`gen${f}.go`] = `package big\n${[...Array(39_000).keys()].map((i) => `// ${f} ${i} ${(i * 7919) % 10007}\n`).join('')}`;
    const zip = path.join(dir, 'v1.0.0.zip');
    await writeModuleZip(zip, MOD, 'v1.0.0', files);
    const v = await store.ingest(MOD, 'v1.0.0', { zipPath: zip, mod: Buffer.from(files['go.mod']), info: infoFor('v1.0.0') });
    const blob = (name: string) => v.byPath.get(name)!.blob;
    const rawFiles = async () => new Set(await fsp.readdir(store.rawDir).catch(() => [] as string[]));
    // The raw files are written, and removed, behind the reads.
    const settle = async (...names: string[]) => {
      const want = [...names.map(blob)].sort().join();
      const until = Date.now() + 10_000;
      while ([...(await rawFiles())].sort().join() !== want && Date.now() < until) await new Promise((r) => setTimeout(r, 10));
      assert.deepEqual(await rawFiles(), new Set(names.map(blob)));
    };
    // A range past the head: the whole file is unpacked to disk.
    const readTail = async (name: string) => {
      const f = v.byPath.get(name)!;
      assert.ok(f.size > 500_000 && f.size < 650_000, `${f.size}`);
      const got = await store.readBlobRange(f.blob, f.size, f.size - 300_000, f.size);
      assert.ok(got.equals(Buffer.from(files[name]).subarray(f.size - 300_000)), name);
    };
    await readTail('gen0.go');
    await settle('gen0.go');
    await readTail('gen1.go');
    await settle('gen0.go', 'gen1.go');
    await readTail('gen0.go'); // used again: gen1 is now the least recently used
    await readTail('gen2.go');
    await settle('gen0.go', 'gen2.go');
    // What was removed is unpacked again when read, still right.
    await readTail('gen1.go');
    await settle('gen2.go', 'gen1.go');
    await store.close();
  } finally {
    await fsp.rm(dir, { recursive: true, force: true });
  }
});

test('a large blob read by ranges while it unpacks: every range right, concurrent reads share one unpack, then the raw file serves', async () => {
  const dir = await tmpdir();
  try {
    // blobCacheBytes 64 KiB: blobs over 8 KiB take the large-blob path.
    const store = await Store.open(path.join(dir, 'store'), { blobCacheBytes: 64 << 10 });
    const files: Record<string, string> = { 'go.mod': `module ${MOD}\n` };
    for (let f = 0; f < 3; f++) files[`gen${f}.go`] = `package big\n${[...Array(30_000).keys()].map((i) => `// ${f} ${i} ${(i * 7919) % 10007}\n`).join('')}`;
    const zip = path.join(dir, 'v1.0.0.zip');
    await writeModuleZip(zip, MOD, 'v1.0.0', files);
    const v = await store.ingest(MOD, 'v1.0.0', { zipPath: zip, mod: Buffer.from(files['go.mod']), info: infoFor('v1.0.0') });
    const check = async (s: Store, label: string) => {
      for (const name of ['gen0.go', 'gen1.go', 'gen2.go']) {
        const f = v.byPath.get(name)!;
        const want = Buffer.from(files[name]);
        assert.ok(f.size > 200_000);
        // First 4 KiB (go's import scan), the tail, a middle range, past the end: all at once.
        const ranges: Array<[number, number]> = [[0, 4096], [f.size - 100, f.size], [70_000, 70_000 + 131_072], [f.size - 10, f.size + 4096], [f.size + 1, f.size + 10]];
        const got = await Promise.all(ranges.map(([a, b]) => s.readBlobRange(f.blob, f.size, a, b)));
        ranges.forEach(([a, b], i) => assert.ok(got[i].equals(want.subarray(a, b)), `${label} ${name} [${a}, ${b})`));
      }
    };
    await check(store, 'while unpacking');
    // The raw files are written behind the reads.
    const until = Date.now() + 10_000;
    while ((await fsp.readdir(store.rawDir).catch(() => [])).length < 3 && Date.now() < until) await new Promise((r) => setTimeout(r, 10));
    assert.equal((await fsp.readdir(store.rawDir)).length, 3, 'one raw file per large blob');
    for (const name of ['gen0.go', 'gen1.go']) {
      assert.ok((await fsp.readFile(path.join(store.rawDir, v.byPath.get(name)!.blob))).equals(Buffer.from(files[name])));
    }
    await check(store, 'from the raw files');
    await store.close();
    // After git repacks with deltas, the same ranges come whole through git instead.
    await run('git', ['--git-dir', store.gitDir, 'repack', '-a', '-d', '-f', '--window=10', '--depth=10']);
    const again = await Store.open(path.join(dir, 'store'), { blobCacheBytes: 64 << 10 });
    try {
      await check(again, 'after repack');
    } finally {
      await again.close();
    }
  } finally {
    await fsp.rm(dir, { recursive: true, force: true });
  }
});

test('reads of a large blob within its head inflate only the head: right bytes, nothing unpacked; a read further on still unpacks it', async () => {
  const dir = await tmpdir();
  try {
    const store = await Store.open(path.join(dir, 'store'), { blobCacheBytes: 64 << 10 });
    // Text that compresses well (as source does) and text that does not: the head is taken in steps.
    const files: Record<string, string> = {
      'go.mod': `module ${MOD}\n`,
      'table.go': `package big\n${[...Array(60_000).keys()].map((i) => `// ${i} ${(i * 7919) % 10007}\n`).join('')}`,
      'noise.go': `package big\n// ${randomBytes(400_000).toString('base64')}\n`,
    };
    const zip = path.join(dir, 'v1.0.0.zip');
    await writeModuleZip(zip, MOD, 'v1.0.0', files);
    const v = await store.ingest(MOD, 'v1.0.0', { zipPath: zip, mod: Buffer.from(files['go.mod']), info: infoFor('v1.0.0') });
    for (const name of ['table.go', 'noise.go']) {
      const f = v.byPath.get(name)!;
      const want = Buffer.from(files[name]);
      assert.ok(f.size > 500_000, `${name} is large`);
      for (const [a, b] of [[0, 16384], [100, 5000], [0, 256 << 10], [200_000, 256 << 10]] as const) {
        assert.ok((await store.readBlobRange(f.blob, f.size, a, b)).equals(want.subarray(a, b)), `${name} [${a}, ${b})`);
      }
    }
    await new Promise((r) => setTimeout(r, 200));
    assert.deepEqual(await fsp.readdir(store.rawDir).catch(() => []), [], 'no large blob was unpacked');
    const f = v.byPath.get('table.go')!;
    assert.ok((await store.readBlobRange(f.blob, f.size, 300_000, 400_000)).equals(Buffer.from(files['table.go']).subarray(300_000, 400_000)));
    await store.close();
  } finally {
    await fsp.rm(dir, { recursive: true, force: true });
  }
});
