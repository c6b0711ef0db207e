// Runs the real modfs CLI as a child process against a mount point, for end-to-end tests.
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { promises as fsp } from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import { fileURLToPath } from 'node:url';

const run = promisify(execFile);
const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..', '..');
export const MODFS_BIN = path.join(root, 'bin', 'modfs');
export const REPO_ROOT = root;

export interface ModfsProcess {
  proc: ChildProcess;
  mountpoint: string;
  stdout(): string;
  stderr(): string;
  /** SIGTERM and wait; resolves with the exit code */
  stop(signal?: NodeJS.Signals): Promise<number | null>;
}

export async function isMounted(dir: string): Promise<boolean> {
  const text = await fsp.readFile('/proc/self/mountinfo', 'utf8');
  return text.split('\n').some((l) => l.split(' ')[4] === dir);
}

export async function forceUnmount(dir: string): Promise<void> {
  if (await isMounted(dir)) await run('fusermount3', ['-uz', dir]).catch(() => run('umount', ['-l', dir]).catch(() => undefined));
}

export async function startModfs(mountpoint: string, args: string[], env: NodeJS.ProcessEnv = {}): Promise<ModfsProcess> {
  // A stale mount answers ENOTCONN here; modfs itself must recover it.
  await fsp.mkdir(mountpoint, { recursive: true }).catch(() => undefined);
  const proc = spawn(MODFS_BIN, ['mount', mountpoint, ...args], {
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  let err = '';
  proc.stdout!.on('data', (d) => (out += d));
  proc.stderr!.on('data', (d) => (err += d));
  const exited = new Promise<number | null>((resolve) => proc.on('exit', (code) => resolve(code)));
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`modfs did not mount within 20 s\n${err}`)), 20000);
    const check = () => {
      if (out.includes('mounted at')) {
        clearTimeout(timer);
        resolve();
      }
    };
    proc.stdout!.on('data', check);
    exited.then((code) => {
      clearTimeout(timer);
      reject(new Error(`modfs exited with ${code} before mounting\n${err}`));
    });
  });
  return {
    proc,
    mountpoint,
    stdout: () => out,
    stderr: () => err,
    async stop(signal: NodeJS.Signals = 'SIGTERM') {
      if (proc.exitCode !== null || proc.signalCode !== null) return proc.exitCode;
      proc.kill(signal);
      const timer = setTimeout(() => proc.kill('SIGKILL'), 15000);
      const code = await exited;
      clearTimeout(timer);
      return code;
    },
  };
}

/** Runs `fn` against modfs mounted at `mountpoint`; however `fn` ends, the process is killed and the mount removed. */
export async function withModfs<T>(mountpoint: string, args: string[], fn: (m: ModfsProcess) => Promise<T>): Promise<T> {
  const m = await startModfs(mountpoint, args);
  try {
    return await fn(m);
  } finally {
    await m.stop('SIGKILL').catch(() => undefined);
    await forceUnmount(mountpoint);
  }
}

const ERRNO_TEXT: Array<[RegExp, string]> = [
  [/No such file or directory/, 'ENOENT'],
  [/Input\/output error/, 'EIO'],
  [/File name too long/, 'ENAMETOOLONG'],
  [/Transport endpoint is not connected/, 'ENOTCONN'],
  [/Read-only file system/, 'EROFS'],
  [/Is a directory/, 'EISDIR'],
];

/**
 * Runs a command that touches the mount in its own process, as the go command does. Reading
 * the mount from the test process itself could exhaust libuv's thread pool with blocked
 * FUSE calls while the same process must serve the upstream answers they wait for.
 */
export async function inProcess(cmd: string, args: string[]): Promise<string> {
  try {
    return (await run(cmd, args, { maxBuffer: 64 << 20 })).stdout;
  } catch (err) {
    const stderr = String((err as { stderr?: string }).stderr ?? '');
    const code = ERRNO_TEXT.find(([re]) => re.test(stderr))?.[1] ?? 'EUNKNOWN';
    throw Object.assign(new Error(`${cmd} ${args.join(' ')}: ${stderr.trim()}`), { code });
  }
}

export const catFile = (p: string) => inProcess('cat', [p]);
/** "size octal-mode mtime-seconds" */
export const statFile = (p: string) => inProcess('stat', ['-c', '%s %a %Y', p]).then((s) => s.trim());
export const listDir = (p: string) => inProcess('ls', ['-1A', p]).then((s) => s.split('\n').filter(Boolean).sort());
