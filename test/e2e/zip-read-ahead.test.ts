// A version's .zip read front to back through a fresh mount: pieces are made ahead of the
// reader and pushed into the page cache (lib/fs/read-ahead.ts). What the reader gets must be
// the stored files exactly, whether a piece came from memory, a push, or a plain read.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { promises as fsp } from 'node:fs';
import path from 'node:path';
import { escapePath, escapeVersion } from '../../lib/gomod/escape.js';
import { versionsIn } from '../support/corpus.js';
import { serveCorpus } from '../support/served-corpus.js';
import { withModfs } from '../support/modfs-process.js';
import { readZip } from '../support/module-zip.js';

const MODULE = 'github.com/snapcore/snapd';

const served = serveCorpus('modfs-zra-');

/** "name size sha256" of every file entry of a zip. */
async function entries(zip: string): Promise<string[]> {
  return (await readZip(zip)).filter((e) => !e.isDir).map((e) => `${e.name} ${e.data.length} ${createHash('sha256').update(e.data).digest('hex')}`);
}

/** The file read in 1 MiB reads from `start` to its end, then from 0 to `start`. */
async function readFrom(file: string, start: number): Promise<Buffer> {
  const fh = await fsp.open(file, 'r');
  try {
    const size = (await fh.stat()).size;
    const out = Buffer.alloc(size);
    for (const [from, to] of [[start, size], [0, start]]) {
      for (let pos = from; pos < to; ) {
        const { bytesRead } = await fh.read(out, pos, Math.min(1 << 20, to - pos), pos);
        assert.ok(bytesRead > 0, `read at ${pos} of ${size}`);
        pos += bytesRead;
      }
    }
    return out;
  } finally {
    await fh.close();
  }
}

test("a large module's .zip read front to back through a fresh mount holds exactly its files", async () => {
  const { corpus, up, work } = served;
  const [version] = await versionsIn(corpus, MODULE);
  assert.ok(version, `${MODULE} is in the corpus`);
  const upstreamZip = path.join(corpus, escapePath(MODULE), '@v', `${escapeVersion(version)}.zip`);
  const want = (await entries(upstreamZip)).sort();
  const mnt = path.join(work, 'mnt');
  const zipOnMount = path.join(mnt, 'cache/download', escapePath(MODULE), '@v', `${escapeVersion(version)}.zip`);
  const args = ['--store', path.join(work, 'store'), '--upstream', up.url, '--log-level', 'info'];
  await withModfs(mnt, args, async (m) => {
    await fsp.stat(zipOnMount);
    assert.equal(await m.stop('SIGTERM'), 0);
  });
  await withModfs(mnt, args, async (m) => {
    await fsp.writeFile('/proc/sys/vm/drop_caches', '3');
    const size = (await fsp.stat(zipOnMount)).size;
    assert.ok(size > 16 << 20, `${size} bytes: more than the read-ahead window`);
    // Its end first, as go's zip reader does, then from the start.
    const first = await readFrom(zipOnMount, size - 300_000);
    const copy = path.join(work, 'first.zip');
    await fsp.writeFile(copy, first);
    assert.deepEqual((await entries(copy)).sort(), want);
    // Again with the page cache dropped: a new pass from the start.
    await fsp.writeFile('/proc/sys/vm/drop_caches', '1');
    assert.ok((await readFrom(zipOnMount, 0)).equals(first));
    assert.equal(await m.stop('SIGTERM'), 0);
    assert.doesNotMatch(m.stderr(), /unknown inode|internal error/);
    // Most of it came from pushes: of the kernel's 128 KiB requests, few reached modfs.
    const reads = Number(/served .* (\d+) read,/.exec(m.stderr())?.[1]);
    assert.ok(reads < (2 * size) / (128 << 10) / 2, `${reads} reads reached modfs for two passes over ${size} bytes\n${m.stderr()}`);
  });
});
