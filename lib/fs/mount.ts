// Mount lifecycle: stale-mount recovery, refusing a live mount, clean and lazy unmount.
import { execFile } from 'node:child_process';
import { promises as fsp } from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import { LowlevelMount, type LowlevelOptions } from './fuse-lowlevel.js';
import type { Operations } from './operations.js';

const run = promisify(execFile);

export class MountError extends Error {}

/** Mount entries (from /proc/self/mountinfo) at exactly this path. */
async function mountsAt(dir: string): Promise<string[]> {
  const text = await fsp.readFile('/proc/self/mountinfo', 'utf8').catch(() => '');
  const unescape = (s: string) => s.replace(/\\([0-7]{3})/g, (_, o) => String.fromCharCode(parseInt(o, 8)));
  return text
    .split('\n')
    .filter((l) => l && unescape(l.split(' ')[4] ?? '') === dir)
    .map((l) => l.split(' - ')[1] ?? '');
}

export async function lazyUnmount(dir: string): Promise<void> {
  await run('fusermount3', ['-uz', dir]).catch(() => run('umount', ['-l', dir]));
}

export type MountOptions = LowlevelOptions;

/**
 * Prepares a mount point: a stale FUSE mount left by a killed process ("Transport endpoint
 * is not connected") is removed; a live mount is refused.
 */
export async function prepareMountpoint(dir: string): Promise<string> {
  const abs = path.resolve(dir);
  const existing = await mountsAt(abs);
  if (existing.length) {
    let stale = false;
    try {
      await fsp.stat(abs);
    } catch (e) {
      stale = ['ENOTCONN', 'ECONNABORTED', 'EIO'].includes((e as NodeJS.ErrnoException).code ?? '');
      if (!stale) throw e;
    }
    if (!stale) throw new MountError(`${abs} is already a mount point (${existing[0].split(' ')[0]}); unmount it first`);
    await lazyUnmount(abs);
  }
  let st;
  try {
    st = await fsp.stat(abs);
  } catch {
    throw new MountError(`mount point ${abs} does not exist`);
  }
  if (!st.isDirectory()) throw new MountError(`mount point ${abs} is not a directory`);
  return abs;
}

export interface Mounted {
  mountpoint: string;
  /** kernel requests answered, by kind */
  readonly counts: LowlevelMount['counts'];
  unmount(): Promise<void>;
}

export async function mountOperations(dir: string, ops: Operations, opts: MountOptions = {}): Promise<Mounted> {
  const mountpoint = await prepareMountpoint(dir);
  let m: LowlevelMount;
  try {
    m = new LowlevelMount(mountpoint, ops, opts);
  } catch (err) {
    throw new MountError(`cannot mount ${mountpoint}: ${(err as Error).message}`);
  }
  let done: Promise<void> | null = null;
  return {
    mountpoint,
    get counts() {
      return m.counts;
    },
    // Detaches at once; a build that still has files open keeps reading them until it closes them.
    unmount: () => (done ??= m.unmount()),
  };
}
