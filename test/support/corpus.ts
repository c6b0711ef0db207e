// Locates (building when needed) the Debian-derived corpus and the hand-made fixtures as
// GOPROXY trees, for end-to-end tests and benchmarks.
import { execFile } from 'node:child_process';
import { promises as fsp } from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import { escapePath } from '../../lib/gomod/escape.js';
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
