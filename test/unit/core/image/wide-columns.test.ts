// Sizes, owners, times and byte sums are kept in 32-bit columns until a value does not fit: a file
// over 4 GiB, an owner id past 2^32, a negative or fractional time, a directory holding more than
// 4 GiB. Then the column holds 64-bit floats, and every figure stays exact, in the tables, the
// image index, the layer records and the stored image index.
import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import { RecordIndex, encodeIndex } from '../../../../src/core/image/indexCodec';
import { buildImageIndex } from '../../../../src/core/image/index/imageIndex';
import { decodeImageIndex, encodeImageIndex } from '../../../../src/core/image/index/indexRecord';
import { layerTableOf } from '../../../../src/core/image/index/layerTable';
import type { LayerEntry, LayerIndex } from '../../../../src/core/image/types';
import { same } from '../../support/indexDiff';

const GiB = 2 ** 30;

function layer(diffId: string, entries: Array<Partial<LayerEntry> & { path: string }>, whiteouts: string[] = []): LayerIndex {
  const full: LayerEntry[] = entries.map((e) => ({ type: 'file', size: 0, mode: 0o644, uid: 0, gid: 0, mtime: 1700000000, ...e }));
  return {
    diffId, entries: full, whiteouts, opaqueDirs: [], tarEntries: full.length + whiteouts.length, tarBytes: 0, compression: 'none', warnings: [],
    tarFileBytes: full.reduce((a, e) => a + (e.type === 'file' ? e.size : 0), 0),
  };
}

const meta = { verified: true, head: '', hdr: '', origin: '' };

test('wide values: a column widens only when a value does not fit 32 bits, and stays exact', () => {
  const narrow = layerTableOf(layer('sha256:n', [{ path: '/a', type: 'dir', size: 0 }, { path: '/a/f', size: 4 * GiB - 1, uid: 2 ** 32 - 1, mtime: 2 ** 32 - 1 }]));
  for (const c of ['entSize', 'entUid', 'entGid', 'entMtime'] as const) assert.ok(narrow.cols[c] instanceof Uint32Array, c);
  assert.equal(narrow.cols.entSize[1], 4 * GiB - 1);

  const wide = layerTableOf(layer('sha256:w', [
    { path: '/big', size: 5 * GiB + 3 },
    { path: '/owner', uid: 2 ** 32 + 7, gid: 12 },
    { path: '/old', mtime: -1 },
    { path: '/frac', mtime: 1700000000.25 },
    { path: '/zero', mtime: -0 },
  ]));
  const c = wide.cols;
  assert.ok(c.entSize instanceof Float64Array && c.entUid instanceof Float64Array && c.entMtime instanceof Float64Array);
  assert.ok(c.entGid instanceof Uint32Array, 'a column whose values fit stays narrow');
  assert.deepEqual([...c.entSize], [5 * GiB + 3, 0, 0, 0, 0]);
  assert.deepEqual([...c.entUid], [0, 2 ** 32 + 7, 0, 0, 0]);
  assert.deepEqual([...c.entMtime], [1700000000, 1700000000, -1, 1700000000.25, -0]);
  assert.ok(Object.is(c.entMtime[4], -0));

  // The layer record keeps each column's width and every value.
  for (const t of [narrow, wide]) {
    const back = new RecordIndex(encodeIndex(t, meta), t.diffId);
    for (const k of ['entSize', 'entUid', 'entGid', 'entMtime'] as const) {
      assert.equal(back.cols[k].constructor, t.cols[k].constructor, k);
      assert.deepEqual([...back.cols[k]], [...t.cols[k]], k);
    }
    assert.deepEqual(back.entries, t.entries);
  }
});

test('wide values: the image index widens sizes, owners, totals, copies and change bytes, exactly as the object model says', () => {
  // Three files of 3 GiB: each fits, their directory's total (9 GiB) does not; the whiteout deletes
  // 9 GiB at once; the rewrite replaces 3 GiB by 6 GiB.
  const l0 = layer('sha256:0', [
    { path: '/d', type: 'dir' }, { path: '/d/a', size: 3 * GiB }, { path: '/d/b', size: 3 * GiB }, { path: '/d/c', size: 3 * GiB },
    { path: '/e', type: 'dir' }, { path: '/e/x', size: 3 * GiB }, { path: '/e/y', size: 3 * GiB }, { path: '/e/z', size: 3 * GiB + 1 },
  ]);
  const l1 = layer('sha256:1', [{ path: '/e/x', size: 6 * GiB, uid: 2 ** 33 }], ['/d']);
  const ix = buildImageIndex([l0, l1].map(layerTableOf));
  assert.ok(ix.total instanceof Float64Array && ix.size instanceof Float64Array && ix.uid instanceof Float64Array);
  assert.ok(ix.gid instanceof Uint32Array && ix.count instanceof Uint32Array);
  assert.equal(ix.total[0], 12 * GiB + 1);
  const del = ix.layers[1].changes;
  assert.ok(del.bytes instanceof Float64Array && del.lower instanceof Uint32Array);
  assert.deepEqual([...del.bytes].sort((a, b) => a - b), [6 * GiB, 9 * GiB]);
  assert.ok(ix.copyBytes instanceof Float64Array);
  // Every record, figure and change equals the object model's.
  same([l0, l1], 'wide values');

  // The stored index keeps the widths and values.
  const back = decodeImageIndex(encodeImageIndex(ix, 'k'), 'k');
  for (const k of ['size', 'uid', 'gid', 'total', 'count', 'copyBytes'] as const) {
    assert.equal(back[k].constructor, ix[k].constructor, k);
    assert.deepEqual([...back[k]], [...ix[k]], k);
  }
  assert.deepEqual([...back.layers[1].changes.bytes], [...del.bytes]);

  // An image whose values all fit keeps every such column at 32 bits.
  const small = buildImageIndex([layer('sha256:s', [{ path: '/f', size: 10 }, { path: '/g', size: 20 }])].map(layerTableOf));
  for (const k of ['size', 'uid', 'gid', 'total', 'count', 'copyBytes'] as const) assert.ok(small[k] instanceof Uint32Array, k);
  assert.equal(small.total[0], 30);
});
