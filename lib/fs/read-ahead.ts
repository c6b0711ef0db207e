// Read-ahead for a file read front to back (a version's .zip, which is made from many blobs
// as it is read). Pieces are made a window ahead of the reader and pushed into the page
// cache, so the reader's requests stop reaching us. Pure: making and pushing are given.
//
// A pushed piece hides the reader's progress, so the last pieces of the window are held back
// and answered from memory: the reader's first request inside them tells where it is, and
// moves the window on.

export interface ReadAheadOptions {
  /** bytes per piece */
  piece: number;
  /** pieces made ahead of the reader */
  window: number;
  /** pieces at the window's end not pushed, so that the reader's requests still reach us */
  held: number;
  /** pieces made at once */
  concurrent: number;
}

export const READ_AHEAD_DEFAULTS: ReadAheadOptions = { piece: 512 << 10, window: 8, held: 3, concurrent: 2 };

export class ReadAhead {
  /** pieces being made or made and not yet behind the reader, by index */
  private readonly pieces = new Map<number, Promise<Buffer>>();
  private readonly pushed = new Set<number>();
  /** highest piece index started; none before begin() */
  private frontier = -2;
  /** highest piece index wanted so far; pieces being made */
  private target = -2;
  private making = 0;
  private readonly last: number;

  constructor(
    readonly size: number,
    private readonly make: (pos: number, length: number) => Promise<Buffer>,
    private readonly push: (pos: number, data: Buffer) => void,
    private readonly opts: ReadAheadOptions = READ_AHEAD_DEFAULTS,
  ) {
    this.last = Math.max(0, Math.ceil(size / opts.piece) - 1);
  }

  /** A new pass from the piece holding `pos` (a reader starting there, or starting again). */
  begin(pos: number): void {
    this.pieces.clear();
    this.pushed.clear();
    this.frontier = this.target = Math.floor(Math.min(pos, this.size) / this.opts.piece) - 1;
  }

  /**
   * Bytes [pos, pos + length) when they are part of the pass begun (see begin); null for a
   * read elsewhere, which the caller serves the usual way.
   */
  read(pos: number, length: number): Promise<Buffer> | null {
    if (pos >= this.size) return null;
    const k = Math.floor(pos / this.opts.piece);
    const end = Math.min(pos + length, this.size);
    const k2 = Math.floor((end - 1) / this.opts.piece);
    if (!this.pieces.has(k) && !(k > this.frontier && k <= this.target + 1)) return null;
    this.advance(k, k2);
    const parts = [];
    for (let j = k; j <= k2; j++) parts.push(this.pieces.get(j));
    if (parts.some((p) => !p)) return null;
    return Promise.all(parts as Promise<Buffer>[]).then((bufs) => {
      const whole = bufs.length === 1 ? bufs[0] : Buffer.concat(bufs);
      const from = pos - k * this.opts.piece;
      return whole.subarray(from, from + (end - pos));
    });
  }

  /** The reader is at piece k and waits for pieces up to k2. */
  private advance(k: number, k2: number): void {
    // Behind the reader: a request there again is a race with its push, or a second reader.
    for (const j of this.pieces.keys()) if (j < k - 1) this.pieces.delete(j);
    for (const j of this.pushed) if (j < k - 1) this.pushed.delete(j);
    this.target = Math.max(this.target, Math.min(this.last, k + this.opts.window - 1));
    this.fill(k2);
    this.pushReady();
  }

  /**
   * Starts pieces up to the target, a few at a time: made all at once they would share the
   * cores and the reader would wait for the first as long as for the last. Pieces up to
   * `now`, which a reader waits for, start at once.
   */
  private fill(now = -1): void {
    const { piece, concurrent } = this.opts;
    while (this.frontier < this.target && (this.making < concurrent || this.frontier < now)) {
      const j = ++this.frontier;
      const pos = j * piece;
      const p = this.make(pos, Math.min(piece, this.size - pos));
      this.pieces.set(j, p);
      this.making++;
      const done = () => {
        this.making--;
        this.fill();
      };
      p.then(
        () => {
          done();
          this.pushReady();
        },
        () => {
          // The reads waiting on it answer with the error; later ones read the usual way.
          if (this.pieces.get(j) === p) this.pieces.delete(j);
          done();
        },
      );
    }
  }

  /** Pushes made pieces outside the held end of the window (all of them once it reaches the end). */
  private pushReady(): void {
    const upTo = this.target >= this.last ? this.last : this.target - this.opts.held;
    for (const [j, p] of this.pieces) {
      if (j > upTo || this.pushed.has(j)) continue;
      this.pushed.add(j);
      p.then(
        (data) => this.push(j * this.opts.piece, data),
        () => undefined,
      );
    }
  }
}
