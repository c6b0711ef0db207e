import { test } from 'node:test';
import assert from 'node:assert/strict';
import { resolvePath } from '../../lib/fs/namespace.js';

test('module version directories and files inside them', () => {
  assert.deepEqual(resolvePath('/github.com/!burnt!sushi/toml@v1.2.0'), {
    kind: 'module-entry', module: 'github.com/BurntSushi/toml', version: 'v1.2.0', rel: '',
  });
  assert.deepEqual(resolvePath('/github.com/!burnt!sushi/toml@v1.2.0/internal/tz.go'), {
    kind: 'module-entry', module: 'github.com/BurntSushi/toml', version: 'v1.2.0', rel: 'internal/tz.go',
  });
  assert.deepEqual(resolvePath('/example.com/x@v1.0.0-!r!c1'), {
    kind: 'module-entry', module: 'example.com/x', version: 'v1.0.0-RC1', rel: '',
  });
  assert.deepEqual(resolvePath('/example.com/incompat@v2.0.0+incompatible'), {
    kind: 'module-entry', module: 'example.com/incompat', version: 'v2.0.0+incompatible', rel: '',
  });
});

test('cache/download files', () => {
  assert.deepEqual(resolvePath('/cache/download/github.com/spf13/cobra/@v/v1.6.1.mod'), {
    kind: 'version-file', module: 'github.com/spf13/cobra', version: 'v1.6.1', ext: 'mod',
  });
  for (const ext of ['info', 'zip', 'ziphash'] as const) {
    assert.equal((resolvePath(`/cache/download/gopkg.in/yaml.v3/@v/v3.0.1.${ext}`) as { ext: string }).ext, ext);
  }
  assert.deepEqual(resolvePath('/cache/download/github.com/spf13/cobra/@v/list'), {
    kind: 'list', module: 'github.com/spf13/cobra', escaped: 'github.com/spf13/cobra',
  });
  assert.deepEqual(resolvePath('/cache/download/github.com/spf13/cobra/@v'), {
    kind: 'version-dir', module: 'github.com/spf13/cobra', escaped: 'github.com/spf13/cobra',
  });
  assert.deepEqual(resolvePath('/cache/download/github.com/spf13'), { kind: 'download-prefix', escaped: 'github.com/spf13' });
  assert.deepEqual(resolvePath('/cache/download'), { kind: 'download-prefix', escaped: '' });
  assert.deepEqual(resolvePath('/cache'), { kind: 'cache' });
  assert.deepEqual(resolvePath('/'), { kind: 'root' });
  assert.deepEqual(resolvePath('/github.com/spf13'), { kind: 'module-prefix', escaped: 'github.com/spf13' });
});

test('what the go command never asks for, or must never see, is rejected', () => {
  const rejected = [
    '/cache/lock',
    '/cache/download/github.com/spf13/cobra/@v/v1.6.1.lock',
    '/cache/download/github.com/spf13/cobra/@v/v1.6.1.info123456.tmp',
    '/cache/download/github.com/spf13/cobra/@v/v1.6.1.zip98765.tmp',
    '/github.com/spf13/cobra@v1.6.1.partial',
    '/github.com/spf13/cobra@v1.6.1.lock',
    '/github.com/BurntSushi/toml@v1.2.0', // capitals not escaped
    '/github.com/!/toml@v1.2.0', // bad escape
    '/github.com/!!x/toml@v1.2.0',
    '/github.com/spf13/cobra@v1.2', // not canonical
    '/github.com/spf13/cobra@latest',
    '/github.com/spf13/cobra@v1.6.1+meta', // build metadata is not canonical
    '/github.com/spf13/cobra/v2@v1.0.0', // major mismatch
    '/github.com/spf13/cobra@v2.0.0', // v2 without /v2 or +incompatible
    '/github.com/../etc@v1.0.0',
    '/github.com/./x@v1.0.0',
    '/nodot@v1.0.0',
    '/.git',
    '/cache/download/sumdb/sum.golang.org/lookup/x',
    '/cache/download/github.com/spf13/cobra/@v/v1.6.1.mod/x',
    '/cache/download/github.com/spf13/cobra/@v/v1.6.1.txt',
    '/x'.repeat(2100),
    '/github.com/' + 'a'.repeat(256) + '@v1.0.0',
  ];
  for (const p of rejected) assert.equal(resolvePath(p).kind, 'reject', p);
});
