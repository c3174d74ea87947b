// A stored image index read as the parts a thread hands over: the same index decodeImageIndex
// gives, checked the same way, its names left as one joined string for the receiving side.
import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import { buildImageIndex } from '../../../../src/core/image/index/imageIndex';
import { decodeImageIndex, encodeImageIndex, imageIndexPartsOfRecord } from '../../../../src/core/image/index/indexRecord';
import { layerTableOf } from '../../../../src/core/image/index/layerTable';
import { indexFromParts, indexParts } from '../../../../src/core/image/index/transfer';
import type { LayerIndex } from '../../../../src/core/image/types';

function layer(paths: string[], links: Record<string, string> = {}): LayerIndex {
  return {
    diffId: 'sha256:r', whiteouts: [], opaqueDirs: [], tarEntries: paths.length, tarBytes: 0, tarFileBytes: 0, compression: 'none', warnings: [],
    entries: paths.map((path) => ({ path, type: links[path] ? 'symlink' : 'file', size: path.length, mode: 0o644, uid: 0, gid: 0, mtime: 0, linkname: links[path] })),
  };
}

test('image index record as parts: equal to the decoded index, one buffer to transfer, names joined', () => {
  const ix = buildImageIndex([layerTableOf(layer(['/a/b', '/a/c', '/é/ü', '/l'], { '/l': '/a/b' }))]);
  const rec = encodeImageIndex(ix, 'key');
  const { parts, transfer } = imageIndexPartsOfRecord(rec, 'key');
  assert.equal(typeof parts.names, 'string');
  assert.equal(transfer.length, 1);
  for (const a of Object.values(parts.columns)) assert.equal(a.buffer, transfer[0]);
  assert.deepEqual(indexParts(indexFromParts(parts)).parts, indexParts(decodeImageIndex(rec, 'key')).parts);
  // No links at all: an empty joined string for none.
  const bare = encodeImageIndex(buildImageIndex([layerTableOf(layer(['/x']))]), 'k2');
  assert.equal(indexFromParts(imageIndexPartsOfRecord(bare, 'k2').parts).links.length, 0);
});

test('image index record as parts: refused as decodeImageIndex refuses it', () => {
  const ix = buildImageIndex([layerTableOf(layer(['/a/b', '/a/c']))]);
  const rec = encodeImageIndex(ix, 'key');
  assert.throws(() => imageIndexPartsOfRecord(rec, 'other'), /another stack/);
  const flipped = Buffer.from(rec);
  flipped[flipped.length - 40] ^= 1;
  assert.throws(() => imageIndexPartsOfRecord(flipped, 'key'), /damaged/);
});
