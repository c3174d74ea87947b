// pathOrder puts nodes in the order of their paths as strings, which is not the order of a walk
// with children sorted by name: '-' and '.' sort before '/', so "/a-b" comes between "/a" and "/a/x".
import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import { buildImageIndex } from '../../../../src/core/image/index/imageIndex';
import { layerTableOf } from '../../../../src/core/image/index/layerTable';
import { pathOrder } from '../../../../src/core/image/index/pathOrder';
import type { LayerIndex } from '../../../../src/core/image/types';

test('pathOrder: nodes by path as strings compare, repeated nodes in their own order, with no path made for the sort', () => {
  const paths = ['/a/x', '/a-b', '/a', '/a.c/y', '/ab', '/a/x/z', '/b', '/a0', '/a/x-', '/a/x.q/r'];
  const layer: LayerIndex = {
    diffId: 'sha256:p', whiteouts: [], opaqueDirs: [], tarEntries: paths.length, tarBytes: 0, tarFileBytes: 0, compression: 'none', warnings: [],
    entries: paths.map((path) => ({ path, type: 'file', size: 0, mode: 0o644, uid: 0, gid: 0, mtime: 0 })),
  };
  const ix = buildImageIndex([layerTableOf(layer)]);
  const nodes = Int32Array.from([...paths, '/a', '/'].map((p) => ix.lookup(p)));
  const order = [...pathOrder(ix, nodes)];
  const want = [...paths, '/a', '/'].map((p, i) => ({ p, i })).sort((x, y) => (x.p < y.p ? -1 : x.p > y.p ? 1 : x.i - y.i)).map((x) => x.i);
  assert.deepEqual(order, want);
  assert.deepEqual(order.map((i) => ix.pathOf(nodes[i])).slice(0, 6), ['/', '/a', '/a', '/a-b', '/a.c/y', '/a/x']);
});
