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
   * The synthetic zip's bytes from `pos` into dest: table (zip-layout.ts nativeZipTable) says
   * where each file's header, central record and pack entry (fds[slot]) are; `first` is the file
   * whose entry holds pos. Content not written is listed in `left` (file, slice start, slice
   * end, at in dest, status: 0 not tried, else readObjects' or 9 a slice past the object's
   * end); resolves to how many.
   */
  readZip(fds: Int32Array, table: Float64Array, central: Buffer, pos: number, first: number, dest: Buffer, left: Float64Array): Promise<number>;
  /**
   * For each 20-byte key whose slot is negative, a search of the pack index `idx` (sorted: all
   * its offsets ascending); found ones get slot `mark` and their entry's [from, to) (to -1: the
   * pack's last entry, or every entry when sorted is null). Returns how many were found.
   */
  locate(idx: Buffer, sorted: Float64Array | null, keys: Buffer, slot: Int32Array, from: Float64Array, to: Float64Array, mark: number): number;
  /**
   * The synthetic zip's central directory and end record: per file, `files` holds (local
   * header offset, size, CRC-32, UTF-8 length of its path in `paths`, and gets where its record
   * starts); each name is prefix + path.
   */
  centralDirectory(prefix: Buffer, paths: Buffer, files: Float64Array, date: number, time: number): Buffer;
  RECORD_BYTES: number;
}

let binding: InflateBinding | undefined;

// Built by `make build` from native/inflate_work.c next to this file's output.
export function inflateBinding(): InflateBinding {
  return (binding ??= createRequire(import.meta.url)('./native/modfs_inflate.node') as InflateBinding);
}

/** Why readObjects or readZip could not inflate an entry, by its status code. */
export const INFLATE_STATUS: Record<number, string> = {
  1: 'corrupt zlib stream',
  2: 'zlib stream ends early',
  3: 'inflates to more bytes than its header says',
  4: 'inflates to fewer bytes than its header says',
  5: 'out of memory',
};
