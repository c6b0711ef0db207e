// Reads an untrusted module zip: checks every entry against Go's zip rules before any
// byte is stored, then streams each file into a blob while hashing it, so a zip bomb
// or a lying header is caught mid-stream with bounded memory.
import { createHash } from 'node:crypto';
import { promises as fsp } from 'node:fs';
import zlib from 'node:zlib';
import { promisify } from 'node:util';
import yauzl from 'yauzl';
import type { Entry, ZipFile } from 'yauzl';
import { checkZipEntries, type ZipEntryMeta } from '../gomod/ziprules.js';
import { GoModError } from '../gomod/errors.js';
import { TimeSlice } from '../util/time-slice.js';
import { sortByUtf8 } from '../util/utf8-order.js';
import { digestDeflated, type EntryDigest } from './zip-digest.js';
import { forEachLimit, INLINE_ZLIB, type ObjectFiles, type StagedObject } from './object-files.js';

export interface IngestedFile {
  path: string;
  size: number;
  crc32: number;
  blob: string;
  sha256: Buffer;
}

const utf8 = new TextDecoder('utf-8', { fatal: true });
const SMALL_FILE = 1 << 20;

function entryMeta(e: Entry): ZipEntryMeta & { nameBytes: Buffer } {
  const raw = (e as unknown as { fileNameRaw: Buffer }).fileNameRaw;
  let name: string;
  try {
    name = utf8.decode(raw);
  } catch {
    name = raw.toString('latin1');
  }
  const unixType = (e.externalFileAttributes >>> 16) & 0o170000;
  const madeByUnix = e.versionMadeBy >> 8 === 3;
  return {
    name,
    nameBytes: raw,
    isDir: name.endsWith('/') || (madeByUnix && unixType === 0o040000),
    isSymlink: madeByUnix && unixType === 0o120000,
    isOtherSpecial: madeByUnix && unixType !== 0 && unixType !== 0o100000 && unixType !== 0o040000 && unixType !== 0o120000,
    encrypted: (e.generalPurposeBitFlag & 1) !== 0,
    compressedSize: e.compressedSize,
    uncompressedSize: e.uncompressedSize,
  };
}

// yauzl reports a read past the end of the file as "unexpected EOF" whatever it was reading;
// each caller below knows what that was and says so.
const isEof = (err: Error) => err.message === 'unexpected EOF';

/** Why yauzl could not open `file`, in words that tell an empty, foreign or truncated file apart. */
async function openError(file: string, err: Error): Promise<GoModError> {
  let head = Buffer.alloc(0);
  try {
    const fh = await fsp.open(file, 'r');
    try {
      const { buffer, bytesRead } = await fh.read(Buffer.alloc(32), 0, 32, 0);
      head = buffer.subarray(0, bytesRead);
    } finally {
      await fh.close();
    }
  } catch {
    // unreadable: report yauzl's own words
  }
  let why = err.message;
  if (/signature not found/.test(why)) {
    if (head.length === 0) why = 'empty file (0 bytes), not a zip';
    else if (head.readUInt32LE(0) === 0x04034b50) why = 'truncated zip: it starts with a local file header but has no end of central directory record';
    else why = `not a zip file: no end of central directory record; it starts with ${JSON.stringify(head.toString('latin1'))}`;
  } else if (isEof(err)) {
    why = 'the ZIP64 end of central directory locator points outside the file';
  }
  return new GoModError('zip-corrupt', `not a readable zip: ${why}`);
}

// Zips up to this size are read into memory once: thousands of small positioned reads of
// the file cost more than the bytes (measured: 1.3 s of 8 s ingesting the corpus).
const IN_MEMORY_ZIP = 16 << 20;

/** A zip being read: yauzl for the central directory, and the whole file when it is small. */
interface OpenedZip {
  zf: ZipFile;
  data: Buffer | null;
}

async function openZip(file: string): Promise<OpenedZip> {
  const opts = { lazyEntries: true, autoClose: false, decodeStrings: false, validateEntrySizes: true, strictFileNames: false };
  const size = (await fsp.stat(file)).size;
  const data = size <= IN_MEMORY_ZIP ? await fsp.readFile(file) : null;
  return new Promise((resolve, reject) => {
    const done = (err: Error | null, zf: ZipFile) => (err ? openError(file, err).then(reject) : resolve({ zf, data }));
    if (data) yauzl.fromBuffer(data, opts, done);
    else yauzl.open(file, opts, done);
  });
}

function readAllEntries(zf: ZipFile): Promise<Entry[]> {
  return new Promise((resolve, reject) => {
    const entries: Entry[] = [];
    zf.on('entry', (e: Entry) => {
      entries.push(e);
      zf.readEntry();
    });
    zf.once('end', () => resolve(entries));
    zf.once('error', (err: Error) =>
      reject(
        new GoModError(
          'zip-corrupt',
          `broken zip directory: ${isEof(err) ? 'the central directory extends past the end of the file (bad offset or entry count)' : err.message}`,
        ),
      ),
    );
    zf.readEntry();
  });
}

function localNameMismatch(e: Entry, local: Buffer): GoModError {
  return new GoModError(
    'zip-local-name-mismatch',
    `${utf8Name(e)}: the local file header names ${JSON.stringify(local.toString('utf8'))}, the central directory ${JSON.stringify(utf8Name(e))}`,
  );
}

/**
 * Opens an entry's content after checking its local header names the same file as the central
 * directory: tools that stream local headers (unzip -, Java's ZipInputStream) would otherwise
 * extract a name that no check here has seen.
 */
async function openStream(zf: ZipFile, e: Entry, decompress = true): Promise<NodeJS.ReadableStream> {
  const cdName = (e as unknown as { fileNameRaw: Buffer }).fileNameRaw;
  const header = await new Promise<{ fileName: Buffer }>((resolve, reject) =>
    zf.readLocalFileHeader(e, (err, h) =>
      err
        ? reject(
            new GoModError(
              'zip-corrupt',
              `cannot read ${utf8Name(e)}: ${isEof(err) ? `its local header (offset ${e.relativeOffsetOfLocalHeader}) lies outside the file` : err.message}`,
            ),
          )
        : resolve(h as unknown as { fileName: Buffer }),
    ),
  );
  if (!Buffer.from(header.fileName).equals(cdName)) throw localNameMismatch(e, Buffer.from(header.fileName));
  return new Promise((resolve, reject) =>
    zf.openReadStream(e, decompress || !e.isCompressed() ? {} : { decompress: false }, (err, s) =>
      err ? reject(new GoModError('zip-corrupt', `cannot read ${utf8Name(e)}: ${err.message}`)) : resolve(s),
    ),
  );
}

/**
 * An entry's compressed bytes, sliced from a zip held in memory: the same checks as yauzl's
 * local-header read (signature, extent), plus the name check, without a stream per file.
 */
function entryBytesInMemory(data: Buffer, e: Entry): Buffer {
  const at = e.relativeOffsetOfLocalHeader;
  const outside = () =>
    new GoModError('zip-corrupt', `cannot read ${utf8Name(e)}: its local header (offset ${at}) lies outside the file`);
  if (at + 30 > data.length) throw outside();
  const sig = data.readUInt32LE(at);
  if (sig !== 0x04034b50) {
    throw new GoModError('zip-corrupt', `cannot read ${utf8Name(e)}: invalid local file header signature: 0x${sig.toString(16)}`);
  }
  const nameEnd = at + 30 + data.readUInt16LE(at + 26);
  const start = nameEnd + data.readUInt16LE(at + 28);
  if (start > data.length) throw outside();
  const cdName = (e as unknown as { fileNameRaw: Buffer }).fileNameRaw;
  if (!sameBytes(data, at + 30, nameEnd, cdName)) throw localNameMismatch(e, data.subarray(at + 30, nameEnd));
  const end = start + e.compressedSize;
  if (end > data.length) throw new GoModError('zip-corrupt', `cannot read ${utf8Name(e)}: its data extends past the end of the file`);
  return data.subarray(start, end);
}

/**
 * data[from, to) equals name. A byte loop: handing a name (often a small on-heap buffer) to
 * Buffer.equals cost more than the comparison, 17 ms of a cold start's download phase.
 */
function sameBytes(data: Buffer, from: number, to: number, name: Buffer): boolean {
  if (to - from !== name.length) return false;
  for (let i = 0; i < name.length; i++) if (data[from + i] !== name[i]) return false;
  return true;
}

type InflateResult = { buffer: Buffer; engine: { bytesWritten: number } };
const inflateRawInfo = promisify(zlib.inflateRaw) as unknown as (b: Buffer, o: zlib.ZlibOptions) => Promise<InflateResult>;

/**
 * Small stored or deflated entries: the compressed bytes are inflated in one call instead of
 * a stream per file, with the output capped just above the announced size. Returns the
 * content and, for deflated entries, the raw deflate stream exactly as far as it reached.
 */
async function readSmallEntry(z: OpenedZip, e: Entry, path: string): Promise<{ content: Buffer; raw: Buffer | null }> {
  let packed: Buffer;
  if (z.data) packed = entryBytesInMemory(z.data, e);
  else {
    const raw: Buffer[] = [];
    for await (const chunk of (await openStream(z.zf, e, false)) as AsyncIterable<Buffer>) raw.push(chunk);
    packed = Buffer.concat(raw);
  }
  if (e.compressionMethod === 0) return { content: packed, raw: null };
  try {
    const opts = { maxOutputLength: e.uncompressedSize + 1, info: true };
    const r =
      e.uncompressedSize <= INLINE_ZLIB
        ? (zlib.inflateRawSync(packed, opts) as unknown as InflateResult)
        : await inflateRawInfo(packed, opts);
    // Bytes after the end of the deflate stream are not part of the file (Go ignores them too).
    return { content: r.buffer, raw: packed.subarray(0, r.engine.bytesWritten) };
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ERR_BUFFER_TOO_LARGE') {
      throw new GoModError('zip-corrupt', `${path}: ${inflatesTooFar(e, e.uncompressedSize + 1)}`);
    }
    throw new GoModError('zip-corrupt', `${path}: ${(err as Error).message}`);
  }
}

/**
 * Sizes of 0xFFFFFFFF (or such an offset) mean "see the ZIP64 extra field"; without one, yauzl
 * keeps the marker as a real value and the entry's true extent is unknown.
 */
function checkZip64(e: Entry): void {
  const M = 0xffffffff;
  if (e.compressedSize !== M && e.uncompressedSize !== M && e.relativeOffsetOfLocalHeader !== M) return;
  if (e.extraFields.some((f) => f.id === 0x0001)) return;
  const marked = [
    ['compressed size', e.compressedSize],
    ['uncompressed size', e.uncompressedSize],
    ['local header offset', e.relativeOffsetOfLocalHeader],
  ].filter(([, v]) => v === M);
  if (marked.length > 0) {
    throw new GoModError(
      'zip64-extra-missing',
      `${utf8Name(e)}: ${marked.map(([n]) => n).join(', ')} 0xFFFFFFFF without a ZIP64 extended information extra field`,
    );
  }
}

function utf8Name(e: Entry): string {
  return (e as unknown as { fileNameRaw: Buffer }).fileNameRaw.toString('utf8');
}

/**
 * Validates and stores the files of a module zip. Returns them sorted by path bytes, plus
 * the root go.mod's bytes when present. Throws GoModError for anything Go would reject.
 */
export async function ingestZipFiles(
  zipPath: string,
  module: string,
  version: string,
  objects: ObjectFiles,
): Promise<{ files: IngestedFile[]; goMod: Buffer | null; staged: StagedObject[] }> {
  const z = await openZip(zipPath);
  const zf = z.zf;
  const staged: StagedObject[] = [];
  try {
    const entries = await readAllEntries(zf);
    if (entries.length === 0) throw new GoModError('zip-no-files', `${module}@${version}: the module zip has no entries`);
    entries.forEach(checkZip64);
    const metas = entries.map(entryMeta);
    const kept = checkZipEntries(module, version, metas);
    const byName = new Map<string, Entry>();
    metas.forEach((m, i) => byName.set(m.name, entries[i]));

    const files: IngestedFile[] = [];
    let goMod: Buffer | null = null;
    const digests = z.data ? await digestInMemory(z.data, kept.map((k) => byName.get(k.name)!)) : null;
    const slice = new TimeSlice();
    await forEachLimit(kept, 4, async (k) => {
      await slice.pass();
      const e = byName.get(k.name)!;
      const d = digests?.get(e);
      const { file, content, object } = d ? fromDigest(e, k.path, d, objects) : await ingestEntry(z, e, k.path, objects);
      staged.push(object);
      if (content) goMod = content;
      files.push(file);
    });
    sortByUtf8(files, (f) => f.path);
    return { files, goMod, staged };
  } catch (err) {
    await objects.discard(staged);
    throw err;
  } finally {
    zf.close();
  }
}

async function ingestEntry(
  z: OpenedZip,
  e: Entry,
  path: string,
  objects: ObjectFiles,
): Promise<{ file: IngestedFile; content: Buffer | null; object: StagedObject }> {
  if (e.uncompressedSize <= SMALL_FILE && e.compressedSize <= SMALL_FILE && (e.compressionMethod === 0 || e.compressionMethod === 8)) {
    const { content, raw } = await readSmallEntry(z, e, path);
    if (content.length !== e.uncompressedSize) {
      throw new GoModError('zip-corrupt', `${path}: ${sizeMismatch(e, content.length)}`);
    }
    const crc = zlib.crc32(content) >>> 0;
    if (crc !== e.crc32 >>> 0) throw crcMismatch(path, e, crc);
    const object = raw ? objects.stageDeflated(content, raw) : await objects.stage('blob', content);
    return {
      file: { path, size: content.length, crc32: crc, blob: object.id, sha256: createHash('sha256').update(content).digest() },
      content: path === 'go.mod' ? content : null,
      object,
    };
  }
  // Everything else streams through to a temporary file, so memory stays bounded.
  const stream = await openStream(z.zf, e);
  const writer = objects.blobWriter(e.uncompressedSize);
  const sha = createHash('sha256');
  const keep = path === 'go.mod' ? ([] as Buffer[]) : null;
  let received = 0;
  let crc = 0;
  try {
    for await (const chunk of stream as AsyncIterable<Buffer>) {
      sha.update(chunk);
      crc = zlib.crc32(chunk, crc);
      received += chunk.length;
      if (received > e.uncompressedSize) throw new Error('more bytes than the entry header announces');
      keep?.push(chunk);
      await writer.write(chunk);
    }
  } catch (err) {
    await writer.abort();
    let msg = (err as Error).message;
    // yauzl's byte counter ("too many bytes in the stream") or the check above: a lying header or a zip bomb
    const atLeast = /^too many bytes.*got at least (\d+)/.exec(msg);
    if (received > e.uncompressedSize || atLeast) {
      const seen = Math.max(received, Number(atLeast?.[1] ?? 0));
      msg = inflatesTooFar(e, seen);
    }
    throw new GoModError('zip-corrupt', `${path}: ${msg}`);
  }
  if (crc >>> 0 !== e.crc32 >>> 0) {
    await writer.abort();
    throw crcMismatch(path, e, crc >>> 0);
  }
  let object: StagedObject;
  try {
    if (received !== e.uncompressedSize) throw new Error(sizeMismatch(e, received));
    object = await writer.finish();
  } catch (err) {
    await writer.abort();
    throw new GoModError('zip-corrupt', `${path}: ${(err as Error).message}`);
  }
  return {
    file: { path, size: e.uncompressedSize, crc32: crc >>> 0, blob: object.id, sha256: sha.digest() },
    content: keep ? Buffer.concat(keep) : null,
    object,
  };
}

/**
 * Digests of the deflated entries of a zip held in memory, computed natively on pool threads
 * (zip-digest.ts); local headers are checked first, as a read of each entry would.
 */
async function digestInMemory(data: Buffer, entries: Entry[]): Promise<Map<Entry, { packed: Buffer; digest: EntryDigest }>> {
  const deflated = entries.filter((e) => e.compressionMethod === 8);
  const packed = deflated.map((e) => entryBytesInMemory(data, e));
  const digests = await digestDeflated(
    data,
    deflated.map((e, i) => ({ start: packed[i].byteOffset - data.byteOffset, length: packed[i].length, size: e.uncompressedSize })),
  );
  return new Map(deflated.map((e, i) => [e, { packed: packed[i], digest: digests[i] }]));
}

/** A deflated entry from its digest: checked against its header, staged with its own deflate bytes. */
function fromDigest(
  e: Entry,
  path: string,
  { packed, digest: d }: { packed: Buffer; digest: EntryDigest },
  objects: ObjectFiles,
): { file: IngestedFile; content: Buffer | null; object: StagedObject } {
  if (!d.ok) {
    if (d.why === 'no-memory') throw new Error(`${path}: out of memory while inflating`);
    const why = d.why === 'too-large' ? inflatesTooFar(e, d.produced) : d.why === 'truncated' ? 'unexpected end of file' : d.message || 'invalid deflate data';
    throw new GoModError('zip-corrupt', `${path}: ${why}`);
  }
  if (d.size !== e.uncompressedSize) throw new GoModError('zip-corrupt', `${path}: ${sizeMismatch(e, d.size)}`);
  if (d.crc32 !== e.crc32 >>> 0) throw crcMismatch(path, e, d.crc32);
  // Bytes after the end of the deflate stream are not part of the file (Go ignores them too).
  const raw = packed.subarray(0, d.consumed);
  return {
    file: { path, size: d.size, crc32: d.crc32, blob: d.sha1, sha256: d.sha256 },
    content: path === 'go.mod' ? zlib.inflateRawSync(raw) : null,
    object: objects.stageRawDeflate(d.sha1, d.size, raw, d.adler32),
  };
}

function inflatesTooFar(e: Entry, seen: number): string {
  return `inflates to more than the ${e.uncompressedSize} bytes its header announces (stopped at ${seen}): a zip bomb or a lying header`;
}

function sizeMismatch(e: Entry, got: number): string {
  return `${got} bytes, the entry header announces ${e.uncompressedSize}`;
}

function crcMismatch(path: string, e: Entry, actual: number): GoModError {
  return new GoModError('zip-crc', `${path}: CRC-32 mismatch (header ${e.crc32.toString(16)}, content ${actual.toString(16)})`);
}
