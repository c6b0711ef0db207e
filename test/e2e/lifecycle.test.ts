// Process lifecycle of `modfs mount`: SIGTERM/SIGINT while files are open or a build is
// reading, mount options (read-only, allow_other only when asked), --help and argument
// errors. (Recovery of a stale mount at start is in mount-behaviour.test.ts.)
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { promises as fsp } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { startProxyServer, type ProxyServer } from '../support/proxy-server.js';
import { ensureCorpus } from '../support/corpus.js';
import { goEnvFor, writeProgram } from '../support/program.js';
import { catFile, forceUnmount, inProcess, isMounted, MODFS_BIN, startModfs, type ModfsProcess } from '../support/modfs-process.js';

const run = promisify(execFile);

let work: string;
let corpusDir: string;
let up: ProxyServer;
const procs: ModfsProcess[] = [];
const mounts: string[] = [];
const helpers: ChildProcess[] = [];

/** The mountinfo entry at `dir`: per-mount options, file system type, super-block options. */
async function mountEntry(dir: string): Promise<{ mountOpts: string[]; fstype: string; superOpts: string[] } | null> {
  const text = await fsp.readFile('/proc/self/mountinfo', 'utf8');
  const line = text.split('\n').find((l) => l.split(' ')[4] === dir);
  if (!line) return null;
  const [left, right] = line.split(' - ');
  const [fstype, , superOpts] = right.split(' ');
  return { mountOpts: left.split(' ')[5].split(','), fstype, superOpts: superOpts.split(',') };
}

async function mount(name: string, args: string[]): Promise<ModfsProcess> {
  const mnt = path.join(work, name);
  if (!mounts.includes(mnt)) mounts.push(mnt);
  const p = await startModfs(mnt, ['--store', path.join(work, 'store'), ...args]);
  procs.push(p);
  return p;
}

/** Runs the CLI to completion; a hung process is killed after 15 s. */
function cli(args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const p = spawn(MODFS_BIN, [...args], { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, XDG_CACHE_HOME: path.join(work, 'xdg') } });
    let stdout = '';
    let stderr = '';
    p.stdout.on('data', (d) => (stdout += d));
    p.stderr.on('data', (d) => (stderr += d));
    const timer = setTimeout(() => p.kill('SIGKILL'), 15000);
    p.on('exit', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}

async function waitFor(what: string, cond: () => Promise<boolean> | boolean, ms = 15000): Promise<void> {
  const until = Date.now() + ms;
  while (!(await cond())) {
    if (Date.now() > until) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

function exited(p: ChildProcess): Promise<number | null> {
  if (p.exitCode !== null || p.signalCode !== null) return Promise.resolve(p.exitCode);
  return new Promise((resolve) => p.once('exit', (code) => resolve(code)));
}

before(async () => {
  corpusDir = await ensureCorpus();
  up = await startProxyServer({ root: corpusDir });
  work = await fsp.mkdtemp(path.join(os.tmpdir(), 'modfs-life-'));
});

after(async () => {
  if (process.env.MODFS_TEST_DEBUG) for (const p of procs) process.stderr.write(p.stderr());
  for (const h of helpers) {
    // Helpers run in their own process group (go build starts compilers): end the group.
    if (h.exitCode === null && h.signalCode === null && h.pid) {
      try {
        process.kill(-h.pid, 'SIGKILL');
      } catch {
        h.kill('SIGKILL');
      }
    }
  }
  for (const p of procs) await p.stop('SIGKILL');
  for (const m of mounts) await forceUnmount(m);
  await up?.close();
  await run('chmod', ['-R', 'u+w', work]).catch(() => undefined);
  await fsp.rm(work, { recursive: true, force: true });
  for (const m of mounts) assert.equal(await isMounted(m), false, `${m} is left mounted`);
});

test('--help exits 0 and lists the mount command; mount --help lists its options', async () => {
  const top = await cli(['--help']);
  assert.equal(top.code, 0, top.stderr);
  assert.match(top.stdout, /modfs mount <mountpoint>/);
  const sub = await cli(['mount', '--help']);
  assert.equal(sub.code, 0, sub.stderr);
  for (const opt of ['--store', '--upstream', '--offline', '--allow-other', '--log-level', '--timeout']) assert.match(sub.stdout, new RegExp(opt));
});

test('invalid arguments exit non-zero with a message and mount nothing', async () => {
  const dir = path.join(work, 'argmnt');
  await fsp.mkdir(dir, { recursive: true });
  const file = path.join(work, 'a-file');
  await fsp.writeFile(file, 'x');
  const store = ['--store', path.join(work, 'argstore')];
  const cases: Array<[string[], number, RegExp]> = [
    [[], 2, /name a command/],
    [['bogus'], 2, /Unknown argument: bogus/],
    [['mount'], 2, /Not enough non-option arguments/],
    [['mount', dir, '--bogus', ...store], 2, /Unknown argument: bogus/],
    [['mount', dir, '--log-level', 'loud', ...store], 2, /Invalid values[\s\S]*log-level/],
    [['mount', dir, '--timeout', 'soon', ...store], 2, /--timeout must be a positive number/],
    [['mount', dir, '--negative-ttl', '-1', ...store], 2, /--negative-ttl must be a non-negative number/],
    [['mount', dir, '--blob-cache-mb', 'lots', ...store], 2, /--blob-cache-mb must be a positive number/],
    [['mount', path.join(work, 'no-such-dir'), '--offline', ...store], 1, /mount point .*no-such-dir does not exist/],
    [['mount', file, '--offline', ...store], 1, /mount point .*a-file is not a directory/],
  ];
  const results = await Promise.all(cases.map(([args]) => cli(args)));
  cases.forEach(([args, code, re], i) => {
    const r = results[i];
    assert.equal(r.code, code, `modfs ${args.join(' ')}: exit ${r.code}\n${r.stderr}`);
    assert.match(r.stderr, re, `modfs ${args.join(' ')}`);
    assert.doesNotMatch(r.stderr, /^\s+at /m, `modfs ${args.join(' ')}: a message, not a stack trace`);
  });
  assert.equal(await isMounted(dir), false);
});

test('the mount is read-only with default_permissions, and allow_other only with --allow-other', async () => {
  const plain = await mount('opts', ['--offline', '--log-level', 'warn']);
  const e = await mountEntry(plain.mountpoint);
  assert.ok(e, 'mounted');
  assert.equal(e.fstype, 'fuse.modfs');
  assert.ok(e.mountOpts.includes('ro'), `mount options ${e.mountOpts}`);
  assert.ok(e.superOpts.includes('ro'), `super options ${e.superOpts}`);
  assert.ok(e.superOpts.includes('default_permissions'), `super options ${e.superOpts}`);
  assert.ok(!e.superOpts.includes('allow_other'), `allow_other without --allow-other: ${e.superOpts}`);
  await assert.rejects(inProcess('touch', [path.join(plain.mountpoint, 'new-file')]), { code: 'EROFS' });
  await assert.rejects(inProcess('mkdir', [path.join(plain.mountpoint, 'new-dir')]), { code: 'EROFS' });
  assert.equal(await plain.stop('SIGTERM'), 0);

  const other = await mount('opts', ['--offline', '--allow-other', '--log-level', 'warn']);
  const e2 = await mountEntry(other.mountpoint);
  assert.ok(e2, 'mounted with --allow-other');
  assert.ok(e2.superOpts.includes('allow_other'), `super options ${e2.superOpts}`);
  assert.ok(e2.mountOpts.includes('ro'));
  assert.equal(await other.stop('SIGTERM'), 0);
  assert.equal(await isMounted(other.mountpoint), false);
});

test('SIGTERM while a reader holds a file open: modfs unmounts (lazily), exits 0 and leaves no mount', async () => {
  const m = await mount('held', ['--upstream', up.url, '--log-level', 'info']);
  const file = path.join(m.mountpoint, 'github.com/pkg/errors@v0.9.1/errors.go');
  assert.match(await catFile(file), /package errors/);
  // The shell opens the file as stdin and becomes `sleep`: one process holding it open.
  const holder = spawn('sh', ['-c', 'exec sleep 30 < "$1"', 'sh', file], { stdio: 'ignore', detached: true });
  helpers.push(holder);
  await waitFor('the reader to hold the file', async () => (await fsp.readlink(`/proc/${holder.pid}/fd/0`).catch(() => '')) === file);

  const t0 = Date.now();
  const code = await m.stop('SIGTERM');
  assert.equal(code, 0, m.stderr());
  assert.ok(Date.now() - t0 < 10000, `exit took ${Date.now() - t0} ms: modfs must not wait for the reader`);
  assert.equal(await isMounted(m.mountpoint), false, 'the mount point is no longer mounted');
  assert.match(m.stderr(), /SIGTERM: unmounting/);
  assert.match(m.stderr(), /unmounted; served/);
  assert.equal(holder.exitCode, null, 'the reader was not killed by the unmount');
  holder.kill('SIGKILL');
  await exited(holder);
});

test('SIGINT while go build reads from a cold mount: modfs unmounts, exits 0, and the build fails instead of hanging', async () => {
  const m = await mount('build', ['--upstream', up.url, '--log-level', 'info']);
  const prog = path.join(work, 'prog');
  await writeProgram(prog, corpusDir);
  const build = spawn('go', ['build', '-o', path.join(work, 'prog.bin'), '.'], {
    cwd: prog,
    env: goEnvFor(work, m.mountpoint),
    stdio: ['ignore', 'ignore', 'pipe'],
    detached: true,
  });
  helpers.push(build);
  let buildErr = '';
  build.stderr!.on('data', (d) => (buildErr += d));
  // Interrupt once the build is fetching module zips through the mount.
  await waitFor('go build to read from the mount', () => up.requests.filter((r) => r.path.endsWith('.zip')).length >= 3 || build.exitCode !== null);
  assert.equal(build.exitCode, null, `go build finished before the interrupt: ${buildErr}`);

  const t0 = Date.now();
  const code = await m.stop('SIGINT');
  assert.equal(code, 0, m.stderr());
  assert.ok(Date.now() - t0 < 10000, `exit took ${Date.now() - t0} ms`);
  assert.equal(await isMounted(m.mountpoint), false, 'the mount point is no longer mounted');
  assert.match(m.stderr(), /SIGINT: unmounting/);

  let timer: NodeJS.Timeout | undefined;
  const buildCode = await Promise.race([exited(build), new Promise<'hung'>((r) => (timer = setTimeout(() => r('hung'), 20000)))]);
  clearTimeout(timer);
  assert.notEqual(buildCode, 'hung', 'go build hangs after modfs exited');
  assert.notEqual(buildCode, 0, 'go build cannot succeed without its module cache');
});
