import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ReadAhead, type ReadAheadOptions } from '../../lib/fs/read-ahead.js';

const OPTS: ReadAheadOptions = { piece: 1000, window: 4, held: 2, concurrent: 4 };
const content = Buffer.from(Array.from({ length: 10_500 }, (_, i) => (i * 7 + (i >> 8)) & 0xff));

/** A ReadAhead over `content` that records what it made and pushed. */
function setup(fail?: number, opts = OPTS) {
  const made: number[] = [];
  const pushed = new Map<number, Buffer>();
  let making = 0;
  let most = 0;
  const ra = new ReadAhead(
    content.length,
    async (pos, length) => {
      made.push(pos);
      most = Math.max(most, ++making);
      await new Promise((r) => setImmediate(r));
      making--;
      if (pos === fail) throw new Error(`piece at ${pos} failed`);
      return Buffer.from(content.subarray(pos, pos + length));
    },
    (pos, data) => pushed.set(pos, data),
    opts,
  );
  return { ra, made, pushed, most: () => most };
}

const settle = () => new Promise((r) => setTimeout(r, 5));

test('a pass begun at the start makes a window ahead and pushes all but its held end', async () => {
  const { ra, made, pushed } = setup();
  ra.begin(0);
  const got = await ra.read(0, 300);
  assert.ok(got?.equals(content.subarray(0, 300)));
  await settle();
  assert.deepEqual(made, [0, 1000, 2000, 3000]);
  // window 4, held 2: pieces 0 and 1 pushed, 2 and 3 kept back for the reader to ask.
  assert.deepEqual([...pushed.keys()].sort((a, b) => a - b), [0, 1000]);
  for (const [pos, data] of pushed) assert.ok(data.equals(content.subarray(pos, pos + 1000)));
});

test('the reader reaching a held piece moves the window on; at the end everything is pushed', async () => {
  const { ra, made, pushed } = setup();
  ra.begin(0);
  await ra.read(0, 300);
  await settle();
  // The pushed pieces never reach us again; the next request is in the first held piece.
  for (let pos = 2000; pos < content.length; pos += 1000) {
    const got = await ra.read(pos, 1000);
    assert.ok(got?.equals(content.subarray(pos, Math.min(pos + 1000, content.length))), `piece at ${pos}`);
  }
  await settle();
  assert.deepEqual(made, [0, 1000, 2000, 3000, 4000, 5000, 6000, 7000, 8000, 9000, 10000]);
  assert.deepEqual([...pushed.keys()].sort((a, b) => a - b), made);
  assert.equal(pushed.get(10000)!.length, 500);
});

test('a read spanning two pieces, or cut by the end of the file, has exactly its bytes', async () => {
  const { ra } = setup();
  ra.begin(0);
  assert.ok((await ra.read(0, 10))?.equals(content.subarray(0, 10)));
  assert.ok((await ra.read(900, 300))?.equals(content.subarray(900, 1200)));
  for (let pos = 2000; pos < 10_000; pos += 1000) await ra.read(pos, 1000);
  assert.ok((await ra.read(10_200, 4096))?.equals(content.subarray(10_200)));
  assert.equal(ra.read(content.length, 10), null);
});

test('reads elsewhere are not part of the pass', async () => {
  const { ra, made } = setup();
  assert.equal(ra.read(0, 100), null, 'no pass begun');
  assert.deepEqual(made, []);
  ra.begin(0);
  await ra.read(0, 100);
  assert.equal(ra.read(7_000, 100), null, 'beyond the window');
  assert.ok(ra.read(1_500, 100), 'inside it');
});

test('a failed piece fails the reads that wait on it; later reads of it are left to the caller', async () => {
  const { ra, pushed } = setup(1000);
  ra.begin(0);
  const first = ra.read(0, 100);
  const waiting = ra.read(1000, 100);
  assert.ok((await first)?.equals(content.subarray(0, 100)));
  await assert.rejects(waiting!, /piece at 1000 failed/);
  await settle();
  assert.ok(!pushed.has(1000));
  assert.equal(ra.read(1000, 100), null, 'not served from the failed piece again');
  assert.ok((await ra.read(2000, 100))?.equals(content.subarray(2000, 2100)), 'the pieces after it are fine');
});

test('a pass begun again starts over; one begun further on starts there', async () => {
  const { ra, made, pushed } = setup();
  ra.begin(0);
  await ra.read(0, 100);
  for (let pos = 2000; pos < content.length; pos += 1000) await ra.read(pos, 1000);
  made.length = 0;
  assert.equal(ra.read(0, 100), null, 'its pieces are behind the reader');
  ra.begin(0);
  assert.ok((await ra.read(0, 100))?.equals(content.subarray(0, 100)));
  assert.deepEqual(made, [0, 1000, 2000, 3000]);
  await settle();
  made.length = 0;
  pushed.clear();
  ra.begin(6_500);
  assert.ok((await ra.read(6_500, 1000))?.equals(content.subarray(6_500, 7_500)));
  await settle();
  assert.deepEqual(made, [6000, 7000, 8000, 9000]);
  assert.deepEqual([...pushed.keys()].sort((a, b) => a - b), [6000, 7000]);
});

test('pieces are made a few at a time, in order, except those a reader waits for', async () => {
  const { ra, made, pushed, most } = setup(undefined, { ...OPTS, window: 6, concurrent: 1 });
  ra.begin(0);
  assert.ok((await ra.read(0, 100))?.equals(content.subarray(0, 100)));
  await settle();
  assert.equal(most(), 1);
  assert.deepEqual(made, [0, 1000, 2000, 3000, 4000, 5000]);
  // window 6, held 2: pieces 0-3 pushed once made.
  assert.deepEqual([...pushed.keys()].sort((a, b) => a - b), [0, 1000, 2000, 3000]);
  // A read two pieces past what was started starts both at once.
  made.length = 0;
  assert.ok((await ra.read(6_000, 2000))?.equals(content.subarray(6_000, 8_000)));
  assert.deepEqual(made.slice(0, 2), [6000, 7000]);
});
