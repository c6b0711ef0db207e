// First-access downloads: turns "not stored" into "stored" or a clear error, with one
// fetch in flight per key and a short memory of failures so a storm of lookups does not
// hammer the upstream.
import { promises as fsp } from 'node:fs';
import { LRUCache } from 'lru-cache';
import type { Store, StoredVersion } from '../store/store.js';
import type { Fetched, ProxyClient } from '../upstream/client.js';
import { UpstreamError } from '../upstream/errors.js';
import { Semaphore } from '../util/semaphore.js';

export type Errno = 'ENOENT' | 'EIO';

export class FetchError extends Error {
  constructor(
    readonly errno: Errno,
    message: string,
  ) {
    super(message);
    this.name = 'FetchError';
  }
}

export interface FetcherOptions {
  store: Store;
  /** null: offline, serve only what is stored */
  upstream: ProxyClient | null;
  /** how long a failed key answers from memory, ms */
  negativeTtlMs?: number;
  /** zip downloads at once (default 4); each goes to a temporary file */
  maxZipDownloads?: number;
  /** ingests at once (default 1): each holds its zip and the version's new objects in memory, and
   * runs mostly on the event loop, so a second one would add memory, not speed */
  maxIngests?: number;
  log?: (line: string) => void;
}

export interface FetchStats {
  zipFetches: number;
  modFetches: number;
  infoFetches: number;
  failures: number;
}

type Kind = 'zip' | 'mod' | 'info';

export class Fetcher {
  readonly stats: FetchStats = { zipFetches: 0, modFetches: 0, infoFetches: 0, failures: 0 };
  private readonly inflight = new Map<string, Promise<unknown>>();
  private readonly failed: LRUCache<string, FetchError>;
  private readonly log: (line: string) => void;
  private readonly downloads: Semaphore;
  private readonly ingests: Semaphore;
  /** .info downloads started beside their .mod, waiting for info() to take them (bounded) */
  private readonly earlyInfo = new LRUCache<string, Promise<Fetched>>({ max: 1000, ttl: 60_000 });

  constructor(private readonly opts: FetcherOptions) {
    this.downloads = new Semaphore(opts.maxZipDownloads ?? 4);
    this.ingests = new Semaphore(opts.maxIngests ?? 1);
    this.failed = new LRUCache<string, FetchError>({ max: 10000, ttl: Math.max(1, opts.negativeTtlMs ?? 5000) });
    this.log = opts.log ?? ((l) => process.stderr.write(l + '\n'));
  }

  get offline(): boolean {
    return this.opts.upstream === null;
  }

  /** The full version (zip, .mod, .info), fetching it when absent. */
  async version(module: string, version: string): Promise<StoredVersion> {
    const stored = await this.opts.store.getVersion(module, version);
    if (stored) return stored;
    return this.once('zip', module, version, async (up) => {
      const again = await this.opts.store.getVersion(module, version);
      if (again) return again;
      this.stats.zipFetches++;
      const tmp = this.opts.store.tmpPath('zip');
      try {
        // A .mod or .info fetched earlier (MVS reads many) is not downloaded again.
        const [zip, mod, info] = await this.downloads.run(() =>
          Promise.all([
            up.zip(module, version, tmp),
            this.opts.store.getMod(module, version).then((b) => b ?? up.mod(module, version).then((r) => r.data)),
            this.opts.store.getInfo(module, version).then((b) => b ?? this.infoDownload(up, module, version).then((r) => r.data)),
          ]),
        );
        try {
          return await this.ingests.run(() => this.opts.store.ingest(module, version, { zipPath: tmp, mod, info }));
        } catch (err) {
          throw new FetchError('EIO', `${module}@${version}: rejected ${zip.url}: ${(err as Error).message}`);
        }
      } finally {
        await fsp.rm(tmp, { force: true });
      }
    });
  }

  /** The .mod bytes; never downloads the zip. */
  async mod(module: string, version: string): Promise<Buffer> {
    const stored = await this.opts.store.getMod(module, version);
    if (stored) return stored;
    return this.once('mod', module, version, async (up) => {
      const again = await this.opts.store.getMod(module, version);
      if (again) return again;
      this.stats.modFetches++;
      // The .info is asked for right after an accepted .mod (its time dates the files), so
      // it is downloaded alongside; it is stored only once the .mod is accepted.
      const key = Fetcher.key(module, version);
      let early: Promise<Fetched> | undefined;
      if (!this.earlyInfo.has(key) && !(await this.opts.store.getInfo(module, version))) {
        early = up.info(module, version);
        early.catch(() => undefined);
        this.earlyInfo.set(key, early);
      }
      try {
        const r = await up.mod(module, version);
        try {
          await this.opts.store.putMod(module, version, r.data);
        } catch (err) {
          throw new FetchError('EIO', `${module}@${version}: rejected ${r.url}: ${(err as Error).message}`);
        }
        return r.data;
      } catch (err) {
        if (early && this.earlyInfo.get(key) === early) this.earlyInfo.delete(key);
        throw err;
      }
    });
  }

  /** The canonical .info bytes; never downloads the zip. */
  async info(module: string, version: string): Promise<Buffer> {
    const stored = await this.opts.store.getInfo(module, version);
    if (stored) return stored;
    return this.once('info', module, version, async (up) => {
      const again = await this.opts.store.getInfo(module, version);
      if (again) return again;
      this.stats.infoFetches++;
      const r = await this.infoDownload(up, module, version);
      try {
        return await this.opts.store.putInfo(module, version, r.data);
      } catch (err) {
        throw new FetchError('EIO', `${module}@${version}: rejected ${r.url}: ${(err as Error).message}`);
      }
    });
  }

  /** The .info download started beside the .mod, or a new one. */
  private infoDownload(up: ProxyClient, module: string, version: string): Promise<Fetched> {
    const key = Fetcher.key(module, version);
    const early = this.earlyInfo.get(key);
    this.earlyInfo.delete(key);
    return early ?? up.info(module, version);
  }

  private static key(module: string, version: string): string {
    return `${module}@${version}`;
  }

  private once<T>(kind: Kind, module: string, version: string, work: (up: ProxyClient) => Promise<T>): Promise<T> {
    const key = `${kind} ${module}@${version}`;
    const remembered = this.failed.get(key);
    if (remembered) return Promise.reject(remembered);
    const running = this.inflight.get(key);
    if (running) return running as Promise<T>;
    const up = this.opts.upstream;
    if (!up) {
      return Promise.reject(new FetchError('ENOENT', `${module}@${version}: not in the store (offline)`));
    }
    const p = work(up)
      .catch((err: unknown) => {
        const fe = toFetchError(err, module, version);
        this.stats.failures++;
        this.failed.set(key, fe);
        this.log(`modfs: fetch ${kind} failed: ${fe.message}`);
        throw fe;
      })
      .finally(() => this.inflight.delete(key));
    this.inflight.set(key, p);
    return p;
  }
}

function toFetchError(err: unknown, module: string, version: string): FetchError {
  if (err instanceof FetchError) return err;
  if (err instanceof UpstreamError) return new FetchError(err.notFound ? 'ENOENT' : 'EIO', err.message);
  return new FetchError('EIO', `${module}@${version}: ${(err as Error)?.message ?? String(err)}`);
}
