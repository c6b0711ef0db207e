// Git objects on disk, written by us. A version's objects go into one pack with an index we
// write ourselves (no process, no second inflate); single small objects are written loose.
import { createHash } from 'node:crypto';
import { promises as fsp, createWriteStream } from 'node:fs';
import { once } from 'node:events';
import path from 'node:path';
import zlib from 'node:zlib';
import { inflateBinding } from './native-inflate.js';
import { promisify } from 'node:util';
import { objectBytes, objectId, type ObjectType } from './git-objects.js';
import { encodePackIndex, packEntryHeader, packHeader, zlibAroundRawDeflate, zlibFromRawDeflate, type PackIndexEntry } from './pack-format.js';

const deflate = promisify(zlib.deflate);
const inflate = promisify(zlib.inflate);
// Level 1: several times faster than the default at ingest, and source text still shrinks ~3x.
const DEFLATE = { level: 1 };

/**
 * Up to this size zlib runs inline: a thread-pool round trip (and the stream Node builds for
 * each buffer call) costs more than compressing 64 KiB at level 1, well under a millisecond.
 * Larger inputs go to the thread pool so the event loop never stalls on them.
 */
export const INLINE_ZLIB = 64 << 10;

function deflateObject(bytes: Buffer): Promise<Buffer> | Buffer {
  return bytes.length <= INLINE_ZLIB ? zlib.deflateSync(bytes, DEFLATE) : deflate(bytes, DEFLATE);
}

export class ObjectFiles {
  private tmpCounter = 0;
  /** objects/xx directories known to exist (at most 256) */
  private readonly fanout = new Set<string>();
  constructor(
    readonly gitDir: string,
    readonly tmpDir: string,
  ) {}

  objectPath(id: string): string {
    return path.join(this.gitDir, 'objects', id.slice(0, 2), id.slice(2));
  }

  tmpPath(tag: string): string {
    return path.join(this.tmpDir, `${process.pid}-${++this.tmpCounter}-${tag}`);
  }

  /**
   * Which of these ids are loose objects: one listing per objects/xx directory instead of
   * one failed access per id (an ingest checks thousands of new ids; each miss threw).
   */
  async looseAmong(ids: string[]): Promise<Set<string>> {
    const found = new Set<string>();
    if (ids.length === 0) return found;
    const root = path.join(this.gitDir, 'objects');
    const dirs = new Set((await fsp.readdir(root).catch(() => [] as string[])).filter((d) => /^[0-9a-f]{2}$/.test(d)));
    const byDir = new Map<string, string[]>();
    for (const id of ids) {
      const d = id.slice(0, 2);
      if (!dirs.has(d)) continue;
      const list = byDir.get(d) ?? [];
      list.push(id);
      byDir.set(d, list);
    }
    await forEachLimit([...byDir], 16, async ([d, want]) => {
      const names = new Set(await fsp.readdir(path.join(root, d)).catch(() => [] as string[]));
      for (const id of want) if (names.has(id.slice(2))) found.add(id);
    });
    return found;
  }

  async has(id: string): Promise<boolean> {
    try {
      await fsp.access(this.objectPath(id));
      return true;
    } catch {
      return false;
    }
  }

  /** A loose object's type and content, or null when there is no such file. */
  async readLoose(id: string): Promise<{ type: string; data: Buffer } | null> {
    let z: Buffer;
    try {
      z = await fsp.readFile(this.objectPath(id));
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') return null;
      throw e;
    }
    let raw: Buffer;
    try {
      raw = z.length <= INLINE_ZLIB ? zlib.inflateSync(z) : await inflate(z);
    } catch (e) {
      throw new Error(`store: loose object ${id}: ${(e as Error).message}`);
    }
    const nul = raw.indexOf(0);
    const [type, size] = raw.toString('latin1', 0, Math.max(0, nul)).split(' ');
    if (nul < 0 || Number(size) !== raw.length - nul - 1) throw new Error(`store: loose object ${id}: bad header`);
    return { type, data: raw.subarray(nul + 1) };
  }

  /** Writes an object held in memory; a no-op when it already exists. */
  async write(type: ObjectType, content: Buffer): Promise<string> {
    const id = objectId(type, content);
    if (await this.has(id)) return id;
    const tmp = this.tmpPath('obj');
    await fsp.writeFile(tmp, await deflateObject(objectBytes(type, content)), { mode: 0o444 });
    await this.publish(tmp, id);
    return id;
  }

  /**
   * Starts a blob whose size is known in advance; content arrives in chunks, so a large
   * file never sits in memory whole.
   */
  blobWriter(size: number): BlobWriter {
    return new BlobWriter(this, size);
  }

  /** Stages an object held in memory for a pack: compressed now, visible only after writePack. */
  async stage(type: ObjectType, content: Buffer): Promise<StagedObject> {
    return { id: objectId(type, content), type, size: content.length, zdata: [await deflateObject(content)] };
  }

  /**
   * Stages many small objects of one type whose ids are known (a version's trees), compressed
   * together off the event loop: a zlib handle per object cost 30-50 us, ~12 ms for snapd's
   * 248 trees.
   */
  async stageMany(type: ObjectType, objects: Array<{ id: string; content: Buffer }>): Promise<StagedObject[]> {
    if (objects.length === 0) return [];
    const table = new Float64Array(objects.length * 2);
    let at = 0;
    let room = 0;
    objects.forEach((o, i) => {
      table[i * 2] = at;
      table[i * 2 + 1] = o.content.length;
      at += o.content.length;
      // Deflate's worst case is 5 bytes per stored block of up to 64 KiB, and the zlib wrapper.
      room += o.content.length + (o.content.length >> 10) + 64;
    });
    const out = Buffer.allocUnsafe(room);
    const made = new Float64Array(objects.length * 2);
    await inflateBinding().deflateMany(Buffer.concat(objects.map((o) => o.content)), table, out, made, DEFLATE.level);
    return objects.map((o, i) => ({ id: o.id, type, size: o.content.length, zdata: [out.subarray(made[i * 2], made[i * 2] + made[i * 2 + 1])] }));
  }

  /**
   * Stages a blob whose raw deflate stream is at hand (a zip entry, cut to exactly what the
   * inflater consumed): the pack entry reuses those bytes, so nothing is compressed again.
   */
  stageDeflated(content: Buffer, raw: Buffer): StagedObject {
    return { id: objectId('blob', content), type: 'blob', size: content.length, zdata: zlibFromRawDeflate(raw, content) };
  }

  /** A blob hashed while it streamed by, whose raw deflate stream is at hand. */
  stageRawDeflate(id: string, size: number, raw: Buffer, contentAdler32: number): StagedObject {
    return { id, type: 'blob', size, zdata: zlibAroundRawDeflate(raw, contentAdler32) };
  }

  async discard(staged: StagedObject[]): Promise<void> {
    await Promise.all(staged.map((s) => (s.tmp ? fsp.rm(s.tmp, { force: true }) : undefined)));
  }

  /**
   * Writes the staged objects that `existing` does not report into one pack with its index, and
   * moves both into the repository (pack first: git ignores a pack until its index appears).
   * Returns the pack's name (`pack-<checksum>`), or null when every object already existed.
   * Staged temporary files are removed.
   */
  async writePack(staged: StagedObject[], existing: (ids: string[]) => Promise<Set<string>>): Promise<string | null> {
    const seen = new Set<string>();
    const wanted: StagedObject[] = [];
    for (const s of staged) {
      if (seen.has(s.id)) continue;
      seen.add(s.id);
      wanted.push(s);
    }
    const present = await existing(wanted.map((s) => s.id));
    const missing = wanted.filter((s) => !present.has(s.id));
    let name: string | null = null;
    if (missing.length > 0) {
      const tmp = this.tmpPath('pack');
      try {
        const { checksum, entries } = await writePackFile(tmp + '.pack', missing);
        await fsp.writeFile(tmp + '.idx', encodePackIndex(entries, checksum), { mode: 0o444 });
        name = `pack-${checksum.toString('hex')}`;
        const dir = path.join(this.gitDir, 'objects', 'pack');
        await fsp.mkdir(dir, { recursive: true });
        await fsp.rename(tmp + '.pack', path.join(dir, `${name}.pack`));
        await fsp.rename(tmp + '.idx', path.join(dir, `${name}.idx`));
      } finally {
        await fsp.rm(tmp + '.pack', { force: true });
        await fsp.rm(tmp + '.idx', { force: true });
      }
    }
    await this.discard(staged);
    return name;
  }

  async publish(tmp: string, id: string): Promise<void> {
    const dest = this.objectPath(id);
    const dir = path.dirname(dest);
    if (!this.fanout.has(dir)) {
      await fsp.mkdir(dir, { recursive: true });
      this.fanout.add(dir);
    }
    // rename is atomic and idempotent: a racing writer of the same id writes the same bytes.
    await fsp.rename(tmp, dest);
  }
}

/** An object ready for a pack: its zlib-compressed content in memory (in parts) or in a temporary file. */
export interface StagedObject {
  id: string;
  type: ObjectType;
  size: number;
  zdata?: Buffer[];
  tmp?: string;
}

/** Pack format version 2, no deltas; returns the closing SHA-1 and where each entry starts. */
async function writePackFile(file: string, objects: StagedObject[]): Promise<{ checksum: Buffer; entries: PackIndexEntry[] }> {
  const out = createWriteStream(file, { mode: 0o444 });
  const sha = createHash('sha1');
  let offset = 0;
  // Entries are a few small buffers each: written, hashed and CRC'd in batches of about 1 MiB,
  // not thousands of tiny writes and zlib.crc32 calls (~1 us each, four per entry).
  const batch: Buffer[] = [];
  let batched = 0;
  const entries: PackIndexEntry[] = [];
  /** entries whose CRC covers bytes not yet flushed: [entry, end offset or -1 while open] */
  const open: Array<{ e: PackIndexEntry; end: number }> = [];
  const flush = async () => {
    if (batched === 0) return;
    const b = Buffer.concat(batch, batched);
    const from = offset - batched;
    batch.length = 0;
    batched = 0;
    let done = 0;
    for (const o of open) {
      const start = Math.max(o.e.offset, from) - from;
      const end = (o.end < 0 ? offset : Math.min(o.end, offset)) - from;
      o.e.crc32 = zlib.crc32(b.subarray(start, end), o.e.crc32);
      if (o.end >= 0 && o.end <= offset) done++;
    }
    open.splice(0, done);
    sha.update(b);
    if (!out.write(b)) await once(out, 'drain');
  };
  const put = async (b: Buffer) => {
    offset += b.length;
    batch.push(b);
    batched += b.length;
    if (batched >= 1 << 20) await flush();
  };
  const closed = once(out, 'close');
  try {
    await put(packHeader(objects.length));
    for (const o of objects) {
      const entry: PackIndexEntry = { id: o.id, crc32: 0, offset };
      const pending = { e: entry, end: -1 };
      entries.push(entry);
      open.push(pending);
      await put(packEntryHeader(o.type, o.size));
      const parts: AsyncIterable<Buffer> | Buffer[] = o.zdata ?? (await fsp.open(o.tmp!)).createReadStream();
      for await (const chunk of parts) await put(chunk);
      pending.end = offset;
    }
    await flush();
    for (const e of entries) e.crc32 >>>= 0;
    const checksum = sha.digest();
    out.end(checksum);
    await closed;
    return { checksum, entries };
  } catch (e) {
    out.destroy();
    throw e;
  }
}

export class BlobWriter {
  private readonly hash = createHash('sha1');
  private readonly tmp: string;
  private readonly deflater = zlib.createDeflate(DEFLATE);
  private readonly out;
  private received = 0;
  private readonly done: Promise<void>;

  constructor(
    objects: ObjectFiles,
    private readonly size: number,
  ) {
    this.tmp = objects.tmpPath('blob');
    this.out = createWriteStream(this.tmp, { mode: 0o444 });
    this.deflater.pipe(this.out);
    this.done = once(this.out, 'close').then(() => undefined);
    // The id covers the loose-object header; the pack entry holds the content alone.
    this.hash.update(Buffer.from(`blob ${size}\0`));
  }

  async write(chunk: Buffer): Promise<void> {
    this.received += chunk.length;
    if (this.received > this.size) throw new Error('blob larger than announced');
    this.hash.update(chunk);
    if (!this.deflater.write(chunk)) await once(this.deflater, 'drain');
  }

  /** Completes the staged object; it becomes visible only through writePack(). */
  async finish(): Promise<StagedObject> {
    if (this.received !== this.size) throw new Error(`blob size ${this.received}, announced ${this.size}`);
    this.deflater.end();
    await this.done;
    return { id: this.hash.digest('hex'), type: 'blob', size: this.size, tmp: this.tmp };
  }

  async abort(): Promise<void> {
    this.deflater.destroy();
    this.out.destroy();
    await fsp.rm(this.tmp, { force: true });
  }
}

/** Runs fn over items with at most `limit` in flight; the first failure rejects. */
export async function forEachLimit<T>(items: T[], limit: number, fn: (item: T, index: number) => Promise<void>): Promise<void> {
  let next = 0;
  let failed: unknown = null;
  const worker = async () => {
    while (failed === null && next < items.length) {
      const i = next++;
      try {
        await fn(items[i], i);
      } catch (e) {
        failed ??= e;
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  if (failed !== null) throw failed;
}
