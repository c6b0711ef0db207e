// Loose git objects on disk, written by us: no process per object at ingest. Reads go
// through `git cat-file --batch` (lib/store/cat-file.ts).
import { createHash } from 'node:crypto';
import { promises as fsp, createWriteStream } from 'node:fs';
import { once } from 'node:events';
import path from 'node:path';
import zlib from 'node:zlib';
import { promisify } from 'node:util';
import { objectBytes, objectId, type ObjectType } from './git-objects.js';

const deflate = promisify(zlib.deflate);
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

  /** Stages an object held in memory: written to a temporary file, visible only after publish. */
  async stage(type: ObjectType, content: Buffer): Promise<StagedObject> {
    const tmp = this.tmpPath('obj');
    await fsp.writeFile(tmp, await deflateObject(objectBytes(type, content)), { mode: 0o444 });
    return { id: objectId(type, content), tmp };
  }

  /**
   * Moves staged objects into the object directory. Renaming over an object that exists
   * replaces it with identical bytes, which is cheaper than asking first.
   */
  async publishAll(staged: StagedObject[]): Promise<void> {
    await forEachLimit(staged, 16, (s) => this.publish(s.tmp, s.id));
  }

  async discard(staged: StagedObject[]): Promise<void> {
    await Promise.all(staged.map((s) => fsp.rm(s.tmp, { force: true })));
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

export interface StagedObject {
  id: string;
  tmp: string;
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
    const header = Buffer.from(`blob ${size}\0`);
    this.hash.update(header);
    this.deflater.write(header);
  }

  async write(chunk: Buffer): Promise<void> {
    this.received += chunk.length;
    if (this.received > this.size) throw new Error('blob larger than announced');
    this.hash.update(chunk);
    if (!this.deflater.write(chunk)) await once(this.deflater, 'drain');
  }

  /** Completes the staged object; it becomes visible only through publish(). */
  async finish(): Promise<StagedObject> {
    if (this.received !== this.size) throw new Error(`blob size ${this.received}, announced ${this.size}`);
    this.deflater.end();
    await this.done;
    return { id: this.hash.digest('hex'), tmp: this.tmp };
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
