// Refs as git keeps them (a loose file per ref, taking over packed-refs), written with git's
// own lock protocol so that git and other modfs processes can share the repository; no
// process is started per ref.
import { promises as fsp } from 'node:fs';
import path from 'node:path';

const HEX40 = /^[0-9a-f]{40}$/;
// A lock this old belongs to a writer that died between creating and renaming it.
const STALE_LOCK_MS = 60_000;

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** The object a ref names, or null when there is no such ref. */
export async function readRef(gitDir: string, ref: string): Promise<string | null> {
  try {
    const text = (await fsp.readFile(path.join(gitDir, ref), 'latin1')).trim();
    if (HEX40.test(text)) return text;
    throw new Error(`store: ref ${ref} holds ${JSON.stringify(text.slice(0, 60))}, not an object id`);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code !== 'ENOENT' && code !== 'ENOTDIR') throw e;
  }
  return (await readPackedRefs(gitDir)).get(ref) ?? null;
}

/** packed-refs: `<id> <ref>` lines; `#` headers and `^` peeled lines are not refs. */
export async function readPackedRefs(gitDir: string): Promise<Map<string, string>> {
  const out = new Map<string, string>();
  let text: string;
  try {
    text = await fsp.readFile(path.join(gitDir, 'packed-refs'), 'utf8');
  } catch {
    return out;
  }
  for (const line of text.split('\n')) {
    if (line.length < 42 || line[40] !== ' ' || !HEX40.test(line.slice(0, 40))) continue;
    out.set(line.slice(41), line.slice(0, 40));
  }
  return out;
}

/**
 * Points `ref` at `id`: `<ref>.lock` is created exclusively, written and renamed over the
 * ref, as git does. A writer holding the lock that writes the same id counts as success.
 */
export async function writeRef(gitDir: string, ref: string, id: string): Promise<void> {
  if (!HEX40.test(id)) throw new Error(`store: cannot point ${ref} at ${JSON.stringify(id)}`);
  const file = path.join(gitDir, ref);
  const lock = file + '.lock';
  await fsp.mkdir(path.dirname(file), { recursive: true });
  for (let attempt = 0; ; attempt++) {
    let fh: fsp.FileHandle;
    try {
      fh = await fsp.open(lock, 'wx', 0o644);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw new Error(`store: cannot lock ${ref}: ${(e as Error).message}`);
      if ((await readRef(gitDir, ref).catch(() => null)) === id) return;
      const st = await fsp.stat(lock).catch(() => null);
      if (st && Date.now() - st.mtimeMs > STALE_LOCK_MS) await fsp.rm(lock, { force: true });
      else if (attempt >= 100) throw new Error(`store: ${ref} stays locked by another writer (${lock})`);
      else await sleep(5 + Math.random() * 20);
      continue;
    }
    try {
      await fh.writeFile(id + '\n');
      await fh.close();
      await fsp.rename(lock, file);
      return;
    } catch (e) {
      await fh.close().catch(() => undefined);
      await fsp.rm(lock, { force: true });
      throw new Error(`store: cannot write ${ref}: ${(e as Error).message}`);
    }
  }
}
