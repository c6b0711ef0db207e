// GOPROXY lists (cmd/go modfetch.proxyList) and GOPRIVATE-style glob lists
// (module.MatchPrefixPatterns), as Go 1.19 reads them.
import { GoModError } from './errors.js';

export type ProxyEntry =
  | { kind: 'url'; url: string; fallThroughOnAnyError: boolean }
  | { kind: 'off' }
  | { kind: 'direct'; fallThroughOnAnyError: boolean };

function proxyURL(item: string): string {
  let url = item;
  // Single words are reserved for built-in behaviours; anything with ":/" or an absolute path
  // must be a complete URL; everything else that looks like a host gets "https://".
  if (/[.:/]/.test(url) && !url.includes(':/') && !url.startsWith('/')) url = 'https://' + url;
  const m = /^([A-Za-z][A-Za-z0-9+.-]*):/.exec(url);
  if (!m) throw new GoModError('goproxy-invalid', `invalid proxy URL missing scheme: ${item}`);
  const scheme = m[1].toLowerCase();
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    throw new GoModError('goproxy-invalid', `invalid proxy URL: ${item}`);
  }
  if (scheme === 'file') {
    if (parsed.host !== '' || parsed.search !== '' || parsed.hash !== '' || parsed.username !== '') {
      throw new GoModError('goproxy-invalid', `invalid file:// proxy URL with non-path elements: ${item}`);
    }
  } else if (scheme !== 'http' && scheme !== 'https') {
    throw new GoModError('goproxy-invalid', `invalid proxy URL scheme (must be https, http, file): ${item}`);
  }
  // Trim trailing slashes from the path only: callers append "/<escaped module>/@v/…".
  const auth = /^[A-Za-z][A-Za-z0-9+.-]*:\/\//.exec(url);
  const keep = auth ? auth[0].length : m[0].length;
  return url.slice(0, keep) + url.slice(keep).replace(/\/+$/, '');
}

/**
 * Parses a GOPROXY value. Entries are separated by ',' (fall through to the next entry only
 * on 404/410) or '|' (fall through on any error); `fallThroughOnAnyError` describes the
 * separator after the entry. Empty entries are skipped; "off" and "direct" end the list, as
 * in Go (later entries are ignored). "noproxy" is read as "direct" (Go itself uses it only
 * internally and rejects it in GOPROXY). An empty value means `defaultValue`; a list that ends
 * up empty is an error.
 */
export function parseGoProxy(value: string, defaultValue?: string): ProxyEntry[] {
  let rest = value === '' ? (defaultValue ?? '') : value;
  const out: ProxyEntry[] = [];
  while (rest !== '') {
    const sep = rest.search(/[,|]/);
    let item: string;
    let anyError = false;
    if (sep >= 0) {
      item = rest.slice(0, sep);
      anyError = rest[sep] === '|';
      rest = rest.slice(sep + 1);
    } else {
      item = rest;
      rest = '';
    }
    item = item.trim();
    if (item === '') continue;
    if (item === 'off') {
      out.push({ kind: 'off' });
      break;
    }
    if (item === 'direct' || item === 'noproxy') {
      out.push({ kind: 'direct', fallThroughOnAnyError: anyError });
      break;
    }
    out.push({ kind: 'url', url: proxyURL(item), fallThroughOnAnyError: anyError });
  }
  if (out.length === 0) throw new GoModError('goproxy-empty', 'GOPROXY list is not the empty string, but contains no entries');
  return out;
}

// path.Match, ported over code points (Go works on bytes, which only differs for '?' or a
// class meeting invalid UTF-8). Returns null for a malformed pattern (path.ErrBadPattern).

function scanChunk(p: string[], i: number): { star: boolean; start: number; end: number } {
  let star = false;
  while (i < p.length && p[i] === '*') {
    i++;
    star = true;
  }
  const start = i;
  let inRange = false;
  for (; i < p.length; i++) {
    const c = p[i];
    if (c === '\\') {
      if (i + 1 < p.length) i++;
    } else if (c === '[') inRange = true;
    else if (c === ']') inRange = false;
    else if (c === '*' && !inRange) break;
  }
  return { star, start, end: i };
}

/** One range endpoint of a class; null for a malformed pattern. */
function getEsc(chunk: string[], i: number, end: number): { r: string; next: number } | null {
  if (i >= end || chunk[i] === '-' || chunk[i] === ']') return null;
  if (chunk[i] === '\\') {
    i++;
    if (i >= end) return null;
  }
  const r = chunk[i];
  if (/^[\ud800-\udfff]$/.test(r)) return null; // Go: invalid UTF-8 in the pattern
  i++;
  if (i >= end) return null;
  return { r, next: i };
}

/** Matches chunk[start,end) against a prefix of s[from..]; the index after it, -1 on mismatch, null on a bad pattern. */
function matchChunk(chunk: string[], start: number, end: number, s: string[], from: number): number | null {
  let failed = false;
  let k = from;
  let i = start;
  while (i < end) {
    if (!failed && k >= s.length) failed = true;
    const c = chunk[i];
    if (c === '[') {
      let r = -1;
      if (!failed) r = s[k++].codePointAt(0)!;
      i++;
      let negated = false;
      if (i < end && chunk[i] === '^') {
        negated = true;
        i++;
      }
      let match = false;
      let nrange = 0;
      for (;;) {
        if (i < end && chunk[i] === ']' && nrange > 0) {
          i++;
          break;
        }
        const lo = getEsc(chunk, i, end);
        if (!lo) return null;
        i = lo.next;
        let hi = lo.r;
        if (chunk[i] === '-') {
          const h = getEsc(chunk, i + 1, end);
          if (!h) return null;
          hi = h.r;
          i = h.next;
        }
        if (lo.r.codePointAt(0)! <= r && r <= hi.codePointAt(0)!) match = true;
        nrange++;
      }
      if (match === negated) failed = true;
    } else if (c === '?') {
      if (!failed) {
        if (s[k] === '/') failed = true;
        k++;
      }
      i++;
    } else {
      if (c === '\\') {
        i++;
        if (i >= end) return null;
      }
      if (!failed) {
        if (chunk[i] !== s[k]) failed = true;
        k++;
      }
      i++;
    }
  }
  return failed ? -1 : k;
}

/** path.Match(pattern, name); false for a malformed pattern, as callers of MatchPrefixPatterns see it. */
export function pathMatch(pattern: string, name: string): boolean {
  const p = [...pattern];
  const s = [...name];
  let pi = 0;
  let k = 0;
  pattern: while (pi < p.length) {
    const { star, start, end } = scanChunk(p, pi);
    pi = end;
    if (star && start === end) return !s.slice(k).includes('/');
    const t = matchChunk(p, start, end, s, k);
    if (t !== null && t >= 0 && (t === s.length || pi < p.length)) {
      k = t;
      continue;
    }
    if (t === null) return false;
    if (star) {
      for (let i = k; i < s.length && s[i] !== '/'; i++) {
        const t2 = matchChunk(p, start, end, s, i + 1);
        if (t2 === null) return false;
        if (t2 >= 0) {
          if (pi >= p.length && t2 < s.length) continue;
          k = t2;
          continue pattern;
        }
      }
    }
    // Go still validates the rest of the pattern before reporting no match.
    while (pi < p.length) {
      const c = scanChunk(p, pi);
      pi = c.end;
      if (matchChunk(p, c.start, c.end, [], 0) === null) return false;
    }
    return false;
  }
  return k === s.length;
}

/**
 * module.MatchPrefixPatterns: whether any comma-separated glob matches a leading part of
 * `target` with as many path elements as the glob has (GOPRIVATE, GONOPROXY, GONOSUMDB).
 */
export function matchPrefixPatterns(globs: string, target: string): boolean {
  for (let glob of globs.split(',')) {
    if (glob.endsWith('/')) glob = glob.slice(0, -1);
    if (glob === '') continue;
    let n = glob.split('/').length - 1;
    let prefix = target;
    for (let i = 0; i < target.length; i++) {
      if (target[i] === '/') {
        if (n === 0) {
          prefix = target.slice(0, i);
          break;
        }
        n--;
      }
    }
    if (n > 0) continue;
    if (pathMatch(glob, prefix)) return true;
  }
  return false;
}
