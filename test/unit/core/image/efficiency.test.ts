import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import { indexLayer } from '../../support/indexLayer';
import { diveEfficiency } from '../../../../src/core/image/efficiency';
import type { LayerIndex } from '../../../../src/core/image/types';
import { makeTar, type TEntry } from '../../support/tars';
import { diveEfficiencyReference } from '../../support/diveReference';

async function layers(...specs: TEntry[][]): Promise<LayerIndex[]> {
  const out: LayerIndex[] = [];
  for (const s of specs) out.push(await indexLayer([await makeTar(s)]));
  return out;
}

test('no duplicates: efficiency 1, nothing wasted', async () => {
  const d = diveEfficiency(await layers([{ name: 'a', size: 10 }], [{ name: 'b', size: 20 }]));
  assert.equal(d.efficiency, 1);
  assert.equal(d.wastedBytes, 0);
  assert.equal(d.userWastedPercent, 0);
});

test('an overwritten file counts both copies as wasted (dive\'s double count, dive#684)', async () => {
  // /a: 100 then 100 → cumulative 200, min 100. /b: 50. Score = (100+50)/(200+50).
  const d = diveEfficiency(await layers([{ name: 'a', size: 100 }, { name: 'b', size: 50 }], [{ name: 'a', size: 100 }]));
  assert.equal(d.efficiency, 150 / 250);
  assert.equal(d.wastedBytes, 200);
  assert.equal(d.userSizeBytes, 100);
  assert.equal(d.userWastedPercent, 2);
  assert.deepEqual(d.inefficiencies, [{ path: '/a', cumulative: 200, count: 2 }]);
});

test('a whiteout of a directory costs the directory\'s size below; of a file, 0', async () => {
  const d = diveEfficiency(await layers(
    [{ name: 'd/', type: 'directory' }, { name: 'd/x', size: 30 }, { name: 'd/y', size: 70 }, { name: 'f', size: 5 }],
    [{ name: '.wh.d' }, { name: '.wh.f' }],
  ));
  // Layer 0 leaves: /d/x 30, /d/y 70, /f 5. Layer 1 leaves: /d (whiteout, 100), /f (whiteout, 0).
  // /d: cum 100 min 100 (seen once); /f: cum 5 min 0 (seen twice) → wasted 5.
  assert.equal(d.efficiency, (30 + 70 + 100 + 0) / (30 + 70 + 100 + 5));
  assert.equal(d.wastedBytes, 5);
});

test('directory entries with children are not leaves; opaque markers are ignored as in dive', async () => {
  const d = diveEfficiency(await layers(
    [{ name: 'd/', type: 'directory' }, { name: 'd/x', size: 30 }],
    [{ name: 'd/', type: 'directory' }, { name: 'd/.wh..wh..opq' }, { name: 'd/z', size: 1 }],
  ));
  assert.equal(d.efficiency, 1);
  assert.equal(d.wastedBytes, 0);
});

test('a whiteout that is the parent of another whiteout in its layer is not visited, even where no such path exists', () => {
  const layer = (n: number, entries: LayerIndex['entries'], whiteouts: string[]): LayerIndex => ({
    diffId: `sha256:${n}`, entries, whiteouts, opaqueDirs: [], tarFileBytes: entries.reduce((a, e) => a + e.size, 0),
    tarEntries: entries.length + whiteouts.length, tarBytes: 0, compression: 'none', warnings: [],
  });
  const file = (path: string, size: number): LayerIndex['entries'][number] => ({ path, type: 'file', size, mode: 0o644, uid: 0, gid: 0, mtime: 0 });
  const ls = [layer(0, [file('/x', 1)], []), layer(1, [], ['/a/b', '/a/b/c']), layer(2, [file('/a/b', 10)], [])];
  // Visits: /x 1; /a/b/c 0 (nothing below); /a/b only in layer 2 (in layer 1 it is a parent).
  const d = diveEfficiency(ls);
  assert.deepEqual(d, diveEfficiencyReference(ls));
  assert.equal(d.wastedBytes, 0);
  assert.equal(d.efficiency, 1);
});

test('dive figures equal the reference algorithm on random stacks (duplicates, whiteouts of files and dirs, many whiteouts)', () => {
  let seed = 20261126;
  const rnd = (n: number): number => {
    seed = (seed * 1103515245 + 12345) & 0x7fffffff;
    return seed % n;
  };
  const names = ['a', 'b', 'c', 'd'];
  const randomPath = (): string => {
    const depth = 1 + rnd(4);
    return '/' + Array.from({ length: depth }, () => names[rnd(names.length)]).join('/');
  };
  for (let c = 0; c < 400; c++) {
    const layers: LayerIndex[] = [];
    const nLayers = 1 + rnd(6);
    for (let l = 0; l < nLayers; l++) {
      const entries: LayerIndex['entries'] = [];
      const nEntries = rnd(25);
      for (let i = 0; i < nEntries; i++) {
        const dir = rnd(4) === 0;
        const path = randomPath();
        entries.push({ path, type: dir ? 'dir' : 'file', size: dir ? 0 : rnd(5) * 100, mode: 0o644, uid: 0, gid: 0, mtime: 0 });
        if (rnd(6) === 0) entries.push({ ...entries[entries.length - 1], size: rnd(5) * 50 }); // the same path again
      }
      // Some stacks get more than 64 whiteouts: the filter then stacks every entry.
      const nWhiteouts = l === 0 ? 0 : c % 10 === 0 ? 70 + rnd(10) : rnd(4);
      const whiteouts = Array.from({ length: nWhiteouts }, randomPath);
      layers.push({ diffId: `sha256:${c}-${l}`, entries, whiteouts, opaqueDirs: rnd(5) === 0 ? [randomPath()] : [], tarFileBytes: entries.reduce((a, e) => a + e.size, 0), tarEntries: entries.length, tarBytes: 0, compression: 'none', warnings: [] });
    }
    assert.deepEqual(diveEfficiency(layers), diveEfficiencyReference(layers), `case ${c}`);
  }
});

test('a bare .wh. marker at the root (a whiteout of "/"): every entry of the layers below is stacked, top-level ones too', () => {
  const layer = (n: number, entries: LayerIndex['entries'], whiteouts: string[]): LayerIndex => ({
    diffId: `sha256:${n}`, entries, whiteouts, opaqueDirs: [], tarFileBytes: entries.reduce((a, e) => a + e.size, 0),
    tarEntries: entries.length + whiteouts.length, tarBytes: 0, compression: 'none', warnings: [],
  });
  const file = (path: string, size: number): LayerIndex['entries'][number] => ({ path, type: 'file', size, mode: 0o644, uid: 0, gid: 0, mtime: 0 });
  // A top-level file comes first in its layer; the root's whiteout sizes what the layers below hold.
  const ls = [layer(0, [file('/top', 200), file('/d/f', 7)], []), layer(1, [], ['/']), layer(2, [file('/top', 3)], [])];
  const d = diveEfficiency(ls);
  assert.deepEqual(d, diveEfficiencyReference(ls));
  // The root's whiteout visits 207 bytes (both files below), /top 200 + 3: (3 + 7 + 207) / (203 + 7 + 207).
  assert.equal(d.efficiency, 217 / 417);
});
