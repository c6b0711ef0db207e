// The skin between the kernel's FUSE requests (libfuse 3 low-level, lib/fs/native) and
// Operations: inode numbers for paths, errno numbers, directory entry encoding, timeouts.
// Requests arrive in batches; every one is answered exactly once, asynchronously.
import { createRequire } from 'node:module';
import os from 'node:os';
import { FsError, type Attr, type FileRef, type Operations } from './operations.js';
import { ReadAhead } from './read-ahead.js';
import { readAheadBytes } from '../gomod/index.js';
import { LRUCache } from 'lru-cache';

interface Binding {
  mount(
    mountpoint: string,
    options: string,
    debug: boolean,
    onRequests: (f: Float64Array, names: (string | undefined)[], n: number) => void,
    absentTimeout: number,
  ): Session;
  replyEntry(s: Session, id: number, ino: number, mode: number, size: number, mtimeMs: number, nlink: number, entryTimeout: number, attrTimeout: number): void;
  replyAttr(s: Session, id: number, ino: number, mode: number, size: number, mtimeMs: number, nlink: number, attrTimeout: number): void;
  replyBuf(s: Session, id: number, buf: Buffer, length: number): void;
  replyErr(s: Session, id: number, errno: number): void;
  notifyStore(s: Session, ino: number, offset: number, buf: Buffer, length: number, whole: boolean, dirIno: number): boolean;
  /** (start, end, ino, dirIno, bytes from the file's start to push) per file in items; result 1 taken, 0 refused, -1 not a good blob entry */
  pushFromPack(s: Session, fd: number, from: number, length: number, items: Float64Array, result: Int32Array): Promise<void>;
  setListing(s: Session, dirIno: number, buf: Buffer, starts: Uint32Array): boolean;
  /** followed by an OP.DROPPED of it */
  dropListing(s: Session, dirIno: number): void;
  /** JS answered a page of the prepared listing: its staged pushes go */
  listingAnswered(s: Session, dirIno: number): void;
  /** [pushes the kernel took, lookups answered in C, reads answered in C from pushed content, listing pages (readdir and readdirplus) answered in C] */
  counters(s: Session): [number, number, number, number, number];
  stopStore(s: Session): boolean;
  trimMemory(): boolean;
  unmount(s: Session): void;
  destroy(s: Session): void;
  VOLATILE_BIT: number;
  NO_GOMOD_BIT: number;
}
type Session = { readonly __session: unique symbol };

let binding: Binding | null = null;
function loadBinding(): Binding {
  // Built by `make build` from lib/fs/native/fuse_lowlevel.c next to this file's output.
  binding ??= createRequire(import.meta.url)('./native/modfs_fuse.node') as Binding;
  return binding;
}

const OP = { LOOKUP: 1, GETATTR: 2, READ: 3, READDIR: 4, READDIRPLUS: 5, FORGET: 6, ENDED: 7, LISTED: 8, DROPPED: 9, LOOKED_UP: 10 } as const;
const FIELDS = 5;
const ROOT = 1;
const E = os.constants.errno;
const DT_DIR = 4;
const DT_REG = 8;
const DT_UNKNOWN = 0;
/** what libfuse's high-level API puts in d_ino when it has no number: never 0 (Go skips those) */
const UNKNOWN_INO = 0xffffffff;

export interface LowlevelOptions {
  allowOther?: boolean;
  /** seconds the kernel may keep names and attributes of content that never changes */
  entryTimeout?: number;
  attrTimeout?: number;
  /** seconds the kernel may remember a missing name */
  negativeTimeout?: number;
  debug?: boolean;
  /**
   * Files up to this many bytes in a directory listed inside a version are put into the
   * kernel's page cache right after the listing (0: never).
   */
  prefetchMaxBytes?: number;
  /**
   * While requests keep coming, memory that was freed is handed back to the system this
   * often, in ms (0: never): glibc keeps it otherwise.
   */
  trimIntervalMs?: number;
  log?: (line: string) => void;
}

interface Inode {
  ino: number;
  path: string;
  nlookup: number;
  /** prepared listings that name it: C may hand it to the kernel until they are dropped */
  pins?: number;
}

const align8 = (n: number) => (n + 7) & ~7;

/**
 * A 64-bit little-endian integer (two's complement) from a safe integer, as two 32-bit
 * halves: a BigInt per field cost a readdirplus page a dozen allocations per entry.
 */
function put64(out: Buffer, v: number, at: number): void {
  const high = Math.floor(v / 0x100000000);
  out.writeUInt32LE(v - high * 0x100000000, at);
  out.writeInt32LE(high, at + 4);
}
const PREFETCH_IN_FLIGHT = 4;
/** batches waiting; a batch holds up to PREFETCH_BATCH_BYTES of one listing's files */
const PREFETCH_QUEUE = 2000;
const PREFETCH_BATCH_BYTES = 512 << 10;
/** listings prepared ahead for C to answer (see prepareListings), and how long one is kept */
const PREPARED_MAX = 4096;
const PREPARED_TTL_MS = 5_000;
/** bytes of files read ahead to wait in C for their listings (C refuses more than twice this) */
const STAGE_BUDGET = 8 << 20;

/** a child's attributes, and inside a version its stored file */
type Kid = { attr: Attr; file: FileRef | null };

interface Prepared {
  at: number;
  /** the listing's entries: inodes and what they are */
  nodes: (Inode | null)[];
  kids: (Kid | null)[];
  /** its files' read-ahead batches not started yet */
  batches: PrefetchJob[][];
  /** the read-ahead group its batches go to: the listing that made it prepared */
  group: AheadGroup;
  /** bytes of its files counted against STAGE_BUDGET, until it is listed or dropped */
  staged: number;
  /** its files are read ahead (else read once it is listed) */
  readAhead: boolean;
  /** dropListing was called; OP.DROPPED has not come yet */
  dropping?: boolean;
  /** the whole answer, once handed to C */
  built?: { buf: Buffer; starts: Uint32Array };
  /** requests for it that reached JS while it was being built: run again once built or dropped */
  waiters?: (() => void)[];
}

/** read-ahead batches for the subdirectories of one listing, in listing order */
interface AheadGroup {
  batches: PrefetchJob[][];
  stacked: boolean;
}

interface PrefetchJob {
  ino: number;
  path: string;
  file: FileRef;
  /** the directory of a prepared listing whose answer the push waits for (0: none) */
  dirIno: number;
  /** bytes pushed from the file's start: all of it, or the head that go's module index reads */
  bytes: number;
}

export class LowlevelMount {
  private readonly requests = { lookup: 0, getattr: 0, read: 0, readdir: 0, readdirplus: 0, forget: 0 };
  private readonly b = loadBinding();
  private readonly session: Session;
  private readonly byIno = new Map<number, Inode>();
  private readonly byPath = new Map<string, Inode>();
  private nextIno = 2;
  private ended = false;
  /** no more page pushes: the process is about to exit with the mount still in use */
  private stopping = false;
  private readonly endWaiters: (() => void)[] = [];
  private readonly log: (line: string) => void;
  private readonly entryTimeout: number;
  private readonly attrTimeout: number;
  private readonly negativeTimeout: number;
  /** files up to this size are pushed into the page cache unasked (see prefetch) */
  private readonly prefetchMax: number;
  private readonly uid = process.getuid?.() ?? 0;
  private readonly gid = process.getgid?.() ?? 0;
  private readonly prefetchQueue: PrefetchJob[][] = [];
  /**
   * Read-ahead waiting, newest listing's group on top: go walks depth first, so the
   * subdirectories of what it listed last are what it lists next.
   */
  private readonly aheadGroups: AheadGroup[] = [];
  private prefetching = 0;
  /** listings handed to C, by directory inode (insertion order is age) */
  private readonly prepared = new Map<number, Prepared>();
  /** directories inside versions whose listing the kernel has had, by inode */
  private readonly listedDirs = new Set<number>();
  /** bytes of read-ahead reserved or waiting in C (see STAGE_BUDGET) */
  private stagedBytes = 0;
  /** requests not yet answered: each is answered exactly once, by its work or by the stop */
  private readonly pending = new Set<number>();
  /** request batches received, and how many there had been at the last trim */
  private batches = 0;
  private batchesAtTrim = 0;
  private trims = 0;
  /** prefetched files pushed in part: the heads of source files too large to push whole */
  private headsTaken = 0;
  private readonly trimmer: NodeJS.Timeout | null;
  /** .zip files being read front to back, by path: a few at a time, each holding a few MiB */
  private readonly aheads = new LRUCache<string, ReadAhead>({ max: 4 });

  constructor(
    readonly mountpoint: string,
    private readonly ops: Operations,
    private readonly opts: LowlevelOptions = {},
  ) {
    this.log = opts.log ?? (() => undefined);
    this.entryTimeout = opts.entryTimeout ?? 60;
    this.attrTimeout = opts.attrTimeout ?? 60;
    this.negativeTimeout = opts.negativeTimeout ?? 1;
    this.prefetchMax = opts.prefetchMaxBytes ?? 256 << 10;
    const root: Inode = { ino: ROOT, path: '/', nlookup: 1 };
    this.byIno.set(ROOT, root);
    this.byPath.set('/', root);
    // `ro` makes the kernel refuse every write with EROFS before asking us.
    const options = ['ro', 'fsname=modfs', 'subtype=modfs', 'default_permissions', ...(opts.allowOther ? ['allow_other'] : [])];
    // Lookups of names that cannot exist (go.mod below a version's root, download locks)
    // are answered in C: go asks for a go.mod in every directory it indexes.
    this.session = this.b.mount(mountpoint, options.join(','), !!opts.debug, (f, names, n) => this.onRequests(f, names, n), this.entryTimeout);
    // Ingest and reads free many short-lived buffers, which glibc keeps in its arenas: after
    // the corpus's 52 versions were ingested, one malloc_trim gave back 35 MB of the resident
    // set. A trim takes 0.03-3 ms on a pool thread; an idle mount never does one.
    const every = opts.trimIntervalMs ?? 100;
    this.trimmer =
      every > 0
        ? setInterval(() => {
            if (this.batches === this.batchesAtTrim) return;
            this.batchesAtTrim = this.batches;
            if (this.b.trimMemory()) this.trims++;
          }, every).unref()
        : null;
  }

  /**
   * Kernel requests answered here, by kind; answered in C: lookups of names that cannot exist,
   * reads of files whose push into the page cache had not landed yet, and pages (readdir or
   * readdirplus) and lookups from prepared listings; files the kernel took into its page
   * cache ahead of a read, and the pushes that were only a file's head; memory trims started.
   */
  get counts(): LowlevelMount['requests'] & { absent: number; readsFromPushes: number; pagesListed: number; lookupsListed: number; prefetched: number; heads: number; trims: number } {
    const [prefetched, absent, readsFromPushes, pagesListed, lookupsListed] = this.b.counters(this.session);
    return { ...this.requests, absent, readsFromPushes, pagesListed, lookupsListed, prefetched, heads: this.headsTaken, trims: this.trims };
  }

  /** Detaches the mount; resolves when the kernel has let go, or after `graceMs` if files are still open. */
  async unmount(graceMs = 1000): Promise<void> {
    if (this.ended) return;
    this.b.unmount(this.session);
    await new Promise<void>((resolve) => {
      const t = setTimeout(resolve, graceMs);
      this.endWaiters.push(() => {
        clearTimeout(t);
        resolve();
      });
    });
    if (this.ended) return;
    // Files are still open and the process is about to exit. A page push waiting on a page
    // lock held by a pending read would then never return, and the exit would hang in the
    // kernel: stop pushing, and keep answering reads until the pushing thread has stopped.
    this.stopping = true;
    // A push may be waiting on a page lock that a pending read holds until it is answered.
    for (const id of this.pending) this.b.replyErr(this.session, id, E.EIO);
    this.pending.clear();
    const until = Date.now() + graceMs;
    while (!this.b.stopStore(this.session) && Date.now() < until) await new Promise((r) => setTimeout(r, 5));
  }

  private onRequests(f: Float64Array, names: (string | undefined)[], n: number): void {
    this.batches++;
    for (let i = 0; i < n; i++) {
      const at = i * FIELDS;
      const op = f[at];
      const id = f[at + 1];
      const ino = f[at + 2];
      if (op === OP.LISTED || op === OP.LOOKED_UP || op === OP.DROPPED) {
        if (op === OP.DROPPED) this.onDropped(ino);
        else this.onListed(ino, f[at + 3], f[at + 4], op === OP.LISTED);
        continue;
      }
      if (op !== OP.FORGET && op !== OP.ENDED) {
        // About to exit: answer at once rather than start work that may outlive the process.
        if (this.stopping) {
          this.b.replyErr(this.session, id, E.EIO);
          continue;
        }
        this.pending.add(id);
      }
      switch (op) {
        case OP.LOOKUP:
          this.requests.lookup++;
          this.lookup(id, ino, names[i]!);
          break;
        case OP.GETATTR:
          this.requests.getattr++;
          this.getattr(id, ino);
          break;
        case OP.READ:
          this.requests.read++;
          this.read(id, ino, f[at + 3], f[at + 4]);
          break;
        case OP.READDIR:
        case OP.READDIRPLUS:
          this.requests[op === OP.READDIRPLUS ? 'readdirplus' : 'readdir']++;
          this.readdir(id, ino, f[at + 3], f[at + 4], op === OP.READDIRPLUS);
          break;
        case OP.FORGET:
          this.requests.forget++;
          this.forget(ino, f[at + 4]);
          break;
        case OP.ENDED:
          this.onEnded(f[at + 4]);
          break;
      }
    }
  }

  private onEnded(code: number): void {
    if (this.ended) return;
    this.ended = true;
    if (this.trimmer) clearInterval(this.trimmer);
    this.b.destroy(this.session);
    if (code) this.log(`modfs: FUSE session of ${this.mountpoint} ended with error ${code}`);
    for (const w of this.endWaiters.splice(0)) w();
  }

  // ---- inodes ----

  /** `inVersion`: the path's parent is a directory inside a version, which decides its class. */
  private inodeFor(path: string, mode: number, inVersion = false): Inode {
    let node = this.byPath.get(path);
    if (!node) {
      const isDir = (mode & 0o170000) === 0o040000;
      const kind = inVersion ? (isDir ? 'no-go-mod' : 'fixed') : this.ops.inodeClass(path, isDir);
      const bits = kind === 'volatile' ? this.b.VOLATILE_BIT : kind === 'no-go-mod' ? this.b.NO_GOMOD_BIT : 0;
      const ino = this.nextIno++ + bits;
      node = { ino, path, nlookup: 0 };
      this.byPath.set(path, node);
      this.byIno.set(ino, node);
    }
    return node;
  }

  private forget(ino: number, n: number): void {
    const node = this.byIno.get(ino);
    if (!node || ino === ROOT) return;
    node.nlookup -= n;
    this.release(node);
  }

  /** An inode the kernel holds no lookup of, and no prepared listing names, is let go. */
  private release(node: Inode): void {
    if (node.nlookup > 0 || node.pins || this.byIno.get(node.ino) !== node) return;
    this.byIno.delete(node.ino);
    this.listedDirs.delete(node.ino);
    if (this.byPath.get(node.path) === node) this.byPath.delete(node.path);
  }

  private pathOf(id: number, ino: number): string | null {
    const node = this.byIno.get(ino);
    if (node) return node.path;
    this.log(`modfs: request for unknown inode ${ino}`);
    if (this.pending.delete(id)) this.b.replyErr(this.session, id, E.ESTALE);
    return null;
  }

  /**
   * Names never go away, and directories' attributes never change. A volatile file (a list
   * file) keeps no attributes, so every read asks for its size and mtime first and the kernel
   * drops its pages when they changed: without open requests that is the only moment to tell.
   */
  private timeouts(ino: number, mode: number): [number, number] {
    const changing = ino >= this.b.VOLATILE_BIT && (mode & 0o170000) !== 0o040000;
    return [this.entryTimeout, changing ? 0 : this.attrTimeout];
  }

  private fail(id: number, path: string, err: unknown): void {
    if (!this.pending.delete(id)) return;
    if (err instanceof FsError) {
      this.b.replyErr(this.session, id, E[err.errno]);
    } else {
      this.log(`modfs: ${path}: ${(err as Error)?.stack ?? err}`);
      this.b.replyErr(this.session, id, E.EIO);
    }
  }

  // ---- requests ----

  private lookup(id: number, parent: number, name: string): void {
    const dir = this.pathOf(id, parent);
    if (dir === null) return;
    const path = dir === '/' ? '/' + name : dir + '/' + name;
    this.ops.getattr(path).then(
      (a) => {
        if (!this.pending.delete(id)) return;
        const node = this.inodeFor(path, a.mode);
        node.nlookup++;
        const [entry, attr] = this.timeouts(node.ino, a.mode);
        // Staged before the answer: C answers the read that follows it at once.
        if (a.data && node.ino < this.b.VOLATILE_BIT && a.data.length <= this.prefetchMax) this.push(node.ino, a.data);
        this.b.replyEntry(this.session, id, node.ino, a.mode, a.size, a.mtime.getTime(), a.nlink, entry, attr);
        // A version's root is looked up before it is walked; a stat alone must not read its files.
        if (node.ino < this.b.VOLATILE_BIT && (a.mode & 0o170000) === 0o040000) this.prepareListings([node], [{ attr: a, file: null }], false);
      },
      (err) => {
        // A negative entry lets the kernel answer repeated misses itself.
        if (err instanceof FsError && err.errno === 'ENOENT' && this.negativeTimeout > 0) {
          if (this.pending.delete(id)) this.b.replyEntry(this.session, id, 0, 0, 0, 0, 0, this.negativeTimeout, 0);
        } else this.fail(id, path, err);
      },
    );
  }

  private push(ino: number, data: Buffer): void {
    if (!this.ended && !this.stopping) this.b.notifyStore(this.session, ino, 0, data, data.length, true, 0);
  }

  private getattr(id: number, ino: number): void {
    const path = this.pathOf(id, ino);
    if (path === null) return;
    this.ops.getattr(path).then(
      (a) => this.pending.delete(id) && this.b.replyAttr(this.session, id, ino, a.mode, a.size, a.mtime.getTime(), a.nlink, this.timeouts(ino, a.mode)[1]),
      (err) => this.fail(id, path, err),
    );
  }

  private read(id: number, ino: number, pos: number, size: number): void {
    const path = this.pathOf(id, ino);
    if (path === null) return;
    // A .zip read from its start is read ahead (go mod verify, and anything serving the cache
    // as a proxy, read it whole). Large stored files are not: their unpack already runs ahead
    // of the reader, and pieces pushed on top of it made a cold 64 KiB-read pass over x/text's
    // 5.4 MB date/tables.go slower (300 -> 230 MB/s).
    const ahead = this.aheads.get(path)?.read(pos, size) ?? (pos === 0 && ino < this.b.VOLATILE_BIT && this.ops.isArchive(path) ? this.startAhead(path, pos, size) : null);
    const done = ahead
      ? ahead.then((b) => b ?? this.readDirect(path, pos, size))
      : this.readDirect(path, pos, size);
    done.then(
      (b) => this.pending.delete(id) && this.b.replyBuf(this.session, id, b, b.length),
      (err) => this.fail(id, path, err),
    );
  }

  private async readDirect(path: string, pos: number, size: number): Promise<Buffer> {
    const buf = Buffer.allocUnsafe(size);
    return buf.subarray(0, await this.ops.read(path, buf, pos));
  }

  /** Reads ahead of a reader from `pos` on, in pieces pushed into the page cache. */
  private async startAhead(path: string, pos: number, size: number): Promise<Buffer | null> {
    let ahead = this.aheads.get(path);
    if (!ahead) {
      const total = (await this.ops.getattr(path)).size;
      const make = async (at: number, length: number) => {
        const out = Buffer.allocUnsafe(length);
        const n = await this.ops.read(path, out, at, { cache: false });
        if (n !== length) throw new Error(`${path}: read ${n} bytes at ${at}, expected ${length}`);
        return out;
      };
      const push = (at: number, data: Buffer) => {
        const ino = this.byPath.get(path)?.ino;
        if (ino !== undefined && !this.ended && !this.stopping) this.b.notifyStore(this.session, ino, at, data, data.length, false, 0);
      };
      ahead = new ReadAhead(total, make, push);
      this.aheads.set(path, ahead);
    }
    ahead.begin(pos);
    return (await ahead.read(pos, size)) ?? null;
  }

  /**
   * Entries from index `off` that fit in `size` bytes; each entry's offset is the index of
   * the next. Inside a version (content that never changes) entries carry attributes
   * (readdirplus), which spares the kernel a lookup per file; elsewhere they do not, since
   * looking at a version directory's attributes would fetch it.
   */
  private readdir(id: number, ino: number, off: number, size: number, plus: boolean): void {
    const path = this.pathOf(id, ino);
    if (path === null) return;
    const immutable = ino < this.b.VOLATILE_BIT;
    // A listing being prepared (go lists a directory the moment its lookup returns), or
    // prepared after the request passed C: answered from it rather than built twice, and C
    // answers the pages after it.
    const prepared = plus && immutable ? this.prepared.get(ino) : undefined;
    if (prepared && !prepared.dropping) {
      if (prepared.built) this.pageFromPrepared(id, ino, prepared.built, off, size);
      else (prepared.waiters ??= []).push(() => this.readdir(id, ino, off, size, plus));
      return;
    }
    (async () => {
      const names = await this.ops.readdir(path);
      const head = plus ? 152 : 24;
      let end = off;
      for (let used = 0; end < names.length; end++) {
        used += align8(head + Buffer.byteLength(names[end]));
        if (used > size) break;
      }
      const fit = names.slice(off, end);
      // Attributes where they are cheap and fixed: for the d_type, and for readdirplus.
      const kids = immutable ? await this.ops.childEntries(path, fit) : fit.map(() => null);
      const page = this.encodeEntries(path, fit, kids, off, plus, true);
      if (!this.pending.delete(id)) return;
      this.b.replyBuf(this.session, id, page.buf, page.buf.length);
      if (plus && immutable) this.listed(ino, page.nodes, kids);
    })().catch((err) => this.fail(id, path, err));
  }

  /** A page of a prepared listing, answered here as C would have: entries from `off` that fit in `size` bytes. */
  private pageFromPrepared(id: number, ino: number, built: { buf: Buffer; starts: Uint32Array }, off: number, size: number): void {
    const { buf, starts } = built;
    const n = starts.length - 1;
    const from = Math.min(off, n);
    let to = from;
    while (to < n && starts[to + 1] - starts[from] <= size) to++;
    if (!this.pending.delete(id)) return;
    this.b.replyBuf(this.session, id, buf.subarray(starts[from], starts[to]), starts[to] - starts[from]);
    this.b.listingAnswered(this.session, ino);
    if (to > from) this.onListed(ino, from, to - from, true);
  }

  /**
   * Directory entries as the kernel reads them (struct fuse_direntplus or fuse_dirent), the
   * first with index `off`; `starts` holds each entry's byte offset and the end. With
   * `count`, the kernel is being told: each entry with attributes adds a lookup to its inode.
   */
  private encodeEntries(
    dir: string,
    names: string[],
    kids: (Kid | null)[],
    off: number,
    plus: boolean,
    count: boolean,
  ): { buf: Buffer; starts: Uint32Array; nodes: (Inode | null)[] } {
    const head = plus ? 152 : 24;
    const lens = names.map((n) => Buffer.byteLength(n));
    const starts = new Uint32Array(names.length + 1);
    for (let k = 0; k < names.length; k++) starts[k + 1] = starts[k] + align8(head + lens[k]);
    const out = Buffer.alloc(starts[names.length]);
    const nodes: (Inode | null)[] = [];
    // Every directory with a fixed inode lies inside a version: its children are entries of
    // that version below its root.
    const dirIno = this.byPath.get(dir)?.ino;
    const inVersion = dirIno !== undefined && dirIno < this.b.VOLATILE_BIT && dirIno !== ROOT;
    names.forEach((name, k) => {
      const path = dir === '/' ? '/' + name : dir + '/' + name;
      const a = kids[k]?.attr ?? null;
      const isDir = a ? null : this.ops.isDirectoryName(path);
      const type = a ? (a.mode & 0o170000) >> 12 : isDir === true ? DT_DIR : isDir === false ? DT_REG : DT_UNKNOWN;
      let at = starts[k];
      let dino = this.byPath.get(path)?.ino ?? UNKNOWN_INO;
      let node: Inode | null = null;
      if (plus && a) {
        node = this.inodeFor(path, a.mode, inVersion);
        if (count) node.nlookup++;
        dino = node.ino;
        const [entry, attr] = this.timeouts(node.ino, a.mode);
        this.writeEntryOut(out, at, node.ino, a, entry, attr);
      }
      nodes.push(node);
      if (plus) at += 128; // an all-zero entry_out: no attributes for this name
      put64(out, dino, at);
      put64(out, off + k + 1, at + 8);
      out.writeUInt32LE(lens[k], at + 16);
      out.writeUInt32LE(type, at + 20);
      out.write(name, at + 24, 'utf8');
    });
    return { buf: out, starts, nodes };
  }

  /**
   * JS handed the kernel a page of a directory inside a version: its small files go to the
   * page cache, and its subdirectories' listings are prepared, since go lists them next.
   */
  private listed(dirIno: number, nodes: (Inode | null)[], kids: (Kid | null)[]): void {
    // Asked for before its prepared listing reached C: what was staged there would wait for
    // an answer from C that is not coming.
    if (this.prepared.has(dirIno)) this.unprepare(dirIno);
    this.listedDirs.add(dirIno);
    this.prefetch(nodes, kids, 0);
    this.prepareListings(nodes, kids);
  }

  /**
   * Go walks a module depth first: it lists a directory, reads its files, then lists each
   * subdirectory. So when a directory is listed, each subdirectory's whole readdirplus answer
   * is built now and handed to C, which answers the kernel from it without a round trip to
   * this thread; its small files are read meanwhile and wait in C for that listing, the
   * moment the kernel can take their pages (without `readAhead`, they are read when it does).
   * Bounded: PREPARED_MAX listings, each dropped after PREPARED_TTL_MS, and STAGE_BUDGET bytes
   * of content.
   */
  private prepareListings(nodes: (Inode | null)[], kids: (Kid | null)[], readAhead = true): void {
    this.expirePrepared();
    const group: AheadGroup = { batches: [], stacked: false };
    nodes.forEach((dir, k) => {
      const a = kids[k]?.attr;
      if (!dir || !a || (a.mode & 0o170000) !== 0o040000) return;
      if (this.prepared.has(dir.ino) || this.listedDirs.has(dir.ino) || this.prepared.size >= PREPARED_MAX) return;
      const entry: Prepared = { at: Date.now(), nodes: [], kids: [], batches: [], group, staged: 0, readAhead };
      this.prepared.set(dir.ino, entry);
      (async () => {
        const names = await this.ops.readdir(dir.path);
        const sub = await this.ops.childEntries(dir.path, names);
        // Dropped, or listed by JS, while this was built, or the mount is going: JS answers it.
        if (this.prepared.get(dir.ino) !== entry || this.listedDirs.has(dir.ino) || this.ended || this.stopping || this.byIno.get(dir.ino) !== dir) {
          return this.unprepare(dir.ino);
        }
        const all = this.encodeEntries(dir.path, names, sub, 0, true, false);
        entry.nodes = all.nodes;
        entry.kids = sub;
        for (const node of all.nodes) if (node) node.pins = (node.pins ?? 0) + 1;
        if (!this.b.setListing(this.session, dir.ino, all.buf, all.starts)) return this.unprepare(dir.ino);
        entry.built = { buf: all.buf, starts: all.starts };
        if (readAhead) this.prefetch(all.nodes, sub, dir.ino);
        for (const wake of entry.waiters?.splice(0) ?? []) wake();
      })().catch(() => this.unprepare(dir.ino));
    });
  }

  /**
   * C answered `count` entries of a prepared listing from index `from`, in a page of it
   * (`page`) or as a lookup of one name: the kernel now holds a lookup of each, and the next
   * level down is prepared. A lookup does not list the directory: its files stay staged.
   */
  private onListed(dirIno: number, from: number, count: number, page: boolean): void {
    const entry = this.prepared.get(dirIno);
    if (!entry) return;
    const nodes = entry.nodes.slice(from, from + count);
    for (const node of nodes) if (node) node.nlookup++;
    if (entry.dropping) return;
    if (page && !this.listedDirs.has(dirIno)) {
      this.listedDirs.add(dirIno);
      // Its files still waiting to be read are wanted now; those read ahead are on their way.
      this.prefetchQueue.unshift(...this.takeWaiting(entry));
      this.unstage(entry);
      if (!entry.readAhead) this.prefetch(entry.nodes, entry.kids, 0);
    }
    this.prepareListings(nodes, entry.kids.slice(from, from + count));
  }

  /** A prepared listing's read-ahead batches not started yet, taken out of its group. */
  private takeWaiting(entry: Prepared): PrefetchJob[][] {
    const waiting = entry.group.batches;
    const taken = entry.batches.filter((batch) => {
      const at = waiting.indexOf(batch);
      return at >= 0 && waiting.splice(at, 1).length > 0;
    });
    entry.batches = [];
    return taken;
  }

  /** A listing answered or dropped: what was read ahead for it no longer counts to the budget. */
  private unstage(entry: Prepared): void {
    this.stagedBytes -= entry.staged;
    entry.staged = 0;
    this.pumpPrefetch();
  }

  /** Stops C answering from a prepared listing; its inodes are let go once OP.DROPPED comes. */
  private unprepare(dirIno: number): void {
    const entry = this.prepared.get(dirIno);
    if (!entry || entry.dropping) return;
    entry.dropping = true;
    this.takeWaiting(entry);
    this.unstage(entry);
    this.b.dropListing(this.session, dirIno);
    for (const wake of entry.waiters?.splice(0) ?? []) wake();
  }

  /** Every answer C gave from the listing has been counted: inodes only it named may go. */
  private onDropped(dirIno: number): void {
    const entry = this.prepared.get(dirIno);
    if (!entry?.dropping) return;
    this.prepared.delete(dirIno);
    for (const node of entry.nodes) {
      if (!node) continue;
      node.pins! -= 1;
      this.release(node);
    }
  }

  private expirePrepared(): void {
    const old = Date.now() - PREPARED_TTL_MS;
    for (const [ino, entry] of this.prepared) {
      if (entry.at > old) break; // oldest first
      this.unprepare(ino);
    }
  }

  /**
   * A directory listed inside a version is about to be read: Go's module index and the
   * compiler read every source file of the packages they list, one after another. Pushing
   * the small files into the page cache turns those reads into cache hits instead of a
   * request round trip each. `dirIno`: the files of a prepared listing, read ahead at low
   * priority and staged in C until the kernel asks for that listing (0: push at once).
   * Bounded: a fixed number of reads in flight, a capped queue.
   */
  private prefetch(nodes: (Inode | null)[], kids: (Kid | null)[], dirIno: number): void {
    const max = this.prefetchMax;
    if (max === 0) return;
    const ahead = dirIno ? this.prepared.get(dirIno) : undefined;
    if (dirIno && !ahead) return;
    const queue = ahead ? ahead.group.batches : this.prefetchQueue;
    let batch: PrefetchJob[] = [];
    let bytes = 0;
    const flush = () => {
      if (batch.length) {
        queue.push(batch);
        ahead?.batches.push(batch);
      }
      batch = [];
      bytes = 0;
    };
    nodes.forEach((node, k) => {
      const file = kids[k]?.file;
      if (!node || !file || queue.length >= PREFETCH_QUEUE) return;
      const want = readAheadBytes(node.path.slice(node.path.lastIndexOf('/') + 1), file.size, max);
      if (want === 0) return;
      batch.push({ ino: node.ino, path: node.path, file, dirIno, bytes: want });
      bytes += want;
      if (bytes >= PREFETCH_BATCH_BYTES) flush();
    });
    flush();
    if (ahead && !ahead.group.stacked && ahead.group.batches.length) {
      ahead.group.stacked = true;
      this.aheadGroups.push(ahead.group);
    }
    this.pumpPrefetch();
  }

  /**
   * The next read-ahead batch, from the newest group, if the budget has room for it (the
   * bytes count until its listing is answered or dropped); undefined otherwise.
   */
  private nextAhead(): PrefetchJob[] | undefined {
    let top = this.aheadGroups.at(-1);
    while (top && !top.batches.length) {
      top.stacked = false;
      this.aheadGroups.pop();
      top = this.aheadGroups.at(-1);
    }
    const batch = top?.batches[0];
    if (!batch) return undefined;
    const bytes = batch.reduce((n, j) => n + j.bytes, 0);
    if (this.stagedBytes + bytes > STAGE_BUDGET) return undefined;
    top!.batches.shift();
    const entry = this.prepared.get(batch[0].dirIno);
    if (entry) {
      const at = entry.batches.indexOf(batch);
      if (at >= 0) entry.batches.splice(at, 1);
      entry.staged += bytes;
      this.stagedBytes += bytes;
    }
    return batch;
  }

  /** Neighbouring files are read in one call: the store then reads their pack entries together. */
  private pumpPrefetch(): void {
    while (this.prefetching < PREFETCH_IN_FLIGHT && !this.ended && !this.stopping) {
      const next = this.prefetchQueue.shift() ?? this.nextAhead();
      if (!next) break;
      const jobs = next.filter((j) => this.byIno.get(j.ino)?.path === j.path);
      if (!jobs.length) continue;
      this.prefetching++;
      this.prefetchBatch(jobs)
        .catch(() => undefined)
        .finally(() => {
          this.prefetching--;
          this.pumpPrefetch();
        });
    }
  }

  /**
   * The files of a batch lying together in a pack are read, inflated and handed to the page
   * cache by native code on a pool thread, with no JS buffer on the way; the rest (held in
   * memory already, or loose) are read here and pushed.
   */
  private async prefetchBatch(jobs: PrefetchJob[]): Promise<void> {
    // Each file lands once, whatever fails: its bytes leave the staging budget if not taken.
    const done = new Set<number>();
    const land = (k: number, taken: boolean) => {
      if (done.has(k)) return;
      done.add(k);
      this.landed(jobs[k], taken);
    };
    let rest: Set<number>;
    try {
      rest = await this.ops.withPackedFiles(
        jobs.map((j) => j.file),
        async (fd, span) => {
          // Rows written straight into the table: arrays per row cost more than the rest
          // of a batch's JavaScript while the code is still cold.
          const taking: number[] = [];
          const items = new Float64Array(span.items.length * 5);
          for (const it of span.items) {
            const dir = this.pushTarget(jobs[it.i]);
            if (dir === null) {
              land(it.i, false);
              continue;
            }
            const r = taking.length * 5;
            items[r] = it.offset - span.from;
            items[r + 1] = it.end - span.from;
            items[r + 2] = jobs[it.i].ino;
            items[r + 3] = dir;
            items[r + 4] = jobs[it.i].bytes;
            taking.push(it.i);
          }
          if (!taking.length) return;
          const result = new Int32Array(taking.length).fill(-1);
          await this.b
            .pushFromPack(this.session, fd, span.from, span.to - span.from, items.subarray(0, taking.length * 5), result)
            .catch(() => undefined);
          taking.forEach((i, k) => land(i, result[k] === 1));
        },
      );
    } catch {
      rest = new Set(jobs.map((_, k) => k).filter((k) => !done.has(k)));
    }
    const left = [...rest].filter((k) => !done.has(k));
    if (left.length === 0) return;
    const bufs = await this.ops.readFiles(left.map((k) => ({ file: jobs[k].file, bytes: jobs[k].bytes })));
    bufs.forEach((b, n) => {
      // a file that fails now fails again, with its errno, when it is read
      const j = jobs[left[n]];
      const dir = this.pushTarget(j);
      land(left[n], !!b && dir !== null && this.b.notifyStore(this.session, j.ino, 0, b, b.length, b.length === j.file.size, dir));
    });
  }

  /**
   * Where a prefetched file's push goes: 0, at once (the kernel has its directory's listing);
   * the directory's inode, to wait in C for the prepared listing the kernel has not had yet;
   * null for none (a listing dropped unanswered: the kernel does not know the file).
   */
  private pushTarget(j: PrefetchJob): number | null {
    if (this.ended || this.stopping) return null;
    if (!j.dirIno || this.listedDirs.has(j.dirIno)) return 0;
    const prepared = this.prepared.get(j.dirIno);
    return prepared && !prepared.dropping ? j.dirIno : null;
  }

  /** A prefetched file's push was taken or not: one staged for a listing no longer counts against the budget if not. */
  private landed(j: PrefetchJob, taken: boolean): void {
    if (taken && j.bytes < j.file.size) this.headsTaken++;
    const prepared = j.dirIno && !this.listedDirs.has(j.dirIno) ? this.prepared.get(j.dirIno) : undefined;
    if (prepared && !prepared.dropping && !taken) {
      prepared.staged -= j.bytes;
      this.stagedBytes -= j.bytes;
    }
  }

  /** struct fuse_entry_out followed by struct fuse_attr, as the kernel reads them. */
  private writeEntryOut(out: Buffer, at: number, ino: number, a: Attr, entry: number, attr: number): void {
    const nsecs = (t: number) => Math.floor((t - Math.floor(t)) * 1e9);
    const mtimeMs = a.mtime.getTime();
    const msec = Math.floor(mtimeMs / 1000);
    const mnsec = Math.max(0, Math.min(999999999, Math.round((mtimeMs - msec * 1000) * 1e6)));
    put64(out, ino, at); // nodeid
    put64(out, 0, at + 8); // generation
    put64(out, Math.floor(entry), at + 16);
    put64(out, Math.floor(attr), at + 24);
    out.writeUInt32LE(nsecs(entry), at + 32);
    out.writeUInt32LE(nsecs(attr), at + 36);
    const p = at + 40;
    put64(out, ino, p);
    put64(out, a.size, p + 8);
    put64(out, Math.ceil(a.size / 512), p + 16);
    for (const o of [24, 32, 40]) put64(out, msec, p + o); // atime, mtime, ctime
    for (const o of [48, 52, 56]) out.writeUInt32LE(mnsec, p + o);
    out.writeUInt32LE(a.mode, p + 60);
    out.writeUInt32LE(a.nlink, p + 64);
    out.writeUInt32LE(this.uid, p + 68);
    out.writeUInt32LE(this.gid, p + 72);
    out.writeUInt32LE(0, p + 76); // rdev
    out.writeUInt32LE(4096, p + 80); // blksize
    out.writeUInt32LE(0, p + 84);
  }
}
