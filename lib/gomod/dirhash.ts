// The "h1:" hash of golang.org/x/mod/sumdb/dirhash.Hash1, as recorded in go.sum and .ziphash.
import { createHash } from 'node:crypto';
import { GoModError } from './errors.js';
import { sortByUtf8 } from '../util/utf8-order.js';

/**
 * Hash1 over files given by name and the sha256 of their content. Go sorts the names with
 * sort.Strings, i.e. by UTF-8 bytes; JS string order (UTF-16 code units) differs above U+FFFF.
 */
export function hash1(files: ReadonlyArray<{ name: string; sha256: Buffer }>): string {
  for (const f of files) {
    if (f.name.includes('\n')) throw new GoModError('hash-newline', `dirhash: file name with newline not supported: ${JSON.stringify(f.name)}`);
  }
  const sorted = sortByUtf8([...files], (f) => f.name);
  const h = createHash('sha256');
  for (const f of sorted) h.update(`${f.sha256.toString('hex')}  ${f.name}\n`);
  return 'h1:' + h.digest('base64');
}

/** The go.sum "/go.mod" hash: Hash1 over the single file "go.mod". */
export function hashGoMod(content: Buffer): string {
  return hash1([{ name: 'go.mod', sha256: createHash('sha256').update(content).digest() }]);
}
