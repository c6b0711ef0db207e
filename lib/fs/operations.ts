// Filesystem operations over the namespace: what each path's attributes and bytes are,
// answered from the store, fetching on first access. Knows nothing about FUSE.
import { unescapeVersion } from '../gomod/escape.js';
import { sortVersions } from '../gomod/semver.js';
import { FetchError, type Fetcher } from '../fetcher/fetcher.js';
import type { ReadOptions, Store, StoredFile, StoredVersion } from '../store/store.js';
import type { PackSpan } from '../store/pack-reader.js';
import { LRUCache } from 'lru-cache';
import { resolvePath, type Node } from './namespace.js';

export type ErrnoName = 'ENOENT' | 'EIO' | 'EISDIR' | 'ENOTDIR';

export class FsError extends Error {
  constructor(
    readonly errno: ErrnoName,
    message: string,
  ) {
    super(message);
  }
}

/** A file stored inside a version, as a directory listing hands it to prefetch. */
export type FileRef = StoredFile;

export interface Attr {
  mode: number;
  size: number;
  mtime: Date;
  nlink: number;
  /** the whole content, when it was at hand and never changes (.mod, .info, .ziphash) */
  data?: Buffer;
}

type Target =
  | { kind: 'bytes'; data: Buffer; immutable: boolean }
  | { kind: 'file'; file: StoredFile }
  | { kind: 'zip'; version: StoredVersion };

const DIR_MODE = 0o040555;
const FILE_MODE = 0o100444;
const EPOCH = new Date(0);

const dirAttr = (mtime = EPOCH): Attr => ({ mode: DIR_MODE, size: 4096, mtime, nlink: 2 });
const fileAttr = (size: number, mtime: Date): Attr => ({ mode: FILE_MODE, size, mtime, nlink: 1 });

/** Attributes of a file or directory inside a stored version; null when there is none. */
function entryAttr(v: StoredVersion, rel: string): Attr | null {
  const f = v.byPath.get(rel);
  if (f) return fileAttr(f.size, v.time);
  return v.dirs.has(rel) ? dirAttr(v.time) : null;
}

export interface OperationsOptions {
  log?: (line: string) => void;
}

export class Operations {
  private readonly targets = new LRUCache<string, Target>({ max: 8192 });
  private readonly lists = new LRUCache<string, { data: Buffer; at: Date }>({ max: 1024 });
  private readonly log: (line: string) => void;

  constructor(
    private readonly store: Store,
    private readonly fetcher: Fetcher,
    opts: OperationsOptions = {},
  ) {
    this.log = opts.log ?? (() => undefined);
  }

  private resolve(path: string): Node {
    const n = resolvePath(path);
    if (n.kind === 'reject') throw new FsError('ENOENT', `${path}: ${n.reason}`);
    return n;
  }

  /** Runs an operation so that every failure, thrown or rejected, becomes an FsError. */
  private async guard<T>(work: () => Promise<T>): Promise<T> {
    try {
      return await work();
    } catch (err) {
      if (err instanceof FsError) throw err;
      if (err instanceof FetchError) throw new FsError(err.errno, err.message);
      this.log(`modfs: internal error: ${(err as Error).stack ?? err}`);
      throw new FsError('EIO', (err as Error).message);
    }
  }

  /**
   * What the kernel may assume of a path's inode: 'volatile' when its listing or content can
   * change while mounted (prefixes, the list file); 'no-go-mod' for a directory inside a
   * version below its root, where the zip rules leave no go.mod; 'fixed' otherwise.
   */
  inodeClass(path: string, isDir: boolean): 'volatile' | 'no-go-mod' | 'fixed' {
    const n = resolvePath(path);
    switch (n.kind) {
      case 'root':
      case 'cache':
      case 'download-prefix':
      case 'module-prefix':
      case 'version-dir':
      case 'list':
        return 'volatile';
      case 'module-entry':
        return isDir && n.rel !== '' ? 'no-go-mod' : 'fixed';
      default:
        return 'fixed';
    }
  }

  /** Whether a path names a directory, when the name alone tells; undefined when it does not. */
  isDirectoryName(path: string): boolean | undefined {
    const n = resolvePath(path);
    switch (n.kind) {
      case 'reject':
        return undefined;
      case 'list':
      case 'version-file':
        return false;
      case 'module-entry':
        return n.rel === '' ? true : undefined;
      default:
        return true;
    }
  }

  getattr(path: string): Promise<Attr> {
    return this.guard(() => this.getattrNode(this.resolve(path), path));
  }

  private async getattrNode(n: Node, path: string): Promise<Attr> {
    switch (n.kind) {
      case 'root':
      case 'cache':
      case 'download-prefix':
      case 'module-prefix':
      case 'version-dir':
        return dirAttr();
      case 'list': {
        const data = await this.listBytes(n.escaped);
        return fileAttr(data.length, this.listChanged(n.escaped, data));
      }
      case 'version-file': {
        // The time comes from the .info, fetched only once the .mod is accepted: a rejected
        // version leaves nothing stored.
        const data = await this.versionFileBytes(n.module, n.version, n.ext);
        if (data) return { ...fileAttr(data.length, await this.versionTime(n.module, n.version)), data };
        const v = await this.fetcher.version(n.module, n.version);
        return fileAttr(v.zip.size, v.time);
      }
      case 'module-entry': {
        const a = entryAttr(await this.fetcher.version(n.module, n.version), n.rel);
        if (a) return a;
        throw new FsError('ENOENT', `${path}: no such file in ${n.module}@${n.version}`);
      }
    }
  }

  /**
   * Attributes of several children of one directory (a readdirplus page), null where a child
   * has none, and for files inside a version the stored file, for reading them without
   * resolving each path again. Inside a version the version is looked up once for all.
   */
  async childEntries(dir: string, names: string[]): Promise<Array<{ attr: Attr; file: FileRef | null } | null>> {
    const n = resolvePath(dir);
    const join = (name: string) => (dir === '/' ? '/' + name : dir + '/' + name);
    if (n.kind !== 'module-entry') {
      return Promise.all(names.map((name) => this.getattr(join(name)).then((attr) => ({ attr, file: null }), () => null)));
    }
    const v = await this.guard(() => this.fetcher.version(n.module, n.version)).catch(() => null);
    if (!v) return names.map(() => null);
    const base = n.rel === '' ? '' : n.rel + '/';
    return names.map((name) => {
      const attr = entryAttr(v, base + name);
      return attr ? { attr, file: v.byPath.get(base + name) ?? null } : null;
    });
  }

  /**
   * The first `bytes` of several stored files, read together (neighbouring files lie side by
   * side in the store); all null when the read fails (for prefetch: a read on demand then
   * reports why).
   */
  async readFiles(files: { file: FileRef; bytes: number }[]): Promise<(Buffer | null)[]> {
    // Bound for the page cache: keeping them here too would only push out what reads need.
    return this.store
      .readFileSlices(
        files.map(({ file: f, bytes }) => ({ blob: f.blob, size: f.size, start: 0, end: Math.min(bytes, f.size) })),
        { cache: false },
      )
      .catch(() => files.map(() => null));
  }

  /**
   * Files whose content native code reads and places itself: `use` gets each run of them
   * lying together in a pack (`i`: index among `files`) and the pack's open descriptor. Returns
   * the indexes of those to read with readFiles instead.
   */
  withPackedFiles(files: FileRef[], use: (fd: number, span: PackSpan) => Promise<void>): Promise<Set<number>> {
    return this.store.withPackedBlobs(
      files.map((f) => f.blob),
      use,
    );
  }

  /** Bytes of .mod/.info/.ziphash; null for .zip, which is served by ranges. */
  private async versionFileBytes(module: string, version: string, ext: string): Promise<Buffer | null> {
    switch (ext) {
      case 'mod': {
        const data = await this.fetcher.mod(module, version);
        this.fetcher.requirementsAhead(module, version, data);
        return data;
      }
      case 'info':
        return this.fetcher.info(module, version);
      case 'ziphash':
        return Buffer.from((await this.fetcher.version(module, version)).ziphash);
      default:
        return null;
    }
  }

  private async versionTime(module: string, version: string): Promise<Date> {
    try {
      const info = await this.fetcher.info(module, version);
      const t = new Date(JSON.parse(info.toString('utf8')).Time);
      return Number.isNaN(t.getTime()) ? EPOCH : t;
    } catch {
      return EPOCH;
    }
  }

  /** The list file's mtime moves when its content does, so cached pages are dropped then. */
  private listChanged(escaped: string, data: Buffer): Date {
    const seen = this.lists.get(escaped);
    if (seen && seen.data.equals(data)) return seen.at;
    const at = new Date();
    this.lists.set(escaped, { data, at });
    return at;
  }

  private async listBytes(escaped: string): Promise<Buffer> {
    const refs = await this.store.listRefs();
    const versions = refs.get(escaped);
    const lines: string[] = [];
    if (versions) {
      for (const [ev, kinds] of versions) {
        if (kinds.has('zip') || kinds.has('mod')) lines.push(ev);
      }
    }
    // Refs hold escaped versions; the list file holds real ones.
    return Buffer.from(sortVersions(lines.map((l) => unescapeVersion(l))).map((v) => v + '\n').join(''));
  }

  readdir(path: string): Promise<string[]> {
    return this.guard(() => this.readdirNode(this.resolve(path), path));
  }

  private async readdirNode(n: Node, path: string): Promise<string[]> {
    switch (n.kind) {
      case 'root':
        return ['cache', ...(await this.prefixChildren('', true))];
      case 'cache':
        return ['download'];
      case 'download-prefix':
        return this.prefixChildren(n.escaped, false);
      case 'module-prefix':
        return this.prefixChildren(n.escaped, true);
      case 'version-dir': {
        const refs = await this.store.listRefs();
        const names: string[] = ['list'];
        for (const [ev, kinds] of refs.get(n.escaped) ?? []) {
          if (kinds.has('zip')) names.push(`${ev}.info`, `${ev}.mod`, `${ev}.zip`, `${ev}.ziphash`);
          else {
            if (kinds.has('mod')) names.push(`${ev}.mod`);
            if (kinds.has('info')) names.push(`${ev}.info`);
          }
        }
        return names;
      }
      case 'module-entry': {
        const v = await this.fetcher.version(n.module, n.version);
        const kids = v.dirs.get(n.rel);
        if (!kids) throw new FsError(v.byPath.has(n.rel) ? 'ENOTDIR' : 'ENOENT', path);
        return kids;
      }
      default:
        throw new FsError('ENOTDIR', path);
    }
  }

  /**
   * Children of a module path prefix among stored modules. At the root they are path
   * elements and `<last>@<version>` directories; under cache/download, path elements and `@v`.
   */
  private async prefixChildren(escaped: string, atRoot: boolean): Promise<string[]> {
    const refs = await this.store.listRefs();
    const out = new Set<string>();
    const pre = escaped ? escaped + '/' : '';
    for (const [mod, versions] of refs) {
      if (escaped && mod === escaped) {
        if (!atRoot) out.add('@v');
        continue;
      }
      if (!mod.startsWith(pre)) continue;
      const rest = mod.slice(pre.length);
      const slash = rest.indexOf('/');
      if (slash >= 0) out.add(rest.slice(0, slash));
      else if (atRoot) {
        for (const [ev, kinds] of versions) if (kinds.has('zip')) out.add(`${rest}@${ev}`);
      } else out.add(rest);
    }
    return [...out].sort();
  }

  /**
   * Reads by path: opens are answered inside libfuse without a round trip to this thread,
   * so the file behind a path is resolved here (and remembered; content never changes).
   */
  read(path: string, out: Buffer, pos: number, opts: ReadOptions = {}): Promise<number> {
    return this.guard(async () => this.readTarget(await this.targetOf(path), out, pos, opts));
  }

  /** Whether a path names a version's .zip, which readers take front to back. */
  isArchive(path: string): boolean {
    const n = resolvePath(path);
    return n.kind === 'version-file' && n.ext === 'zip';
  }

  /** The file behind a path, remembered unless its content can change. */
  private async targetOf(path: string, n: Node = this.resolve(path)): Promise<Target> {
    let t = this.targets.get(path);
    if (!t) {
      t = await this.target(n, path);
      if (t.kind !== 'bytes' || t.immutable) this.targets.set(path, t);
    }
    return t;
  }

  private async target(n: Node, path: string): Promise<Target> {
    switch (n.kind) {
      case 'list':
        return { kind: 'bytes', data: await this.listBytes(n.escaped), immutable: false };
      case 'version-file': {
        const data = await this.versionFileBytes(n.module, n.version, n.ext);
        return data
          ? { kind: 'bytes', data, immutable: true }
          : { kind: 'zip', version: await this.fetcher.version(n.module, n.version) };
      }
      case 'module-entry': {
        const v = await this.fetcher.version(n.module, n.version);
        const f = v.byPath.get(n.rel);
        if (!f) throw new FsError(v.dirs.has(n.rel) ? 'EISDIR' : 'ENOENT', path);
        return { kind: 'file', file: f };
      }
      default:
        throw new FsError('EISDIR', path);
    }
  }

  private async readTarget(t: Target, out: Buffer, pos: number, opts: ReadOptions): Promise<number> {
    switch (t.kind) {
      case 'bytes':
        return copyRange(t.data, out, pos);
      case 'file': {
        if (pos >= t.file.size) return 0;
        const end = Math.min(t.file.size, pos + out.length);
        return (await this.store.readBlobRange(t.file.blob, t.file.size, pos, end)).copy(out);
      }
      case 'zip': {
        return this.store.readZip(t.version, pos, out, opts);
      }
    }
  }
}

function copyRange(data: Buffer, out: Buffer, pos: number): number {
  if (pos >= data.length) return 0;
  return data.copy(out, 0, pos, Math.min(data.length, pos + out.length));
}
