// Crash safety: modfs is SIGKILLed again and again while it fetches many module versions
// at once into one shared store. After every kill the store must hold only complete
// versions (a ref exists only with all its objects), `git fsck --strict` must be clean,
// every stored version must hash to the h1 of the upstream zip, and temporary files of
// dead processes must be gone after the next start. At the end the go command itself
// verifies every stored version through an offline mount.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { createHash } from 'node:crypto';
import { promises as fsp } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { escapePath, escapeVersion, unescapePath } from '../../lib/gomod/escape.js';
import { hash1, hashGoMod } from '../../lib/gomod/dirhash.js';
import { parseRefName } from '../../lib/store/ref-names.js';
import { Store } from '../../lib/store/store.js';
import { startProxyServer, type ProxyServer } from '../support/proxy-server.js';
import { ensureCorpus, versionsIn, modulesIn } from '../support/corpus.js';
import { readZip } from '../support/module-zip.js';
import { forceUnmount, isMounted, startModfs, type ModfsProcess } from '../support/modfs-process.js';
import { goEnvFor } from '../support/program.js';

const run = promisify(execFile);

const ITERATIONS = Number(process.env.MODFS_CRASH_ITERATIONS ?? 20);

interface Target {
  module: string;
  version: string;
  /** `<escaped module>@<escaped version>`, the version directory on the mount */
  dir: string;
  zipPath: string;
  modPath: string;
}

let tree: string;
let work: string;
let mnt: string;
let storeDir: string;
let up: ProxyServer;
let modfs: ModfsProcess | null = null;
let store: Store | null = null;
const targets: Target[] = [];
const expectedH1 = new Map<string, string>();


/** The h1 of the upstream zip, computed from its entries (h1-corpus.test.ts checks this equals go's). */
async function zipH1(t: Target): Promise<string> {
  const key = `${t.module}@${t.version}`;
  let h = expectedH1.get(key);
  if (!h) {
    const entries = await readZip(t.zipPath);
    h = hash1(entries.filter((e) => !e.isDir).map((e) => ({ name: e.name, sha256: createHash('sha256').update(e.data).digest() })));
    expectedH1.set(key, h);
  }
  return h;
}

/** Module versions with a zip ref, as `module@version` (unescaped). */
async function storedZipRefs(): Promise<Set<string>> {
  const { stdout } = await run('git', ['--git-dir', path.join(storeDir, 'git'), 'for-each-ref', '--format=%(refname)', 'refs/modfs/zip']);
  const out = new Set<string>();
  for (const line of stdout.split('\n').filter(Boolean)) {
    const p = parseRefName(line);
    assert.ok(p, `unexpected ref ${line}`);
    out.add(`${unescapePath(p.escapedModule)}@${p.escapedVersion}`);
  }
  return out;
}

async function fsck(): Promise<void> {
  try {
    await run('git', ['--git-dir', path.join(storeDir, 'git'), 'fsck', '--strict', '--no-dangling', '--no-progress'], { maxBuffer: 64 << 20 });
  } catch (err) {
    const e = err as { code?: number; stdout?: string; stderr?: string };
    assert.fail(`git fsck --strict failed (exit ${e.code}):\n${e.stdout}\n${e.stderr}`);
  }
}

/** Reads every file of a stored version through the store API and checks it against the upstream zip. */
async function checkStoredVersion(t: Target): Promise<void> {
  const key = `${t.module}@${t.version}`;
  const v = await store!.getVersion(t.module, t.version);
  assert.ok(v, `${key}: a zip ref exists but getVersion finds nothing`);
  const want = await zipH1(t);
  assert.equal(v.ziphash, want, `${key}: stored ziphash`);
  const prefix = `${t.module}@${t.version}/`;
  const hashed = [];
  for (const f of v.files) {
    const data = await store!.readBlob(f.blob);
    assert.equal(data.length, f.size, `${key}/${f.path}: size`);
    hashed.push({ name: prefix + f.path, sha256: createHash('sha256').update(data).digest() });
  }
  assert.equal(hash1(hashed), want, `${key}: h1 of the stored files`);
  assert.ok(v.mod.equals(await fsp.readFile(t.modPath)), `${key}: stored .mod`);
}

async function tmpEntries(): Promise<string[]> {
  return fsp.readdir(path.join(storeDir, 'tmp')).catch(() => []);
}

const pidOf = (name: string) => Number(name.split('-')[0]);

function shuffle<T>(xs: T[]): T[] {
  const a = [...xs];
  for (let i = a.length - 1; i > 0; i--) {
    const j = Math.floor(Math.random() * (i + 1));
    [a[i], a[j]] = [a[j], a[i]];
  }
  return a;
}

/** `stat` of a path on the mount in its own process; resolves when it exits, whatever the outcome. */
function statInChild(p: string): { child: ChildProcess; done: Promise<void> } {
  const child = spawn('stat', ['-c', '%s', p], { stdio: 'ignore' });
  const done = new Promise<void>((resolve) => {
    child.on('exit', () => resolve());
    child.on('error', () => resolve());
  });
  return { child, done };
}

before(async () => {
  tree = await ensureCorpus();
  up = await startProxyServer({ root: tree });
  work = await fsp.mkdtemp(path.join(os.tmpdir(), 'modfs-crash-'));
  mnt = path.join(work, 'mnt');
  storeDir = path.join(work, 'store');
  for (const module of await modulesIn(tree)) {
    for (const version of await versionsIn(tree, module)) {
      const dir = path.join(tree, escapePath(module), '@v');
      targets.push({
        module,
        version,
        dir: `${escapePath(module)}@${escapeVersion(version)}`,
        zipPath: path.join(dir, `${escapeVersion(version)}.zip`),
        modPath: path.join(dir, `${escapeVersion(version)}.mod`),
      });
    }
  }
  // The test reads the store through its own Store. Opening it creates the store (as modfs
  // would) and cleans temporary files once; it is not opened again, so the clean-up checked
  // below is modfs's own.
  store = await Store.open(storeDir);
});

after(async () => {
  if (process.env.MODFS_TEST_DEBUG) process.stderr.write(modfs?.stderr() ?? '');
  await modfs?.stop('SIGKILL');
  await forceUnmount(mnt);
  await store?.close();
  await up?.close();
  await run('chmod', ['-R', 'u+w', work]).catch(() => undefined);
  await fsp.rm(work, { recursive: true, force: true });
  assert.equal(await isMounted(mnt), false, 'no mount is left behind');
});

test(`${ITERATIONS} SIGKILLs during cold fetches leave only complete versions, a clean fsck and no stale temporary files`, async (t) => {
  assert.ok(targets.length >= 20, `${targets.length} corpus versions`);
  const byKey = new Map(targets.map((x) => [`${x.module}@${x.version}`, x]));
  const checked = new Set<string>();
  const deadPids = new Set<number>();
  let leftovers = 0;
  let killedMidFetch = 0;

  for (let i = 0; i < ITERATIONS; i++) {
    modfs = await startModfs(mnt, ['--store', storeDir, '--upstream', up.url, '--log-level', 'error']);
    const pid = modfs.proc.pid!;

    // The previous run's temporary files are gone once the next one has started.
    const stale = (await tmpEntries()).filter((n) => deadPids.has(pidOf(n)));
    assert.deepEqual(stale, [], `iteration ${i}: temporary files of killed processes survived a restart`);

    // Cold fetches of many versions at once (plus a few stored ones), fire-and-forget.
    const stored = await storedZipRefs();
    const cold = shuffle(targets.filter((x) => !stored.has(`${x.module}@${x.version}`))).slice(0, 24);
    const warm = shuffle(targets.filter((x) => stored.has(`${x.module}@${x.version}`))).slice(0, 4);
    const zipsBefore = up.requests.filter((r) => r.path.endsWith('.zip')).length;
    const stats = [...cold, ...warm].map((x) => statInChild(path.join(mnt, x.dir)));

    const delay = 20 + Math.random() * 380;
    await new Promise((r) => setTimeout(r, delay));
    modfs.proc.kill('SIGKILL');
    await new Promise<void>((resolve) => (modfs!.proc.exitCode !== null || modfs!.proc.signalCode !== null ? resolve() : modfs!.proc.once('exit', () => resolve())));
    await forceUnmount(mnt);
    // Lookups still waiting on the dead process fail with ENOTCONN; none may hang.
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([
      Promise.all(stats.map((s) => s.done)),
      new Promise((_, reject) => (timer = setTimeout(() => reject(new Error(`iteration ${i}: stat processes still blocked 10 s after the kill`)), 10000))),
    ]);
    clearTimeout(timer);
    modfs = null;
    deadPids.add(pid);
    const zipsAsked = up.requests.filter((r) => r.path.endsWith('.zip')).length - zipsBefore;

    // Whatever the store shows now is complete and correct.
    await fsck();
    const now = await storedZipRefs();
    for (const key of stored) assert.ok(now.has(key), `iteration ${i}: ${key} disappeared`);
    let fresh = 0;
    for (const key of now) {
      const x = byKey.get(key);
      assert.ok(x, `iteration ${i}: store holds ${key}, which upstream never served`);
      if (checked.has(key)) continue;
      await checkStoredVersion(x);
      checked.add(key);
      fresh++;
    }
    const left = (await tmpEntries()).filter((n) => pidOf(n) === pid).length;
    leftovers += left;
    if (zipsAsked > fresh) killedMidFetch++;
    t.diagnostic(`iteration ${i}: killed after ${delay.toFixed(0)} ms; ${zipsAsked} zips requested, ${fresh} versions completed (${now.size} stored); ${left} temporary files left behind`);
  }
  t.diagnostic(`${checked.size} versions stored; ${killedMidFetch} kills interrupted zip fetches; ${leftovers} temporary files left by killed processes`);
  assert.ok(killedMidFetch > 0, 'at least one kill hit a fetch in flight');
  assert.ok(checked.size > 0, 'at least one version completed across the runs');

  // The go command verifies every stored version (directory and zip against .ziphash) through
  // an offline mount. Its module graph needs every required version's .mod: store them alone.
  for (const x of targets) await store!.putMod(x.module, x.version, await fsp.readFile(x.modPath));
  const verified = targets.filter((x) => checked.has(`${x.module}@${x.version}`));
  const prog = path.join(work, 'verify');
  await fsp.mkdir(prog, { recursive: true });
  await fsp.writeFile(
    path.join(prog, 'go.mod'),
    `module example.org/verify\n\ngo 1.19\n\nrequire (\n${verified.map((x) => `\t${x.module} ${x.version}`).join('\n')}\n)\n`,
  );
  const sums: string[] = [];
  for (const x of targets) {
    sums.push(`${x.module} ${x.version}/go.mod ${hashGoMod(await fsp.readFile(x.modPath))}`);
    if (checked.has(`${x.module}@${x.version}`)) sums.push(`${x.module} ${x.version} ${await zipH1(x)}`);
  }
  await fsp.writeFile(path.join(prog, 'go.sum'), sums.sort().join('\n') + '\n');

  modfs = await startModfs(mnt, ['--store', storeDir, '--offline', '--log-level', 'warn']);
  const stale = (await tmpEntries()).filter((n) => deadPids.has(pidOf(n)));
  assert.deepEqual(stale, [], 'temporary files of killed processes survived the final start');
  let out: { stdout: string; stderr: string };
  try {
    out = await run('go', ['mod', 'verify'], { cwd: prog, env: goEnvFor(work, mnt), maxBuffer: 64 << 20 });
  } catch (err) {
    const e = err as { stdout?: string; stderr?: string; message: string };
    assert.fail(`go mod verify failed: ${e.message}\n${e.stdout ?? ''}\n${e.stderr ?? ''}\n--- modfs ---\n${modfs.stderr()}`);
  }
  assert.match(out.stdout, /all modules verified/);
  assert.equal(await modfs.stop('SIGTERM'), 0);
  modfs = null;
  assert.equal(await isMounted(mnt), false);
  await fsck();
});
