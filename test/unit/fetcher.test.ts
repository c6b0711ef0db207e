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
