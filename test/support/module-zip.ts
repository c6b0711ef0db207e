// Builds well-formed module zips for tests.
import { promises as fsp } from 'node:fs';
import yazl from 'yazl';
import yauzl from 'yauzl';

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

export interface ZipEntryData {
  name: string;
  isDir: boolean;
  /** general purpose flag bit 11: the name is UTF-8 */
  utf8: boolean;
  data: Buffer;
}

/** Every entry of a zip with its uncompressed bytes, in archive order. */
export function readZip(file: string): Promise<ZipEntryData[]> {
  return new Promise((resolve, reject) => {
    yauzl.open(file, { lazyEntries: true, decodeStrings: true }, (err, zf) => {
      if (err || !zf) return reject(err);
      const out: ZipEntryData[] = [];
      zf.on('error', reject);
      zf.on('end', () => resolve(out));
      zf.on('entry', (e: yauzl.Entry) => {
        const isDir = e.fileName.endsWith('/');
        const utf8 = (e.generalPurposeBitFlag & 0x800) !== 0;
        if (isDir) {
          out.push({ name: e.fileName, isDir, utf8, data: Buffer.alloc(0) });
          return zf.readEntry();
        }
        zf.openReadStream(e, (err2, rs) => {
          if (err2 || !rs) return reject(err2);
          const chunks: Buffer[] = [];
          rs.on('data', (c: Buffer) => chunks.push(c));
          rs.on('error', reject);
          rs.on('end', () => {
            out.push({ name: e.fileName, isDir, utf8, data: Buffer.concat(chunks) });
            zf.readEntry();
          });
        });
      });
      zf.readEntry();
    });
  });
}
