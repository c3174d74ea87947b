// The unit tier's share of the fuzzer: a few hundred mutated archives through the full read →
// analyze path, a few hundred through the file-version reader (as a file and as an engine
// stream), and a few hundred edited Dockerfiles through parse → map → lines → lens labels, each
// with a timeout in a worker thread. `npm run fuzz` runs many thousands.
import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import { describeFailures, runFuzz } from '../fuzz/harness';

test('fuzz smoke: 400 archive, 200 file-version reader and 400 Dockerfile cases, 0 crashes and 0 hangs', { timeout: 900_000 }, async (t) => {
  const s = await runFuzz({ archiveCases: 400, readerCases: 200, dockerfileCases: 400, seed: 20261126, fullExample: false });
  t.diagnostic(`${s.cases} cases in ${(s.ms / 1000).toFixed(1)} s: ${s.ok} ok, typed ${JSON.stringify(s.typed)}, crashes ${s.crashes.length}, hangs ${s.hangs.length}`);
  assert.equal(s.cases, 1000);
  assert.equal(s.readerCases, 200);
  assert.equal(s.crashes.length + s.hangs.length, 0, describeFailures(s));
  // The mutations must reach past the first check: some cases read fine, several error kinds occur.
  assert.ok(s.ok > 40, `only ${s.ok} cases read`);
  assert.ok(Object.keys(s.typed).length >= 3, JSON.stringify(s.typed));
});

test('the harness sees a crash, a synchronous hang and an escaped async error (probes)', { timeout: 120_000 }, async () => {
  const s = await runFuzz({ archiveCases: 2, dockerfileCases: 2, probes: true });
  assert.equal(s.cases, 7);
  assert.deepEqual(s.crashes.map((c) => c.kind), ['probe', 'probe'], describeFailures(s));
  assert.match(s.crashes[1].detail, /escaped: RangeError: probe escaped/);
  assert.deepEqual(s.hangs.map((c) => c.kind), ['probe']);
});
