// Module, import and file path rules of golang.org/x/mod/module (Go 1.19 vendored copy).
import { GoModError } from './errors.js';
import { build, canonical, isValid, major } from './semver.js';

type Kind = 'module' | 'import' | 'file';

// Without the `u` flag, /i only folds ASCII letters, which is exactly what strings.EqualFold
// does for these names (no non-ASCII rune folds to any of their letters).
const BAD_WINDOWS_NAME = /^(?:CON|PRN|AUX|NUL|COM[1-9]|LPT[1-9])$/i;

// Characters are tested per code point; every set below except fileNameOK's letters is ASCII.
// ASCII sets as lookup tables: file paths are checked per character, thousands per zip.
function asciiSet(chars: RegExp): Uint8Array {
  const t = new Uint8Array(128);
  for (let i = 0; i < 128; i++) t[i] = chars.test(String.fromCharCode(i)) ? 1 : 0;
  return t;
}
const MOD_PATH_CHARS = asciiSet(/^[-._~0-9A-Za-z]$/);
const FILE_NAME_CHARS = asciiSet(/^[0-9A-Za-z!#$%&()+,\-.=@[\]^_{}~ ]$/);
const inSet = (t: Uint8Array, c: string): boolean => {
  const code = c.charCodeAt(0);
  return code < 0x80 && c.length === 1 && t[code] === 1;
};
const modPathOK = (c: string): boolean => inSet(MOD_PATH_CHARS, c);
const importPathOK = (c: string): boolean => modPathOK(c) || c === '+';
// unicode.IsLetter is category L; Node's Unicode tables are newer than Go 1.19's (13.0), so a
// letter added to Unicode since then is accepted here and rejected by Go.
const fileNameOK = (c: string): boolean => (c.charCodeAt(0) < 0x80 ? inSet(FILE_NAME_CHARS, c) : /^\p{L}$/u.test(c));
const firstPathOK = (c: string): boolean => /^[-.0-9a-z]$/.test(c);

function fail(kind: Kind, path: string, why: string): never {
  throw new GoModError(`invalid-${kind}-path`, `malformed ${kind} path ${JSON.stringify(path)}: ${why}`);
}

/** A JS string holds valid UTF-8 exactly when it has no unpaired surrogate. */
export function isWellFormedUTF16(s: string): boolean {
  return !/[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/.test(s);
}

/** module.checkElem: returns the reason an element is bad, or null. */
function elemError(elem: string, kind: Kind): string | null {
  if (elem === '') return 'empty path element';
  if (/^\.+$/.test(elem)) return `invalid path element ${JSON.stringify(elem)}`;
  if (elem[0] === '.' && kind === 'module') return 'leading dot in path element';
  if (elem.endsWith('.')) return 'trailing dot in path element';
  const ok = kind === 'module' ? modPathOK : kind === 'import' ? importPathOK : fileNameOK;
  for (const c of elem) if (!ok(c)) return `invalid char ${JSON.stringify(c)}`;
  const dot = elem.indexOf('.');
  const short = dot >= 0 ? elem.slice(0, dot) : elem;
  if (BAD_WINDOWS_NAME.test(short)) return `${JSON.stringify(short)} disallowed as path element component on Windows`;
  if (kind === 'file') return null;
  // Windows 8.3 short names look like PROGRA~1; a module element must not be mistaken for one.
  const tilde = short.lastIndexOf('~');
  if (tilde >= 0 && tilde < short.length - 1 && /^[0-9]+$/.test(short.slice(tilde + 1))) {
    return 'trailing tilde and digits in path element';
  }
  return null;
}

function checkPathKind(path: string, kind: Kind): void {
  if (!isWellFormedUTF16(path)) fail(kind, path, 'invalid UTF-8');
  if (path === '') fail(kind, path, 'empty string');
  if (path[0] === '-' && kind !== 'file') fail(kind, path, 'leading dash');
  if (path.includes('//')) fail(kind, path, 'double slash');
  if (path.endsWith('/')) fail(kind, path, 'trailing slash');
  for (const elem of path.split('/')) {
    const why = elemError(elem, kind);
    if (why !== null) fail(kind, path, why);
  }
}

/** module.CheckPath: a module path (lower-case host-like first element with a dot, valid /vN suffix). */
export function checkPath(path: string): void {
  checkPathKind(path, 'module');
  const slash = path.indexOf('/');
  const i = slash < 0 ? path.length : slash;
  if (i === 0) fail('module', path, 'leading slash');
  const first = path.slice(0, i);
  if (!first.includes('.')) fail('module', path, 'missing dot in first path element');
  for (const c of first) if (!firstPathOK(c)) fail('module', path, `invalid char ${JSON.stringify(c)} in first path element`);
  if (!splitPathVersion(path)) fail('module', path, 'invalid version');
}

/** module.CheckImportPath: like a module path but '+' allowed, no first-element or /vN rules. */
export function checkImportPath(path: string): void {
  checkPathKind(path, 'import');
}

/** module.CheckFilePath: a slash-separated file path inside a module zip. */
export function checkFilePath(path: string): void {
  checkPathKind(path, 'file');
}

/** Why `v` fails module.checkElem in file-path mode (what EscapeVersion requires of a version), or null. */
export function versionElemError(v: string): string | null {
  if (!isWellFormedUTF16(v)) return 'invalid UTF-8';
  return elemError(v, 'file');
}

/**
 * module.SplitPathVersion: splits a trailing "/vN" (or gopkg.in ".vN[-unstable]") major
 * suffix off a module path; null where Go reports ok=false (e.g. "/v1", "/v0", "/v01", "/v2.1").
 */
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

// gopkg.in paths always carry their major version (".v0" is allowed there, unlike "/v0").
function splitGopkgIn(path: string): { prefix: string; pathMajor: string } | null {
  let i = path.length;
  if (path.endsWith('-unstable')) i -= '-unstable'.length;
  while (i > 0 && path[i - 1] >= '0' && path[i - 1] <= '9') i--;
  if (i <= 1 || path[i - 1] !== 'v' || path[i - 2] !== '.') return null;
  const prefix = path.slice(0, i - 2);
  const pathMajor = path.slice(i - 2);
  if (pathMajor.length <= 2 || (pathMajor[2] === '0' && pathMajor !== '.v0')) return null;
  return { prefix, pathMajor };
}

/** module.CheckPathMajor: does version `v` belong to a path with major suffix `pathMajor`? */
export function checkPathMajor(v: string, pathMajor: string): void {
  let pm = pathMajor;
  if (pm.startsWith('.v') && pm.endsWith('-unstable')) pm = pm.slice(0, -'-unstable'.length);
  // gopkg.in/x.v1 predates modules; Go lets its pseudo-versions keep the v0.0.0 base.
  if (v.startsWith('v0.0.0-') && pm === '.v1') return;
  const m = major(v);
  let want = pm;
  if (pm === '') {
    if (m === 'v0' || m === 'v1' || build(v) === '+incompatible') return;
    want = 'v0 or v1';
  } else if (pm[0] === '/' || pm[0] === '.') {
    if (m === pm.slice(1)) return;
    want = pm.slice(1);
  }
  throw new GoModError('version-major-mismatch', `version ${JSON.stringify(v)} invalid: should be ${want}, not ${m}`);
}

/** module.CanonicalVersion: semver.Canonical, but keeping a "+incompatible" build suffix. */
export function canonicalVersion(v: string): string {
  const c = canonical(v);
  return build(v) === '+incompatible' ? c + '+incompatible' : c;
}

/**
 * A module version as the module cache may hold it: module.Check plus what cmd/go adds on top
 * (zip.CheckZip and the proxy code): the version is canonical, and "+incompatible" only marks
 * a v2+ version of a path without a major suffix (not gopkg.in, whose suffix is ".vN").
 */
export function checkModuleVersion(path: string, version: string): void {
  checkPath(path);
  if (!isValid(version)) throw new GoModError('version-invalid', `${path}@${version}: invalid version: not a semantic version`);
  const want = canonicalVersion(version);
  if (want !== version) {
    throw new GoModError('version-not-canonical', `${path}@${version}: version is not canonical (should be ${JSON.stringify(want)})`);
  }
  const { pathMajor } = splitPathVersion(path)!;
  if (build(version) === '+incompatible') {
    if (pathMajor !== '') {
      throw new GoModError('version-incompatible', `${path}@${version}: +incompatible suffix not allowed: module path includes a major version suffix`);
    }
    const m = major(version);
    if (m === 'v0' || m === 'v1') {
      throw new GoModError('version-incompatible', `${path}@${version}: +incompatible suffix not allowed: major version ${m} is compatible`);
    }
  }
  try {
    checkPathMajor(version, pathMajor);
  } catch (e) {
    throw new GoModError((e as GoModError).code, `${path}@${version}: ${(e as Error).message}`);
  }
}
