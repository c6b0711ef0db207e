// Case-encoding of module paths and versions for file names: every capital becomes '!'
// plus its lower-case letter, so case-insensitive file systems cannot confuse two modules.
import { GoModError } from './errors.js';
import { checkPath, checkVersionElem } from './modpath.js';

function escapeString(s: string): string {
  return s.replace(/[A-Z]/g, (c) => '!' + c.toLowerCase());
}

function unescapeString(escaped: string): string | null {
  let out = '';
  let bang = false;
  for (const c of escaped) {
    if (c.charCodeAt(0) >= 0x80) return null;
    if (bang) {
      bang = false;
      if (c < 'a' || c > 'z') return null;
      out += c.toUpperCase();
      continue;
    }
    if (c === '!') {
      bang = true;
      continue;
    }
    if (c >= 'A' && c <= 'Z') return null;
    out += c;
  }
  return bang ? null : out;
}

export function escapePath(path: string): string {
  checkPath(path);
  return escapeString(path);
}

export function escapeVersion(v: string): string {
  try {
    checkVersionElem(v);
  } catch {
    throw new GoModError('version-disallowed', `disallowed version string ${JSON.stringify(v)}`);
  }
  if (v.includes('!') || /[^\x00-\x7f]/.test(v)) throw new GoModError('version-disallowed', `disallowed version string ${JSON.stringify(v)}`);
  return escapeString(v);
}

export function unescapePath(escaped: string): string {
  const path = unescapeString(escaped);
  if (path === null) throw new GoModError('escape-invalid', `invalid escaped module path ${JSON.stringify(escaped)}`);
  try {
    checkPath(path);
  } catch (e) {
    throw new GoModError('escape-invalid', `invalid escaped module path ${JSON.stringify(escaped)}: ${(e as Error).message}`);
  }
  return path;
}

export function unescapeVersion(escaped: string): string {
  const v = unescapeString(escaped);
  if (v === null) throw new GoModError('escape-invalid', `invalid escaped version ${JSON.stringify(escaped)}`);
  try {
    checkVersionElem(v);
  } catch (e) {
    throw new GoModError('escape-invalid', `invalid escaped version ${JSON.stringify(v)}: ${(e as Error).message}`);
  }
  return v;
}
