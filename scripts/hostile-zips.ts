// Crafted module zips that a module proxy could serve to hurt modfs: bad names, special files,
// lying sizes, a zip bomb, broken directories, ZIP64 oddities. Built in memory by a small zip
// writer that controls every header field, so each case is readable here rather than an opaque
// binary in the repository.
//   node dist/scripts/hostile-zips.js --out DIR
// writes <name>.zip for every case plus cases.json (name, module, version, expect, file).
//
// `expect` is either a GoModError code (only [a-z0-9-]: compare err.code) or the source of a
// regular expression tested against `${err.code}: ${err.message}`.
import { promises as fsp } from 'node:fs';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import zlib from 'node:zlib';

// ---- the zip writer ----------------------------------------------------------------

export interface RawEntry {
  /** central directory name (string: UTF-8 bytes) */
  name: string | Buffer;
  /** local header name; defaults to `name` */
  localName?: string | Buffer;
  /** uncompressed content; default empty */
  data?: Buffer;
  /** 0 stored, 8 deflated (default), anything else written as is */
  method?: number;
  /** the bytes written after the local header; default: `data` stored or deflated per `method` */
  body?: Buffer;
  /** CRC-32 in both headers; default the CRC-32 of `data` */
  crc32?: number;
  /** declared sizes in both headers; default the real ones */
  compressedSize?: number;
  uncompressedSize?: number;
  /** general purpose flags; default 0x800 (UTF-8 name) */
  flags?: number;
  /** version made by; default 0x0314 (unix, 2.0) */
  madeBy?: number;
  /** external attributes; default regular file 0644 in the unix half */
  externalAttrs?: number;
  /** extra field, written in both headers */
  extra?: Buffer;
  /** local header offset written in the central directory; default the real one */
  localOffset?: number;
}

export interface ZipLayoutOptions {
  /** signature of every central directory header; default 0x02014b50 */
  cdSignature?: number;
  /** central directory offset in the end record; default the real one */
  cdOffset?: number;
  /** entry counts in the end record; default the real one */
  entryCount?: number;
  /** "number of this disk" in the end record; default 0 */
  diskNumber?: number;
  /** bytes placed between the central directory and the end record (a ZIP64 locator, say) */
  beforeEocd?: Buffer;
  /** comment length field of the end record; default 0 (no comment) */
  commentLength?: number;
  /** bytes after the end record */
  trailing?: Buffer;
}

export const DOS_TIME = (3 << 11) | (4 << 5) | (4 >> 1); // 03:04:04
export const DOS_DATE = ((2024 - 1980) << 9) | (1 << 5) | 2; // 2024-01-02
export const UNIX_FILE = (0o100644 << 16) >>> 0;
export const MADE_BY_UNIX = (3 << 8) | 20;

const bytes = (s: string | Buffer): Buffer => (Buffer.isBuffer(s) ? s : Buffer.from(s, 'utf8'));

/** Writes a zip: local header + body per entry, then the central directory, then the end record. */
export function buildZip(entries: RawEntry[], opts: ZipLayoutOptions = {}): Buffer {
  const parts: Buffer[] = [];
  const central: Buffer[] = [];
  let offset = 0;
  for (const e of entries) {
    const data = e.data ?? Buffer.alloc(0);
    const method = e.method ?? 8;
    const body = e.body ?? (method === 8 ? zlib.deflateRawSync(data) : data);
    const crc = (e.crc32 ?? zlib.crc32(data)) >>> 0;
    const csize = (e.compressedSize ?? body.length) >>> 0;
    const usize = (e.uncompressedSize ?? data.length) >>> 0;
    const flags = e.flags ?? 0x800;
    const name = bytes(e.name);
    const localName = bytes(e.localName ?? e.name);
    const extra = e.extra ?? Buffer.alloc(0);

    const lh = Buffer.alloc(30);
    lh.writeUInt32LE(0x04034b50, 0);
    lh.writeUInt16LE(20, 4);
    lh.writeUInt16LE(flags, 6);
    lh.writeUInt16LE(method, 8);
    lh.writeUInt16LE(DOS_TIME, 10);
    lh.writeUInt16LE(DOS_DATE, 12);
    lh.writeUInt32LE(crc, 14);
    lh.writeUInt32LE(csize, 18);
    lh.writeUInt32LE(usize, 22);
    lh.writeUInt16LE(localName.length, 26);
    lh.writeUInt16LE(extra.length, 28);
    const localOffset = offset;
    for (const b of [lh, localName, extra, body]) {
      parts.push(b);
      offset += b.length;
    }

    const ch = Buffer.alloc(46);
    ch.writeUInt32LE((opts.cdSignature ?? 0x02014b50) >>> 0, 0);
    ch.writeUInt16LE(e.madeBy ?? MADE_BY_UNIX, 4);
    ch.writeUInt16LE(20, 6);
    ch.writeUInt16LE(flags, 8);
    ch.writeUInt16LE(method, 10);
    ch.writeUInt16LE(DOS_TIME, 12);
    ch.writeUInt16LE(DOS_DATE, 14);
    ch.writeUInt32LE(crc, 16);
    ch.writeUInt32LE(csize, 20);
    ch.writeUInt32LE(usize, 24);
    ch.writeUInt16LE(name.length, 28);
    ch.writeUInt16LE(extra.length, 30);
    ch.writeUInt16LE(0, 32); // comment length
    ch.writeUInt16LE(0, 34); // disk number start
    ch.writeUInt16LE(0, 36); // internal attributes
    ch.writeUInt32LE((e.externalAttrs ?? UNIX_FILE) >>> 0, 38);
    ch.writeUInt32LE((e.localOffset ?? localOffset) >>> 0, 42);
    central.push(ch, name, extra);
  }
  const cd = Buffer.concat(central);
  const cdOffset = offset;
  const before = opts.beforeEocd ?? Buffer.alloc(0);
  const eocd = Buffer.alloc(22);
  const count = opts.entryCount ?? entries.length;
  eocd.writeUInt32LE(0x06054b50, 0);
  eocd.writeUInt16LE(opts.diskNumber ?? 0, 4);
  eocd.writeUInt16LE(0, 6);
  eocd.writeUInt16LE(count, 8);
  eocd.writeUInt16LE(count, 10);
  eocd.writeUInt32LE(cd.length, 12);
  eocd.writeUInt32LE((opts.cdOffset ?? cdOffset) >>> 0, 16);
  eocd.writeUInt16LE(opts.commentLength ?? 0, 20);
  return Buffer.concat([...parts, cd, before, eocd, opts.trailing ?? Buffer.alloc(0)]);
}

/** A ZIP64 extended information extra field (id 1) holding the given 64-bit values. */
export function zip64Extra(...values: bigint[]): Buffer {
  const b = Buffer.alloc(4 + 8 * values.length);
  b.writeUInt16LE(0x0001, 0);
  b.writeUInt16LE(8 * values.length, 2);
  values.forEach((v, i) => b.writeBigUInt64LE(v, 4 + 8 * i));
  return b;
}

/** A ZIP64 end of central directory locator naming `offset` as the ZIP64 end record. */
export function zip64Locator(offset: bigint): Buffer {
  const b = Buffer.alloc(20);
  b.writeUInt32LE(0x07064b50, 0);
  b.writeUInt32LE(0, 4);
  b.writeBigUInt64LE(offset, 8);
  b.writeUInt32LE(1, 16);
  return b;
}

/**
 * A raw deflate stream of `mib` MiB of zeros, built from one compressed MiB repeated (each
 * copy ends in a full flush, so copies share no history) and a final empty block: a few
 * kilobytes that inflate to `mib` MiB without the generator ever holding them.
 */
export function zerosDeflated(mib: number): Buffer {
  const block = zlib.deflateRawSync(Buffer.alloc(1 << 20), { finishFlush: zlib.constants.Z_FULL_FLUSH });
  // BFINAL=1, BTYPE=01 (fixed Huffman), end-of-block code 0000000: bits 1,1,0 then seven 0s.
  return Buffer.concat([...Array.from({ length: mib }, () => block), Buffer.from([0x03, 0x00])]);
}

// ---- the cases ----------------------------------------------------------------------

export interface HostileZip {
  name: string;
  module: string;
  version: string;
  zip: Buffer;
  /** a GoModError code, or a regex source matched against `${code}: ${message}` */
  expect: string;
}

export const HOSTILE_MODULE = 'example.com/hostile';
export const HOSTILE_VERSION = 'v1.0.0';

/** The go.mod every case (and the .mod the tests pass along) uses. */
export function goModFor(module: string): Buffer {
  return Buffer.from(`module ${module}\n`);
}

/** A well-formed module zip from the same writer: stored and deflated entries, go.mod, a subdirectory. */
export function wellFormedZip(module = HOSTILE_MODULE, version = HOSTILE_VERSION): { zip: Buffer; files: Record<string, Buffer> } {
  const files: Record<string, Buffer> = {
    'LICENSE': Buffer.from('Permission is granted.\n'),
    'go.mod': goModFor(module),
    'hostile.go': Buffer.from('package hostile\n\nfunc Hello() string { return "hello" }\n'),
    'sub/data.txt': Buffer.from('x'.repeat(5000)),
    'sub/empty.txt': Buffer.alloc(0),
  };
  const P = `${module}@${version}/`;
  const entries: RawEntry[] = Object.entries(files).map(([p, data], i) => ({ name: P + p, data, method: i % 2 === 0 ? 0 : 8 }));
  return { zip: buildZip(entries), files };
}

const MiB = 1 << 20;

/** The cases, for `module`@`version` (defaults: example.com/hostile@v1.0.0). */
export function hostileZips(module = HOSTILE_MODULE, version = HOSTILE_VERSION): HostileZip[] {
  const P = `${module}@${version}/`;
  const goMod: RawEntry = { name: P + 'go.mod', data: goModFor(module) };
  const file = (name: string | Buffer, extra: Partial<RawEntry> = {}): RawEntry => ({
    name,
    data: Buffer.from('package hostile\n'),
    ...extra,
  });
  const good = buildZip([goMod, file(P + 'a.go'), file(P + 'b.go')]);
  const out: HostileZip[] = [];
  const add = (name: string, zip: Buffer, expect: string) => out.push({ name, module, version, zip, expect });
  const zipOf = (...entries: RawEntry[]) => buildZip([goMod, ...entries]);

  // Names.
  add('dotdot-path', zipOf(file(P + '../../../../tmp/evil.go')), 'zip-path-unclean');
  add('dotdot-without-prefix', zipOf(file('../../tmp/evil.go')), '^zip-path-unclean: .*escapes the module root');
  add('absolute-path', zipOf(file('/tmp/evil.go')), '^zip-path-unclean: .*absolute');
  add('absolute-after-prefix', zipOf(file(P + '/etc/evil.go')), 'zip-path-unclean');
  add('drive-letter-path', zipOf(file('C:/Windows/evil.go')), '^zip-path-unclean: .*absolute');
  add('backslash', zipOf(file(P + 'sub\\..\\..\\evil.go')), 'zip-name-backslash');
  add('nul-in-name', zipOf(file(P + 'a.go\0.txt')), 'zip-name-nul');
  add('invalid-utf8-name', zipOf(file(Buffer.concat([Buffer.from(P), Buffer.from([0xff, 0xfe, 0x2e, 0x67, 0x6f])]))), 'zip-name-utf8');
  add('wrong-module-prefix', buildZip([{ name: 'example.com/other@v1.0.0/go.mod', data: goModFor(module) }]), 'zip-prefix');
  add('wrong-version-prefix', zipOf(file(`${module}@${version === 'v1.0.1' ? 'v1.0.2' : 'v1.0.1'}/a.go`)), 'zip-prefix');
  add('case-collision', zipOf(file(P + 'README.md'), file(P + 'readme.md')), 'zip-case-collision');
  add('case-collision-dirs', zipOf(file(P + 'Sub/a.go'), file(P + 'sub/b.go')), 'zip-case-collision');
  add('duplicate-name', zipOf(file(P + 'a.go'), file(P + 'a.go', { data: Buffer.from('package evil\n') })), 'zip-duplicate');
  add('file-and-directory', zipOf(file(P + 'x'), file(P + 'x/a.go')), 'zip-file-dir-conflict');
  add('gomod-not-root', zipOf(file(P + 'sub/go.mod', { data: goModFor(module + '/sub') })), 'zip-gomod-not-root');
  add('gomod-uppercase', buildZip([{ name: P + 'GO.MOD', data: goModFor(module) }]), 'zip-gomod-case');
  add('windows-reserved-name', zipOf(file(P + 'con.go')), '^zip-path-invalid: .*"con" disallowed as path element component on Windows');
  add('colon-in-name', zipOf(file(P + 'a:b.go')), '^zip-path-invalid: .*invalid char ":"');

  // Entry kinds.
  add('symlink', zipOf(file(P + 'link.go', { data: Buffer.from('/etc/passwd'), method: 0, externalAttrs: (0o120777 << 16) >>> 0 })), 'zip-symlink');
  add('char-device', zipOf(file(P + 'dev', { data: Buffer.alloc(0), method: 0, externalAttrs: (0o020644 << 16) >>> 0 })), 'zip-special-file');
  add('fifo', zipOf(file(P + 'fifo', { data: Buffer.alloc(0), method: 0, externalAttrs: (0o010644 << 16) >>> 0 })), 'zip-special-file');
  add('directory-entry', zipOf({ name: P + 'sub/', data: Buffer.alloc(0), method: 0, externalAttrs: ((0o040755 << 16) | 0x10) >>> 0 }, file(P + 'sub/a.go')), 'zip-directory-entry');
  add('encrypted', zipOf(file(P + 'secret.go', { flags: 0x801, body: Buffer.alloc(40, 0x5a), uncompressedSize: 16, crc32: 0x12345678 })), 'zip-encrypted');

  // Sizes from headers (nothing this large is ever allocated or inflated).
  add('gomod-over-16MiB', buildZip([{ name: P + 'go.mod', data: goModFor(module), uncompressedSize: 16 * MiB + 1 }]), 'zip-file-too-large');
  add('license-over-16MiB', zipOf({ name: P + 'LICENSE', data: Buffer.from('MIT\n'), uncompressedSize: 16 * MiB + 1 }), 'zip-file-too-large');
  add(
    'total-over-500MiB',
    zipOf(...[0, 1, 2].map((i) => file(P + `blob${i}.bin`, { data: Buffer.from('x'), uncompressedSize: 200 * MiB }))),
    'zip-too-large',
  );
  add(
    'compressed-over-500MiB-zip64',
    zipOf(file(P + 'huge.bin', { compressedSize: 0xffffffff, uncompressedSize: 0xffffffff, extra: zip64Extra(1n << 40n, 1n << 40n) })),
    'zip-compressed-too-large',
  );

  // Lying contents.
  const bomb = zerosDeflated(50);
  add('zip-bomb', zipOf(file(P + 'bomb.txt', { body: bomb, uncompressedSize: 1024, crc32: 0 })), '^zip-corrupt: .*inflates to more than the 1024 bytes');
  add('zip-bomb-large-declared', zipOf(file(P + 'bomb.bin', { body: bomb, uncompressedSize: 2 * MiB, crc32: 0 })), '^zip-corrupt: .*inflates to more than the 2097152 bytes');
  add('short-content', zipOf(file(P + 'short.go', { uncompressedSize: 4096 })), '^zip-corrupt: .*(not enough bytes|announces 4096)');
  add('stored-size-mismatch', zipOf(file(P + 'a.go', { method: 0, compressedSize: 3 })), '^zip-corrupt: .*size mismatch');
  add('crc-mismatch', zipOf(file(P + 'a.go', { crc32: 0xdeadbeef })), 'zip-crc');
  add('unsupported-method', zipOf(file(P + 'a.go', { method: 14 })), '^zip-corrupt: .*unsupported compression method');
  add('bad-deflate-stream', zipOf(file(P + 'a.go', { body: Buffer.from([0xff, 0xff, 0xff, 0xff]), uncompressedSize: 16 })), '^zip-corrupt: .*(invalid|incorrect)');
  // The same checks for a large entry (over 1 MiB) of a zip small enough to be held in memory:
  // it is inflated in chunks, on another path than small files.
  const big = Buffer.from('package hostile\n' + '// a line of generated table data, repeated\n'.repeat(40_000));
  add('crc-mismatch-large', zipOf(file(P + 'big.go', { data: big, crc32: 0xdeadbeef })), 'zip-crc');
  add('short-content-large', zipOf(file(P + 'big.go', { data: big, uncompressedSize: big.length + 4096 })), `^zip-corrupt: .*${big.length} bytes, the entry header announces ${big.length + 4096}`);
  add('bad-deflate-stream-large', zipOf(file(P + 'big.go', { body: Buffer.alloc(64, 0xff), uncompressedSize: 2 * MiB })), '^zip-corrupt: .*(invalid|incorrect)');
  add('local-name-differs', zipOf(file(P + 'a.go', { localName: P + '../../../evil.go' })), 'zip-local-name-mismatch');

  // Structure.
  add('empty-file', Buffer.alloc(0), '^zip-corrupt: .*empty');
  add('not-a-zip', Buffer.from('<html><body>404 page not found</body></html>\n'), '^zip-corrupt: .*not a zip');
  add('truncated', good.subarray(0, Math.floor(good.length / 2)), '^zip-corrupt: .*truncated');
  add('zero-entries', buildZip([]), 'zip-no-files');
  add('cd-bad-signature', buildZip([goMod], { cdSignature: 0x02014b51 }), '^zip-corrupt: .*central directory file header signature');
  add('cd-offset-outside-file', buildZip([goMod], { cdOffset: 0x7fff0000 }), '^zip-corrupt: .*central directory .*(outside|past)');
  add('entry-count-too-high', buildZip([goMod], { entryCount: 5 }), '^zip-corrupt: .*central directory');
  add('local-offset-outside-file', buildZip([{ ...goMod, localOffset: 0x7fff0000 }]), '^zip-corrupt: .*local header .*outside');
  add('multi-disk', buildZip([goMod], { diskNumber: 1 }), '^zip-corrupt: .*multi-disk');
  add('trailing-garbage', buildZip([goMod], { trailing: Buffer.from('garbage after the end record') }), '^zip-corrupt: .*comment length');
  add('zip64-locator-nowhere', buildZip([goMod], { beforeEocd: zip64Locator(1n << 40n) }), '^zip-corrupt: .*ZIP64 end of central directory');
  add('zip64-locator-bad-record', buildZip([goMod], { beforeEocd: zip64Locator(0n) }), '^zip-corrupt: .*zip64 end of central directory record signature');
  add('sizes-ffffffff-without-zip64', zipOf(file(P + 'a.go', { compressedSize: 0xffffffff, uncompressedSize: 0xffffffff })), 'zip64-extra-missing');
  add('zip64-extra-too-short', zipOf(file(P + 'a.go', { compressedSize: 0xffffffff, uncompressedSize: 0xffffffff, extra: zip64Extra(16n) })), '^zip-corrupt: .*zip64 extended information extra field does not include');
  return out;
}

// ---- CLI ----------------------------------------------------------------------------

async function main(): Promise<void> {
  const { values } = parseArgs({ options: { out: { type: 'string' } } });
  if (!values.out) {
    process.stderr.write('usage: node dist/scripts/hostile-zips.js --out DIR\n');
    process.exit(2);
  }
  const dir = path.resolve(values.out);
  await fsp.mkdir(dir, { recursive: true });
  const index = [];
  for (const c of hostileZips()) {
    const file = `${c.name}.zip`;
    await fsp.writeFile(path.join(dir, file), c.zip);
    index.push({ name: c.name, module: c.module, version: c.version, expect: c.expect, file, bytes: c.zip.length });
  }
  await fsp.writeFile(path.join(dir, 'well-formed.zip'), wellFormedZip().zip);
  await fsp.writeFile(path.join(dir, 'cases.json'), JSON.stringify(index, null, 2) + '\n');
  process.stdout.write(`${index.length} hostile zips (and well-formed.zip) written to ${dir}\n`);
}

if (process.argv[1] && import.meta.url === pathToFileURL(path.resolve(process.argv[1])).href) {
  main().catch((err) => {
    process.stderr.write(`hostile-zips: ${(err as Error).message}\n`);
    process.exit(1);
  });
}
