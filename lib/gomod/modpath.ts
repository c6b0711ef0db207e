// Module, import and file path rules (golang.org/x/mod/module).
import { GoModError } from './errors.js';
import { build, canonical, isValid, major } from './semver.js';

type Kind = 'module' | 'import' | 'file';

const BAD_WINDOWS = new Set([
  'CON', 'PRN', 'AUX', 'NUL',
  ...Array.from({ length: 9 }, (_, i) => `COM${i + 1}`),
  ...Array.from({ length: 9 }, (_, i) => `LPT${i + 1}`),
]);

const modPathOK = (c: string) => /^[-._~0-9A-Za-z]$/.test(c);
const importPathOK = (c: string) => modPathOK(c) || c === '+';
const fileNameOK = (c: string) =>
  c.charCodeAt(0) < 0x80 ? /^[0-9A-Za-z!#$%&()+,\-.=@[\]^_{}~ ]$/.test(c) : /^\p{L}$/u.test(c);
const firstPathOK = (c: string) => /^[-.0-9a-z]$/.test(c);

function fail(kind: Kind, path: string, why: string): never {
  throw new GoModError(`invalid-${kind}-path`, `malformed ${kind} path ${JSON.stringify(path)}: ${why}`);
}

function hasLoneSurrogate(s: string): boolean {
  return /[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/.test(s);
}

function checkElem(elem: string, kind: Kind, path: string): void {
  if (elem === '') fail(kind, path, 'empty path element');
  if (/^\.+$/.test(elem)) fail(kind, path, `invalid path element ${JSON.stringify(elem)}`);
  if (elem[0] === '.' && kind === 'module') fail(kind, path, 'leading dot in path element');
  if (elem.endsWith('.')) fail(kind, path, 'trailing dot in path element');
  const ok = kind === 'module' ? modPathOK : kind === 'import' ? importPathOK : fileNameOK;
  for (const c of elem) if (!ok(c)) fail(kind, path, `invalid char ${JSON.stringify(c)}`);
  const dot = elem.indexOf('.');
  const short = dot >= 0 ? elem.slice(0, dot) : elem;
  if (BAD_WINDOWS.has(short.toUpperCase())) fail(kind, path, `${JSON.stringify(short)} disallowed as path element component on Windows`);
  if (kind === 'file') return;
  const tilde = short.lastIndexOf('~');
  if (tilde >= 0 && tilde < short.length - 1 && /^[0-9]+$/.test(short.slice(tilde + 1))) {
    fail(kind, path, 'trailing tilde and digits in path element');
  }
}

function checkPathKind(path: string, kind: Kind): void {
  if (hasLoneSurrogate(path)) fail(kind, path, 'invalid UTF-8');
  if (path === '') fail(kind, path, 'empty string');
  if (path[0] === '-' && kind !== 'file') fail(kind, path, 'leading dash');
  if (path.includes('//')) fail(kind, path, 'double slash');
  if (path.endsWith('/')) fail(kind, path, 'trailing slash');
  for (const elem of path.split('/')) checkElem(elem, kind, path);
}

export function checkPath(path: string): void {
  checkPathKind(path, 'module');
  const i = path.indexOf('/') < 0 ? path.length : path.indexOf('/');
  if (i === 0) fail('module', path, 'leading slash');
  const first = path.slice(0, i);
  if (!first.includes('.')) fail('module', path, 'missing dot in first path element');
  if (path[0] === '-') fail('module', path, 'leading dash in first path element');
  for (const c of first) if (!firstPathOK(c)) fail('module', path, `invalid char ${JSON.stringify(c)} in first path element`);
  if (!splitPathVersion(path)) fail('module', path, 'invalid version');
}

export function checkImportPath(path: string): void {
  checkPathKind(path, 'import');
}

export function checkFilePath(path: string): void {
  checkPathKind(path, 'file');
}

/** Internal elem check for version strings, as module.EscapeVersion does. */
export function checkVersionElem(v: string): void {
  checkElem(v, 'file', v);
}

/** Splits a trailing /vN (or gopkg.in .vN) major suffix; null when the suffix is malformed. */
export function splitPathVersion(path: string): { prefix: string; pathMajor: string } | null {
  if (path.startsWith('gopkg.in/')) return splitGopkgIn(path);
  let i = path.length;
  let dot = false;
  while (i > 0 && /[0-9.]/.test(path[i - 1])) {
    if (path[i - 1] === '.') dot = true;
    i--;
  }
  if (i <= 1 || i === path.length || path[i - 1] !== 'v' || path[i - 2] !== '/') return { prefix: path, pathMajor: '' };
  const prefix = path.slice(0, i - 2);
  const pathMajor = path.slice(i - 2);
  if (dot || pathMajor.length <= 2 || pathMajor[2] === '0' || pathMajor === '/v1') return null;
  return { prefix, pathMajor };
}

function splitGopkgIn(path: string): { prefix: string; pathMajor: string } | null {
  let i = path.length;
  if (path.endsWith('-unstable')) i -= '-unstable'.length;
  while (i > 0 && /[0-9]/.test(path[i - 1])) i--;
  if (i <= 1 || path[i - 1] !== 'v' || path[i - 2] !== '.') return null;
  const prefix = path.slice(0, i - 2);
  const pathMajor = path.slice(i - 2);
  if (pathMajor.length <= 2 || (pathMajor[2] === '0' && pathMajor !== '.v0')) return null;
  return { prefix, pathMajor };
}

export function checkPathMajor(v: string, pathMajor: string): void {
  let pm = pathMajor;
  if (pm.startsWith('.v') && pm.endsWith('-unstable')) pm = pm.slice(0, -'-unstable'.length);
  if (v.startsWith('v0.0.0-') && pm === '.v1') return;
  const m = major(v);
  let want: string;
  if (pm === '') {
    if (m === 'v0' || m === 'v1' || build(v) === '+incompatible') return;
    want = 'v0 or v1';
  } else {
    if (m === pm.slice(1)) return;
    want = pm.slice(1);
  }
  throw new GoModError('version-major-mismatch', `version ${v}: should be ${want}, not ${m}`);
}

/** module.CanonicalVersion: canonical semver, keeping +incompatible. */
export function canonicalVersion(v: string): string {
  const c = canonical(v);
  return c && build(v) === '+incompatible' ? c + '+incompatible' : c;
}

/**
 * A module version as it may appear in the module cache: valid path, canonical version,
 * major version matching the path, +incompatible only where Go allows it.
 */
export function checkModuleVersion(path: string, version: string): void {
  checkPath(path);
  if (!isValid(version)) throw new GoModError('version-invalid', `${path}@${version}: not a semantic version`);
  if (canonicalVersion(version) !== version) {
    throw new GoModError('version-not-canonical', `${path}@${version}: not a canonical version (want ${canonicalVersion(version)})`);
  }
  const split = splitPathVersion(path)!;
  if (build(version) === '+incompatible') {
    if (split.pathMajor !== '' ) throw new GoModError('version-incompatible', `${path}@${version}: +incompatible with a major version suffix`);
    const m = major(version);
    if (m === 'v0' || m === 'v1') throw new GoModError('version-incompatible', `${path}@${version}: +incompatible needs major version 2 or above`);
  }
  checkPathMajor(version, split.pathMajor);
}
