// The dive figures as computed before the stacked-tree filter and the single-map visit (git
// ca789d8, src/core/image/efficiency.ts): a test oracle for the faster version; not used by src/.
import type { LayerIndex } from '../../../src/core/image/types';
// The tree helpers and the summary (unchanged by that work) are shared with src/core/image/efficiency.ts; the part that
// changed, which paths are stacked and how visits are counted, is kept here as it was.
import { StackAdder, diveSummary, getNode, layerParents, removePath, subtreeSize, type DiveEfficiency, type DiveNode } from '../../../src/core/image/efficiency';

interface PathData {
  cumulative: number;
  min: number;
  count: number;
}

export function diveEfficiencyReference(layers: LayerIndex[]): DiveEfficiency {
  const stacked: DiveNode = { children: new Map(), isDir: true, size: 0 };
  const data = new Map<string, PathData>();
  const inefficient: string[] = [];

  for (const layer of layers) {
    const parents = layerParents(layer);
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

  return diveSummary(data, inefficient, layers);
}
