import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { promises as fsp } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import zlib from 'node:zlib';
import { adler32, encodePackIndex, zlibFromRawDeflate } from '../../lib/store/pack-format.js';
import { Store } from '../../lib/store/store.js';
import { writeModuleZip, infoFor } from '../support/module-zip.js';

const run = promisify(execFile);

test('adler32 equals the checksum zlib writes, across block and overflow boundaries', () => {
  const sizes = [0, 1, 7, 8, 9, 5551, 5552, 5553, 5560, 65536, 200_003];
  for (const n of sizes) {
    for (const data of [randomBytes(n), Buffer.alloc(n, 0xff)]) {
      const z = zlib.deflateSync(data);
      const want = z.readUInt32BE(z.length - 4);
      assert.equal(adler32(data), want, `size ${n}`);
      // continued over pieces that do not fall on 8-byte or block boundaries, as streamed content is
      let chained = 1;
      for (let at = 0; at < n; at += 4099) chained = adler32(data.subarray(at, Math.min(n, at + 4099)), chained);
      assert.equal(chained, want, `size ${n} in pieces`);
    }
  }
});

test('a zip entry raw deflate stream becomes a zlib stream that zlib verifies and inflates', () => {
  for (const level of [1, 6, 9]) {
    const content = Buffer.from('package a\n\nconst X = "modfs"\n'.repeat(500) + randomBytes(3000).toString('hex'));
    const raw = zlib.deflateRawSync(content, { level });
    // inflateSync checks the adler32 trailer: a wrong one throws
    assert.ok(zlib.inflateSync(Buffer.concat(zlibFromRawDeflate(raw, content))).equals(content));
  }
});

test('pack indexes of ingested versions are byte-identical to what git index-pack writes', async () => {
  const dir = await fsp.mkdtemp(path.join(os.tmpdir(), 'modfs-packfmt-'));
  try {
    const store = await Store.open(path.join(dir, 'store'));
    const files: Record<string, string | Buffer> = { 'go.mod': 'module example.com/p\n' };
    for (let i = 0; i < 300; i++) files[`d${i % 9}/f${i}.go`] = `package d${i % 9}\n// ${i}\n${'x'.repeat(i * 37)}\n`;
    files['blob.bin'] = randomBytes(70_000); // incompressible: deflate falls back to stored blocks
    files['empty.txt'] = '';
    const zip = path.join(dir, 'p.zip');
    await writeModuleZip(zip, 'example.com/p', 'v1.0.0', files);
    await store.ingest('example.com/p', 'v1.0.0', { zipPath: zip, mod: Buffer.from(files['go.mod'] as string), info: infoFor('v1.0.0') });
    await store.close();
    const packDir = path.join(store.gitDir, 'objects', 'pack');
    const idxs = (await fsp.readdir(packDir)).filter((n) => n.endsWith('.idx'));
    assert.equal(idxs.length, 1);
    const pack = path.join(packDir, idxs[0].replace(/\.idx$/, '.pack'));
    const theirs = path.join(dir, 'theirs.idx');
    const { stdout } = await run('git', ['index-pack', '-o', theirs, pack]);
    assert.equal(`pack-${stdout.trim()}.idx`, idxs[0], 'the pack is named after its checksum, as git names it');
    assert.ok((await fsp.readFile(path.join(packDir, idxs[0]))).equals(await fsp.readFile(theirs)));
    await run('git', ['--git-dir', store.gitDir, 'verify-pack', path.join(packDir, idxs[0])]);
    await run('git', ['--git-dir', store.gitDir, 'fsck', '--strict', '--no-dangling']);
  } finally {
    await fsp.rm(dir, { recursive: true, force: true });
  }
});

test('pack index: offsets of 2 GiB and more go to the 64-bit table', () => {
  const id = (b: number) => Buffer.alloc(20, b).toString('hex');
  const entries = [
    { id: id(0x22), crc32: 7, offset: 0x7fffffff },
    { id: id(0x11), crc32: 5, offset: 12 },
    { id: id(0x33), crc32: 9, offset: 0x80000000 + 5 },
  ];
  const idx = encodePackIndex(entries, Buffer.alloc(20, 0xab));
  const n = 3;
  const names = 8 + 1024;
  const offsets = names + n * 24;
  assert.equal(idx.readUInt32BE(8 + 4 * 0x10), 0); // fan-out: nothing below 0x11
  assert.equal(idx.readUInt32BE(8 + 4 * 0x11), 1);
  assert.equal(idx.readUInt32BE(8 + 4 * 0xff), 3);
  assert.equal(idx.subarray(names, names + 20).toString('hex'), id(0x11));
  assert.equal(idx.readUInt32BE(offsets), 12);
  assert.equal(idx.readUInt32BE(offsets + 4), 0x7fffffff);
  assert.equal(idx.readUInt32BE(offsets + 8), 0x80000000);
  assert.equal(idx.readBigUInt64BE(offsets + 12), BigInt(0x80000005));
  assert.equal(idx.length, 8 + 1024 + n * 28 + 8 + 40);
  assert.throws(() => encodePackIndex([entries[0], entries[0]], Buffer.alloc(20)), /listed twice/);
});
