// Semantic versions as the go command reads them (golang.org/x/mod/semver): a leading
// "v", shorthands v1 and v1.2, prerelease and build suffixes.

interface Parsed {
  major: string;
  minor: string;
  patch: string;
  short: string;
  prerelease: string;
  build: string;
}

function parseInt(v: string): [string, string] | null {
  if (v === '' || v[0] < '0' || v[0] > '9') return null;
  let i = 1;
  while (i < v.length && v[i] >= '0' && v[i] <= '9') i++;
  if (v[0] === '0' && i !== 1) return null;
  return [v.slice(0, i), v.slice(i)];
}

const isIdentChar = (c: string) => /^[A-Za-z0-9-]$/.test(c);
const isNum = (v: string) => /^[0-9]*$/.test(v);
const isBadNum = (v: string) => /^[0-9]+$/.test(v) && v.length > 1 && v[0] === '0';

function parseSuffix(v: string, lead: '-' | '+'): [string, string] | null {
  if (v === '' || v[0] !== lead) return null;
  let i = 1;
  let start = 1;
  while (i < v.length && !(lead === '-' && v[i] === '+')) {
    if (!isIdentChar(v[i]) && v[i] !== '.') return null;
    if (v[i] === '.') {
      if (start === i || (lead === '-' && isBadNum(v.slice(start, i)))) return null;
      start = i + 1;
    }
    i++;
  }
  if (start === i || (lead === '-' && isBadNum(v.slice(start, i)))) return null;
  return [v.slice(0, i), v.slice(i)];
}

function parse(v: string): Parsed | null {
  if (!v.startsWith('v')) return null;
  const p: Parsed = { major: '', minor: '', patch: '', short: '', prerelease: '', build: '' };
  let r = parseInt(v.slice(1));
  if (!r) return null;
  [p.major, v] = r;
  if (v === '') return { ...p, minor: '0', patch: '0', short: '.0.0' };
  if (v[0] !== '.') return null;
  r = parseInt(v.slice(1));
  if (!r) return null;
  [p.minor, v] = r;
  if (v === '') return { ...p, patch: '0', short: '.0' };
  if (v[0] !== '.') return null;
  r = parseInt(v.slice(1));
  if (!r) return null;
  [p.patch, v] = r;
  if (v.startsWith('-')) {
    const s = parseSuffix(v, '-');
    if (!s) return null;
    [p.prerelease, v] = s;
  }
  if (v.startsWith('+')) {
    const s = parseSuffix(v, '+');
    if (!s) return null;
    [p.build, v] = s;
  }
  return v === '' ? p : null;
}

export function isValid(v: string): boolean {
  return parse(v) !== null;
}

/** v1 → v1.0.0; drops build metadata; '' when invalid. */
export function canonical(v: string): string {
  const p = parse(v);
  if (!p) return '';
  if (p.build) return v.slice(0, v.length - p.build.length);
  if (p.short) return v + p.short;
  return v;
}

export function major(v: string): string {
  const p = parse(v);
  return p ? v.slice(0, 1 + p.major.length) : '';
}

export function majorMinor(v: string): string {
  const p = parse(v);
  if (!p) return '';
  const i = 1 + p.major.length;
  const j = i + 1 + p.minor.length;
  return j <= v.length && v[i] === '.' && v.slice(i + 1, j) === p.minor ? v.slice(0, j) : `v${p.major}.${p.minor}`;
}

export function prerelease(v: string): string {
  return parse(v)?.prerelease ?? '';
}

export function build(v: string): string {
  return parse(v)?.build ?? '';
}

export function isPrerelease(v: string): boolean {
  return prerelease(v) !== '';
}

function compareInt(x: string, y: string): number {
  if (x === y) return 0;
  if (x.length !== y.length) return x.length < y.length ? -1 : 1;
  return x < y ? -1 : 1;
}

function comparePrerelease(x: string, y: string): number {
  if (x === y) return 0;
  if (x === '') return 1;
  if (y === '') return -1;
  const xs = x.slice(1).split('.');
  const ys = y.slice(1).split('.');
  for (let i = 0; i < xs.length && i < ys.length; i++) {
    const dx = xs[i];
    const dy = ys[i];
    if (dx === dy) continue;
    const ix = isNum(dx);
    const iy = isNum(dy);
    if (ix !== iy) return ix ? -1 : 1;
    if (ix && dx.length !== dy.length) return dx.length < dy.length ? -1 : 1;
    return dx < dy ? -1 : 1;
  }
  return xs.length < ys.length ? -1 : 1;
}

/** Invalid versions compare equal to each other and below every valid one. */
export function compare(a: string, b: string): number {
  const pa = parse(a);
  const pb = parse(b);
  if (!pa && !pb) return 0;
  if (!pa) return -1;
  if (!pb) return 1;
  return (
    compareInt(pa.major, pb.major) ||
    compareInt(pa.minor, pb.minor) ||
    compareInt(pa.patch, pb.patch) ||
    comparePrerelease(pa.prerelease, pb.prerelease)
  );
}

export function sortVersions(list: string[]): string[] {
  return [...list].sort((a, b) => compare(a, b) || (a < b ? -1 : a > b ? 1 : 0));
}

// Pseudo-versions: vX.0.0-yyyymmddhhmmss-rev, vX.Y.Z-pre.0.yyyymmddhhmmss-rev,
// vX.Y.(Z+1)-0.yyyymmddhhmmss-rev, optionally followed by +incompatible.
const PSEUDO = /^v[0-9]+\.(0\.0-|\d+\.\d+-([^+]*\.)?0\.)\d{14}-[A-Za-z0-9]+(\+[0-9A-Za-z-]+(\.[0-9A-Za-z-]+)*)?$/;

export function isPseudoVersion(v: string): boolean {
  return (v.match(/-/g)?.length ?? 0) >= 2 && isValid(v) && PSEUDO.test(v);
}

function pseudoParts(v: string): { base: string; timestamp: string; rev: string } {
  if (!isPseudoVersion(v)) throw new Error(`not a pseudo-version: ${v}`);
  const b = build(v);
  const core = v.slice(0, v.length - b.length);
  const j = core.lastIndexOf('-');
  const rev = core.slice(j + 1);
  const rest = core.slice(0, j);
  const i = rest.lastIndexOf('-');
  const k = rest.lastIndexOf('.');
  const cut = Math.max(i, k);
  const timestamp = rest.slice(cut + 1);
  let base = rest.slice(0, cut);
  if (rest[cut] === '.') base = base.endsWith('.0') ? base.slice(0, -2) : base; // vX.Y.Z-pre.0 → vX.Y.Z-pre
  if (rest[cut] === '.' && base.endsWith('-0')) base = base.slice(0, -2);
  return { base: base + b, timestamp, rev };
}

export function pseudoVersionRev(v: string): string {
  return pseudoParts(v).rev;
}

export function pseudoVersionTime(v: string): Date {
  const t = pseudoParts(v).timestamp;
  return new Date(`${t.slice(0, 4)}-${t.slice(4, 6)}-${t.slice(6, 8)}T${t.slice(8, 10)}:${t.slice(10, 12)}:${t.slice(12, 14)}Z`);
}

export function pseudoVersionBase(v: string): string {
  return pseudoParts(v).base;
}
