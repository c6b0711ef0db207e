// The store's native addon (native/inflate_work.c): inflate and hash work on libuv pool
// threads, so the event loop that answers the kernel never waits for zlib.
import { createRequire } from 'node:module';

export interface InflateBinding {
  /** zip entries' raw deflate streams → one 128-byte digest record each (see zip-digest.ts) */
  digest(zip: Buffer, table: Float64Array, out: Buffer): Promise<void>;
  /** objects at (start, length) of src, each made a zlib stream in out, one after the other, where `made` (start, length) says */
  deflateMany(src: Buffer, table: Float64Array, out: Buffer, made: Float64Array, level: number): Promise<void>;
  /**
   * Bytes [from, from + length) of the file open as `fd`, and the pack entries at `items`
   * ((start, end) pairs in them) inflated into the Buffer it resolves to; meta gets each one's
   * (type, size, start in it), status 0 or why not (INFLATE_STATUS; 6 a delta, 7 a bad type, 8 a cut header or a size over 1 GiB).
   */
  readObjects(fd: number, from: number, length: number, items: Float64Array, meta: Float64Array, status: Int32Array): Promise<Buffer>;
  /**
   * Bytes [from, from + length) of the file open as `fd`; bytes [sliceStart, sliceEnd) of the
   * object of each pack entry at `items` ((start, end, sliceStart, sliceEnd, at) per entry)
   * land in dest at `at`. status as readObjects', or 9 (the slice passes the object's end).
   */
  readInto(fd: number, from: number, length: number, items: Float64Array, dest: Buffer, status: Int32Array): Promise<void>;
  RECORD_BYTES: number;
}

let binding: InflateBinding | undefined;

// Built by `make build` from native/inflate_work.c next to this file's output.
export function inflateBinding(): InflateBinding {
  return (binding ??= createRequire(import.meta.url)('./native/modfs_inflate.node') as InflateBinding);
}

/** Why readObjects or readInto could not inflate an entry, by its status code. */
export const INFLATE_STATUS: Record<number, string> = {
  1: 'corrupt zlib stream',
  2: 'zlib stream ends early',
  3: 'inflates to more bytes than its header says',
  4: 'inflates to fewer bytes than its header says',
  5: 'out of memory',
};
