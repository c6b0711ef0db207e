// For one end-to-end test file: the corpus served by a real upstream on 127.0.0.1, and a
// scratch directory, made before its tests and removed after them.
import { after, before } from 'node:test';
import { promises as fsp } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { startProxyServer, type ProxyServer } from './proxy-server.js';
import { ensureCorpus } from './corpus.js';

export interface ServedCorpus {
  /** the corpus proxy tree */
  corpus: string;
  up: ProxyServer;
  work: string;
}

/** Fields are set once the file's `before` hook has run: read them inside tests. */
export function serveCorpus(workPrefix: string): ServedCorpus {
  const s = {} as ServedCorpus;
  before(async () => {
    s.corpus = await ensureCorpus();
    s.up = await startProxyServer({ root: s.corpus });
    s.work = await fsp.mkdtemp(path.join(os.tmpdir(), workPrefix));
  });
  after(async () => {
    await s.up?.close();
    if (s.work) await fsp.rm(s.work, { recursive: true, force: true });
  });
  return s;
}
