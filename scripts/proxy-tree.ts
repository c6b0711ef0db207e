// Writes module versions into a GOPROXY file tree: <e>/@v/{list,<v>.info,<v>.mod,<v>.zip}.
import { promises as fsp } from 'node:fs';
import path from 'node:path';
import yazl from 'yazl';
import { escapePath, escapeVersion } from '../lib/gomod/escape.js';
import { canonicalInfo } from '../lib/gomod/info.js';
import { sortVersions } from '../lib/gomod/semver.js';

export interface ModuleVersionFiles {
  module: string;
  version: string;
  time: Date;
  /** the .mod file served by the proxy */
  mod: Buffer;
  /** zip contents: path inside the module -> bytes, in any order */
  files: Map<string, Buffer>;
}

export async function zipBytes(module: string, version: string, files: Map<string, Buffer>, mtime: Date): Promise<Buffer> {
  const zip = new yazl.ZipFile();
  const names = [...files.keys()].sort((a, b) => Buffer.compare(Buffer.from(a), Buffer.from(b)));
  for (const name of names) {
    zip.addBuffer(files.get(name)!, `${module}@${version}/${name}`, { mtime, mode: 0o100644, compress: true });
  }
  zip.end();
  const chunks: Buffer[] = [];
  for await (const c of zip.outputStream as AsyncIterable<Buffer>) chunks.push(c);
  return Buffer.concat(chunks);
}

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

/** Replaces `dest` with the tree built in `tmp`, so a reader never sees a half-built tree. */
export async function publishTree(tmp: string, dest: string): Promise<void> {
  const old = `${dest}.old-${process.pid}`;
  await fsp.rm(old, { recursive: true, force: true });
  await fsp.rename(dest, old).catch(() => undefined);
  await fsp.rename(tmp, dest);
  await fsp.rm(old, { recursive: true, force: true });
}
