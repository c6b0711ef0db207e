// make bench-ingest: every corpus version ingested into a fresh store, one at a time as the
// fetcher does; time, store size, peak RSS, and git fsck of the result.
import { execFile } from 'node:child_process';
import { promises as fsp } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { Store } from '../lib/store/store.js';
import { escapePath, escapeVersion } from '../lib/gomod/escape.js';
import { ensureCorpus, moduleVersionsIn } from '../test/support/corpus.js';

const run = promisify(execFile);
const RUNS = Number(process.env.MODFS_BENCH_RUNS ?? 3);

const corpus = await ensureCorpus();
const mods = await moduleVersionsIn(corpus);
for (let i = 0; i < RUNS; i++) {
  const dir = await fsp.mkdtemp(path.join(os.tmpdir(), 'modfs-bench-ingest-'));
  try {
    const store = await Store.open(dir);
    let files = 0;
    const t0 = performance.now();
    for (const m of mods) {
      const base = path.join(corpus, escapePath(m.module), '@v', escapeVersion(m.version));
      const [mod, info] = await Promise.all([fsp.readFile(base + '.mod'), fsp.readFile(base + '.info')]);
      files += (await store.ingest(m.module, m.version, { zipPath: base + '.zip', mod, info })).files.length;
    }
    const secs = (performance.now() - t0) / 1000;
    await store.close();
    await run('git', ['--git-dir', store.gitDir, 'fsck', '--strict', '--no-dangling']);
    const { stdout } = await run('du', ['-sb', dir]);
    const rss = process.resourceUsage().maxRSS / 1024;
    console.log(
      `ingest: ${mods.length} versions, ${files} files in ${secs.toFixed(2)} s; store ${(Number(stdout.split('\t')[0]) / 1e6).toFixed(1)} MB, fsck clean; peak RSS so far ${rss.toFixed(0)} MB`,
    );
  } finally {
    await fsp.rm(dir, { recursive: true, force: true });
  }
}
