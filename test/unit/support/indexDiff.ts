// The image index (src/core/image/index) and the object model (MergedTree, diveEfficiency) side
// by side: what each says about a stack of layers, for the differential tests.
import * as assert from 'node:assert/strict';
import { diveEfficiency } from '../../../src/core/image/efficiency';
import { plainIndex } from '../../../src/core/image/indexCodec';
import { MergedTree } from '../../../src/core/image/merge';
import { buildImageIndex } from '../../../src/core/image/index/imageIndex';
import { diveOfIndex } from '../../../src/core/image/index/dive';
import { layerTableOf } from '../../../src/core/image/index/layerTable';
import type { LayerIndex } from '../../../src/core/image/types';
import { fileRecord, indexFileRecords, indexLayerChangeRecords, treeLayerChangeRecords } from '../../../src/core/present/report';

/** Everything both models say about a stack of layers, the old way and the new. */
export function both(layers: readonly LayerIndex[]): { old: unknown; now: unknown } {
  const plain = layers.map(plainIndex);
  const tree = new MergedTree();
  for (const l of plain) tree.addLayer(l);
  const warnings = tree.finish().warnings;
  const old = {
    files: [...tree.walk()].map(([p, n]) => fileRecord(p, n)),
    layers: tree.layers.map(({ changes: _c, ...figures }) => figures),
    changes: tree.layers.map((_, i) => [...treeLayerChangeRecords(tree, i)]),
    warnings,
    hiddenBytes: tree.hiddenBytes,
    dive: diveEfficiency(plain),
  };
  const tables = layers.map(layerTableOf);
  const ix = buildImageIndex(tables);
  const now = {
    files: [...indexFileRecords(ix)],
    layers: ix.layers.map(({ changes: _c, ...figures }) => figures),
    changes: ix.layers.map((_, i) => [...indexLayerChangeRecords(ix, i)]),
    warnings: ix.warnings,
    hiddenBytes: ix.hiddenBytes,
    dive: diveOfIndex(tables, ix),
  };
  return { old, now };
}

/** Both models say the same about the layers. */
export function same(layers: readonly LayerIndex[], label: string): void {
  const { old, now } = both(layers);
  assert.deepEqual(now, old, label);
}
