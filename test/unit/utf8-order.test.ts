import { test } from 'node:test';
import assert from 'node:assert/strict';
import { sortByUtf8 } from '../../lib/util/utf8-order.js';

const byBytes = (names: string[]) => [...names].sort((a, b) => Buffer.compare(Buffer.from(a), Buffer.from(b)));

test('sortByUtf8 orders as the UTF-8 bytes do, also where UTF-16 order differs', () => {
  // In UTF-16 units U+FF5E (0xFF5E) sorts after U+1F600 (0xD83D 0xDE00); in UTF-8 bytes before.
  const tricky = ['a\u{1F600}', 'a\uFF5E', 'a\uE000', 'a\uD7FF', 'a', 'ab', 'a/', 'a.go'];
  const sorted = sortByUtf8([...tricky], (s) => s);
  assert.deepEqual(sorted, byBytes(tricky));
  assert.notDeepEqual([...tricky].sort(), byBytes(tricky), 'the case must be one where JS order differs');
});

test('sortByUtf8 matches byte order on random names, with and without characters above U+D7FF', () => {
  const alphabet = ['a', 'b', '/', '.', '-', '_', 'Z', '0', '\u00e9', '\u4e2d', '\uE123', '\uFFEE', '\u{10400}', '\u{1F600}'];
  for (const wide of [false, true]) {
    const chars = wide ? alphabet : alphabet.slice(0, 10);
    const names = Array.from({ length: 500 }, () =>
      Array.from({ length: 1 + Math.floor(Math.random() * 6) }, () => chars[Math.floor(Math.random() * chars.length)]).join(''),
    );
    const items = names.map((name, i) => ({ name, i }));
    assert.deepEqual(sortByUtf8(items, (x) => x.name).map((x) => x.name), byBytes(names));
  }
});
