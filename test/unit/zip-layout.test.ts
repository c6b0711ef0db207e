import { test } from 'node:test';
import assert from 'node:assert/strict';
import { promises as fsp } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import zlib from 'node:zlib';
import yauzl from 'yauzl';
import { readZipRange, zipLayout, type FileSlice, type LayoutFile } from '../../lib/store/zip-layout.js';

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
const readFile = async (slices: FileSlice[], out: Buffer, at: number[]) => {
  slices.forEach((x, k) => contents[paths[x.index]].copy(out, at[k], x.start, x.end));
};

async function whole(): Promise<Buffer> {
  const out = Buffer.alloc(layout.size);
  assert.equal(await readZipRange(layout, 0, out, readFile), layout.size);
  return out;
}

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
});

test('any byte range equals the same slice of the whole archive', async () => {
  const bytes = await whole();
  const ranges = [[0, 10], [25, 4096], [layout.size - 30, 100], [1000, 131072], [layout.size, 10], [7, 1]];
  for (const [pos, len] of ranges) {
    const out = Buffer.alloc(len);
    const n = await readZipRange(layout, pos, out, readFile);
    assert.equal(n, Math.max(0, Math.min(len, layout.size - pos)));
    assert.ok(out.subarray(0, n).equals(bytes.subarray(pos, pos + n)), `range ${pos}+${len}`);
  }
});

test('the layout is deterministic', async () => {
  const again = zipLayout(files, new Date('2024-01-02T03:04:06Z'), prefix);
  assert.equal(again.size, layout.size);
  assert.deepEqual([...again.starts], [...layout.starts]);
  const out = Buffer.alloc(again.size);
  await readZipRange(again, 0, out, readFile);
  assert.ok(out.equals(await whole()));
});
