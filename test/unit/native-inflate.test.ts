// The native inflate work (lib/store/native/inflate_work.c) against node's own zlib and crypto.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import zlib from 'node:zlib';
import { digestDeflated, type DeflatedSpan } from '../../lib/store/zip-digest.js';
import { adler32 } from '../../lib/store/pack-format.js';
import { inflateBinding } from '../../lib/store/native-inflate.js';

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

test('inflateMany fills each buffer exactly, and tells corrupt, cut, longer and shorter streams apart', async () => {
  const a = Buffer.from('package a\n'.repeat(1000));
  const b = randomBytes(100_000);
  const za = zlib.deflateSync(a);
  const zb = zlib.deflateSync(b);
  const zEmpty = zlib.deflateSync(Buffer.alloc(0));
  const badAdler = Buffer.from(za);
  badAdler[badAdler.length - 1] ^= 1;
  const src = Buffer.concat([za, zb, zEmpty, badAdler]);
  const at = [0, za.length, za.length + zb.length, za.length + zb.length + zEmpty.length];
  const cases: Array<[string, number, number, number, number]> = [
    // name, start, length, output size, expected status
    ['a', at[0], za.length, a.length, 0],
    ['b', at[1], zb.length, b.length, 0],
    ['empty', at[2], zEmpty.length, 0, 0],
    ['bad adler-32', at[3], za.length, a.length, 1],
    ['cut', at[1], zb.length - 50, b.length, 2],
    ['longer than its size', at[0], za.length, a.length - 1, 3],
    ['shorter than its size', at[0], za.length, a.length + 1, 4],
    ['not zlib', at[1] + 100, 200, 10, 1],
  ];
  const outs = cases.map(([, , , size]) => Buffer.alloc(size));
  const status = new Int32Array(cases.length);
  await inflateBinding().inflateMany(src, Float64Array.from(cases.flatMap(([, s, l]) => [s, l])), outs, status);
  cases.forEach(([name, , , , want], i) => assert.equal(status[i], want, name));
  assert.ok(outs[0].equals(a) && outs[1].equals(b));
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
