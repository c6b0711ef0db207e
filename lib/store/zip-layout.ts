// The synthetic .zip of a stored version, pure: a deterministic archive with every file
// "stored" (no compression), so its exact size is known from the manifest alone and any
// byte range maps either to generated header bytes or to a slice of one file's content.

export interface LayoutFile {
  /** name inside the zip, with the `<module>@<version>/` prefix */
  name: string;
  size: number;
  crc32: number;
}

export type Segment =
  | { offset: number; length: number; kind: 'bytes'; data: Buffer }
  | { offset: number; length: number; kind: 'file'; index: number };

export interface ZipLayout {
  size: number;
  segments: Segment[];
}

const MAX_U16 = 0xffff;
const MAX_U32 = 0xffffffff;

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

export function zipLayout(files: LayoutFile[], mtime: Date): ZipLayout {
  if (files.length > MAX_U16) throw new Error(`synthetic zip: ${files.length} files need ZIP64, not supported`);
  const { date, time } = dosDateTime(mtime);
  const segments: Segment[] = [];
  const central: Buffer[] = [];
  let offset = 0;
  files.forEach((f, index) => {
    const name = Buffer.from(f.name, 'utf8');
    const utf8Flag = /[^\x00-\x7f]/.test(f.name) ? 0x0800 : 0;
    if (f.size > MAX_U32 || offset > MAX_U32) throw new Error('synthetic zip: archive needs ZIP64, not supported');
    const local = Buffer.alloc(30 + name.length);
    local.writeUInt32LE(0x04034b50, 0);
    local.writeUInt16LE(10, 4); // version needed: 1.0, stored
    local.writeUInt16LE(utf8Flag, 6);
    local.writeUInt16LE(0, 8); // method: stored
    local.writeUInt16LE(time, 10);
    local.writeUInt16LE(date, 12);
    local.writeUInt32LE(f.crc32 >>> 0, 14);
    local.writeUInt32LE(f.size, 18);
    local.writeUInt32LE(f.size, 22);
    local.writeUInt16LE(name.length, 26);
    local.writeUInt16LE(0, 28);
    name.copy(local, 30);

    const cd = Buffer.alloc(46 + name.length);
    cd.writeUInt32LE(0x02014b50, 0);
    cd.writeUInt16LE((3 << 8) | 20, 4); // made by unix, spec 2.0
    cd.writeUInt16LE(10, 6);
    cd.writeUInt16LE(utf8Flag, 8);
    cd.writeUInt16LE(0, 10);
    cd.writeUInt16LE(time, 12);
    cd.writeUInt16LE(date, 14);
    cd.writeUInt32LE(f.crc32 >>> 0, 16);
    cd.writeUInt32LE(f.size, 20);
    cd.writeUInt32LE(f.size, 24);
    cd.writeUInt16LE(name.length, 28);
    cd.writeUInt32LE(((0o100444 << 16) >>> 0), 38); // regular file, 0444
    cd.writeUInt32LE(offset, 42);
    name.copy(cd, 46);
    central.push(cd);

    segments.push({ offset, length: local.length, kind: 'bytes', data: local });
    offset += local.length;
    if (f.size > 0) segments.push({ offset, length: f.size, kind: 'file', index });
    offset += f.size;
  });
  const cdStart = offset;
  const cdBytes = Buffer.concat(central);
  const eocd = Buffer.alloc(22);
  eocd.writeUInt32LE(0x06054b50, 0);
  eocd.writeUInt16LE(files.length, 8);
  eocd.writeUInt16LE(files.length, 10);
  eocd.writeUInt32LE(cdBytes.length, 12);
  eocd.writeUInt32LE(cdStart, 16);
  const tail = Buffer.concat([cdBytes, eocd]);
  if (cdStart + tail.length > MAX_U32) throw new Error('synthetic zip: archive needs ZIP64, not supported');
  segments.push({ offset: cdStart, length: tail.length, kind: 'bytes', data: tail });
  return { size: cdStart + tail.length, segments };
}

/** Index of the segment holding byte `pos` (binary search). */
export function segmentAt(layout: ZipLayout, pos: number): number {
  let lo = 0;
  let hi = layout.segments.length - 1;
  while (lo < hi) {
    const mid = (lo + hi + 1) >> 1;
    if (layout.segments[mid].offset <= pos) lo = mid;
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

/**
 * Fills `out` with the archive bytes from `pos`, asking `readFiles` once for the content
 * slices the range overlaps, so the files a range spans can be read together.
 */
export async function readZipRange(
  layout: ZipLayout,
  pos: number,
  out: Buffer,
  readFiles: (slices: FileSlice[]) => Promise<Buffer[]>,
): Promise<number> {
  if (pos >= layout.size) return 0;
  const want = Math.min(out.length, layout.size - pos);
  let done = 0;
  let i = segmentAt(layout, pos);
  const slices: FileSlice[] = [];
  const at: number[] = [];
  while (done < want && i < layout.segments.length) {
    const seg = layout.segments[i];
    const from = pos + done - seg.offset;
    const n = Math.min(seg.length - from, want - done);
    if (seg.kind === 'bytes') seg.data.copy(out, done, from, from + n);
    else {
      slices.push({ index: seg.index, start: from, end: from + n });
      at.push(done);
    }
    done += n;
    i++;
  }
  if (slices.length > 0) {
    const parts = await readFiles(slices);
    parts.forEach((b, k) => {
      if (b.length !== slices[k].end - slices[k].start) throw new Error(`synthetic zip: file ${slices[k].index} gave ${b.length} bytes, expected ${slices[k].end - slices[k].start}`);
      b.copy(out, at[k]);
    });
  }
  return done;
}
