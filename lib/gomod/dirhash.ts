// The "h1:" hash of dirhash.Hash1: a sha256 over one summary line per file.
import { createHash } from 'node:crypto';
import { GoModError } from './errors.js';

export function hash1(files: Array<{ name: string; sha256: Buffer }>): string {
  const sorted = files
    .map((f) => ({ key: Buffer.from(f.name, 'utf8'), f }))
    .sort((a, b) => Buffer.compare(a.key, b.key));
  const h = createHash('sha256');
  for (const { f } of sorted) {
    if (f.name.includes('\n')) throw new GoModError('hash-newline', `file name with newline: ${JSON.stringify(f.name)}`);
    h.update(`${f.sha256.toString('hex')}  ${f.name}\n`);
  }
  return 'h1:' + h.digest('base64');
}

export function hashGoMod(content: Buffer): string {
  return hash1([{ name: 'go.mod', sha256: createHash('sha256').update(content).digest() }]);
}
