// Go and git order names by their UTF-8 bytes. JS compares UTF-16 code units, which agrees
// except where a surrogate (a character above U+FFFF) meets U+E000-U+FFFF; names without
// either (nearly all) are sorted by the engine's own string comparison, which is several
// times faster than a Buffer per name per comparison (measured on snapd's 2,218 paths).

const ABOVE_D800 = /[\ud800-\uffff]/;

/** Sorts items in place by key, in the order Buffer.compare gives their UTF-8 encodings. */
export function sortByUtf8<T>(items: T[], key: (item: T) => string): T[] {
  if (!items.some((i) => ABOVE_D800.test(key(i)))) {
    return items.sort((a, b) => {
      const x = key(a);
      const y = key(b);
      return x < y ? -1 : x > y ? 1 : 0;
    });
  }
  const keyed = items.map((item) => ({ item, bytes: Buffer.from(key(item), 'utf8') }));
  keyed.sort((a, b) => Buffer.compare(a.bytes, b.bytes));
  keyed.forEach((k, i) => (items[i] = k.item));
  return items;
}
