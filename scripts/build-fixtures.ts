// Builds the GOPROXY tree of the hand-made modules in fixtures/modules.
//   node dist/scripts/build-fixtures.js --out DIR
import { promises as fsp } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { isPseudoVersion, pseudoVersionTime } from '../lib/gomod/semver.js';
import { publishTree, writeModuleVersion } from './proxy-tree.js';

const REPO = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
export const FIXTURE_SOURCES = path.join(REPO, 'fixtures', 'modules');

/** Files of a fixture, leaving out subdirectories that hold their own go.mod. */
async function readTree(root: string, rel = ''): Promise<Map<string, Buffer>> {
  const out = new Map<string, Buffer>();
  for (const e of await fsp.readdir(path.join(root, rel), { withFileTypes: true })) {
    const r = rel ? `${rel}/${e.name}` : e.name;
    if (e.isDirectory()) {
      if (await fsp.stat(path.join(root, r, 'go.mod')).catch(() => null)) continue;
      for (const [k, v] of await readTree(root, r)) out.set(k, v);
    } else if (e.isFile()) out.set(r, await fsp.readFile(path.join(root, r)));
  }
  return out;
}

async function findFixtures(dir: string, rel = ''): Promise<Array<{ module: string; version: string; dir: string }>> {
  const found: Array<{ module: string; version: string; dir: string }> = [];
  for (const e of await fsp.readdir(path.join(dir, rel), { withFileTypes: true })) {
    if (!e.isDirectory()) continue;
    const r = rel ? `${rel}/${e.name}` : e.name;
    const at = e.name.indexOf('@');
    if (at >= 0) found.push({ module: `${rel}/${e.name.slice(0, at)}`.replace(/^\//, ''), version: e.name.slice(at + 1), dir: path.join(dir, r) });
    else found.push(...(await findFixtures(dir, r)));
  }
  return found;
}

export async function buildFixtures(out: string): Promise<number> {
  const tmp = `${path.resolve(out)}.tmp-${process.pid}`;
  await fsp.rm(tmp, { recursive: true, force: true });
  await fsp.mkdir(tmp, { recursive: true });
  const fixtures = await findFixtures(FIXTURE_SOURCES);
  for (const f of fixtures) {
    const files = await readTree(f.dir);
    const mod = files.get('go.mod') ?? Buffer.from(`module ${f.module}\n`);
    const time = isPseudoVersion(f.version) ? pseudoVersionTime(f.version) : new Date('2024-01-02T03:04:05Z');
    await writeModuleVersion(tmp, { module: f.module, version: f.version, time, mod, files });
  }
  await fsp.mkdir(path.dirname(path.resolve(out)), { recursive: true });
  await publishTree(tmp, path.resolve(out));
  return fixtures.length;
}

if (process.argv[1] && import.meta.url === new URL(`file://${path.resolve(process.argv[1])}`).href) {
  const i = process.argv.indexOf('--out');
  if (i < 0 || !process.argv[i + 1]) {
    process.stderr.write('usage: build-fixtures --out DIR\n');
    process.exit(2);
  }
  const n = await buildFixtures(process.argv[i + 1]);
  process.stdout.write(`fixtures: ${n} module versions in ${path.resolve(process.argv[i + 1])}\n`);
}
