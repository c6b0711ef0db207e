// A long-lived `git cat-file --batch` process, started on first use: reads what the store's
// own readers do not (deltas in packs that git itself rewrote) without a process per request.
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

  constructor(private readonly gitDir: string) {}

  private start(): ChildProcessWithoutNullStreams {
    const proc = spawn('git', ['--git-dir', this.gitDir, 'cat-file', '--batch'], { stdio: 'pipe' });
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
