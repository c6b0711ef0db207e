// The proxy client against a real HTTP server on 127.0.0.1.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { promises as fsp } from 'node:fs';
import os from 'node:os';
import { randomBytes } from 'node:crypto';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { ProxyClient } from '../../lib/upstream/client.js';
import { UpstreamError } from '../../lib/upstream/errors.js';
import { startProxyServer, type ProxyServer } from '../support/proxy-server.js';
import { writeModuleVersion } from '../../scripts/proxy-tree.js';

let root: string;
let a: ProxyServer;
let b: ProxyServer;
const M = 'example.com/Upper/mod';
const V = 'v1.2.0';
const ZIP = '/example.com/!upper/mod/@v/v1.2.0.zip';

before(async () => {
  root = await fsp.mkdtemp(path.join(os.tmpdir(), 'modfs-up-'));
  const files = new Map([['go.mod', Buffer.from(`module ${M}\n`)], ['a.bin', randomBytes(200_000)]]);
  await writeModuleVersion(path.join(root, 'a'), { module: M, version: V, time: new Date('2024-01-02T03:04:05Z'), mod: files.get('go.mod')!, files });
  await fsp.mkdir(path.join(root, 'b'));
  await fsp.writeFile(path.join(root, 'a', 'example.com', '!upper', 'mod', '@latest'), '{"Version":"v1.2.0"}');
  a = await startProxyServer({ root: path.join(root, 'a') });
  b = await startProxyServer({ root: path.join(root, 'b') });
});

after(async () => {
  await a.close();
  await b.close();
  await fsp.rm(root, { recursive: true, force: true });
});

const client = (proxy: string, extra: Partial<ConstructorParameters<typeof ProxyClient>[0]> = {}) =>
  new ProxyClient({ proxy, timeoutMs: 500, retries: 2, retryBaseMs: 10, ...extra });

async function rejectsWith(p: Promise<unknown>, check: (e: UpstreamError) => void): Promise<void> {
  await assert.rejects(p, (e: unknown) => {
    assert.ok(e instanceof UpstreamError, String(e));
    check(e);
    return true;
  });
}

test('list, info, mod, latest and zip succeed', async () => {
  const c = client(a.url);
  assert.deepEqual((await c.list(M)).versions, [V]);
  assert.equal((await c.info(M, V)).data.toString(), '{"Version":"v1.2.0","Time":"2024-01-02T03:04:05Z"}');
  assert.equal((await c.mod(M, V)).data.toString(), `module ${M}\n`);
  assert.match((await c.latest(M)).data.toString(), /v1\.2\.0/);
  const dest = path.join(root, 'z.zip');
  const z = await c.zip(M, V, dest);
  assert.equal(z.size, (await fsp.stat(dest)).size);
  assert.equal(z.url, a.url + ZIP);
});

test('404 and 410 are "not found", 404 is not retried, and "," falls through only on them', async () => {
  const c = client(a.url);
  const before = a.requests.length;
  await rejectsWith(c.mod(M, 'v9.9.9'), (e) => {
    assert.equal(e.kind, 'not-found');
    assert.ok(e.notFound);
    assert.match(e.message, /example\.com\/Upper\/mod@v9\.9\.9: GET http:\/\/127\.0\.0\.1:\d+\/example\.com\/!upper\/mod\/@v\/v9\.9\.9\.mod: 404/);
  });
  assert.equal(a.requests.length - before, 1, 'no retry on 404');

  a.setFault('/@v/v1.2.0.info', { status: 410 });
  await rejectsWith(client(a.url).info(M, V), (e) => assert.equal(e.kind, 'gone'));
  a.clearFaults();

  // b has nothing (404): falls through to a.
  assert.equal((await client(`${b.url},${a.url}`).mod(M, V)).url, `${a.url}/example.com/!upper/mod/@v/v1.2.0.mod`);
  // 500 after ',' does not fall through.
  b.setFault(/./, { status: 500 });
  await rejectsWith(client(`${b.url},${a.url}`, { retries: 0 }).mod(M, V), (e) => assert.equal(e.status, 500));
  // after '|' it does.
  assert.ok((await client(`${b.url}|${a.url}`, { retries: 0 }).mod(M, V)).url.startsWith(a.url));
  b.clearFaults();
});

test('off and direct fail clearly', async () => {
  await rejectsWith(client('off').mod(M, V), (e) => assert.equal(e.kind, 'off'));
  await rejectsWith(client('direct').mod(M, V), (e) => {
    assert.equal(e.kind, 'direct-unsupported');
    assert.match(e.message, /not supported/);
  });
  // As in the go command, 'direct' ends the list: later entries are never tried.
  const before = a.requests.length;
  await rejectsWith(client(`direct|${a.url}`).mod(M, V), (e) => assert.equal(e.kind, 'direct-unsupported'));
  assert.equal(a.requests.length, before);
  // Reached after a 404 on ',': the last error is theirs.
  await rejectsWith(client(`${b.url},off`).mod(M, V), (e) => {
    assert.equal(e.kind, 'off');
    assert.match(e.message, /module lookup disabled by GOPROXY=off/);
  });
  await rejectsWith(client(`${b.url},direct`).mod(M, V), (e) => assert.equal(e.kind, 'direct-unsupported'));
});

test('5xx and connection resets are retried, then succeed', async () => {
  a.setFault('/@v/v1.2.0.mod', { status: 503, times: 2 });
  let before = a.requests.length;
  assert.equal((await client(a.url).mod(M, V)).data.toString(), `module ${M}\n`);
  assert.equal(a.requests.length - before, 3);

  a.setFault('/@v/v1.2.0.info', { reset: true, times: 1 });
  before = a.requests.length;
  assert.ok((await client(a.url).info(M, V)).data.length > 0);
  assert.equal(a.requests.length - before, 2);

  assert.equal(a.requests.at(-2)?.status, 0, 'the reset request is logged too');

  a.setFault(ZIP, { resetAfterBytes: 1000, times: 1 });
  before = a.requests.length;
  assert.ok((await client(a.url).zip(M, V, path.join(root, 'r.zip'))).size > 100_000);
  assert.equal(a.requests.length - before, 2);
  a.clearFaults();
});

test('retries are bounded', async () => {
  a.setFault('/@v/v1.2.0.mod', { status: 500 });
  const before = a.requests.length;
  await rejectsWith(client(a.url, { retries: 2 }).mod(M, V), (e) => assert.equal(e.kind, 'http'));
  assert.equal(a.requests.length - before, 3);
  a.clearFaults();
});

test('a stalled body times out promptly and leaves no file', async () => {
  a.setFault(ZIP, { stallMs: 5000 });
  const dest = path.join(root, 'stall.zip');
  const t0 = Date.now();
  await rejectsWith(client(a.url, { timeoutMs: 300, retries: 0 }).zip(M, V, dest), (e) => assert.equal(e.kind, 'timeout'));
  assert.ok(Date.now() - t0 < 3000);
  await assert.rejects(fsp.stat(dest));
  a.setFault('/@v/v1.2.0.info', { stallMs: 5000 });
  await rejectsWith(client(a.url, { timeoutMs: 300, retries: 0 }).info(M, V), (e) => assert.equal(e.kind, 'timeout'));
  a.clearFaults();
});

test('a truncated body is an error, not a short file', async () => {
  a.setFault(ZIP, { truncateTo: 5000 });
  const dest = path.join(root, 'trunc.zip');
  await rejectsWith(client(a.url, { retries: 0 }).zip(M, V, dest), (e) => assert.equal(e.kind, 'network'));
  await assert.rejects(fsp.stat(dest));
  a.clearFaults();
});

test('a zip over the size cap is aborted and removed', async () => {
  const dest = path.join(root, 'big.zip');
  await rejectsWith(client(a.url, { maxZipBytes: 10_000 }).zip(M, V, dest), (e) => assert.equal(e.kind, 'too-large'));
  await assert.rejects(fsp.stat(dest));
});

test('credentials in the proxy URL never appear in errors', async () => {
  const withCreds = a.url.replace('http://', 'http://alice:s3cret@');
  const lines: string[] = [];
  await rejectsWith(client(withCreds, { log: (l) => lines.push(l) }).mod(M, 'v9.9.9'), (e) => {
    assert.doesNotMatch(e.message, /alice|s3cret/);
    assert.doesNotMatch(e.url ?? '', /alice|s3cret/);
    assert.match(e.message, /GET http:\/\/127\.0\.0\.1:\d+\/example\.com/);
  });
  assert.ok(lines.length > 0);
  for (const l of lines) assert.doesNotMatch(l, /alice|s3cret/);
});

test('credentials in the proxy URL are sent as Basic auth; 401 is not retried', async () => {
  const secured = await startProxyServer({ root: path.join(root, 'a'), auth: { username: 'alice', password: 's3cret' } });
  try {
    const r = await client(secured.url.replace('http://', 'http://alice:s3cret@')).mod(M, V);
    assert.equal(r.data.toString(), `module ${M}\n`);
    assert.equal(r.url, `${secured.url}/example.com/!upper/mod/@v/v1.2.0.mod`);
    const before = secured.requests.length;
    await rejectsWith(client(secured.url.replace('http://', 'http://alice:wrong@')).mod(M, V), (e) => {
      assert.equal(e.kind, 'http');
      assert.equal(e.status, 401);
      assert.ok(!e.notFound);
      assert.doesNotMatch(e.message, /alice|wrong/);
    });
    assert.equal(secured.requests.length - before, 1, 'no retry on 4xx');
  } finally {
    await secured.close();
  }
});

test('file:// entries read the tree from disk; a missing file is "not found" and falls through', async () => {
  const fileUrl = pathToFileURL(path.join(root, 'a')).href;
  const c = client(fileUrl);
  assert.deepEqual((await c.list(M)).versions, [V]);
  assert.equal((await c.mod(M, V)).url, `${fileUrl}/example.com/!upper/mod/@v/v1.2.0.mod`);
  const dest = path.join(root, 'f.zip');
  const z = await c.zip(M, V, dest);
  assert.equal(z.size, (await fsp.stat(dest)).size);
  await rejectsWith(c.info(M, 'v9.9.9'), (e) => assert.ok(e.notFound));
  await rejectsWith(client(fileUrl, { maxZipBytes: 1000 }).zip(M, V, dest), (e) => assert.equal(e.kind, 'too-large'));
  await assert.rejects(fsp.stat(dest));
  const empty = pathToFileURL(path.join(root, 'b')).href;
  assert.equal((await client(`${empty},${a.url}`).info(M, V)).url, `${a.url}/example.com/!upper/mod/@v/v1.2.0.info`);
});

test('list ignores junk lines and sorts; oversized metadata is refused', async () => {
  a.setFault('/@v/list', { body: 'v1.10.0\nnot-a-version\n\nv1.2.0 extra words\nv1.2.0\nv1.9.0-rc.1\n', times: 1 });
  assert.deepEqual((await client(a.url).list(M)).versions, ['v1.2.0', 'v1.9.0-rc.1', 'v1.10.0']);
  a.setFault('/@v/v1.2.0.mod', { body: Buffer.alloc(5000, 'x'), times: 1 });
  await rejectsWith(client(a.url, { maxMetadataBytes: 1000 }).mod(M, V), (e) => assert.equal(e.kind, 'too-large'));
});

test('bad module paths and versions fail as "invalid" without a request', async () => {
  const before = a.requests.length;
  await rejectsWith(client(a.url).mod('no-dot/../x', V), (e) => assert.equal(e.kind, 'invalid'));
  await rejectsWith(client(a.url).mod(M, 'v1.0.0/../../x'), (e) => assert.equal(e.kind, 'invalid'));
  assert.equal(a.requests.length, before);
});

test('"|" falls through on a refused connection; "," does not', async () => {
  const dead = await startProxyServer({ root: path.join(root, 'b') });
  const deadUrl = dead.url;
  await dead.close();
  assert.ok((await client(`${deadUrl}|${a.url}`, { retries: 0 }).mod(M, V)).url.startsWith(a.url));
  await rejectsWith(client(`${deadUrl},${a.url}`, { retries: 1 }).mod(M, V), (e) => {
    assert.equal(e.kind, 'network');
    assert.ok(e.message.includes(deadUrl));
  });
});

test('TLS certificates are verified: a self-signed upstream is refused', async () => {
  const dir = await fsp.mkdtemp(path.join(os.tmpdir(), 'modfs-tls-'));
  const { execFileSync } = await import('node:child_process');
  execFileSync('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', path.join(dir, 'key.pem'), '-out', path.join(dir, 'cert.pem'), '-days', '1', '-subj', '/CN=127.0.0.1'], { stdio: 'ignore' });
  const https = await import('node:https');
  const server = https.createServer({ key: await fsp.readFile(path.join(dir, 'key.pem')), cert: await fsp.readFile(path.join(dir, 'cert.pem')) }, (_req, res) => {
    res.end(`module ${M}\n`);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as { port: number }).port;
  let requests = 0;
  server.on('request', () => requests++);
  try {
    await rejectsWith(client(`https://127.0.0.1:${port}`, { retries: 0 }).mod(M, V), (e) => {
      assert.equal(e.kind, 'network');
      assert.match(e.message, /self[- ]signed|certificate/i);
    });
    assert.equal(requests, 0, 'no request was sent over the unverified connection');
  } finally {
    server.closeAllConnections();
    await new Promise((r) => server.close(r));
    await fsp.rm(dir, { recursive: true, force: true });
  }
});

test('metadata redirects are followed; credentials go along within the origin and never beyond it', async () => {
  const secured = await startProxyServer({ root: path.join(root, 'a'), auth: { username: 'alice', password: 's3cret' } });
  const http = await import('node:http');
  const seen: Array<string | undefined> = [];
  let target = a.url;
  // /same/<path> hops within this origin; anything else goes on to `target`.
  const hop = http.createServer((req, res) => {
    seen.push(req.headers.authorization);
    const url = req.url ?? '/';
    res.writeHead(302, { location: url.startsWith('/same/') ? url.slice('/same'.length) : target + url }).end();
  });
  await new Promise<void>((r) => hop.listen(0, '127.0.0.1', r));
  const hopUrl = `http://127.0.0.1:${(hop.address() as { port: number }).port}`;
  try {
    assert.equal((await client(`${hopUrl}/same`).mod(M, V)).data.toString(), `module ${M}\n`);
    assert.deepEqual(seen, [undefined, undefined]);

    seen.length = 0;
    target = secured.url;
    const basic = 'Basic ' + Buffer.from('alice:s3cret').toString('base64');
    await rejectsWith(client(`${hopUrl.replace('http://', 'http://alice:s3cret@')}/same`, { retries: 0 }).mod(M, V), (e) => {
      assert.equal(e.status, 401, 'the other origin got no credentials');
      assert.doesNotMatch(e.message, /alice|s3cret/);
    });
    assert.deepEqual(seen, [basic, basic], 'both hops within the origin carried them');
  } finally {
    hop.close();
    await secured.close();
  }
});
