// The content-addressed module store: one bare git repository, a tree per module version,
// a ref per version written last so that readers never see half a version.
import { execFile } from 'node:child_process';
import zlib from 'node:zlib';
import { promises as fsp } from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import { LRUCache } from 'lru-cache';
import { escapePath, escapeVersion } from '../gomod/escape.js';
import { hash1, hashGoMod } from '../gomod/dirhash.js';
import { canonicalInfo, parseInfo } from '../gomod/info.js';
import { moduleLine } from '../gomod/gomodfile.js';
import { GoModError } from '../gomod/errors.js';
import { buildDirTree, decodeTree, encodeDirTree, encodeTree, type TreeEntry } from './git-objects.js';
import { CatFile } from './cat-file.js';
import { DELTA, PackReader, type PackPlan, type PackSpan } from './pack-reader.js';
import { ObjectFiles } from './object-files.js';
import { parseRefName, refName, REF_ROOT, type RefKind } from './ref-names.js';
import { readRef, writeRef } from './ref-files.js';
import { Unpack } from './blob-unpack.js';
import { ingestZipFiles } from './zip-ingest.js';
import { centralDirectory, entryAt, nativeZipTable, zipLayout, type FileSlice, type ZipLayout } from './zip-layout.js';
import { inflateBinding } from './native-inflate.js';

const run = promisify(execFile);

/** reads of a large blob that end within this many bytes inflate only its head (readBlobHead) */
const HEAD_MAX = 256 << 10;
const inflateAsync = promisify(zlib.inflate);
/** What the start of a zlib stream inflates to, without complaint that the stream is cut short. */
const inflateHead = (z: Buffer, size: number) =>
  inflateAsync(z, { finishFlush: zlib.constants.Z_SYNC_FLUSH, maxOutputLength: size + 1 }) as Promise<Buffer>;

export interface StoredFile {
  path: string;
  size: number;
  crc32: number;
  blob: string;
}

export interface StoredVersion {
  module: string;
  version: string;
  tree: string;
  files: StoredFile[];
  byPath: Map<string, StoredFile>;
  /** directory path ('' for the root) -> sorted child names */
  dirs: Map<string, string[]>;
  mod: Buffer;
  info: Buffer;
  ziphash: string;
  time: Date;
  zip: ZipLayout;
}

export interface ReadOptions {
  /** false: do not keep what is read in the memory cache (content that goes to the page cache) */
  cache?: boolean;
}

export interface StoreOptions {
  /** bytes of file content kept in memory */
  blobCacheBytes?: number;
  /** approximate bytes of parsed version manifests kept in memory */
  manifestCacheBytes?: number;
  /** bytes of large files kept unpacked on disk beside the repository */
  rawCacheBytes?: number;
}

interface ZipTable {
  plan: PackPlan;
  central: Buffer;
  table: Float64Array;
}

interface Manifest {
  v: 1;
  module: string;
  version: string;
  files: Array<[string, number, number, string]>;
}

export class Store {
  readonly gitDir: string;
  readonly tmpDir: string;
  /** unpacked copies of large blobs, named by blob id (a cache: safe to delete) */
  readonly rawDir: string;
  private readonly objects: ObjectFiles;
  /** our packs, read in process: the hot path */
  private readonly packs: PackReader;
  /** what only git reads: deltas in packs that git itself rewrote (gc, repack) */
  private readonly cat: CatFile;
  private readonly blobs: LRUCache<string, Buffer>;
  private readonly versions: LRUCache<string, StoredVersion>;
  /** native tables of versions whose zip has been read (see zipTable); they go with their version */
  private readonly zipTables = new WeakMap<StoredVersion, Promise<ZipTable>>();
  /**
   * Raw files this process wrote or read, by blob, in use order: over the budget, the least
   * recently used is removed (a read that opened it keeps reading; a later one unpacks again).
   */
  private readonly raw: LRUCache<string, number>;
  /** large blobs being unpacked into rawDir; reads of them wait on the inflater's progress */
  private readonly unpacks = new Map<string, Unpack>();
  private readonly unpacking = new Set<Promise<void>>();
  private refIndex: Map<string, Set<RefKind>> | null = null;
  private refIndexAt = 0;

  private constructor(
    readonly dir: string,
    opts: StoreOptions,
  ) {
    this.gitDir = path.join(dir, 'git');
    this.tmpDir = path.join(dir, 'tmp');
    this.rawDir = path.join(dir, 'raw');
    this.objects = new ObjectFiles(this.gitDir, this.tmpDir);
    this.packs = new PackReader(this.gitDir);
    this.cat = new CatFile(this.gitDir);
    const blobBytes = opts.blobCacheBytes ?? 4 << 20;
    this.blobs = new LRUCache<string, Buffer>({
      maxSize: blobBytes,
      maxEntrySize: Math.max(1, Math.min(1 << 20, Math.floor(blobBytes / 8))),
      sizeCalculation: (b) => b.length || 1,
    });
    const rawBytes = opts.rawCacheBytes ?? 256 << 20;
    this.raw = new LRUCache<string, number>({
      maxSize: rawBytes,
      // One file larger than the whole budget still counts, as all of it.
      sizeCalculation: (size) => Math.max(1, Math.min(size, rawBytes)),
      noDisposeOnSet: true,
      dispose: (_size, id, reason) => {
        if (reason === 'evict') void fsp.rm(path.join(this.rawDir, id), { force: true }).catch(() => undefined);
      },
    });
    this.versions = new LRUCache<string, StoredVersion>({
      maxSize: opts.manifestCacheBytes ?? 16 << 20,
      sizeCalculation: (v) => 512 + v.files.reduce((n, f) => n + 120 + f.path.length * 2, 0),
    });
  }

  static async open(dir: string, opts: StoreOptions = {}): Promise<Store> {
    const s = new Store(path.resolve(dir), opts);
    await fsp.mkdir(s.tmpDir, { recursive: true });
    if (!(await s.hasRepository())) await s.init();
    await s.cleanTmp();
    return s;
  }

  private hasRepository(): Promise<boolean> {
    return fsp.access(path.join(this.gitDir, 'HEAD')).then(
      () => true,
      () => false,
    );
  }

  /**
   * Creates the repository aside and moves it into place in one rename, so that processes
   * opening a new store at the same moment neither trip over each other's `git init` nor see
   * a half-initialised repository.
   */
  private async init(): Promise<void> {
    const aside = this.tmpPath('init');
    try {
      await run('git', ['init', '--bare', '-q', aside]);
      try {
        // Replaces a missing or empty directory; another process's repository stays.
        await fsp.rename(aside, this.gitDir);
      } catch (e) {
        const code = (e as NodeJS.ErrnoException).code;
        if (code !== 'ENOTEMPTY' && code !== 'EEXIST') throw e;
      }
    } finally {
      await fsp.rm(aside, { recursive: true, force: true });
    }
    if (!(await this.hasRepository())) throw new Error(`store: ${this.gitDir} exists but is not a git repository`);
  }

  /**
   * Reads the pack indexes ahead of the first read that needs them: with the corpus's 52
   * versions that load took 4-7 ms of the first lookup of a version in a fresh process. A
   * failure is left for that read to meet again.
   */
  async preload(): Promise<void> {
    await this.packs.preload().catch(() => undefined);
  }

  /** Stops the reader process and drops the unpacked-blob cache (it is rebuilt on demand). */
  async close(): Promise<void> {
    this.cat.close();
    // An unpack still writing its raw file would otherwise put it back after the removal.
    await Promise.all([...this.unpacking]);
    await this.packs.close();
    await fsp.rm(this.rawDir, { recursive: true, force: true }).catch(() => undefined);
  }

  /** Removes temporary files left by processes that no longer run. */
  async cleanTmp(): Promise<number> {
    let removed = 0;
    for (const name of await fsp.readdir(this.tmpDir)) {
      const pid = Number(name.split('-')[0]);
      if (Number.isInteger(pid) && pid > 0 && pidAlive(pid)) continue;
      await fsp.rm(path.join(this.tmpDir, name), { force: true, recursive: true });
      removed++;
    }
    return removed + (await this.cleanOrphanPacks());
  }

  /**
   * A pack is moved in before its index; a process killed between the two renames leaves a
   * pack git ignores. Old enough that no live writer can still be between them, it goes.
   */
  private async cleanOrphanPacks(): Promise<number> {
    const dir = path.join(this.gitDir, 'objects', 'pack');
    const names = new Set(await fsp.readdir(dir).catch(() => [] as string[]));
    let removed = 0;
    for (const name of names) {
      if (!name.endsWith('.pack') || names.has(name.slice(0, -5) + '.idx')) continue;
      const st = await fsp.stat(path.join(dir, name)).catch(() => null);
      if (!st || Date.now() - st.mtimeMs < 10 * 60 * 1000) continue;
      await fsp.rm(path.join(dir, name), { force: true });
      removed++;
    }
    return removed;
  }

  tmpPath(tag: string): string {
    return this.objects.tmpPath(tag);
  }

  private static key(module: string, version: string): string {
    return `${module}@${version}`;
  }

  private ref(kind: RefKind, module: string, version: string): string {
    return refName(kind, escapePath(module), escapeVersion(version));
  }

  // ---- reading ------------------------------------------------------------------

  async readObject(id: string): Promise<{ type: string; data: Buffer }> {
    const obj = (await this.packs.read(id)) ?? (await this.objects.readLoose(id)) ?? (await this.cat.read(id));
    if (!obj) throw new Error(`store: object ${id} is missing`);
    return obj;
  }

  /** Which of these ids the store already holds, in our packs or loose. */
  private async existingObjects(ids: string[]): Promise<Set<string>> {
    const found = await this.packs.hasMany(ids);
    for (const id of await this.objects.looseAmong(ids.filter((id) => !found.has(id)))) found.add(id);
    return found;
  }

  /** The object a ref names, read whole; null when the ref does not exist. */
  private async readRefObject(ref: string): Promise<{ id: string; type: string; data: Buffer } | null> {
    const id = await readRef(this.gitDir, ref);
    return id ? { id, ...(await this.readObject(id)) } : null;
  }

  async readBlob(id: string): Promise<Buffer> {
    const hit = this.blobs.get(id);
    if (hit) return hit;
    const { type, data } = await this.readObject(id);
    if (type !== 'blob') throw new Error(`store: object ${id} is a ${type}, not a blob`);
    this.blobs.set(id, data);
    return data;
  }

  /**
   * Several blobs at once, for reads that want many small files together (a range of the
   * synthetic zip, a listed directory): misses of the memory cache that lie together in a
   * pack cost one read. Anything the batch cannot serve goes the one-by-one way.
   */
  async readBlobs(ids: string[], opts: ReadOptions = {}): Promise<Buffer[]> {
    const out: (Buffer | undefined)[] = ids.map((id) => this.blobs.get(id));
    const miss = ids.filter((_, i) => !out[i]);
    if (miss.length > 1) {
      const got = await this.packs.readMany(miss).catch(() => miss.map(() => null));
      const byId = new Map<string, Buffer>();
      miss.forEach((id, k) => {
        const o = got[k];
        if (o && o.type === 'blob') byId.set(id, o.data);
      });
      ids.forEach((id, i) => {
        let b = out[i] ?? byId.get(id);
        // A batch's blobs are views of one buffer: a cached one gets its own, or it would hold all.
        if (b && !out[i] && opts.cache !== false) this.blobs.set(id, (b = Buffer.from(b)));
        out[i] = b;
      });
    }
    return Promise.all(ids.map((id, i) => out[i] ?? this.readBlob(id)));
  }

  /**
   * For a caller that inflates and places blobs itself (the mount's page-cache pushes, in
   * native code): `use` gets each run of `ids` lying together in a pack, and the pack's open
   * descriptor. Returns the indexes of the ids left to read the usual way: held in memory
   * already, loose, or not found.
   */
  async withPackedBlobs(ids: string[], use: (fd: number, span: PackSpan) => Promise<void>): Promise<Set<number>> {
    const held = ids.map((id, i) => (this.blobs.has(id) ? i : -1)).filter((i) => i >= 0);
    if (held.length === 0) return this.packs.withSpans(ids, use);
    const rest = ids.map((_, i) => i).filter((i) => !this.blobs.has(ids[i]));
    const left = await this.packs.withSpans(
      rest.map((i) => ids[i]),
      (fd, sp) => use(fd, { ...sp, items: sp.items.map((it) => ({ ...it, i: rest[it.i] })) }),
    );
    return new Set([...held, ...[...left].map((k) => rest[k])]);
  }

  /**
   * Bytes of a version's synthetic zip from `pos` into `out`; returns how many. Native code
   * writes the headers and inflates small files' content into place from their packs (one
   * call per read, however many files it spans); what it leaves (large files, deltas, objects
   * not in a pack) is read as readFileSlices reads it.
   */
  async readZip(v: StoredVersion, pos: number, out: Buffer, opts: ReadOptions = {}): Promise<number> {
    const layout = v.zip;
    if (pos >= layout.size) return 0;
    const want = Math.min(out.length, layout.size - pos);
    const dest = out.subarray(0, want);
    const first = entryAt(layout, pos);
    const slices = Math.max(1, Math.min(layout.files.length, entryAt(layout, pos + want - 1) + 1) - first);
    const left = new Float64Array(slices * 5);
    const zt = await this.zipTable(v);
    const read = (fds: Int32Array) => inflateBinding().readZip(fds, zt.table, zt.central, pos, first, dest, left);
    // A pack of the plan went away (the next read makes a new plan): with no packs at hand,
    // readZip leaves every file's content to be read the slow way.
    const count = (await this.packs.withPlanned(zt.plan, read)) ?? (await read(new Int32Array(0)));
    const rest: FileSlice[] = [];
    const at: number[] = [];
    for (let k = 0; k < count; k++) {
      const [index, start, end, to, status] = left.subarray(k * 5, k * 5 + 5);
      if (status !== 0 && status !== DELTA) throw this.packs.entryError(zt.plan.packs[zt.plan.slot[index]], v.files[index].blob, status);
      rest.push({ index, start, end });
      at.push(to);
    }
    if (rest.length) await this.copySlices(v, rest, dest, at, opts);
    return want;
  }

  /** Slices of a version's files read the usual way and copied into `out` at `at`. */
  private async copySlices(v: StoredVersion, slices: FileSlice[], out: Buffer, at: number[], opts: ReadOptions): Promise<void> {
    const got = await this.readFileSlices(
      slices.map((x) => ({ ...x, blob: v.files[x.index].blob, size: v.files[x.index].size })),
      opts,
    );
    got.forEach((b, n) => {
      const x = slices[n];
      if (b.length !== x.end - x.start) throw new Error(`store: blob ${v.files[x.index].blob} gave ${b.length} bytes at ${x.start}, expected ${x.end - x.start}`);
      b.copy(out, at[n]);
    });
  }

  /**
   * A version's zip as native code reads it: per file its offset, its central record, and its
   * pack entry when small enough to inflate for each read (a large one goes through readBlobRange).
   */
  private async zipTable(v: StoredVersion): Promise<ZipTable> {
    let made = this.zipTables.get(v);
    if (!made) {
      const max = this.blobs.maxEntrySize;
      made = this.packs.plan(v.files.map((f) => f.blob)).then((plan) => {
        const layout = v.zip;
        const central = centralDirectory(layout);
        const slot = Int32Array.from(plan.slot, (s, i) => (v.files[i].size <= max ? s : -1));
        return { plan, central, table: nativeZipTable(layout, slot, plan.from, plan.to) };
      });
      this.zipTables.set(v, made);
      const mine = made;
      mine.catch(() => this.zipTables.get(v) === mine && this.zipTables.delete(v));
    }
    const zt = await made;
    if (zt.plan.stale) {
      if (this.zipTables.get(v) === made) this.zipTables.delete(v);
      return this.zipTable(v);
    }
    return zt;
  }

  /** Slices of several files' content: small ones read together, large ones by range. */
  async readFileSlices(slices: { blob: string; size: number; start: number; end: number }[], opts: ReadOptions = {}): Promise<Buffer[]> {
    const small = slices.filter((x) => x.size <= this.blobs.maxEntrySize);
    const whole = new Map<string, Buffer>();
    const got = await this.readBlobs(small.map((x) => x.blob), opts);
    small.forEach((x, k) => whole.set(x.blob, got[k]));
    return Promise.all(
      slices.map((x) => {
        const b = whole.get(x.blob);
        return b ? b.subarray(x.start, x.end) : this.readBlobRange(x.blob, x.size, x.start, x.end);
      }),
    );
  }

  /**
   * Bytes [start, end) of a blob of known size. Small blobs come from the memory cache; large
   * ones are unpacked once into a plain file beside the repository (within rawCacheBytes) and
   * read by range, so a big file is never inflated again for each 128 KiB the kernel asks
   * for. While that unpack runs, a read waits only until the inflater has passed its end: go
   * reads the first 4 KiB of a large generated file for its imports, and used to wait 15-46
   * ms for all of it.
   */
  async readBlobRange(id: string, size: number, start: number, end: number): Promise<Buffer> {
    if (size <= this.blobs.maxEntrySize) return (await this.readBlob(id)).subarray(start, end);
    const running = this.unpacks.get(id);
    if (running) return running.range(start, end);
    let fh;
    try {
      fh = await fsp.open(path.join(this.rawDir, id), 'r');
    } catch {
      const head = end <= HEAD_MAX ? await this.readBlobHead(id, size, end) : null;
      return head ? head.subarray(start, end) : this.unpack(id, size).range(start, end);
    }
    // Used now (and counted, if an earlier process left it).
    if (this.raw.get(id) === undefined) this.raw.set(id, size);
    try {
      const out = Buffer.alloc(end - start);
      const { bytesRead } = await fh.read(out, 0, out.length, start);
      return out.subarray(0, bytesRead);
    } finally {
      await fh.close();
    }
  }

  /**
   * The first `end` bytes (or more) of a large blob, inflated from the start of its pack entry
   * only; null when the blob is no plain entry of our packs. Go reads 16 KiB of a large file
   * for its imports, and most such files (tables, test data) it never reads further: a
   * fresh-mount build read 16 KiB each of 13 large blobs and had 24 MB inflated and written
   * for them.
   */
  private async readBlobHead(id: string, size: number, end: number): Promise<Buffer | null> {
    const entry = await this.packs.readDeflated(id);
    if (!entry) return null;
    if (entry.type !== 'blob' || entry.size !== size) throw new Error(`store: object ${id} is a ${entry.type} of ${entry.size} bytes, not a blob of ${size}`);
    const want = Math.min(end, size);
    // Source compresses 3-5 times: start with a quarter, and take more while it falls short.
    for (let take = Math.min(entry.z.length, (want >> 2) + 4096); ; take = Math.min(entry.z.length, take * 2)) {
      const out = await inflateHead(entry.z.subarray(0, take), size);
      if (out.length >= want || take === entry.z.length) {
        if (out.length < want) throw new Error(`store: object ${id} inflates to ${out.length} bytes, not ${size}`);
        return out;
      }
    }
  }

  /** Starts (once per blob) inflating a large blob into memory, then into its raw file. */
  private unpack(id: string, size: number): Unpack {
    let u = this.unpacks.get(id);
    if (u) return u;
    const job = new Unpack(size);
    this.unpacks.set(id, job);
    const fill = async () => {
      const entry = await this.packs.readDeflated(id);
      if (entry) {
        if (entry.type !== 'blob' || entry.size !== size) throw new Error(`store: object ${id} is a ${entry.type} of ${entry.size} bytes, not a blob of ${size}`);
        await job.inflate(entry.z);
      } else {
        // Not a plain entry of our packs (a delta after a `git gc`, or loose): whole, the slow way.
        const { type, data } = await this.readObject(id);
        if (type !== 'blob' || data.length !== size) throw new Error(`store: object ${id} is a ${type} of ${data.length} bytes, not a blob of ${size}`);
        job.add(data);
      }
      const tmp = this.tmpPath('raw');
      try {
        await fsp.mkdir(this.rawDir, { recursive: true });
        await fsp.writeFile(tmp, job.whole(), { mode: 0o444 });
        await fsp.rename(tmp, path.join(this.rawDir, id));
        this.raw.set(id, size);
      } catch {
        // Only a cache (another process may be clearing it): served from memory this time.
        await fsp.rm(tmp, { force: true });
      }
    };
    const settled: Promise<void> = fill()
      .then(
        () => job.finish(),
        (err: Error) => job.fail(err),
      )
      .finally(() => {
        this.unpacks.delete(id);
        this.unpacking.delete(settled);
      });
    this.unpacking.add(settled);
    return job;
  }

  /** The stored version, or null when its zip has not been ingested. */
  async getVersion(module: string, version: string): Promise<StoredVersion | null> {
    const key = Store.key(module, version);
    const hit = this.versions.get(key);
    if (hit) return hit;
    const obj = await this.readRefObject(this.ref('zip', module, version));
    if (!obj) return null;
    if (obj.type !== 'tree') throw new Error(`store: ref of ${key} names a ${obj.type}`);
    const entries = new Map(decodeTree(obj.data).map((e) => [e.name, e.id]));
    const need = (n: string) => {
      const id = entries.get(n);
      if (!id) throw new Error(`store: version tree of ${key} lacks ${n}`);
      return id;
    };
    const [manifestBytes, mod, info, ziphash] = await Promise.all(
      ['manifest.json', 'go.mod', 'info', 'ziphash'].map((n) => this.readObject(need(n)).then((o) => o.data)),
    );
    const manifest = JSON.parse(manifestBytes.toString('utf8')) as Manifest;
    const v = buildVersion(module, version, obj.id, manifest, mod, info, ziphash.toString('utf8'));
    this.versions.set(key, v);
    return v;
  }

  /** The .mod bytes, from the full version or from a .mod stored alone. */
  async getMod(module: string, version: string): Promise<Buffer | null> {
    const cached = this.versions.get(Store.key(module, version));
    if (cached) return cached.mod;
    const alone = await this.readRefObject(this.ref('mod', module, version));
    if (alone) return alone.data;
    return (await this.getVersion(module, version))?.mod ?? null;
  }

  async getInfo(module: string, version: string): Promise<Buffer | null> {
    const cached = this.versions.get(Store.key(module, version));
    if (cached) return cached.info;
    const alone = await this.readRefObject(this.ref('info', module, version));
    if (alone) return alone.data;
    return (await this.getVersion(module, version))?.info ?? null;
  }

  /** Every stored module version: escaped module path -> escaped version -> kinds stored. */
  async listRefs(maxAgeMs = 1000): Promise<Map<string, Map<string, Set<RefKind>>>> {
    if (!this.refIndex || Date.now() - this.refIndexAt > maxAgeMs) {
      const { stdout } = await run('git', ['--git-dir', this.gitDir, 'for-each-ref', '--format=%(refname)', REF_ROOT], {
        maxBuffer: 256 << 20,
      });
      const idx = new Map<string, Set<RefKind>>();
      for (const line of stdout.split('\n')) {
        const p = line && parseRefName(line);
        if (!p) continue;
        const k = `${p.escapedModule}@${p.escapedVersion}`;
        if (!idx.has(k)) idx.set(k, new Set());
        idx.get(k)!.add(p.kind);
      }
      this.refIndex = idx;
      this.refIndexAt = Date.now();
    }
    const out = new Map<string, Map<string, Set<RefKind>>>();
    for (const [k, kinds] of this.refIndex) {
      const at = k.lastIndexOf('@');
      const m = k.slice(0, at);
      if (!out.has(m)) out.set(m, new Map());
      out.get(m)!.set(k.slice(at + 1), kinds);
    }
    return out;
  }

  private noteRef(kind: RefKind, module: string, version: string): void {
    if (!this.refIndex) return;
    const k = `${escapePath(module)}@${escapeVersion(version)}`;
    if (!this.refIndex.has(k)) this.refIndex.set(k, new Set());
    this.refIndex.get(k)!.add(kind);
  }

  // ---- writing ------------------------------------------------------------------

  private setRef(ref: string, id: string): Promise<void> {
    return writeRef(this.gitDir, ref, id);
  }

  /** Stores a .mod alone (no zip), after checking it declares this module. */
  async putMod(module: string, version: string, mod: Buffer): Promise<void> {
    checkModFile(module, version, mod);
    const id = await this.objects.write('blob', mod);
    await this.setRef(this.ref('mod', module, version), id);
    this.noteRef('mod', module, version);
  }

  /** Stores a .info alone, in canonical form, after checking it names this version. */
  async putInfo(module: string, version: string, info: Buffer): Promise<Buffer> {
    const canon = canonicalInfoFor(module, version, info);
    const id = await this.objects.write('blob', canon);
    await this.setRef(this.ref('info', module, version), id);
    this.noteRef('info', module, version);
    return canon;
  }

  /**
   * Validates a downloaded zip with its .mod and .info and stores the version. The zip's
   * own go.mod (when it has one) must equal the .mod, and the .info must name this version.
   */
  async ingest(module: string, version: string, src: { zipPath: string; mod: Buffer; info: Buffer }): Promise<StoredVersion> {
    checkModFile(module, version, src.mod);
    const info = canonicalInfoFor(module, version, src.info);
    const { files, goMod, staged } = await ingestZipFiles(src.zipPath, module, version, this.objects);
    try {
      if (goMod && !goMod.equals(src.mod)) {
        throw new GoModError('mod-mismatch', `${module}@${version}: go.mod in the zip differs from the .mod file`);
      }
      const prefix = `${module}@${version}/`;
      const ziphash = hash1(files.map((f) => ({ name: prefix + f.path, sha256: f.sha256 })));
      const manifest: Manifest = {
        v: 1,
        module,
        version,
        files: files.map((f) => [f.path, f.size, f.crc32, f.blob]),
      };
      // Trees and metadata join the file blobs in the version's one pack.
      const trees: Array<{ id: string; content: Buffer }> = [];
      const filesTree = encodeDirTree(buildDirTree(files.map((f) => ({ path: f.path, id: f.blob }))), (id, content) =>
        trees.push({ id, content }),
      );
      staged.push(...(await this.objects.stageMany('tree', trees)));
      const blob = async (content: Buffer) => {
        const o = await this.objects.stage('blob', content);
        staged.push(o);
        return o.id;
      };
      const top: TreeEntry[] = [
        { name: 'files', mode: '40000', id: filesTree },
        { name: 'go.mod', mode: '100644', id: await blob(src.mod) },
        { name: 'info', mode: '100644', id: await blob(info) },
        { name: 'ziphash', mode: '100644', id: await blob(Buffer.from(ziphash)) },
        { name: 'manifest.json', mode: '100644', id: await blob(Buffer.from(JSON.stringify(manifest))) },
      ];
      const topTree = await this.objects.stage('tree', encodeTree(top));
      staged.push(topTree);
      // Files go into the pack in path order, as the zip and the directories list them, so
      // reads of neighbouring files (readBlobs) find their entries side by side.
      const order = new Map(files.map((f, i) => [f.blob, i]));
      const rank = new Map(staged.map((o) => [o, order.get(o.id) ?? files.length]));
      staged.sort((a, b) => rank.get(a)! - rank.get(b)!);
      const topId = topTree.id;
      const pack = await this.objects.writePack(staged, (ids) => this.existingObjects(ids));
      if (pack) await this.packs.addPack(pack);
      await this.setRef(this.ref('zip', module, version), topId);
      this.noteRef('zip', module, version);
      const v = buildVersion(module, version, topId, manifest, src.mod, info, ziphash);
      this.versions.set(Store.key(module, version), v);
      return v;
    } catch (err) {
      await this.objects.discard(staged);
      throw err;
    }
  }
}

function pidAlive(pid: number): boolean {
  if (pid === process.pid) return true;
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}

function checkModFile(module: string, version: string, mod: Buffer): void {
  const declared = moduleLine(mod);
  if (declared !== null && declared !== module) {
    throw new GoModError('mod-wrong-module', `${module}@${version}: go.mod declares module ${declared}`);
  }
  // Parse errors and hash of the go.mod are Go's business; computing it here catches names with newlines.
  hashGoMod(mod);
}

function canonicalInfoFor(module: string, version: string, info: Buffer): Buffer {
  let parsed: { Version: string; Time: string };
  try {
    parsed = parseInfo(info);
  } catch (err) {
    throw new GoModError('info-invalid', `${module}@${version}: .info is not valid: ${(err as Error).message}`);
  }
  if (parsed.Version !== version) {
    throw new GoModError('info-wrong-version', `${module}@${version}: .info names version ${parsed.Version}`);
  }
  return canonicalInfo(version, parsed.Time || '0001-01-01T00:00:00Z');
}

function buildVersion(
  module: string,
  version: string,
  tree: string,
  m: Manifest,
  mod: Buffer,
  info: Buffer,
  ziphash: string,
): StoredVersion {
  const files: StoredFile[] = m.files.map(([p, size, crc32, blob]) => ({ path: p, size, crc32, blob }));
  const byPath = new Map(files.map((f) => [f.path, f]));
  // Each directory joins its parent once, when first seen: one pass up from each file.
  const dirs = new Map<string, string[]>([['', []]]);
  for (const f of files) {
    let child = f.path;
    for (;;) {
      const cut = child.lastIndexOf('/');
      const parent = cut < 0 ? '' : child.slice(0, cut);
      let kids = dirs.get(parent);
      const seen = kids !== undefined;
      if (!kids) dirs.set(parent, (kids = []));
      kids.push(child.slice(cut + 1));
      if (seen) break;
      child = parent;
    }
  }
  for (const kids of dirs.values()) kids.sort();
  let time: Date;
  try {
    time = new Date(parseInfo(info).Time);
    if (Number.isNaN(time.getTime())) time = new Date(0);
  } catch {
    time = new Date(0);
  }
  const prefix = `${module}@${version}/`;
  // Laid out when the .zip is first looked up: a build never asks for it.
  let layout: ZipLayout | undefined;
  return {
    module,
    version,
    tree,
    files,
    byPath,
    dirs,
    mod,
    info,
    ziphash,
    time,
    get zip() {
      return (layout ??= zipLayout(files, time, prefix));
    },
  };
}
