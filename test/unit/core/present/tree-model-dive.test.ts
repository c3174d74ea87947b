// dive's file tree view-model tests (cmd/dive/cli/internal/ui/v1/viewmodel/filetree_test.go at
// d6c6919, its testdata in test/fixtures/dive/viewmodel, MIT) on dive's test image, asserted on
// the Layers sidebar's tree model where Layer Lens has the same feature: which rows a collapsed
// or expanded directory shows, which rows can be expanded, and each row's mode, owner and size.
//
// Both views list the same rows; dive orders siblings by name alone, the sidebar folders first
// (as VS Code's explorer does), so rows are compared in dive's order (path components, by name).
//
// dive cases with no counterpart here, and why:
// - TestFileTreePageDown, TestFileTreePageUp, TestFileTreeRestrictedHeight: paging a terminal
//   window of N rows. VS Code's tree scrolls and virtualizes its rows; the model has no pages.
// - TestFileTreeFilterTree, TestFileTreeHideTypeWithFilter: a regex over names that keeps matches
//   and their parents. The sidebar has no name filter of its own: Find File in Image… searches
//   every path (VS Code's quick pick matches), and VS Code's tree find widget filters shown rows.
// - TestFileTreeHideAddedRemovedModified, TestFileTreeHideUnmodified, TestFileTreeSelectLayer:
//   dive's layer-range compare (the tree of layers 0–1 or 0–7 with the changes of 1–7 marked, and
//   a filter by change type over it). The sidebar shows the final image, or one layer's changes
//   (Show One Layer's Changes…), never a range; the merged tree of layers 0–1 is asserted on the
//   image index in test/unit/cli/dive-suite.test.ts.
// - layer_set_state_test.go (TestGetCompareIndexes): the index arithmetic of those compare modes.
import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { analyze, type Analysis } from '../../../../src/core/image/analysis';
import { TreeModel, type FilesMode, type TreeEl } from '../../../../src/core/present/treeModel';
import { loadImage, parseSource } from '../../../../src/sources/load';
import { repoRoot } from '../../../support/repo';
import { humanizeBytes, lsMode } from '../../support/diveText';

const DIVE = path.join(repoRoot(), 'test', 'fixtures', 'dive');

/** One visible row: its path, whether it shows as a collapsed directory (dive's ⊕), its attributes. */
interface Visible { path: string; collapsed: boolean; attrs: string }

/** dive's rendered rows (testdata/NAME.txt), each with its path rebuilt from the tree's indent. */
function diveRows(name: string): Visible[] {
  const out: Visible[] = [];
  const trail: string[] = [];
  for (const line of fs.readFileSync(path.join(DIVE, 'viewmodel', `${name}.txt`), 'utf8').split('\n')) {
    if (!line) continue;
    const m = /^(\S{10} +\d+:\d+ +[\d.]+ \w+) {2}((?:│ {3}| {4})*)(?:├|└)(──|─⊕) (.*)$/.exec(line);
    assert.ok(m, line);
    const depth = m[2].length / 4;
    trail.length = depth;
    trail.push(m[4].replace(/ → .*$/, ''));
    out.push({ path: '/' + trail.join('/'), collapsed: m[3] === '─⊕', attrs: m[1].replace(/ +/g, ' ') });
  }
  return out;
}

/** Path components compared as dive's tree orders siblings (by name). */
function diveOrder(a: Visible, b: Visible): number {
  const x = a.path.split('/');
  const y = b.path.split('/');
  for (let i = 0; i < Math.min(x.length, y.length); i++) if (x[i] !== y[i]) return x[i] < y[i] ? -1 : 1;
  return x.length - y.length;
}

/**
 * The rows the sidebar shows with every expandable row expanded except those under `collapsed`
 * (what a user sees after collapsing them), in dive's order. `attrs`: mode, owner and size of
 * the path as the row's element carries it (a directory: the bytes below it).
 */
function sidebarRows(model: TreeModel, roots: TreeEl[], collapsed: ReadonlySet<string>, mode: FilesMode, size: (el: TreeEl) => number): Visible[] {
  const out: Visible[] = [];
  const visit = (el: TreeEl): void => {
    if (el.kind !== 'entry' && el.kind !== 'change') return; // a file's hidden lower copies: rows of Layer Lens's own
    const row = model.row(el, mode);
    const node = el.kind === 'entry' ? el.node : el.cn.change!.node;
    const expandable = row.collapsible !== 'none';
    const shut = expandable && collapsed.has(row.path!);
    out.push({
      path: row.path!, collapsed: shut && node.type === 'dir',
      attrs: `${lsMode(node.type, node.mode)} ${node.uid}:${node.gid} ${humanizeBytes(size(el))}`,
    });
    if (expandable && !shut) for (const c of model.children(el, mode)) visit(c);
  };
  for (const r of roots) visit(r);
  return out.sort(diveOrder);
}

let loaded: Promise<Analysis> | undefined;
function diveImage(): Promise<Analysis> {
  return (loaded ??= (async () => analyze(await loadImage(await parseSource(path.join(DIVE, 'test-docker-image.tar')))))());
}

/**
 * dive's tree at layer 0 (its default view of the bottom layer) is the sidebar's Show One Layer's
 * Changes… for layer 0: every path of that layer, added. Sizes: the change tree's bytes.
 */
async function layerZero(collapsed: string[]): Promise<Visible[]> {
  const model = new TreeModel(await diveImage());
  const mode: FilesMode = { layer: 0, wasteOnly: false };
  return sidebarRows(model, model.fileRoots(mode), new Set(collapsed), mode, (el) => (el.kind === 'change' ? el.cn.bytes : 0));
}

test('dive TestFileTreeDirCollapse: /bin and /etc collapsed, the rest of layer 0 expanded', async () => {
  assert.deepEqual(await layerZero(['/bin', '/etc']), diveRows('TestFileTreeDirCollapse'));
});

test('dive TestFileTreeDirCollapseAll: every directory collapsed; the ones with children expandable, empty ones not', async () => {
  const rows = await layerZero(['/bin', '/dev', '/etc', '/home', '/root', '/tmp', '/usr', '/var']);
  assert.deepEqual(rows, diveRows('TestFileTreeDirCollapseAll'));
  assert.deepEqual(rows.filter((r) => r.collapsed).map((r) => r.path), ['/bin', '/etc', '/usr', '/var']);
});

test('dive TestFileTreeDirCursorRight: /etc collapsed then expanded again shows what /bin alone collapsed shows', async () => {
  const model = new TreeModel(await diveImage());
  const mode: FilesMode = { layer: 0, wasteOnly: false };
  // Collapsing and expanding a row keeps its children: the model gives the same elements again.
  const etc = model.fileRoots(mode).find((el) => model.row(el, mode).path === '/etc')!;
  const before = model.children(etc, mode);
  assert.ok(before.length > 0);
  assert.equal(model.children(etc, mode), before);
  assert.deepEqual(await layerZero(['/bin']), diveRows('TestFileTreeDirCursorRight'));
});

test('dive TestFileShowAggregateChanges: the tree of every layer, deleted paths included, /bin collapsed', async () => {
  // dive's compare of layer 0 with layers 1–13 shows the final tree with the paths the layers
  // removed still in it (a removed file with its last mode, a removed directory with the bytes it
  // held): the sidebar's merged filesystem, whose deleted rows say what deleted them.
  const a = await diveImage();
  const model = new TreeModel(a);
  const mode: FilesMode = { wasteOnly: false };
  // A directory's size in dive's view (FileNode.GetSize): the files below it, leaving out removed
  // ones unless the directory itself was removed; a removed file at its last version.
  const below = (el: TreeEl): number => {
    if (el.kind !== 'entry') return 0;
    const n = el.node;
    if (n.type !== 'dir') return n.type === 'file' ? n.size || (n.copies.at(-1)?.bytes ?? 0) : 0;
    return model.children(el, mode).reduce((s, c) => s + (c.kind === 'entry' && !c.node.live && n.live ? 0 : below(c)), 0);
  };
  const rows = sidebarRows(model, model.fileRoots(mode), new Set(['/bin']), mode, below);
  assert.deepEqual(rows, diveRows('TestFileShowAggregateChanges'));
  // The paths dive shows as removed are the sidebar's deleted rows.
  const deleted = rows.filter((r) => {
    const el = findEl(model, mode, r.path);
    return el !== undefined && model.row(el, mode).tone === 'deleted';
  }).map((r) => r.path);
  assert.deepEqual(deleted, ['/root/example', '/root/example/really', '/root/example/really/nested', '/root/example/somefile1.txt', '/root/example/somefile2.txt', '/root/example/somefile3.txt']);
});

function findEl(model: TreeModel, mode: FilesMode, p: string): TreeEl | undefined {
  let level = model.fileRoots(mode);
  let found: TreeEl | undefined;
  for (let i = 1; i <= p.split('/').length - 1; i++) {
    const want = p.split('/').slice(0, i + 1).join('/');
    found = level.find((el) => el.kind === 'entry' && el.path === want);
    if (!found) return undefined;
    level = model.children(found, mode);
  }
  return found;
}
