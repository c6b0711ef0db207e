// The synthetic zip written whole, field by field, in plain JavaScript: the reference the
// tests hold modfs's native zip reads (inflate_work.c readZip) against. It shares only the
// layout (offsets and name lengths) with the code under test.
import type { ZipLayout } from '../../lib/store/zip-layout.js';

/** Every byte of the layout's zip, each file's content from `content(i)`. */
export function referenceZip(layout: ZipLayout, content: (index: number) => Buffer): Buffer {
  const n = layout.files.length;
  const out = Buffer.alloc(layout.size);
  const names = layout.files.map((f) => Buffer.from(layout.prefix + f.path, 'utf8'));
  // A name with a non-ASCII byte carries the UTF-8 flag.
  const flags = names.map((name) => (name.some((b) => b >= 0x80) ? 0x0800 : 0));
  // What a local header and a central record both hold, from "version needed" to the extra length.
  const fields = (i: number, at: number) => {
    const f = layout.files[i];
    out.writeUInt16LE(10, at); // version needed: 1.0, stored
    out.writeUInt16LE(flags[i], at + 2);
    out.writeUInt16LE(0, at + 4); // method: stored
    out.writeUInt16LE(layout.time, at + 6);
    out.writeUInt16LE(layout.date, at + 8);
    out.writeUInt32LE(f.crc32 >>> 0, at + 10);
    out.writeUInt32LE(f.size, at + 14);
    out.writeUInt32LE(f.size, at + 18);
    out.writeUInt16LE(names[i].length, at + 22);
    out.writeUInt16LE(0, at + 24); // no extra field
  };
  for (let i = 0; i < n; i++) {
    const f = layout.files[i];
    const at = layout.starts[i];
    out.writeUInt32LE(0x04034b50, at);
    fields(i, at + 4);
    names[i].copy(out, at + 30);
    const data = content(i);
    if (data.length !== f.size) throw new Error(`reference zip: content of ${f.path} is ${data.length} bytes, not ${f.size}`);
    data.copy(out, at + 30 + names[i].length);
  }
  const cdStart = layout.starts[n];
  let at = cdStart;
  for (let i = 0; i < n; i++) {
    out.writeUInt32LE(0x02014b50, at);
    out.writeUInt16LE((3 << 8) | 20, at + 4); // made by unix, spec 2.0
    fields(i, at + 6);
    out.writeUInt32LE((0o100444 << 16) >>> 0, at + 38); // regular file, 0444
    out.writeUInt32LE(layout.starts[i], at + 42);
    names[i].copy(out, at + 46);
    at += 46 + names[i].length;
  }
  out.writeUInt32LE(0x06054b50, at);
  out.writeUInt16LE(n, at + 8);
  out.writeUInt16LE(n, at + 10);
  out.writeUInt32LE(at - cdStart, at + 12);
  out.writeUInt32LE(cdStart, at + 16);
  if (at + 22 !== layout.size) throw new Error(`reference zip: ends at ${at + 22}, the layout says ${layout.size}`);
  return out;
}
