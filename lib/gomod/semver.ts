// Semantic versions as the go command reads them: a port of golang.org/x/mod/semver (a leading
// "v", shorthands v1 and v1.2, prerelease and build suffixes) and of module/pseudo.go.
import { GoModError } from './errors.js';

interface Parsed {
  major: string;
  minor: string;
  patch: string;
  short: string;
  prerelease: string;
  build: string;
}

function parseNum(v: string): [string, string] | null {
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
  let r = parseNum(v.slice(1));
  if (!r) return null;
  [p.major, v] = r;
  if (v === '') return { ...p, minor: '0', patch: '0', short: '.0.0' };
  if (v[0] !== '.') return null;
  r = parseNum(v.slice(1));
  if (!r) return null;
  [p.minor, v] = r;
  if (v === '') return { ...p, patch: '0', short: '.0' };
  if (v[0] !== '.') return null;
  r = parseNum(v.slice(1));
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

/** Accepts shorthands (v1, v1.2) but no leading zeros, and identifiers of [0-9A-Za-z-] only. */
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

// A release sorts after its prereleases; identifiers compare numerically when both are numbers,
// numbers sort before words, and a shorter list of equal identifiers sorts first.
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

/** semver.Sort on a copy: equal versions (v1.2 and v1.2.0) keep a stable, string-ordered place. */
export function sortVersions(list: readonly string[]): string[] {
  return [...list].sort((a, b) => compare(a, b) || (a < b ? -1 : a > b ? 1 : 0));
}

/** semver.Max: the larger of two versions, canonicalized. */
export function max(a: string, b: string): string {
  const ca = canonical(a);
  const cb = canonical(b);
  return compare(ca, cb) > 0 ? ca : cb;
}

// Pseudo-versions name an untagged commit. Three forms, each optionally with a build suffix
// such as +incompatible:
//   vX.0.0-yyyymmddhhmmss-abcdefabcdef           no earlier tag
//   vX.Y.Z-pre.0.yyyymmddhhmmss-abcdefabcdef     after prerelease tag vX.Y.Z-pre
//   vX.Y.(Z+1)-0.yyyymmddhhmmss-abcdefabcdef     after release tag vX.Y.Z
const PSEUDO_RE = /^v[0-9]+\.(0\.0-|\d+\.\d+-([^+]*\.)?0\.)\d{14}-[A-Za-z0-9]+(\+[0-9A-Za-z-]+(\.[0-9A-Za-z-]+)*)?$/;

/** module.IsPseudoVersion. */
export function isPseudoVersion(v: string): boolean {
  return (v.match(/-/g)?.length ?? 0) >= 2 && isValid(v) && PSEUDO_RE.test(v);
}

/** module.IsZeroPseudoVersion: vX.0.0-00010101000000-000000000000. */
export function isZeroPseudoVersion(v: string): boolean {
  return v === `${major(v) || 'v0'}.0.0-00010101000000-000000000000`;
}

function pseudoError(v: string, why: string): GoModError {
  return new GoModError('pseudo-invalid', `pseudo-version ${JSON.stringify(v)} invalid: ${why}`);
}

function parsePseudo(v: string): { base: string; timestamp: string; rev: string; build: string } {
  if (!isPseudoVersion(v)) throw pseudoError(v, 'syntax error');
  const b = build(v);
  const core = v.slice(0, v.length - b.length);
  const j = core.lastIndexOf('-');
  const rev = core.slice(j + 1);
  const rest = core.slice(0, j);
  const i = rest.lastIndexOf('-');
  const dot = rest.lastIndexOf('.');
  // base is "vX.Y.Z-pre.0" or "vX.Y.(Z+1)-0" when the timestamp follows a dot, else "vX.0.0"
  const cut = dot > i ? dot : i;
  return { base: rest.slice(0, cut), timestamp: rest.slice(cut + 1), rev, build: b };
}

/** module.PseudoVersionRev: the commit hash prefix. */
export function pseudoVersionRev(v: string): string {
  return parsePseudo(v).rev;
}

const DAYS_IN_MONTH = [31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31];
const isLeap = (y: number): boolean => (y % 4 === 0 && y % 100 !== 0) || y % 400 === 0;
const daysIn = (year: number, month: number): number => (month === 2 && isLeap(year) ? 29 : DAYS_IN_MONTH[month - 1]);

/** module.PseudoVersionTime: the commit time (UTC), validated like time.Parse("20060102150405"). */
export function pseudoVersionTime(v: string): Date {
  const t = parsePseudo(v).timestamp;
  const [year, month, day, hour, min, sec] = [0, 4, 6, 8, 10, 12].map((k, n) => Number(t.slice(k, n === 0 ? 4 : k + 2)));
  if (month < 1 || month > 12 || day < 1 || day > daysIn(year, month) || hour > 23 || min > 59 || sec > 59) {
    throw pseudoError(v, `malformed time ${JSON.stringify(t)}`);
  }
  const d = new Date(Date.UTC(2000, month - 1, day, hour, min, sec));
  d.setUTCFullYear(year); // Date.UTC maps years 0-99 to 1900-1999
  return d;
}

function decDecimal(decimal: string): string {
  const digits = decimal.split('');
  let i = digits.length - 1;
  for (; i >= 0 && digits[i] === '0'; i--) digits[i] = '9';
  if (i < 0) return '';
  if (i === 0 && digits[i] === '1' && digits.length > 1) return digits.slice(1).join('');
  digits[i] = String(Number(digits[i]) - 1);
  return digits.join('');
}

/**
 * module.PseudoVersionBase: the tagged version a pseudo-version was derived from (with the same
 * build suffix), or '' for the vX.0.0 form that has none.
 */
export function pseudoVersionBase(v: string): string {
  const { base, build: b } = parsePseudo(v);
  const pre = prerelease(base);
  if (pre === '') {
    if (b !== '') throw pseudoError(v, `lacks base version, but has build metadata ${JSON.stringify(b)}`);
    return '';
  }
  if (pre === '-0') {
    const rel = base.slice(0, -pre.length);
    const i = rel.lastIndexOf('.');
    const patch = decDecimal(rel.slice(i + 1));
    if (patch === '') throw pseudoError(v, `version before ${rel} would have negative patch number`);
    return rel.slice(0, i + 1) + patch + b;
  }
  return base.slice(0, -'.0'.length) + b;
}
