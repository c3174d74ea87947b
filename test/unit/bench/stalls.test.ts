// The benchmark's stall attribution (bench/stalls.ts): which stalls of one thread an idle process
// shared, and the watcher itself on a thread that is made to stall.
import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import { unshared, watchStalls, type Stall } from '../../../bench/stalls';

test('unshared: a stall counts as shared when a reference stall covers at least half of it', () => {
  const own: Stall[] = [[1000, 60], [2000, 40], [3000, 100], [5000, 20]];
  const ref: Stall[] = [[995, 40], [2025, 40], [3000, 49], [4000, 30]];
  // 1000+60: covered 1000..1035 = 35 >= 30: shared. 2000+40: covered 2025..2040 = 15 < 20: ours.
  // 3000+100: covered 49 < 50: ours. 5000+20: nothing near: ours.
  assert.deepEqual(unshared(own, ref), [[2000, 40], [3000, 100], [5000, 20]]);
  assert.deepEqual(unshared(own, []), own);
  assert.deepEqual(unshared([], ref), []);
});

test('watchStalls: a thread blocked for 80 ms records one stall of about that length, at the wall-clock time it began', async () => {
  const w = watchStalls(30);
  await new Promise((r) => setTimeout(r, 20));
  const before = performance.timeOrigin + performance.now();
  const end = performance.now() + 80;
  while (performance.now() < end) { /* block the event loop */ }
  await new Promise((r) => setTimeout(r, 20));
  const stalls = w.stop();
  const big = stalls.filter(([, d]) => d >= 75);
  assert.equal(big.length, 1, JSON.stringify(stalls));
  assert.ok(Math.abs(big[0][0] - before) < 25, `began ${big[0][0] - before} ms from the block`);
});
