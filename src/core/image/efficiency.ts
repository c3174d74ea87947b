// dive-compatible efficiency, wasted bytes and user wasted percent, with dive's own definitions
// (dive/filetree/efficiency.go, dive/image/analysis.go), so a `layerlens ci` threshold means what
// it means in dive's `--ci`:
// - each layer is a tree of its tar entries (whiteout `.wh.X` is a node X marked as a whiteout;
//   opaque markers are dropped); only its leaves are visited;
// - a visited node's size is its tar size, or for a whiteout the total size of the directory it
//   deletes in the stack of the layers below (0 when it deleted a file);
// - per path: cumulative = Σ sizes, min = smallest size; score = Σ min / Σ cumulative (1 if 0);
// - wasted bytes = Σ cumulative of the paths visited in two or more layers (this counts the copy
//   that must remain too: dive#684); user wasted percent = wasted / Σ sizes of layers 1..n.
// One divergence, noted in docs/definitions.md: dive aborts a layer's walk when a whiteout names a path
// that does not exist below; we count that whiteout as 0 bytes and go on.
import type { LayerIndex } from './types';

/** A node of dive's stacked tree (exported with the helpers below for the test oracle). */
export interface DiveNode {
  children: Map<string, DiveNode> | null;
  isDir: boolean;
  size: number;
}

interface PathData {
  cumulative: number;
  min: number;
  count: number;
  /** The last layer that visited the path, the size it gave, and min before that layer. */
  layer: number;
  last: number;
  minBefore: number;
}

export interface DiveEfficiency {
  efficiency: number;
  wastedBytes: number;
  userWastedPercent: number;
  /** Σ dive layer sizes (tar header sizes of regular files). */
  sizeBytes: number;
  userSizeBytes: number;
  /** Paths in two or more layers, largest cumulative first. */
  inefficiencies: Array<{ path: string; cumulative: number; count: number }>;
}

/** dive's figures for no layers: what an analysis shows before they are known. */
export const EMPTY_DIVE: DiveEfficiency = { efficiency: 1, wastedBytes: 0, userWastedPercent: 0, sizeBytes: 0, userSizeBytes: 0, inefficiencies: [] };

function split(path: string): string[] {
  return path.split('/').filter((p) => p !== '');
}

export function getNode(root: DiveNode, path: string): DiveNode | undefined {
  let n: DiveNode | undefined = root;
  for (const part of split(path)) {
    n = n.children?.get(part);
    if (!n) return undefined;
  }
  return n;
}

export function subtreeSize(n: DiveNode): number {
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
export class StackAdder {
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

export function removePath(root: DiveNode, path: string): void {
  const parts = split(path);
  const parent = getNode(root, '/' + parts.slice(0, -1).join('/'));
  parent?.children?.delete(parts[parts.length - 1]);
}

/**
 * Which entries the stacked tree needs. It is read only to size whiteouts, and a whiteout's size
 * depends only on the nodes at or under its own path: when the image has few whiteouts, only
 * entries at or under one of them are stacked (their ancestors are created on the way, as dive
 * creates them), and only for the layers below the last whiteout. Same sizes, a fraction of the
 * work: most images delete little. Many whiteouts: every entry is stacked, as before.
 */
function stackFilter(layers: LayerIndex[]): { upTo: number; wanted: ((path: string) => boolean) | null } {
  let upTo = 0;
  const targets: string[] = [];
  for (let i = 0; i < layers.length; i++) {
    if (layers[i].whiteouts.length === 0) continue;
    upTo = i;
    for (const w of layers[i].whiteouts) targets.push(w);
  }
  if (targets.length === 0) return { upTo: 0, wanted: () => false };
  if (targets.length > 64) return { upTo, wanted: null };
  const exact = new Set(targets);
  const prefixes = [...exact].map((w) => (w === '/' ? '/' : w + '/'));
  const under = (dir: string): boolean => {
    for (const p of prefixes) if (exact.has(dir) || (dir + '/').startsWith(p)) return true;
    return false;
  };
  // Entries of one directory come together: the parent's answer is reused for its siblings.
  let lastDir: string | null = null;
  let lastWanted = false;
  return {
    upTo,
    wanted: (path: string): boolean => {
      if (exact.has(path)) return true;
      const cut = path.lastIndexOf('/');
      if (lastDir === null || cut !== lastDir.length || !path.startsWith(lastDir)) {
        lastDir = path.slice(0, cut);
        lastWanted = under(lastDir);
      }
      return lastWanted;
    },
  };
}

/** The layer's own tree (entries and whiteouts): its directories. Leaves are paths that are no one's parent. */
export function layerParents(layer: LayerIndex): Set<string> {
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
  return parents;
}

export function diveEfficiency(layers: LayerIndex[]): DiveEfficiency {
  const stacked: DiveNode = { children: new Map(), isDir: true, size: 0 };
  const data = new Map<string, PathData>();
  const inefficient: string[] = [];
  const stack = stackFilter(layers);

  for (let li = 0; li < layers.length; li++) {
    const layer = layers[li];
    const parents = layerParents(layer);
    // Whiteout nodes replace an entry of the same path in dive's tree; the last one added wins.
    // (Entries go straight into `data`; a path twice in one tar counts once, with its last size.)
    const whiteoutVisits = new Map<string, number>();
    for (const w of layer.whiteouts) {
      if (parents.has(w)) continue;
      const below = getNode(stacked, w);
      whiteoutVisits.set(w, below && below.isDir ? subtreeSize(below) : 0);
    }
    const visit = (path: string, size: number): void => {
      const d = data.get(path);
      if (!d) {
        data.set(path, { cumulative: size, min: size, count: 1, layer: li, last: size, minBefore: -1 });
        return;
      }
      if (d.layer === li) {
        d.cumulative += size - d.last;
        d.last = size;
        d.min = d.minBefore < 0 || size < d.minBefore ? size : d.minBefore;
        return;
      }
      d.minBefore = d.min;
      d.layer = li;
      d.last = size;
      d.cumulative += size;
      if (size < d.min) d.min = size;
      d.count++;
      if (d.count === 2) inefficient.push(path);
    };
    for (const e of layer.entries) {
      if (parents.has(e.path) || (whiteoutVisits.size > 0 && whiteoutVisits.has(e.path))) continue;
      visit(e.path, e.size);
    }
    for (const [w, size] of whiteoutVisits) visit(w, size);
    if (layer.entries.length === 0 && layer.whiteouts.length === 0) visit('/', 0);
    // Stack this layer for the whiteout sizes of the layers above (none above the last whiteout).
    if (li < stack.upTo) {
      const adder = new StackAdder(stacked);
      const wanted = stack.wanted;
      for (const e of layer.entries) if (!wanted || wanted(e.path)) adder.add(e.path, e.type === 'dir', e.size);
      for (const w of layer.whiteouts) removePath(stacked, w);
    }
  }

  return diveSummary(data, inefficient, layers);
}

export interface PathFigures {
  /** Every visited path's figures. */
  values(): Iterable<{ cumulative: number; min: number; count: number }>;
  get(path: string): { cumulative: number; min: number; count: number } | undefined;
}

/** dive's figures from the per-path data: efficiency, wasted bytes, the inefficient paths. */
export function diveSummary(data: PathFigures, inefficient: string[], layers: readonly LayerIndex[]): DiveEfficiency {
  let minSum = 0;
  let cumSum = 0;
  for (const d of data.values()) { minSum += d.min; cumSum += d.cumulative; }
  // dive sorts its paths (in the order each met its second layer) by cumulative size, then lists
  // them in reverse: of two paths with the same size, the one that met its second layer later comes
  // first (dive's export and CI report; Go's sort keeps that order for the few paths of a report).
  const inefficiencies = inefficient
    .map((path, order) => ({ path, cumulative: data.get(path)!.cumulative, count: data.get(path)!.count, order }))
    .sort((a, b) => b.cumulative - a.cumulative || b.order - a.order)
    .map(({ order: _order, ...x }) => x);
  return diveFigures(minSum, cumSum, inefficiencies, layers);
}

/** dive's figures from the sums over every path and the inefficient paths, already in dive's order. */
export function diveFigures(minSum: number, cumSum: number, inefficiencies: DiveEfficiency['inefficiencies'], layers: readonly LayerIndex[]): DiveEfficiency {
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
