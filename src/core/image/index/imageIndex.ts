// The image index: the layers merged by the union filesystem's rules, as columns. Every path any
// layer names is a node id of one image-wide trie; per node the merge keeps whether the merged tree
// has it, whether it is live, its type, size, mode, owner and link, the layer that provides it
// (or last shipped it), who deleted it and how, and every copy a layer ships (a linked list of
// copies, as columns). Per layer it keeps the merge's figures and its changes (as columns).
//
// The rules are those of OverlayFS and the OCI image spec (src/core/image/merge.ts says them
// out in full): opaque markers first, then whiteouts, then entries in tar order; a non-directory
// over a directory hides the whole lower directory; a directory over a directory merges; anything
// over a non-directory replaces it, its lower copy still shipped.
import type { DeleteHow, LayerStats } from '../merge';
import type { EntryType } from '../types';
import { Arena, Column, PairHash, StringTable, fitsU32, type NumArray } from './columns';
import { ENTRY_TYPES, T_DIR, T_FILE, T_HARDLINK, type LayerTable } from './layerTable';

export const HOW: readonly (DeleteHow | null)[] = [null, 'whiteout', 'opaque', 'replaced'];
const H_WHITEOUT = 1;
const H_OPAQUE = 2;
const H_REPLACED = 3;

export const KINDS = ['added', 'modified', 'deleted'] as const;
export const K_ADDED = 0;
export const K_MODIFIED = 1;
export const K_DELETED = 2;

/** One layer's changes, as columns in the order the merge made them. */
export interface ChangeColumns {
  node: Int32Array;
  kind: Uint8Array;
  bytes: NumArray;
  /** deleted: HOW code; otherwise 0. */
  how: Uint8Array;
  /** modified: bytes of the lower copy replaced; otherwise 0. */
  lower: NumArray;
  /** modified: 1 when only metadata changed; otherwise 0. */
  meta: Uint8Array;
  /** The record of a modified change carries metadataOnly/lowerBytes (added and deleted ones do not). */
  length: number;
}

/** A layer's merge figures (LayerStats without its change objects) and its changes as columns. */
export type IndexLayer = Omit<LayerStats, 'changes'> & { changes: ChangeColumns };

class ChangeBuilder {
  node: Column<Int32Array>;
  kind: Column<Uint8Array>;
  bytes: Column<NumArray>;
  how: Column<Uint8Array>;
  lower: Column<NumArray>;
  meta: Column<Uint8Array>;
  /** `expected`: about how many changes the layer makes (one per entry and whiteout, at most, before opaque and replaced subtrees). */
  constructor(expected: number) {
    const n = Math.max(16, expected);
    this.node = new Column(Int32Array, n);
    this.kind = new Column(Uint8Array, n);
    this.bytes = new Column<NumArray>(Uint32Array, n);
    this.how = new Column(Uint8Array, n);
    this.lower = new Column<NumArray>(Uint32Array, n);
    this.meta = new Column(Uint8Array, n);
  }
  // Writes each column's array directly: a store site that sees one array type stays fast, where
  // Column.push, shared by every column type, does not.
  push(node: number, kind: number, bytes: number, how = 0, lower = 0, meta = 0): number {
    const i = this.node.length;
    if (i >= this.node.a.length) for (const c of [this.node, this.kind, this.bytes, this.how, this.lower, this.meta]) c.ensure(i);
    if (!fitsU32(bytes)) this.bytes.widen();
    if (!fitsU32(lower)) this.lower.widen();
    this.node.a[i] = node;
    this.kind.a[i] = kind;
    this.bytes.a[i] = bytes;
    this.how.a[i] = how;
    this.lower.a[i] = lower;
    this.meta.a[i] = meta;
    this.node.length = this.kind.length = this.bytes.length = this.how.length = this.lower.length = this.meta.length = i + 1;
    return i;
  }
  get length(): number {
    return this.node.length;
  }
  done(): ChangeColumns {
    return { node: this.node.fit(), kind: this.kind.fit(), bytes: this.bytes.fit(), how: this.how.fit(), lower: this.lower.fit(), meta: this.meta.fit(), length: this.node.length };
  }
}

/** The merge of a stack of layer tables, bottom first. Build it with ImageIndexBuilder. */
export class ImageIndex {
  constructor(
    /** Component names by global name id. */
    readonly names: string[],
    readonly links: string[],
    readonly nodeParent: Int32Array,
    readonly nodeName: Int32Array,
    /** 1 where the merged tree has the node (every node the merged filesystem ever held). */
    readonly exists: Uint8Array,
    readonly live: Uint8Array,
    readonly type: Uint8Array,
    /** Sizes, owners and totals: Uint32Array unless a value does not fit (NumArray). */
    readonly size: NumArray,
    readonly mode: Uint16Array,
    readonly uid: NumArray,
    readonly gid: NumArray,
    readonly link: Int32Array,
    readonly layer: Int32Array,
    readonly deletedBy: Int32Array,
    readonly deletedHow: Uint8Array,
    readonly total: NumArray,
    readonly count: Uint32Array,
    /** Copies per node: offsets into copyLayer/copyType/copyBytes (CSR), bottom first. */
    readonly copyStart: Int32Array,
    readonly copyLayer: Int32Array,
    readonly copyType: Uint8Array,
    readonly copyBytes: NumArray,
    /** Children per node sorted by name (CSR over childList). */
    readonly childStart: Int32Array,
    readonly childList: Int32Array,
    readonly opaqueIn: Map<number, number[]>,
    readonly layers: IndexLayer[],
    readonly warnings: string[],
    /** Per layer: its table's nodes as image-wide nodes (local node id → node id). */
    readonly layerNodes: Int32Array[],
  ) {}

  typeName(code: number): EntryType {
    return ENTRY_TYPES[code];
  }

  get nodeCount(): number {
    return this.nodeParent.length;
  }

  nameOf(n: number): string {
    return n === 0 ? '' : this.names[this.nodeName[n]];
  }

  pathOf(n: number): string {
    if (n === 0) return '/';
    const parts: string[] = [];
    for (let x = n; x > 0; x = this.nodeParent[x]) parts.push(this.names[this.nodeName[x]]);
    return '/' + parts.reverse().join('/');
  }

  /**
   * pathOf for many nodes in a row: each parent's path is made once and kept while its children
   * are named (a bounded number of parents at a time).
   */
  pathNamer(): (n: number) => string {
    const dirs = new Map<number, string>();
    return (n) => {
      if (n === 0) return '/';
      const p = this.nodeParent[n];
      let d = dirs.get(p);
      if (d === undefined) {
        if (dirs.size >= 4096) dirs.clear();
        dirs.set(p, (d = p === 0 ? '' : this.pathOf(p)));
      }
      return `${d}/${this.names[this.nodeName[n]]}`;
    };
  }

  typeOf(n: number): EntryType {
    return ENTRY_TYPES[this.type[n]];
  }

  linkOf(n: number): string | undefined {
    return this.link[n] < 0 ? undefined : this.links[this.link[n]];
  }

  howOf(n: number): DeleteHow | null {
    return HOW[this.deletedHow[n]];
  }

  copyCount(n: number): number {
    return this.copyStart[n + 1] - this.copyStart[n];
  }

  /** How many of a node's copies, from the bottom, are hidden: all but the visible one (all when deleted). */
  hiddenCount(n: number): number {
    const c = this.copyCount(n);
    return this.live[n] ? Math.max(0, c - 1) : c;
  }

  /** The node of an absolute path in the merged tree, or -1. */
  lookup(path: string, nameIds?: Map<string, number>): number {
    return lookupPath(path, nameIds ?? this.nameIds(), (p, name) => this.childByName(p, name), (n) => this.exists[n] === 1);
  }

  private nameIdMap: Map<string, number> | undefined;
  private nameIds(): Map<string, number> {
    return (this.nameIdMap ??= new Map(this.names.map((s, i) => [s, i])));
  }

  /** The child of p with name id `name`, or -1 (binary search of the sorted children by name). */
  childByName(p: number, name: number): number {
    const want = this.names[name];
    let lo = this.childStart[p];
    let hi = this.childStart[p + 1] - 1;
    while (lo <= hi) {
      const mid = (lo + hi) >>> 1;
      const c = this.childList[mid];
      const s = this.names[this.nodeName[c]];
      if (s === want) return c;
      if (s < want) lo = mid + 1;
      else hi = mid - 1;
    }
    return -1;
  }

  /** Depth-first walk of every node of the merged tree (live and deleted) below `from`, children sorted by name, with its path. */
  *walk(from = 0): Generator<[string, number]> {
    const paths: string[] = [];
    const nodes: number[] = [];
    const push = (dir: string, n: number): void => {
      for (let i = this.childStart[n + 1] - 1; i >= this.childStart[n]; i--) {
        const c = this.childList[i];
        nodes.push(c);
        paths.push(dir === '/' ? '/' + this.names[this.nodeName[c]] : dir + '/' + this.names[this.nodeName[c]]);
      }
    };
    push(this.pathOf(from), from);
    while (nodes.length) {
      const n = nodes.pop()!;
      const p = paths.pop()!;
      yield [p, n];
      push(p, n);
    }
  }

  /** Bytes shipped in the image that are invisible in the final filesystem, each hidden copy once. */
  get hiddenBytes(): number {
    return this.layers.reduce((a, s) => a + s.hiddenBytes, 0);
  }
}

function lookupPath(path: string, nameIds: Pick<Map<string, number>, 'get'>, child: (p: number, name: number) => number, ok: (n: number) => boolean): number {
  let n = 0;
  let from = 1;
  while (from <= path.length) {
    let to = path.indexOf('/', from);
    if (to < 0) to = path.length;
    if (to > from) {
      const id = nameIds.get(path.slice(from, to));
      if (id === undefined) return -1;
      n = child(n, id);
      if (n < 0 || !ok(n)) return -1;
    }
    from = to + 1;
  }
  return n;
}

/** Merges layer tables one at a time, bottom first; finish() resolves hardlinks and totals. */
export class ImageIndexBuilder {
  private readonly names = new StringTable(['']);
  private readonly linkTable = new StringTable();
  /** (parent, name) → node while layers are added (let go by finish). */
  private hash: PairHash | undefined = new PairHash(4096);
  private readonly nodeParent = new Column(Int32Array, 4096);
  private readonly nodeName = new Column(Int32Array, 4096);
  private readonly exists = new Column(Uint8Array, 4096);
  private readonly live = new Column(Uint8Array, 4096);
  private readonly type = new Column(Uint8Array, 4096);
  private readonly size = new Column<NumArray>(Uint32Array, 4096);
  private readonly mode = new Column(Uint16Array, 4096);
  private readonly uid = new Column<NumArray>(Uint32Array, 4096);
  private readonly gid = new Column<NumArray>(Uint32Array, 4096);
  private readonly link = new Column(Int32Array, 4096, -1);
  private readonly layerOf = new Column(Int32Array, 4096, -1);
  private readonly deletedBy = new Column(Int32Array, 4096, -1);
  private readonly deletedHow = new Column(Uint8Array, 4096);
  private readonly firstChild = new Column(Int32Array, 4096, -1);
  private readonly lastChild = new Column(Int32Array, 4096, -1);
  private readonly nextSibling = new Column(Int32Array, 4096, -1);
  /** Per node: how many layers ship a copy of it, and the last layer that did (-1: none yet). */
  private readonly copyN = new Column(Int32Array, 4096);
  private readonly lastCopy = new Column(Int32Array, 4096, -1);
  /** The layers merged, bottom first (finish() reads their entries again for the copies). */
  private readonly tables: LayerTable[] = [];
  private readonly opaqueIn = new Map<number, number[]>();
  private readonly layers: IndexLayer[] = [];
  private readonly layerNodes: Int32Array[] = [];
  private finished = false;
  private nodes = 1;

  constructor() {
    // Node 0: the root directory, always live.
    this.nodeParent.push(-1);
    this.nodeName.push(0);
    this.grow(0);
    this.exists.a[0] = 1;
    this.live.a[0] = 1;
    this.type.a[0] = T_DIR;
    this.mode.a[0] = 0o755;
  }

  /** Columns sized per node; all grow together when a node id reaches their capacity. */
  private perNode(): Array<Column<Int32Array | Uint8Array | Uint16Array | Uint32Array | Float64Array>> {
    return [this.exists, this.live, this.type, this.size, this.mode, this.uid, this.gid, this.link, this.layerOf,
      this.deletedBy, this.deletedHow, this.firstChild, this.lastChild, this.nextSibling, this.copyN, this.lastCopy];
  }

  private capacity = 0;
  /** Room for node i (by half as much again), or exactly for `exactly` nodes when the count is known. */
  private grow(i: number, exactly?: number): void {
    if (i < this.capacity) return;
    const n = exactly ?? Math.max(i + 1, Math.floor(this.capacity * 1.5));
    for (const c of this.perNode()) c.reserveExactly(n);
    this.nodeParent.reserveExactly(n);
    this.nodeName.reserveExactly(n);
    this.capacity = this.exists.a.length;
  }

  /** The image-wide node of (parent, name), created (not yet in the merged tree) where new. */
  private intern(parent: number, name: number): number {
    const next = this.nodes;
    const n = this.hash!.intern(parent, name, next);
    if (n === next) {
      this.nodes++;
      if (n >= this.capacity) this.grow(n);
      this.nodeParent.a[n] = parent;
      this.nodeName.a[n] = name;
      this.nodeParent.length = this.nodeName.length = n + 1;
    }
    return n;
  }

  /** Puts a node into the merged tree as its parent's newest child, as `newNode` would. */
  private create(n: number, type: number): void {
    this.exists.a[n] = 1;
    this.live.a[n] = 1;
    this.type.a[n] = type;
    this.mode.a[n] = 0o755;
    const p = this.nodeParent.a[n];
    if (this.lastChild.a[p] < 0) this.firstChild.a[p] = n;
    else this.nextSibling.a[this.lastChild.a[p]] = n;
    this.lastChild.a[p] = n;
  }

  /** Stack one more layer on top. Layers must be added bottom first. */
  addLayer(t: LayerTable): IndexLayer {
    if (this.finished) throw new Error('ImageIndexBuilder: addLayer after finish');
    const L = this.layers.length;
    const c = t.cols;
    // The layer's names and nodes in the image's trie (local parents come before their children).
    const nameMap = new Int32Array(c.names.length);
    if (this.names.size === 1 && !c.names.includes('')) {
      // The first layer's names (distinct: its table interned them) follow the root's '' as they are.
      this.names.adopt(c.names);
      for (let i = 0; i < c.names.length; i++) nameMap[i] = i + 1;
    } else {
      for (let i = 0; i < c.names.length; i++) nameMap[i] = this.names.id(c.names[i]);
    }
    const gmap = new Int32Array(c.nodeParent.length);
    this.hash!.reserve(c.nodeParent.length);
    // The first layer's nodes are all new: room for exactly them. Later layers mostly name nodes
    // that exist: the columns grow only for new ones (intern), before the arrays are read below.
    if (this.nodes === 1) this.grow(c.nodeParent.length - 1, c.nodeParent.length);
    for (let i = 1; i < c.nodeParent.length; i++) gmap[i] = this.intern(gmap[c.nodeParent[i]], nameMap[c.nodeName[i]]);
    this.layerNodes.push(gmap);
    const exists = this.exists.a, live = this.live.a, type = this.type.a, nextSibling = this.nextSibling.a;
    const linkMap = new Int32Array(c.links.length);
    for (let i = 0; i < c.links.length; i++) linkMap[i] = this.linkTable.id(c.links[i]);

    // A value of this layer that does not fit 32 bits widens the image's column first.
    if (c.entSize instanceof Float64Array) this.size.widen();
    if (c.entUid instanceof Float64Array) this.uid.widen();
    if (c.entGid instanceof Float64Array) this.gid.widen();
    const ch = new ChangeBuilder(c.entNode.length + c.whiteNode.length);
    this.tables.push(t);
    const stats = {
      index: L, entries: t.tarEntries, added: 0, modified: 0, deleted: 0, addedBytes: 0, modifiedBytes: 0,
      deletedBytes: 0, hiddenBytes: 0, fileBytes: t.tarFileBytes, opaqueDirs: t.opaqueDirs,
    };
    for (let i = 0; i < c.opaqueNode.length; i++) {
      const n = gmap[c.opaqueNode[i]];
      if (!exists[n] || type[n] !== T_DIR) continue;
      const list = this.opaqueIn.get(n);
      if (list) list.push(L); else this.opaqueIn.set(n, [L]);
      for (let k = this.firstChild.a[n]; k >= 0; k = nextSibling[k]) {
        if (!live[k]) continue;
        const bytes = this.kill(k, L, H_OPAQUE);
        stats.deleted++;
        stats.deletedBytes += bytes;
        ch.push(k, K_DELETED, bytes, H_OPAQUE);
      }
    }

    for (let i = 0; i < c.whiteNode.length; i++) {
      const n = gmap[c.whiteNode[i]];
      if (n === 0 || !this.exists.a[n] || !this.live.a[n]) continue;
      const bytes = this.kill(n, L, H_WHITEOUT);
      stats.deleted++;
      stats.deletedBytes += bytes;
      ch.push(n, K_DELETED, bytes, H_WHITEOUT);
    }

    // The current layer's change per node: built only once a duplicate entry shows up (rare).
    let changeOf: Map<number, number> | null = null;
    const entryChangesFrom = ch.length;
    const record = (n: number, kind: number, bytes: number, lower = 0, meta = 0): void => {
      if (kind === K_ADDED) { stats.added++; stats.addedBytes += bytes; }
      else { stats.modified++; stats.modifiedBytes += bytes; }
      const at = ch.push(n, kind, bytes, 0, lower, meta);
      changeOf?.set(n, at);
    };
    let lastParent = -1;
    let lastDir = -1;
    const E = c.entNode.length;
    // Per-node columns do not grow during the loop (grown for the layer's nodes above).
    const mode = this.mode.a, uid = this.uid.a, gid = this.gid.a, size = this.size.a, lastCopy = this.lastCopy.a, firstChild = this.firstChild.a;
    for (let i = 0; i < E; i++) {
      const local = c.entNode[i];
      const lp = c.nodeParent[local];
      let parent: number;
      if (lp === 0) parent = 0;
      else if (lp === lastParent && live[lastDir] && type[lastDir] === T_DIR) parent = lastDir;
      else {
        parent = this.walkDirs(gmap, c.nodeParent, lp, L, stats);
        lastParent = lp;
        lastDir = parent;
      }
      const n = gmap[local];
      const et = c.entType[i];
      const bytes = et === T_FILE ? c.entSize[i] : 0;
      const emode = c.entMode[i], euid = c.entUid[i], egid = c.entGid[i];
      const elink = c.entLink[i] < 0 ? -1 : linkMap[c.entLink[i]];
      if (!exists[n]) {
        this.create(n, et);
        this.set(n, et, emode, euid, egid, elink, L, bytes, false);
        record(n, K_ADDED, bytes);
        continue;
      }
      if (lastCopy[n] === L) {
        // Duplicate entry in one tar: the later one wins, nothing is counted twice.
        this.set(n, et, emode, euid, egid, elink, L, bytes, true);
        if (!changeOf) {
          changeOf = new Map();
          for (let k = entryChangesFrom; k < ch.length; k++) changeOf.set(ch.node.a[k], k);
        }
        const at = changeOf.get(n);
        if (at !== undefined && ch.kind.a[at] !== K_DELETED) {
          if (ch.kind.a[at] === K_ADDED) stats.addedBytes += bytes - ch.bytes.a[at];
          else stats.modifiedBytes += bytes - ch.bytes.a[at];
          ch.bytes.a[at] = bytes;
        }
        continue;
      }
      const wasLive = live[n] === 1;
      const oldType = type[n];
      if (wasLive && oldType === T_DIR && et !== T_DIR) {
        // A non-directory over a directory hides the whole lower directory.
        for (let k = firstChild[n]; k >= 0; k = nextSibling[k]) {
          if (live[k]) stats.deletedBytes += this.kill(k, L, H_REPLACED);
        }
      }
      const metaChanged = mode[n] !== emode || uid[n] !== euid || gid[n] !== egid;
      if (wasLive && oldType === T_DIR && et === T_DIR) {
        this.set(n, et, emode, euid, egid, elink, L, 0, false);
        if (metaChanged) record(n, K_MODIFIED, 0, 0, 1);
        continue;
      }
      const lowerBytes = wasLive ? size[n] : 0;
      const metadataOnly = wasLive && oldType === et && et === T_FILE && size[n] === c.entSize[i] && metaChanged;
      this.set(n, et, emode, euid, egid, elink, L, bytes, false);
      if (wasLive) record(n, K_MODIFIED, bytes, lowerBytes, metadataOnly ? 1 : 0);
      else record(n, K_ADDED, bytes);
    }
    const layer: IndexLayer = { ...stats, changes: ch.done() };
    this.layers.push(layer);
    return layer;
  }

  /** The directory `lp` (a local node) of the merged tree, created or made a live directory again along the way. */
  private walkDirs(gmap: Int32Array, localParent: Int32Array, lp: number, L: number, stats: { deletedBytes: number }): number {
    const chain: number[] = [];
    for (let x = lp; x > 0; x = localParent[x]) chain.push(gmap[x]);
    let n = 0;
    for (let i = chain.length - 1; i >= 0; i--) {
      n = chain[i];
      if (!this.exists.a[n]) {
        this.create(n, T_DIR);
        this.layerOf.a[n] = L;
      } else if (!this.live.a[n] || this.type.a[n] !== T_DIR) {
        // A path through a deleted entry or a non-directory: the layer recreates the directory.
        if (this.live.a[n]) stats.deletedBytes += this.kill(n, L, H_REPLACED);
        this.type.a[n] = T_DIR;
        this.live.a[n] = 1;
        this.layerOf.a[n] = L;
        this.size.a[n] = 0;
        this.deletedBy.a[n] = -1;
        this.deletedHow.a[n] = 0;
      }
    }
    return n;
  }

  private set(n: number, type: number, mode: number, uid: number, gid: number, link: number, L: number, bytes: number, replaceTail: boolean): void {
    this.type.a[n] = type;
    this.size.a[n] = bytes;
    this.mode.a[n] = mode;
    this.uid.a[n] = uid;
    this.gid.a[n] = gid;
    this.link.a[n] = link;
    this.layerOf.a[n] = L;
    this.live.a[n] = 1;
    this.deletedBy.a[n] = -1;
    this.deletedHow.a[n] = 0;
    // Every entry ships a copy (finish() lists them); a duplicate entry in one tar replaces its own.
    if (replaceTail) return;
    this.lastCopy.a[n] = L;
    this.copyN.a[n]++;
  }

  /** Marks a live subtree deleted by layer L; returns the live bytes it hid. */
  private kill(node: number, L: number, how: number): number {
    let bytes = 0;
    const stack = [node];
    while (stack.length) {
      const n = stack.pop()!;
      if (!this.live.a[n]) continue;
      this.live.a[n] = 0;
      this.deletedBy.a[n] = L;
      this.deletedHow.a[n] = how;
      if (this.type.a[n] === T_FILE) bytes += this.size.a[n];
      for (let k = this.firstChild.a[n]; k >= 0; k = this.nextSibling.a[k]) stack.push(k);
    }
    return bytes;
  }

  /** Warns of hardlinks whose target is missing, in the order a walk of the merged tree meets them (children bottom-up). */
  private warnBroken(index: ImageIndex, broken: number[]): void {
    const N = this.nodes;
    const order = new Int32Array(N);
    let len = 0;
    const stack = [0];
    while (stack.length) {
      const n = stack.pop()!;
      order[len++] = n;
      for (let k = this.firstChild.a[n]; k >= 0; k = this.nextSibling.a[k]) stack.push(k);
    }
    const at = new Int32Array(N);
    for (let j = 0; j < len; j++) at[order[j]] = len - 1 - j;
    broken.sort((a, b) => at[a] - at[b]);
    for (const n of broken) {
      if (index.warnings.length >= 50) break;
      const to = index.link[n] >= 0 ? this.linkTable.strings[index.link[n]] : undefined;
      index.warnings.push(`hardlink ${index.pathOf(n)} points at missing ${to}`);
    }
  }

  /** Resolves hardlink sizes, directory totals and per-layer hidden bytes; the index is then final. */
  finish(): ImageIndex {
    if (this.finished) throw new Error('ImageIndexBuilder: finish twice');
    this.finished = true;
    const N = this.nodes;
    for (const col of this.perNode()) col.length = N;
    // What only adding layers needs makes room for what finishing adds: the hash's memory holds
    // the new offset and total columns (an Arena), and the scratch arrays below reuse the builder's
    // own per-node columns (copyN, lastCopy, lastChild) once read.
    const arena = new Arena(this.hash!.release());
    this.hash = undefined;
    let exists: Uint8Array = this.exists.a, live: Uint8Array = this.live.a, type: Uint8Array = this.type.a, size: NumArray = this.size.a;
    // Copies as CSR, bottom first.
    const copyStart = arena.i32(N + 1);
    for (let n = 0; n < N; n++) copyStart[n + 1] = copyStart[n] + this.copyN.a[n];
    const copies = copyStart[N];
    const copyLayer = new Int32Array(copies);
    const copyType = new Uint8Array(copies);
    const copyBytes: NumArray = this.tables.some((t) => t.cols.entSize instanceof Float64Array) ? new Float64Array(copies) : new Uint32Array(copies);
    {
      // Each layer's entries in tar order, as the merge took them: a copy each, a duplicate entry
      // in the same tar replacing its node's copy (lastCopy is reused to tell which layer wrote last).
      const next = this.copyN.a;
      next.set(copyStart.subarray(0, N));
      const wrote = this.lastCopy.a.fill(-1);
      for (let L = 0; L < this.tables.length; L++) {
        const c = this.tables[L].cols;
        const g = this.layerNodes[L];
        for (let i = 0; i < c.entNode.length; i++) {
          const n = g[c.entNode[i]];
          let k: number;
          if (wrote[n] === L) k = next[n] - 1;
          else { k = next[n]++; wrote[n] = L; }
          const et = c.entType[i];
          copyLayer[k] = L;
          copyType[k] = et;
          copyBytes[k] = et === T_FILE ? c.entSize[i] : 0;
        }
      }
      this.copyN.release();
    }
    // Children sorted by name, as CSR.
    const childStart = arena.i32(N + 1);
    for (let n = 1; n < N; n++) if (exists[n]) childStart[this.nodeParent.a[n] + 1]++;
    for (let n = 0; n < N; n++) childStart[n + 1] += childStart[n];
    const childList = arena.i32(childStart[N]);
    const names = this.names.strings;
    const nodeName = this.nodeName.a;
    {
      // Each name's rank in sorted order; the nodes taken in rank order (a counting sort) fall into
      // their parents' ranges already sorted by name.
      const byName = Array.from(names.keys()).sort((x, y) => (names[x] < names[y] ? -1 : names[x] > names[y] ? 1 : 0));
      const rank = new Int32Array(names.length);
      for (let r = 0; r < byName.length; r++) rank[byName[r]] = r;
      const rankStart = new Int32Array(names.length + 1);
      for (let n = 1; n < N; n++) if (exists[n]) rankStart[rank[nodeName[n]] + 1]++;
      for (let r = 0; r < names.length; r++) rankStart[r + 1] += rankStart[r];
      const inRankOrder = this.lastCopy.a.subarray(0, rankStart[names.length]);
      const at = rankStart.slice(0, names.length);
      for (let n = 1; n < N; n++) if (exists[n]) inRankOrder[at[rank[nodeName[n]]]++] = n;
      const fill = this.lastChild.a;
      fill.set(childStart.subarray(0, N));
      const parentOf = this.nodeParent.a;
      for (let i = 0; i < inRankOrder.length; i++) {
        const n = inRankOrder[i];
        childList[fill[parentOf[n]]++] = n;
      }
      this.lastCopy.release();
      this.lastChild.release();
    }
    // The columns as views of their memory, or trimmed copies when most of it is unused.
    const index = new ImageIndex(
      names, this.linkTable.strings, this.nodeParent.fit(), this.nodeName.fit(), this.exists.fit(), this.live.fit(), this.type.fit(),
      this.size.fit(), this.mode.fit(), this.uid.fit(), this.gid.fit(), this.link.fit(), this.layerOf.fit(), this.deletedBy.fit(),
      this.deletedHow.fit(), arena.u32(N), arena.u32(N), copyStart, copyLayer, copyType, copyBytes, childStart, childList,
      this.opaqueIn, this.layers, [], this.layerNodes,
    );
    // Hardlinks take their target's size before the totals are summed (in the index's own columns:
    // fit() may have copied them).
    ({ exists, live, type, size } = index);
    for (const s of this.layers) s.hiddenBytes = 0;
    const count = index.count, link = index.link;
    let total = index.total;
    let broken: number[] | null = null;
    const nameIds = { get: (x: string): number | undefined => this.names.has(x) };
    for (let n = 1; n < N; n++) {
      if (!live[n] || type[n] !== T_HARDLINK) continue;
      const to = link[n] >= 0 ? this.linkTable.strings[link[n]] : undefined;
      const target = to ? lookupPath(to, nameIds, (p, name) => index.childByName(p, name), (x) => exists[x] === 1) : -1;
      if (target >= 0 && live[target] && type[target] === T_FILE) size[n] = size[target];
      else (broken ??= []).push(n);
    }
    if (broken) this.warnBroken(index, broken);
    // A node's id is larger than its parent's (a parent is interned first): in falling id order a
    // node's own totals are complete when it is added to its parent's. Sums of whole bytes: exact in
    // any order.
    const parentOf = index.nodeParent;
    for (let n = N - 1; n >= 0; n--) {
      if (!exists[n]) continue;
      for (let i = copyStart[n], top = copyStart[n] + index.hiddenCount(n); i < top; i++) this.layers[copyLayer[i]].hiddenBytes += copyBytes[i];
      if (n === 0 || !live[n]) continue;
      const p = parentOf[n];
      const dir = type[n] === T_DIR;
      count[p] += 1 + (dir ? count[n] : 0);
      const sum = total[p] + (dir ? total[n] : type[n] === T_FILE ? size[n] : 0);
      // Totals past 4 GiB make the column a Float64Array (see NumArray).
      if (sum > 0xffffffff && total instanceof Uint32Array) (index as { total: NumArray }).total = total = Float64Array.from(total);
      total[p] = sum;
    }
    return index;
  }
}

/** The layers merged, bottom first. */
export function buildImageIndex(layers: readonly LayerTable[]): ImageIndex {
  const b = new ImageIndexBuilder();
  for (const l of layers) b.addLayer(l);
  return b.finish();
}
