import { test } from 'node:test';
import assert from 'node:assert/strict';
import { promises as fsp } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Fetcher } from '../../lib/fetcher/fetcher.js';
import { Store } from '../../lib/store/store.js';
import { ProxyClient } from '../../lib/upstream/client.js';
import { goModFor } from '../../scripts/hostile-zips.js';
import { infoFor } from '../support/module-zip.js';
import { startProxyServer } from '../support/proxy-server.js';

const V = 'v1.0.0';
const STALL_MS = 1500;

async function setUp(module: string, mod: Buffer) {
  const root = await fsp.mkdtemp(path.join(os.tmpdir(), 'modfs-fetcher-'));
  const dir = path.join(root, 'proxy', module, '@v');
  await fsp.mkdir(dir, { recursive: true });
  await fsp.writeFile(path.join(dir, `${V}.mod`), mod);
  await fsp.writeFile(path.join(dir, `${V}.info`), infoFor(V));
  const up = await startProxyServer({ root: path.join(root, 'proxy') });
  // The .mod answers half its body, then waits: long enough to see what else is asked meanwhile.
  up.setFault(`/${module}/@v/${V}.mod`, { stallMs: STALL_MS });
  const store = await Store.open(path.join(root, 'store'));
  const fetcher = new Fetcher({ store, upstream: new ProxyClient({ proxy: up.url }), log: () => undefined });
  const done = async () => {
    await store.close();
    await up.close();
    await fsp.rm(root, { recursive: true, force: true });
  };
  return { up, store, fetcher, done };
}

test('a .mod download brings its .info along, fetched once and stored only after the .mod', async () => {
  const module = 'example.com/early';
  const { up, store, fetcher, done } = await setUp(module, goModFor(module));
  try {
    const mod = fetcher.mod(module, V);
    await new Promise((r) => setTimeout(r, STALL_MS / 3));
    // Asked for while the .mod is still arriving, but not stored before it is accepted.
    assert.deepEqual(up.requests.map((r) => r.path).sort(), [`/${module}/@v/${V}.info`, `/${module}/@v/${V}.mod`]);
    assert.equal(await store.getInfo(module, V), null);
    assert.equal((await mod).toString(), goModFor(module).toString());
    assert.equal((await fetcher.info(module, V)).toString(), infoFor(V).toString());
    assert.equal(up.requests.length, 2, 'the .info was not downloaded again');
    assert.deepEqual(fetcher.stats, { zipFetches: 0, modFetches: 1, infoFetches: 1, failures: 0 });
  } finally {
    await done();
  }
});

test('a rejected .mod leaves its early .info unstored', async () => {
  const module = 'example.com/rejected';
  const { store, fetcher, done } = await setUp(module, goModFor('example.com/someone-else'));
  try {
    await assert.rejects(fetcher.mod(module, V), /go\.mod declares module example\.com\/someone-else/);
    assert.equal(await store.getInfo(module, V), null);
    assert.equal(await store.getMod(module, V), null);
  } finally {
    await done();
  }
});

/** A proxy tree of go.mod files (and their .info): module -> [go version, requirements]. */
async function graphTree(dir: string, graph: Record<string, [string, string[]]>): Promise<void> {
  for (const [module, [go, reqs]] of Object.entries(graph)) await writeGoMod(dir, module, go, reqs);
}

async function writeGoMod(dir: string, module: string, go: string, reqs: string[]): Promise<void> {
  const at = path.join(dir, module, '@v');
  await fsp.mkdir(at, { recursive: true });
  const mod = `module ${module}\n\ngo ${go}\n` + (reqs.length ? `\nrequire (\n${reqs.map((r) => `\t${r} ${V}\n`).join('')})\n` : '');
  await fsp.writeFile(path.join(at, `${V}.mod`), mod);
  await fsp.writeFile(path.join(at, `${V}.info`), infoFor(V));
}

async function until(what: string, check: () => Promise<boolean>): Promise<void> {
  for (let i = 0; i < 250; i++) {
    if (await check()) return;
    await new Promise((r) => setTimeout(r, 20));
  }
  assert.fail(`never happened: ${what}`);
}

test('requirements are read ahead the way the go command loads a graph: all below an old go.mod, none below a pruning one', async () => {
  const root = await fsp.mkdtemp(path.join(os.tmpdir(), 'modfs-ahead-'));
  const tree = path.join(root, 'proxy');
  await graphTree(tree, {
    'example.com/old': ['1.16', ['example.com/a', 'example.com/b', 'example.com/missing']],
    'example.com/a': ['1.16', ['example.com/c']],
    // pruning, but reached through an old go.mod: the go command loads below it too
    'example.com/b': ['1.17', ['example.com/d']],
    'example.com/c': ['1.17', []],
    'example.com/d': ['1.17', []],
    'example.com/new': ['1.17', ['example.com/e']],
    'example.com/e': ['1.17', []],
  });
  const up = await startProxyServer({ root: tree });
  const store = await Store.open(path.join(root, 'store'));
  const lines: string[] = [];
  const fetcher = new Fetcher({ store, upstream: new ProxyClient({ proxy: up.url, retries: 0 }), log: (l) => lines.push(l) });
  const modRequests = () => up.requests.filter((r) => r.path.endsWith('.mod')).map((r) => r.path.split('/@v/')[0].slice(1)).sort();
  try {
    fetcher.requirementsAhead('example.com/old', V, await fetcher.mod('example.com/old', V));
    await until('a, b, c and d stored', async () => {
      const got = await Promise.all(['a', 'b', 'c', 'd'].map((m) => store.getMod(`example.com/${m}`, V)));
      return got.every((b) => b !== null);
    });
    await until('the missing one asked for', async () => modRequests().includes('example.com/missing'));
    assert.deepEqual(modRequests(), ['example.com/a', 'example.com/b', 'example.com/c', 'example.com/d', 'example.com/missing', 'example.com/old']);

    // Read ahead once per version; a pruning go.mod read through the mount starts nothing.
    fetcher.requirementsAhead('example.com/old', V, await fetcher.mod('example.com/old', V));
    fetcher.requirementsAhead('example.com/new', V, await fetcher.mod('example.com/new', V));
    await new Promise((r) => setTimeout(r, 300));
    assert.deepEqual(modRequests(), ['example.com/a', 'example.com/b', 'example.com/c', 'example.com/d', 'example.com/missing', 'example.com/new', 'example.com/old']);

    // The 404 ahead was neither logged nor remembered: once the upstream has it, a read succeeds.
    assert.deepEqual(lines, []);
    await writeGoMod(tree, 'example.com/missing', '1.17', []);
    assert.match((await fetcher.mod('example.com/missing', V)).toString(), /^module example\.com\/missing\n/);
    assert.equal(fetcher.stats.failures, 0);
  } finally {
    await store.close();
    await up.close();
    await fsp.rm(root, { recursive: true, force: true });
  }
});
