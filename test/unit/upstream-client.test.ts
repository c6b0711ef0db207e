// The proxy client against a real HTTP server on 127.0.0.1.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { promises as fsp } from 'node:fs';
import os from 'node:os';
import { randomBytes } from 'node:crypto';
import path from 'node:path';
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
  assert.ok((await client(`direct|${a.url}`).mod(M, V)).data.length > 0);
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

  a.setFault(ZIP, { resetAfterBytes: 1000, times: 1 });
  assert.ok((await client(a.url).zip(M, V, path.join(root, 'r.zip'))).size > 100_000);
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
  await rejectsWith(client(withCreds).mod(M, 'v9.9.9'), (e) => {
    assert.doesNotMatch(e.message, /alice|s3cret/);
    assert.doesNotMatch(e.url ?? '', /alice|s3cret/);
  });
});
