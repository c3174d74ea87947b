import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import { indexLayer } from '../../support/indexLayer';
import { MergedTree, mergeLayers } from '../../../../src/core/image/merge';
import { fileRecords } from '../../../../src/core/present/report';
import { analyze } from '../../../../src/core/image/analysis';
import type { ImageData, LayerIndex } from '../../../../src/core/image/types';
import { makeTar, type TEntry } from '../../support/tars';

async function layers(...specs: TEntry[][]): Promise<LayerIndex[]> {
  const out: LayerIndex[] = [];
  for (const s of specs) out.push(await indexLayer([await makeTar(s)]));
  return out;
}

function image(ls: LayerIndex[]): ImageData {
  return {
    id: 'sha256:x', repoTags: [], config: { os: 'linux', architecture: 'amd64' }, diffIds: ls.map((l) => l.diffId),
    layers: ls, history: ls.map((_, i) => ({ index: i, createdBy: `step ${i}`, emptyLayer: false, layerIndex: i })),
    source: { kind: 'docker-archive', ref: 'mem' }, warnings: [],
  };
}

const base: TEntry[] = [
  { name: 'etc/', type: 'directory' }, { name: 'etc/conf', size: 100 }, { name: 'etc/keep', size: 7 },
  { name: 'data/', type: 'directory' }, { name: 'data/a', size: 1000 }, { name: 'data/b', size: 2000 },
  { name: 'data/sub/', type: 'directory' }, { name: 'data/sub/c', size: 300 },
  { name: 'big', size: 5000 }, { name: 'tool', size: 50, mode: 0o644 },
];

test('overwrite: the upper copy provides the file and hides the lower one, whose bytes stay shipped', async () => {
  const t = mergeLayers(await layers(base, [{ name: 'etc/', type: 'directory' }, { name: 'etc/conf', size: 120 }]));
  const n = t.lookup('/etc/conf')!;
  assert.equal(n.live, true);
  assert.equal(n.layer, 1);
  assert.equal(n.size, 120);
  assert.deepEqual(MergedTree.hiddenCopies(n).map((c) => [c.layer, c.bytes]), [[0, 100]]);
  assert.equal(t.layers[0].hiddenBytes, 100);
  assert.equal(t.layers[1].modified, 1, 'the unchanged /etc directory entry is not a modification');
  assert.equal(t.layers[1].modifiedBytes, 120);
  assert.equal(t.hiddenBytes, 100);
});

test('file delete and directory delete: whiteouts hide whole subtrees; deleted paths keep their shipping layers', async () => {
  const t = mergeLayers(await layers(base, [{ name: 'etc/.wh.keep' }, { name: '.wh.data' }]));
  assert.equal(t.lookup('/etc/keep')!.live, false);
  assert.equal(t.lookup('/etc/keep')!.deletedBy, 1);
  for (const p of ['/data', '/data/a', '/data/b', '/data/sub', '/data/sub/c']) {
    const n = t.lookup(p)!;
    assert.equal(n.live, false, p);
    assert.equal(n.deletedHow, 'whiteout', p);
  }
  assert.equal(t.layers[1].deleted, 2);
  assert.equal(t.layers[1].deletedBytes, 7 + 3300);
  assert.equal(t.layers[0].hiddenBytes, 3307);
  assert.equal(t.lookup('/')!.total, 100 + 5000 + 50);
});

test('opaque directory: hides every lower entry of the directory, keeps its own layer\'s entries', async () => {
  // rm -rf data && mkdir data && touch data/x  (BuildKit/overlay2 writes data/.wh..wh..opq)
  const t = mergeLayers(await layers(base, [
    { name: 'data/', type: 'directory' }, { name: 'data/.wh..wh..opq' }, { name: 'data/x', size: 0 }, { name: 'data/a', size: 10 },
  ]));
  assert.equal(t.lookup('/data')!.live, true);
  assert.deepEqual(t.lookup('/data')!.opaqueIn, [1]);
  assert.equal(t.lookup('/data/x')!.live, true);
  assert.equal(t.lookup('/data/b')!.live, false);
  assert.equal(t.lookup('/data/b')!.deletedHow, 'opaque');
  assert.equal(t.lookup('/data/sub/c')!.live, false);
  const a = t.lookup('/data/a')!;
  assert.equal(a.live, true, 'recreated in the opaque layer itself');
  assert.deepEqual(MergedTree.hiddenCopies(a).map((c) => c.layer), [0]);
  assert.equal(t.layers[0].hiddenBytes, 3300);
  assert.equal(t.lookup('/data')!.total, 10);
});

test('chmod-only change copies the whole file up and is marked metadata-only', async () => {
  const t = mergeLayers(await layers(base, [{ name: 'tool', size: 50, mode: 0o755 }, { name: 'big', size: 5000, uid: 1000 }]));
  const changes = t.layers[1].changes;
  assert.deepEqual(changes.map((c) => [c.kind, c.bytes, c.lowerBytes, c.metadataOnly]), [
    ['modified', 50, 50, true], ['modified', 5000, 5000, true],
  ]);
  assert.equal(t.layers[0].hiddenBytes, 5050);
});

test('append to a big lower file ships it twice', async () => {
  const t = mergeLayers(await layers(base, [{ name: 'big', size: 5001 }]));
  assert.equal(t.layers[1].changes[0].metadataOnly, false);
  assert.equal(t.layers[0].hiddenBytes, 5000);
  assert.equal(t.layers[1].hiddenBytes, 0);
});

test('hardlinks resolve to their target\'s size and count once in totals; symlinks keep their target', async () => {
  const t = mergeLayers(await layers([
    { name: 'bin/', type: 'directory' }, { name: 'bin/busybox', size: 900 }, { name: 'bin/ls', type: 'link', linkname: 'bin/busybox' },
    { name: 'bin/sh', type: 'symlink', linkname: 'busybox' }, { name: 'bin/dangling', type: 'link', linkname: 'nowhere' },
  ]));
  const ls = t.lookup('/bin/ls')!;
  assert.equal(ls.type, 'hardlink');
  assert.equal(ls.size, 900);
  assert.equal(t.lookup('/bin/sh')!.linkname, 'busybox');
  assert.equal(t.lookup('/bin')!.total, 900);
  assert.equal(t.layers[0].fileBytes, 900);
});

test('a file over a directory hides the lower directory; a directory over a file replaces it', async () => {
  const t = mergeLayers(await layers(base, [{ name: 'data', size: 4 }, { name: 'big/', type: 'directory' }, { name: 'big/inner', size: 1 }]));
  assert.equal(t.lookup('/data')!.type, 'file');
  assert.equal(t.lookup('/data/a')!.live, false);
  assert.equal(t.lookup('/data/a')!.deletedHow, 'replaced');
  assert.equal(t.lookup('/big')!.type, 'dir');
  assert.deepEqual(MergedTree.hiddenCopies(t.lookup('/big')!).map((c) => [c.layer, c.bytes]), [[0, 5000]]);
  assert.equal(t.lookup('/big/inner')!.live, true);
});

test('a path deleted and then recreated is live, and hides every earlier copy', async () => {
  const t = mergeLayers(await layers(base, [{ name: '.wh.big' }], [{ name: 'big', size: 1 }]));
  const n = t.lookup('/big')!;
  assert.equal(n.live, true);
  assert.equal(n.layer, 2);
  assert.deepEqual(MergedTree.hiddenCopies(n).map((c) => c.layer), [0]);
  assert.equal(t.layers[2].added, 1);
});

test('duplicate entries in one tar: the last wins and nothing is counted twice', async () => {
  const t = mergeLayers(await layers([{ name: 'f', size: 10 }, { name: 'f', size: 30 }]));
  assert.equal(t.lookup('/f')!.size, 30);
  assert.equal(t.layers[0].added, 1);
  assert.equal(t.layers[0].addedBytes, 30);
  assert.equal(t.layers[0].hiddenBytes, 0);
});

test('files records: live paths with provider and hidden copies, deleted paths with deleter and shippers', async () => {
  const ls = await layers(base, [{ name: 'etc/conf', size: 1 }, { name: '.wh.tool' }]);
  const recs = [...fileRecords(analyze(image(ls)))];
  assert.deepEqual(recs.find((r) => r.path === '/etc/conf'), { path: '/etc/conf', type: 'file', size: 1, mode: '0644', layer: 1, hides: [0] });
  assert.deepEqual(recs.find((r) => r.path === '/tool'), { path: '/tool', deleted: true, deletedBy: 1, shippedIn: [0] });
  assert.deepEqual(recs.map((r) => r.path).slice(0, 4), ['/big', '/data', '/data/a', '/data/b'], 'sorted depth-first');
});

test('whiteouts of paths that never existed and opaque markers on new dirs are harmless', async () => {
  const t = mergeLayers(await layers(base, [{ name: '.wh.nothing' }, { name: 'newdir/' , type: 'directory' }, { name: 'newdir/.wh..wh..opq' }]));
  assert.equal(t.layers[1].deleted, 0);
  assert.equal(t.lookup('/nothing'), undefined);
  assert.equal(t.lookup('/newdir')!.live, true);
});

test("analyze with dive: 'lazy' gives the same analysis, dive's figures computed on first read", async () => {
  const ls = await layers(base, [{ name: 'big', size: 7000 }, { name: 'data/a', size: 5 }, { name: '.wh.tool' }]);
  const eager = analyze(image(ls));
  const lazy = analyze(image(ls), { dive: 'lazy' });
  assert.ok(Object.getOwnPropertyDescriptor(lazy, 'dive')?.get, 'dive is a getter');
  assert.ok(eager.dive.wastedBytes > 0, 'the image has waste (the test could not tell otherwise)');
  assert.deepEqual(lazy.dive, eager.dive);
  assert.strictEqual(lazy.dive, lazy.dive, 'computed once');
  assert.deepEqual({ ...lazy, dive: null, tree: null }, { ...eager, dive: null, tree: null });
  assert.deepEqual([...fileRecords(lazy)], [...fileRecords(eager)]);
});
