// Git objects on disk, written by us. A version's objects go into one pack (one file and one
// `git index-pack` per version instead of a file per object); single small objects are
// written loose. Reads go through `git cat-file --batch` (lib/store/cat-file.ts).
import { createHash } from 'node:crypto';
import { promises as fsp, createWriteStream } from 'node:fs';
import { once } from 'node:events';
import path from 'node:path';
import zlib from 'node:zlib';
import { promisify } from 'node:util';
import { execFile } from 'node:child_process';
import { objectBytes, objectId, type ObjectType } from './git-objects.js';

const deflate = promisify(zlib.deflate);
const run = promisify(execFile);
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

  async has(id: string): Promise<boolean> {
    try {
      await fsp.access(this.objectPath(id));
      return true;
    } catch {
      return false;
    }
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
    return { id: objectId(type, content), type, size: content.length, zdata: await deflateObject(content) };
  }

  async discard(staged: StagedObject[]): Promise<void> {
    await Promise.all(staged.map((s) => (s.tmp ? fsp.rm(s.tmp, { force: true }) : undefined)));
  }

  /**
   * Writes the staged objects that `exists` does not know into one pack, indexes it with
   * `git index-pack`, and moves pack and index into the repository (pack first: git ignores
   * a pack until its index appears). Staged temporary files are removed.
   */
  async writePack(staged: StagedObject[], exists: (id: string) => Promise<boolean>): Promise<void> {
    const seen = new Set<string>();
    const wanted: StagedObject[] = [];
    for (const s of staged) {
      if (seen.has(s.id)) continue;
      seen.add(s.id);
      wanted.push(s);
    }
    const missing: StagedObject[] = [];
    await forEachLimit(wanted, 64, async (s) => {
      if (!(await exists(s.id))) missing.push(s);
    });
    if (missing.length > 0) {
      const tmp = this.tmpPath('pack');
      try {
        await writePackFile(tmp + '.pack', missing);
        const { stdout } = await run('git', ['--git-dir', this.gitDir, 'index-pack', '-o', tmp + '.idx', tmp + '.pack']);
        const name = stdout.trim().split(/\s+/).pop();
        if (!name || !/^[0-9a-f]{40}$/.test(name)) throw new Error(`git index-pack said ${JSON.stringify(stdout)}`);
        const dir = path.join(this.gitDir, 'objects', 'pack');
        await fsp.mkdir(dir, { recursive: true });
        await fsp.rename(tmp + '.pack', path.join(dir, `pack-${name}.pack`));
        await fsp.rename(tmp + '.idx', path.join(dir, `pack-${name}.idx`));
      } finally {
        await fsp.rm(tmp + '.pack', { force: true });
        await fsp.rm(tmp + '.idx', { force: true });
      }
    }
    await this.discard(staged);
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

/** An object ready for a pack: its zlib-compressed content in memory or in a temporary file. */
export interface StagedObject {
  id: string;
  type: ObjectType;
  size: number;
  zdata?: Buffer;
  tmp?: string;
}

const PACK_TYPE: Record<ObjectType, number> = { tree: 2, blob: 3 };

/** A pack entry header: type and size, 4 bits then 7 bits per byte, high bit = more. */
export function packEntryHeader(type: ObjectType, size: number): Buffer {
  const out: number[] = [];
  let c = (PACK_TYPE[type] << 4) | (size & 15);
  let rest = Math.floor(size / 16);
  while (rest > 0) {
    out.push(c | 0x80);
    c = rest & 0x7f;
    rest = Math.floor(rest / 128);
  }
  out.push(c);
  return Buffer.from(out);
}

/** Pack format version 2, no deltas; the SHA-1 of everything before it closes the file. */
async function writePackFile(file: string, objects: StagedObject[]): Promise<void> {
  const out = createWriteStream(file, { mode: 0o444 });
  const sha = createHash('sha1');
  const put = async (b: Buffer) => {
    sha.update(b);
    if (!out.write(b)) await once(out, 'drain');
  };
  const closed = once(out, 'close');
  try {
    const head = Buffer.alloc(12);
    head.write('PACK', 0, 'latin1');
    head.writeUInt32BE(2, 4);
    head.writeUInt32BE(objects.length, 8);
    await put(head);
    for (const o of objects) {
      await put(packEntryHeader(o.type, o.size));
      if (o.zdata) await put(o.zdata);
      else for await (const chunk of (await fsp.open(o.tmp!)).createReadStream()) await put(chunk as Buffer);
    }
    out.end(sha.digest());
    await closed;
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
    private readonly objects: ObjectFiles,
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
