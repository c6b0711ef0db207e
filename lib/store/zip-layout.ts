// The synthetic .zip of a stored version: a deterministic archive with every file
// "stored" (no compression), so its exact size is known from the manifest alone and any
// byte range maps either to generated header bytes or to a slice of one file's content.
// Only offsets are computed up front (one pass, no buffers): a lookup of the .zip needs its
// size, and laying out snapd's 2,218 headers in buffers took 12-13 ms in a fresh process.
// The central directory is built at the first read of the zip; native code (readZip) writes
// each local header as a read reaches it, copied out of the central directory.

import { inflateBinding } from './native-inflate.js';

export interface LayoutFile {
  /** path inside the version; the zip names it `<prefix><path>` */
  path: string;
  size: number;
  crc32: number;
}

export interface ZipLayout {
  size: number;
  /** `<module>@<version>/` */
  prefix: string;
  files: readonly LayoutFile[];
  /** n + 1 offsets: file i's local header starts at starts[i]; starts[n] is the central directory's */
  starts: Float64Array;
  /** UTF-8 length of each file's name, prefix included */
  nameLengths: Uint32Array;
  date: number;
  time: number;
  /** built when a read first needs it; local headers are copied out of it */
  central?: Buffer;
  /** where file i's record starts in `central` */
  centralAt?: Float64Array;
}

const MAX_U16 = 0xffff;
const MAX_U32 = 0xffffffff;
const LOCAL = 30;
const CENTRAL = 46;
const END = 22;

/** MS-DOS date and time fields for a UTC instant (clamped to the 1980..2107 range). */
export function dosDateTime(t: Date): { date: number; time: number } {
  let y = t.getUTCFullYear();
  if (y < 1980) return { date: (0 << 9) | (1 << 5) | 1, time: 0 };
  if (y > 2107) y = 2107;
  return {
    date: ((y - 1980) << 9) | ((t.getUTCMonth() + 1) << 5) | t.getUTCDate(),
    time: (t.getUTCHours() << 11) | (t.getUTCMinutes() << 5) | (t.getUTCSeconds() >> 1),
  };
}

export function zipLayout(files: readonly LayoutFile[], mtime: Date, prefix = ''): ZipLayout {
  const n = files.length;
  if (n > MAX_U16) throw new Error(`synthetic zip: ${n} files need ZIP64, not supported`);
  const { date, time } = dosDateTime(mtime);
  const starts = new Float64Array(n + 1);
  const nameLengths = new Uint32Array(n);
  const prefixLength = Buffer.byteLength(prefix);
  let offset = 0;
  let central = 0;
  for (let i = 0; i < n; i++) {
    const f = files[i];
    const len = prefixLength + Buffer.byteLength(f.path);
    if (f.size > MAX_U32 || offset > MAX_U32) throw new Error('synthetic zip: archive needs ZIP64, not supported');
    nameLengths[i] = len;
    starts[i] = offset;
    offset += LOCAL + len + f.size;
    central += CENTRAL + len;
  }
  starts[n] = offset;
  if (offset + central + END > MAX_U32) throw new Error('synthetic zip: archive needs ZIP64, not supported');
  return { size: offset + central + END, prefix, files, starts, nameLengths, date, time };
}

/**
 * The central directory and end record, everything after the last file's content: written
 * in native code (inflate_work.c), which also notes where each file's record starts.
 */
export function centralDirectory(layout: ZipLayout): Buffer {
  if (layout.central) return layout.central;
  const n = layout.files.length;
  const prefix = Buffer.from(layout.prefix);
  const t = new Float64Array(n * 5);
  for (let i = 0; i < n; i++) {
    t[i * 5] = layout.starts[i];
    t[i * 5 + 1] = layout.files[i].size;
    t[i * 5 + 2] = layout.files[i].crc32 >>> 0;
    t[i * 5 + 3] = layout.nameLengths[i] - prefix.length;
  }
  const paths = Buffer.from(layout.files.map((f) => f.path).join(''));
  const b = inflateBinding().centralDirectory(prefix, paths, t, layout.date, layout.time);
  const at = new Float64Array(n);
  for (let i = 0; i < n; i++) at[i] = t[i * 5 + 4];
  layout.centralAt = at;
  return (layout.central = b);
}

/**
 * The layout as native code reads it (inflate_work.c, readZip): per file its offset in the
 * zip, where its central record starts, and its pack entry (slot, start, end; slot -1: none),
 * then a row with the central directory's offset.
 */
export function nativeZipTable(layout: ZipLayout, slot: Int32Array, from: Float64Array, to: Float64Array): Float64Array {
  centralDirectory(layout);
  const n = layout.files.length;
  const t = new Float64Array((n + 1) * 5);
  for (let i = 0; i < n; i++) {
    t[i * 5] = layout.starts[i];
    t[i * 5 + 1] = layout.centralAt![i];
    t[i * 5 + 2] = slot[i];
    t[i * 5 + 3] = from[i];
    t[i * 5 + 4] = to[i];
  }
  t[n * 5] = layout.starts[n];
  return t;
}

/** Index of the file whose entry (header and content) holds byte `pos`; n for the central directory. */
export function entryAt(layout: ZipLayout, pos: number): number {
  let lo = 0;
  let hi = layout.files.length;
  while (lo < hi) {
    const mid = (lo + hi + 1) >> 1;
    if (layout.starts[mid] <= pos) lo = mid;
    else hi = mid - 1;
  }
  return lo;
}

/** A slice [start, end) of the content of file `index`. */
export interface FileSlice {
  index: number;
  start: number;
  end: number;
}
