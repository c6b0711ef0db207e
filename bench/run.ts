// make bench: the same workloads against a modfs mount and against a native GOMODCACHE filled
// by the go command from the same local upstream, in one run; medians and modfs/native ratios.
import { execFile } from 'node:child_process';
import { promises as fsp } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { startProxyServer, type ProxyServer } from '../test/support/proxy-server.js';
import { ensureCorpus, moduleVersionsIn, versionsIn } from '../test/support/corpus.js';
import { forceUnmount, REPO_ROOT, startModfs, type ModfsProcess } from '../test/support/modfs-process.js';
import { goEnvFor, writeProgram } from '../test/support/program.js';
import { escapePath, escapeVersion } from '../lib/gomod/escape.js';

const run = promisify(execFile);
const RUNS = Number(process.env.MODFS_BENCH_RUNS ?? 5);
const LATE_RUNS = Math.min(RUNS, 3);
const LATE_MS = 20;
const LARGEST = 'github.com/snapcore/snapd';

interface Row {
  workload: string;
  unit: string;
  modfs: number;
  native: number;
  ratio: number;
  target: string;
  met: boolean | null;
  /** each run's value, where the spread matters */
  samples?: { modfs: number[]; native: number[] };
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const now = () => performance.now();

async function timed(fn: () => Promise<unknown>): Promise<number> {
  const t0 = now();
  await fn();
  return (now() - t0) / 1000;
}

async function go(args: string[], cwd: string, env: NodeJS.ProcessEnv): Promise<string> {
  try {
    return (await run('go', args, { cwd, env, maxBuffer: 256 << 20 })).stdout;
  } catch (e) {
    throw new Error(`go ${args.join(' ')}: ${(e as { stderr?: string }).stderr ?? e}`);
  }
}

async function duBytes(dir: string): Promise<number> {
  const { stdout } = await run('du', ['-sb', dir]);
  return Number(stdout.split('\t')[0]);
}

async function dropCaches(): Promise<boolean> {
  try {
    await run('sync');
    await fsp.writeFile('/proc/sys/vm/drop_caches', '3');
    return true;
  } catch {
    return false;
  }
}

async function peakRss(pid: number): Promise<number> {
  const status = await fsp.readFile(`/proc/${pid}/status`, 'utf8').catch(() => '');
  const m = /VmHWM:\s+(\d+) kB/.exec(status);
  return m ? Number(m[1]) * 1024 : 0;
}

/** Reads every file below dir once in a child process; returns bytes, files, seconds. */
async function readAll(dir: string): Promise<{ bytes: number; files: number; secs: number }> {
  const script = `
    const fs = require('fs'); const path = require('path');
    let bytes = 0, files = 0; const buf = Buffer.alloc(1 << 20);
    const t0 = process.hrtime.bigint();
    (function walk(d) { for (const e of fs.readdirSync(d, { withFileTypes: true })) {
      const p = path.join(d, e.name);
      if (e.isDirectory()) walk(p);
      else { const fd = fs.openSync(p, 'r'); let n; while ((n = fs.readSync(fd, buf, 0, buf.length, null)) > 0) bytes += n; fs.closeSync(fd); files++; }
    } })(process.argv[1]);
    console.log(JSON.stringify({ bytes, files, secs: Number(process.hrtime.bigint() - t0) / 1e9 }));`;
  const { stdout } = await run(process.execPath, ['-e', script, dir], { maxBuffer: 1 << 20 });
  return JSON.parse(stdout);
}

/** Reads one file sequentially in 1 MiB reads, in a child process; returns bytes and seconds. */
async function readOne(file: string): Promise<{ bytes: number; files: number; secs: number }> {
  const script = `
    const fs = require('fs'); const buf = Buffer.alloc(1 << 20); let bytes = 0, n;
    const t0 = process.hrtime.bigint(); const fd = fs.openSync(process.argv[1], 'r');
    while ((n = fs.readSync(fd, buf, 0, buf.length, null)) > 0) bytes += n;
    fs.closeSync(fd);
    console.log(JSON.stringify({ bytes, files: 1, secs: Number(process.hrtime.bigint() - t0) / 1e9 }));`;
  const { stdout } = await run(process.execPath, ['-e', script, file], { maxBuffer: 1 << 20 });
  return JSON.parse(stdout);
}

/** stat of every path below the given roots, in a child process; returns stats per second. */
async function statAll(roots: string[]): Promise<{ count: number; perSec: number }> {
  const script = `
    const fs = require('fs'); const path = require('path');
    const paths = [];
    (function walk(ds) { for (const d of ds) for (const e of fs.readdirSync(d, { withFileTypes: true })) {
      const p = path.join(d, e.name); paths.push(p); if (e.isDirectory()) walk([p]); } })(JSON.parse(process.argv[1]));
    const t0 = process.hrtime.bigint();
    for (const p of paths) fs.statSync(p);
    const secs = Number(process.hrtime.bigint() - t0) / 1e9;
    console.log(JSON.stringify({ count: paths.length, perSec: paths.length / secs }));`;
  const { stdout } = await run(process.execPath, ['-e', script, JSON.stringify(roots)], { maxBuffer: 1 << 20 });
  return JSON.parse(stdout);
}

async function main(): Promise<void> {
  const corpus = await ensureCorpus();
  const up: ProxyServer = await startProxyServer({ root: corpus });
  const work = await fsp.mkdtemp(path.join(os.tmpdir(), 'modfs-bench-'));
  const prog = path.join(work, 'prog');
  await writeProgram(prog, corpus);
  const mnt = path.join(work, 'mnt');
  const native = path.join(work, 'native');
  let peak = 0;
  let modfs: ModfsProcess | null = null;
  const peaks: Array<{ phase: string; bytes: number }> = [];
  let phase = '';
  const mount = async (store: string, label: string) => {
    phase = label;
    modfs = await startModfs(mnt, ['--store', store, '--upstream', up.url, '--log-level', 'warn']);
    return modfs;
  };
  const unmount = async () => {
    if (!modfs) return;
    const p = await peakRss(modfs.proc.pid!);
    peaks.push({ phase, bytes: p });
    peak = Math.max(peak, p);
    await modfs.stop('SIGTERM');
    modfs = null;
  };
  const rows: Row[] = [];
  const commands: string[] = [];
  const add = (
    workload: string,
    unit: string,
    m: number,
    n: number,
    target: string,
    higherIsBetter = false,
    limit?: number,
    samples?: { modfs: number[]; native: number[] },
  ) => {
    const ratio = m / n;
    const met = limit === undefined ? null : higherIsBetter ? m >= limit : ratio <= limit;
    rows.push({ workload, unit, modfs: m, native: n, ratio, target, met, samples });
    process.stderr.write(`bench: ${workload}: modfs ${m.toFixed(3)} ${unit}, native ${n.toFixed(3)} ${unit}, ratio ${ratio.toFixed(2)}\n`);
  };

  try {
    // go.sum once, so every run below does the same work.
    await go(['mod', 'download'], prog, goEnvFor(work, path.join(work, 'seed'), up.url));
    await run('chmod', ['-R', 'u+w', path.join(work, 'seed')]);
    await fsp.rm(path.join(work, 'seed'), { recursive: true, force: true });

    // Cold start: empty store vs empty GOMODCACHE, then download + build with an empty GOCACHE.
    commands.push('cold: go mod download && go build -o /dev/null . (empty store / empty GOMODCACHE, empty GOCACHE)');
    const coldRuns = async (label: string, runs: number, keepLast: boolean) => {
      const total = { modfs: [] as number[], native: [] as number[] };
      const dl = { modfs: [] as number[], native: [] as number[] };
      for (let i = 0; i < runs; i++) {
        const store = path.join(work, `store-${label}-${i}`);
        await mount(store, `${label} ${i + 1}`);
        const envM = goEnvFor(work, mnt, 'off', path.join(work, `gc-m-${label}-${i}`));
        const dlM = await timed(() => go(['mod', 'download'], prog, envM));
        const buildM = await timed(() => go(['build', '-o', '/dev/null', '.'], prog, envM));
        dl.modfs.push(dlM);
        total.modfs.push(dlM + buildM);
        await unmount();
        const nat = path.join(work, `native-${label}-${i}`);
        const envN = goEnvFor(work, nat, up.url, path.join(work, `gc-n-${label}-${i}`));
        const dlN = await timed(() => go(['mod', 'download'], prog, envN));
        const buildN = await timed(() => go(['build', '-o', '/dev/null', '.'], prog, envN));
        dl.native.push(dlN);
        total.native.push(dlN + buildN);
        if (keepLast && i === runs - 1) {
          await fsp.rename(nat, native);
          await fsp.rename(store, path.join(work, 'store'));
        } else {
          await run('chmod', ['-R', 'u+w', nat]);
          await fsp.rm(nat, { recursive: true, force: true });
          await fsp.rm(store, { recursive: true, force: true });
        }
      }
      return { total, dl };
    };
    const { total: cold, dl: coldDl } = await coldRuns('cold', RUNS, true);
    add('cold start (download + build)', 's', median(cold.modfs), median(cold.native), '≤ 1.0', false, 1.0, cold);
    add('  of which go mod download', 's', median(coldDl.modfs), median(coldDl.native), '', false, undefined, coldDl);

    // The same with every upstream answer finished 20 ms late, as from a proxy across a network.
    // No target: it shows what fetching ahead and in parallel are worth where requests wait.
    commands.push(`cold, upstream ${LATE_MS} ms away: the cold start with each upstream answer's second half held back ${LATE_MS} ms; ${LATE_RUNS} runs`);
    up.setFault(() => true, { stallMs: LATE_MS });
    const late = await coldRuns('late', LATE_RUNS, false);
    up.clearFaults();
    add(`cold start, upstream ${LATE_MS} ms away`, 's', median(late.total.modfs), median(late.total.native), '', false, undefined, late.total);
    add(`  of which go mod download, ${LATE_MS} ms away`, 's', median(late.dl.modfs), median(late.dl.native), '', false, undefined, late.dl);

    // Everything in the corpus, on both sides, for metadata, throughput and size.
    const mods = await moduleVersionsIn(corpus);
    await go(['mod', 'download', ...mods.map((m) => `${m.module}@${m.version}`)], prog, goEnvFor(work, native, up.url));
    await mount(path.join(work, 'store'), 'all corpus versions + warm workloads');
    await Promise.all(mods.map((m) => run('stat', [path.join(mnt, `${escapePath(m.module)}@${escapeVersion(m.version)}`)])));

    const envM = goEnvFor(work, mnt, 'off', path.join(work, 'gc-warm-m'));
    const envN = goEnvFor(work, native, 'off', path.join(work, 'gc-warm-n'));
    await go(['build', '-o', '/dev/null', '.'], prog, envM);
    await go(['build', '-o', '/dev/null', '.'], prog, envN);
    const warm: Array<[string, string[], number]> = [
      ['warm go list -deps ./...', ['list', '-deps', './...'], 1.5],
      ['warm go mod verify', ['mod', 'verify'], 1.5],
      ['warm go build (warm GOCACHE)', ['build', '-o', '/dev/null', '.'], 1.5],
    ];
    for (const [label, args, limit] of warm) {
      commands.push(`warm: go ${args.join(' ')}`);
      const m: number[] = [];
      const n: number[] = [];
      for (let i = 0; i < RUNS; i++) {
        m.push(await timed(() => go(args, prog, envM)));
        n.push(await timed(() => go(args, prog, envN)));
      }
      add(label, 's', median(m), median(n), '≤ 1.5 (aim 1.2)', false, limit);
    }

    commands.push('compile-bound: go build -o /dev/null . with an empty GOCACHE each run');
    {
      const m: number[] = [];
      const n: number[] = [];
      for (let i = 0; i < RUNS; i++) {
        m.push(await timed(() => go(['build', '-o', '/dev/null', '.'], prog, goEnvFor(work, mnt, 'off', path.join(work, `gc-cb-m-${i}`)))));
        n.push(await timed(() => go(['build', '-o', '/dev/null', '.'], prog, goEnvFor(work, native, 'off', path.join(work, `gc-cb-n-${i}`)))));
      }
      add('warm build, empty GOCACHE (compile-bound)', 's', median(m), median(n), '≤ 1.05', false, 1.05);
    }

    // Throughput: every file of the largest module, cold (fresh mount, dropped caches) then warm.
    const ver = (await versionsIn(corpus, LARGEST)).at(-1)!;
    const rel = `${escapePath(LARGEST)}@${escapeVersion(ver)}`;
    type ReadResult = { bytes: number; files: number; secs: number };
    // Fresh mount with the page cache dropped, read twice; then the native cache the same way.
    // RUNS times: one read of 30-100 ms moves with the machine; each row is the median run.
    let dropped = true;
    const coldThenWarm = async (read: (p: string) => Promise<ReadResult>, rel: string) => {
      const runs: Record<'coldM' | 'warmM' | 'coldN' | 'warmN', ReadResult[]> = { coldM: [], warmM: [], coldN: [], warmN: [] };
      for (let i = 0; i < RUNS; i++) {
        await unmount();
        dropped = (await dropCaches()) && dropped;
        await mount(path.join(work, 'store'), 'throughput');
        runs.coldM.push(await read(path.join(mnt, rel)));
        runs.warmM.push(await read(path.join(mnt, rel)));
        await dropCaches();
        runs.coldN.push(await read(path.join(native, rel)));
        runs.warmN.push(await read(path.join(native, rel)));
      }
      const mid = (rs: ReadResult[]) => rs.find((r) => r.secs === median(rs.map((x) => x.secs)))!;
      return { coldM: mid(runs.coldM), warmM: mid(runs.warmM), coldN: mid(runs.coldN), warmN: mid(runs.warmN) };
    };
    const mbs = (r: ReadResult) => r.bytes / r.secs / 1e6;
    const fps = (r: ReadResult) => r.files / r.secs;

    commands.push(`throughput: read every file of ${LARGEST}@${ver} once (fresh mount, caches dropped), then again; ${RUNS} times, median`);
    const all = await coldThenWarm(readAll, rel);
    add(`read all ${all.coldM.files} files of the largest module, cold${dropped ? '' : ' (page cache not dropped)'}`, 'MB/s', mbs(all.coldM), mbs(all.coldN), '≥ 500 MB/s', true, 500);
    add('read all its files, warm', 'MB/s', mbs(all.warmM), mbs(all.warmN), '≥ 2000 MB/s', true, 2000);
    add('open+read+close cold', 'files/s', fps(all.coldM), fps(all.coldN), '', true);
    add('open+read+close warm', 'files/s', fps(all.warmM), fps(all.warmN), '', true);

    // One large file read front to back: the version's .zip (modfs: its synthetic zip of
    // stored entries; native: the upstream's deflated zip, as the go command keeps it).
    const zipRel = path.join('cache', 'download', escapePath(LARGEST), '@v', `${escapeVersion(ver)}.zip`);
    commands.push(`sequential: read ${zipRel} front to back in 1 MiB reads (fresh mount, caches dropped), then again; ${RUNS} times, median`);
    const zip = await coldThenWarm(readOne, zipRel);
    add(`sequential read of one ${(zip.coldM.bytes / 1e6).toFixed(0)} MB .zip, cold`, 'MB/s', mbs(zip.coldM), mbs(zip.coldN), '≥ 500 MB/s', true, 500);
    add('sequential read of the .zip, warm', 'MB/s', mbs(zip.warmM), mbs(zip.warmN), '≥ 2000 MB/s', true, 2000);

    // Metadata: stat every file of the corpus, first and second pass (fresh mount).
    commands.push('metadata: stat every file and directory of every corpus module, two passes');
    await unmount();
    await mount(path.join(work, 'store'), 'metadata');
    const roots = (base: string) => mods.map((m) => path.join(base, `${escapePath(m.module)}@${escapeVersion(m.version)}`));
    const s1m = await statAll(roots(mnt));
    const s2m = await statAll(roots(mnt));
    const s1n = await statAll(roots(native));
    const s2n = await statAll(roots(native));
    add(`stat, first pass (${s1m.count} paths)`, 'stat/s', s1m.perSec, s1n.perSec, '', true);
    add('stat, second pass', 'stat/s', s2m.perSec, s2n.perSec, '≥ 50,000/s', true, 50000);

    commands.push('size: du -sb of the store vs the native GOMODCACHE, same module versions');
    await unmount();
    const storeBytes = await duBytes(path.join(work, 'store'));
    const nativeBytes = await duBytes(native);
    add(`disk usage (${mods.length} module versions)`, 'MB', storeBytes / 1e6, nativeBytes / 1e6, '≤ 25 % of native', false, 0.25);

    // Four concurrent cold builds against one empty store: one .zip request per module.
    commands.push('dedup: 4 concurrent cold go builds against one empty store; count .zip requests');
    await mount(path.join(work, 'store-dedup'), '4 concurrent cold builds');
    const before = up.requests.length;
    await Promise.all([0, 1, 2, 3].map((i) => go(['build', '-o', '/dev/null', '.'], prog, goEnvFor(work, mnt, 'off', path.join(work, `gc-dd-${i}`)))));
    const zips = new Map<string, number>();
    for (const r of up.requests.slice(before)) if (r.path.endsWith('.zip')) zips.set(r.path, (zips.get(r.path) ?? 0) + 1);
    const maxPerZip = Math.max(...zips.values());
    await unmount();

    const report = {
      date: new Date().toISOString(),
      machine: {
        cpus: os.cpus().length,
        cpuModel: os.cpus()[0]?.model,
        memGiB: Math.round(os.totalmem() / 2 ** 30),
        kernel: os.release(),
        node: process.version,
        go: (await run('go', ['version'])).stdout.trim(),
      },
      runs: RUNS,
      commands,
      rows,
      peakRssBytes: peak,
      peakRssByMount: peaks,
      dedup: { zipsFetched: zips.size, maxRequestsPerZip: maxPerZip },
    };
    const table = [
      `modfs benchmark, ${report.date} — ${report.machine.cpus} × ${report.machine.cpuModel}, ${report.machine.memGiB} GiB, Linux ${report.machine.kernel}, ${report.machine.go}, Node ${report.machine.node}; median of ${RUNS} runs`,
      '',
      '| workload | modfs | native | modfs/native | target | met |',
      '|---|---|---|---|---|---|',
      ...rows.map((r) => `| ${r.workload} | ${r.modfs.toFixed(r.unit === 's' ? 2 : 0)} ${r.unit} | ${r.native.toFixed(r.unit === 's' ? 2 : 0)} ${r.unit} | ${r.ratio.toFixed(2)} | ${r.target} | ${r.met === null ? '' : r.met ? 'yes' : 'no'} |`),
      `| peak RSS of modfs | ${(peak / 1e6).toFixed(0)} MB (${peaks.find((p) => p.bytes === peak)?.phase}) | | | ≤ 200 MB | ${peak <= 200e6 ? 'yes' : 'no'} |`,
      `| concurrent cold builds: requests per .zip | ${maxPerZip} (${zips.size} zips) | | | exactly 1 | ${maxPerZip === 1 ? 'yes' : 'no'} |`,
      '',
      // The native side's own spread is as wide as the gaps measured: every run is shown.
      ...rows
        .filter((r) => r.samples)
        .map((r) => `${r.workload.trim()}, each run (modfs / native, ${r.unit}): ${r.samples!.modfs.map((m, i) => `${m.toFixed(2)} / ${r.samples!.native[i].toFixed(2)}`).join(', ')}`),
      '',
      'Commands:',
      ...commands.map((c) => `- ${c}`),
    ].join('\n');
    process.stdout.write(table + '\n');
    const stamp = report.date.replace(/[:.]/g, '-');
    await fsp.mkdir(path.join(REPO_ROOT, 'bench', 'results'), { recursive: true });
    await fsp.writeFile(path.join(REPO_ROOT, 'bench', 'results', `${stamp}.json`), JSON.stringify(report, null, 2) + '\n');
    await fsp.writeFile(path.join(REPO_ROOT, 'bench', 'results', 'latest.md'), table + '\n');
  } finally {
    if (modfs) await (modfs as ModfsProcess).stop('SIGKILL');
    await forceUnmount(mnt);
    await up.close();
    await run('chmod', ['-R', 'u+w', work]).catch(() => undefined);
    await fsp.rm(work, { recursive: true, force: true });
  }
}

await main();
