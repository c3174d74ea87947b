// The image index (src/core/image/index) and the object model (MergedTree, diveEfficiency) side
// by side: what each says about a stack of layers, for the differential tests.
import * as assert from 'node:assert/strict';
import { diveEfficiency } from '../../../src/core/image/efficiency';
import { plainIndex } from '../../../src/core/image/indexCodec';
import { MergedTree, nodePath, postOrder, type MergedNode, type MergedTreeLike } from '../../../src/core/image/merge';
import { IndexTreeView } from '../../../src/core/image/index/treeView';
import { buildImageIndex } from '../../../src/core/image/index/imageIndex';
import { diveOfIndex } from '../../../src/core/image/index/dive';
import { layerTableOf } from '../../../src/core/image/index/layerTable';
import type { LayerIndex } from '../../../src/core/image/types';
import { formatMode } from '../../../src/core/present/format';
import { indexFileRecords, indexLayerChangeRecords, type FileRecord, type LayerChangeRecord } from '../../../src/core/present/report';

/** Everything both models say about a stack of layers, the old way and the new. */
/** The object tree's record of a path, as the CLI's `files` prints it. */
function fileRecord(path: string, n: MergedNode): FileRecord {
  if (!n.live) {
    return { path, deleted: true, deletedBy: n.deletedBy, shippedIn: [...new Set(n.copies.map((c) => c.layer))] };
  }
  const r: FileRecord = {
    path, type: n.type, size: n.size, mode: formatMode(n.mode), layer: n.layer,
    hides: MergedTree.hiddenCopies(n).map((c) => c.layer),
  };
  if (n.linkname !== undefined) r.linkname = n.linkname;
  return r;
}

/** One layer's changes from the object tree, sorted by path (the index's answer must equal it). */
function* treeLayerChangeRecords(tree: MergedTree, layers: readonly LayerIndex[], layer: number): Generator<LayerChangeRecord> {
  const stats = tree.layers[layer];
  const rows = stats.changes.map((c) => ({ c, path: nodePath(c.node) })).sort((x, y) => (x.path < y.path ? -1 : x.path > y.path ? 1 : 0));
  for (const { c, path } of rows) {
    // The layer's own entry; for a deletion, the deleted copy's (the highest layer below shipping it).
    const at = c.kind !== 'deleted' ? layer : Math.max(-1, ...c.node.copies.map((x) => x.layer).filter((l) => l < layer));
    const e = at >= 0 ? [...layers[at].entries].reverse().find((x) => x.path === path) : undefined;
    const meta = e ?? { type: c.node.type, mode: c.node.mode, uid: c.node.uid, gid: c.node.gid, linkname: c.node.linkname };
    const r: LayerChangeRecord = {
      path, change: c.kind, type: meta.type, size: c.bytes, mode: formatMode(meta.mode), uid: meta.uid, gid: meta.gid,
      layer, bytes: c.bytes,
    };
    if (meta.linkname !== undefined) r.linkname = meta.linkname;
    if (c.metadataOnly) r.metadataOnly = true;
    if (c.how) r.how = c.how;
    yield r;
  }
}

/**
 * Every field of every node, by path, children by name (the object tree keeps children in the
 * order the merge met them, the index by name: the same children either way).
 */
function nodesOf(tree: MergedTreeLike): unknown[] {
  const byName = (a: string, b: string): number => (a < b ? -1 : a > b ? 1 : 0);
  const dump = (n: MergedNode): unknown => ({
    path: nodePath(n), name: n.name, parent: n.parent ? nodePath(n.parent) : null, live: n.live, type: n.type, size: n.size, mode: n.mode,
    uid: n.uid, gid: n.gid, linkname: n.linkname, layer: n.layer, copies: n.copies, deletedBy: n.deletedBy, deletedHow: n.deletedHow,
    opaqueIn: n.opaqueIn, total: n.total, count: n.count, children: n.children ? [...n.children.keys()].sort(byName) : null,
  });
  return postOrder(tree.root).map((n) => [nodePath(n), dump(n)] as const).sort((a, b) => byName(a[0], b[0])).map(([, d]) => d);
}

/** A layer's changes as plain data (nodes by path). */
function changesOf(tree: MergedTreeLike): unknown[] {
  return tree.layers.map((l) => l.changes.map(({ node, ...c }) => ({ ...c, node: nodePath(node) })));
}

export function both(layers: readonly LayerIndex[]): { old: unknown; now: unknown } {
  const plain = layers.map(plainIndex);
  const tree = new MergedTree();
  for (const l of plain) tree.addLayer(l);
  const warnings = tree.finish().warnings;
  const old = {
    files: [...tree.walk()].map(([p, n]) => fileRecord(p, n)),
    layers: tree.layers.map(({ changes: _c, ...figures }) => figures),
    changes: tree.layers.map((_, i) => [...treeLayerChangeRecords(tree, plain, i)]),
    warnings,
    hiddenBytes: tree.hiddenBytes,
    dive: diveEfficiency(plain),
    nodes: nodesOf(tree),
    changeObjects: changesOf(tree),
    lookups: [...tree.walk()].map(([p]) => nodePath(tree.lookup(p)!)),
  };
  const tables = layers.map(layerTableOf);
  const ix = buildImageIndex(tables);
  const view = new IndexTreeView(ix);
  const now = {
    files: [...indexFileRecords(ix)],
    layers: ix.layers.map(({ changes: _c, ...figures }) => figures),
    changes: ix.layers.map((_, i) => [...indexLayerChangeRecords(ix, i, (l) => tables[l])]),
    warnings: ix.warnings,
    hiddenBytes: ix.hiddenBytes,
    dive: diveOfIndex(tables, ix),
    nodes: nodesOf(view),
    changeObjects: changesOf(view),
    lookups: [...view.walk()].map(([p]) => nodePath(view.lookup(p)!)),
  };
  return { old, now };
}

/** Both models say the same about the layers. */
export function same(layers: readonly LayerIndex[], label: string): void {
  const { old, now } = both(layers);
  assert.deepEqual(now, old, label);
}
