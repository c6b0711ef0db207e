// Case-escaping of module paths and versions (module.EscapePath & co.). Expected values
// are the behaviour of Go 1.19's golang.org/x/mod/module, checked against it directly.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { escapePath, escapeVersion, unescapePath, unescapeVersion, GoModError } from '../../lib/gomod/index.js';

const isGoModError = (code?: string) => (e: unknown): boolean => {
  assert.ok(e instanceof GoModError, `not a GoModError: ${String(e)}`);
  if (code) assert.equal(e.code, code, e.message);
  return true;
};

test('module paths escape capitals as !lower and unescape back', () => {
  const table: Array<[string, string]> = [
    ['github.com/BurntSushi/toml', 'github.com/!burnt!sushi/toml'],
    ['github.com/GoogleCloudPlatform/omega', 'github.com/!google!cloud!platform/omega'],
    ['github.com/Masterminds/semver/v3', 'github.com/!masterminds/semver/v3'],
    ['github.com/Azure/AZURE-sdk', 'github.com/!azure/!a!z!u!r!e-sdk'],
    ['ascii.com/abcdefghijklmnopqrstuvwxyz.-/~_0123456789', 'ascii.com/abcdefghijklmnopqrstuvwxyz.-/~_0123456789'],
    ['golang.org/x/text', 'golang.org/x/text'],
    ['gopkg.in/yaml.v3', 'gopkg.in/yaml.v3'],
  ];
  for (const [path, escaped] of table) {
    assert.equal(escapePath(path), escaped, path);
    assert.equal(unescapePath(escaped), path, escaped);
  }
});

test('versions escape the same way and need not be semver', () => {
  const table: Array<[string, string]> = [
    ['v1.0.0-RC1', 'v1.0.0-!r!c1'],
    ['v1.2.3', 'v1.2.3'],
    ['v2.0.0+incompatible', 'v2.0.0+incompatible'],
    ['v0.0.0-20191109021931-daa7c04131f5', 'v0.0.0-20191109021931-daa7c04131f5'],
    ['latest', 'latest'],
    ['Master', '!master'],
    ['v1.0.0-Beta.X', 'v1.0.0-!beta.!x'],
  ];
  for (const [v, escaped] of table) {
    assert.equal(escapeVersion(v), escaped, v);
    assert.equal(unescapeVersion(escaped), v, escaped);
  }
});

test('unescapePath rejects bad escapes, raw capitals and invalid results', () => {
  const bad = [
    'github.com/!', // '!' at the end
    'github.com/!!x', // '!' not followed by a lower-case letter
    'github.com/Upper', // raw capital
    'github.com/GoogleCloudPlatform/omega',
    'github.com/!google!cloud!platform!/omega',
    'github.com/!0google/omega',
    'github.com/!_google/omega',
    'github.com/!123/logrus',
    '!github.com/x', // unescapes to a capital in the first element
    'github.com/x\u00e9', // non-ASCII
    'github.com/x/v1', // valid escape, invalid module path
    'nodot/x',
    '',
  ];
  for (const s of bad) assert.throws(() => unescapePath(s), isGoModError('escape-invalid'), JSON.stringify(s));
});

test('escapePath rejects paths that checkPath rejects', () => {
  for (const s of ['', 'X.com/y', 'x.com/y/v1', 'x.com/a b', 'x.com/!x', 'x.com/\u00e9', 'x.com//y']) {
    assert.throws(() => escapePath(s), isGoModError('invalid-module-path'), JSON.stringify(s));
  }
});

test('escapeVersion rejects what is not a file-name element, and "!"', () => {
  const bad = ['', 'v1.0.0!', 'v1.0.0/x', 'v1.0.0\\x', 'v1.0.0:x', 'v1.0.0.', '..', 'v1.0.0\u00e9', 'con', 'v1 "x"', 'v1*', 'v1\0'];
  for (const v of bad) assert.throws(() => escapeVersion(v), isGoModError('version-disallowed'), JSON.stringify(v));
});

test('unescapeVersion rejects bad escapes and bad results', () => {
  for (const v of ['v1.0.0-!', 'v1.0.0-!R', 'v1.0.0-RC1', 'v1.0.0-!!r', '', 'v1/x', 'nul']) {
    assert.throws(() => unescapeVersion(v), isGoModError('escape-invalid'), JSON.stringify(v));
  }
});
