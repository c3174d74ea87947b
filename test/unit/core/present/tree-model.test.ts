// The Layers sidebar's tree model on an in-memory image: labels, descriptions, children, golden
// text. Regenerate the golden files with UPDATE_GOLDEN=1 (then review the diff).
import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { analyze, type Analysis } from '../../../../src/core/image/analysis';
import { indexLayer } from '../../support/indexLayer';
import { historyFromConfig } from '../../../support/history';
import { TreeModel, layerLinesFromDockerfile, type EntryEl, type MoreEl, type Row, type TreeEl } from '../../../../src/core/present/treeModel';
import { renderRows } from '../../support/renderRows';
import type { HistoryEntry, ImageData, LayerEntry, LayerIndex } from '../../../../src/core/image/types';
import { makeTar, type TEntry } from '../../support/tars';
import { repoRoot } from '../../../support/repo';

const GOLDEN_DIR = path.join(repoRoot(), 'test/unit/golden');

function golden(name: string, actual: string): void {
  const file = path.join(GOLDEN_DIR, name);
  if (process.env.UPDATE_GOLDEN) {
    fs.mkdirSync(GOLDEN_DIR, { recursive: true });
    fs.writeFileSync(file, actual);
    return;
  }
  assert.ok(fs.existsSync(file), `golden file ${file} is missing: run the tests with UPDATE_GOLDEN=1`);
  assert.equal(actual, fs.readFileSync(file, 'utf8'), `${name} differs from the golden file (UPDATE_GOLDEN=1 regenerates it)`);
}

// Layer 0: the "base image"; 1: fills /app; 2: overwrites, deletes, replaces a dir by a file,
// chmods; 3: opaque /app/cache; 4: hardlinks and symlinks; 5: an empty WORKDIR layer.
const specs: Array<{ createdBy: string; entries: TEntry[] }> = [
  { createdBy: '', entries: [
    { name: 'bin/', type: 'directory' }, { name: 'bin/busybox', size: 900 }, { name: 'bin/sh', type: 'symlink', linkname: 'busybox' },
    { name: 'etc/', type: 'directory' }, { name: 'etc/passwd', size: 40 },
  ] },
  { createdBy: '/bin/sh -c mkdir -p /app/cache /app/gone && head -c 48000 /dev/zero > /app/blob # buildkit', entries: [
    { name: 'app/', type: 'directory' }, { name: 'app/blob', size: 48000 }, { name: 'app/config.txt', size: 10 },
    { name: 'app/run.sh', size: 20, mode: 0o644 },
    { name: 'app/cache/', type: 'directory' }, { name: 'app/cache/a.bin', size: 3000 }, { name: 'app/cache/sub/', type: 'directory' }, { name: 'app/cache/sub/b.bin', size: 500 },
    { name: 'app/gone/', type: 'directory' }, { name: 'app/gone/x', size: 7 },
  ] },
  { createdBy: 'RUN /bin/sh -c echo changed > /app/config.txt && rm /app/blob && rm -rf /app/gone && echo f > /app/gone && chmod +x /app/run.sh # buildkit', entries: [
    { name: 'app/', type: 'directory' }, { name: 'app/config.txt', size: 12 }, { name: 'app/.wh.blob' },
    { name: 'app/gone', size: 2 }, { name: 'app/run.sh', size: 20, mode: 0o755 },
  ] },
  { createdBy: 'RUN /bin/sh -c rm -rf /app/cache && mkdir /app/cache && touch /app/cache/new # buildkit', entries: [
    { name: 'app/', type: 'directory' }, { name: 'app/cache/', type: 'directory' }, { name: 'app/cache/.wh..wh..opq' }, { name: 'app/cache/new', size: 0 },
  ] },
  { createdBy: 'RUN /bin/sh -c ln /app/config.txt /app/hard && ln -s config.txt /app/soft # buildkit', entries: [
    { name: 'app/', type: 'directory' }, { name: 'app/hard', type: 'link', linkname: 'app/config.txt' }, { name: 'app/soft', type: 'symlink', linkname: 'config.txt' },
  ] },
  { createdBy: 'WORKDIR /app', entries: [] },
];

let cached: Analysis | undefined;
async function fixture(): Promise<Analysis> {
  if (cached) return cached;
  const layers: LayerIndex[] = [];
  for (const s of specs) layers.push(await indexLayer([await makeTar(s.entries)]));
  const history: HistoryEntry[] = [
    { index: 0, createdBy: '', comment: 'Imported from -', emptyLayer: false, layerIndex: 0 },
    { index: 1, createdBy: 'CMD ["sh"]', emptyLayer: true, layerIndex: null },
    ...specs.slice(1).map((s, i) => ({ index: i + 2, createdBy: s.createdBy, emptyLayer: false, layerIndex: i + 1 })),
  ];
  const image: ImageData = {
    id: 'sha256:' + 'ab'.repeat(32), repoTags: ['tree-test:latest'], config: { os: 'linux', architecture: 'amd64' },
    diffIds: layers.map((_, i) => `sha256:${String(i).repeat(64)}`), layers, history,
    source: { kind: 'docker-archive', ref: 'mem' }, warnings: [],
  };
  cached = analyze(image);
  return cached;
}

const LINES: Record<number, number> = { 1: 3, 2: 5, 3: 7, 4: 8, 5: 9 };
async function model(): Promise<TreeModel> {
  return new TreeModel(await fixture(), { baseLayerCount: 1, lineForLayer: (l) => LINES[l] });
}

function find(m: TreeModel, roots: TreeEl[], label: string): TreeEl {
  const el = roots.find((r) => m.row(r).label === label);
  assert.ok(el, `no row '${label}' in ${JSON.stringify(roots.map((r) => m.row(r).label))}`);
  return el;
}

function rowOf(m: TreeModel, p: string): Row {
  const node = m.tree.lookup(p);
  assert.ok(node, p);
  return m.row(m.entryEl(node));
}

test('layers view: base layers grouped, one row per layer bottom to top, instruction + line, size · hidden', async () => {
  const m = await model();
  const roots = m.layerRoots();
  assert.deepEqual(roots.map((r) => m.row(r).label), [
    'Base image · 1 layer',
    'L1 · line 3 · RUN mkdir -p /app/cache /app/gone && head -c 48000 /dev/zer…',
    'L2 · line 5 · RUN echo changed > /app/config.txt && rm /app/blob && rm -r…',
    'L3 · line 7 · RUN rm -rf /app/cache && mkdir /app/cache && touch /app/cac…',
    'L4 · line 8 · RUN ln /app/config.txt /app/hard && ln -s config.txt /app/s…',
    'L5 · line 9 · WORKDIR /app',
  ]);
  const l1 = m.row(roots[1]);
  assert.equal(l1.description, '51.5 kB · 51.5 kB hidden', 'every byte L1 ships is overwritten or deleted later');
  assert.equal(l1.contextValue, 'layer mapped');
  assert.equal(l1.layer, 1);
  assert.equal(l1.line, 3);
  assert.equal(m.row(roots[5]).description, '0 B · empty layer');
  assert.equal(m.row(roots[0]).contextValue, 'baseImage');
  assert.doesNotMatch(m.row(roots[0]).contextValue, /layer/, 'the base group must not get layer menus');
  assert.deepEqual(m.children(roots[0]).map((e) => m.row(e).label), ['L0 · (Imported from -)']);
  assert.equal(m.parent(m.layerEl(0)!), roots[0]);
  assert.equal(m.parent(m.layerEl(2)!), undefined);
  golden('tree-layers.txt', renderRows(m, roots));
});

test('layers view without a mapping: no line, no group, "layer" context only', async () => {
  const m = new TreeModel(await fixture());
  const roots = m.layerRoots();
  assert.equal(roots.length, 6);
  assert.equal(m.row(roots[2]).label, 'L2 · RUN echo changed > /app/config.txt && rm /app/blob && rm -r…');
  assert.equal(m.row(roots[2]).contextValue, 'layer');
  assert.equal(m.row(roots[2]).line, undefined);
});

test('a layer expands to its changes: added / modified / deleted with sizes, dirs first, chains compacted', async () => {
  const m = await model();
  const l2 = m.layerEl(2)!;
  const app = m.children(l2);
  assert.deepEqual(app.map((e) => m.row(e).label), ['app']);
  const kids = m.children(app[0]).map((e) => m.row(e));
  assert.deepEqual(kids.map((r) => [r.label, r.description, r.tone]), [
    ['blob', 'deleted · 48 kB still shipped below', 'deleted'],
    ['config.txt', 'modified · 12 B (was 10 B)', 'modified'],
    ['gone', 'modified · 2 B (was a directory)', 'modified'],
    ['run.sh', 'metadata only · 20 B copied up', 'modified'],
  ]);
  // L1's changes know their fate: /app/blob is deleted by L2, /app/config.txt hidden by L2.
  const l1app = m.children(m.children(m.layerEl(1)!)[0]);
  const blob = m.row(find(m, l1app, 'blob'));
  assert.equal(blob.description, 'added · 48 kB · deleted by L2');
  assert.equal(blob.contextValue, 'change added file mapped');
  assert.equal(blob.openable, true);
  // A layer with nothing in it says so.
  assert.deepEqual(m.children(m.layerEl(5)!).map((e) => m.row(e).label), ['no changes']);
  golden('tree-layer-changes.txt', renderRows(m, m.layerRoots().slice(1), { tooltips: false }));
});

test('merged filesystem: dirs first, sorted, aggregate sizes; files name their providing layer', async () => {
  const m = await model();
  const roots = m.fileRoots({ wasteOnly: false });
  assert.deepEqual(roots.map((r) => m.row(r).label), ['app', 'bin', 'etc']);
  const app = m.row(roots[0]);
  assert.equal(app.description, '34 B · 51.5 kB hidden');
  assert.equal(app.icon, 'folder');
  assert.equal(app.contextValue, 'dir mapped');
  const config = rowOf(m, '/app/config.txt');
  assert.equal(config.description, '12 B · L2 · RUN echo changed > /app/config.txt && r… · hides L1 (10 B)');
  assert.equal(config.contextValue, 'file hides mapped');
  assert.equal(config.collapsible, 'collapsed');
  assert.equal(config.layer, 2);
  assert.equal(config.path, '/app/config.txt');
  assert.equal(rowOf(m, '/bin/sh').description, '→ busybox · L0 · (Imported from -)');
  assert.equal(rowOf(m, '/bin/sh').contextValue, 'file', 'L0 is not mapped: no "mapped"');
  assert.equal(rowOf(m, '/app/hard').description, '⇒ /app/config.txt · 12 B · L4 · RUN ln /app/config.txt /app/hard && ln …');
  golden('tree-files.txt', renderRows(m, roots));
});

test('a file that hides lower copies expands to each hidden copy with its layer and size', async () => {
  const m = await model();
  const config = m.entryEl(m.tree.lookup('/app/config.txt')!);
  const copies = m.children(config).map((e) => m.row(e));
  assert.deepEqual(copies.map((r) => [r.label, r.description, r.contextValue, r.layer]), [
    ['L1 · RUN mkdir -p /app/cache /app/gone && he…', '10 B · hidden by L2', 'hiddenCopy file mapped', 1],
  ]);
  assert.equal(m.parent(m.children(config)[0]), config);
  // /app/gone: a file (L2) over a directory (L1): the dir copy and its deleted entry are listed.
  const gone = m.entryEl(m.tree.lookup('/app/gone')!);
  assert.deepEqual(m.children(gone).map((e) => [m.row(e).label, m.row(e).description, m.row(e).contextValue]), [
    ['L1 · RUN mkdir -p /app/cache /app/gone && he…', 'directory · hidden by L2', 'copy mapped'],
    ['x', 'replaced in L2, still shipped in L1: 7 B', 'file deleted mapped'],
  ]);
});

test('whiteouts: deleted paths are greyed and say who deleted them and where the bytes still are', async () => {
  const m = await model();
  const blob = rowOf(m, '/app/blob');
  assert.equal(blob.description, 'deleted by L2, still shipped in L1: 48 kB');
  assert.equal(blob.tone, 'deleted');
  assert.equal(blob.contextValue, 'file deleted mapped');
  assert.equal(blob.layer, 1, 'opening a deleted file opens its last shipped version');
  assert.equal(blob.collapsible, 'collapsed', 'expands to its shipped copy');
  assert.deepEqual(m.children(m.entryEl(m.tree.lookup('/app/blob')!)).map((e) => m.row(e).description), ['48 kB · deleted by L2']);
  assert.match(blob.tooltip(), /still carries it/);
});

test('opaque directories are marked with what they hide', async () => {
  const m = await model();
  const cache = rowOf(m, '/app/cache');
  assert.equal(cache.description, '0 B · 3.5 kB hidden · opaque in L3: hides 2 entries (3.5 kB)');
  const kids = m.children(m.entryEl(m.tree.lookup('/app/cache')!)).map((e) => m.row(e));
  assert.deepEqual(kids.map((r) => [r.label, r.description]), [
    ['sub', 'hidden by opaque dir in L3, still shipped in L1: 500 B'],
    ['a.bin', 'hidden by opaque dir in L3, still shipped in L1: 3 kB'],
    ['new', '0 B · L3 · RUN rm -rf /app/cache && mkdir /app/cac…'],
  ]);
});

test('waste filter: only rows that carry hidden bytes', async () => {
  const m = await model();
  const mode = { wasteOnly: true };
  const roots = m.fileRoots(mode);
  assert.deepEqual(roots.map((r) => m.row(r, mode).label), ['app']);
  const app = m.children(roots[0], mode).map((e) => m.row(e, mode).label);
  assert.deepEqual(app, ['cache', 'blob', 'config.txt', 'gone', 'run.sh']);
  golden('tree-files-waste.txt', renderRows(m, roots, { mode }));
});

test('one layer\'s changes in the files view, with and without the waste filter', async () => {
  const m = await model();
  const mode = { layer: 1, wasteOnly: false };
  golden('tree-files-layer1.txt', renderRows(m, m.fileRoots(mode), { mode }));
  const waste = { layer: 4, wasteOnly: true };
  assert.deepEqual(m.fileRoots(waste).map((e) => m.row(e, waste).label), ['no changes with hidden bytes']);
});

test('find file: every path, live and deleted, sorted; reveal walks parents up to the root', async () => {
  const m = await model();
  const all = [...m.paths()].map((p) => p.path);
  assert.ok(all.includes('/app/blob'));
  assert.ok(all.includes('/app/cache/sub/b.bin'));
  assert.deepEqual(all.slice(0, 3), ['/app', '/app/blob', '/app/cache']);
  const b = m.entryEl(m.tree.lookup('/app/cache/sub/b.bin')!);
  const chain: string[] = [];
  for (let e: TreeEl | undefined = b; e; e = m.parent(e)) chain.push((e as EntryEl).path);
  assert.deepEqual(chain, ['/app/cache/sub/b.bin', '/app/cache/sub', '/app/cache', '/app']);
  assert.equal(m.entryEl(m.tree.lookup('/app')!), m.fileRoots({ wasteOnly: false })[0], 'same element object');
});

test('tooltips (golden)', async () => {
  const m = await model();
  const els = ['/app/config.txt', '/app/blob', '/app/cache', '/bin/sh'].map((p) => m.entryEl(m.tree.lookup(p)!));
  const out = els.map((e) => renderRows(m, [e], { tooltips: true, maxDepth: 1 })).join('') +
    renderRows(m, [m.layerEl(2)!, ...m.children(m.entryEl(m.tree.lookup('/app/config.txt')!))], { tooltips: true, maxDepth: 1 });
  golden('tree-tooltips.txt', out);
});

test('a directory of 10k entries: a page of children (500) sorted once and cached, then a "more" row; more pages, and pages up to a revealed entry', () => {
  const entries: LayerEntry[] = [{ path: '/big', type: 'dir', size: 0, mode: 0o755, uid: 0, gid: 0, mtime: 0 }];
  for (let i = 0; i < 10_000; i++) entries.push({ path: `/big/f${(i * 7919) % 10_000}`, type: 'file', size: 1, mode: 0o644, uid: 0, gid: 0, mtime: 0 });
  entries.push({ path: '/big/zdir', type: 'dir', size: 0, mode: 0o755, uid: 0, gid: 0, mtime: 0 });
  const layer: LayerIndex = {
    diffId: '', entries, whiteouts: [], opaqueDirs: [], tarFileBytes: 10_000, tarEntries: entries.length, tarBytes: 0, compression: 'none', warnings: [],
  };
  const a = analyze({
    id: 'sha256:x', repoTags: [], config: { os: 'linux', architecture: 'amd64' }, diffIds: [''], layers: [layer],
    history: [{ index: 0, createdBy: 'COPY . /', emptyLayer: false, layerIndex: 0 }], source: { kind: 'docker-archive', ref: 'mem' }, warnings: [],
  });
  const m = new TreeModel(a);
  const big = m.fileRoots({ wasteOnly: false })[0];
  const kids = m.children(big);
  assert.equal(kids.length, 501, 'a page of 500, then the "more" row');
  assert.equal(m.row(kids[0]).label, 'zdir', 'directories first');
  assert.deepEqual(kids.slice(1, 4).map((k) => m.row(k).label), ['f0', 'f1', 'f10']);
  assert.equal(m.row(kids[499]).description, '1 B · L0 · COPY . /');
  assert.equal(m.children(big), kids, 'cached: the same array');
  const more = kids[500];
  assert.ok(more.kind === 'more');
  assert.deepEqual([m.row(more).label, m.row(more).description, m.row(more).contextValue], ['Show 500 more', '500 of 10,001 shown', 'more']);
  assert.equal(m.parent(more), big);
  // Every page: the list grows by 500 until all are there, in the same order.
  let all = kids;
  for (let pages = 1; all[all.length - 1].kind === 'more'; pages++) {
    assert.equal(m.showMore(all[all.length - 1] as MoreEl), big);
    const next = m.children(big);
    assert.deepEqual(next.slice(0, all.length - 1), all.slice(0, -1), 'earlier rows stay, the same elements');
    all = next;
    assert.ok(pages < 21);
  }
  assert.equal(all.length, 10_001);
  const labels = all.map((k) => m.row(k).label);
  assert.deepEqual(labels.slice(1), [...labels.slice(1)].sort(), 'files by name');
  assert.equal(new Set(labels).size, 10_001);
  // Revealing an entry past the shown pages lists pages up to it.
  const fresh = new TreeModel(a);
  const last = fresh.entryEl(fresh.tree.lookup('/big/f9999')!);
  const bigEl = fresh.fileRoots({ wasteOnly: false })[0];
  assert.ok(!fresh.children(bigEl).includes(last));
  assert.deepEqual(fresh.showEntry(last), [bigEl]);
  const shown = fresh.children(bigEl);
  assert.ok(shown.includes(last));
  assert.equal(shown.length, 10_001, 'f9999 sorts last: every page');
  assert.deepEqual(fresh.showEntry(last), [], 'already listed');
  // A layer's changes page the same way.
  const change = fresh.children(fresh.layerEl(0)!)[0];
  const changes = fresh.children(change);
  assert.equal(changes.length, 501);
  assert.equal(changes[500].kind, 'more');
  assert.equal(fresh.showMore(changes[500] as MoreEl), change);
  assert.equal(fresh.children(change).length, 1001);
});

test('Dockerfile lines for layers from a recorded BuildKit history: base layers counted, each layer on its line', () => {
  const root = path.resolve(GOLDEN_DIR, '../../..');
  const rec = JSON.parse(fs.readFileSync(path.join(root, 'test/fixtures/histories/basic.buildkit.json'), 'utf8')) as { history: Array<{ created_by?: string; empty_layer?: boolean }> };
  const text = fs.readFileSync(path.join(root, 'test/fixtures/dockerfiles/basic/Dockerfile'), 'utf8');
  const r = layerLinesFromDockerfile(text, historyFromConfig(rec.history));
  assert.ok(r, 'mapped');
  assert.equal(r.baseLayerCount, 1);
  // L1 WORKDIR $APP_HOME (line 5), L2 COPY hello.txt (6), L3 COPY dir/ (7), L4 ADD (8), L5 RUN (9-13), L6 RUN (14), L7 WORKDIR data (16)
  assert.deepEqual([...r.lines], [[1, 5], [2, 6], [3, 7], [4, 8], [5, 9], [6, 14], [7, 16]]);
  assert.equal(layerLinesFromDockerfile('FROM scratch\nCOPY nothing-like-this /x\n', historyFromConfig(rec.history)), undefined, 'a poor match labels nothing');
});
