// Locates (building when needed) the Debian-derived corpus and the hand-made fixtures as
// GOPROXY trees, for end-to-end tests and benchmarks.
import { execFile } from 'node:child_process';
import { promises as fsp } from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import { escapePath, unescapePath } from '../../lib/gomod/escape.js';
import { REPO_ROOT } from './modfs-process.js';

const run = promisify(execFile);

export const CORPUS_DIR = process.env.MODFS_CORPUS ?? path.join(REPO_ROOT, '.corpus', 'proxy');
export const FIXTURES_DIR = process.env.MODFS_FIXTURES ?? path.join(REPO_ROOT, '.corpus', 'fixtures');

/** Builds the corpus proxy tree unless an up-to-date one exists (the script checks its stamp). */
export async function ensureCorpus(): Promise<string> {
  await run(process.execPath, [path.join(REPO_ROOT, 'dist', 'scripts', 'build-corpus.js'), '--out', CORPUS_DIR], {
    maxBuffer: 64 << 20,
  });
  return CORPUS_DIR;
}

export async function ensureFixtures(): Promise<string> {
  await run(process.execPath, [path.join(REPO_ROOT, 'dist', 'scripts', 'build-fixtures.js'), '--out', FIXTURES_DIR], {
    maxBuffer: 64 << 20,
  });
  return FIXTURES_DIR;
}

/** The versions a proxy tree holds for a module (from its @v/list). */
export async function versionsIn(tree: string, module: string): Promise<string[]> {
  const list = await fsp.readFile(path.join(tree, escapePath(module), '@v', 'list'), 'utf8');
  return list.split('\n').filter(Boolean);
}

/** Every module a proxy tree holds (directories with an @v folder). */
export async function modulesIn(tree: string): Promise<string[]> {
  const out: string[] = [];
  const walk = async (rel: string) => {
    for (const e of await fsp.readdir(path.join(tree, rel), { withFileTypes: true })) {
      if (!e.isDirectory()) continue;
      if (e.name === '@v') out.push(rel);
      else await walk(rel ? `${rel}/${e.name}` : e.name);
    }
  };
  await walk('');
  return out.map((e) => unescapePath(e));
}

/** Every module version a proxy tree holds. */
export async function moduleVersionsIn(tree: string): Promise<Array<{ module: string; version: string }>> {
  const out: Array<{ module: string; version: string }> = [];
  for (const module of await modulesIn(tree)) for (const version of await versionsIn(tree, module)) out.push({ module, version });
  return out;
}
