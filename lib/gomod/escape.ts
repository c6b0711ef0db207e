// Case-encoding of module paths and versions for file names (module.EscapePath and friends):
// every ASCII capital becomes '!' plus its lower-case letter, so that two modules differing only
// in case cannot collide on a case-insensitive file system.
import { GoModError } from './errors.js';
import { checkPath, versionElemError } from './modpath.js';

// Callers have already ruled out '!' and non-ASCII, so this cannot produce an ambiguous result.
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

/** module.EscapePath: checks `path` with checkPath, then escapes capitals. */
export function escapePath(path: string): string {
  checkPath(path);
  return escapeString(path);
}

/**
 * module.EscapeVersion: any string that is a valid file name element without '!' (it need not be
 * semver: "latest" or a branch name escape fine). Non-ASCII is rejected too, as Go's escapeString does.
 */
export function escapeVersion(v: string): string {
  if (versionElemError(v) !== null || v.includes('!') || /[^\x00-\x7f]/.test(v)) {
    throw new GoModError('version-disallowed', `version ${JSON.stringify(v)} invalid: disallowed version string`);
  }
  return escapeString(v);
}

/** module.UnescapePath: rejects '!' not followed by a-z, raw capitals, non-ASCII, and invalid paths. */
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

/** module.UnescapeVersion. */
export function unescapeVersion(escaped: string): string {
  const v = unescapeString(escaped);
  if (v === null) throw new GoModError('escape-invalid', `invalid escaped version ${JSON.stringify(escaped)}`);
  const why = versionElemError(v);
  if (why !== null) throw new GoModError('escape-invalid', `invalid escaped version ${JSON.stringify(v)}: ${why}`);
  return v;
}
