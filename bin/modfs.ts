// modfs command line.
import { execFile } from 'node:child_process';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import yargs from 'yargs';
import { hideBin } from 'yargs/helpers';
import { Fetcher } from '../lib/fetcher/fetcher.js';
import { mountOperations, MountError, prepareMountpoint } from '../lib/fs/mount.js';
import { Operations } from '../lib/fs/operations.js';
import { Store } from '../lib/store/store.js';
import { ProxyClient } from '../lib/upstream/client.js';
import { createLogger, LEVELS, type Level } from '../lib/util/log.js';

const run = promisify(execFile);

function defaultStore(): string {
  const base = process.env.XDG_CACHE_HOME || path.join(os.homedir(), '.cache');
  return path.join(base, 'modfs');
}

/** $GOPROXY, else what the installed go command uses by default. */
async function defaultUpstream(): Promise<string | null> {
  if (process.env.GOPROXY) return process.env.GOPROXY;
  try {
    const { stdout } = await run('go', ['env', 'GOPROXY'], { env: { ...process.env, GOFLAGS: '' } });
    return stdout.trim() || null;
  } catch {
    return null;
  }
}

async function mountCommand(argv: {
  mountpoint: string;
  store: string;
  upstream?: string;
  offline: boolean;
  allowOther: boolean;
  logLevel: Level;
  negativeTtl: number;
  timeout: number;
  blobCacheMb: number;
  rawCacheMb: number;
  manifestCacheMb: number;
  prefetchKb: number;
  modReadAhead: number;
}): Promise<void> {
  const log = createLogger(argv.logLevel);
  // A signal that arrives while mounting is kept and acted on once the mount exists; after
  // that, whoever reads the "mounted at" line may signal at once.
  let pending: string | null = null;
  let onSignal = (sig: string) => {
    pending ??= sig;
  };
  process.on('SIGINT', () => onSignal('SIGINT'));
  process.on('SIGTERM', () => onSignal('SIGTERM'));
  const upstreamList = argv.offline ? null : (argv.upstream || (await defaultUpstream()));
  if (!argv.offline && !upstreamList) {
    throw new MountError('no upstream: pass --upstream URL, set GOPROXY, or use --offline');
  }
  // Check the mount point first, so that a typo there does not leave a new empty store.
  await prepareMountpoint(argv.mountpoint);
  const store = await Store.open(argv.store, {
    blobCacheBytes: argv.blobCacheMb * 2 ** 20,
    manifestCacheBytes: argv.manifestCacheMb * 2 ** 20,
    rawCacheBytes: argv.rawCacheMb * 2 ** 20,
  });
  // While the mount is set up, rather than in the first lookup of a version.
  void store.preload();
  const upstream = upstreamList
    ? new ProxyClient({ proxy: upstreamList, timeoutMs: argv.timeout * 1000, log: (l) => log.debug(l) })
    : null;
  const fetcher = new Fetcher({
    store,
    upstream,
    negativeTtlMs: argv.negativeTtl * 1000,
    modReadAhead: Math.floor(argv.modReadAhead),
    log: (l) => log.warn(l),
  });
  const ops = new Operations(store, fetcher, { log: (l) => log.error(l) });
  const mounted = await mountOperations(argv.mountpoint, ops, {
    allowOther: argv.allowOther,
    // The kernel may remember a missing name as long as the fetcher remembers the failure.
    negativeTimeout: argv.negativeTtl,
    prefetchMaxBytes: argv.prefetchKb * 1024,
    log: (l) => log.warn(l),
  });
  let stopping = false;
  const stop = (sig: string) => {
    if (stopping) return;
    stopping = true;
    log.info(`${sig}: unmounting ${mounted.mountpoint}`);
    mounted.unmount().then(async () => {
      await store.close();
      const f = fetcher.stats;
      const mem = process.memoryUsage();
      const mib = (n: number) => (n / 2 ** 20).toFixed(0);
      log.info(`memory: rss ${mib(mem.rss)} MiB, heap ${mib(mem.heapUsed)}/${mib(mem.heapTotal)} MiB, buffers ${mib(mem.arrayBuffers)} MiB`);
      const k = mounted.counts;
      log.info(`unmounted; served ${k.lookup} lookup, ${k.getattr} getattr, ${k.readdir} readdir, ${k.readdirplus} readdirplus, ${k.read} read, ${k.forget} forget (+ answered in C: ${k.absent} lookups of names that cannot exist, ${k.readsFromPushes} reads racing their page-cache push, ${k.pagesListed} directory pages and ${k.lookupsListed} lookups from listings prepared ahead), ${k.prefetched} files prefetched (${k.heads} of them heads only), ${k.trims} memory trims; fetched ${f.zipFetches} zips, ${f.modFetches} .mod, ${f.infoFetches} .info, ${f.failures} failures`);
      process.exit(0);
    });
  };
  onSignal = stop;
  if (pending) return stop(pending);
  log.info(`mounted ${mounted.mountpoint} (store ${store.dir}, ${upstreamList ? 'upstream ' + redact(upstreamList) : 'offline'})`);
  process.stdout.write(
    `modfs: mounted at ${mounted.mountpoint}\n` +
      `Use it with:\n  export GOMODCACHE=${mounted.mountpoint} GOPROXY=off GOFLAGS=-mod=mod GOTOOLCHAIN=local\n`,
  );
}

function redact(list: string): string {
  return list.replace(/\/\/[^/@]*@/g, '//');
}

await yargs(hideBin(process.argv))
  .scriptName('modfs')
  .usage('$0 <command> [options]\n\nA read-only Go module cache (GOMODCACHE) filled on first access from a module proxy.')
  .command(
    'mount <mountpoint>',
    'Mount the module cache at <mountpoint> and serve until SIGINT/SIGTERM',
    (y) =>
      y
        .positional('mountpoint', { type: 'string', demandOption: true, describe: 'an existing empty directory' })
        .option('store', { type: 'string', default: defaultStore(), describe: 'store directory (a git repository lives inside)', defaultDescription: '$XDG_CACHE_HOME/modfs or ~/.cache/modfs' })
        .option('upstream', { type: 'string', describe: 'GOPROXY-style list of module proxies', defaultDescription: '$GOPROXY, else `go env GOPROXY`' })
        .option('offline', { type: 'boolean', default: false, describe: 'serve only what is stored; never contact upstream' })
        .option('allow-other', { type: 'boolean', default: false, describe: 'let other users (and containers) read the mount; needs user_allow_other in /etc/fuse.conf for non-root' })
        .option('log-level', { choices: LEVELS, default: 'info' as Level, describe: 'log verbosity (stderr)' })
        .option('negative-ttl', { type: 'number', default: 5, describe: 'seconds a failed fetch (and a missing name, in the kernel) is remembered' })
        .option('timeout', { type: 'number', default: 60, describe: 'seconds an upstream request may stall' })
        .option('blob-cache-mb', { type: 'number', default: 4, describe: 'MiB of file contents kept in memory (the kernel page cache keeps what readers see; this serves zip assembly and re-reads)' })
        .option('manifest-cache-mb', { type: 'number', default: 16, describe: 'MiB of parsed version manifests kept in memory' })
        .option('raw-cache-mb', { type: 'number', default: 256, describe: 'MiB of large files kept unpacked on disk in the store (read by range instead of inflated again)' })
        .option('prefetch-kb', { type: 'number', default: 256, describe: "files up to this size in a directory listed inside a module version go into the kernel's page cache right away, and the first 8 KiB of larger Go, C and assembly files (0: off)" })
        .option('mod-read-ahead', { type: 'number', default: 4, describe: 'go.mod downloads at once ahead of the go command: those required by the go.mod files it reads, as it loads a module graph (0: off)' })
        // yargs turns a non-numeric value into NaN without complaint; NaN would silently
        // disable the upstream timeout or crash the caches with a stack trace.
        .check((a) => {
          const positive = ['timeout', 'blob-cache-mb', 'manifest-cache-mb', 'raw-cache-mb'];
          for (const name of [...positive, 'negative-ttl', 'prefetch-kb', 'mod-read-ahead']) {
            const v = a[name] as number;
            if (!Number.isFinite(v) || v < 0 || (v === 0 && positive.includes(name))) {
              return `--${name} must be a ${positive.includes(name) ? 'positive' : 'non-negative'} number`;
            }
          }
          return true;
        }),
    async (argv) => {
      await mountCommand(argv as unknown as Parameters<typeof mountCommand>[0]);
    },
  )
  .demandCommand(1, 'name a command')
  .strict()
  .fail((msg, err, y) => {
    // A failed .check() arrives as a string in `err`: a usage error, not a crash.
    if (err instanceof Error) {
      process.stderr.write(`modfs: ${err instanceof MountError ? err.message : err.stack ?? err.message}\n`);
      process.exit(1);
    }
    process.stderr.write(`${y.help()}\n\nmodfs: ${msg ?? String(err)}\n`);
    process.exit(2);
  })
  .help()
  .parseAsync();
