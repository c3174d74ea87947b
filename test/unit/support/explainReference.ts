// What Explain This Layer says about a layer's paths, computed over the object model (MergedTree:
// one object per node, its copies as objects) for the differential test of the index's answer
// (src/core/present/explain/facts.ts reads the index's columns).
import { nodePath, type MergedNode, type MergedTree } from '../../../src/core/image/merge';
import type { CopyUp, Deletion, HiddenLater, PathBytes, ShippedBelow } from '../../../src/core/present/explain';

export interface PathFacts {
  copyUps: CopyUp[];
  deletions: Deletion[];
  deletedShipped: ShippedBelow[];
  overwrittenBelow: ShippedBelow[];
  hiddenLater: HiddenLater[];
  largest: PathBytes[];
  /** Bytes the deletions hid that no lower layer's file accounts for. */
  deletedUnattributed: number;
}

const cmp = (a: string, b: string): number => (a < b ? -1 : a > b ? 1 : 0);
const byBytesThenPath = (x: PathBytes, y: PathBytes): number => y.bytes - x.bytes || cmp(x.path, y.path);
const top = (paths: PathBytes[], n: number): PathBytes[] => [...paths].sort(byBytesThenPath).slice(0, n);

function* subtree(n: MergedNode): Generator<MergedNode> {
  const stack = [n];
  while (stack.length) {
    const x = stack.pop()!;
    yield x;
    if (x.children) for (const c of x.children.values()) stack.push(c);
  }
}

function grouped(map: Map<number, PathBytes[]>, maxItems: number): ShippedBelow[] {
  return [...map].map(([layer, paths]) => ({ layer, bytes: paths.reduce((s, p) => s + p.bytes, 0), files: paths.length, paths: top(paths, maxItems) }))
    .sort((p, q) => q.bytes - p.bytes || p.layer - q.layer);
}

function push<K>(map: Map<K, PathBytes[]>, key: K, path: string, bytes: number): void {
  let e = map.get(key);
  if (!e) map.set(key, (e = []));
  e.push({ path, bytes });
}

/** The path facts of `layer`, from every node and copy of the object tree. */
export function pathFactsOfTree(tree: MergedTree, layer: number, maxItems = 10): PathFacts {
  const copyUps: CopyUp[] = [];
  const deletions: Deletion[] = [];
  const written: PathBytes[] = [];
  const deletedShipped = new Map<number, PathBytes[]>();
  const overwritten = new Map<number, PathBytes[]>();
  let attributed = 0;
  const hiddenBelow = (t: MergedNode, includeTop: boolean): number => {
    let bytes = 0;
    for (const n of subtree(t)) {
      if ((n === t && !includeTop) || n.deletedBy !== layer || n.type !== 'file') continue;
      const below = [...n.copies].reverse().find((c) => c.layer < layer);
      if (!below || below.bytes === 0) continue;
      push(deletedShipped, below.layer, nodePath(n), below.bytes);
      bytes += below.bytes;
    }
    attributed += bytes;
    return bytes;
  };
  for (const c of tree.layers[layer].changes) {
    const path = nodePath(c.node);
    if (c.kind === 'deleted') {
      deletions.push({ path, how: c.how ?? 'whiteout', bytes: c.bytes });
      hiddenBelow(c.node, true);
      continue;
    }
    if (c.kind === 'modified' && c.node.children && c.node.type !== 'dir') {
      const bytes = hiddenBelow(c.node, false);
      if (bytes > 0) deletions.push({ path, how: 'replaced', bytes });
    }
    let i = c.node.copies.length - 1;
    while (i >= 0 && c.node.copies[i].layer !== layer) i--;
    if (i < 0) continue;
    const copy = c.node.copies[i];
    if (copy.type === 'file') written.push({ path, bytes: copy.bytes });
    if (c.kind !== 'modified' || i === 0 || copy.type !== 'file') continue;
    const lower = c.node.copies[i - 1];
    if (lower.type !== 'file' && lower.type !== 'hardlink') continue;
    copyUps.push({ path, bytes: copy.bytes, lowerBytes: lower.bytes, lowerLayer: lower.layer, metadataOnly: c.metadataOnly === true });
    if (lower.bytes > 0) push(overwritten, lower.layer, path, lower.bytes);
  }
  // What later layers hid of this layer's files: every node of the tree, each hidden copy.
  const hidden = new Map<string, PathBytes[]>();
  for (const [path, n] of tree.walk()) {
    const hiddenCopies = n.live ? n.copies.length - 1 : n.copies.length;
    for (let k = 0; k < hiddenCopies; k++) {
      const c = n.copies[k];
      if (c.layer !== layer || c.type !== 'file') continue;
      const next = n.copies[k + 1];
      const by = next ? next.layer : n.deletedBy;
      if (by === null) continue;
      push(hidden, `${by}:${next ? 'overwritten' : 'deleted'}`, path, c.bytes);
    }
  }
  const deletionBytes = deletions.reduce((s, d) => s + d.bytes, 0);
  return {
    copyUps: copyUps.sort(byBytesThenPath),
    deletions: deletions.sort(byBytesThenPath),
    deletedShipped: grouped(deletedShipped, maxItems),
    overwrittenBelow: grouped(overwritten, maxItems),
    hiddenLater: [...hidden].map(([key, paths]) => {
      const [by, how] = key.split(':');
      return { byLayer: Number(by), how: how as HiddenLater['how'], bytes: paths.reduce((s, p) => s + p.bytes, 0), files: paths.length, paths: top(paths, maxItems) };
    }).sort((x, y) => y.bytes - x.bytes || x.byLayer - y.byLayer || cmp(x.how, y.how)),
    largest: top(written, maxItems).filter((p) => p.bytes > 0),
    deletedUnattributed: Math.max(0, deletionBytes - attributed),
  };
}
