// Acceptance for lib/gomod's hashes: for every module version of the real corpus, the h1
// the store computes for the zip and lib/gomod computes for the go.mod equal the Sum and
// GoModSum that the go command itself reports after downloading the same files.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { promises as fsp } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { escapePath, escapeVersion } from '../../lib/gomod/escape.js';
import { hashGoMod } from '../../lib/gomod/dirhash.js';
import { Store } from '../../lib/store/store.js';
import { startProxyServer } from '../support/proxy-server.js';
import { ensureCorpus, ensureFixtures, versionsIn, modulesIn } from '../support/corpus.js';

const run = promisify(execFile);


for (const [label, ensure] of [['corpus', ensureCorpus], ['fixtures', ensureFixtures]] as const) {
  test(`h1 of every ${label} module version equals what go mod download reports`, async () => {
    const tree = await ensure();
    const server = await startProxyServer({ root: tree });
    const work = await fsp.mkdtemp(path.join(os.tmpdir(), 'modfs-h1-'));
    const store = await Store.open(path.join(work, 'store'));
    try {
      const targets: Array<{ module: string; version: string }> = [];
      for (const module of await modulesIn(tree)) for (const version of await versionsIn(tree, module)) targets.push({ module, version });
      assert.ok(label === 'fixtures' || targets.length >= 20, `${targets.length} corpus modules`);

      const { stdout } = await run('go', ['mod', 'download', '-json', ...targets.map((t) => `${t.module}@${t.version}`)], {
        cwd: work,
        maxBuffer: 256 << 20,
        env: {
          PATH: process.env.PATH, HOME: work, GOPROXY: server.url, GOSUMDB: 'off', GOFLAGS: '', GOTOOLCHAIN: 'local',
          GOMODCACHE: path.join(work, 'native'), GOCACHE: path.join(work, 'gocache'), GO111MODULE: 'on',
        },
      });
      const reported = new Map<string, { Sum: string; GoModSum: string; Error?: string }>();
      for (const chunk of stdout.split(/\n(?=\{)/)) {
        const r = JSON.parse(chunk);
        reported.set(`${r.Path}@${r.Version}`, r);
      }
      for (const t of targets) {
        const key = `${t.module}@${t.version}`;
        const r = reported.get(key);
        assert.ok(r && !r.Error, `${key}: ${r?.Error ?? 'not reported'}`);
        const dir = path.join(tree, escapePath(t.module), '@v');
        const ev = escapeVersion(t.version);
        const mod = await fsp.readFile(path.join(dir, `${ev}.mod`));
        assert.equal(hashGoMod(mod), r.GoModSum, `${key} go.mod`);
        const v = await store.ingest(t.module, t.version, {
          zipPath: path.join(dir, `${ev}.zip`),
          mod,
          info: await fsp.readFile(path.join(dir, `${ev}.info`)),
        });
        assert.equal(v.ziphash, r.Sum, `${key} zip`);
      }
    } finally {
      store.close();
      await server.close();
      await run('chmod', ['-R', 'u+w', work]).catch(() => undefined);
      await fsp.rm(work, { recursive: true, force: true });
    }
  });
}
