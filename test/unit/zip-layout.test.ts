import { test } from 'node:test';
import assert from 'node:assert/strict';
import { promises as fsp } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import zlib from 'node:zlib';
import yauzl from 'yauzl';
import { readZipRange, zipLayout, type FileSlice, type LayoutFile } from '../../lib/store/zip-layout.js';

const contents: Record<string, Buffer> = {
  'm@v1.0.0/a.go': Buffer.from('package a\n'),
  'm@v1.0.0/empty': Buffer.alloc(0),
  'm@v1.0.0/données/é.txt': Buffer.from('unicode name'),
  'm@v1.0.0/big.bin': Buffer.alloc(300_000, 7),
};
const names = Object.keys(contents).sort();
const files: LayoutFile[] = names.map((n) => ({ name: n, size: contents[n].length, crc32: zlib.crc32(contents[n]) }));
const layout = zipLayout(files, new Date('2024-01-02T03:04:06Z'));
const readFile = async (slices: FileSlice[]) => slices.map((x) => contents[names[x.index]].subarray(x.start, x.end));

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
  for (const n of names) assert.ok(seen.get(n)!.equals(contents[n]), n);
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

test('the layout is deterministic', () => {
  const again = zipLayout(files, new Date('2024-01-02T03:04:06Z'));
  assert.equal(again.size, layout.size);
  assert.deepEqual(again.segments.map((s) => [s.offset, s.length, s.kind]), layout.segments.map((s) => [s.offset, s.length, s.kind]));
});
