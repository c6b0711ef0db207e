// Listings prepared one level ahead and answered in C (lib/fs/native), with the pushes of
// their files waiting for them (whole, or only the heads of larger Go files): a whole real module
// walked through the kernel, twice, with the kernel made to forget every inode in between,
// must show exactly the zip's tree and bytes.
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

const MODULE = 'github.com/google/go-cmp';
/** below most of its files, so that the longer Go files are pushed as heads */
const PREFETCH_KB = 16;

const served = serveCorpus('modfs-pl-');

/** "path size sha256" of every file, and "path/" of every directory, below `root`, sorted. */
async function walk(root: string): Promise<string[]> {
  const out: string[] = [];
  const visit = async (dir: string, rel: string) => {
    for (const e of await fsp.readdir(dir, { withFileTypes: true })) {
      const r = rel ? `${rel}/${e.name}` : e.name;
      if (e.isDirectory()) {
        out.push(r + '/');
        await visit(path.join(dir, e.name), r);
      } else {
        const data = await fsp.readFile(path.join(dir, e.name));
        const st = await fsp.stat(path.join(dir, e.name));
        out.push(`${r} ${st.size} ${createHash('sha256').update(data).digest('hex')}`);
      }
    }
  };
  await visit(root, '');
  return out.sort();
}

test('a module walked through the mount, before and after the kernel forgets its inodes, is the zip exactly', async () => {
  const { corpus, up, work } = served;
  const [version] = await versionsIn(corpus, MODULE);
  assert.ok(version, `${MODULE} is in the corpus`);
  const prefix = `${MODULE}@${version}/`;
  const want = new Set<string>();
  for (const e of await readZip(path.join(corpus, escapePath(MODULE), '@v', `${escapeVersion(version)}.zip`))) {
    if (e.isDir) continue;
    const rel = e.name.slice(prefix.length);
    const data = e.data;
    want.add(`${rel} ${data.length} ${createHash('sha256').update(data).digest('hex')}`);
    const parts = rel.split('/');
    for (let k = 1; k < parts.length; k++) want.add(parts.slice(0, k).join('/') + '/');
  }
  assert.ok([...want].some((w) => w.split('/').length > 3), 'the module has directories three levels deep');
  const mnt = path.join(work, 'mnt');
  await withModfs(mnt, ['--store', path.join(work, 'store'), '--upstream', up.url, '--log-level', 'info', '--prefetch-kb', String(PREFETCH_KB)], async (m) => {
    const root = path.join(mnt, escapePath(MODULE) + '@' + escapeVersion(version));
    assert.deepEqual(await walk(root), [...want].sort());
    // Every dentry and inode the kernel can let go of goes: it sends forgets, then asks again.
    await fsp.writeFile('/proc/sys/vm/drop_caches', '3');
    assert.deepEqual(await walk(root), [...want].sort());
    assert.equal(await m.stop('SIGTERM'), 0);
    assert.doesNotMatch(m.stderr(), /unknown inode|internal error/);
    const pages = Number(/(\d+) directory pages and \d+ lookups from listings prepared ahead/.exec(m.stderr())?.[1]);
    assert.ok(pages >= 1, m.stderr());
    // Most files reached the page cache unasked (read from the pack and inflated in C), so the
    // walks above compared content that came that way.
    const files = [...want].filter((w) => !w.endsWith('/')).length;
    const prefetched = Number(/(\d+) files prefetched/.exec(m.stderr())?.[1]);
    assert.ok(prefetched >= files / 2, `${prefetched} of ${files} files prefetched`);
    // Of Go files above --prefetch-kb, only the head was pushed (inflated in part): the rest
    // of each, compared above, came from reads.
    const long = [...want].filter((w) => / /.test(w) && w.split(' ')[0].endsWith('.go') && Number(w.split(' ')[1]) > PREFETCH_KB * 1024).length;
    assert.ok(long >= 3, `${long} Go files longer than ${PREFETCH_KB} KiB in ${MODULE}`);
    const heads = Number(/files prefetched \((\d+) of them heads only\)/.exec(m.stderr())?.[1]);
    assert.ok(heads >= long, `${heads} heads pushed, ${long} Go files longer than --prefetch-kb`);
  });
});
