// The dive figures as computed before the stacked-tree filter and the single-map visit (git
// ca789d8, src/core/efficiency.ts): a test oracle for the faster version; not used by src/.
import type { LayerIndex } from '../../../src/core/types';
import type { DiveEfficiency } from '../../../src/core/efficiency';

interface DiveNode {
  children: Map<string, DiveNode> | null;
  isDir: boolean;
  size: number;
}

interface PathData {
  cumulative: number;
  min: number;
  count: number;
}

function split(path: string): string[] {
  return path.split('/').filter((p) => p !== '');
}

function getNode(root: DiveNode, path: string): DiveNode | undefined {
  let n: DiveNode | undefined = root;
  for (const part of split(path)) {
    n = n.children?.get(part);
    if (!n) return undefined;
  }
  return n;
}

function subtreeSize(n: DiveNode): number {
  let total = 0;
  const stack = [n];
  while (stack.length) {
    const x = stack.pop()!;
    total += x.size;
    if (x.children) for (const c of x.children.values()) stack.push(c);
  }
  return total;
}

/** One step of adding a path: the child `name` of n, created or (when last) updated. */
function child(n: DiveNode, name: string, last: boolean, isDir: boolean, size: number): DiveNode {
  n.children ??= new Map();
  let c = n.children.get(name);
  if (!c) {
    c = { children: null, isDir: last ? isDir : true, size: last ? size : 0 };
    n.children.set(name, c);
  } else if (last) {
    c.isDir = isDir;
    c.size = size;
  }
  return c;
}

/**
 * Adds a layer's entries to the stacked tree in tar order: entries of one directory come together, so the
 * parent node of the previous entry is remembered and reused when the next path has the same
 * parent (no split, no walk from the root). The tree is the same as walking every path from the root.
 */
class StackAdder {
  private dir = '';
  private node: DiveNode | null = null;
  constructor(private readonly root: DiveNode) {}
  add(path: string, isDir: boolean, size: number): void {
    const cut = path.lastIndexOf('/');
    if (cut > 0 && this.node && cut === this.dir.length && path.startsWith(this.dir)) {
      child(this.node, path.slice(cut + 1), true, isDir, size);
      return;
    }
    const parts = split(path);
    let n = this.root;
    for (let i = 0; i < parts.length; i++) {
      if (i === parts.length - 1 && cut > 0) { this.dir = path.slice(0, cut); this.node = n; }
      n = child(n, parts[i], i === parts.length - 1, isDir, size);
    }
  }
}

function removePath(root: DiveNode, path: string): void {
  const parts = split(path);
  const parent = getNode(root, '/' + parts.slice(0, -1).join('/'));
  parent?.children?.delete(parts[parts.length - 1]);
}

export function diveEfficiencyReference(layers: LayerIndex[]): DiveEfficiency {
  const stacked: DiveNode = { children: new Map(), isDir: true, size: 0 };
  const data = new Map<string, PathData>();
  const inefficient: string[] = [];

  for (const layer of layers) {
    // The layer's own tree: entries and whiteouts. Leaves are paths that are no one's parent.
    const parents = new Set<string>();
    // The previous path's parent directory is marked already: skip a path with the same parent.
    let lastDir = '';
    const mark = (p: string): void => {
      const cut = p.lastIndexOf('/');
      if (cut > 0 && cut === lastDir.length && p.startsWith(lastDir)) return;
      if (cut > 0) lastDir = p.slice(0, cut);
      for (let i = cut; i > 0; i = p.lastIndexOf('/', i - 1)) {
        const dir = p.slice(0, i);
        if (parents.has(dir)) break;
        parents.add(dir);
      }
    };
    for (const e of layer.entries) mark(e.path);
    for (const w of layer.whiteouts) mark(w);
    // Whiteout nodes replace an entry of the same path in dive's tree; the last one added wins.
    const visits = new Map<string, number>();
    for (const e of layer.entries) if (!parents.has(e.path)) visits.set(e.path, e.size);
    for (const w of layer.whiteouts) {
      if (parents.has(w)) continue;
      const below = getNode(stacked, w);
      visits.set(w, below && below.isDir ? subtreeSize(below) : 0);
    }
    if (layer.entries.length === 0 && layer.whiteouts.length === 0) visits.set('/', 0);
    for (const [path, size] of visits) {
      let d = data.get(path);
      if (!d) { d = { cumulative: 0, min: -1, count: 0 }; data.set(path, d); }
      d.cumulative += size;
      if (d.min < 0 || size < d.min) d.min = size;
      d.count++;
      if (d.count === 2) inefficient.push(path);
    }
    // Stack this layer for the next one's whiteout sizes.
    const adder = new StackAdder(stacked);
    for (const e of layer.entries) adder.add(e.path, e.type === 'dir', e.size);
    for (const w of layer.whiteouts) removePath(stacked, w);
  }

  let minSum = 0;
  let cumSum = 0;
  for (const d of data.values()) { minSum += d.min; cumSum += d.cumulative; }
  const inefficiencies = inefficient
    .map((path) => ({ path, cumulative: data.get(path)!.cumulative, count: data.get(path)!.count }))
    .sort((a, b) => b.cumulative - a.cumulative || (a.path < b.path ? -1 : 1));
  const wastedBytes = inefficiencies.reduce((a, x) => a + x.cumulative, 0);
  const sizes = layers.map((l) => l.tarFileBytes);
  const sizeBytes = sizes.reduce((a, b) => a + b, 0);
  const userSizeBytes = sizeBytes - (sizes[0] ?? 0);
  return {
    efficiency: cumSum === 0 ? 1 : minSum / cumSum,
    wastedBytes,
    userWastedPercent: userSizeBytes === 0 ? 0 : wastedBytes / userSizeBytes,
    sizeBytes,
    userSizeBytes,
    inefficiencies,
  };
}
