// The thin skin between fuse-native and Operations: argument order, errno numbers and
// mount options. Every callback answers asynchronously; nothing here blocks.
import Fuse from 'fuse-native';
import { FsError, type Attr, type ErrnoName, type Operations } from './operations.js';

const ERRNO: Record<ErrnoName, number> = {
  ENOENT: Fuse.ENOENT,
  EIO: Fuse.EIO,
  EISDIR: Fuse.EISDIR,
  ENOTDIR: Fuse.ENOTDIR,
};

export interface MountOptions {
  allowOther?: boolean;
  /** seconds the kernel may keep names and attributes */
  entryTimeout?: number;
  attrTimeout?: number;
  /** seconds the kernel may remember a missing name */
  negativeTimeout?: number;
  /** per-operation timeout in ms; first-access fetches may take long */
  opTimeoutMs?: number;
  debug?: boolean;
  log?: (line: string) => void;
}

// fuse-native accepts only a fixed list of options; read-only and the negative-entry
// timeout are appended here.
class ModfsFuse extends Fuse {
  extra: string[] = [];
  override _fuseOptions(): string {
    const base = super._fuseOptions();
    const extra = this.extra.join(',');
    if (!extra) return base;
    return base ? `${base},${extra}` : `-o${extra}`;
  }
}

function toStat(a: Attr) {
  return {
    mode: a.mode,
    size: a.size,
    mtime: a.mtime,
    atime: a.mtime,
    ctime: a.mtime,
    nlink: a.nlink,
    uid: process.getuid?.() ?? 0,
    gid: process.getgid?.() ?? 0,
    blocks: Math.ceil(a.size / 512),
    blksize: 4096,
  };
}

export function createFuse(mountpoint: string, ops: Operations, opts: MountOptions = {}): Fuse {
  const log = opts.log ?? (() => undefined);
  const fail = (cb: (code: number) => void, path: string) => (err: unknown) => {
    // The cause of an EIO was logged once where it happened (fetcher, or operations for
    // internal errors); repeating it per access would flood the log during a lookup storm.
    if (err instanceof FsError) {
      cb(ERRNO[err.errno]);
    } else {
      log(`modfs: ${path}: ${(err as Error)?.stack ?? err}`);
      cb(Fuse.EIO);
    }
  };
  const rofs = (...args: unknown[]) => (args[args.length - 1] as (c: number) => void)(Fuse.EROFS);

  const handlers = {
    getattr: (path: string, cb: (c: number, s?: unknown) => void) =>
      ops.getattr(path).then((a) => cb(0, toStat(a)), fail(cb, path)),
    readdir: (path: string, cb: (c: number, names?: string[]) => void) =>
      ops.readdir(path).then((names) => cb(0, names), fail(cb, path)),
    // No open/release/fgetattr: libfuse answers those itself, without a trip to this thread;
    // the read-only mount option makes the kernel refuse opens for writing with EROFS.
    read: (path: string, _fd: number, buf: Buffer, len: number, pos: number, cb: (n: number) => void) =>
      ops.read(path, buf.subarray(0, len), pos).then((n) => cb(n), fail(cb, path)),
    statfs: (_path: string, cb: (c: number, s?: unknown) => void) =>
      process.nextTick(cb, 0, {
        bsize: 4096, frsize: 4096, blocks: 0, bfree: 0, bavail: 0, files: 0, ffree: 0, favail: 0, fsid: 0, flag: 1, namemax: 255,
      }),
    create: rofs, mkdir: rofs, unlink: rofs, rmdir: rofs, rename: rofs, write: rofs, truncate: rofs,
    ftruncate: rofs, chmod: rofs, chown: rofs, utimens: rofs, symlink: rofs, link: rofs, mknod: rofs,
    setxattr: rofs, removexattr: rofs,
  };

  const fuse = new ModfsFuse(mountpoint, handlers, {
    force: true,
    mkdir: false,
    allowOther: !!opts.allowOther,
    defaultPermissions: true,
    // Content under a version never changes: keep pages across opens unless mtime/size change
    // (only the list file changes, and its mtime with it).
    autoCache: true,
    entryTimeout: opts.entryTimeout ?? 60,
    attrTimeout: opts.attrTimeout ?? 60,
    maxRead: 1 << 20,
    fsname: 'modfs',
    subtype: 'modfs',
    debug: !!opts.debug,
    timeout: opts.opTimeoutMs ?? 10 * 60 * 1000,
  });
  fuse.extra = ['ro', `negative_timeout=${opts.negativeTimeout ?? 1}`];
  return fuse;
}
