// The module proxy client: GOPROXY list semantics, bounded retries, streamed zips.
import { createWriteStream, promises as fsp } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { pipeline } from 'node:stream/promises';
import { Transform } from 'node:stream';
import got, { RequestError } from 'got';
import { escapePath, escapeVersion } from '../gomod/escape.js';
import { parseGoProxy, type ProxyEntry } from '../gomod/goproxy.js';
import { MAX_ZIP_FILE } from '../gomod/ziprules.js';
import { redactUrl, UpstreamError } from './errors.js';

export interface ProxyClientOptions {
  /** a GOPROXY list */
  proxy: string;
  /** per request for metadata; for zips, the longest the body may stall */
  timeoutMs?: number;
  retries?: number;
  retryBaseMs?: number;
  maxZipBytes?: number;
  log?: (line: string) => void;
}

export interface Fetched {
  data: Buffer;
  url: string;
}

type Target = { module: string; version?: string; suffix: string };

export class ProxyClient {
  readonly entries: ProxyEntry[];
  private readonly timeoutMs: number;
  private readonly retries: number;
  private readonly retryBaseMs: number;
  private readonly maxZipBytes: number;
  private readonly log: (line: string) => void;

  constructor(opts: ProxyClientOptions) {
    this.entries = parseGoProxy(opts.proxy);
    this.timeoutMs = opts.timeoutMs ?? 30000;
    this.retries = opts.retries ?? 2;
    this.retryBaseMs = opts.retryBaseMs ?? 200;
    this.maxZipBytes = opts.maxZipBytes ?? MAX_ZIP_FILE;
    this.log = opts.log ?? (() => undefined);
  }

  async list(module: string): Promise<{ versions: string[]; url: string }> {
    const r = await this.fetch({ module, suffix: '/@v/list' });
    const versions = r.data.toString('utf8').split('\n').map((l) => l.trim().split(/\s+/)[0]).filter(Boolean);
    return { versions, url: r.url };
  }

  info(module: string, version: string): Promise<Fetched> {
    return this.fetch({ module, version, suffix: `/@v/${escapeVersion(version)}.info` });
  }

  mod(module: string, version: string): Promise<Fetched> {
    return this.fetch({ module, version, suffix: `/@v/${escapeVersion(version)}.mod` });
  }

  latest(module: string): Promise<Fetched> {
    return this.fetch({ module, suffix: '/@latest' });
  }

  /** Streams the zip to destPath; removed again on any failure. */
  async zip(module: string, version: string, destPath: string): Promise<{ size: number; url: string }> {
    const target = { module, version, suffix: `/@v/${escapeVersion(version)}.zip` };
    return this.walk(target, async (url) => {
      try {
        return { size: await this.download(target, url, destPath), url: redactUrl(url) };
      } catch (e) {
        await fsp.rm(destPath, { force: true });
        throw e;
      }
    });
  }

  private fetch(target: Target): Promise<Fetched> {
    return this.walk(target, async (url) => ({ data: await this.get(target, url), url: redactUrl(url) }));
  }

  /** Tries each GOPROXY entry in turn: after ',' only 404/410 fall through, after '|' any error. */
  private async walk<T>(target: Target, attempt: (url: string) => Promise<T>): Promise<T> {
    const escaped = escapePath(target.module);
    let last: UpstreamError | null = null;
    for (const entry of this.entries) {
      if (entry.kind === 'off') {
        throw new UpstreamError('off', target.module, target.version, undefined, 'module lookup disabled by GOPROXY=off');
      }
      if (entry.kind === 'direct') {
        last = new UpstreamError('direct-unsupported', target.module, target.version, undefined,
          'direct VCS fetches are not supported yet; use a module proxy');
        if (entry.fallThroughOnAnyError) continue;
        throw last;
      }
      const url = `${entry.url}/${escaped}${target.suffix}`;
      try {
        return await this.withRetries(target, () => attempt(url));
      } catch (e) {
        const err = e instanceof UpstreamError ? e : new UpstreamError('network', target.module, target.version, url, (e as Error).message);
        last = err;
        if (entry.fallThroughOnAnyError || err.notFound) continue;
        throw err;
      }
    }
    throw last ?? new UpstreamError('invalid', target.module, target.version, undefined, 'no proxy in the GOPROXY list');
  }

  private async withRetries<T>(target: Target, op: () => Promise<T>): Promise<T> {
    for (let i = 0; ; i++) {
      try {
        return await op();
      } catch (e) {
        if (!(e instanceof UpstreamError) || !e.retryable || i >= this.retries) throw e;
        const wait = this.retryBaseMs * 2 ** i * (0.75 + Math.random() / 2);
        this.log(`modfs: retrying ${e.message} in ${Math.round(wait)} ms`);
        await new Promise((r) => setTimeout(r, wait));
      }
    }
  }

  private classify(target: Target, url: string, e: unknown): UpstreamError {
    if (e instanceof UpstreamError) return e;
    const err = e as RequestError;
    const code = err.code ?? '';
    if (code === 'ETIMEDOUT' || err.name === 'TimeoutError') {
      return new UpstreamError('timeout', target.module, target.version, url, `timed out after ${this.timeoutMs} ms`);
    }
    return new UpstreamError('network', target.module, target.version, url, `${code ? code + ': ' : ''}${err.message}`);
  }

  private statusError(target: Target, url: string, status: number, statusText: string): UpstreamError {
    const kind = status === 404 ? 'not-found' : status === 410 ? 'gone' : 'http';
    return new UpstreamError(kind, target.module, target.version, url, `${status} ${statusText}`.trim(), status);
  }

  private async get(target: Target, url: string): Promise<Buffer> {
    if (url.startsWith('file:')) return this.readFile(target, url);
    try {
      const res = await got(url, {
        responseType: 'buffer',
        throwHttpErrors: false,
        retry: { limit: 0 },
        followRedirect: true,
        timeout: { request: this.timeoutMs },
      });
      if (res.statusCode !== 200) throw this.statusError(target, url, res.statusCode, res.statusMessage ?? '');
      return res.body;
    } catch (e) {
      throw this.classify(target, url, e);
    }
  }

  private async readFile(target: Target, url: string): Promise<Buffer> {
    try {
      return await fsp.readFile(fileURLToPath(url));
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      if (code === 'ENOENT' || code === 'ENOTDIR') throw this.statusError(target, url, 404, 'Not Found');
      throw new UpstreamError('network', target.module, target.version, url, (e as Error).message);
    }
  }

  private async download(target: Target, url: string, dest: string): Promise<number> {
    const max = this.maxZipBytes;
    const tooLarge = () => new UpstreamError('too-large', target.module, target.version, url, `zip larger than ${max} bytes`);
    if (url.startsWith('file:')) {
      const data = await this.readFile(target, url);
      if (data.length > max) throw tooLarge();
      await fsp.writeFile(dest, data);
      return data.length;
    }
    let received = 0;
    const stream = got.stream(url, {
      throwHttpErrors: false,
      retry: { limit: 0 },
      timeout: { connect: this.timeoutMs, response: this.timeoutMs, socket: this.timeoutMs },
    });
    const cap = new Transform({
      transform(chunk: Buffer, _enc, cb) {
        received += chunk.length;
        if (received > max) return cb(tooLarge());
        cb(null, chunk);
      },
    });
    const response = new Promise<void>((resolve, reject) => {
      stream.once('response', (res: { statusCode: number; statusMessage?: string; headers: Record<string, string | undefined> }) => {
        if (res.statusCode !== 200) return reject(this.statusError(target, url, res.statusCode, res.statusMessage ?? ''));
        const len = Number(res.headers['content-length']);
        if (Number.isFinite(len) && len > max) return reject(tooLarge());
        resolve();
      });
      stream.once('error', reject);
    });
    try {
      const piping = pipeline(stream, cap, createWriteStream(dest));
      try {
        await response;
      } catch (e) {
        stream.destroy();
        await piping.catch(() => undefined);
        throw e;
      }
      await piping;
    } catch (e) {
      throw this.classify(target, url, e);
    }
    return received;
  }
}
