// The Layers view's per-layer change rows read the image index's change trie: for random stacks
// of layers, every layer's rows (order, compacted labels, counts, bytes, the waste filter) equal
// those of a trie of objects built from the object model's changes.
import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import { analyze } from '../../../../src/core/image/analysis';
import { mergeLayers } from '../../../../src/core/image/merge';
import { TreeModel, type TreeEl } from '../../../../src/core/present/treeModel';
import { changeRowsOfTree, type ChangeRowRef } from '../../support/changeTreeReference';
import { imageOfLayers } from '../../support/imageData';
import { indexLayer } from '../../support/indexLayer';
import { randomLayers } from '../../support/randomLayers';

function modelRows(m: TreeModel, layer: number, wasteOnly: boolean): ChangeRowRef[] {
  const out: ChangeRowRef[] = [];
  const visit = (els: TreeEl[], depth: number): void => {
    for (const el of els) {
      if (el.kind !== 'change') continue;
      const cn = el.cn;
      out.push({ depth, label: el.label, path: cn.path, kind: cn.change?.kind ?? null, added: cn.added, modified: cn.modified, deleted: cn.deleted, bytes: cn.bytes });
      visit(m.children(el, { wasteOnly }), depth + 1);
    }
  };
  visit(m.children(m.layerEl(layer)!, { wasteOnly }), 0);
  return out;
}

test('layer changes view: random stacks give the rows of the object model\'s change trie, with and without the waste filter', async () => {
  let rows = 0;
  let compacted = 0;
  let wasteRows = 0;
  for (let c = 0; c < 120; c++) {
    const layers = await Promise.all(randomLayers(20261207 + c).map((t, i) => indexLayer([t], { label: `layer ${i}` })));
    const tree = mergeLayers(layers);
    const m = new TreeModel(analyze(imageOfLayers(layers)));
    for (let l = 0; l < layers.length; l++) {
      for (const wasteOnly of [false, true]) {
        const want = changeRowsOfTree(tree, l, wasteOnly);
        assert.deepEqual(modelRows(m, l, wasteOnly), want, `case ${c}, layer ${l}${wasteOnly ? ', waste only' : ''}`);
        if (wasteOnly) wasteRows += want.length;
        else { rows += want.length; compacted += want.filter((r) => r.label.includes('/')).length; }
      }
    }
  }
  // The cases reach what they are meant to: many rows, compacted chains, rows the waste filter keeps.
  assert.ok(rows > 2000 && compacted > 50 && wasteRows > 300, `${rows} ${compacted} ${wasteRows}`);
});
