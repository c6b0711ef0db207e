// Every crafted archive of scripts/hostile-zips.ts is refused by Store.ingest with its own
// error, and leaves nothing behind: no ref, no new object, no temporary file. A well-formed
// zip from the same writer is accepted, which proves the writer itself.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { promises as fsp } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { Store } from '../../lib/store/store.js';
import { GoModError } from '../../lib/gomod/errors.js';
import { goModFor, hostileZips, wellFormedZip, HOSTILE_MODULE, HOSTILE_VERSION } from '../../scripts/hostile-zips.js';
import { infoFor, readZip, writeModuleZip } from '../support/module-zip.js';

const run = promisify(execFile);

let work: string;

before(async () => {
  work = await fsp.mkdtemp(path.join(os.tmpdir(), 'modfs-hostile-'));
});

after(async () => {
  await fsp.rm(work, { recursive: true, force: true });
});

async function countFiles(dir: string): Promise<number> {
  let n = 0;
  for (const d of await fsp.readdir(dir, { withFileTypes: true })) {
    n += d.isDirectory() ? await countFiles(path.join(dir, d.name)) : 1;
  }
  return n;
}

async function refs(s: Store): Promise<string> {
  return (await run('git', ['--git-dir', s.gitDir, 'for-each-ref'])).stdout;
}

/** `expect` is a code ([a-z0-9-] only) or a regex source over "<code>: <message>". */
function matchesExpectation(err: unknown, expect: string): boolean {
  assert.ok(err instanceof GoModError, `expected a GoModError, got ${(err as Error)?.stack ?? String(err)}`);
  if (/^[a-z0-9-]+$/.test(expect)) {
    assert.equal(err.code, expect, err.message);
  } else {
    assert.match(`${err.code}: ${err.message}`, new RegExp(expect));
  }
  return true;
}

const cases = hostileZips();

test('the generator yields at least 25 distinct cases', () => {
  assert.ok(cases.length >= 25, `${cases.length} cases`);
  assert.equal(new Set(cases.map((c) => c.name)).size, cases.length, 'case names are unique');
});

for (const c of cases) {
  test(`refuses ${c.name} (${c.expect})`, async (t) => {
    // A store per case: a case that leaks a ref or an object cannot make the next ones fail.
    const store = await Store.open(path.join(work, 'stores', c.name));
    t.after(() => store.close());
    const zipPath = path.join(work, `${c.name}.zip`);
    await fsp.writeFile(zipPath, c.zip);
    const objectsBefore = await countFiles(path.join(store.gitDir, 'objects'));
    const bomb = c.name.startsWith('zip-bomb');
    const rssBefore = process.memoryUsage().rss;
    let rssMax = rssBefore;
    const sampler = bomb ? setInterval(() => (rssMax = Math.max(rssMax, process.memoryUsage().rss)), 2) : null;
    const started = Date.now();
    try {
      await assert.rejects(
        store.ingest(c.module, c.version, { zipPath, mod: goModFor(c.module), info: infoFor(c.version) }),
        (err) => matchesExpectation(err, c.expect),
      );
    } finally {
      if (sampler) clearInterval(sampler);
    }
    rssMax = Math.max(rssMax, process.memoryUsage().rss);
    if (bomb) {
      const grew = rssMax - rssBefore;
      t.diagnostic(`RSS grew by ${(grew / (1 << 20)).toFixed(1)} MiB, refused after ${Date.now() - started} ms`);
      assert.ok(grew < 64 << 20, `RSS grew by ${(grew / (1 << 20)).toFixed(1)} MiB while refusing the bomb`);
      assert.ok(Date.now() - started < 5000, 'the bomb is stopped early, not inflated to the end');
    }
    assert.equal(await refs(store), '', 'no ref');
    assert.equal(await countFiles(path.join(store.gitDir, 'objects')), objectsBefore, 'no new object');
    assert.deepEqual(await fsp.readdir(store.tmpDir), [], 'no temporary file');
    await fsp.rm(zipPath);
  });
}

test('control: a well-formed zip from the same writer ingests, with the same h1 as a yazl-built zip', async () => {
  const { zip, files } = wellFormedZip();
  const zipPath = path.join(work, 'well-formed.zip');
  await fsp.writeFile(zipPath, zip);
  // Independent readers accept it: yauzl, and Info-ZIP's unzip when installed.
  const read = await readZip(zipPath);
  assert.deepEqual(
    read.map((e) => [e.name, e.data.toString('latin1')]),
    Object.entries(files).map(([p, d]) => [`${HOSTILE_MODULE}@${HOSTILE_VERSION}/${p}`, d.toString('latin1')]),
  );
  // An independent reader (Info-ZIP, installed by make setup) agrees the writer is sound.
  assert.match((await run('unzip', ['-t', zipPath])).stdout, /No errors detected/);

  const good = await Store.open(path.join(work, 'good-store'));
  const ref = await Store.open(path.join(work, 'ref-store'));
  try {
    const src = { mod: goModFor(HOSTILE_MODULE), info: infoFor(HOSTILE_VERSION) };
    const v = await good.ingest(HOSTILE_MODULE, HOSTILE_VERSION, { zipPath, ...src });
    assert.deepEqual(v.files.map((f) => f.path).sort(), Object.keys(files).sort());
    for (const f of v.files) assert.deepEqual(await good.readBlob(f.blob), files[f.path], f.path);
    assert.match(await refs(good), /refs\/modfs\//);
    assert.deepEqual(await fsp.readdir(good.tmpDir), []);

    const yazlZip = path.join(work, 'yazl.zip');
    await writeModuleZip(yazlZip, HOSTILE_MODULE, HOSTILE_VERSION, files);
    const w = await ref.ingest(HOSTILE_MODULE, HOSTILE_VERSION, { zipPath: yazlZip, ...src });
    assert.equal(v.ziphash, w.ziphash);
    assert.equal(v.tree, w.tree);
  } finally {
    await good.close();
    await ref.close();
  }
});
