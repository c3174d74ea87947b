// The image index (src/core/image/index) against the object model it replaces (MergedTree,
// diveEfficiency): for random stacks of layers, the fuzz corpus with mutations and the bundled
// example, every path's record, every layer's figures and changes, the merge's warnings and dive's
// figures must be identical.
import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import { indexLayer } from '../../support/indexLayer';
import { both, same } from '../../support/indexDiff';
import { member, rawTar } from '../../support/rawtar';
import { randomLayers } from '../../support/randomLayers';

test('image index: random stacks give every record, figure, change, warning and dive figure of the object model', async () => {
  let deleted = 0;
  let warned = 0;
  let hidden = 0;
  let wasted = 0;
  for (let c = 0; c < 400; c++) {
    const layers = await Promise.all(randomLayers(20261207 + c).map((t, i) => indexLayer([t], { label: `layer ${i}` })));
    same(layers, `case ${c}`);
    const { now } = both(layers) as { now: { files: Array<{ deleted?: boolean }>; warnings: string[]; hiddenBytes: number; dive: { wastedBytes: number } } };
    if (now.files.some((f) => f.deleted)) deleted++;
    if (now.warnings.length) warned++;
    if (now.hiddenBytes > 0) hidden++;
    if (now.dive.wastedBytes > 0) wasted++;
  }
  // The cases reach what they are meant to: deletions, hardlink warnings, hidden bytes, waste.
  assert.ok(deleted > 100 && warned > 50 && hidden > 100 && wasted > 100, `${deleted} ${warned} ${hidden} ${wasted}`);
});

test('image index: more than 64 whiteouts (every entry stacked for dive) and deep trees', async () => {
  const l0: Buffer[] = [];
  const l1: Buffer[] = [];
  for (let d = 0; d < 100; d++) {
    l0.push(member({ name: `d${d}/`, type: '5' }));
    for (let f = 0; f < 5; f++) l0.push(member({ name: `d${d}/sub/f${f}` }, 'z'.repeat(d + f)));
    if (d % 2 === 0) l1.push(member({ name: `.wh.d${d}` }));
    else l1.push(member({ name: `d${d}/sub/.wh.f1` }));
  }
  l1.push(member({ name: 'd1/sub/f1/' , type: '5' }));
  const deep = Array.from({ length: 200 }, (_, i) => `p${i % 7}`).join('/');
  const l2 = [member({ name: deep }, 'deep'), member({ name: '.wh.d3' }), member({ name: 'd5/.wh..wh..opq' })];
  const layers = await Promise.all([rawTar(...l0), rawTar(...l1), rawTar(...l2)].map((t) => indexLayer([t])));
  same(layers, 'many whiteouts');
});
