// Turns Debian's golang-*-dev sources (/usr/share/gocode/src) into a GOPROXY tree: one
// version per module, version from the Debian package, requirements rewritten to the
// versions in the tree so that resolution works offline.
//   node dist/scripts/build-corpus.js --out DIR [--src DIR] [--only mod1,mod2]
import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { promises as fsp } from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import { checkFilePath, checkModuleVersion } from '../lib/gomod/modpath.js';
import { moduleLine } from '../lib/gomod/gomodfile.js';
import { isValid, major } from '../lib/gomod/semver.js';
import { splitPathVersion } from '../lib/gomod/modpath.js';
import { publishTree, writeModuleVersion } from './proxy-tree.js';

const run = promisify(execFile);
const SCRIPT_VERSION = '3';
const SKIP_DIRS = new Set(['vendor', '.git', '.hg', '.bzr', '.svn']);

interface Root {
  dir: string; // relative to src
  module: string;
  goMod: Buffer | null;
}

function arg(name: string): string | undefined {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? process.argv[i + 1] : undefined;
}

async function isFile(p: string): Promise<boolean> {
  return fsp.stat(p).then((s) => s.isFile(), () => false);
}

/** Module roots: every real (non-symlinked) directory with a go.mod outside testdata, plus legacy roots. */
async function findRoots(src: string): Promise<Root[]> {
  const roots: Root[] = [];
  const walk = async (rel: string, depth: number): Promise<void> => {
    const abs = path.join(src, rel);
    const entries = await fsp.readdir(abs, { withFileTypes: true });
    const hasGoMod = entries.some((e) => e.name === 'go.mod' && (e.isFile() || e.isSymbolicLink()));
    if (hasGoMod && rel) {
      const goMod = await fsp.readFile(path.join(abs, 'go.mod'));
      const module = moduleLine(goMod);
      if (module) roots.push({ dir: rel, module, goMod });
    } else if (!hasGoMod && rel && isLegacyDepth(rel, depth) && (await hasOwnGoFiles(abs))) {
      roots.push({ dir: rel, module: rel, goMod: null });
    }
    for (const e of entries) {
      if (!e.isDirectory() || SKIP_DIRS.has(e.name) || e.name === 'testdata' || e.name.startsWith('.')) continue;
      await walk(rel ? `${rel}/${e.name}` : e.name, depth + 1);
    }
  };
  await walk('', 0);
  // Legacy roots inside a go.mod module belong to it.
  return roots.filter((r) => r.goMod || !roots.some((o) => o.goMod && r.dir.startsWith(o.dir + '/')));
}

function isLegacyDepth(rel: string, depth: number): boolean {
  if (rel.startsWith('gopkg.in/')) return /\.v\d+$/.test(rel) && (depth === 2 || depth === 3);
  return depth === 3 && rel.includes('.') && !rel.startsWith('code.google.com/');
}

async function hasOwnGoFiles(abs: string): Promise<boolean> {
  const entries = await fsp.readdir(abs, { withFileTypes: true });
  if (entries.some((e) => e.name.endsWith('.go') && !e.isDirectory())) return true;
  for (const e of entries) {
    if (!e.isDirectory() || SKIP_DIRS.has(e.name) || e.name === 'testdata') continue;
    const sub = path.join(abs, e.name);
    if (await isFile(path.join(sub, 'go.mod'))) continue;
    if (await hasOwnGoFiles(sub)) return true;
  }
  return false;
}

/** The module's files, following symlinks, excluding nested modules and vendor trees. */
async function moduleFiles(absRoot: string): Promise<Map<string, Buffer>> {
  const files = new Map<string, Buffer>();
  const folded = new Set<string>();
  const walk = async (rel: string): Promise<void> => {
    const abs = path.join(absRoot, rel);
    for (const name of (await fsp.readdir(abs)).sort()) {
      const r = rel ? `${rel}/${name}` : name;
      const st = await fsp.stat(path.join(abs, name)).catch(() => null);
      if (!st) continue;
      if (st.isDirectory()) {
        if (SKIP_DIRS.has(name)) continue;
        if (await isFile(path.join(abs, name, 'go.mod'))) continue;
        await walk(r);
      } else if (st.isFile()) {
        try {
          checkFilePath(r);
        } catch {
          continue;
        }
        const fold = r.toLowerCase();
        if (folded.has(fold)) continue;
        folded.add(fold);
        files.set(r, await fsp.readFile(path.join(abs, name)));
      }
    }
  };
  await walk('');
  return files;
}

/** Debian version → Go version (pseudo-versions for git snapshots). */
export function goVersion(debian: string): { version: string; time: Date } | null {
  let v = debian.replace(/^\d+:/, '').replace(/-[^-]*$/, '');
  const DEFAULT_TIME = new Date('2023-06-01T00:00:00Z');
  const git = /^([0-9.]+)[~+]git(\d{8})[.-]?([0-9a-f]{7,40})?/.exec(v);
  if (git) {
    const nums = git[1].split('.').filter(Boolean).map(Number);
    while (nums.length < 3) nums.push(0);
    const stamp = `${git[2]}000000`;
    const rev = (git[3] ?? '000000000000').padEnd(12, '0').slice(0, 12);
    const time = new Date(`${git[2].slice(0, 4)}-${git[2].slice(4, 6)}-${git[2].slice(6, 8)}T00:00:00Z`);
    const [a, b, c] = nums;
    const version = a === 0 && b === 0 && c === 0 ? `v0.0.0-${stamp}-${rev}` : `v${a}.${b}.${c + 1}-0.${stamp}-${rev}`;
    return isValid(version) ? { version, time } : null;
  }
  v = v.replace(/[+~].*$/, '');
  const nums = v.split('.').map((n) => n.replace(/^0+(?=\d)/, ''));
  if (!nums.every((n) => /^\d+$/.test(n))) return null;
  while (nums.length < 3) nums.push('0');
  const version = `v${nums.slice(0, 3).join('.')}`;
  return isValid(version) ? { version, time: DEFAULT_TIME } : null;
}

/** Fits the version to the module path's major version rules. */
function fitMajor(module: string, version: string, hasGoMod: boolean, time: Date): string | null {
  const pm = splitPathVersion(module)?.pathMajor ?? '';
  const want = pm ? pm.slice(1).replace(/-unstable$/, '') : '';
  const m = major(version);
  let v = version;
  if (want && m !== want && !(want === 'v1' && version.startsWith('v0.0.0-'))) v = want + version.slice(m.length);
  else if (!want && m !== 'v0' && m !== 'v1') {
    // v2+ with a go.mod but no /vN suffix: only pseudo-versions resolve (as on real proxies).
    if (hasGoMod) {
      const stamp = time.toISOString().replace(/[-:T]/g, '').slice(0, 14);
      const rev = createHash('sha1').update(version).digest('hex').slice(0, 12);
      v = `v0.0.0-${stamp}-${rev}`;
    } else v = version + '+incompatible';
  }
  try {
    checkModuleVersion(module, v);
    return v;
  } catch {
    return null;
  }
}

/** Keeps module/go/retract; requirements point at the tree's versions or are dropped. */
export function rewriteGoMod(text: string, versions: Map<string, string>): string {
  const out: string[] = [];
  let block: string | null = null;
  const req = (line: string): string | null => {
    const m = /^\s*("?[^\s"]+"?)\s+(\S+)(.*)$/.exec(line);
    if (!m) return null;
    const mod = m[1].replace(/"/g, '');
    const v = versions.get(mod);
    return v ? `${mod} ${v}` : null;
  };
  for (const raw of text.split('\n')) {
    const line = raw.replace(/\r$/, '');
    const t = line.replace(/\/\/.*$/, '').trim();
    if (block) {
      if (t === ')') {
        if (block === 'require') out.push(')');
        block = null;
        continue;
      }
      if (block === 'require' && t) {
        const r = req(t);
        if (r) out.push(`\t${r}`);
      } else if (block === 'keep') out.push(line);
      continue;
    }
    const m = /^(\w+)\s*(\(?)\s*(.*)$/.exec(t);
    if (!m) {
      out.push(line);
      continue;
    }
    const [, verb, paren, rest] = m;
    if (verb === 'require') {
      if (paren) {
        block = 'require';
        out.push('require (');
      } else {
        const r = req(rest);
        if (r) out.push(`require ${r}`);
      }
    } else if (verb === 'replace' || verb === 'exclude' || verb === 'toolchain' || verb === 'godebug') {
      if (paren) block = 'drop';
    } else {
      if (paren) block = 'keep';
      out.push(line);
    }
  }
  return out.join('\n').replace(/require \(\n\)\n?/g, '').replace(/\n{3,}/g, '\n\n');
}

async function debianVersions(src: string, roots: Root[]): Promise<Map<string, string>> {
  // One representative file per root, one dpkg query for all of them.
  const reps = new Map<string, string>();
  for (const r of roots) {
    const abs = path.join(src, r.dir);
    const names = (await fsp.readdir(abs)).filter((n) => !n.startsWith('.'));
    const pick = names.find((n) => n === 'go.mod') ?? names.find((n) => n.endsWith('.go')) ?? names[0];
    if (pick) reps.set(path.join(abs, pick), r.dir);
  }
  const owners = new Map<string, string>();
  const { stdout } = await run('dpkg-query', ['-S', ...reps.keys()], { maxBuffer: 64 << 20 }).catch((e) => ({ stdout: String(e.stdout ?? '') }));
  for (const line of stdout.split('\n')) {
    const m = /^([^:]+)(?::\w+)?: (.+)$/.exec(line);
    if (!m) continue;
    const dir = reps.get(m[2]);
    if (dir) owners.set(dir, m[1].split(',')[0].trim());
  }
  const pkgs = [...new Set(owners.values())];
  const versions = new Map<string, string>();
  if (pkgs.length) {
    const { stdout: vs } = await run('dpkg-query', ['-W', '-f', '${Package} ${Version}\n', ...pkgs]);
    const byPkg = new Map(vs.split('\n').filter(Boolean).map((l) => l.split(' ') as [string, string]));
    for (const [dir, pkg] of owners) if (byPkg.has(pkg)) versions.set(dir, byPkg.get(pkg)!);
  }
  return versions;
}

async function main(): Promise<void> {
  const out = arg('out');
  const src = path.resolve(arg('src') ?? '/usr/share/gocode/src');
  const only = arg('only')?.split(',').filter(Boolean);
  if (!out) {
    process.stderr.write('usage: build-corpus --out DIR [--src DIR] [--only module,...]\n');
    process.exit(2);
  }
  if (!(await fsp.stat(src).catch(() => null))) {
    process.stderr.write(`build-corpus: ${src} does not exist; install the packages in scripts/corpus-packages.txt (make setup)\n`);
    process.exit(1);
  }
  const roots = await findRoots(src);
  const deb = await debianVersions(src, roots);
  const plan: Array<Root & { version: string; time: Date }> = [];
  const seen = new Set<string>();
  for (const r of roots.sort((a, b) => a.dir.length - b.dir.length)) {
    if (seen.has(r.module)) continue;
    const dv = deb.get(r.dir);
    const gv = dv ? goVersion(dv) : null;
    const v = gv && fitMajor(r.module, gv.version, r.goMod !== null, gv.time);
    if (!gv || !v) {
      process.stderr.write(`build-corpus: skipping ${r.module} (${r.dir}): no usable version from ${dv ?? 'dpkg'}\n`);
      continue;
    }
    seen.add(r.module);
    plan.push({ ...r, version: v, time: gv.time });
  }
  const versions = new Map(plan.map((p) => [p.module, p.version]));
  const selected = only ? plan.filter((p) => only.includes(p.module)) : plan;
  const stamp = createHash('sha256')
    .update(SCRIPT_VERSION + '\n' + selected.map((p) => `${p.module} ${p.version}`).sort().join('\n'))
    .digest('hex');
  const dest = path.resolve(out);
  if ((await fsp.readFile(path.join(dest, '.corpus-stamp'), 'utf8').catch(() => '')) === stamp) {
    process.stdout.write(`corpus up to date: ${dest} (${selected.length} modules)\n`);
    return;
  }
  const tmp = `${dest}.tmp-${process.pid}`;
  await fsp.rm(tmp, { recursive: true, force: true });
  await fsp.mkdir(tmp, { recursive: true });
  let fileCount = 0;
  let bytes = 0;
  for (const p of selected) {
    const mod = Buffer.from(p.goMod ? rewriteGoMod(p.goMod.toString('utf8'), versions) : `module ${p.module}\n`);
    const files = await moduleFiles(path.join(src, p.dir));
    if (p.goMod) files.set('go.mod', mod);
    fileCount += files.size;
    bytes += await writeModuleVersion(tmp, { module: p.module, version: p.version, time: p.time, mod, files });
  }
  await fsp.writeFile(path.join(tmp, '.corpus-stamp'), stamp);
  await fsp.mkdir(path.dirname(dest), { recursive: true });
  await publishTree(tmp, dest);
  process.stdout.write(`corpus: ${selected.length} modules, ${fileCount} files, ${bytes} zip bytes in ${dest}\n`);
}

if (process.argv[1] && import.meta.url === new URL(`file://${path.resolve(process.argv[1])}`).href) {
  await main();
}
