// Module zip rules (golang.org/x/mod/zip CheckZip, plus what zip.Create never writes:
// directory entries, symlinks, special files, encryption). Each violation has its own code.
import { GoModError } from './errors.js';
import { checkFilePath } from './modpath.js';

export const MAX_ZIP_FILE = 500 << 20;
export const MAX_GO_MOD = 16 << 20;
export const MAX_LICENSE = 16 << 20;

export interface ZipEntryMeta {
  name: string;
  /** raw name bytes, when known: lets invalid UTF-8 be told apart from a decoded name */
  nameBytes?: Buffer;
  isDir: boolean;
  isSymlink: boolean;
  isOtherSpecial: boolean;
  encrypted: boolean;
  compressedSize: number;
  uncompressedSize: number;
}

export function fileSizeLimit(path: string): number {
  return path === 'go.mod' || path === 'LICENSE' ? MAX_GO_MOD : MAX_ZIP_FILE;
}

// Simple case folding: good for ASCII and most scripts (Go folds by Unicode simple folding).
const fold = (s: string) => s.toUpperCase().toLowerCase();

function cleanPath(p: string): boolean {
  if (p.startsWith('/')) return false;
  return p.split('/').every((e) => e !== '' && e !== '.' && e !== '..');
}

const utf8 = new TextDecoder('utf-8', { fatal: true });

export function checkZipEntries(
  module: string,
  version: string,
  entries: ZipEntryMeta[],
): Array<{ name: string; path: string; size: number }> {
  const prefix = `${module}@${version}/`;
  const err = (code: string, name: string, why: string): never => {
    throw new GoModError(code, `${module}@${version}: zip entry ${JSON.stringify(name)}: ${why}`);
  };
  const seen = new Map<string, { path: string; isDir: boolean }>();
  const claim = (p: string, isDir: boolean, name: string): void => {
    const f = fold(p);
    const other = seen.get(f);
    if (other) {
      if (other.path !== p) err('zip-case-collision', name, `case-insensitive file name collision with ${JSON.stringify(other.path)}`);
      if (other.isDir !== isDir) err('zip-file-dir-conflict', name, `${JSON.stringify(p)} is both a file and a directory`);
      if (!isDir) err('zip-duplicate', name, 'multiple entries for this file');
      return;
    }
    seen.set(f, { path: p, isDir });
    const slash = p.lastIndexOf('/');
    if (slash > 0) claim(p.slice(0, slash), true, name);
  };

  const out: Array<{ name: string; path: string; size: number }> = [];
  let total = 0;
  let compressed = 0;
  for (const e of entries) {
    const name = e.name;
    if (e.nameBytes) {
      try {
        utf8.decode(e.nameBytes);
      } catch {
        err('zip-name-utf8', name, 'name is not valid UTF-8');
      }
    }
    if (name.includes('\0')) err('zip-name-nul', name, 'NUL in name');
    if (name.includes('\\')) err('zip-name-backslash', name, 'backslash in name');
    if (!name.startsWith(prefix)) err('zip-prefix', name, `does not start with ${JSON.stringify(prefix)}`);
    if (e.encrypted) err('zip-encrypted', name, 'encrypted entry');
    if (e.isDir) err('zip-directory-entry', name, 'directory entry (module zips list files only; it would change the h1 hash)');
    if (e.isSymlink) err('zip-symlink', name, 'symbolic link');
    if (e.isOtherSpecial) err('zip-special-file', name, 'not a regular file');
    const rel = name.slice(prefix.length);
    if (!cleanPath(rel)) err('zip-path-unclean', name, 'file path is not clean');
    try {
      checkFilePath(rel);
    } catch (x) {
      err('zip-path-invalid', name, (x as Error).message);
    }
    claim(rel, false, name);
    const base = rel.slice(rel.lastIndexOf('/') + 1);
    if (fold(base) === 'go.mod') {
      if (base !== rel) err('zip-gomod-not-root', name, 'go.mod file not in module root directory');
      if (rel !== 'go.mod') err('zip-gomod-case', name, 'go.mod file has wrong case');
    }
    const size = e.uncompressedSize;
    if (!Number.isSafeInteger(size) || size < 0) err('zip-size', name, 'invalid size');
    if (size > fileSizeLimit(rel)) err('zip-file-too-large', name, `${size} bytes is over the ${fileSizeLimit(rel)}-byte limit`);
    total += size;
    compressed += e.compressedSize;
    if (total > MAX_ZIP_FILE) err('zip-too-large', name, `total uncompressed size over ${MAX_ZIP_FILE} bytes`);
    if (compressed > MAX_ZIP_FILE) err('zip-too-large', name, `total compressed size over ${MAX_ZIP_FILE} bytes`);
    out.push({ name, path: rel, size });
  }
  return out;
}
