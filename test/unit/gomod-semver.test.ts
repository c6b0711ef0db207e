// golang.org/x/mod/semver and module/pseudo.go. The ordered table and the pseudo-version
// facts are x/mod's semver_test.go and results of Go 1.19's module package.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  build, canonical, compare, isPrerelease, isPseudoVersion, isValid, isZeroPseudoVersion, major, majorMinor, max,
  prerelease, pseudoVersionBase, pseudoVersionRev, pseudoVersionTime, sortVersions, GoModError,
} from '../../lib/gomod/index.js';

// In ascending order; versions with the same canonical form are equal. '' = invalid.
const ORDERED: Array<[string, string]> = [
  ['bad', ''],
  ['v1-alpha.beta.gamma', ''],
  ['v1-pre', ''],
  ['v1+meta', ''],
  ['v1-pre+meta', ''],
  ['v1.2-pre', ''],
  ['v1.2+meta', ''],
  ['v1.2-pre+meta', ''],
  ['v1.0.0-alpha', 'v1.0.0-alpha'],
  ['v1.0.0-alpha.1', 'v1.0.0-alpha.1'],
  ['v1.0.0-alpha.beta', 'v1.0.0-alpha.beta'],
  ['v1.0.0-beta', 'v1.0.0-beta'],
  ['v1.0.0-beta.2', 'v1.0.0-beta.2'],
  ['v1.0.0-beta.11', 'v1.0.0-beta.11'],
  ['v1.0.0-rc.1', 'v1.0.0-rc.1'],
  ['v1', 'v1.0.0'],
  ['v1.0', 'v1.0.0'],
  ['v1.0.0', 'v1.0.0'],
  ['v1.2', 'v1.2.0'],
  ['v1.2.0', 'v1.2.0'],
  ['v1.2.3-456', 'v1.2.3-456'],
  ['v1.2.3-456.789', 'v1.2.3-456.789'],
  ['v1.2.3-456-789', 'v1.2.3-456-789'],
  ['v1.2.3-456a', 'v1.2.3-456a'],
  ['v1.2.3-pre', 'v1.2.3-pre'],
  ['v1.2.3-pre+meta', 'v1.2.3-pre'],
  ['v1.2.3-pre.1', 'v1.2.3-pre.1'],
  ['v1.2.3-zzz', 'v1.2.3-zzz'],
  ['v1.2.3', 'v1.2.3'],
  ['v1.2.3+meta', 'v1.2.3'],
  ['v1.2.3+meta-pre', 'v1.2.3'],
  ['v1.2.3+meta-pre.sha.256a', 'v1.2.3'],
];

test('isValid and canonical', () => {
  for (const [v, c] of ORDERED) {
    assert.equal(isValid(v), c !== '', v);
    assert.equal(canonical(v), c, v);
  }
  for (const v of ['', 'v', '1.2.3', 'V1.2.3', 'v01.2.3', 'v1.02.3', 'v1.2.03', 'v1.2.3-', 'v1.2.3-01', 'v1.2.3-pre..1', 'v1.2.3+', 'v1.2.3+a..b', 'v1.2.3.4', 'v1.2.3-pré']) {
    assert.equal(isValid(v), false, v);
    assert.equal(canonical(v), '', v);
  }
  for (const v of ['v0.0.0', 'v1.2.3-00a', 'v1.2.3-0', 'v1.2.3+01', 'v1.2.3-x-y.z', 'v2.0.0+incompatible']) assert.equal(isValid(v), true, v);
  assert.equal(canonical('v2.0.0+incompatible'), 'v2.0.0');
});

test('major, majorMinor, prerelease, build', () => {
  const table: Array<[string, string, string, string, string]> = [
    ['v1', 'v1', 'v1.0', '', ''],
    ['v1.2', 'v1', 'v1.2', '', ''],
    ['v1.2.3-pre.1+meta', 'v1', 'v1.2', '-pre.1', '+meta'],
    ['v10.20.30', 'v10', 'v10.20', '', ''],
    ['v2.0.0+incompatible', 'v2', 'v2.0', '', '+incompatible'],
    ['bad', '', '', '', ''],
  ];
  for (const [v, ma, mm, pre, b] of table) {
    assert.equal(major(v), ma, v);
    assert.equal(majorMinor(v), mm, v);
    assert.equal(prerelease(v), pre, v);
    assert.equal(build(v), b, v);
    assert.equal(isPrerelease(v), pre !== '', v);
  }
});

test('compare follows the table order, invalid versions lowest', () => {
  for (let i = 0; i < ORDERED.length; i++) {
    for (let j = 0; j < ORDERED.length; j++) {
      const [vi, ci] = ORDERED[i];
      const [vj, cj] = ORDERED[j];
      const want = ci === cj ? 0 : i < j ? -1 : 1;
      assert.equal(compare(vi, vj), want, `compare(${vi}, ${vj})`);
    }
  }
  assert.equal(compare('v1.19', 'v1.2'), 1);
  assert.equal(compare('v1.2.3-rc.10', 'v1.2.3-rc.9'), 1); // numeric identifiers compare as numbers
  assert.equal(compare('v1.2.3-1', 'v1.2.3-a'), -1); // numeric below alphanumeric
  assert.equal(compare('v1.2.3-A', 'v1.2.3-a'), -1); // ASCII order
  assert.equal(compare('v1.2.3-x.1', 'v1.2.3-x.1.1'), -1); // shorter prefix first
  assert.equal(compare('v10.0.0', 'v9.0.0'), 1);
  assert.equal(max('v1.2', 'v1.10.0'), 'v1.10.0');
  assert.equal(max('v1.2.0+meta', 'bad'), 'v1.2.0');
});

test('sortVersions: semver order, ties broken by string', () => {
  const shuffled = ['v1.2.3', 'v1.0.0-rc.1', 'bad', 'v1.2.3+meta', 'v1.10.0', 'v1.2', 'v0.9.0', 'v1.2.0', 'v2.0.0+incompatible', 'v1.2.3-pre'];
  assert.deepEqual(sortVersions(shuffled), [
    'bad', 'v0.9.0', 'v1.0.0-rc.1', 'v1.2', 'v1.2.0', 'v1.2.3-pre', 'v1.2.3', 'v1.2.3+meta', 'v1.10.0', 'v2.0.0+incompatible',
  ]);
  assert.equal(shuffled[0], 'v1.2.3', 'input left alone');
});

test('pseudo-versions: the three forms, with and without +incompatible', () => {
  // [version, time, rev, base]
  const table: Array<[string, string, string, string]> = [
    ['v0.0.0-20191109021931-daa7c04131f5', '2019-11-09T02:19:31.000Z', 'daa7c04131f5', ''],
    ['v2.0.0-20191109021931-daa7c04131f5', '2019-11-09T02:19:31.000Z', 'daa7c04131f5', ''],
    ['v1.2.4-0.20191109021931-daa7c04131f5', '2019-11-09T02:19:31.000Z', 'daa7c04131f5', 'v1.2.3'],
    ['v1.10.1-0.20191109021931-daa7c04131f5', '2019-11-09T02:19:31.000Z', 'daa7c04131f5', 'v1.10.0'],
    ['v1.2.10-0.20191109021931-abc', '2019-11-09T02:19:31.000Z', 'abc', 'v1.2.9'],
    ['v1.2.3-pre.0.20191109021931-daa7c04131f5', '2019-11-09T02:19:31.000Z', 'daa7c04131f5', 'v1.2.3-pre'],
    ['v1.2.3-alpha.beta.0.20191109021931-abc', '2019-11-09T02:19:31.000Z', 'abc', 'v1.2.3-alpha.beta'],
    ['v2.0.1-0.20191109021931-daa7c04131f5+incompatible', '2019-11-09T02:19:31.000Z', 'daa7c04131f5', 'v2.0.0+incompatible'],
    ['v0.0.0-00010101000000-000000000000', '0001-01-01T00:00:00.000Z', '000000000000', ''],
  ];
  for (const [v, time, rev, base] of table) {
    assert.equal(isPseudoVersion(v), true, v);
    assert.equal(pseudoVersionTime(v).toISOString(), time, v);
    assert.equal(pseudoVersionRev(v), rev, v);
    assert.equal(pseudoVersionBase(v), base, v);
  }
  assert.equal(isZeroPseudoVersion('v0.0.0-00010101000000-000000000000'), true);
  assert.equal(isZeroPseudoVersion('v2.0.0-00010101000000-000000000000'), true);
  assert.equal(isZeroPseudoVersion('v0.0.0-20191109021931-daa7c04131f5'), false);
});

test('not pseudo-versions, and bad ones', () => {
  for (const v of ['v1.2.3', 'v1.2.3-pre', 'v0.0.0-2019110902193-daa7c04131f5', 'v0.0.0-20191109021931-', 'v1.2.3-20191109021931-abc', 'v1.2.3-0.2019110902193-abc', 'v0.0.0-20191109021931-abc-def', '0.0.0-20191109021931-abc']) {
    assert.equal(isPseudoVersion(v), false, v);
    assert.throws(() => pseudoVersionRev(v), (e: GoModError) => e.code === 'pseudo-invalid', v);
  }
  // The shape is right but the time is not a real time: time.Parse rejects it.
  for (const v of ['v0.0.0-20191309021931-abc', 'v0.0.0-20190229021931-abc', 'v0.0.0-20200229235960-abc', 'v0.0.0-20200231000000-abc']) {
    assert.equal(isPseudoVersion(v), true, v);
    assert.throws(() => pseudoVersionTime(v), (e: GoModError) => e.code === 'pseudo-invalid', v);
  }
  assert.equal(pseudoVersionTime('v0.0.0-20200229235959-abc').toISOString(), '2020-02-29T23:59:59.000Z');
  assert.throws(() => pseudoVersionBase('v0.0.0-20191109021931-abc+meta'), /lacks base version/);
  assert.throws(() => pseudoVersionBase('v1.0.0-0.20191109021931-abc'), /negative patch number/);
  assert.throws(() => pseudoVersionBase('v1.10.0-0.20191109021931-abc'), /negative patch number/);
});
