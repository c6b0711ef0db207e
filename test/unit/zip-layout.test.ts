import { test } from 'node:test';
import assert from 'node:assert/strict';
import { promises as fsp } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import zlib from 'node:zlib';
import yauzl from 'yauzl';
import { centralDirectory, entryAt, nativeZipTable, zipLayout, type LayoutFile, type ZipLayout } from '../../lib/store/zip-layout.js';
import { inflateBinding } from '../../lib/store/native-inflate.js';
import { referenceZip } from '../support/zip-reference.js';

const prefix = 'm@v1.0.0/';
const contents: Record<string, Buffer> = {
  'a.go': Buffer.from('package a\n'),
  empty: Buffer.alloc(0),
  'données/é.txt': Buffer.from('unicode name'),
  'big.bin': Buffer.alloc(300_000, 7),
};
const paths = Object.keys(contents).sort();
const names = paths.map((p) => prefix + p);
const files: LayoutFile[] = paths.map((p) => ({ path: p, size: contents[p].length, crc32: zlib.crc32(contents[p]) }));
const layout = zipLayout(files, new Date('2024-01-02T03:04:06Z'), prefix);

/**
 * Bytes [pos, pos + len) of the zip as modfs reads it (readZip), with no pack at hand: the
 * content it leaves is copied in from `contents`, as the store reads it the slow way.
 */
async function readRange(l: ZipLayout, pos: number, len: number): Promise<Buffer> {
  const n = l.files.length;
  const out = Buffer.alloc(Math.max(0, Math.min(len, l.size - pos)));
  if (out.length === 0) return out;
  const table = nativeZipTable(l, new Int32Array(n).fill(-1), new Float64Array(n), new Float64Array(n));
  const left = new Float64Array((n + 1) * 5);
  const count = await inflateBinding().readZip(new Int32Array(0), table, centralDirectory(l), pos, entryAt(l, pos), out, left);
  for (let k = 0; k < count; k++) {
    const [index, start, end, at] = left.subarray(k * 5, k * 5 + 4);
    contents[paths[index]].copy(out, at, start, end);
  }
  return out;
}

const whole = () => readRange(layout, 0, layout.size);

test('the synthetic zip is a valid archive with exactly the stored files', async () => {
  const bytes = await whole();
  const file = path.join(await fsp.mkdtemp(path.join(os.tmpdir(), 'modfs-zl-')), 'x.zip');
  await fsp.writeFile(file, bytes);
  const seen = new Map<string, Buffer>();
  await new Promise<void>((resolve, reject) => {
    yauzl.open(file, { lazyEntries: true }, (err, zf) => {
      if (err) return reject(err);
      zf.on('entry', (e: yauzl.Entry) =>
        zf.openReadStream(e, async (err2, s) => {
          if (err2) return reject(err2);
          const chunks: Buffer[] = [];
          for await (const c of s) chunks.push(c as Buffer);
          seen.set(e.fileName, Buffer.concat(chunks));
          zf.readEntry();
        }),
      );
      zf.on('end', () => resolve());
      zf.on('error', reject);
      zf.readEntry();
    });
  });
  assert.deepEqual([...seen.keys()], names);
  paths.forEach((p, i) => assert.ok(seen.get(names[i])!.equals(contents[p]), p));
  assert.ok(bytes.equals(referenceZip(layout, (i) => contents[paths[i]])), 'the same bytes as the reference writer');
});

test('any byte range equals the same slice of the whole archive', async () => {
  const bytes = await whole();
  const ranges = [[0, 10], [25, 4096], [layout.size - 30, 100], [1000, 131072], [layout.size, 10], [7, 1]];
  for (const [pos, len] of ranges) {
    const out = await readRange(layout, pos, len);
    assert.equal(out.length, Math.max(0, Math.min(len, layout.size - pos)));
    assert.ok(out.equals(bytes.subarray(pos, pos + out.length)), `range ${pos}+${len}`);
  }
});

test('the layout is deterministic', async () => {
  const again = zipLayout(files, new Date('2024-01-02T03:04:06Z'), prefix);
  assert.equal(again.size, layout.size);
  assert.deepEqual([...again.starts], [...layout.starts]);
  assert.ok((await readRange(again, 0, again.size)).equals(await whole()));
});
