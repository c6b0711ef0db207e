// The module proxy client: GOPROXY list semantics, bounded retries, streamed and capped bodies.
import { createWriteStream, promises as fsp } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { pipeline } from 'node:stream/promises';
import { Transform, type Writable } from 'node:stream';
import { once } from 'node:events';
import got, { type RequestError } from 'got';
import {
  escapePath,
  escapeVersion,
  isValid,
  parseGoProxy,
  sortVersions,
  MAX_GO_MOD,
  MAX_ZIP_FILE,
  type ProxyEntry,
} from '../gomod/index.js';
import { redactUrl, UpstreamError } from './errors.js';
import { smallGet, TooLargeError, type SmallResponse } from './small-get.js';

export interface ProxyClientOptions {
  /** a GOPROXY list: URLs (http, https, file), 'off', 'direct', separated by ',' or '|' */
  proxy: string;
  /** metadata: the whole request; zips: connect, first byte and the longest pause in the body. Default 30000. */
  timeoutMs?: number;
  /** further attempts after a network error, timeout or 5xx. Default 2. */
  retries?: number;
  /** first backoff delay, doubled per attempt, with jitter. Default 200. */
  retryBaseMs?: number;
  /** a zip is abandoned (and its file removed) past this size. Default 500 MiB. */
  maxZipBytes?: number;
  /** .info, .mod, list and @latest are abandoned past this size. Default 16 MiB. */
  maxMetadataBytes?: number;
  log?: (line: string) => void;
}

/** A metadata body and the URL (credentials removed) of the proxy that answered. */
export interface Fetched {
  data: Buffer;
  url: string;
}

export interface Listed {
  /** valid versions from @v/list, semver order, without duplicates */
  versions: string[];
  url: string;
}

export interface Downloaded {
  size: number;
  url: string;
}

interface Target {
  module: string;
  version?: string;
  /** the part after the escaped module path, e.g. '/@v/v1.0.0.zip' */
  suffix: string;
}

const USER_AGENT = 'modfs (module cache filesystem)';

export class ProxyClient {
  readonly entries: ProxyEntry[];
  private readonly timeoutMs: number;
  private readonly retries: number;
  private readonly retryBaseMs: number;
  private readonly maxZipBytes: number;
  private readonly maxMetadataBytes: number;
  private readonly log: (line: string) => void;

  constructor(opts: ProxyClientOptions) {
    this.entries = parseGoProxy(opts.proxy);
    this.timeoutMs = opts.timeoutMs ?? 30000;
    this.retries = Math.max(0, opts.retries ?? 2);
    this.retryBaseMs = opts.retryBaseMs ?? 200;
    this.maxZipBytes = opts.maxZipBytes ?? MAX_ZIP_FILE;
    this.maxMetadataBytes = opts.maxMetadataBytes ?? MAX_GO_MOD;
    this.log = opts.log ?? (() => undefined);
  }

  async list(module: string): Promise<Listed> {
    const r = await this.fetch(this.target(module, undefined, '/@v/list'));
    // As the go command does: first field of each line, invalid versions ignored.
    const found = r.data
      .toString('utf8')
      .split('\n')
      .map((l) => l.trim().split(/\s+/)[0])
      .filter((v) => v && isValid(v));
    return { versions: sortVersions([...new Set(found)]), url: r.url };
  }

  async info(module: string, version: string): Promise<Fetched> {
    return this.fetch(this.target(module, version, '.info'));
  }

  async mod(module: string, version: string): Promise<Fetched> {
    return this.fetch(this.target(module, version, '.mod'));
  }

  /** The optional @latest endpoint; proxies without it answer 404. */
  async latest(module: string): Promise<Fetched> {
    return this.fetch(this.target(module, undefined, '/@latest'));
  }

  /** Streams the zip to destPath; on any failure destPath is removed before the error is thrown. */
  async zip(module: string, version: string, destPath: string): Promise<Downloaded> {
    const target = this.target(module, version, '.zip');
    return this.walk(target, async (url) => {
      try {
        return { size: await this.download(target, url, destPath), url: redactUrl(url) };
      } catch (e) {
        await fsp.rm(destPath, { force: true });
        throw e;
      }
    });
  }

  /** Validates module and version up front so a bad name is 'invalid', not a request. */
  private target(module: string, version: string | undefined, tail: string): Target & { escaped: string } {
    try {
      const escaped = escapePath(module);
      const suffix = version === undefined ? tail : `/@v/${escapeVersion(version)}${tail}`;
      return { module, version, suffix, escaped };
    } catch (e) {
      throw new UpstreamError('invalid', module, version, undefined, (e as Error).message);
    }
  }

  private fetch(target: Target & { escaped: string }): Promise<Fetched> {
    return this.walk(target, async (url) => ({ data: await this.get(target, url), url: redactUrl(url) }));
  }

  /** Tries each GOPROXY entry in turn: after ',' only 404/410 fall through, after '|' any error. */
  private async walk<T>(target: Target & { escaped: string }, attempt: (url: string) => Promise<T>): Promise<T> {
    let last: UpstreamError | null = null;
    for (const entry of this.entries) {
      if (entry.kind === 'off') {
        throw new UpstreamError('off', target.module, target.version, undefined, 'module lookup disabled by GOPROXY=off');
      }
      let err: UpstreamError;
      if (entry.kind === 'direct') {
        err = new UpstreamError('direct-unsupported', target.module, target.version, undefined,
          'direct VCS fetches are not supported yet; use a module proxy');
      } else {
        const url = `${entry.url}/${target.escaped}${target.suffix}`;
        if (!/^(https?|file):/i.test(url)) {
          err = new UpstreamError('invalid', target.module, target.version, url, 'unsupported proxy URL scheme (use http, https or file)');
        } else {
          try {
            return await this.withRetries(() => attempt(url));
          } catch (e) {
            err = e instanceof UpstreamError
              ? e
              : new UpstreamError('network', target.module, target.version, url, (e as Error).message);
          }
        }
      }
      last = err;
      const fallThrough = entry.fallThroughOnAnyError || err.notFound;
      if (!fallThrough) throw err;
      this.log(`upstream: ${err.message}; trying the next GOPROXY entry`);
    }
    throw last ?? new UpstreamError('invalid', target.module, target.version, undefined, 'no proxy in the GOPROXY list');
  }

  private async withRetries<T>(op: () => Promise<T>): Promise<T> {
    for (let i = 0; ; i++) {
      try {
        return await op();
      } catch (e) {
        if (!(e instanceof UpstreamError) || !e.retryable || i >= this.retries) throw e;
        // Exponential backoff with jitter, so many clients do not retry in step.
        const wait = this.retryBaseMs * 2 ** i * (0.75 + Math.random() / 2);
        this.log(`upstream: retrying in ${Math.round(wait)} ms: ${e.message}`);
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
    return new UpstreamError('network', target.module, target.version, url, `${code && !err.message.includes(code) ? code + ': ' : ''}${err.message}`);
  }

  private statusError(target: Target, url: string, status: number, statusText: string): UpstreamError {
    const kind = status === 404 ? 'not-found' : status === 410 ? 'gone' : 'http';
    return new UpstreamError(kind, target.module, target.version, url, `${status} ${statusText}`.trim(), status);
  }

  private tooLarge(target: Target, url: string, max: number): UpstreamError {
    return new UpstreamError('too-large', target.module, target.version, url, `response larger than ${max} bytes`);
  }

  private async get(target: Target, url: string): Promise<Buffer> {
    if (/^file:/i.test(url)) {
      const file = await this.statFile(target, url, this.maxMetadataBytes);
      return fsp.readFile(file).catch((e: Error) => {
        throw new UpstreamError('network', target.module, target.version, url, e.message);
      });
    }
    let r: SmallResponse;
    try {
      r = await smallGet(url, { timeoutMs: this.timeoutMs, max: this.maxMetadataBytes, userAgent: USER_AGENT });
    } catch (e) {
      throw e instanceof TooLargeError ? this.tooLarge(target, url, this.maxMetadataBytes) : this.classify(target, url, e);
    }
    this.log(`upstream: GET ${redactUrl(url)} ${r.status} (${r.headersMs} ms to headers)`);
    if (r.status !== 200) throw this.statusError(target, url, r.status, r.statusText);
    return r.body;
  }

  private async download(target: Target, url: string, dest: string): Promise<number> {
    if (/^file:/i.test(url)) {
      const file = await this.statFile(target, url, this.maxZipBytes);
      await fsp.copyFile(file, dest).catch((e: Error) => {
        throw new UpstreamError('network', target.module, target.version, url, e.message);
      });
      return (await fsp.stat(dest)).size;
    }
    // No overall deadline for zips: a big module on a slow link is fine as long as bytes keep coming.
    const t = this.timeoutMs;
    // The file is opened only once a 200 arrived, so an error page never touches dest.
    return this.stream(target, url, () => createWriteStream(dest), this.maxZipBytes, {
      lookup: t, connect: t, secureConnect: t, send: t, response: t, socket: t,
    });
  }

  /** A local file of the tree; a missing one is 404, as a proxy would answer. */
  private async statFile(target: Target, url: string, max: number): Promise<string> {
    const file = fileURLToPath(url);
    try {
      const st = await fsp.stat(file);
      if (!st.isFile()) throw Object.assign(new Error('not a regular file'), { code: 'ENOENT' });
      if (st.size > max) throw this.tooLarge(target, url, max);
      return file;
    } catch (e) {
      if (e instanceof UpstreamError) throw e;
      const code = (e as NodeJS.ErrnoException).code;
      if (code === 'ENOENT' || code === 'ENOTDIR') throw this.statusError(target, url, 404, 'Not Found');
      throw new UpstreamError('network', target.module, target.version, url, (e as Error).message);
    }
  }

  /**
   * GETs url into sink. Only 200 succeeds; the body is refused as soon as Content-Length or
   * the bytes received pass max. Returns the number of bytes written.
   */
  private async stream(
    target: Target,
    url: string,
    makeSink: () => Writable,
    max: number,
    timeout: Record<string, number>,
  ): Promise<number> {
    const started = Date.now();
    let received = 0;
    let sink: Writable | null = null;
    // got reads user:password from the URL into Basic auth and drops it on cross-origin redirects.
    const req = got.stream(url, {
      throwHttpErrors: false,
      retry: { limit: 0 },
      timeout,
      headers: { 'user-agent': USER_AGENT },
    });
    try {
      await new Promise<void>((resolve, reject) => {
        req.once('error', reject);
        req.once('response', (res: { statusCode: number; statusMessage?: string; headers: Record<string, string | string[] | undefined> }) => {
          this.log(`upstream: GET ${redactUrl(url)} ${res.statusCode} (${Date.now() - started} ms to headers)`);
          if (res.statusCode !== 200) return reject(this.statusError(target, url, res.statusCode, res.statusMessage ?? ''));
          const len = Number(res.headers['content-length']);
          if (Number.isFinite(len) && len > max) return reject(this.tooLarge(target, url, max));
          resolve();
        });
      });
      const tooLarge = () => this.tooLarge(target, url, max);
      const cap = new Transform({
        transform(chunk: Buffer, _enc, cb) {
          received += chunk.length;
          if (received > max) return cb(tooLarge());
          cb(null, chunk);
        },
      });
      sink = makeSink();
      await pipeline(req, cap, sink);
      return received;
    } catch (e) {
      req.destroy();
      if (sink && !sink.closed) {
        // Wait for the file to be closed, so the caller's cleanup cannot race its creation.
        const closed = once(sink, 'close').catch(() => undefined);
        sink.destroy();
        await closed;
      }
      throw this.classify(target, url, e);
    }
  }
}
