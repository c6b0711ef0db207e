// The mount's behaviour toward the go command's access patterns and toward failures,
// with the real CLI, real FUSE and a real HTTP upstream on 127.0.0.1.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile, spawn } from 'node:child_process';
import { promises as fsp } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { startProxyServer, type ProxyServer } from '../support/proxy-server.js';
import { ensureFixtures } from '../support/corpus.js';
import { catFile, forceUnmount, inProcess, isMounted, listDir, MODFS_BIN, REPO_ROOT, startModfs, statFile, withModfs, type ModfsProcess } from '../support/modfs-process.js';

const run = promisify(execFile);

let work: string;
let mnt: string;
let up: ProxyServer;
let modfs: ModfsProcess;

const DL = 'cache/download/example.com/!upper/!case/@v';
const VDIR = 'example.com/!upper/!case@v1.0.0';
const zipRequests = () => up.requests.filter((r) => r.path.endsWith('.zip'));

before(async () => {
  up = await startProxyServer({ root: await ensureFixtures() });
  work = await fsp.mkdtemp(path.join(os.tmpdir(), 'modfs-mb-'));
  mnt = path.join(work, 'mnt');
  modfs = await startModfs(mnt, ['--store', path.join(work, 'store'), '--upstream', up.url, '--negative-ttl', '1', '--timeout', '1', '--log-level', 'warn']);
});

after(async () => {
  if (process.env.MODFS_TEST_DEBUG) process.stderr.write(modfs?.stderr() ?? '');
  await modfs?.stop('SIGKILL');
  await forceUnmount(mnt);
  await forceUnmount(path.join(work, 'mnt2'));
  await up.close();
  await fsp.rm(work, { recursive: true, force: true });
});

test('a .mod or .info lookup fetches only that file, never the zip', async () => {
  const mod = await catFile(path.join(mnt, DL, 'v1.0.0.mod'));
  assert.equal(mod, 'module example.com/Upper/Case\n\ngo 1.19\n');
  const info = await catFile(path.join(mnt, DL, 'v1.0.0.info'));
  assert.equal(info, '{"Version":"v1.0.0","Time":"2024-01-02T03:04:05Z"}');
  assert.equal(zipRequests().length, 0);
  assert.deepEqual(await listDir(path.join(mnt, DL)), ['list', 'v1.0.0.info', 'v1.0.0.mod']);
  assert.equal(await catFile(path.join(mnt, DL, 'list')), 'v1.0.0\n');
});

test('concurrent first lookups of one version share one fetch', async () => {
  const reads = Array.from({ length: 12 }, (_, i) =>
    i % 3 === 0
      ? catFile(path.join(mnt, VDIR, 'upper.go'))
      : i % 3 === 1
        ? catFile(path.join(mnt, DL, 'v1.0.0.ziphash'))
        : statFile(path.join(mnt, DL, 'v1.0.0.zip')),
  );
  const results = await Promise.all(reads);
  assert.match(results[0], /package upper/);
  assert.match(results[1], /^h1:[A-Za-z0-9+/]{43}=$/);
  assert.equal(results[1].length, 47);
  assert.equal(zipRequests().length, 1, 'upstream saw one zip request');
  const [size, mode, mtime] = (await statFile(path.join(mnt, VDIR, 'upper.go'))).split(' ');
  assert.equal(Number(size), Buffer.byteLength(results[0]));
  assert.equal(mode, '444');
  assert.equal(Number(mtime), Date.parse('2024-01-02T03:04:05Z') / 1000);
  assert.equal((await statFile(path.join(mnt, VDIR))).split(' ')[1], '555');
  assert.deepEqual(await listDir(path.join(mnt, 'example.com')), ['!upper']);
  assert.deepEqual(await listDir(path.join(mnt, 'example.com', '!upper')), ['!case@v1.0.0']);
});

test('flock(LOCK_SH) works on the files the go command locks', async () => {
  for (const f of ['v1.0.0.ziphash', 'v1.0.0.mod', 'v1.0.0.info', 'v1.0.0.zip']) {
    await run('flock', ['--shared', '--nonblock', path.join(mnt, DL, f), 'true']);
  }
});

test('files the go command must never see are absent, and hostile paths never reach upstream', async () => {
  const before = up.requests.length;
  const absent = [
    'cache/lock',
    `${DL}/v1.0.0.lock`,
    `${DL}/v1.0.0.partial`,
    `${DL}/v1.0.0.info123456.tmp`,
    `${VDIR}.partial`,
    `${VDIR}.lock`,
    'example.com/Upper/Case@v1.0.0',
    'example.com/!upper/!case@v1.0',
    'example.com/!upper/!case@v1.0.0+meta',
    'example.com/!upper/!case@V1.0.0',
    'example.com/!/x@v1.0.0',
    'example.com/!!x@v1.0.0',
    'example.com/x/v2@v1.0.0',
    'example.com/x@v2.0.0',
    'nodot@v1.0.0',
    `${VDIR}/nope.go`,
    'x'.repeat(255),
    'a.' + 'x'.repeat(300),
    'example.com/' + 'y/'.repeat(2100) + 'z@v1.0.0',
    'example.com/' + 'a'.repeat(250) + '@v1.0.0', // element of 257 bytes
  ];
  for (const p of absent) {
    await assert.rejects(statFile(path.join(mnt, p)), (e: NodeJS.ErrnoException) => {
      assert.ok(e.code === 'ENOENT' || e.code === 'ENAMETOOLONG', `${p}: ${e.code}`);
      return true;
    });
  }
  assert.equal(up.requests.length, before, 'no upstream request for any of them');
});

test('404 answers ENOENT, 500 answers EIO with a log line, both remembered briefly, then recovery', async () => {
  const missing = path.join(mnt, 'example.com/missing@v1.0.0');
  await assert.rejects(statFile(missing), { code: 'ENOENT' });

  up.setFault('/example.com/pseudo/@v/v0.0.0-20240102030405-abcdefabcdef.zip', { status: 500 });
  const pseudo = path.join(mnt, 'example.com/pseudo@v0.0.0-20240102030405-abcdefabcdef');
  await assert.rejects(statFile(pseudo), { code: 'EIO' });
  const zipCount = zipRequests().length;
  await assert.rejects(statFile(path.join(pseudo, 'pseudo.go')), { code: 'EIO' });
  await assert.rejects(statFile(path.join(mnt, 'cache/download/example.com/pseudo/@v/v0.0.0-20240102030405-abcdefabcdef.ziphash')), { code: 'EIO' });
  assert.equal(zipRequests().length, zipCount, 'the failure is remembered: no new request');
  assert.match(modfs.stderr(), /example\.com\/pseudo@v0\.0\.0-20240102030405-abcdefabcdef: GET http:\/\/127\.0\.0\.1:\d+\/example\.com\/pseudo\/@v\/v0\.0\.0-20240102030405-abcdefabcdef\.zip: 500/);

  up.clearFaults();
  await new Promise((r) => setTimeout(r, 1300));
  assert.match(await catFile(path.join(pseudo, 'pseudo.go')), /pseudo-version/);
});

test('a stalled, reset or truncated zip answers EIO promptly, stores nothing, and recovers', async () => {
  const cases = [
    { dir: 'example.com/nested@v1.0.0', zip: '/example.com/nested/@v/v1.0.0.zip', fault: { stallMs: 20000 }, cause: /timed out/ },
    { dir: 'example.com/incompat@v2.0.0+incompatible', zip: '/example.com/incompat/@v/v2.0.0+incompatible.zip', fault: { reset: true as const }, cause: /ECONNRESET|socket hang up/ },
    { dir: 'example.com/unicode@v1.0.0', zip: '/example.com/unicode/@v/v1.0.0.zip', fault: { truncateTo: 100 }, cause: /GET http/ },
  ];
  for (const c of cases) up.setFault(c.zip, c.fault);
  await Promise.all(
    cases.map(async (c) => {
      const t0 = Date.now();
      await assert.rejects(statFile(path.join(mnt, c.dir)), { code: 'EIO' });
      // One try plus two retries, each cut at the 1 s timeout (--timeout 1).
      assert.ok(Date.now() - t0 < 8000, `${c.dir}: EIO after ${Date.now() - t0} ms`);
    }),
  );
  const refs = (await inProcess('git', ['--git-dir', path.join(work, 'store', 'git'), 'for-each-ref', '--format=%(refname)'])).split('\n');
  for (const c of cases) {
    const module = c.dir.split('@')[0];
    assert.ok(!refs.some((r) => r.startsWith(`refs/modfs/zip/${module}/@v/`)), `${module}: nothing stored`);
    assert.match(modfs.stderr(), new RegExp(`${module.replace(/[.+]/g, '\\$&')}@v[^ ]*: GET http://127\\.0\\.0\\.1:\\d+${c.zip.replace(/[.+]/g, '\\$&')}: `));
  }
  up.clearFaults();
  await new Promise((r) => setTimeout(r, 1300));
  for (const c of cases) assert.ok((await listDir(path.join(mnt, c.dir))).includes('go.mod') || c.dir.includes('incompat'), c.dir);
  assert.match(await catFile(path.join(mnt, 'example.com/incompat@v2.0.0+incompatible/incompat.go')), /package incompat/);
});

test('a second modfs on a live mount point refuses with a clear message', async () => {
  const r = await new Promise<{ code: number | null; err: string }>((resolve) => {
    const p = spawn(MODFS_BIN, ['mount', mnt, '--store', path.join(work, 'store2'), '--offline']);
    let err = '';
    p.stderr.on('data', (d) => (err += d));
    p.on('exit', (code) => resolve({ code, err }));
  });
  assert.equal(r.code, 1);
  assert.match(r.err, /already a mount point/);
  assert.ok(await isMounted(mnt));
});

test('a stale mount left by a killed process is recovered at start', async () => {
  const mnt2 = path.join(work, 'mnt2');
  const first = await startModfs(mnt2, ['--store', path.join(work, 'store'), '--offline']);
  first.proc.kill('SIGKILL');
  await new Promise((r) => first.proc.on('exit', r));
  await assert.rejects(statFile(path.join(mnt2, 'cache')), { code: 'ENOTCONN' });
  const second = await startModfs(mnt2, ['--store', path.join(work, 'store'), '--offline']);
  assert.match(await catFile(path.join(mnt2, VDIR, 'upper.go')), /package upper/);
  assert.equal(await second.stop('SIGTERM'), 0);
  assert.equal(await isMounted(mnt2), false);
});

test('after the kernel forgets its inodes (dentry cache dropped) every path resolves again to the same bytes', async () => {
  // Inode numbers are handed out per path and dropped on FORGET; a wrong count would turn a
  // later access into ESTALE or a different file.
  const mnt3 = path.join(work, 'mnt3');
  await fsp.mkdir(mnt3);
  await withModfs(mnt3, ['--store', path.join(work, 'store'), '--upstream', up.url, '--log-level', 'info'], async (m) => {
    const dirs = ['example.com/unicode@v1.0.0', 'example.com/nested@v1.0.0', VDIR].map((d) => path.join(mnt3, d));
    // find -type relies on the d_type of each entry; sha256sum reads every file.
    const snapshot = async () => ({
      files: await inProcess('find', [...dirs, '-type', 'f']).then((s) => s.split('\n').filter(Boolean).sort()),
      dirs: await inProcess('find', [...dirs, '-type', 'd']).then((s) => s.split('\n').filter(Boolean).sort()),
      sums: await inProcess('sh', ['-c', `find ${dirs.map((d) => `'${d}'`).join(' ')} -type f -exec sha256sum {} + | sort`]),
    });
    const first = await snapshot();
    assert.ok(first.files.some((f) => f.endsWith('/données/é.txt')), 'non-ASCII name listed as a file');
    assert.ok(first.dirs.some((d) => d.endsWith('/données')), 'subdirectory listed as a directory');
    assert.equal(first.files.length, 7);
    await fsp.writeFile('/proc/sys/vm/drop_caches', '2');
    assert.deepEqual(await snapshot(), first);
    assert.equal(await m.stop('SIGTERM'), 0);
    const served = /served .*?(\d+) forget/.exec(m.stderr());
    assert.ok(served && Number(served[1]) > 0, `the kernel sent FORGET requests: ${served?.[0]}`);
  });
});

test('a list file read before a version is fetched shows the version right after', async () => {
  // The kernel keeps pages across opens; only the list file's attributes tell it they changed.
  const mnt4 = path.join(work, 'mnt4');
  await fsp.mkdir(mnt4);
  const m = await startModfs(mnt4, ['--store', path.join(work, 'store4'), '--upstream', up.url]);
  try {
    const list = path.join(mnt4, 'cache/download/example.com/unicode/@v/list');
    assert.equal(await catFile(list), '');
    await statFile(path.join(mnt4, 'example.com/unicode@v1.0.0'));
    assert.equal(await catFile(list), 'v1.0.0\n');
  } finally {
    await m.stop('SIGTERM');
    await forceUnmount(mnt4);
  }
});

test('listing a directory inside a version puts its small files into the page cache before any read', async () => {
  const mnt5 = path.join(work, 'mnt5');
  await fsp.mkdir(mnt5);
  await withModfs(mnt5, ['--store', path.join(work, 'store'), '--upstream', up.url, '--log-level', 'info'], async (m) => {
    const dir = path.join(mnt5, 'example.com/unicode@v1.0.0/données');
    assert.deepEqual(await listDir(dir), ['é.txt']);
    // fincore maps the file and asks which pages are resident: it reads nothing itself.
    const resident = () => inProcess('fincore', ['--raw', '--noheadings', '--bytes', '--output', 'RES', path.join(dir, 'é.txt')]).then((s) => Number(s.trim()));
    let res = await resident();
    for (let i = 0; i < 50 && res === 0; i++) {
      await new Promise((r) => setTimeout(r, 100));
      res = await resident();
    }
    assert.ok(res > 0, 'the listed file is in the page cache without having been read');
    assert.equal(await catFile(path.join(dir, 'é.txt')), await fsp.readFile(path.join(REPO_ROOT, 'fixtures/modules/example.com/unicode@v1.0.0/données/é.txt'), 'utf8'));
    assert.equal(await m.stop('SIGTERM'), 0);
    assert.match(m.stderr(), / 0 read, .* [1-9]\d* files prefetched/);
  });
});

test('a file read after its push into the page cache, when its pages are gone, is answered in C from the pushed content', async () => {
  const mnt8 = path.join(work, 'mnt8');
  await fsp.mkdir(mnt8);
  const V = 'example.com/unicode@v1.0.0';
  const want = await fsp.readFile(path.join(REPO_ROOT, 'fixtures/modules', V, 'données/é.txt'), 'utf8');
  await withModfs(mnt8, ['--store', path.join(work, 'store8'), '--upstream', up.url, '--log-level', 'info'], async (m) => {
    // The version root is listed first: données's file is then read ahead, pushed when données is listed.
    assert.deepEqual((await listDir(path.join(mnt8, V))).sort(), ['données', 'go.mod', 'unicode.go']);
    const file = path.join(mnt8, V, 'données', 'é.txt');
    assert.deepEqual(await listDir(path.join(mnt8, V, 'données')), ['é.txt']);
    const resident = () => inProcess('fincore', ['--raw', '--noheadings', '--bytes', '--output', 'RES', file]).then((s) => Number(s.trim()));
    for (let i = 0; i < 50 && (await resident()) === 0; i++) await new Promise((r) => setTimeout(r, 100));
    assert.ok((await resident()) > 0, 'pushed');
    // Drop the file's pages (fadvise DONTNEED): the next read reaches the filesystem, as a read that beat its push does.
    await inProcess('dd', [`if=${file}`, 'iflag=nocache', 'count=0', 'status=none']);
    assert.equal(await resident(), 0);
    assert.equal(await catFile(file), want);
    assert.equal(await m.stop('SIGTERM'), 0);
    assert.match(m.stderr(), / 0 read, /);
    const fromPushes = Number(/(\d+) reads racing their page-cache push/.exec(m.stderr())?.[1]);
    assert.ok(fromPushes >= 1, m.stderr());
  });
});

test('a mount that has served requests hands freed memory back; one left idle does not', async () => {
  const mnt6 = path.join(work, 'mnt6');
  await fsp.mkdir(mnt6);
  const trims = (m: ModfsProcess) => Number(/(\d+) memory trims/.exec(m.stderr())?.[1]);
  await withModfs(mnt6, ['--store', path.join(work, 'store'), '--offline', '--log-level', 'info'], async (idle) => {
    await new Promise((r) => setTimeout(r, 500));
    assert.equal(await idle.stop('SIGTERM'), 0);
    // Something on the host may look at a new mount once; that is one burst, not a steady trim.
    const served = /served (.*?) files prefetched/.exec(idle.stderr())?.[1] ?? '';
    const requests = [...served.matchAll(/(\d+) \w+/g)].reduce((n, x) => n + Number(x[1]), 0);
    assert.ok(trims(idle) <= (requests > 0 ? 1 : 0), idle.stderr());
  });
  await withModfs(mnt6, ['--store', path.join(work, 'store6'), '--upstream', up.url, '--log-level', 'info'], async (busy) => {
    await statFile(path.join(mnt6, 'example.com/unicode@v1.0.0'));
    await inProcess('find', [path.join(mnt6, 'example.com/unicode@v1.0.0'), '-type', 'f']);
    await new Promise((r) => setTimeout(r, 500));
    assert.equal(await busy.stop('SIGTERM'), 0);
    assert.ok(trims(busy) >= 1, busy.stderr());
  });
});

test('names that cannot exist (go.mod below a version root, download locks) are answered in C, once, and the rest still by the store', async () => {
  const mnt7 = path.join(work, 'mnt7');
  await fsp.mkdir(mnt7);
  const V = 'example.com/unicode@v1.0.0';
  const absent = (m: ModfsProcess) => Number(/answered in C: (\d+) lookups of names that cannot exist/.exec(m.stderr())?.[1]);
  await withModfs(mnt7, ['--store', path.join(work, 'store7'), '--upstream', up.url, '--log-level', 'info'], async (m) => {
    const missing = async (p: string) => assert.equal(await fsp.stat(p).then(() => 'exists', (e: NodeJS.ErrnoException) => e.code), 'ENOENT', p);
    for (let i = 0; i < 2; i++) {
      await missing(path.join(mnt7, V, 'données', 'go.mod'));
      await missing(path.join(mnt7, 'cache/download/example.com/unicode/@v/v1.0.0.partial'));
      // The version root has its go.mod, and other names below the root are the store's to answer.
      assert.match(await catFile(path.join(mnt7, V, 'go.mod')), /^module example.com\/unicode/);
      await missing(path.join(mnt7, V, 'données', 'go.sum'));
      assert.ok((await fsp.stat(path.join(mnt7, V, 'données', 'é.txt'))).isFile());
    }
    assert.equal(await m.stop('SIGTERM'), 0);
    // Two names, each asked once: the kernel keeps the negative answer.
    assert.equal(absent(m), 2, m.stderr());
  });
});

test('a go.mod below go 1.17 read through the mount has the go.mod files it requires fetched ahead (unless --mod-read-ahead 0)', async () => {
  const tree = path.join(work, 'graph');
  const write = async (module: string, body: string) => {
    const at = path.join(tree, module, '@v');
    await fsp.mkdir(at, { recursive: true });
    await fsp.writeFile(path.join(at, 'v1.0.0.mod'), body);
    await fsp.writeFile(path.join(at, 'v1.0.0.info'), '{"Version":"v1.0.0","Time":"2024-01-02T03:04:05Z"}');
  };
  await write('example.com/old', 'module example.com/old\n\ngo 1.16\n\nrequire example.com/dep v1.0.0\n');
  await write('example.com/dep', 'module example.com/dep\n\ngo 1.19\n');
  const graphUp = await startProxyServer({ root: tree });
  const depMod = () => graphUp.requests.filter((r) => r.path === '/example.com/dep/@v/v1.0.0.mod').length;
  const mnt9 = path.join(work, 'mnt9');
  try {
    await fsp.mkdir(mnt9);
    for (const ahead of ['0', '4']) {
      await withModfs(mnt9, ['--store', path.join(work, `store9-${ahead}`), '--upstream', graphUp.url, '--mod-read-ahead', ahead], async () => {
        const before = depMod();
        assert.match(await catFile(path.join(mnt9, 'cache/download/example.com/old/@v/v1.0.0.mod')), /require example.com\/dep/);
        if (ahead === '0') {
          await new Promise((r) => setTimeout(r, 300));
          assert.equal(depMod(), before, 'nothing fetched ahead');
          return;
        }
        for (let i = 0; i < 250 && depMod() === before; i++) await new Promise((r) => setTimeout(r, 20));
        assert.equal(depMod(), before + 1, 'fetched ahead, once');
        // ... and stored: reading it asks the upstream for nothing more.
        assert.equal(await catFile(path.join(mnt9, 'cache/download/example.com/dep/@v/v1.0.0.mod')), 'module example.com/dep\n\ngo 1.19\n');
        assert.equal(depMod(), before + 1);
      });
    }
  } finally {
    await graphUp.close();
  }
});
