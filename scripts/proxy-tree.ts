// Writes module versions into a GOPROXY file tree: <e>/@v/{list,<v>.info,<v>.mod,<v>.zip}.
import { promises as fsp } from 'node:fs';
import path from 'node:path';
import yazl from 'yazl';
import { canonicalInfo, escapePath, escapeVersion, sortVersions } from '../lib/gomod/index.js';

export interface ModuleVersionFiles {
  module: string;
  version: string;
  time: Date;
  /** the .mod file served by the proxy */
  mod: Buffer;
  /** zip contents: path inside the module -> bytes, in any order */
  files: Map<string, Buffer>;
}

/**
 * yazl writes DOS timestamps in local time; shifting by the zone offset makes the stored
 * fields equal the UTC time, so the zip bytes do not depend on the builder's TZ.
 */
function dosTime(t: Date): Date {
  let d = new Date(t.getTime() + t.getTimezoneOffset() * 60000);
  d = new Date(t.getTime() + d.getTimezoneOffset() * 60000);
  return d;
}

const byteOrder = (a: string, b: string) => Buffer.compare(Buffer.from(a), Buffer.from(b));

/** A deterministic module zip: sorted names, one fixed mtime, deflate, no directory entries. */
export async function zipBytes(module: string, version: string, files: Map<string, Buffer>, mtime: Date): Promise<Buffer> {
  const zip = new yazl.ZipFile();
  const when = dosTime(mtime);
  for (const name of [...files.keys()].sort(byteOrder)) {
    zip.addBuffer(files.get(name)!, `${module}@${version}/${name}`, {
      mtime: when,
      mode: 0o100644,
      compress: true,
      forceDosTimestamp: true,
    });
  }
  zip.end();
  const chunks: Buffer[] = [];
  for await (const c of zip.outputStream as AsyncIterable<Buffer>) chunks.push(c);
  return Buffer.concat(chunks);
}

/** Writes .zip, .mod, .info and adds the version to list. Returns the zip's size. */
export async function writeModuleVersion(root: string, m: ModuleVersionFiles): Promise<number> {
  const dir = path.join(root, escapePath(m.module), '@v');
  await fsp.mkdir(dir, { recursive: true });
  const ev = escapeVersion(m.version);
  const zip = await zipBytes(m.module, m.version, m.files, m.time);
  await fsp.writeFile(path.join(dir, `${ev}.zip`), zip);
  await fsp.writeFile(path.join(dir, `${ev}.mod`), m.mod);
  await fsp.writeFile(path.join(dir, `${ev}.info`), canonicalInfo(m.version, m.time));
  const listFile = path.join(dir, 'list');
  const old = (await fsp.readFile(listFile, 'utf8').catch(() => '')).split('\n').filter(Boolean);
  await fsp.writeFile(listFile, sortVersions([...new Set([...old, m.version])]).join('\n') + '\n');
  return zip.length;
}

/**
 * Replaces `dest` with the tree built in `tmp` by renames, so a reader never sees a half-built
 * tree. If another builder published first (dest reappeared between the renames), theirs is kept
 * when `same` says it is equivalent.
 */
export async function publishTree(tmp: string, dest: string, same?: () => Promise<boolean>): Promise<void> {
  await fsp.mkdir(path.dirname(dest), { recursive: true });
  const old = `${dest}.old-${process.pid}`;
  await fsp.rm(old, { recursive: true, force: true });
  await fsp.rename(dest, old).catch(() => undefined);
  try {
    await fsp.rename(tmp, dest);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if ((code === 'ENOTEMPTY' || code === 'EEXIST') && same && (await same())) {
      await fsp.rm(tmp, { recursive: true, force: true });
    } else {
      throw e;
    }
  } finally {
    await fsp.rm(old, { recursive: true, force: true });
  }
}
