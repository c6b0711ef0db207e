// CPU-bound loops that await only settled promises never let the event loop run: FUSE
// requests would wait until the loop ends (a 2,000-file ingest held them for ~300 ms).
// A time slice hands the loop back every few milliseconds.
export class TimeSlice {
  private start = performance.now();

  constructor(private readonly ms = 4) {}

  /** Resolves at once inside the slice; past it, after pending I/O callbacks have run. */
  async pass(): Promise<void> {
    if (performance.now() - this.start < this.ms) return;
    await new Promise<void>((resolve) => setImmediate(resolve));
    this.start = performance.now();
  }
}
