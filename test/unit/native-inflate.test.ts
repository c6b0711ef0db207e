// The native inflate work (lib/store/native/inflate_work.c) against node's own zlib and crypto.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { promises as fsp } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import zlib from 'node:zlib';
import { digestDeflated, type DeflatedSpan } from '../../lib/store/zip-digest.js';
import { adler32 } from '../../lib/store/pack-format.js';
import { inflateBinding } from '../../lib/store/native-inflate.js';
import { centralDirectory, entryAt, nativeZipTable, zipLayout } from '../../lib/store/zip-layout.js';
import { referenceZip } from '../support/zip-reference.js';

function expected(content: Buffer) {
  return {
    ok: true,
    size: content.length,
    crc32: zlib.crc32(content) >>> 0,
    adler32: adler32(content),
    sha1: createHash('sha1').update(`blob ${content.length}\0`).update(content).digest('hex'),
    sha256: createHash('sha256').update(content).digest(),
  };
}

/** A pack entry's header: type and size in a varint (the zlib stream follows; for a delta, its base first). */
function entryHeader(type: number, size: number): Buffer {
  const out = [(type << 4) | (size & 15)];
  for (size = Math.floor(size / 16); size > 0; size = Math.floor(size / 128)) {
    out[out.length - 1] |= 0x80;
    out.push(size & 0x7f);
  }
  return Buffer.from(out);
}

/** Raw deflate streams of `contents` laid one after another (with junk between) in one buffer. */
function layout(contents: Buffer[], gap = 7): { zip: Buffer; spans: DeflatedSpan[]; raws: Buffer[] } {
  const parts: Buffer[] = [];
  const spans: DeflatedSpan[] = [];
  const raws: Buffer[] = [];
  let at = 0;
  for (const c of contents) {
    const raw = zlib.deflateRawSync(c, { level: 6 });
    raws.push(raw);
    parts.push(Buffer.alloc(gap, 0xee), raw);
    spans.push({ start: at + gap, length: raw.length, size: c.length });
    at += gap + raw.length;
  }
  return { zip: Buffer.concat(parts), spans, raws };
}

test('digests of many entries equal node zlib and crypto, whether one thread or several share them', async () => {
  const contents = [
    Buffer.alloc(0),
    Buffer.from('package a\n'),
    randomBytes(70_000), // incompressible, several output pieces
    Buffer.from('x'.repeat(3 << 20)), // 3 MiB from a small stream
    Buffer.from('y'.repeat(17 << 20)), // past the size inflated whole: zlib, in pieces
    ...Array.from({ length: 300 }, (_, i) => Buffer.from(`package p${i}\n\nconst V = ${i}\n`.repeat(1 + (i % 50)))),
  ];
  const { zip, spans, raws } = layout(contents);
  for (const parts of [1, 2, 3]) {
    const got = await digestDeflated(zip, spans, parts);
    assert.equal(got.length, contents.length);
    got.forEach((d, i) => {
      assert.ok(d.ok, `entry ${i}: ${!d.ok && d.message}`);
      const { consumed, ...rest } = d;
      assert.deepEqual(rest, expected(contents[i]), `entry ${i} with ${parts} parts`);
      assert.equal(consumed, raws[i].length, `entry ${i}: the whole stream and no more`);
    });
  }
});

test('bytes after the end of the deflate stream are not consumed', async () => {
  const content = Buffer.from('hello, modfs\n'.repeat(100));
  const raw = zlib.deflateRawSync(content);
  const zip = Buffer.concat([raw, Buffer.from('trailing bytes that are not deflate')]);
  const [d] = await digestDeflated(zip, [{ start: 0, length: zip.length, size: content.length }]);
  assert.ok(d.ok);
  assert.equal(d.consumed, raw.length);
  assert.equal(d.sha1, expected(content).sha1);
});

test('a stream that inflates past its announced size stops there: too-large', async () => {
  const bomb = zlib.deflateRawSync(Buffer.alloc(4 << 20));
  const [d] = await digestDeflated(bomb, [{ start: 0, length: bomb.length, size: 1024 }]);
  assert.equal(d.ok, false);
  assert.ok(!d.ok && d.why === 'too-large' && d.produced > 1024 && d.produced <= 1024 + (128 << 10), JSON.stringify(d));
});

test('a cut stream is truncated, garbage is corrupt with zlib words, a short stream reports its size', async () => {
  const content = randomBytes(50_000);
  const raw = zlib.deflateRawSync(content);
  const zip = Buffer.concat([raw, Buffer.from([0xff, 0xff, 0xff, 0xff])]);
  const [cut, garbage, short] = await digestDeflated(zip, [
    { start: 0, length: raw.length - 100, size: content.length },
    { start: raw.length, length: 4, size: 16 },
    { start: 0, length: raw.length, size: content.length + 10 },
  ]);
  assert.ok(!cut.ok && cut.why === 'truncated', JSON.stringify(cut));
  assert.ok(!garbage.ok && garbage.why === 'corrupt' && /invalid|incorrect/.test(garbage.message), JSON.stringify(garbage));
  // Ends cleanly but short: a digest whose size the caller compares with the header.
  assert.ok(short.ok && short.size === content.length);
});

test('spans outside the buffer are refused before any work starts', async () => {
  await assert.rejects(digestDeflated(Buffer.alloc(10), [{ start: 5, length: 6, size: 1 }]), /outside the zip/);
});

test('deflateMany makes each object a zlib stream of exactly its bytes, one after the other, and refuses what does not fit', async () => {
  const objects = [Buffer.alloc(0), Buffer.from('tree entries '.repeat(300)), randomBytes(70_000), Buffer.from('x'), randomBytes(5)];
  const src = Buffer.concat(objects);
  const table = new Float64Array(objects.length * 2);
  let at = 0;
  objects.forEach((o, i) => {
    table[i * 2] = at;
    table[i * 2 + 1] = o.length;
    at += o.length;
  });
  const out = Buffer.alloc(src.length + 1024);
  const made = new Float64Array(objects.length * 2);
  await inflateBinding().deflateMany(src, table, out, made, 1);
  let next = 0;
  objects.forEach((o, i) => {
    assert.equal(made[i * 2], next, `object ${i} starts where the last ended`);
    const z = out.subarray(made[i * 2], made[i * 2] + made[i * 2 + 1]);
    assert.ok(zlib.inflateSync(z).equals(o), `object ${i}`);
    next += made[i * 2 + 1];
  });
  assert.ok(made[3] < objects[1].length / 4, 'repetitive text is compressed');
  await assert.rejects(inflateBinding().deflateMany(src, table, Buffer.alloc(100), made, 1), /output buffer too small/);
  assert.throws(() => inflateBinding().deflateMany(src, new Float64Array([0, src.length + 1]), out, new Float64Array(2), 1), /outside src/);
});

test('readObjects reads a span of a file and inflates its entries exactly, telling deltas, bad types, cut headers, and corrupt, cut, longer and shorter streams apart', async () => {
  const blob = randomBytes(5000);
  const tree = Buffer.from('100644 a.go\0'.padEnd(40, 'x'));
  const entries: Array<[string, Buffer, number]> = [
    // name, entry bytes, expected status
    ['blob', Buffer.concat([entryHeader(3, blob.length), zlib.deflateSync(blob)]), 0],
    ['empty blob', Buffer.concat([entryHeader(3, 0), zlib.deflateSync(Buffer.alloc(0))]), 0],
    ['tree', Buffer.concat([entryHeader(2, tree.length), zlib.deflateSync(tree)]), 0],
    ['ref delta', Buffer.concat([entryHeader(7, 10), randomBytes(20), zlib.deflateSync(randomBytes(10))]), 6],
    ['type 5', Buffer.concat([entryHeader(5, 3), zlib.deflateSync(Buffer.from('abc'))]), 7],
    ['cut header', Buffer.from([0xb0, 0x80]), 8],
    ['size says more', Buffer.concat([entryHeader(3, 11), zlib.deflateSync(Buffer.from('0123456789'))]), 4],
    ['size says less', Buffer.concat([entryHeader(3, 9), zlib.deflateSync(Buffer.from('0123456789'))]), 3],
    ['cut stream', Buffer.concat([entryHeader(3, blob.length), zlib.deflateSync(blob).subarray(0, 2000)]), 2],
    ['bad adler-32', Buffer.concat([entryHeader(2, tree.length), zlib.deflateSync(tree).map((x, i, z) => (i === z.length - 1 ? x ^ 1 : x))]), 1],
    ['not zlib', Buffer.concat([entryHeader(3, 100), randomBytes(60)]), 1],
  ];
  const lead = randomBytes(33); // the span starts inside the file
  const file = path.join(await fsp.mkdtemp(path.join(os.tmpdir(), 'modfs-readobjects-')), 'pack');
  await fsp.writeFile(file, Buffer.concat([lead, ...entries.map((e) => e[1])]));
  const h = await fsp.open(file, 'r');
  try {
    const items = new Float64Array(entries.length * 2);
    let at = 0;
    entries.forEach(([, bytes], k) => {
      items[k * 2] = at;
      items[k * 2 + 1] = at += bytes.length;
    });
    const meta = new Float64Array(entries.length * 3);
    const status = new Int32Array(entries.length);
    const whole = await inflateBinding().readObjects(h.fd, lead.length, at, items, meta, status);
    entries.forEach(([name, , want], k) => assert.equal(status[k], want, name));
    const data = (k: number) => whole.subarray(meta[k * 3 + 2], meta[k * 3 + 2] + meta[k * 3 + 1]);
    assert.deepEqual([meta[0], meta[3], meta[6]], [3, 3, 2], 'types: blob, blob, tree');
    assert.ok(data(0).equals(blob) && data(1).length === 0 && data(2).equals(tree));
    // A span past the end of the file, and a closed descriptor, fail the whole call with why.
    await assert.rejects(inflateBinding().readObjects(h.fd, lead.length, at + 1, new Float64Array([0, 1]), new Float64Array(3), new Int32Array(1)), /pack truncated/);
    assert.throws(() => inflateBinding().readObjects(h.fd, 0, 10, new Float64Array([5, 11]), new Float64Array(3), new Int32Array(1)), /inside the span/);
  } finally {
    await h.close();
  }
  const closed = await fsp.open(file, 'r');
  const fd = closed.fd;
  await closed.close();
  await assert.rejects(inflateBinding().readObjects(fd, 0, 10, new Float64Array([0, 10]), new Float64Array(3), new Int32Array(1)), /Bad file descriptor/);
  await fsp.rm(path.dirname(file), { recursive: true, force: true });
});

test('readZip writes any range of a synthetic zip, and lists the content it leaves with why', async () => {
  const contents: Record<string, Buffer> = {
    'a.bin': randomBytes(3000),
    'b.go': Buffer.from('package b\n'.repeat(500)),
    'delta.go': Buffer.from('0123456789'),
    'empty': Buffer.alloc(0),
    'large.bin': randomBytes(100),
    'not-zlib.go': randomBytes(100),
    'short.go': Buffer.from('package short\n'),
  };
  const paths = Object.keys(contents).sort();
  // Each file's pack entry; none for the large one (left for JS) and the empty one.
  const entry: Record<string, Buffer | null> = {
    'a.bin': Buffer.concat([entryHeader(3, 3000), zlib.deflateSync(contents['a.bin'])]),
    'b.go': Buffer.concat([entryHeader(3, 5000), zlib.deflateSync(contents['b.go'])]),
    'delta.go': Buffer.concat([entryHeader(7, 10), randomBytes(20), zlib.deflateSync(contents['delta.go'])]),
    empty: null,
    'large.bin': null,
    'not-zlib.go': Buffer.concat([entryHeader(3, 100), randomBytes(60)]),
    // A header that claims fewer bytes than the file: the slice passes the object's end.
    'short.go': Buffer.concat([entryHeader(3, 5), zlib.deflateSync(contents['short.go'].subarray(0, 5))]),
  };
  const why: Record<string, number> = { 'delta.go': 6, 'large.bin': 0, 'not-zlib.go': 1, 'short.go': 9 };
  const layout = zipLayout(
    paths.map((p) => ({ path: p, size: contents[p].length, crc32: zlib.crc32(contents[p]) })),
    new Date('2024-05-06T07:08:10Z'),
    'example.com/m@v1.0.0/',
  );
  const slot = new Int32Array(paths.length).fill(-1);
  const from = new Float64Array(paths.length);
  const to = new Float64Array(paths.length);
  const parts: Buffer[] = [randomBytes(12)];
  let at = 12;
  paths.forEach((p, i) => {
    const e = entry[p];
    if (!e) return;
    [slot[i], from[i], to[i]] = [0, at, at + e.length];
    parts.push(e);
    at += e.length;
  });
  const file = path.join(await fsp.mkdtemp(path.join(os.tmpdir(), 'modfs-readzip-')), 'pack');
  await fsp.writeFile(file, Buffer.concat(parts));
  const table = nativeZipTable(layout, slot, from, to);
  const central = centralDirectory(layout);
  const h = await fsp.open(file, 'r');
  try {
    const whole = referenceZip(layout, (i) => contents[paths[i]]);
    // Every range that starts or ends in a header, a name, content or the central directory.
    const edges = [...layout.starts].flatMap((s, i) => (i < paths.length ? [s, s + 3, s + 29, s + 31 + 5, s + 30 + layout.nameLengths[i] + 1] : [s, s + 7]));
    const ranges = [[0, layout.size], ...edges.flatMap((e) => [[e, 1], [e, 700], [e, layout.size - e]])].filter(([p, n]) => p < layout.size && n > 0);
    for (const [pos, n] of ranges) {
      const len = Math.min(n, layout.size - pos);
      const dest = Buffer.alloc(len, 0xaa);
      const first = entryAt(layout, pos);
      const left = new Float64Array(paths.length * 5);
      const count = await inflateBinding().readZip(Int32Array.of(h.fd), table, central, pos, first, dest, left);
      const leftBy = new Map<string, number>();
      for (let k = 0; k < count; k++) {
        const [index, start, end, to, status] = left.subarray(k * 5, k * 5 + 5);
        leftBy.set(paths[index], status);
        assert.ok(layout.starts[index] + 30 + layout.nameLengths[index] + start === pos + to, `left slice of ${paths[index]} at its place`);
        contents[paths[index]].copy(dest, to, start, end);
      }
      for (const [name, status] of leftBy) assert.equal(status, why[name], `${name} left as ${why[name]}`);
      // What is left is what the range holds of the files that cannot be inflated here, and only that.
      const sliceEnd = (i: number) => Math.min(contents[paths[i]].length, pos + len - (layout.starts[i] + 30 + layout.nameLengths[i]));
      const spanned = paths.filter((p, i) => contents[p].length && layout.starts[i + 1] > pos && sliceEnd(i) > 0);
      // short.go's object holds its first 5 bytes: a slice within them is served.
      const unserved = spanned.filter((p) => p in why && (p !== 'short.go' || sliceEnd(paths.indexOf(p)) > 5));
      assert.deepEqual([...leftBy.keys()].sort(), unserved, `left of ${pos}+${len}`);
      assert.ok(dest.equals(whole.subarray(pos, pos + len)), `range ${pos}+${len}`);
    }
    const left = new Float64Array(5);
    assert.throws(() => inflateBinding().readZip(Int32Array.of(h.fd), table, central, layout.starts[2], 1, Buffer.alloc(1), left), /in file `first`'s entry/);
    assert.throws(() => inflateBinding().readZip(Int32Array.of(h.fd), table, central, layout.size - 1, paths.length, Buffer.alloc(2), left), /inside the zip/);
    await assert.rejects(inflateBinding().readZip(Int32Array.of(h.fd), table, central, 0, 0, Buffer.alloc(layout.size), new Float64Array(5)), /fewer files than the range spans/);
    // A version with no files is its end record alone.
    const none = zipLayout([], new Date('2024-05-06T07:08:10Z'), 'example.com/m@v1.0.0/');
    const noneWant = referenceZip(none, () => Buffer.alloc(0));
    const noneGot = Buffer.alloc(none.size);
    assert.equal(await inflateBinding().readZip(new Int32Array(0), nativeZipTable(none, new Int32Array(0), new Float64Array(0), new Float64Array(0)), centralDirectory(none), 0, 0, noneGot, new Float64Array(5)), 0);
    assert.ok(noneGot.equals(noneWant) && noneGot.readUInt32LE(0) === 0x06054b50, 'an empty zip');
    const bad = Float64Array.from(table);
    bad[5] += 1;
    await assert.rejects(inflateBinding().readZip(Int32Array.of(h.fd), bad, central, 0, 0, Buffer.alloc(layout.size), new Float64Array(paths.length * 5)), /table does not match/);
    const negative = Float64Array.from(table);
    negative[3] = -1; // a.bin's entry start
    await assert.rejects(inflateBinding().readZip(Int32Array.of(h.fd), negative, central, 0, 0, Buffer.alloc(layout.size), new Float64Array(paths.length * 5)), /pack entry out of range/);
  } finally {
    await h.close();
    await fsp.rm(path.dirname(file), { recursive: true, force: true });
  }
});
