// End to end, real parts only: a real HTTP module proxy on 127.0.0.1 serving the Debian
// corpus, the real modfs CLI mounting with FUSE, and the go command building against it.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { promises as fsp } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { startProxyServer } from '../support/proxy-server.js';
import { ensureCorpus, ensureFixtures } from '../support/corpus.js';
import { CORPUS_IMPORTS, FIXTURE_IMPORTS, goEnvFor, writeProgram } from '../support/program.js';
import { forceUnmount, isMounted, startModfs, type ModfsProcess } from '../support/modfs-process.js';

const run = promisify(execFile);

let work: string;
let mnt: string;
let storeDir: string;
let corpus: Awaited<ReturnType<typeof startProxyServer>>;
let fixtures: Awaited<ReturnType<typeof startProxyServer>>;
let modfs: ModfsProcess | null = null;
let goEnv: NodeJS.ProcessEnv;
let prog: string;

async function go(args: string[], cwd = prog): Promise<{ stdout: string; stderr: string }> {
  try {
    return await run('go', args, { cwd, env: goEnv, maxBuffer: 64 << 20 });
  } catch (err) {
    const e = err as { stderr?: string; stdout?: string; message: string };
    throw new Error(`go ${args.join(' ')} failed: ${e.message}\n${e.stderr ?? ''}\n--- modfs stderr ---\n${modfs?.stderr() ?? ''}`);
  }
}

before(async () => {
  const corpusDir = await ensureCorpus();
  const fixturesDir = await ensureFixtures();
  corpus = await startProxyServer({ root: corpusDir });
  fixtures = await startProxyServer({ root: fixturesDir });
  work = await fsp.mkdtemp(path.join(os.tmpdir(), 'modfs-e2e-'));
  mnt = path.join(work, 'mnt');
  storeDir = path.join(work, 'store');
  prog = path.join(work, 'prog');
  await fsp.mkdir(prog);
  goEnv = goEnvFor(work, mnt);
  await writeProgram(prog, corpusDir, fixturesDir);
});

after(async () => {
  await modfs?.stop('SIGKILL');
  await forceUnmount(mnt);
  await corpus?.close();
  await fixtures?.close();
  // Module files are read-only; make the tree removable.
  await run('chmod', ['-R', 'u+w', work]).catch(() => undefined);
  await fsp.rm(work, { recursive: true, force: true });
  assert.equal(await isMounted(mnt), false, 'no mount is left behind');
});

test('go build, go mod download and go mod verify pass against a cold mount', async () => {
  modfs = await startModfs(mnt, ['--store', storeDir, '--upstream', `${corpus.url},${fixtures.url}`, '--log-level', 'warn']);
  assert.match(modfs.stdout(), /GOMODCACHE=.* GOPROXY=off GOFLAGS=-mod=mod GOTOOLCHAIN=local/);

  await go(['build', '-o', path.join(work, 'prog.bin'), '.']);
  const { stdout } = await run(path.join(work, 'prog.bin'));
  assert.match(stdout, /modfs-ok/);
  assert.match(stdout, /^7$/m, 'toml decoded through the module from the mount');

  const dl = await go(['mod', 'download', '-json', 'all']);
  const records = dl.stdout.split(/\n(?=\{)/).map((s) => JSON.parse(s) as { Path: string; Version: string; Error?: string; Zip?: string; Sum?: string });
  assert.ok(records.length >= CORPUS_IMPORTS.length + FIXTURE_IMPORTS.length, `go mod download listed ${records.length} modules`);
  for (const r of records) {
    assert.equal(r.Error, undefined, `${r.Path}@${r.Version}: ${r.Error}`);
    assert.ok(r.Zip?.startsWith(mnt), `${r.Path}: zip served from the mount`);
    assert.match(r.Sum ?? '', /^h1:/);
  }

  const verify = await go(['mod', 'verify']);
  assert.match(verify.stdout, /all modules verified/);
});

test('the mount is read-only: writes fail with EROFS and the store is unchanged', async () => {
  assert.ok(modfs, 'mounted by the previous test');
  const snapshot = async () =>
    (await run('git', ['--git-dir', path.join(storeDir, 'git'), 'for-each-ref'])).stdout +
    (await run('git', ['--git-dir', path.join(storeDir, 'git'), 'count-objects', '-v'])).stdout;
  const before = await snapshot();
  const versionDir = (await fsp.readdir(path.join(mnt, 'github.com', 'pkg'))).find((n) => n.startsWith('errors@'))!;
  const existing = path.join(mnt, 'github.com', 'pkg', versionDir, 'errors.go');
  const attempts: Array<[string, () => Promise<unknown>]> = [
    ['create at the root', () => fsp.writeFile(path.join(mnt, 'newfile'), 'x')],
    ['create in a module', () => fsp.writeFile(path.join(path.dirname(existing), 'new.go'), 'x')],
    ['create .partial', () => fsp.writeFile(path.join(mnt, 'github.com', 'pkg', versionDir + '.partial'), '')],
    ['create lock', () => fsp.writeFile(path.join(mnt, 'cache', 'download', 'github.com', 'pkg', 'errors', '@v', 'v9.9.9.lock'), '')],
    ['mkdir', () => fsp.mkdir(path.join(mnt, 'cache', 'newdir'))],
    ['overwrite', () => fsp.writeFile(existing, 'x')],
    ['append', () => fsp.appendFile(existing, 'x')],
    ['unlink', () => fsp.unlink(existing)],
    ['rename', () => fsp.rename(existing, existing + '.bak')],
    ['chmod', () => fsp.chmod(existing, 0o777)],
    ['utimes', () => fsp.utimes(existing, new Date(), new Date())],
    ['symlink', () => fsp.symlink('/etc/passwd', path.join(mnt, 'link'))],
    ['truncate', () => fsp.truncate(existing, 0)],
    ['rmdir', () => fsp.rmdir(path.join(mnt, 'github.com', 'pkg', versionDir))],
    ['chown', () => fsp.chown(existing, 1, 1)],
    ['link', () => fsp.link(existing, path.join(path.dirname(existing), 'hard.go'))],
    ['mknod', () => run('mkfifo', [path.join(mnt, 'cache', 'fifo')]).catch((e) => Promise.reject(Object.assign(e, { code: /Read-only/.test(String(e.stderr)) ? 'EROFS' : 'OTHER' })))],
    ['setxattr', () => run('python3', ['-c', 'import os,sys; os.setxattr(sys.argv[1], "user.x", b"1")', existing]).catch((e) => Promise.reject(Object.assign(e, { code: /Read-only/.test(String(e.stderr)) ? 'EROFS' : String(e.stderr).trim() })))],
  ];
  for (const [what, attempt] of attempts) {
    await assert.rejects(attempt(), (e: NodeJS.ErrnoException) => {
      assert.equal(e.code, 'EROFS', `${what}: ${e.code}`);
      return true;
    });
  }
  assert.equal(await snapshot(), before, 'store unchanged');
  assert.match(await fsp.readFile(existing, 'utf8'), /package errors/);
});

test('after unmount, an offline mount of the same store builds again without contacting upstream', async () => {
  assert.ok(modfs);
  assert.equal(await modfs.stop('SIGTERM'), 0, 'SIGTERM unmounts and exits 0');
  assert.equal(await isMounted(mnt), false);
  const requestsBefore = corpus.requests.length + fixtures.requests.length;
  modfs = await startModfs(mnt, ['--store', storeDir, '--offline']);
  await fsp.rm(path.join(work, 'gocache'), { recursive: true, force: true });
  await go(['build', '-o', path.join(work, 'prog2.bin'), '.']);
  const { stdout } = await run(path.join(work, 'prog2.bin'));
  assert.match(stdout, /modfs-ok/);
  assert.equal(corpus.requests.length + fixtures.requests.length, requestsBefore, 'no upstream request during the offline build');
  assert.equal(await modfs.stop('SIGINT'), 0, 'SIGINT unmounts and exits 0');
  modfs = null;
});
