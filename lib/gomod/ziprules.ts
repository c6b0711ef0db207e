// Module zip rules: golang.org/x/mod/zip CheckZip, made stricter where modfs needs it.
//
// Where this deliberately differs from CheckZip:
// - Directory entries (names ending in '/', or flagged isDir) are rejected. CheckZip skips them
//   and Unzip ignores them, but dirhash.HashZip hashes every entry, so the h1 of such a zip
//   differs from the h1 of its files. modfs keeps files only and rebuilds the zip from them, so
//   it could never serve the zip whose hash go.sum holds: fail clearly instead.
// - Symlinks, other special files and encrypted entries are rejected. CheckZip never looks at
//   modes (Unzip would write a symlink's target text as a regular file) and cannot read
//   encrypted entries; zip.Create never writes any of them.
// - Every violation throws (CheckZip collects a list): a size error first, as
//   CheckedFiles.Err() does, else the first invalid entry in zip order.
// - ".", ".." and absolute paths are reported as "unclean" (Go reports them through
//   CheckFilePath), and NUL and backslash get their own codes.
import { GoModError } from './errors.js';
import { checkFilePath, checkModuleVersion } from './modpath.js';

export const MAX_ZIP_FILE = 500 << 20;
export const MAX_GO_MOD = 16 << 20;
export const MAX_LICENSE = 16 << 20;

export interface ZipEntryMeta {
  /** the entry name as decoded by the caller; reported back unchanged in the result */
  name: string;
  /** raw name bytes, when known: lets a name that is not UTF-8 be rejected as Go does */
  nameBytes?: Buffer;
  isDir: boolean;
  isSymlink: boolean;
  isOtherSpecial: boolean;
  encrypted: boolean;
  compressedSize: number;
  uncompressedSize: number;
}

export interface ZipCheckOptions {
  /** size of the whole zip file; Go limits that, not the sum of compressed entry sizes */
  zipSize?: number;
}

export interface ZipFileKept {
  /** full entry name, "<module>@<version>/<path>" */
  name: string;
  /** path inside the module */
  path: string;
  size: number;
}

/** Size limit of one file, by its path inside the module. */
export function fileSizeLimit(path: string): number {
  return path === 'go.mod' ? MAX_GO_MOD : path === 'LICENSE' ? MAX_LICENSE : MAX_ZIP_FILE;
}

/**
 * Case-fold key for collision checks. Go maps each rune to the smallest rune of its
 * unicode.SimpleFold orbit; upper- then lower-casing one code point gives the same classes
 * for nearly every script (ß/ẞ, σ/ς/Σ, K/k/U+212A, ſ/s/S all agree). Multi-character results
 * (full case mappings such as ß → SS) are not simple folds, so they leave the code point alone,
 * and dotless ı (U+0131) must not join i/I, to which only Turkish rules fold it.
 */
export function foldName(s: string): string {
  // ASCII only (nearly every path): only A-Z fold.
  if (/^[\x00-\x7f]*$/.test(s)) return s.toLowerCase();
  let out = '';
  for (const c of s) {
    if (c < '\x80') {
      out += c >= 'A' && c <= 'Z' ? c.toLowerCase() : c;
      continue;
    }
    if (c === '\u0131') {
      out += c;
      continue;
    }
    const upper = c.toUpperCase();
    if ([...upper].length !== 1) {
      const lower = c.toLowerCase();
      out += [...lower].length === 1 ? lower : c;
      continue;
    }
    const lower = upper.toLowerCase();
    out += [...lower].length === 1 ? lower : upper;
  }
  return out;
}

/** path.Clean, lexically: the shortest equivalent slash path. */
export function cleanPath(p: string): string {
  if (p === '') return '.';
  const rooted = p[0] === '/';
  const out: string[] = [];
  let dotdot = 0; // leading ".." elements of a relative path cannot be removed
  for (const elem of p.split('/')) {
    if (elem === '' || elem === '.') continue;
    if (elem === '..') {
      if (out.length > dotdot) out.pop();
      else if (!rooted) {
        out.push('..');
        dotdot++;
      }
      continue;
    }
    out.push(elem);
  }
  const joined = out.join('/');
  if (rooted) return '/' + joined;
  return joined === '' ? '.' : joined;
}

const utf8 = new TextDecoder('utf-8', { fatal: true });

function isUTF8(b: Buffer): boolean {
  try {
    utf8.decode(b);
    return true;
  } catch {
    return false;
  }
}

/**
 * Checks the entries of a module zip for `module`@`version` (module path unescaped, version
 * as is) and returns the files to keep, in zip order. Throws GoModError with one code per rule:
 *   version-* / invalid-module-path  module path or version not valid for a module zip
 *   zip-compressed-too-large         zip file (or sum of compressed sizes) over 500 MiB
 *   zip-too-large                    total uncompressed size over 500 MiB
 *   zip-prefix                       name does not start with "<module>@<version>/"
 *                                    (zip-path-unclean instead when it is absolute, "/x", "\\x",
 *                                    "C:x", or starts with "..")
 *   zip-name-utf8                    name bytes are not UTF-8
 *   zip-directory-entry              directory entry (see top of file)
 *   zip-path-unclean                 not a clean relative path ("a//b", "./a", "../a", "/a")
 *   zip-name-nul / zip-name-backslash
 *   zip-path-invalid                 module.CheckFilePath rejects the path
 *   zip-case-collision               two paths equal under case folding
 *   zip-file-dir-conflict            a path used both as a file and as a directory
 *   zip-duplicate                    the same file twice
 *   zip-symlink / zip-special-file / zip-encrypted
 *   zip-gomod-not-root               go.mod in a subdirectory (a nested module; zip.Create leaves it out)
 *   zip-gomod-case                   root go.mod not spelled "go.mod"
 *   zip-file-too-large               root go.mod or LICENSE over 16 MiB
 */
export function checkZipEntries(
  module: string,
  version: string,
  entries: readonly ZipEntryMeta[],
  options: ZipCheckOptions = {},
): ZipFileKept[] {
  const mv = `${module}@${version}`;
  checkModuleVersion(module, version);

  const compressed = options.zipSize ?? entries.reduce((n, e) => n + e.compressedSize, 0);
  if (!(compressed <= MAX_ZIP_FILE)) {
    throw new GoModError('zip-compressed-too-large', `${mv}: module zip file is too large (${compressed} bytes; limit is ${MAX_ZIP_FILE} bytes)`);
  }

  const prefix = mv + '/';
  const invalid: Array<{ code: string; message: string }> = [];
  let sizeError: string | null = null;
  const bad = (code: string, name: string, why: string): void => {
    invalid.push({ code, message: `${mv}: zip entry ${JSON.stringify(name)}: ${why}` });
  };

  // key: folded path; value: the path as first seen and whether it was a directory
  const seen = new Map<string, { path: string; isDir: boolean }>();
  const collision = (p: string, isDir: boolean): [string, string] | null => {
    const key = foldName(p);
    const other = seen.get(key);
    // A directory already recorded had its parents checked then.
    if (other && isDir && other.isDir && other.path === p) return null;
    if (other) {
      if (other.path !== p) return ['zip-case-collision', `case-insensitive file name collision: ${JSON.stringify(other.path)} and ${JSON.stringify(p)}`];
      if (other.isDir !== isDir) return ['zip-file-dir-conflict', `entry ${JSON.stringify(p)} is both a file and a directory`];
      if (!isDir) return ['zip-duplicate', `multiple entries for file ${JSON.stringify(p)}`];
    } else {
      seen.set(key, { path: p, isDir });
    }
    const slash = p.lastIndexOf('/');
    return slash > 0 ? collision(p.slice(0, slash), true) : null;
  };

  const kept: ZipFileKept[] = [];
  let total = 0;
  for (const e of entries) {
    const name = e.name;
    if (!name.startsWith(prefix)) {
      // An absolute or escaping name lacks the prefix too; name the graver fault.
      if (/^(?:[/\\]|[A-Za-z]:)/.test(name)) bad('zip-path-unclean', name, 'absolute path');
      else if (/^\.\.(?:[/\\]|$)/.test(name)) bad('zip-path-unclean', name, 'path escapes the module root');
      else bad('zip-prefix', name, `path does not have prefix ${JSON.stringify(prefix)}`);
      continue;
    }
    if (e.nameBytes && !isUTF8(e.nameBytes)) {
      bad('zip-name-utf8', name, 'file name is not valid UTF-8');
      continue;
    }
    const rel = name.slice(prefix.length);
    if (e.isDir || rel === '' || rel.endsWith('/')) {
      bad('zip-directory-entry', name, 'directory entry (a module zip lists files only; with it the zip h1 would differ from the files\' h1)');
      continue;
    }
    if (cleanPath(rel) !== rel || rel[0] === '/' || rel === '.' || rel.split('/').includes('..')) {
      bad('zip-path-unclean', name, 'file path is not clean and relative');
      continue;
    }
    if (rel.includes('\0')) {
      bad('zip-name-nul', name, 'NUL in file name');
      continue;
    }
    if (rel.includes('\\')) {
      bad('zip-name-backslash', name, 'backslash in file name');
      continue;
    }
    try {
      checkFilePath(rel);
    } catch (x) {
      bad('zip-path-invalid', name, (x as Error).message);
      continue;
    }
    const clash = collision(rel, false);
    if (clash) {
      bad(clash[0], name, clash[1]);
      continue;
    }
    if (e.encrypted) {
      bad('zip-encrypted', name, 'encrypted entry');
      continue;
    }
    if (e.isSymlink) {
      bad('zip-symlink', name, 'file is a symbolic link');
      continue;
    }
    if (e.isOtherSpecial) {
      bad('zip-special-file', name, 'not a regular file');
      continue;
    }
    const base = rel.slice(rel.lastIndexOf('/') + 1);
    if (foldName(base) === 'go.mod') {
      if (base !== rel) {
        bad('zip-gomod-not-root', name, 'go.mod file not in module root directory');
        continue;
      }
      if (rel !== 'go.mod') {
        bad('zip-gomod-case', name, 'go.mod files must have lowercase names');
        continue;
      }
    }
    const size = e.uncompressedSize;
    if (Number.isSafeInteger(size) && size >= 0 && MAX_ZIP_FILE - total >= size) total += size;
    else sizeError ??= `${mv}: total uncompressed size of module contents too large (max size is ${MAX_ZIP_FILE} bytes)`;
    const limit = fileSizeLimit(rel);
    if (limit < MAX_ZIP_FILE && size > limit) {
      bad('zip-file-too-large', name, `${rel} file too large (max size is ${limit} bytes)`);
      continue;
    }
    kept.push({ name, path: rel, size });
  }

  if (sizeError !== null) throw new GoModError('zip-too-large', sizeError);
  if (invalid.length > 0) {
    const more = invalid.length > 1 ? ` (and ${invalid.length - 1} more invalid entries)` : '';
    throw new GoModError(invalid[0].code, invalid[0].message + more);
  }
  return kept;
}
