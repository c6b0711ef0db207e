// First-access downloads: turns "not stored" into "stored" or a clear error, with one
// fetch in flight per key and a short memory of failures so a storm of lookups does not
// hammer the upstream.
import { promises as fsp } from 'node:fs';
import { LRUCache } from 'lru-cache';
import { prunesGraph, requirements } from '../gomod/gomodfile.js';
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
  /** .mod downloads at once for the requirements of a go.mod read through the mount (default 4; 0: none) */
  modReadAhead?: number;
  log?: (line: string) => void;
}

export interface FetchStats {
  zipFetches: number;
  modFetches: number;
  infoFetches: number;
  failures: number;
}

type Kind = 'zip' | 'mod' | 'info';

/** A fetch in flight; `ahead` while only read-ahead wants it, whose failures are nobody's to hear. */
interface Flight {
  promise: Promise<unknown>;
  ahead: boolean;
}

// Requirements waiting to be read ahead; more are not queued (a hint, not a duty).
const AHEAD_QUEUE_MAX = 256;

export class Fetcher {
  readonly stats: FetchStats = { zipFetches: 0, modFetches: 0, infoFetches: 0, failures: 0 };
  private readonly inflight = new Map<string, Flight>();
  private readonly failed: LRUCache<string, FetchError>;
  private readonly log: (line: string) => void;
  private readonly downloads: Semaphore;
  private readonly ingests: Semaphore;
  /** .info downloads started beside their .mod, waiting for info() to take them (bounded) */
  private readonly earlyInfo = new LRUCache<string, Promise<Fetched>>({ max: 1000, ttl: 60_000 });
  private readonly ahead: Semaphore | null;
  /** versions whose requirements were read ahead already */
  private readonly expanded = new LRUCache<string, true>({ max: 10_000 });
  private aheadQueued = 0;

  constructor(private readonly opts: FetcherOptions) {
    this.downloads = new Semaphore(opts.maxZipDownloads ?? 4);
    this.ingests = new Semaphore(opts.maxIngests ?? 1);
    const ahead = opts.modReadAhead ?? 4;
    this.ahead = ahead > 0 ? new Semaphore(ahead) : null;
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
    return this.once('zip', module, version, false, async (up) => {
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
  mod(module: string, version: string): Promise<Buffer> {
    return this.modFor(module, version, false);
  }

  /**
   * Downloads in the background the go.mod files the go command will read after this one
   * (module@version's, just read through the mount). It loads a module graph a few go.mod
   * files at a time, each only once the one naming it arrived; read ahead, they are stored
   * by the time it asks.
   *
   * It follows the go command's pruning: the requirements of a go.mod below `go 1.17` are
   * loaded, and so is everything below them; those of a newer go.mod only when it was
   * reached through an older one. So a go.mod read that prunes starts nothing; its
   * requirements are read ahead if the go command reads them (then it goes on from each).
   * Failures here are neither logged nor remembered: a read of that version reports its own.
   */
  requirementsAhead(module: string, version: string, mod: Buffer): void {
    // Every .mod the mount serves comes here: nothing is parsed when there is nothing to do.
    if (this.ahead && !this.offline && !this.expanded.has(Fetcher.key(module, version)) && !prunesGraph(mod)) {
      this.readAheadBelow(module, version, mod);
    }
  }

  private readAheadBelow(module: string, version: string, mod: Buffer): void {
    const key = Fetcher.key(module, version);
    if (!this.ahead || this.expanded.has(key)) return;
    this.expanded.set(key, true);
    for (const r of requirements(mod)) {
      if (this.aheadQueued >= AHEAD_QUEUE_MAX) break;
      this.aheadQueued++;
      this.ahead
        .run(() => this.modFor(r.path, r.version, true))
        .then((data) => this.readAheadBelow(r.path, r.version, data))
        .catch(() => undefined)
        .finally(() => this.aheadQueued--);
    }
  }

  private async modFor(module: string, version: string, ahead: boolean): Promise<Buffer> {
    const stored = await this.opts.store.getMod(module, version);
    if (stored) return stored;
    return this.once('mod', module, version, ahead, async (up) => {
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
    return this.once('info', module, version, false, async (up) => {
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

  private once<T>(kind: Kind, module: string, version: string, ahead: boolean, work: (up: ProxyClient) => Promise<T>): Promise<T> {
    const key = `${kind} ${module}@${version}`;
    const remembered = this.failed.get(key);
    if (remembered) return Promise.reject(remembered);
    const running = this.inflight.get(key);
    if (running) {
      // Wanted by a reader now: its failure is reported and remembered as any other.
      if (!ahead) running.ahead = false;
      return running.promise as Promise<T>;
    }
    const up = this.opts.upstream;
    if (!up) {
      return Promise.reject(new FetchError('ENOENT', `${module}@${version}: not in the store (offline)`));
    }
    const flight: Flight = { promise: Promise.resolve(), ahead };
    const p = work(up)
      .catch((err: unknown) => {
        const fe = toFetchError(err, module, version);
        if (!flight.ahead) {
          this.stats.failures++;
          this.failed.set(key, fe);
          this.log(`modfs: fetch ${kind} failed: ${fe.message}`);
        }
        throw fe;
      })
      .finally(() => this.inflight.delete(key));
    flight.promise = p;
    this.inflight.set(key, flight);
    return p;
  }
}

function toFetchError(err: unknown, module: string, version: string): FetchError {
  if (err instanceof FetchError) return err;
  if (err instanceof UpstreamError) return new FetchError(err.notFound ? 'ENOENT' : 'EIO', err.message);
  return new FetchError('EIO', `${module}@${version}: ${(err as Error)?.message ?? String(err)}`);
}
