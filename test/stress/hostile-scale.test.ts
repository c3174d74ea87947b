// A million empty entries: read through the full pipeline in a child process with a 2 GiB heap cap
// and a time limit; the entry-count limit gives a typed error. Numbers go to the test's diagnostics.
import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import * as path from 'node:path';
import { indexLayer } from '../unit/support/indexLayer';
import { manyEmptyEntries } from '../unit/support/bigtar';
import { expectFormatError } from '../unit/support/hostile';

const SCALE = path.join(__dirname, '../fuzz/scale.js');

function runScale(args: string[]): { count: number; tarEntries: number; entries: number; livePaths: number; ms: number; peakRssMB: number } {
  const r = spawnSync(process.execPath, ['--max-old-space-size=2048', SCALE, ...args], { encoding: 'utf8', timeout: 600_000 });
  assert.equal(r.signal, null, `killed by ${r.signal} (timeout 600 s): ${r.stderr}`);
  assert.equal(r.status, 0, r.stderr);
  return JSON.parse(r.stdout.trim().split('\n').pop()!);
}

test('a million empty entries in one layer: all read, time and memory bounded', { timeout: 700_000 }, (t) => {
  const r = runScale(['1000000']);
  t.diagnostic(`1,000,000 entries: ${r.ms} ms, peak RSS ${r.peakRssMB} MB`);
  assert.equal(r.tarEntries, 1_000_000);
  assert.equal(r.entries, 1_000_000);
  assert.equal(r.livePaths, 1_001_000); // 1000 directories + the files
  assert.ok(r.peakRssMB < 2600, `peak RSS ${r.peakRssMB} MB`);
});

test('a million entries of one name (duplicates): one live path', { timeout: 700_000 }, (t) => {
  const r = runScale(['1000000', '--same-name']);
  t.diagnostic(`1,000,000 duplicates: ${r.ms} ms, peak RSS ${r.peakRssMB} MB`);
  assert.equal(r.tarEntries, 1_000_000);
  assert.equal(r.livePaths, 1);
  assert.ok(r.peakRssMB < 2600, `peak RSS ${r.peakRssMB} MB`);
});

test('more entries than the limit: a typed limit error, without reading on', async () => {
  const e = await expectFormatError(() => indexLayer(manyEmptyEntries(5000), { maxEntries: 4096 }), 'limit', 'maxEntries');
  assert.match(e.message, /more than 4096 entries/);
});
