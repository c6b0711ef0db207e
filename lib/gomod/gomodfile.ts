// Which module a go.mod declares and which versions it requires, read line by line without
// the full parser (as modfile.ModulePath does), so it works on go.mod files that newer Go
// versions wrote.
import { checkModuleVersion } from './modpath.js';

// unicode.IsSpace, which bytes.TrimSpace uses (JS trim() would also strip U+FEFF).
const GO_SPACE = '\t\n\v\f\r \u0085\u00a0\u1680\u2000\u2001\u2002\u2003\u2004\u2005\u2006\u2007\u2008\u2009\u200a\u2028\u2029\u202f\u205f\u3000';

function trimSpace(s: string): string {
  let i = 0;
  let j = s.length;
  while (i < j && GO_SPACE.includes(s[i])) i++;
  while (j > i && GO_SPACE.includes(s[j - 1])) j--;
  return s.slice(i, j);
}

const SIMPLE_ESCAPES: Record<string, string> = { a: '\x07', b: '\b', f: '\f', n: '\n', r: '\r', t: '\t', v: '\v', '\\': '\\', '"': '"' };

/** strconv.Unquote for "…" and `…` literals; null where Go reports an error. */
export function goUnquote(s: string): string | null {
  if (s.length < 2 || s[s.length - 1] !== s[0]) return null;
  const body = s.slice(1, -1);
  if (s[0] === '`') return body.includes('`') ? null : body.replace(/\r/g, '');
  if (s[0] !== '"') return null;
  const bytes: number[] = [];
  const pushText = (t: string): void => {
    for (const b of Buffer.from(t, 'utf8')) bytes.push(b);
  };
  for (let i = 0; i < body.length; ) {
    const c = body[i];
    if (c === '"' || c === '\n') return null;
    if (c !== '\\') {
      const cp = body.codePointAt(i)!;
      const ch = String.fromCodePoint(cp);
      pushText(ch);
      i += ch.length;
      continue;
    }
    const e = body[i + 1];
    if (e === undefined) return null;
    if (e in SIMPLE_ESCAPES) {
      pushText(SIMPLE_ESCAPES[e]);
      i += 2;
    } else if (e === 'x' || e === 'u' || e === 'U') {
      const n = e === 'x' ? 2 : e === 'u' ? 4 : 8;
      const hex = body.slice(i + 2, i + 2 + n);
      if (!new RegExp(`^[0-9A-Fa-f]{${n}}$`).test(hex)) return null;
      const v = parseInt(hex, 16);
      if (e === 'x') bytes.push(v); // a raw byte, which may leave the result not UTF-8
      else if (v > 0x10ffff || (v >= 0xd800 && v <= 0xdfff)) return null;
      else pushText(String.fromCodePoint(v));
      i += 2 + n;
    } else if (e >= '0' && e <= '7') {
      const oct = body.slice(i + 1, i + 4);
      if (!/^[0-7]{3}$/.test(oct) || parseInt(oct, 8) > 255) return null;
      bytes.push(parseInt(oct, 8));
      i += 4;
    } else {
      return null; // includes \' which Go allows only in rune literals
    }
  }
  return Buffer.from(bytes).toString('utf8');
}

/** Each line of a go.mod without its "//" comment. */
function codeLines(content: Buffer | string): string[] {
  const text = typeof content === 'string' ? content : content.toString('utf8');
  return text.split('\n').map((raw) => {
    const cut = raw.indexOf('//');
    return cut >= 0 ? raw.slice(0, cut) : raw;
  });
}

/**
 * The module path from the first `module` directive: comments after "//" ignored, quoted
 * ("…" or `…`) paths unquoted, null when there is none or it is malformed. A "module (" block
 * gives null: ModulePath would return "(", and the full parser's one-line block is not worth
 * following here.
 */
export function moduleLine(content: Buffer | string): string | null {
  for (const code of codeLines(content)) {
    let line = trimSpace(code);
    if (!line.startsWith('module')) continue;
    line = line.slice('module'.length);
    const n = line.length;
    line = trimSpace(line);
    // "modulefoo" is not a module directive, and neither is a bare "module"
    if (line.length === n || line.length === 0) continue;
    if (line[0] === '"' || line[0] === '`') return goUnquote(line);
    if (line === '(') return null;
    return line;
  }
  return null;
}

/**
 * Whether the go command prunes the module graph at this go.mod: from `go 1.17` on, the
 * requirements of a dependency reached only through such modules are not loaded. Without a
 * readable `go` line a go.mod is unpruned, as the go command takes it.
 */
export function prunesGraph(content: Buffer | string): boolean {
  for (const code of codeLines(content)) {
    const words = code.split(/\s+/).filter(Boolean);
    if (words.length !== 2 || words[0] !== 'go') continue;
    const m = /^(\d+)\.(\d+)/.exec(words[1]);
    if (!m) return false;
    return Number(m[1]) > 1 || (Number(m[1]) === 1 && Number(m[2]) >= 17);
  }
  return false;
}

export interface Requirement {
  path: string;
  version: string;
}

/**
 * The module versions a go.mod requires, from `require` lines and blocks, in file order and
 * without repeats. A hint for fetching ahead, not a parser the go command would agree with
 * on every input: lines it cannot read as a valid path and canonical version are skipped,
 * and `replace` and `exclude` (which the go command ignores outside the main module) too.
 */
export function requirements(content: Buffer | string, max = 1000): Requirement[] {
  const out: Requirement[] = [];
  const seen = new Set<string>();
  let block: string | null = null;
  for (const code of codeLines(content)) {
    // The go.mod lexer makes each parenthesis a token of its own: "require(" opens a block too.
    const words = code.replace(/[()]/g, ' $& ').split(/\s+/).filter(Boolean);
    if (words.length === 0) continue;
    let entry: string[];
    if (block !== null) {
      if (words[0] === ')') {
        block = null;
        continue;
      }
      if (block !== 'require') continue;
      entry = words;
    } else if (words.length === 2 && words[1] === '(') {
      block = words[0];
      continue;
    } else if (words[0] === 'require') {
      entry = words.slice(1);
    } else continue;
    if (entry.length !== 2) continue;
    const path = entry[0][0] === '"' || entry[0][0] === '`' ? goUnquote(entry[0]) : entry[0];
    const version = entry[1];
    if (path === null || seen.has(path + '@' + version)) continue;
    try {
      checkModuleVersion(path, version);
    } catch {
      continue;
    }
    seen.add(path + '@' + version);
    out.push({ path, version });
    if (out.length >= max) break;
  }
  return out;
}
