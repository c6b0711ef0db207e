// Builds well-formed module zips for tests.
import { promises as fsp } from 'node:fs';
import yazl from 'yazl';

export async function writeModuleZip(
  dest: string,
  module: string,
  version: string,
  files: Record<string, string | Buffer>,
): Promise<void> {
  const zip = new yazl.ZipFile();
  for (const name of Object.keys(files).sort()) {
    const data = files[name];
    zip.addBuffer(Buffer.isBuffer(data) ? data : Buffer.from(data), `${module}@${version}/${name}`, {
      mtime: new Date('2024-01-02T03:04:05Z'),
      mode: 0o100644,
    });
  }
  zip.end();
  const chunks: Buffer[] = [];
  for await (const c of zip.outputStream as AsyncIterable<Buffer>) chunks.push(c);
  await fsp.writeFile(dest, Buffer.concat(chunks));
}

export function infoFor(version: string, time = '2024-01-02T03:04:05Z'): Buffer {
  return Buffer.from(JSON.stringify({ Version: version, Time: time }));
}
