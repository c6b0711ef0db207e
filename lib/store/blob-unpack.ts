// A large blob being inflated in pieces, in memory until its raw file is written: reads of
// a range wait only until the pieces pass the range's end.
import zlib from 'node:zlib';

/** A large blob inflating in pieces: reads wait until the pieces pass the end they need. */
export class Unpack {
  private readonly pieces: Buffer[] = [];
  private have = 0;
  private done = false;
  private error: Error | null = null;
  private waiters: Array<{ end: number; wake: () => void }> = [];

  constructor(readonly size: number) {}

  add(piece: Buffer): void {
    if (this.have + piece.length > this.size) throw new Error(`blob inflates past its ${this.size} bytes`);
    this.pieces.push(piece);
    this.have += piece.length;
    this.waiters = this.waiters.filter((w) => (w.end <= this.have ? (w.wake(), false) : true));
  }

  /** Inflates a zlib stream in 64 KiB pieces (the first read waits for one piece, not all). */
  async inflate(z: Buffer): Promise<void> {
    const inflater = zlib.createInflate({ chunkSize: 64 << 10 });
    inflater.end(z);
    try {
      for await (const piece of inflater as AsyncIterable<Buffer>) this.add(piece);
    } finally {
      inflater.destroy();
    }
    if (this.have !== this.size) throw new Error(`blob inflated to ${this.have} bytes, header says ${this.size}`);
  }

  whole(): Buffer {
    return this.pieces.length === 1 ? this.pieces[0] : Buffer.concat(this.pieces, this.have);
  }

  finish(): void {
    this.done = true;
    for (const w of this.waiters.splice(0)) w.wake();
  }

  fail(err: Error): void {
    this.error = err;
    this.finish();
  }

  async range(start: number, end: number): Promise<Buffer> {
    end = Math.min(end, this.size);
    if (this.have < end && !this.done) await new Promise<void>((wake) => this.waiters.push({ end, wake }));
    if (this.error) throw this.error;
    const out = Buffer.allocUnsafe(Math.max(0, end - start));
    let at = 0;
    let base = 0;
    for (const p of this.pieces) {
      if (at >= out.length) break;
      const from = Math.max(start + at - base, 0);
      if (from < p.length) at += p.copy(out, at, from, Math.min(p.length, end - base));
      base += p.length;
    }
    return out.subarray(0, at);
  }
}
