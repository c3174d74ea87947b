// dive's efficiency, wasted bytes and user wasted percent over the image index's columns, with
// dive's own definitions (src/core/image/efficiency.ts states them in full):
// - a layer is a tree of its tar entries (a whiteout `.wh.X` is a node X; opaque markers dropped);
//   only its leaves are visited;
// - a visited node's size is its tar size, or for a whiteout the total size of the directory it
//   deletes in the stack of the layers below (0 when it deleted a file);
// - per path: cumulative = Σ sizes, min = smallest; score = Σ min / Σ cumulative (1 if 0);
// - wasted bytes = Σ cumulative of the paths visited in two or more layers.
// Paths are the index's node ids; per path the figures are columns, not objects.
import { diveFigures, type DiveEfficiency } from '../efficiency';
import { widened, type NumArray } from './columns';
import type { ImageIndex } from './imageIndex';
import { T_DIR, type LayerTable } from './layerTable';

/** More whiteouts than this and every entry is stacked; fewer, only entries at or under one. */
const FEW_WHITEOUTS = 64;
/** The largest value a Uint32Array holds: byte figures past it widen their column (see NumArray). */
const MAX32 = 0xffffffff;

export function diveOfIndex(tables: readonly LayerTable[], ix: ImageIndex): DiveEfficiency {
  const N = ix.nodeCount;
  const parentOf = ix.nodeParent;
  // The stacked tree holds entries of the layers and their directories: nodes the merged tree has
  // had, whose children the index lists (for subtree sizes and removals).
  const kidStart = ix.childStart;
  const kids = ix.childList;

  // Which entries the stacked tree needs: it is read only to size whiteouts, and a whiteout's
  // size depends only on the nodes at or under its own path.
  let upTo = 0;
  let targets = 0;
  for (let i = 0; i < tables.length; i++) {
    const w = tables[i].cols.whiteNode.length;
    if (w === 0) continue;
    upTo = i;
    targets += w;
  }
  let wanted: ((n: number) => boolean) | null;
  if (targets === 0) wanted = () => false;
  else if (targets > FEW_WHITEOUTS) wanted = null;
  else {
    const target = new Uint8Array(N);
    for (let i = 0; i < tables.length; i++) {
      const c = tables[i].cols;
      // The marker's own text (dive matches whiteouts to entries by it).
      for (let k = 0; k < c.whiteRaw.length; k++) target[ix.layerNodes[i][c.whiteRaw[k]]] = 1;
    }
    // 0 unknown, 1 at or under a target, 2 not.
    const under = new Uint8Array(N);
    const isUnder = (n: number): boolean => {
      const path: number[] = [];
      let x = n;
      for (; x >= 0 && under[x] === 0; x = x === 0 ? -1 : parentOf[x]) {
        if (target[x]) { under[x] = 1; break; }
        path.push(x);
      }
      const v = x >= 0 && under[x] === 1 ? 1 : 2;
      for (const y of path) under[y] = v;
      return v === 1;
    };
    wanted = isUnder;
  }

  // dive's stacked tree of the layers below, as flags per node.
  const present = new Uint8Array(N);
  const sIsDir = new Uint8Array(N);
  // Sizes and byte sums in 32-bit columns, widened when one does not fit (every figure is a whole number of bytes).
  let sSize: NumArray = new Uint32Array(N);
  present[0] = 1;
  sIsDir[0] = 1;
  const subtreeSize = (n: number): number => {
    let total = 0;
    const stack = [n];
    while (stack.length) {
      const x = stack.pop()!;
      total += sSize[x];
      for (let k = kidStart[x]; k < kidStart[x + 1]; k++) if (present[kids[k]]) stack.push(kids[k]);
    }
    return total;
  };
  const remove = (n: number): void => {
    const stack = [n];
    while (stack.length) {
      const x = stack.pop()!;
      present[x] = 0;
      for (let k = kidStart[x]; k < kidStart[x + 1]; k++) if (present[kids[k]]) stack.push(kids[k]);
    }
  };
  const chain: number[] = [];
  const stackAdd = (n: number, isDir: boolean, size: number): void => {
    chain.length = 0;
    for (let x = parentOf[n]; x > 0 && !present[x]; x = parentOf[x]) chain.push(x);
    for (let i = chain.length - 1; i >= 0; i--) {
      present[chain[i]] = 1;
      sIsDir[chain[i]] = 1;
      sSize[chain[i]] = 0;
    }
    present[n] = 1;
    sIsDir[n] = isDir ? 1 : 0;
    if (size > MAX32 && sSize instanceof Uint32Array) sSize = widened(sSize);
    sSize[n] = size;
  };

  // Per path: cumulative, min and count. A path a tar names twice is visited twice in one layer, the
  // later entry replacing the earlier: for those (rare) the size the layer gave and the min before
  // the layer are kept aside.
  let cumulative: NumArray = new Uint32Array(N);
  let min: NumArray = new Uint32Array(N);
  // Per path, how many layers visited it: 16 bits while the layers are fewer than 65,535. Only a
  // path its tar names twice is visited twice in one layer: `again` holds those of the current
  // layer, from their first visit in it.
  const count = tables.length < 0xffff ? new Uint16Array(N) : new Int32Array(N);
  const again = new Map<number, { last: number; minBefore: number }>();
  let repeated: Set<number> | null = null;
  const inefficient: number[] = [];
  const setCumulative = (n: number, v: number): void => {
    if (v > MAX32 && cumulative instanceof Uint32Array) cumulative = widened(cumulative);
    cumulative[n] = v;
  };
  const setMin = (n: number, v: number): void => {
    if (v > MAX32 && min instanceof Uint32Array) min = widened(min);
    min[n] = v;
  };
  const visit = (n: number, size: number): void => {
    if (count[n] === 0) {
      setCumulative(n, size); setMin(n, size); count[n] = 1;
      if (repeated?.has(n)) again.set(n, { last: size, minBefore: -1 });
      return;
    }
    const a = repeated !== null ? again.get(n) : undefined;
    if (a) {
      setCumulative(n, cumulative[n] + size - a.last);
      a.last = size;
      setMin(n, a.minBefore < 0 || size < a.minBefore ? size : a.minBefore);
      return;
    }
    if (repeated?.has(n)) again.set(n, { last: size, minBefore: min[n] });
    setCumulative(n, cumulative[n] + size);
    if (size < min[n]) min[n] = size;
    count[n]++;
    if (count[n] === 2) inefficient.push(n);
  };

  for (let li = 0; li < tables.length; li++) {
    const c = tables[li].cols;
    const g = ix.layerNodes[li];
    // The layer's own directories: every ancestor of an entry or a whiteout (the root excluded).
    const isParent = new Uint8Array(c.nodeParent.length);
    const mark = (local: number): void => {
      for (let x = c.nodeParent[local]; x > 0 && !isParent[x]; x = c.nodeParent[x]) isParent[x] = 1;
    };
    for (let i = 0; i < c.entNode.length; i++) mark(c.entNode[i]);
    for (let i = 0; i < c.whiteRaw.length; i++) mark(c.whiteRaw[i]);
    // Paths this tar names more than once.
    repeated = null;
    {
      const seen = new Uint8Array(c.nodeParent.length);
      for (let i = 0; i < c.entNode.length; i++) {
        const local = c.entNode[i];
        if (seen[local]) (repeated ??= new Set()).add(g[local]);
        seen[local] = 1;
      }
    }
    again.clear();
    // Whiteout nodes replace an entry of the same path in dive's tree; the last one added wins.
    const whiteoutVisits = new Map<number, number>();
    for (let i = 0; i < c.whiteRaw.length; i++) {
      if (isParent[c.whiteRaw[i]]) continue;
      const below = g[c.whiteNode[i]];
      whiteoutVisits.set(g[c.whiteRaw[i]], present[below] && sIsDir[below] ? subtreeSize(below) : 0);
    }
    for (let i = 0; i < c.entNode.length; i++) {
      const local = c.entNode[i];
      if (isParent[local] || (whiteoutVisits.size > 0 && whiteoutVisits.has(g[local]))) continue;
      visit(g[local], c.entSize[i]);
    }
    for (const [w, size] of whiteoutVisits) visit(w, size);
    if (c.entNode.length === 0 && c.whiteRaw.length === 0) visit(0, 0);
    // Stack this layer for the whiteout sizes of the layers above (none above the last whiteout).
    if (li < upTo) {
      for (let i = 0; i < c.entNode.length; i++) {
        const n = g[c.entNode[i]];
        if (!wanted || wanted(n)) stackAdd(n, c.entType[i] === T_DIR, c.entSize[i]);
      }
      for (let i = 0; i < c.whiteNode.length; i++) {
        const n = g[c.whiteNode[i]];
        if (n !== 0 && present[n]) remove(n);
      }
    }
  }

  let minSum = 0;
  let cumSum = 0;
  for (let n = 0; n < N; n++) if (count[n] > 0) { minSum += min[n]; cumSum += cumulative[n]; }
  // dive's order (diveSummary says why): by cumulative size, falling; of two the same, the one that
  // met its second layer later first. Sorted as positions in a typed array; a path string and an
  // object are made only for the list itself.
  const order = new Int32Array(inefficient.length);
  for (let i = 0; i < order.length; i++) order[i] = i;
  order.sort((a, b) => cumulative[inefficient[b]] - cumulative[inefficient[a]] || b - a);
  const name = ix.pathNamer();
  const inefficiencies = Array.from(order, (i) => {
    const n = inefficient[i];
    return { path: name(n), cumulative: cumulative[n], count: count[n] };
  });
  return diveFigures(minSum, cumSum, inefficiencies, tables);
}
