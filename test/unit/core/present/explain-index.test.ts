// Explain This Layer reads the image index's columns: for random stacks of layers (deletions,
// opaque directories, directories replaced by files, copy-ups, hardlinks, ties of sizes), every
// layer's path facts equal those the object model (MergedTree) gives.
import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import { analyze } from '../../../../src/core/image/analysis';
import { mergeLayers } from '../../../../src/core/image/merge';
import { explainLayer } from '../../../../src/core/present/explain';
import { pathFactsOfTree } from '../../support/explainReference';
import { imageOfLayers } from '../../support/imageData';
import { indexLayer } from '../../support/indexLayer';
import { randomLayers } from '../../support/randomLayers';
import { member, rawTar } from '../../support/rawtar';

async function checkStack(tars: Buffer[], label: string, maxItems: number): Promise<{ copyUps: number; deletions: number; shipped: number; hidden: number }> {
  const layers = await Promise.all(tars.map((t, i) => indexLayer([t], { label: `layer ${i}` })));
  const a = analyze(imageOfLayers(layers));
  const tree = mergeLayers(layers);
  const seen = { copyUps: 0, deletions: 0, shipped: 0, hidden: 0 };
  for (let l = 0; l < layers.length; l++) {
    const x = explainLayer(a, l, { maxItems });
    const want = pathFactsOfTree(tree, l, maxItems);
    assert.deepEqual({
      copyUps: x.copyUps, deletions: x.deletions, deletedShipped: x.deletedShipped, overwrittenBelow: x.overwrittenBelow,
      hiddenLater: x.hiddenLater, largest: x.largest, deletedUnattributed: x.deletedUnattributed,
    }, want, `${label}, layer ${l}`);
    seen.copyUps += want.copyUps.length;
    seen.deletions += want.deletions.length;
    seen.shipped += want.deletedShipped.length + want.overwrittenBelow.length;
    seen.hidden += want.hiddenLater.length;
  }
  return seen;
}

test('explain: random stacks give the object model\'s copy-ups, deletions, shipped-below, hidden-later and largest paths', async () => {
  const total = { copyUps: 0, deletions: 0, shipped: 0, hidden: 0 };
  for (let c = 0; c < 120; c++) {
    // Few items per list in some cases, so that ties of sizes at the cut are decided by path.
    const seen = await checkStack(randomLayers(20261207 + c), `case ${c}`, c % 3 === 0 ? 2 : 10);
    for (const k of Object.keys(total) as Array<keyof typeof total>) total[k] += seen[k];
  }
  // The cases reach what they are meant to.
  assert.ok(total.copyUps > 50 && total.deletions > 100 && total.shipped > 100 && total.hidden > 100, JSON.stringify(total));
});

test('explain: a directory replaced by a file, an opaque directory, a copy-up and equal sizes everywhere', async () => {
  const l0: Buffer[] = [member({ name: 'keep/', type: '5' })];
  for (let i = 0; i < 40; i++) l0.push(member({ name: `dir/f${String(i).padStart(2, '0')}` }, 'x'.repeat(100)));
  for (let i = 0; i < 40; i++) l0.push(member({ name: `opq/g${i}` }, 'y'.repeat(i % 2 === 0 ? 50 : 100)));
  // As many bytes as layer 1 deletes (4000 + 3000): its two groups of hidden bytes tie.
  l0.push(member({ name: 'keep/big' }, 'k'.repeat(7000)));
  const l1 = [member({ name: 'dir' }, 'now a file'), member({ name: 'opq/.wh..wh..opq' }), member({ name: 'opq/new' }, 'z'), member({ name: 'keep/big' }, 'K'.repeat(7000))];
  const seen = await checkStack([rawTar(...l0), rawTar(...l1)], 'replaced and opaque', 5);
  assert.deepEqual(seen, { copyUps: 1, deletions: 41, shipped: 2, hidden: 2 });
});
