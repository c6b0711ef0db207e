// GOPROXY lists and GOPRIVATE-style glob lists, as the go command reads them.
import { GoModError } from './errors.js';

export type ProxyEntry =
  | { kind: 'url'; url: string; fallThroughOnAnyError: boolean }
  | { kind: 'off' }
  | { kind: 'direct'; fallThroughOnAnyError: boolean };

export function parseGoProxy(value: string, defaultValue?: string): ProxyEntry[] {
  let v = value.trim();
  if (!v && defaultValue) v = defaultValue;
  const out: ProxyEntry[] = [];
  let i = 0;
  while (i < v.length) {
    let j = i;
    while (j < v.length && v[j] !== ',' && v[j] !== '|') j++;
    const item = v.slice(i, j).trim();
    const anyError = v[j] === '|';
    i = j + 1;
    if (!item) continue;
    if (item === 'off') out.push({ kind: 'off' });
    else if (item === 'direct' || item === 'noproxy') out.push({ kind: 'direct', fallThroughOnAnyError: anyError });
    else {
      let url = item;
      if (!/^[a-z][a-z0-9+.-]*:\/\//i.test(url)) {
        if (/^[a-z]:/i.test(url)) throw new GoModError('goproxy-invalid', `invalid proxy URL ${JSON.stringify(item)}`);
        url = 'https://' + url;
      }
      try {
        new URL(url);
      } catch {
        throw new GoModError('goproxy-invalid', `invalid proxy URL ${JSON.stringify(item)}`);
      }
      out.push({ kind: 'url', url: url.replace(/\/+$/, ''), fallThroughOnAnyError: anyError });
    }
  }
  if (out.length === 0) throw new GoModError('goproxy-empty', 'GOPROXY list is empty');
  return out;
}

/** path.Match for one glob against one string (no separators cross a '*'). */
function globMatch(glob: string, s: string): boolean {
  let re = '^';
  for (let i = 0; i < glob.length; i++) {
    const c = glob[i];
    if (c === '*') re += '[^/]*';
    else if (c === '?') re += '[^/]';
    else if (c === '[') {
      const end = glob.indexOf(']', i + 1);
      if (end < 0) return false;
      let cls = glob.slice(i + 1, end);
      if (cls.startsWith('^')) cls = '^' + cls.slice(1);
      re += `[${cls.replace(/\\/g, '\\\\')}]`;
      i = end;
    } else if (c === '\\' && i + 1 < glob.length) {
      re += glob[++i].replace(/[.*+?^${}()|[\]\\/]/g, '\\$&');
    } else re += c.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&');
  }
  try {
    return new RegExp(re + '$').test(s);
  } catch {
    return false;
  }
}

export function matchPrefixPatterns(globs: string, target: string): boolean {
  for (let glob of globs.split(',')) {
    glob = glob.replace(/\/$/, '');
    if (!glob) continue;
    let n = (glob.match(/\//g) ?? []).length;
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
    if (globMatch(glob, prefix)) return true;
  }
  return false;
}
