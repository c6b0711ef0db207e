// The mount's namespace, pure: what a path names, decided from the path alone. Paths the
// go command would never produce are rejected here, before any store or upstream work.
import { unescapePath, unescapeVersion } from '../gomod/escape.js';
import { checkModuleVersion } from '../gomod/modpath.js';
import { LRUCache } from 'lru-cache';

export type VersionFileExt = 'mod' | 'info' | 'zip' | 'ziphash';

export type Node =
  | { kind: 'root' }
  | { kind: 'cache' }
  /** cache/download/<prefix…> — a module path prefix (possibly a whole module) */
  | { kind: 'download-prefix'; escaped: string }
  /** cache/download/<e>/@v */
  | { kind: 'version-dir'; module: string; escaped: string }
  | { kind: 'list'; module: string; escaped: string }
  | { kind: 'version-file'; module: string; version: string; ext: VersionFileExt }
  /** <prefix…> at the root, above `<e>@<ev>` directories */
  | { kind: 'module-prefix'; escaped: string }
  /** <e>@<ev>/<rel>, rel '' for the version's root directory */
  | { kind: 'module-entry'; module: string; version: string; rel: string };

export type Rejection = { kind: 'reject'; reason: string };

const NAME_MAX = 255;
const PATH_MAX = 4096;

// Files the go command creates while downloading: absent here, always.
function isTransientName(name: string): boolean {
  return name.endsWith('.lock') || name.endsWith('.partial') || name.endsWith('.tmp');
}

// Every lookup and read under a version repeats the same module and version checks, and
// those allocate heavily (a cold build's lookups spent most of their garbage here); the
// answers depend on the string alone, so they are remembered. `false` marks a rejection.
const checked = new LRUCache<string, string | false>({ max: 4096 });

function remembered(key: string, compute: () => string): string | null {
  let r = checked.get(key);
  if (r === undefined) {
    try {
      r = compute();
    } catch {
      r = false;
    }
    checked.set(key, r);
  }
  return r === false ? null : r;
}

function moduleFromEscaped(escaped: string): string | null {
  return remembered('m' + escaped, () => unescapePath(escaped));
}

/** A valid prefix of an escaped module path: its unescaped form passes the module path checks. */
function validPrefix(parts: string[]): boolean {
  return moduleFromEscaped(parts.join('/')) !== null;
}

function versionFrom(module: string, escapedVersion: string): string | null {
  return remembered(`v${module}@${escapedVersion}`, () => {
    const v = unescapeVersion(escapedVersion);
    checkModuleVersion(module, v);
    return v;
  });
}

export function resolvePath(p: string): Node | Rejection {
  const reject = (reason: string): Rejection => ({ kind: 'reject', reason });
  if (p.length >= PATH_MAX) return reject('path too long');
  if (p === '/' || p === '') return { kind: 'root' };
  const parts = p.replace(/^\/+/, '').split('/');
  for (const c of parts) {
    if (c === '' || c === '.' || c === '..') return reject('not a clean path');
    if (Buffer.byteLength(c) > NAME_MAX) return reject('name too long');
    if (c.includes('\0')) return reject('NUL in name');
  }
  const last = parts[parts.length - 1];

  if (parts[0] === 'cache') {
    if (parts.length === 1) return { kind: 'cache' };
    if (parts[1] !== 'download') return reject('only cache/download exists');
    const rest = parts.slice(2);
    if (rest.length === 0) return { kind: 'download-prefix', escaped: '' };
    const at = rest.indexOf('@v');
    if (at < 0) {
      if (isTransientName(last)) return reject('transient file');
      return validPrefix(rest) ? { kind: 'download-prefix', escaped: rest.join('/') } : reject('not a module path prefix');
    }
    const escaped = rest.slice(0, at).join('/');
    const module = at > 0 ? moduleFromEscaped(escaped) : null;
    if (!module) return reject('invalid module path');
    const after = rest.slice(at + 1);
    if (after.length === 0) return { kind: 'version-dir', module, escaped };
    if (after.length > 1) return reject('nothing below @v/<file>');
    const name = after[0];
    if (name === 'list') return { kind: 'list', module, escaped };
    const m = /^(.+)\.(mod|info|zip|ziphash)$/.exec(name);
    if (!m) return reject('not a version file');
    const version = versionFrom(module, m[1]);
    if (!version) return reject('invalid or non-canonical version');
    return { kind: 'version-file', module, version, ext: m[2] as VersionFileExt };
  }

  const at = parts.findIndex((c) => c.includes('@'));
  if (at < 0) {
    if (isTransientName(last)) return reject('transient file');
    return validPrefix(parts) ? { kind: 'module-prefix', escaped: parts.join('/') } : reject('not a module path prefix');
  }
  const elem = parts[at];
  const sep = elem.indexOf('@');
  if (isTransientName(elem)) return reject('transient file');
  const module = moduleFromEscaped([...parts.slice(0, at), elem.slice(0, sep)].join('/'));
  if (!module) return reject('invalid module path');
  const version = versionFrom(module, elem.slice(sep + 1));
  if (!version) return reject('invalid or non-canonical version');
  return { kind: 'module-entry', module, version, rel: parts.slice(at + 1).join('/') };
}
