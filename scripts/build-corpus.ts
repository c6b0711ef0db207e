// Turns Debian's golang-*-dev sources (/usr/share/gocode/src) into a GOPROXY tree: one
// version per module, version from the Debian package, requirements rewritten to the
// versions in the tree so that resolution works offline.
//   node dist/scripts/build-corpus.js --out DIR [--src DIR] [--only mod1,mod2] [--list] [--force]
import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { promises as fsp } from 'node:fs';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { parseArgs, promisify } from 'node:util';
import { gunzip } from 'node:zlib';
import {
  checkFilePath,
  checkModuleVersion,
  isValid,
  major,
  moduleLine,
  pseudoVersionTime,
  isPseudoVersion,
  splitPathVersion,
  MAX_ZIP_FILE,
} from '../lib/gomod/index.js';
import { publishTree, writeModuleVersion } from './proxy-tree.js';

const run = promisify(execFile);
const gunzipP = promisify(gunzip);
/** Bump when the output for the same packages changes, so stamped trees are rebuilt. */
const SCRIPT_VERSION = '4';
const SKIP_DIRS = new Set(['vendor', '.git', '.hg', '.bzr', '.svn']);
/** Used when a package has no readable changelog date. */
const FALLBACK_TIME = new Date('2023-06-01T00:00:00Z');

interface Root {
  /** directory relative to src */
  dir: string;
  module: string;
  /** null for a legacy root (no go.mod) */
  goMod: Buffer | null;
}

interface Planned extends Root {
  version: string;
  time: Date;
  pkg: string;
  debVersion: string;
}

/**
 * Module roots: every real (non-symlinked) directory with a go.mod outside testdata, plus
 * legacy roots by path depth (see isLegacyRoot). Symlinked directories are Debian's
 * compatibility aliases (github.com/Sirupsen/logrus → sirupsen/logrus) and are not followed.
 */
async function findRoots(src: string): Promise<Root[]> {
  const roots: Root[] = [];
  const walk = async (rel: string): Promise<void> => {
    const abs = path.join(src, rel);
    const entries = await fsp.readdir(abs, { withFileTypes: true });
    const hasGoMod = entries.some((e) => e.name === 'go.mod' && !e.isDirectory());
    if (hasGoMod && rel) {
      const goMod = await fsp.readFile(path.join(abs, 'go.mod'));
      const module = moduleLine(goMod);
      if (module) roots.push({ dir: rel, module, goMod });
    } else if (!hasGoMod && isLegacyRoot(rel) && (await hasOwnGoFiles(abs))) {
      roots.push({ dir: rel, module: rel, goMod: null });
    }
    for (const e of entries) {
      if (!e.isDirectory() || SKIP_DIRS.has(e.name) || e.name === 'testdata' || e.name.startsWith('.')) continue;
      await walk(rel ? `${rel}/${e.name}` : e.name);
    }
  };
  await walk('');
  // A legacy root inside a go.mod module is a package of that module.
  return roots.filter((r) => r.goMod || !roots.some((o) => o.goMod && r.dir.startsWith(o.dir + '/')));
}

/**
 * The import-path root of a package without go.mod: <host>/<owner>/<repo> (github.com/x/y,
 * golang.org/x/name), gopkg.in/name.vN or gopkg.in/owner/name.vN.
 */
function isLegacyRoot(rel: string): boolean {
  const parts = rel.split('/');
  if (parts[0] === 'gopkg.in') return /\.v\d+$/.test(rel) && (parts.length === 2 || parts.length === 3);
  return parts.length === 3 && parts[0].includes('.') && parts[0] !== 'code.google.com';
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

async function isFile(p: string): Promise<boolean> {
  return fsp.stat(p).then((s) => s.isFile(), () => false);
}

/**
 * The module's files as a zip would carry them: symlinks followed to regular files,
 * subdirectories with their own go.mod (nested modules), vendor and VCS directories left
 * out, names that module.CheckFilePath rejects or that collide case-insensitively skipped.
 */
async function moduleFiles(absRoot: string, warn: (msg: string) => void): Promise<Map<string, Buffer>> {
  const files = new Map<string, Buffer>();
  const folded = new Set<string>();
  const visited = new Set<string>();
  const walk = async (rel: string): Promise<void> => {
    const abs = path.join(absRoot, rel);
    const real = await fsp.realpath(abs);
    if (visited.has(real)) return; // a symlink loop or a second alias of the same directory
    visited.add(real);
    for (const name of (await fsp.readdir(abs)).sort()) {
      const r = rel ? `${rel}/${name}` : name;
      const st = await fsp.stat(path.join(abs, name)).catch(() => null);
      if (!st) continue; // dangling symlink
      if (st.isDirectory()) {
        if (SKIP_DIRS.has(name)) continue;
        if (await isFile(path.join(abs, name, 'go.mod'))) continue;
        await walk(r);
      } else if (st.isFile()) {
        try {
          checkFilePath(r);
        } catch {
          warn(`skipping file ${r}: not a valid module file path`);
          continue;
        }
        if (st.size > MAX_ZIP_FILE) continue;
        const fold = r.toLowerCase();
        if (folded.has(fold)) {
          warn(`skipping file ${r}: collides with another name when case is folded`);
          continue;
        }
        folded.add(fold);
        files.set(r, await fsp.readFile(path.join(abs, name)));
      }
    }
  };
  await walk('');
  return files;
}

/**
 * Debian version → Go version. Epoch, Debian revision and repack suffixes (+dfsg, +ds1) go;
 * ~rcN/~betaN become prereleases; git snapshots become pseudo-versions:
 *   0.0~git20210226.20ebb0f         → v0.0.0-20210226000000-20ebb0f00000
 *   1.0.6~git20210604-d5e0c0615ace  → v1.0.6-0.20210604000000-d5e0c0615ace (before 1.0.6)
 *   1.2.0+git20190917.de67a66       → v1.2.1-0.20190917000000-de67a6600000 (after 1.2.0)
 * `time` is the snapshot date for pseudo-versions, else `released` (the changelog date).
 */
export function goVersion(debian: string, released: Date = FALLBACK_TIME): { version: string; time: Date } | null {
  const v = debian.trim().replace(/^\d+:/, '').replace(/-[0-9][0-9A-Za-z.+~]*$/, '');
  const git = /^(\d+(?:\.\d+)*)([~+])git(\d{8})(?:[.+~-]([0-9a-f]{7,40}))?/.exec(v);
  if (git) {
    const [, base, sep, day, hash] = git;
    const nums = base.split('.').map(Number).slice(0, 3);
    while (nums.length < 3) nums.push(0);
    const stamp = `${day}000000`;
    // Pseudo-version revisions are 12 hex digits; shorter Debian abbreviations are padded.
    const rev = (hash ?? '').padEnd(12, '0').slice(0, 12);
    const time = new Date(`${day.slice(0, 4)}-${day.slice(4, 6)}-${day.slice(6, 8)}T00:00:00Z`);
    if (Number.isNaN(time.getTime())) return null;
    const [a, b, c] = nums;
    let version: string;
    if (a === 0 && b === 0 && c === 0) version = `v0.0.0-${stamp}-${rev}`;
    else if (sep === '~') version = `v${a}.${b}.${c}-0.${stamp}-${rev}`;
    else version = `v${a}.${b}.${c + 1}-0.${stamp}-${rev}`;
    return isValid(version) ? { version, time } : null;
  }
  const m = /^(\d+(?:\.\d+)*)(?:~((?:alpha|beta|rc|pre)\.?\d*))?/i.exec(v);
  if (!m) return null;
  const nums = m[1].split('.').map((n) => String(Number(n))).slice(0, 3);
  while (nums.length < 3) nums.push('0');
  const version = `v${nums.join('.')}${m[2] ? '-' + m[2].toLowerCase() : ''}`;
  return isValid(version) ? { version, time: released } : null;
}

/**
 * Fits the version to the module path's major version: /vN (or gopkg.in .vN) sets the major;
 * a path without suffix at v2+ is +incompatible without go.mod, and with a go.mod only a
 * v0.0.0 pseudo-version is acceptable (as real proxies serve such commits).
 */
export function fitMajor(module: string, version: string, hasGoMod: boolean, time: Date): string | null {
  const pm = splitPathVersion(module)?.pathMajor ?? '';
  const want = pm ? pm.slice(1).replace(/-unstable$/, '') : '';
  const m = major(version);
  let v = version;
  if (want && m !== want && !(want === 'v1' && version.startsWith('v0.0.0-'))) {
    v = want + version.slice(m.length);
  } else if (!want && m !== 'v0' && m !== 'v1') {
    if (hasGoMod) {
      const stamp = time.toISOString().replace(/[-:T]/g, '').slice(0, 14);
      const rev = createHash('sha1').update(`${module}@${version}`).digest('hex').slice(0, 12);
      v = `v0.0.0-${stamp}-${rev}`;
    } else {
      v = version + '+incompatible';
    }
  }
  try {
    checkModuleVersion(module, v);
    return v;
  } catch {
    return null;
  }
}

/** Strips a // comment that is not inside a quoted string. */
function stripComment(line: string): string {
  let q: string | null = null;
  for (let i = 0; i < line.length; i++) {
    const c = line[i];
    if (q) {
      if (c === '\\' && q === '"') i++;
      else if (c === q) q = null;
    } else if (c === '"' || c === '`') q = c;
    else if (c === '/' && line[i + 1] === '/') return line.slice(0, i);
  }
  return line;
}

/**
 * Keeps module, go and retract (and comments); every require of a module in the tree gets the
 * tree's version, the others are dropped; replace, exclude, toolchain, godebug and anything
 * else go, since the tree cannot honour them and go 1.19 may not parse them.
 */
export function rewriteGoMod(text: string, versions: Map<string, string>): string {
  const KEEP = new Set(['module', 'go', 'retract']);
  const out: string[] = [];
  let block: { verb: string; lines: string[] } | null = null;
  const req = (spec: string): string | null => {
    const m = /^("(?:[^"\\]|\\.)*"|`[^`]*`|\S+)\s+\S+/.exec(spec.trim());
    if (!m) return null;
    const mod = m[1].replace(/^["`]|["`]$/g, '');
    const v = versions.get(mod);
    return v ? `${mod} ${v}` : null;
  };
  for (const raw of text.replace(/\r\n/g, '\n').split('\n')) {
    const t = stripComment(raw).trim();
    if (block) {
      if (t === ')') {
        if (block.verb === 'require' && block.lines.length) out.push('require (', ...block.lines, ')');
        else if (KEEP.has(block.verb)) out.push(...block.lines, raw);
        block = null;
      } else if (block.verb === 'require') {
        const r = t && req(t);
        if (r) block.lines.push(`\t${r}`);
      } else if (KEEP.has(block.verb)) {
        block.lines.push(raw);
      }
      continue;
    }
    if (!t) {
      out.push(raw); // blank or comment-only line
      continue;
    }
    const m = /^([A-Za-z_]\w*)\s*(.*)$/.exec(t);
    const verb = m?.[1] ?? '';
    const rest = m?.[2] ?? '';
    if (rest === '(') {
      block = { verb, lines: KEEP.has(verb) ? [raw] : [] };
      continue;
    }
    if (rest === '()') continue;
    if (verb === 'require') {
      const r = req(rest);
      if (r) out.push(`require ${r}`);
    } else if (KEEP.has(verb)) {
      out.push(raw);
    }
  }
  return out.join('\n').replace(/\n{3,}/g, '\n\n');
}

/** Owning package, its version and its changelog date for each root, in three batched queries. */
async function debianInfo(src: string, roots: Root[]): Promise<Map<string, { pkg: string; version: string; date: Date }>> {
  const reps = new Map<string, string>();
  for (const r of roots) {
    const abs = path.join(src, r.dir);
    const names = (await fsp.readdir(abs)).filter((n) => !n.startsWith('.')).sort();
    const pick = names.find((n) => n === 'go.mod') ?? names.find((n) => n.endsWith('.go')) ?? names[0];
    if (pick) reps.set(path.join(abs, pick), r.dir);
  }
  const owners = new Map<string, string>();
  if (reps.size) {
    // dpkg-query exits 1 when some path is unowned but still prints the others.
    const { stdout } = await run('dpkg-query', ['-S', ...reps.keys()], { maxBuffer: 64 << 20 }).catch(
      (e: { stdout?: string }) => ({ stdout: String(e.stdout ?? '') }),
    );
    for (const line of stdout.split('\n')) {
      const m = /^([^:]+)(?::[\w-]+)?: (.+)$/.exec(line);
      const dir = m && reps.get(m[2]);
      if (dir) owners.set(dir, m[1].split(',')[0].trim());
    }
  }
  const pkgs = [...new Set(owners.values())].sort();
  const byPkg = new Map<string, { version: string; date: Date }>();
  if (pkgs.length) {
    const { stdout } = await run('dpkg-query', ['-W', '-f', '${Package} ${Version}\n', ...pkgs]).catch(
      (e: { stdout?: string }) => ({ stdout: String(e.stdout ?? '') }),
    );
    for (const line of stdout.split('\n')) {
      const [pkg, version] = line.split(' ');
      if (pkg && version) byPkg.set(pkg, { version, date: await changelogDate(pkg) });
    }
  }
  const out = new Map<string, { pkg: string; version: string; date: Date }>();
  for (const [dir, pkg] of owners) {
    const v = byPkg.get(pkg);
    if (v) out.set(dir, { pkg, ...v });
  }
  return out;
}

/** The date of the newest changelog entry: a stable release time for the package. */
async function changelogDate(pkg: string): Promise<Date> {
  try {
    const text = (await gunzipP(await fsp.readFile(`/usr/share/doc/${pkg}/changelog.Debian.gz`))).toString('utf8');
    const m = /^ -- .*?>  (.+)$/m.exec(text);
    const d = m ? new Date(m[1]) : null;
    if (d && !Number.isNaN(d.getTime())) return new Date(Math.floor(d.getTime() / 1000) * 1000);
  } catch {
    // no changelog: fall back
  }
  return FALLBACK_TIME;
}

/** Everything the tree would hold, without building it. */
export async function planCorpus(src: string, warn: (msg: string) => void = () => undefined): Promise<Planned[]> {
  const roots = (await findRoots(src)).sort((a, b) => a.dir.length - b.dir.length || (a.dir < b.dir ? -1 : 1));
  const deb = await debianInfo(src, roots);
  const plan: Planned[] = [];
  const seen = new Set<string>();
  for (const r of roots) {
    if (seen.has(r.module)) continue;
    const d = deb.get(r.dir);
    const gv = d ? goVersion(d.version, d.date) : null;
    const v = gv && fitMajor(r.module, gv.version, r.goMod !== null, gv.time);
    if (!d || !gv || !v) {
      warn(`skipping ${r.module} (${r.dir}): no usable version from ${d ? `${d.pkg} ${d.version}` : 'dpkg'}`);
      continue;
    }
    seen.add(r.module);
    // A pseudo-version's own timestamp wins, so .info agrees with the version string.
    const time = isPseudoVersion(v) ? pseudoVersionTime(v) : gv.time;
    plan.push({ ...r, version: v, time, pkg: d.pkg, debVersion: d.version });
  }
  return plan.sort((a, b) => (a.module < b.module ? -1 : a.module > b.module ? 1 : 0));
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      out: { type: 'string' },
      src: { type: 'string', default: '/usr/share/gocode/src' },
      only: { type: 'string' },
      list: { type: 'boolean', default: false },
      force: { type: 'boolean', default: false },
    },
  });
  const src = path.resolve(values.src!);
  if (!values.out && !values.list) {
    process.stderr.write('usage: build-corpus --out DIR [--src DIR] [--only module,...] [--force] | --list\n');
    process.exit(2);
  }
  if (!(await fsp.stat(src).catch(() => null))) {
    process.stderr.write(`build-corpus: ${src} does not exist; install the packages in scripts/corpus-packages.txt (make setup)\n`);
    process.exit(1);
  }
  const warn = (msg: string) => process.stderr.write(`build-corpus: ${msg}\n`);
  const plan = await planCorpus(src, warn);
  if (values.list) {
    for (const p of plan) process.stdout.write(`${p.module} ${p.version} ${p.pkg} ${p.debVersion} ${p.goMod ? 'go.mod' : 'legacy'}\n`);
    return;
  }
  let selected = plan;
  if (values.only) {
    const want = values.only.split(',').map((s) => s.trim()).filter(Boolean);
    const unknown = want.filter((w) => !plan.some((p) => p.module === w));
    if (unknown.length) {
      process.stderr.write(`build-corpus: not in ${src}: ${unknown.join(', ')} (see --list)\n`);
      process.exit(2);
    }
    selected = plan.filter((p) => want.includes(p.module));
  }
  // Requirements resolve within the tree being written, so a subset is self-contained too.
  const versions = new Map(selected.map((p) => [p.module, p.version]));
  const stamp = createHash('sha256')
    .update(`build-corpus ${SCRIPT_VERSION}\n${src}\n`)
    .update(selected.map((p) => `${p.module} ${p.version} ${p.pkg} ${p.debVersion}\n`).join(''))
    .digest('hex');
  const dest = path.resolve(values.out!);
  const stampFile = path.join(dest, '.corpus-stamp');
  const current = async () => (await fsp.readFile(stampFile, 'utf8').catch(() => '')) === stamp;
  if (!values.force && (await current())) {
    process.stdout.write(`corpus up to date: ${dest} (${selected.length} modules)\n`);
    return;
  }
  const tmp = `${dest}.tmp-${process.pid}`;
  await fsp.rm(tmp, { recursive: true, force: true });
  await fsp.mkdir(tmp, { recursive: true });
  let fileCount = 0;
  let fileBytes = 0;
  let zipBytes = 0;
  try {
    for (const p of selected) {
      const mod = Buffer.from(p.goMod ? rewriteGoMod(p.goMod.toString('utf8'), versions) : `module ${p.module}\n`);
      const files = await moduleFiles(path.join(src, p.dir), (m) => warn(`${p.module}: ${m}`));
      // The zip's go.mod is the .mod, byte for byte, so both hash the same for the go command.
      if (p.goMod) files.set('go.mod', mod);
      fileCount += files.size;
      for (const b of files.values()) fileBytes += b.length;
      zipBytes += await writeModuleVersion(tmp, { module: p.module, version: p.version, time: p.time, mod, files });
    }
    await fsp.writeFile(path.join(tmp, '.corpus-stamp'), stamp);
    await publishTree(tmp, dest, current);
  } catch (e) {
    await fsp.rm(tmp, { recursive: true, force: true });
    throw e;
  }
  process.stdout.write(
    `corpus: ${selected.length} modules, ${fileCount} files, ${fileBytes} bytes of files, ${zipBytes} bytes of zips in ${dest}\n`,
  );
}

if (process.argv[1] && import.meta.url === pathToFileURL(path.resolve(process.argv[1])).href) {
  await main();
}
