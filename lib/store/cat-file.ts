// A long-lived `git cat-file --batch` process: reads packed objects and resolves refs
// without starting a process per request.
import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';

interface Pending {
  name: string;
  resolve: (v: { id: string; type: string; data: Buffer } | null) => void;
  reject: (e: Error) => void;
}

export class CatFile {
  private proc: ChildProcessWithoutNullStreams | null = null;
  private queue: Pending[] = [];
  private buf: Buffer = Buffer.alloc(0);
  /** the object being received: its bytes are copied once into a buffer of its final size */
  private body: { id: string; type: string; data: Buffer; filled: number } | null = null;
  private closed = false;

  /** check: `--batch-check`, answers type and size only */
  constructor(
    private readonly gitDir: string,
    private readonly check = false,
  ) {}

  private start(): ChildProcessWithoutNullStreams {
    const proc = spawn('git', ['--git-dir', this.gitDir, 'cat-file', this.check ? '--batch-check' : '--batch'], { stdio: 'pipe' });
    proc.stdout.on('data', (chunk: Buffer) => this.receive(chunk));
    proc.stderr.resume();
    const fail = (why: string) => {
      if (this.proc !== proc) return;
      this.proc = null;
      this.buf = Buffer.alloc(0);
      this.body = null;
      const q = this.queue;
      this.queue = [];
      for (const p of q) p.reject(new Error(`git cat-file: ${why}`));
    };
    proc.on('error', (e) => fail(e.message));
    proc.on('exit', (code, sig) => fail(`exited (${sig ?? code})`));
    proc.stdin.on('error', () => undefined);
    return proc;
  }

  private receive(chunk: Buffer): void {
    let rest = chunk;
    while (rest.length) {
      if (this.body) {
        // Object bytes, then one LF.
        const b = this.body;
        const want = b.data.length + 1 - b.filled;
        const n = Math.min(want, rest.length);
        if (b.filled < b.data.length) rest.copy(b.data, b.filled, 0, Math.min(n, b.data.length - b.filled));
        b.filled += n;
        rest = rest.subarray(n);
        if (b.filled === b.data.length + 1) {
          this.body = null;
          this.queue.shift()?.resolve({ id: b.id, type: b.type, data: b.data });
        }
        continue;
      }
      const nl = rest.indexOf(0x0a);
      if (nl < 0) {
        this.buf = this.buf.length ? Buffer.concat([this.buf, rest]) : Buffer.from(rest);
        return;
      }
      const line = this.buf.length ? Buffer.concat([this.buf, rest.subarray(0, nl)]) : rest.subarray(0, nl);
      this.buf = Buffer.alloc(0);
      rest = rest.subarray(nl + 1);
      this.header(line.toString('utf8'));
    }
  }

  private header(line: string): void {
    if (line.endsWith(' missing') || line.endsWith(' ambiguous')) {
      this.queue.shift()?.resolve(null);
      return;
    }
    const [id, type, sizeText] = line.split(' ');
    if (this.check) {
      this.queue.shift()?.resolve({ id, type, data: Buffer.alloc(0) });
      return;
    }
    this.body = { id, type, data: Buffer.allocUnsafe(Number(sizeText)), filled: 0 };
  }

  /** Looks up an object id or ref name; null when it does not exist. */
  read(name: string): Promise<{ id: string; type: string; data: Buffer } | null> {
    if (this.closed) return Promise.reject(new Error('store closed'));
    if (/[\n\r]/.test(name)) return Promise.reject(new Error('bad object name'));
    if (!this.proc) this.proc = this.start();
    return new Promise((resolve, reject) => {
      this.queue.push({ name, resolve, reject });
      this.proc!.stdin.write(name + '\n');
    });
  }

  /** requests waiting for an answer */
  get pending(): number {
    return this.queue.length;
  }

  /** Whether an object or ref exists (a `--batch-check` instance answers cheapest). */
  async has(name: string): Promise<boolean> {
    return (await this.read(name)) !== null;
  }

  close(): void {
    this.closed = true;
    const p = this.proc;
    this.proc = null;
    if (p) {
      p.stdin.end();
      p.kill();
    }
  }
}

/**
 * A few cat-file processes, each request to the least busy: git inflates objects in C,
 * several times faster here than reading and inflating loose files through the thread pool.
 */
export class CatFilePool {
  private readonly procs: CatFile[];

  constructor(gitDir: string, size = 2) {
    this.procs = Array.from({ length: Math.max(1, size) }, () => new CatFile(gitDir));
  }

  read(name: string): Promise<{ id: string; type: string; data: Buffer } | null> {
    let best = this.procs[0];
    for (const p of this.procs) if (p.pending < best.pending) best = p;
    return best.read(name);
  }

  close(): void {
    for (const p of this.procs) p.close();
  }
}
