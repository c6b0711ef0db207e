// Reads non-delta objects straight out of pack files, in process: a `git cat-file` round trip
// costs far more than a binary search in the idx plus one positioned read and an inflate.
import { promises as fsp } from 'node:fs';
import type { FileHandle } from 'node:fs/promises';
import path from 'node:path';
import { LRUCache } from 'lru-cache';
import { PACK_INDEX_MAGIC } from './pack-format.js';
import { inflateBinding, INFLATE_STATUS } from './native-inflate.js';

/** readObjects' status for a delta entry; the others it adds to INFLATE_STATUS are errors. */
export const DELTA = 6;
const READ_STATUS: Record<number, string> = { ...INFLATE_STATUS, 7: 'bad entry type', 8: 'bad entry header (cut, or a size over 1 GiB)', 9: 'slice past the end of the object' };

export interface PackObject {
  type: 'commit' | 'tree' | 'blob' | 'tag';
  data: Buffer;
}

/** Pack bytes [from, to), read whole, and the entries of the asked ids (`i`: index among them) in it. */
export interface PackSpan {
  from: number;
  to: number;
  items: { i: number; offset: number; end: number }[];
}

/** A non-delta entry not yet inflated: its zlib stream, and the size it inflates to. */
export interface PackEntry {
  type: PackObject['type'];
  size: number;
  z: Buffer;
}

/**
 * Where a fixed list of objects lies in our packs, found once for reads that come back to the
 * same objects piece by piece (a version's .zip): each piece then skips the id searches.
 */
export interface PackPlan {
  /** the packs holding the objects; an object's slot indexes this */
  packs: Pack[];
  /** per object: its pack's slot, or -1 when it is no entry of a loaded pack */
  slot: Int32Array;
  /** per object: where its entry starts and ends in that pack */
  from: Float64Array;
  to: Float64Array;
  /** a pack of the plan went away (a `git gc`): the caller makes a new plan */
  stale: boolean;
}

const TYPES: Record<number, PackObject['type']> = { 1: 'commit', 2: 'tree', 3: 'blob', 4: 'tag' };
const RESCAN_MS = 1000;
const FANOUT = 8;
const IDS = FANOUT + 256 * 4;
const PACK_NAME = /^pack-[0-9a-f]{40}$/;
const HEX_ID = /^[0-9a-f]{40}$/;
const HEX_IDS = /^[0-9a-f]*$/;

export interface Pack {
  name: string;
  file: string;
  idx: Buffer;
  count: number;
  crcs: number; // start of the CRC table; offsets follow it
  /** every entry's offset, ascending: an entry ends where the next begins */
  sorted: Float64Array | null;
  size: number; // of the .pack, once opened
}

/** An open pack. refs counts reads in flight, so eviction from the LRU never closes it under them. */
interface Fd {
  ready: Promise<FileHandle>;
  refs: number;
  evicted: boolean;
}

function parseIdx(file: string, idx: Buffer): Pack {
  const bad = (why: string) => new Error(`store: bad pack index ${file}: ${why}`);
  if (idx.length < IDS + 40 || idx.readUInt32BE(0) !== PACK_INDEX_MAGIC) throw bad('not an idx v2 file (bad magic)');
  if (idx.readUInt32BE(4) !== 2) throw bad(`unsupported version ${idx.readUInt32BE(4)}`);
  for (let i = 1; i < 256; i++) if (idx.readUInt32BE(FANOUT + i * 4) < idx.readUInt32BE(FANOUT + (i - 1) * 4)) throw bad('fanout not monotonic');
  const count = idx.readUInt32BE(FANOUT + 255 * 4);
  const min = IDS + count * 28 + 40;
  // Whatever lies past the fixed tables is the 8-byte large-offset table.
  if (idx.length < min || (idx.length - min) % 8 !== 0) throw bad(`size ${idx.length} does not fit ${count} objects`);
  return { name: path.basename(file, '.idx'), file: file.slice(0, -4) + '.pack', idx, count, crcs: IDS + count * 20, sorted: null, size: -1 };
}

function offsetOf(p: Pack, i: number): number {
  const o = p.idx.readUInt32BE(p.crcs + p.count * 4 + i * 4);
  if (o < 0x80000000) return o;
  const at = p.crcs + p.count * 8 + (o & 0x7fffffff) * 8;
  if (at + 8 > p.idx.length - 40) throw new Error(`store: bad pack index ${p.file.slice(0, -5)}.idx: large offset out of range`);
  return p.idx.readUInt32BE(at) * 2 ** 32 + p.idx.readUInt32BE(at + 4);
}

/** Every entry's offset in the pack, ascending (built once per pack): an entry ends where the next begins. */
function sortedOffsets(p: Pack): Float64Array {
  if (!p.sorted) {
    const s = new Float64Array(p.count);
    for (let i = 0; i < p.count; i++) s[i] = offsetOf(p, i);
    p.sorted = s.sort();
  }
  return p.sorted;
}

function endOf(p: Pack, offset: number): number {
  const s = sortedOffsets(p);
  let lo = 0;
  let hi = s.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (s[mid] <= offset) lo = mid + 1;
    else hi = mid;
  }
  return lo < s.length ? s[lo] : p.size - 20;
}

// Entries closer than this are read together; a span never exceeds SPAN_MAX bytes.
const SPAN_GAP = 16 << 10;
const SPAN_MAX = 1 << 20;

/** A pack entry's type, size and zlib stream, or null for a delta. */
function entryParts(buf: Buffer, pack: Pack, id: string): PackEntry | null {
  let b = buf[0];
  const code = (b >> 4) & 7;
  let size = b & 15;
  let p = 1;
  for (let shift = 4; b & 0x80; shift += 7) {
    if (p >= buf.length) throw entryError(pack, id, 'truncated entry header');
    b = buf[p++];
    size += (b & 0x7f) * 2 ** shift;
  }
  if (code === 6 || code === 7) return null;
  const type = TYPES[code];
  if (!type) throw entryError(pack, id, `bad entry type ${code}`);
  return { type, size, z: buf.subarray(p) };
}

function entryError(pack: Pack, id: string, why: string): Error {
  return new Error(`store: object ${id} in ${pack.file}: ${why}`);
}

/** The indexes below n that `inside` does not hold. */
function indexesOutside(n: number, inside: Set<number>): Set<number> {
  const out = new Set<number>();
  for (let i = 0; i < n; i++) if (!inside.has(i)) out.add(i);
  return out;
}

/** Entries of one pack grouped into spans read whole: neighbours within SPAN_GAP, up to SPAN_MAX each. */
function spansOf(items: PackSpan['items']): PackSpan[] {
  const spans: PackSpan[] = [];
  for (const it of [...items].sort((a, b) => a.offset - b.offset)) {
    const last = spans.at(-1);
    if (last && it.offset >= last.to && it.offset - last.to <= SPAN_GAP && it.end - last.from <= SPAN_MAX) {
      last.to = it.end;
      last.items.push(it);
    } else spans.push({ from: it.offset, to: it.end, items: [it] });
  }
  return spans;
}

const isEnoent = (e: unknown) => (e as NodeJS.ErrnoException | null)?.code === 'ENOENT';

export class PackReader {
  private packs: Pack[] = [];
  /** the pack of the last object found, searched first (see locate) */
  private lastHit: Pack | null = null;
  private loaded: Promise<void> | null = null;
  private scanning: Promise<void> | null = null;
  private nextScan: Promise<void> | null = null;
  private scannedAt = 0;
  private readonly loading = new Map<string, Promise<Pack>>();
  private readonly fds: LRUCache<string, Fd>;
  private closed = false;
  private readonly closing = new Set<Promise<void>>();

  constructor(
    private readonly gitDir: string,
    opts: { maxOpenFiles?: number } = {},
  ) {
    this.fds = new LRUCache<string, Fd>({
      max: Math.max(1, opts.maxOpenFiles ?? 128),
      dispose: (fd) => {
        fd.evicted = true;
        if (fd.refs === 0) this.closeFd(fd);
      },
    });
  }

  private closeFd(fd: Fd): void {
    const p = fd.ready.then((h) => h.close()).catch(() => undefined);
    this.closing.add(p);
    void p.finally(() => this.closing.delete(p));
  }

  get packCount(): number {
    return this.packs.length;
  }

  private get dir(): string {
    return path.join(this.gitDir, 'objects', 'pack');
  }

  /** One idx load per pack however many scans and addPack calls ask for it at once. */
  private loadPack(name: string): Promise<Pack> {
    let p = this.loading.get(name);
    if (!p) {
      const file = path.join(this.dir, name + '.idx');
      p = fsp.readFile(file).then((buf) => parseIdx(file, buf));
      this.loading.set(name, p);
      void p.finally(() => this.loading.delete(name)).catch(() => undefined);
    }
    return p;
  }

  private async doScan(): Promise<void> {
    this.scannedAt = Date.now();
    // Only packs known before the listing may be dropped: addPack may add one the listing missed.
    const before = new Set(this.packs.map((p) => p.name));
    let names: string[];
    try {
      names = await fsp.readdir(this.dir);
    } catch (e) {
      if (isEnoent(e)) names = [];
      else throw e;
    }
    const present = new Set(names);
    const listed = names.map((n) => n.slice(0, -4)).filter((n) => PACK_NAME.test(n) && present.has(n + '.idx') && present.has(n + '.pack'));
    const found = new Set(listed);
    const loads = listed.filter((n) => !before.has(n)).map((n) => this.loadPack(n).catch((e) => (isEnoent(e) ? null : Promise.reject(e))));
    const fresh = (await Promise.all(loads)).filter((p): p is Pack => p !== null);
    const kept = this.packs.filter((p) => found.has(p.name) || !before.has(p.name));
    const known = new Set(kept.map((p) => p.name));
    this.packs = [...fresh.filter((p) => !known.has(p.name)), ...kept];
    if (this.lastHit && !this.packs.includes(this.lastHit)) this.lastHit = null;
  }

  /** A scan that began before this call may have missed what changed, so one more is queued behind it. */
  private scan(): Promise<void> {
    if (this.nextScan) return this.nextScan;
    if (this.scanning) {
      this.nextScan = this.scanning.catch(() => undefined).then(() => {
        this.nextScan = null;
        return this.scan();
      });
      return this.nextScan;
    }
    this.scanning = this.doScan().finally(() => {
      this.scanning = null;
    });
    return this.scanning;
  }

  /** Loads every pack's index now rather than at the first read (a mount starting up). */
  preload(): Promise<void> {
    return this.ensureLoaded();
  }

  private ensureLoaded(): Promise<void> {
    if (this.closed) return Promise.reject(new Error('store closed'));
    if (!this.loaded) {
      const p = this.scan();
      this.loaded = p;
      // Not memoised on failure: a later call tries again.
      p.catch(() => {
        if (this.loaded === p) this.loaded = null;
      });
    }
    return this.loaded;
  }

  private async locate(id: string): Promise<{ pack: Pack; offset: number } | null> {
    if (!HEX_ID.test(id)) return null;
    await this.ensureLoaded();
    const hit = this.searchOne(id);
    if (hit) return hit;
    // Another process sharing the store may have added a pack since.
    if (this.scanning) await this.scanning;
    else if (Date.now() - this.scannedAt >= RESCAN_MS) await this.scan();
    else return null;
    return this.searchOne(id);
  }

  /** The loaded pack holding one object (by hex id), and where its entry starts. */
  private searchOne(id: string): { pack: Pack; offset: number } | null {
    const found = this.search([id], false);
    return found && found.slot[0] >= 0 ? { pack: found.packs[found.slot[0]], offset: found.from[0] } : null;
  }

  /**
   * Where the loaded packs hold each of `ids`: their index searched in native code, a pack at
   * a time for the ids still missing. A version's objects share one pack, and reads come a
   * version at a time: the pack of the last hit is searched first, which spares a search of
   * every other pack's index (there is one pack per version). With `ends`, an entry's end
   * where the pack's offsets tell it (-1 for each pack's last entry, and for all without).
   * Null when an id is no hex id.
   */
  private search(ids: readonly string[], ends: boolean): Omit<PackPlan, 'stale'> | null {
    const n = ids.length;
    const joined = ids.join('');
    if (joined.length !== n * 40 || !HEX_IDS.test(joined)) return null;
    const keys = Buffer.from(joined, 'hex');
    const found = { packs: [] as Pack[], slot: new Int32Array(n).fill(-1), from: new Float64Array(n), to: new Float64Array(n) };
    let left = n;
    const order = this.lastHit ? [this.lastHit, ...this.packs.filter((p) => p !== this.lastHit)] : this.packs;
    for (const pack of order) {
      if (left === 0) break;
      const hits = inflateBinding().locate(pack.idx, ends ? sortedOffsets(pack) : null, keys, found.slot, found.from, found.to, found.packs.length);
      if (hits === 0) continue;
      found.packs.push(pack);
      this.lastHit = pack;
      left -= hits;
    }
    return found;
  }

  /** Which of `ids` the packs hold, found without an event-loop turn each; one rescan at most for the rest. */
  async hasMany(ids: string[]): Promise<Set<string>> {
    await this.ensureLoaded();
    const found = new Set<string>();
    const look = (list: string[]) => {
      const valid = list.filter((id) => HEX_ID.test(id));
      const hit = this.search(valid, false)!;
      valid.forEach((id, k) => hit.slot[k] >= 0 && found.add(id));
    };
    look(ids);
    if (found.size < ids.length && (this.scanning || Date.now() - this.scannedAt >= RESCAN_MS)) {
      // Another process sharing the store may have added a pack since.
      await (this.scanning ?? this.scan());
      look(ids.filter((x) => !found.has(x)));
    }
    return found;
  }

  async read(id: string): Promise<PackObject | null> {
    return this.withEntry(id, async (pack, h, [offset, end]) => (await this.readObjects(pack, h, offset, end, [{ i: 0, offset, end }], [id]))[0]);
  }

  /** An object's zlib stream as the pack holds it, for a caller that inflates it in pieces. */
  readDeflated(id: string): Promise<PackEntry | null> {
    return this.withEntry(id, async (pack, h, [offset, end]) => entryParts(await this.readSpan(pack, h, offset, end, id), pack, id));
  }

  /** `use` with the open pack holding `id` and where its entry lies; a pack gone since is looked for again once. */
  private async withEntry<T>(id: string, use: (pack: Pack, h: FileHandle, extent: [number, number]) => Promise<T | null>): Promise<T | null> {
    for (let attempt = 0; ; attempt++) {
      const hit = await this.locate(id);
      if (!hit) return null;
      try {
        return await this.withPack(hit.pack, (h) => use(hit.pack, h, [hit.offset, this.entryEnd(hit.pack, hit.offset, -1, id)]));
      } catch (e) {
        if (!isEnoent(e)) throw e;
        // Gone (e.g. `git gc`): its objects are likely in a pack the rescan will find.
        this.forget(hit.pack);
        if (attempt > 0) return null;
        await this.scan();
      }
    }
  }

  private forget(pack: Pack): void {
    this.packs = this.packs.filter((p) => p !== pack);
    if (this.lastHit === pack) this.lastHit = null;
  }

  /** The pack's handle, opened once and counted while in use; pair with release(). */
  private acquire(pack: Pack): Fd {
    if (this.closed) throw new Error('store closed');
    let fd = this.fds.get(pack.name);
    if (!fd) {
      const f: Fd = { ready: fsp.open(pack.file, 'r'), refs: 0, evicted: false };
      fd = f;
      f.ready.catch(() => {
        if (this.fds.peek(pack.name) === f) this.fds.delete(pack.name);
      });
      this.fds.set(pack.name, f);
    }
    fd.refs++;
    return fd;
  }

  private release(fd: Fd): void {
    if (--fd.refs === 0 && fd.evicted) this.closeFd(fd);
  }

  /** Bytes [from, to) of the pack, read whole. */
  private async readSpan(pack: Pack, h: FileHandle, from: number, to: number, id: string): Promise<Buffer> {
    const buf = Buffer.allocUnsafe(to - from);
    for (let got = 0; got < buf.length; ) {
      const { bytesRead } = await h.read(buf, got, buf.length - got, from + got);
      if (bytesRead === 0) throw new Error(`store: object ${id} in ${pack.file}: pack truncated`);
      got += bytesRead;
    }
    return buf;
  }

  /** Where entry `index` lies in the pack; the pack's size must be known (ensureSize). */
  /** Where the entry at `offset` ends (`end`, or -1 to look it up), checked: inside the pack, before its trailer. */
  private entryEnd(pack: Pack, offset: number, end: number, id: string): number {
    if (end < 0) end = endOf(pack, offset);
    if (end <= offset || end > pack.size - 20) throw new Error(`store: object ${id} in ${pack.file}: entry [${offset}, ${end}) outside the pack`);
    return end;
  }

  private async ensureSize(pack: Pack, h: FileHandle): Promise<void> {
    if (pack.size < 0) pack.size = (await h.stat()).size;
  }

  /**
   * The objects whose entries lie at `items` (pack offsets, in [from, to)): read and inflated
   * in one job on a pool thread (native-inflate.ts), as views of one buffer; deltas are null.
   */
  private async readObjects(pack: Pack, h: FileHandle, from: number, to: number, items: PackSpan['items'], ids: string[]): Promise<(PackObject | null)[]> {
    const table = new Float64Array(items.length * 2);
    items.forEach((it, k) => {
      table[k * 2] = it.offset - from;
      table[k * 2 + 1] = it.end - from;
    });
    const meta = new Float64Array(items.length * 3);
    const { got: whole, status } = await this.nativeSpan(pack, ids, items, (st) => inflateBinding().readObjects(h.fd, from, to - from, table, meta, st));
    return items.map((it, k) => {
      if (status[k] === DELTA) return null;
      const at = meta[k * 3 + 2];
      return { type: TYPES[meta[k * 3]], data: whole.subarray(at, at + meta[k * 3 + 1]) };
    });
  }

  /**
   * A native read of a span's entries (`call` fills one status each): a failure of the whole
   * names the span's first object, an entry's bad status (a delta is not one) names its own.
   */
  private async nativeSpan<T>(pack: Pack, ids: string[], items: PackSpan['items'], call: (status: Int32Array) => Promise<T>): Promise<{ got: T; status: Int32Array }> {
    const status = new Int32Array(items.length);
    let got: T;
    try {
      got = await call(status);
    } catch (err) {
      throw entryError(pack, ids[items[0].i], (err as Error).message);
    }
    items.forEach((it, k) => {
      if (status[k] !== 0 && status[k] !== DELTA) throw entryError(pack, ids[it.i], READ_STATUS[status[k]] ?? `status ${status[k]}`);
    });
    return { got, status };
  }

  /**
   * Several objects at once: entries of one pack that lie close together (a version's files
   * are packed in path order) come in one positioned read instead of one each. An id that is
   * not a plain object of our packs (a delta, or not packed) is null. The objects of a span
   * are views of one buffer: a caller keeping one long copies it.
   */
  async readMany(ids: string[]): Promise<(PackObject | null)[]> {
    const out: (PackObject | null)[] = ids.map(() => null);
    await this.eachSpan(ids, async (pack, h, sp) => {
      const got = await this.readObjects(pack, h, sp.from, sp.to, sp.items, ids);
      sp.items.forEach((it, k) => (out[it.i] = got[k]));
    });
    return out;
  }

  /**
   * For a caller that reads and inflates entries itself (native code, with no JS buffer on
   * the way): `use` gets each span of the packed ones among `ids`, and the descriptor of its
   * pack, open until `use` settles. Returns the indexes of the ids no span covers.
   */
  async withSpans(ids: string[], use: (fd: number, span: PackSpan) => Promise<void>): Promise<Set<number>> {
    const covered = new Set<number>();
    await this.eachSpan(ids, (_pack, h, sp) => {
      for (const it of sp.items) covered.add(it.i);
      return use(h.fd, sp);
    });
    return indexesOutside(ids.length, covered);
  }

  /**
   * The located ids' entries, grouped by pack into spans read whole; `use` runs with each
   * span's pack open. Located as a plan is: the ids of a batch (a listing's files) in one
   * native search per pack instead of a search in JavaScript each.
   */
  private async eachSpan(ids: string[], use: (pack: Pack, h: FileHandle, span: PackSpan) => Promise<void>): Promise<void> {
    const plan = await this.plan(ids);
    const bySlot: PackSpan['items'][] = plan.packs.map(() => []);
    for (let i = 0; i < ids.length; i++) {
      const s = plan.slot[i];
      if (s >= 0) bySlot[s].push({ i, offset: plan.from[i], end: plan.to[i] });
    }
    await Promise.all(plan.packs.map((pack, s) => this.withPack(pack, (h) => Promise.all(spansOf(bySlot[s]).map((sp) => use(pack, h, sp))))));
  }

  /** `use` with the pack open (and its size known) until it settles. */
  private async withPack<T>(pack: Pack, use: (h: FileHandle) => Promise<T>): Promise<T> {
    const fd = this.acquire(pack);
    try {
      const h = await fd.ready;
      await this.ensureSize(pack, h);
      return await use(h);
    } finally {
      this.release(fd);
    }
  }

  /**
   * Where each of `ids` lies (see PackPlan): all of them searched at once (see search), then
   * an id no pack held the usual way, which rescans once; one that is still missing has no slot.
   */
  async plan(ids: readonly string[]): Promise<PackPlan> {
    await this.ensureLoaded();
    const n = ids.length;
    const plan: PackPlan = { ...(this.search(ids, true) ?? { packs: [], slot: new Int32Array(n).fill(-1), from: new Float64Array(n), to: new Float64Array(n) }), stale: false };
    for (let i = 0; i < n; i++) {
      if (plan.slot[i] >= 0) continue;
      const hit = await this.locate(ids[i]);
      if (!hit) continue;
      let slot = plan.packs.indexOf(hit.pack);
      if (slot < 0) slot = plan.packs.push(hit.pack) - 1;
      plan.slot[i] = slot;
      plan.from[i] = hit.offset;
      plan.to[i] = -1;
    }
    // Entry ends need the pack's size: the last entry ends at its trailer, and none may pass it.
    for (const pack of plan.packs) if (pack.size < 0) await this.withPack(pack, async () => undefined);
    for (let i = 0; i < n; i++) {
      const s = plan.slot[i];
      if (s < 0) continue;
      const pack = plan.packs[s];
      plan.to[i] = this.entryEnd(pack, plan.from[i], plan.to[i], ids[i]);
    }
    return plan;
  }

  /**
   * `use` with the descriptors of the plan's packs (by slot), open until it settles; null when
   * one of them is gone, which also marks the plan stale.
   */
  async withPlanned<T>(plan: PackPlan, use: (fds: Int32Array) => Promise<T>): Promise<T | null> {
    const held = plan.packs.map((p) => this.acquire(p));
    try {
      const fds = Int32Array.from(await Promise.all(held.map((fd) => fd.ready.then((h) => h.fd))));
      return await use(fds);
    } catch (e) {
      if (!isEnoent(e)) throw e;
      plan.packs.forEach((p, k) => held[k].ready.catch(() => this.forget(p)));
      plan.stale = true;
      return null;
    } finally {
      for (const fd of held) this.release(fd);
    }
  }

  /** The error for a bad entry found by native code, naming the object. */
  entryError(pack: Pack, id: string, status: number): Error {
    return entryError(pack, id, READ_STATUS[status] ?? `status ${status}`);
  }

  async addPack(name: string): Promise<void> {
    if (!PACK_NAME.test(name)) throw new Error(`store: bad pack name ${JSON.stringify(name)}`);
    await this.ensureLoaded();
    if (this.packs.some((p) => p.name === name)) return;
    const pack = await this.loadPack(name);
    if (!this.packs.some((p) => p.name === name)) this.packs.unshift(pack);
  }

  async close(): Promise<void> {
    this.closed = true;
    this.loaded = null;
    // dispose closes idle handles; busy ones close when their last read ends.
    this.fds.clear();
    this.packs = [];
    this.lastHit = null;
    await Promise.all([...this.closing]);
  }
}
