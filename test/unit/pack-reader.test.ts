import { test, after, before } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { promises as fsp } from 'node:fs';
import { randomBytes } from 'node:crypto';
import os from 'node:os';
import path from 'node:path';
import { PackReader } from '../../lib/store/pack-reader.js';

let root = '';
before(async () => {
  root = await fsp.mkdtemp(path.join(os.tmpdir(), 'modfs-pack-reader-'));
});
after(async () => {
  await fsp.rm(root, { recursive: true, force: true });
});

function git(gitDir: string, args: string[], input?: Buffer | string): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const p = spawn('git', ['--git-dir', gitDir, ...args], { stdio: [input === undefined ? 'ignore' : 'pipe', 'pipe', 'pipe'] });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    p.stdout!.on('data', (c: Buffer) => out.push(c));
    p.stderr!.on('data', (c: Buffer) => err.push(c));
    p.on('error', reject);
    p.on('close', (code) => (code === 0 ? resolve(Buffer.concat(out)) : reject(new Error(`git ${args.join(' ')}: ${Buffer.concat(err)}`))));
    if (input !== undefined) {
      // A git that exits before reading all its input fails by its exit status, reported above;
      // the broken pipe left behind must not surface as an uncaught EPIPE in whatever test runs next.
      p.stdin!.on('error', () => undefined);
      p.stdin!.end(input);
    }
  });
}

let seq = 0;
async function newRepo(): Promise<string> {
  const dir = path.join(root, `repo${seq++}.git`);
  await git(dir, ['init', '--bare', '-q', dir]);
  return dir;
}

/** `git repack` packs only reachable objects: a ref apiece keeps them so. */
async function keep(gitDir: string, ids: string[]): Promise<void> {
  await git(gitDir, ['update-ref', '--stdin'], ids.map((id) => `update refs/keep/${id} ${id}\n`).join(''));
}

/** Writes blobs as loose objects with one git process; returns their ids in order. */
async function writeBlobs(gitDir: string, blobs: Buffer[]): Promise<string[]> {
  const dir = await fsp.mkdtemp(path.join(root, 'blobs-'));
  const files = await Promise.all(
    blobs.map(async (b, i) => {
      const f = path.join(dir, String(i));
      await fsp.writeFile(f, b);
      return f;
    }),
  );
  const out = await git(gitDir, ['hash-object', '-w', '--no-filters', '--stdin-paths'], files.join('\n') + '\n');
  await fsp.rm(dir, { recursive: true });
  const ids = out.toString().trim().split('\n');
  await keep(gitDir, ids);
  return ids;
}

/** What git itself says each object is. */
async function catAll(gitDir: string, ids: string[]): Promise<Map<string, { type: string; data: Buffer }>> {
  const out = await git(gitDir, ['cat-file', '--batch'], ids.join('\n') + '\n');
  const m = new Map<string, { type: string; data: Buffer }>();
  for (let p = 0; p < out.length; ) {
    const nl = out.indexOf(0x0a, p);
    const [id, type, size] = out.subarray(p, nl).toString().split(' ');
    const start = nl + 1;
    m.set(id, { type, data: out.subarray(start, start + Number(size)) });
    p = start + Number(size) + 1;
  }
  return m;
}

async function packNames(gitDir: string): Promise<string[]> {
  return (await fsp.readdir(path.join(gitDir, 'objects', 'pack'))).filter((n) => n.endsWith('.idx')).map((n) => n.slice(0, -4)).sort();
}

/** `git verify-pack -v` rows: id → type, size in pack, offset and whether it is a delta. */
async function verifyPack(gitDir: string, name: string): Promise<Map<string, { type: string; packed: number; offset: number; delta: boolean }>> {
  const out = await git(gitDir, ['verify-pack', '-v', path.join(gitDir, 'objects', 'pack', name + '.idx')]);
  const m = new Map<string, { type: string; packed: number; offset: number; delta: boolean }>();
  for (const line of out.toString().split('\n')) {
    const f = line.split(/\s+/);
    if (!/^[0-9a-f]{40}$/.test(f[0])) continue;
    m.set(f[0], { type: f[1], packed: Number(f[3]), offset: Number(f[4]), delta: f.length >= 7 });
  }
  return m;
}

async function mktree(gitDir: string, entries: { name: string; id: string }[]): Promise<string> {
  const text = entries.map((e) => `100644 blob ${e.id}\t${e.name}\n`).join('');
  const id = (await git(gitDir, ['mktree'], text)).toString().trim();
  await keep(gitDir, [id]);
  return id;
}

function variedBlobs(n: number, salt: string): Buffer[] {
  const blobs = [Buffer.alloc(0), Buffer.from('x'), randomBytes(300 * 1024), randomBytes(2 * 1024 * 1024)];
  for (let i = blobs.length; i < n; i++) blobs.push(Buffer.from(`${salt} blob ${i}\n`.repeat(1 + ((i * 37) % 200))));
  return blobs;
}

async function assertReadsMatch(r: PackReader, expected: Map<string, { type: string; data: Buffer }>): Promise<void> {
  for (const [id, want] of expected) {
    const got = await r.read(id);
    assert.ok(got, `read ${id}`);
    assert.equal(got.type, want.type, id);
    assert.ok(got.data.equals(want.data), `content of ${id}`);
  }
}

const UNKNOWN = 'deadbeef'.repeat(5);

test('reads every object of an undeltified pack exactly as git does', async () => {
  const g = await newRepo();
  const ids = await writeBlobs(g, variedBlobs(200, 'one'));
  const trees = [
    await mktree(g, [{ name: 'a', id: ids[0] }]),
    await mktree(g, ids.slice(0, 50).map((id, i) => ({ name: `f${String(i).padStart(3, '0')}`, id }))),
    await mktree(g, [{ name: 'big', id: ids[3] }, { name: 'mid', id: ids[2] }]),
  ];
  await git(g, ['repack', '-a', '-d', '--depth=0', '--window=0', '-q']);
  const all = [...ids, ...trees];
  const expected = await catAll(g, all);
  const packs = await packNames(g);
  assert.equal(packs.length, 1);
  assert.ok([...(await verifyPack(g, packs[0])).values()].every((v) => !v.delta));

  const r = new PackReader(g);
  try {
    await assertReadsMatch(r, expected);
    // Together, in an order unlike the pack's, with an unknown id, a repeat and a bad name among them.
    const asked = [...all].reverse().concat([UNKNOWN, all[5], 'not an id']);
    const many = await r.readMany(asked);
    asked.forEach((id, i) => {
      const want = expected.get(id);
      if (!want) assert.equal(many[i], null, id);
      else assert.ok(many[i]?.type === want.type && many[i]!.data.equals(want.data), id);
    });
    assert.equal((await r.read(trees[1]))?.type, 'tree');
    assert.equal(await r.read(UNKNOWN), null);
    assert.deepEqual(await r.hasMany([...all, UNKNOWN, 'not an id']), new Set(all));
    assert.equal(await r.read('not an id'), null);
    assert.equal(r.packCount, 1);
  } finally {
    await r.close();
  }

  // Offsets past 2 GiB live in a table of 8-byte offsets; index-pack can force its use.
  const idx = path.join(g, 'objects', 'pack', packs[0] + '.idx');
  const small = (await fsp.stat(idx)).size;
  await git(g, ['index-pack', '--index-version=2,0x100', '-o', idx + '.tmp', idx.slice(0, -4) + '.pack']);
  await fsp.rename(idx + '.tmp', idx);
  assert.ok((await fsp.stat(idx)).size > small + 8 * 100, 'large offsets written');
  const r2 = new PackReader(g);
  try {
    await assertReadsMatch(r2, expected);
  } finally {
    await r2.close();
  }
});

test('delta entries read as null (for the caller to fall back), the rest exactly', async () => {
  const g = await newRepo();
  const base = Array.from({ length: 1500 }, (_, i) => `line ${i} of a fairly ordinary text file\n`).join('');
  const blobs = Array.from({ length: 8 }, (_, i) => Buffer.from(base.replace(`line ${i * 100} `, `LINE ${i * 100} changed `)));
  const ids = await writeBlobs(g, blobs);
  await git(g, ['repack', '-a', '-d', '-f', '--window=10', '--depth=10', '-q']);
  const [pack] = await packNames(g);
  const rows = await verifyPack(g, pack);
  const expected = await catAll(g, ids);
  assert.ok([...rows.values()].some((v) => v.delta), 'git made some deltas');

  const r = new PackReader(g);
  try {
    for (const id of ids) {
      const got = await r.read(id);
      if (rows.get(id)!.delta) assert.equal(got, null, id);
      else {
        assert.ok(got);
        assert.ok(got.data.equals(expected.get(id)!.data));
      }
      assert.equal((await r.hasMany([id])).has(id), true);
    }
    const many = await r.readMany(ids);
    ids.forEach((id, i) => {
      if (rows.get(id)!.delta) assert.equal(many[i], null, id);
      else assert.ok(many[i]?.data.equals(expected.get(id)!.data), id);
    });
  } finally {
    await r.close();
  }
});

test('finds packs added after the first lookup: by addPack, and by the rescan on a miss', async () => {
  const g = await newRepo();
  const first = await writeBlobs(g, variedBlobs(10, 'first'));
  await git(g, ['repack', '-a', '-d', '-q']);
  const r = new PackReader(g);
  try {
    assert.ok(await r.read(first[5]));
    assert.equal(r.packCount, 1);

    const before = new Set(await packNames(g));
    const second = await writeBlobs(g, [Buffer.from('second pack, blob a\n'), Buffer.from('second pack, blob b\n')]);
    await git(g, ['repack', '-d', '-q']);
    const added = (await packNames(g)).filter((n) => !before.has(n));
    assert.equal(added.length, 1);
    await r.addPack(added[0]);
    assert.equal(r.packCount, 2, 'added without waiting for a scan');
    assert.equal((await r.read(second[1]))?.data.toString(), 'second pack, blob b\n');
    await r.addPack(added[0]);
    assert.equal(r.packCount, 2, 'a known pack is not added twice');

    // Without addPack: a miss rescans once the last scan is over a second old.
    const third = await writeBlobs(g, [Buffer.from('third pack\n')]);
    await git(g, ['repack', '-d', '-q']);
    await new Promise((res) => setTimeout(res, 1100));
    assert.equal((await r.read(third[0]))?.data.toString(), 'third pack\n');
    assert.equal(r.packCount, 3);
    assert.equal((await r.hasMany([UNKNOWN])).has(UNKNOWN), false);
  } finally {
    await r.close();
  }
});

test('survives its packs being replaced by a repack', async () => {
  const g = await newRepo();
  const ids = await writeBlobs(g, variedBlobs(20, 'a'));
  await git(g, ['repack', '-d', '-q']);
  ids.push(...(await writeBlobs(g, variedBlobs(20, 'b').slice(4))));
  await git(g, ['repack', '-d', '-q']);
  const old = await packNames(g);
  assert.equal(old.length, 2);
  const expected = await catAll(g, ids);

  const r = new PackReader(g);
  try {
    // One pack opened before the repack (its descriptor outlives the file), one not.
    assert.ok(await r.read(ids[5]));
    assert.equal((await r.hasMany([ids[ids.length - 1]])).has(ids[ids.length - 1]), true);
    await git(g, ['repack', '-a', '-d', '-q']);
    const now = await packNames(g);
    assert.equal(now.length, 1);
    assert.ok(!old.includes(now[0]));
    await assertReadsMatch(r, expected);
    assert.equal(r.packCount, 1, 'the removed packs were dropped');
  } finally {
    await r.close();
  }
});

test('a plan finds each object\'s entry across packs as verify-pack does, and goes stale when its packs go', async () => {
  const g = await newRepo();
  const first = await writeBlobs(g, variedBlobs(30, 'plan a'));
  await git(g, ['repack', '-d', '-q', '--depth=0', '--window=0']);
  const second = await writeBlobs(g, variedBlobs(30, 'plan b').slice(4));
  await git(g, ['repack', '-d', '-q', '--depth=0', '--window=0']);
  const names = await packNames(g);
  assert.equal(names.length, 2);
  // Offsets past 2 GiB live in a table of 8-byte offsets: one pack's index uses it for all.
  const idx = path.join(g, 'objects', 'pack', names[0] + '.idx');
  await git(g, ['index-pack', '--index-version=2,0x100', '-o', idx + '.tmp', idx.slice(0, -4) + '.pack']);
  await fsp.rename(idx + '.tmp', idx);
  // Where git says each entry lies: it ends where the next by offset begins, or at the trailer.
  const where = new Map<string, { pack: string; from: number; to: number }>();
  for (const name of names) {
    const rows = [...(await verifyPack(g, name))].sort((a, b) => a[1].offset - b[1].offset);
    const size = (await fsp.stat(path.join(g, 'objects', 'pack', name + '.pack'))).size;
    rows.forEach(([id, v], k) => where.set(id, { pack: name, from: v.offset, to: k + 1 < rows.length ? rows[k + 1][1].offset : size - 20 }));
  }
  const ids = [...second.slice(0, 10), UNKNOWN, ...first, ...second.slice(10), first[3]];
  const r = new PackReader(g);
  try {
    const plan = await r.plan(ids);
    assert.equal(plan.packs.length, 2);
    ids.forEach((id, i) => {
      const w = where.get(id);
      if (!w) return assert.equal(plan.slot[i], -1, 'an unknown id has no slot');
      assert.ok(plan.slot[i] >= 0, id);
      assert.equal(plan.packs[plan.slot[i]].name, w.pack, `pack of ${id}`);
      assert.deepEqual([plan.from[i], plan.to[i]], [w.from, w.to], `entry of ${id}`);
    });
    assert.equal(await r.withPlanned(plan, async (fds) => fds.length), 2);
    // With one descriptor allowed, the plan's first pack is closed by the time its second is
    // open: after a repack it is gone.
    const fresh = new PackReader(g, { maxOpenFiles: 1 });
    try {
      const stale = await fresh.plan(ids);
      await git(g, ['repack', '-a', '-d', '-q']);
      assert.equal(await fresh.withPlanned(stale, async () => 'read'), null);
      assert.equal(stale.stale, true);
    } finally {
      await fresh.close();
    }
  } finally {
    await r.close();
  }
});

test('a corrupt idx and a corrupt pack entry are reported clearly', async () => {
  const bad = path.join(root, 'badidx.git');
  await fsp.mkdir(path.join(bad, 'objects', 'pack'), { recursive: true });
  const name = 'pack-' + 'ab'.repeat(20);
  await fsp.writeFile(path.join(bad, 'objects', 'pack', name + '.idx'), Buffer.alloc(2000, 1));
  await fsp.writeFile(path.join(bad, 'objects', 'pack', name + '.pack'), Buffer.alloc(100));
  const r1 = new PackReader(bad);
  await assert.rejects(r1.read(UNKNOWN), (e: Error) => e.message.includes(name + '.idx') && /magic/.test(e.message));
  await r1.close();

  const g = await newRepo();
  const text = Array.from({ length: 400 }, (_, i) => `${i} ${randomBytes(8).toString('hex')}\n`).join('');
  const [victim, other] = await writeBlobs(g, [Buffer.from(text), Buffer.from('untouched\n')]);
  await git(g, ['repack', '-a', '-d', '-q', '--window=0']);
  const [pack] = await packNames(g);
  const row = (await verifyPack(g, pack)).get(victim)!;
  const file = path.join(g, 'objects', 'pack', pack + '.pack');
  const bytes = await fsp.readFile(file);
  const mid = row.offset + Math.floor(row.packed / 2);
  for (let i = mid; i < mid + 8; i++) bytes[i] ^= 0x5a;
  await fsp.chmod(file, 0o644);
  await fsp.writeFile(file, bytes);

  const r2 = new PackReader(g);
  try {
    await assert.rejects(r2.read(victim), (e: Error) => e.message.includes(`object ${victim}`) && e.message.includes(pack + '.pack'));
    assert.equal((await r2.read(other))?.data.toString(), 'untouched\n');
  } finally {
    await r2.close();
  }
});

test('500 concurrent reads across 3 packs with one descriptor allowed', async () => {
  const g = await newRepo();
  const ids: string[] = [];
  for (const salt of ['p1', 'p2', 'p3']) {
    const blobs = variedBlobs(30, salt);
    blobs[3] = randomBytes(200 * 1024); // keep the test quick: one big blob per pack is enough
    ids.push(...(await writeBlobs(g, blobs)));
    await git(g, ['repack', '-d', '-q', '--window=0']);
  }
  assert.ok((await packNames(g)).length >= 3);
  const expected = await catAll(g, ids);
  const r = new PackReader(g, { maxOpenFiles: 1 });
  try {
    const picks = Array.from({ length: 500 }, () => ids[Math.floor(Math.random() * ids.length)]);
    const got = await Promise.all(picks.map((id) => r.read(id)));
    got.forEach((o, i) => {
      assert.ok(o, picks[i]);
      assert.ok(o.data.equals(expected.get(picks[i])!.data), picks[i]);
    });
    assert.equal(r.packCount, 3);
  } finally {
    await r.close();
  }
});
