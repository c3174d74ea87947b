// One layer's changed paths as a trie over the image index's nodes: a node is in it when the layer
// changed it or a path below it. Held as columns by slot (the trie's own numbering): the node, the
// layer's change at it, the counts and bytes of the changes at and below it, and its children.
// Every changed path's ancestors are nodes of the index, so the trie needs no names of its own.
import { K_ADDED, K_MODIFIED, type ImageIndex } from './imageIndex';

export class ChangeTrie {
  /** Node id → slot; -1: not in the trie. */
  private readonly slotOf: Int32Array;
  /** Slot → node id (slot 0 is the root). */
  readonly node: Int32Array;
  /** Slot → the index of the layer's (last) change at the node in its change columns; -1: none. */
  readonly change: Int32Array;
  readonly added: Int32Array;
  readonly modified: Int32Array;
  readonly deleted: Int32Array;
  readonly bytes: Float64Array;
  /** Children per slot (CSR over kidList, as slots). */
  private readonly kidStart: Int32Array;
  private readonly kidList: Int32Array;

  constructor(readonly index: ImageIndex, readonly layer: number) {
    const ix = index;
    const c = ix.layers[layer].changes;
    const slotOf = new Int32Array(ix.nodeCount).fill(-1);
    // Slot → node, for at most every node of the index (cut to the slots used below).
    const all = new Int32Array(ix.nodeCount);
    let S = 1;
    slotOf[0] = 0;
    // Each changed node and the ancestors not yet in the trie.
    for (let i = 0; i < c.length; i++) {
      for (let x = c.node[i]; slotOf[x] < 0; x = ix.nodeParent[x]) {
        slotOf[x] = S;
        all[S++] = x;
      }
    }
    const nodes = all.subarray(0, S);
    const change = new Int32Array(S).fill(-1);
    const added = new Int32Array(S);
    const modified = new Int32Array(S);
    const deleted = new Int32Array(S);
    const bytes = new Float64Array(S);
    for (let i = 0; i < c.length; i++) {
      const s = slotOf[c.node[i]];
      change[s] = i;
      const k = c.kind[i];
      if (k === K_ADDED) added[s]++;
      else if (k === K_MODIFIED) modified[s]++;
      else deleted[s]++;
      bytes[s] += c.bytes[i];
    }
    // Sums below each node, children before parents: a node's id is larger than its parent's.
    const byNode = nodes.slice().sort();
    const kidStart = new Int32Array(S + 1);
    for (let j = S - 1; j > 0; j--) {
      const s = slotOf[byNode[j]];
      const p = slotOf[ix.nodeParent[byNode[j]]];
      added[p] += added[s];
      modified[p] += modified[s];
      deleted[p] += deleted[s];
      bytes[p] += bytes[s];
      kidStart[p + 1]++;
    }
    for (let s = 0; s < S; s++) kidStart[s + 1] += kidStart[s];
    const kidList = new Int32Array(S - 1);
    const fill = kidStart.slice(0, S);
    for (let s = 1; s < S; s++) kidList[fill[slotOf[ix.nodeParent[nodes[s]]]]++] = s;
    this.slotOf = slotOf;
    this.node = nodes.slice();
    this.change = change;
    this.added = added;
    this.modified = modified;
    this.deleted = deleted;
    this.bytes = bytes;
    this.kidStart = kidStart;
    this.kidList = kidList;
  }

  get size(): number {
    return this.node.length;
  }

  /** The slot of a node, or -1 when the layer changed nothing at or below it. */
  slot(node: number): number {
    return node >= 0 && node < this.slotOf.length ? this.slotOf[node] : -1;
  }

  kidCount(s: number): number {
    return this.kidStart[s + 1] - this.kidStart[s];
  }

  /** The slots of a slot's children, in no particular order. */
  kids(s: number): Int32Array {
    return this.kidList.subarray(this.kidStart[s], this.kidStart[s + 1]);
  }
}
