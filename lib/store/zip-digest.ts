// Digests of deflated zip entries, computed by the native addon (native/inflate_work.c) on
// libuv pool threads, a share of the entries on each: inflating and hashing a module's files
// is most of an ingest, and in JavaScript it ran on the event loop, one core, behind the JIT.
import os from 'node:os';
import { inflateBinding } from './native-inflate.js';

/** A deflated entry inside the zip buffer, and the size its header announces. */
export interface DeflatedSpan {
  start: number;
  length: number;
  size: number;
}

export type EntryDigest =
  | {
      ok: true;
      /** content bytes (checked by the caller against the announced size) */
      size: number;
      crc32: number;
      adler32: number;
      /** bytes of the span the deflate stream took; anything after it is not part of the file */
      consumed: number;
      /** git blob id */
      sha1: string;
      sha256: Buffer;
    }
  | { ok: false; why: 'corrupt' | 'truncated' | 'too-large' | 'no-memory'; message: string; produced: number };

const WHY = { 1: 'corrupt', 2: 'truncated', 3: 'too-large', 4: 'no-memory' } as const;
// Below this many compressed bytes a second thread costs more than it saves.
const SPLIT_BYTES = 256 << 10;

/** Digests of the spans, in their order; `parts` pool threads share the work by compressed bytes. */
export async function digestDeflated(zip: Buffer, spans: DeflatedSpan[], parts = Math.min(4, os.availableParallelism())): Promise<EntryDigest[]> {
  const b = inflateBinding();
  const total = spans.reduce((n, s) => n + s.length, 0);
  const n = total < SPLIT_BYTES ? 1 : Math.max(1, Math.min(parts, spans.length));
  const ranges: Array<[number, number]> = [];
  let from = 0;
  let acc = 0;
  for (let i = 0; i < spans.length && ranges.length < n - 1; i++) {
    acc += spans[i].length;
    if (acc >= (total * (ranges.length + 1)) / n) {
      ranges.push([from, i + 1]);
      from = i + 1;
    }
  }
  ranges.push([from, spans.length]);
  const R = b.RECORD_BYTES;
  const outs = await Promise.all(
    ranges.map(async ([lo, hi]) => {
      const table = new Float64Array((hi - lo) * 3);
      for (let i = lo, k = 0; i < hi; i++, k += 3) {
        table[k] = spans[i].start;
        table[k + 1] = spans[i].length;
        table[k + 2] = spans[i].size;
      }
      const out = Buffer.alloc((hi - lo) * R);
      if (hi > lo) await b.digest(zip, table, out);
      return out;
    }),
  );
  const result: EntryDigest[] = [];
  for (const out of outs) {
    for (let at = 0; at < out.length; at += R) {
      const status = out.readUInt32LE(at);
      const produced = out.readDoubleLE(at + 16);
      if (status !== 0) {
        const msgEnd = out.indexOf(0, at + 76);
        const message = out.toString('utf8', at + 76, msgEnd < 0 || msgEnd > at + R ? at + R : msgEnd);
        result.push({ ok: false, why: WHY[status as keyof typeof WHY] ?? 'corrupt', message, produced });
        continue;
      }
      result.push({
        ok: true,
        size: produced,
        crc32: out.readUInt32LE(at + 4),
        adler32: out.readUInt32LE(at + 8),
        consumed: out.readUInt32LE(at + 12),
        sha1: out.toString('hex', at + 24, at + 44),
        sha256: out.subarray(at + 44, at + 76),
      });
    }
  }
  return result;
}
