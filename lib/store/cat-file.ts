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
  private closed = false;

  /** check: `--batch-check`, answers type and size only */
  constructor(
    private readonly gitDir: string,
    private readonly check = false,
  ) {}

  private start(): ChildProcessWithoutNullStreams {
    const proc = spawn('git', ['--git-dir', this.gitDir, 'cat-file', this.check ? '--batch-check' : '--batch'], { stdio: 'pipe' });
    proc.stdout.on('data', (chunk: Buffer) => {
      this.buf = this.buf.length ? Buffer.concat([this.buf, chunk]) : chunk;
      this.drain();
    });
    proc.stderr.resume();
    const fail = (why: string) => {
      if (this.proc !== proc) return;
      this.proc = null;
      this.buf = Buffer.alloc(0);
      const q = this.queue;
      this.queue = [];
      for (const p of q) p.reject(new Error(`git cat-file: ${why}`));
    };
    proc.on('error', (e) => fail(e.message));
    proc.on('exit', (code, sig) => fail(`exited (${sig ?? code})`));
    proc.stdin.on('error', () => undefined);
    return proc;
  }

  private drain(): void {
    while (this.queue.length) {
      const nl = this.buf.indexOf(0x0a);
      if (nl < 0) return;
      const header = this.buf.toString('utf8', 0, nl);
      if (header.endsWith(' missing') || header.endsWith(' ambiguous')) {
        this.buf = this.buf.subarray(nl + 1);
        this.queue.shift()!.resolve(null);
        continue;
      }
      const [id, type, sizeText] = header.split(' ');
      if (this.check) {
        this.buf = this.buf.subarray(nl + 1);
        this.queue.shift()!.resolve({ id, type, data: Buffer.alloc(0) });
        continue;
      }
      const size = Number(sizeText);
      if (this.buf.length < nl + 1 + size + 1) return;
      const data = Buffer.from(this.buf.subarray(nl + 1, nl + 1 + size));
      this.buf = this.buf.subarray(nl + 1 + size + 1);
      this.queue.shift()!.resolve({ id, type, data });
    }
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
