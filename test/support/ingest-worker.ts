// A separate process that ingests one version: used to race and to kill ingests.
import { promises as fsp } from 'node:fs';
import { Store } from '../../lib/store/store.js';

const [storeDir, module, version, zipPath, modPath, infoPath] = process.argv.slice(2);
const store = await Store.open(storeDir);
try {
  const v = await store.ingest(module, version, {
    zipPath,
    mod: await fsp.readFile(modPath),
    info: await fsp.readFile(infoPath),
  });
  process.stdout.write(JSON.stringify({ tree: v.tree, ziphash: v.ziphash }) + '\n');
} finally {
  store.close();
}
