// The image index seen as the merged tree of objects that the views, hovers and explanations walk
// (MergedNode, LayerStats with their changes): a node becomes an object only when something
// reaches it (a row expanded, a path looked up), and keeps that object while the view lives, so
// the same path is always the same object. A layer's change list becomes objects when read.
import type { Copy, DeleteHow, LayerChange, LayerStats, MergedNode, MergedTreeLike } from '../merge';
import type { EntryType } from '../types';
import { HOW, KINDS, type ImageIndex } from './imageIndex';
import { T_DIR } from './layerTable';

/** One node of the index as a MergedNode: every field is read from the columns. */
class NodeView implements MergedNode {
  private kids: Map<string, MergedNode> | null | undefined;
  private copyList: Copy[] | undefined;
  private readonly ix: ImageIndex;
  constructor(private readonly view: IndexTreeView, readonly id: number) {
    this.ix = view.index;
  }
  get name(): string { return this.ix.nameOf(this.id); }
  get parent(): MergedNode | null { return this.id === 0 ? null : this.view.node(this.ix.nodeParent[this.id]); }
  get children(): Map<string, MergedNode> | null {
    if (this.kids !== undefined) return this.kids;
    const ix = this.ix;
    const from = ix.childStart[this.id], to = ix.childStart[this.id + 1];
    // A directory always has its map (maybe empty); anything else only if it kept children.
    if (ix.type[this.id] !== T_DIR && to === from) return (this.kids = null);
    const m = new Map<string, MergedNode>();
    // Sorted by name (the index's order).
    for (let i = from; i < to; i++) m.set(ix.nameOf(ix.childList[i]), this.view.node(ix.childList[i]));
    return (this.kids = m);
  }
  get live(): boolean { return this.ix.live[this.id] === 1; }
  get type(): EntryType { return this.ix.typeOf(this.id); }
  get size(): number { return this.ix.size[this.id]; }
  get mode(): number { return this.ix.mode[this.id]; }
  get uid(): number { return this.ix.uid[this.id]; }
  get gid(): number { return this.ix.gid[this.id]; }
  get linkname(): string | undefined { return this.ix.linkOf(this.id); }
  get layer(): number { return this.ix.layer[this.id]; }
  get copies(): Copy[] {
    if (this.copyList) return this.copyList;
    const ix = this.ix;
    const out: Copy[] = [];
    for (let i = ix.copyStart[this.id]; i < ix.copyStart[this.id + 1]; i++) out.push({ layer: ix.copyLayer[i], type: ix.typeName(ix.copyType[i]), bytes: ix.copyBytes[i] });
    return (this.copyList = out);
  }
  get deletedBy(): number | null { return this.ix.deletedBy[this.id] < 0 ? null : this.ix.deletedBy[this.id]; }
  get deletedHow(): DeleteHow | null { return this.ix.howOf(this.id); }
  get opaqueIn(): number[] | null { return this.ix.opaqueIn.get(this.id) ?? null; }
  get total(): number { return this.ix.total[this.id]; }
  get count(): number { return this.ix.count[this.id]; }
}

/** The index as a merged tree of objects, made on demand. */
export class IndexTreeView implements MergedTreeLike {
  /** The objects made so far, by node id (only reached nodes have one; a Map, as a sparse array of a million slots turns slow). */
  private readonly nodes = new Map<number, MergedNode>();
  readonly root: MergedNode;
  readonly layers: LayerStats[];

  constructor(readonly index: ImageIndex) {
    this.root = this.node(0);
    this.layers = index.layers.map((l, i) => {
      const { changes: _columns, ...figures } = l;
      let changes: LayerChange[] | undefined;
      return Object.defineProperty({ ...figures } as LayerStats, 'changes', {
        enumerable: true,
        get: () => (changes ??= this.changesOf(i)),
      });
    });
  }

  /** The node id of one of this view's nodes. */
  idOf(node: MergedNode): number {
    return (node as NodeView).id;
  }

  /** The object of node id n (one per node, made once). */
  node(n: number): MergedNode {
    let v = this.nodes.get(n);
    if (!v) this.nodes.set(n, (v = new NodeView(this, n)));
    return v;
  }

  private changesOf(layer: number): LayerChange[] {
    const out: LayerChange[] = [];
    for (let i = 0; i < this.index.layers[layer].changes.length; i++) out.push(this.change(layer, i));
    return out;
  }

  /** Change i of a layer's change columns as an object. */
  change(layer: number, i: number): LayerChange {
    const c = this.index.layers[layer].changes;
    const kind = KINDS[c.kind[i]];
    const ch: LayerChange = { node: this.node(c.node[i]), kind, bytes: c.bytes[i] };
    if (kind === 'deleted') ch.how = HOW[c.how[i]] ?? undefined;
    else if (kind === 'modified') { ch.lowerBytes = c.lower[i]; ch.metadataOnly = c.meta[i] === 1; }
    return ch;
  }

  lookup(path: string): MergedNode | undefined {
    const n = this.index.lookup(path);
    return n < 0 ? undefined : this.node(n);
  }

  *walk(from: MergedNode = this.root): Generator<[string, MergedNode]> {
    for (const [p, n] of this.index.walk((from as NodeView).id)) yield [p, this.node(n)];
  }

  get hiddenBytes(): number {
    return this.index.hiddenBytes;
  }
}
