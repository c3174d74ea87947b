// The image index (src/core/image/index) against the object model it replaces (MergedTree,
// diveEfficiency): for random stacks of layers, the fuzz corpus with mutations and the bundled
// example, every path's record, every layer's figures and changes, the merge's warnings and dive's
// figures must be identical.
import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import { indexLayer } from '../../support/indexLayer';
import { both, same } from '../../support/indexDiff';
import { member, rawTar } from '../../support/rawtar';
import { Rng } from '../../../fuzz/mutate';

/** Random layer tars: files, directories with random modes, duplicates, links, escapes, whiteouts (bare `.wh.` too), opaque dirs. */
function randomLayers(seed: number): Buffer[] {
  const r = new Rng(seed);
  const names = ['a', 'b', 'c', 'd', 'e'];
  const randomPath = (): string => Array.from({ length: 1 + r.int(4) }, () => names[r.int(names.length)]).join('/');
  const layers: Buffer[] = [];
  for (let l = 1 + r.int(6); l > 0; l--) {
    const parts: Buffer[] = [];
    for (let i = r.int(16); i > 0; i--) {
      const p = randomPath();
      const kind = r.int(12);
      if (kind < 3) parts.push(member({ name: p + '/', type: '5', mode: r.int(3) === 0 ? 0o700 : 0o755 }));
      else if (kind === 3) parts.push(member({ name: p, type: '1', linkname: randomPath() }));
      else if (kind === 4) parts.push(member({ name: p, type: '2', linkname: '../' + randomPath() }));
      else if (kind === 5 && r.int(3) === 0) parts.push(member({ name: '../' + p }, 'y'));
      else if (kind === 6) parts.push(member({ name: p, mode: 0o600 }, 'x'.repeat(r.int(4) * 100)));
      else parts.push(member({ name: p }, 'x'.repeat(r.int(5) * 100)));
    }
    if (layers.length > 0) {
      for (let i = r.int(4); i > 0; i--) {
        const p = randomPath().split('/');
        p[p.length - 1] = r.int(8) === 0 ? '.wh.' : '.wh.' + p[p.length - 1];
        parts.push(member({ name: p.join('/') }));
      }
      if (r.int(3) === 0) parts.push(member({ name: randomPath() + '/.wh..wh..opq' }));
    }
    // Entries of one layer in a random order (tar order need not group a directory's entries).
    if (r.int(2) === 0) for (let i = parts.length - 1; i > 0; i--) { const j = r.int(i + 1); [parts[i], parts[j]] = [parts[j], parts[i]]; }
    layers.push(rawTar(...parts));
  }
  return layers;
}

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
