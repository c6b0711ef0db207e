// Builds the GOPROXY tree of the hand-made modules in fixtures/modules.
//   node dist/scripts/build-fixtures.js --out DIR [--include-nested] [--force]
// --include-nested keeps subdirectories that hold their own go.mod inside the parent's zip:
// a zip the go command would never produce, for tests that must refuse it.
import { createHash } from 'node:crypto';
import { promises as fsp } from 'node:fs';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import { isPseudoVersion, pseudoVersionTime } from '../lib/gomod/index.js';
import { publishTree, writeModuleVersion, zipBytes } from './proxy-tree.js';

const REPO = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
export const FIXTURE_SOURCES = path.join(REPO, 'fixtures', 'modules');
/** .info Time (and zip mtime) of every fixture that is not a pseudo-version. */
export const FIXTURE_TIME = new Date('2024-01-02T03:04:05Z');

export interface FixtureOptions {
  /** keep nested modules' files in the parent zip (hostile-input tests) */
  includeNested?: boolean;
}

export interface Fixture {
  module: string;
  version: string;
  /** the source directory */
  dir: string;
}

/** Files of a fixture, leaving out subdirectories that hold their own go.mod unless asked. */
async function readTree(root: string, opts: FixtureOptions, rel = ''): Promise<Map<string, Buffer>> {
  const out = new Map<string, Buffer>();
  for (const e of await fsp.readdir(path.join(root, rel), { withFileTypes: true })) {
    const r = rel ? `${rel}/${e.name}` : e.name;
    if (e.isDirectory()) {
      if (!opts.includeNested && (await fsp.stat(path.join(root, r, 'go.mod')).catch(() => null))) continue;
      for (const [k, v] of await readTree(root, opts, r)) out.set(k, v);
    } else if (e.isFile()) {
      out.set(r, await fsp.readFile(path.join(root, r)));
    }
  }
  return out;
}

/** Every fixture: directories named <module path>@<version> under fixtures/modules. */
export async function findFixtures(dir = FIXTURE_SOURCES, rel = ''): Promise<Fixture[]> {
  const found: Fixture[] = [];
  for (const e of await fsp.readdir(path.join(dir, rel), { withFileTypes: true })) {
    if (!e.isDirectory()) continue;
    const r = rel ? `${rel}/${e.name}` : e.name;
    const at = e.name.indexOf('@');
    if (at >= 0) {
      found.push({ module: rel ? `${rel}/${e.name.slice(0, at)}` : e.name.slice(0, at), version: e.name.slice(at + 1), dir: path.join(dir, r) });
    } else {
      found.push(...(await findFixtures(dir, r)));
    }
  }
  return found.sort((a, b) => (a.module < b.module ? -1 : a.module > b.module ? 1 : 0));
}

async function fixtureParts(f: Fixture, opts: FixtureOptions) {
  const files = await readTree(f.dir, opts);
  // Without a go.mod (the +incompatible case) the proxy synthesizes one, as real proxies do.
  const mod = files.get('go.mod') ?? Buffer.from(`module ${f.module}\n`);
  const time = isPseudoVersion(f.version) ? pseudoVersionTime(f.version) : FIXTURE_TIME;
  return { module: f.module, version: f.version, time, mod, files };
}

/** The zip bytes of one fixture, e.g. the un-excluded nested zip for a hostile proxy. */
export async function fixtureZip(module: string, version: string, opts: FixtureOptions = {}): Promise<Buffer> {
  const f = (await findFixtures()).find((x) => x.module === module && x.version === version);
  if (!f) throw new Error(`no fixture ${module}@${version} in ${FIXTURE_SOURCES}`);
  const p = await fixtureParts(f, opts);
  return zipBytes(p.module, p.version, p.files, p.time);
}

/** Bump when the output for the same sources changes. */
const SCRIPT_VERSION = '2';

/** A hash of every fixture source and the options: the tree is rebuilt only when it changes. */
async function sourceStamp(fixtures: Fixture[], opts: FixtureOptions): Promise<string> {
  const h = createHash('sha256').update(`build-fixtures ${SCRIPT_VERSION} nested=${!!opts.includeNested}\n`);
  for (const f of fixtures) {
    for (const [name, data] of [...(await readTree(f.dir, { includeNested: true }))].sort(([a], [b]) => (a < b ? -1 : 1))) {
      h.update(`${f.module}@${f.version}/${name}\0${data.length}\0`).update(data);
    }
  }
  return h.digest('hex');
}

/**
 * Writes the whole fixture tree to out, replaced atomically, unless out/.fixtures-stamp shows
 * it was built from the same sources. Returns the fixtures and whether anything was written.
 */
export async function buildFixtures(out: string, opts: FixtureOptions & { force?: boolean } = {}): Promise<{ fixtures: Fixture[]; built: boolean }> {
  const dest = path.resolve(out);
  const fixtures = await findFixtures();
  const stamp = await sourceStamp(fixtures, opts);
  const stampFile = path.join(dest, '.fixtures-stamp');
  const current = async () => (await fsp.readFile(stampFile, 'utf8').catch(() => '')) === stamp;
  if (!opts.force && (await current())) return { fixtures, built: false };
  const tmp = `${dest}.tmp-${process.pid}`;
  await fsp.rm(tmp, { recursive: true, force: true });
  await fsp.mkdir(tmp, { recursive: true });
  try {
    for (const f of fixtures) await writeModuleVersion(tmp, await fixtureParts(f, opts));
    await fsp.writeFile(path.join(tmp, '.fixtures-stamp'), stamp);
    await publishTree(tmp, dest, current);
  } catch (e) {
    await fsp.rm(tmp, { recursive: true, force: true });
    throw e;
  }
  return { fixtures, built: true };
}

if (process.argv[1] && import.meta.url === pathToFileURL(path.resolve(process.argv[1])).href) {
  const { values } = parseArgs({
    options: {
      out: { type: 'string' },
      'include-nested': { type: 'boolean', default: false },
      force: { type: 'boolean', default: false },
    },
  });
  if (!values.out) {
    process.stderr.write('usage: build-fixtures --out DIR [--include-nested] [--force]\n');
    process.exit(2);
  }
  const r = await buildFixtures(values.out, { includeNested: values['include-nested'], force: values.force });
  const where = path.resolve(values.out);
  process.stdout.write(r.built ? `fixtures: ${r.fixtures.length} module versions in ${where}\n` : `fixtures up to date: ${where}\n`);
  for (const f of r.fixtures) process.stdout.write(`  ${f.module} ${f.version}\n`);
}
