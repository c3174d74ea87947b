// Nodes of the image index in the order of their absolute paths as strings (what `a < b` says of
// the paths), without making the paths. Under a directory, every path of a child c and its
// descendants starts with c's name; c itself sorts by its name and its descendants, together, by
// its name followed by '/'. So a walk that, in each directory, takes those two keys of every child
// in sorted order — the child, or all of its descendants — meets the paths in string order: "/a",
// "/a-b", "/a/x" ('-' sorts before '/'). Only the directories on the way are visited, and a name
// is made only for a directory's descendants key.
import type { ImageIndex } from './imageIndex';

/**
 * The positions 0…nodes.length-1 ordered by the path of the node at each position; positions of
 * the same node keep their order. Every node must be in the merged tree (the index's children).
 */
export function pathOrder(ix: ImageIndex, nodes: Int32Array): Uint32Array {
  const N = ix.nodeCount;
  const len = nodes.length;
  // Each node's positions as a list (first, then next), in rising order.
  const first = new Int32Array(N).fill(-1);
  const next = new Int32Array(len);
  for (let i = len - 1; i >= 0; i--) {
    const n = nodes[i];
    next[i] = first[n];
    first[n] = i;
  }
  // Per node: 1 when a wanted node is below it.
  const below = new Uint8Array(N);
  for (let i = 0; i < len; i++) {
    for (let x = ix.nodeParent[nodes[i]]; x >= 0 && below[x] === 0; x = ix.nodeParent[x]) below[x] = 1;
  }
  const out = new Uint32Array(len);
  let k = 0;
  const emit = (n: number): void => {
    for (let i = first[n]; i >= 0; i = next[i]) out[k++] = i;
  };
  // Tasks: a node to emit (2n) or a directory whose wanted descendants to walk (2n + 1).
  const tasks: number[] = [1];
  emit(0);
  const keys: string[] = [];
  const items: number[] = [];
  while (tasks.length) {
    const t = tasks.pop()!;
    const n = t >> 1;
    if ((t & 1) === 0) { emit(n); continue; }
    keys.length = 0;
    items.length = 0;
    for (let j = ix.childStart[n]; j < ix.childStart[n + 1]; j++) {
      const c = ix.childList[j];
      const name = ix.names[ix.nodeName[c]];
      if (first[c] >= 0) { keys.push(name); items.push(2 * c); }
      if (below[c]) { keys.push(name + '/'); items.push(2 * c + 1); }
    }
    const order = Array.from(items.keys()).sort((a, b) => (keys[a] < keys[b] ? -1 : keys[a] > keys[b] ? 1 : 0));
    for (let j = order.length - 1; j >= 0; j--) tasks.push(items[order[j]]);
  }
  if (k !== len) throw new Error(`pathOrder: ${len - k} positions name nodes outside the merged tree`);
  return out;
}
