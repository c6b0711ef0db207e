// Module, import and file path rules and module version checks (golang.org/x/mod/module).
// Table facts come from x/mod's module_test.go, corrected to Go 1.19 (the version modfs targets;
// later x/mod allows '+' in module paths and refuses leading dots in import paths) by running
// Go 1.19's own module package on every row.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  checkFilePath, checkImportPath, checkModuleVersion, checkPath, checkPathMajor, canonicalVersion, splitPathVersion,
  GoModError,
} from '../../lib/gomod/index.js';

const passes = (f: () => void): boolean => {
  try {
    f();
    return true;
  } catch (e) {
    assert.ok(e instanceof GoModError, `not a GoModError: ${String(e)}`);
    return false;
  }
};

// [path, module ok, import ok, file ok]
const PATHS: Array<[string, boolean, boolean, boolean]> = [
  ['x.y/z', true, true, true],
  ['x.y', true, true, true],
  ['', false, false, false],
  ['x.y/\ud800z', false, false, false], // invalid UTF-8 in Go terms
  ['/x.y/z', false, false, false],
  ['x./z', false, false, false],
  ['.x/z', false, true, true], // Go 1.19 allows a leading dot in import paths (newer x/mod does not)
  ['-x/z', false, false, true], // Go 1.19: a leading dash is fine in a file path
  ['x..y/z', true, true, true],
  ['x.y/z/../../w', false, false, false],
  ['x.y//z', false, false, false],
  ['x.y/z//w', false, false, false],
  ['x.y/z/', false, false, false],
  ['x.y/z/v0', false, true, true],
  ['x.y/z/v1', false, true, true],
  ['x.y/z/v2', true, true, true],
  ['x.y/z/v2.0', false, true, true],
  ['x.y/z/v01', false, true, true],
  ['x.y/z/v10', true, true, true],
  ['X.y/z', false, true, true],
  ['!x.y/z', false, false, true],
  ['_x.y/z', false, true, true],
  ['x.y!/z', false, false, true],
  ['x.y"/z', false, false, false],
  ['x.y#/z', false, false, true],
  ["x.y'/z", false, false, false],
  ['x.y*/z', false, false, false],
  ['x.y+/z', false, true, true],
  ['x.y-/z', true, true, true],
  ['x.y:/z', false, false, false],
  ['x.y;/z', false, false, false],
  ['x.y</z', false, false, false],
  ['x.y=/z', false, false, true],
  ['x.y?/z', false, false, false],
  ['x.y@/z', false, false, true],
  ['x.y\\/z', false, false, false],
  ['x.y`/z', false, false, false],
  ['x.y~/z', false, true, true],
  ['x.y/z+', false, true, true], // Go 1.19: '+' only in import paths
  ['x.y/z.t', true, true, true],
  ['x.y/z_', true, true, true],
  ['x.y/z~', true, true, true],
  ['x.y/z ', false, false, true],
  ['x.y/x.foo', true, true, true],
  ['x.y/aux.foo', false, false, false],
  ['x.y/prn', false, false, false],
  ['x.y/PRN', false, false, false],
  ['x.y/prn2', true, true, true],
  ['x.y/com', true, true, true],
  ['x.y/com1', false, false, false],
  ['x.y/com1.txt', false, false, false],
  ['x.y/Lpt9', false, false, false],
  ['x.y/com0', true, true, true],
  ['x.y/calm1', true, true, true],
  ['x.y/a~1', false, false, true], // looks like a Windows short name
  ['x.y/a~1.go', false, false, true],
  ['x.y/a~b1', true, true, true],
  ['x.y/~', true, true, true],
  ['x.y/.hidden', false, true, true],
  ['x.y/trailing.', false, false, false],
  ['x.y/...', false, false, false],
  ['github.com/!123/logrus', false, false, true],
  ['github.com/user/unicode/испытание', false, false, true],
  ['x.y/z\u2603', false, false, false], // a symbol, not a letter
  ['../x', false, false, false],
  ['./y', false, false, false],
  ['x:y', false, false, false],
  ['\\temp\\foo', false, false, false],
  ['.gitignore', false, true, true],
  ['.github/ISSUE_TEMPLATE', false, true, true],
  ['-leading-dash.go', false, false, true],
  ['x.com:80/y', false, false, false],
  ['x_y.com/z', false, true, true],
  ['gopkg.in/yaml', false, true, true],
  ['gopkg.in/yaml.v2', true, true, true],
  ['gopkg.in/yaml.v0', true, true, true],
  ['gopkg.in/yaml.v01', false, true, true],
  ['gopkg.in/yaml.v2-unstable', true, true, true],
  ['gopkg.in/x/y.v3', true, true, true],
];

test('checkPath / checkImportPath / checkFilePath', () => {
  for (const [path, mod, imp, file] of PATHS) {
    assert.equal(passes(() => checkPath(path)), mod, `checkPath(${JSON.stringify(path)})`);
    assert.equal(passes(() => checkImportPath(path)), imp, `checkImportPath(${JSON.stringify(path)})`);
    assert.equal(passes(() => checkFilePath(path)), file, `checkFilePath(${JSON.stringify(path)})`);
  }
});

test('errors name the kind of path', () => {
  assert.throws(() => checkPath('x.y/z/v1'), (e: GoModError) => e.code === 'invalid-module-path' && /invalid version/.test(e.message));
  assert.throws(() => checkImportPath('x y'), (e: GoModError) => e.code === 'invalid-import-path');
  assert.throws(() => checkFilePath('a\\b'), (e: GoModError) => e.code === 'invalid-file-path');
  assert.throws(() => checkPath('nodot/x'), /missing dot in first path element/);
});

test('splitPathVersion', () => {
  const ok: Array<[string, string, string]> = [
    ['x.y/z', 'x.y/z', ''],
    ['x.y/z/v2', 'x.y/z', '/v2'],
    ['x.y/z/v3', 'x.y/z', '/v3'],
    ['x.y/v', 'x.y/v', ''],
    ['x.y/z/V2', 'x.y/z/V2', ''],
    ['x.y/zv2', 'x.y/zv2', ''],
    ['v2', 'v2', ''],
    ['gopkg.in/yaml.v0', 'gopkg.in/yaml', '.v0'],
    ['gopkg.in/yaml.v1', 'gopkg.in/yaml', '.v1'],
    ['gopkg.in/yaml.v3', 'gopkg.in/yaml', '.v3'],
    ['gopkg.in/yaml.v2-unstable', 'gopkg.in/yaml', '.v2-unstable'],
  ];
  for (const [path, prefix, pathMajor] of ok) assert.deepEqual(splitPathVersion(path), { prefix, pathMajor }, path);
  for (const path of ['x.y/z/v0', 'x.y/z/v1', 'x.y/z/v01', 'x.y/z/v2.0', 'gopkg.in/yaml', 'gopkg.in/yaml.v01', 'gopkg.in/v1']) {
    assert.equal(splitPathVersion(path), null, path);
  }
});

test('checkPathMajor', () => {
  const table: Array<[string, string, boolean]> = [
    ['v0.0.0', '', true],
    ['v0.0.0', '/v2', false],
    ['v0.0.0', '.v0', true],
    ['v0.0.0-20190510104115-cbcb75029529', '.v1', true],
    ['v1.0.0', '/v2', false],
    ['v1.0.0', '.v1', true],
    ['v1.0.0', '.v1-unstable', true],
    ['v2.0.0+incompatible', '', true],
    ['v2.0.0', '', false],
    ['v2.0.0', '/v2', true],
    ['v2.0.0', '.v2', true],
    ['v2.0.0', 'v2', false], // no separator: never matches
    ['bad', '', false],
  ];
  for (const [v, pm, want] of table) assert.equal(passes(() => checkPathMajor(v, pm)), want, `${v} ${pm}`);
});

test('canonicalVersion keeps +incompatible, drops other build metadata', () => {
  assert.equal(canonicalVersion('v2.0.0+incompatible'), 'v2.0.0+incompatible');
  assert.equal(canonicalVersion('v2+incompatible'), ''); // "v2+meta" is not semver at all
  assert.equal(canonicalVersion('v1.2.3+meta'), 'v1.2.3');
  assert.equal(canonicalVersion('v1.2'), 'v1.2.0');
  assert.equal(canonicalVersion('bad'), '');
});

test('checkModuleVersion: module.Check plus canonical form and +incompatible rules', () => {
  const table: Array<[string, string, boolean]> = [
    // module.Check's own table
    ['rsc.io/quote', '0.1.0', false],
    ['rsc io/quote', 'v1.0.0', false],
    ['github.com/go-yaml/yaml', 'v0.8.0', true],
    ['github.com/go-yaml/yaml', 'v1.0.0', true],
    ['github.com/go-yaml/yaml', 'v2.0.0', false],
    ['github.com/go-yaml/yaml', 'v3.0.0', false],
    ['github.com/go-yaml/yaml/v2', 'v1.0.0', false],
    ['github.com/go-yaml/yaml/v2', 'v2.0.0', true],
    ['github.com/go-yaml/yaml/v2', 'v2.1.5', true],
    ['github.com/go-yaml/yaml/v2', 'v3.0.0', false],
    ['gopkg.in/yaml.v0', 'v0.8.0', true],
    ['gopkg.in/yaml.v0', 'v1.0.0', false],
    ['gopkg.in/yaml.v1', 'v0.8.0', false],
    ['gopkg.in/yaml.v1', 'v1.0.0', true],
    ['gopkg.in/yaml.v1', 'v2.0.0', false],
    ['gopkg.in/check.v1', 'v0.0.0', false],
    ['gopkg.in/check.v1', 'v0.0.0-20160102150405-abcdef123456', true],
    ['gopkg.in/yaml.v2', 'v1.0.0', false],
    ['gopkg.in/yaml.v2', 'v2.0.0', true],
    ['gopkg.in/yaml.v2', 'v2.1.5', true],
    ['gopkg.in/yaml.v2-unstable', 'v2.1.5', true],
    ['rsc.io/quote', 'v17.0.0', false],
    ['rsc.io/quote', 'v17.0.0+incompatible', true],
    // stricter than module.Check: what the module cache may hold
    ['x.com/y', 'v1.2', false],
    ['x.com/y', 'v1', false],
    ['x.com/y', 'v1.0.0+meta', false],
    ['x.com/y', 'v1.0.0+incompatible', false],
    ['x.com/y', 'v0.1.0+incompatible', false],
    ['x.com/y/v2', 'v2.0.0+incompatible', false],
    ['gopkg.in/yaml.v2', 'v2.0.0+incompatible', false],
    ['x.com/y', 'v2.0.0+incompatible.1', false],
    ['x.com/y', 'latest', false],
    ['x.com/y', 'v1.2.4-0.20191109021931-daa7c04131f5', true],
    ['x.com/y', 'v2.0.1-0.20191109021931-daa7c04131f5+incompatible', true],
    ['x.com/y/v3', 'v3.0.0-RC1', true],
  ];
  for (const [p, v, want] of table) assert.equal(passes(() => checkModuleVersion(p, v)), want, `${p}@${v}`);
  assert.throws(() => checkModuleVersion('x.com/y', 'v1.2'), (e: GoModError) => e.code === 'version-not-canonical');
  assert.throws(() => checkModuleVersion('x.com/y', 'latest'), (e: GoModError) => e.code === 'version-invalid');
  assert.throws(() => checkModuleVersion('x.com/y/v2', 'v2.0.0+incompatible'), (e: GoModError) => e.code === 'version-incompatible');
  assert.throws(() => checkModuleVersion('x.com/y/v2', 'v3.0.0'), (e: GoModError) => e.code === 'version-major-mismatch');
  assert.throws(() => checkModuleVersion('X.com/y', 'v1.0.0'), (e: GoModError) => e.code === 'invalid-module-path');
});
