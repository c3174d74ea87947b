// The union filesystem as a tree of objects: stacks layers bottom to top with OverlayFS rules and
// keeps, for every path ever shipped, each copy that a layer carries, which layer provides the
// visible one, and which layer deleted it; `finish()` resolves hardlinks and directory totals.
// The shapes it defines (MergedNode, LayerStats, changes) are what the views read; analyses build
// the image index (src/core/image/index) and read it through such a view, and this object merge is
// the reference the index is tested against.
//
// Rules (as OverlayFS and the OCI image spec apply them):
// - `.wh.NAME` in layer L deletes NAME and everything under it, as merged from layers below L.
// - `.wh..wh..opq` in directory D of layer L hides every entry of D from layers below L; entries
//   of D in L itself stay. Applied before L's whiteouts and entries.
// - A non-directory over a directory hides the whole lower directory; a directory over a
//   directory merges; anything over a non-directory replaces it (the lower copy is still shipped).
import { joinPath } from './tar/paths';
import type { EntryType, LayerEntry, LayerIndex } from './types';

export type DeleteHow = 'whiteout' | 'opaque' | 'replaced';

/** One copy of a path carried by one layer. `bytes` is what that layer stores for it. */
export interface Copy {
  layer: number;
  type: EntryType;
  bytes: number;
}

export interface MergedNode {
  name: string;
  parent: MergedNode | null;
  /** Child nodes by name (live and deleted); null for non-directories. */
  children: Map<string, MergedNode> | null;
  live: boolean;
  type: EntryType;
  /** Apparent size: file bytes; a hardlink's target size once finished; 0 otherwise. */
  size: number;
  mode: number;
  uid: number;
  gid: number;
  linkname?: string;
  /** Layer of the visible version (or, when deleted, of the last version). -1: implicit dir never in a tar. */
  layer: number;
  /** Every copy shipped in a layer, bottom first; for a live node the last is the visible one. */
  copies: Copy[];
  deletedBy: number | null;
  deletedHow: DeleteHow | null;
  /** Layers that marked this directory opaque. */
  opaqueIn: number[] | null;
  /** Directories: bytes of live regular files below (hardlinks count once). Set by finish(). */
  total: number;
  /** Directories: live entries below (recursive). Set by finish(). */
  count: number;
}

export type ChangeKind = 'added' | 'modified' | 'deleted';

export interface LayerChange {
  node: MergedNode;
  kind: ChangeKind;
  /** added/modified: bytes this layer stores for the path; deleted: live bytes it hid (subtree). */
  bytes: number;
  /** deleted: how. */
  how?: DeleteHow;
  /** modified: the bytes of the lower copy replaced (the copy-up cost's lower half). */
  lowerBytes?: number;
  /** modified: only metadata changed (same type and size; mode/owner differ) — a whole-file copy-up. */
  metadataOnly?: boolean;
}

export interface LayerStats {
  index: number;
  entries: number;
  added: number;
  modified: number;
  deleted: number;
  addedBytes: number;
  modifiedBytes: number;
  /** Bytes of lower files this layer made invisible (whiteouts, opaque dirs, replacements). */
  deletedBytes: number;
  /** Bytes this layer ships that are invisible in the final image (overwritten or deleted later). */
  hiddenBytes: number;
  /** Regular-file bytes in the layer tar (a hardlink counts once). */
  fileBytes: number;
  opaqueDirs: string[];
  changes: LayerChange[];
}

function newNode(name: string, parent: MergedNode | null, type: EntryType): MergedNode {
  return {
    name, parent, children: type === 'dir' ? new Map() : null, live: true, type, size: 0, mode: 0o755,
    uid: 0, gid: 0, layer: -1, copies: [], deletedBy: null, deletedHow: null, opaqueIn: null, total: 0, count: 0,
  };
}

export function nodePath(node: MergedNode): string {
  const parts: string[] = [];
  for (let n: MergedNode | null = node; n && n.parent; n = n.parent) parts.push(n.name);
  return '/' + parts.reverse().join('/');
}

/** What readers of a merge use: its root, its layers' figures and changes, look-ups and walks. */
export interface MergedTreeLike {
  readonly root: MergedNode;
  readonly layers: LayerStats[];
  lookup(path: string): MergedNode | undefined;
  walk(from?: MergedNode): Generator<[string, MergedNode]>;
  readonly hiddenBytes: number;
}

export class MergedTree implements MergedTreeLike {
  readonly root: MergedNode = newNode('', null, 'dir');
  readonly layers: LayerStats[] = [];
  private finished = false;
  /**
   * The current layer's change record per node (duplicate tar entries update it in place). Built
   * only when a layer has a duplicate entry (rare): from then on record() keeps it current.
   */
  private changeOf: Map<MergedNode, LayerChange> | null = null;
  /** Index in stats.changes where the current layer's entry records start. */
  private entryChangesFrom = 0;

  /** Find a node (live or deleted) by absolute path. */
  lookup(path: string): MergedNode | undefined {
    let n: MergedNode | undefined = this.root;
    for (const part of path.split('/')) {
      if (part === '') continue;
      n = n.children?.get(part);
      if (!n) return undefined;
    }
    return n;
  }

  /** Stack one more layer on top. Layers must be added bottom first. */
  addLayer(layer: LayerIndex): LayerStats {
    return runSteps(this.addLayerSteps(layer, Infinity));
  }

  /**
   * addLayer in steps: yields after every `every` entries, so that a caller that must stay
   * responsive (the extension host) can merge a 100k-entry layer in slices. Same result.
   * `entries` (default: layer.entries) can be any iterable of the layer's entries in tar order,
   * e.g. a record decoded one entry at a time (nothing here keeps an entry object).
   */
  *addLayerSteps(layer: LayerIndex, every = 4096, entries: Iterable<LayerEntry> = layer.entries): Generator<void, LayerStats> {
    const L = this.layers.length;
    const stats: LayerStats = {
      index: L, entries: layer.tarEntries, added: 0, modified: 0, deleted: 0, addedBytes: 0, modifiedBytes: 0,
      deletedBytes: 0, hiddenBytes: 0, fileBytes: layer.tarFileBytes, opaqueDirs: layer.opaqueDirs, changes: [],
    };
    this.layers.push(stats);

    for (const dir of layer.opaqueDirs) {
      const node = this.lookup(dir);
      if (!node || node.type !== 'dir' || !node.children) continue;
      (node.opaqueIn ??= []).push(L);
      for (const child of node.children.values()) {
        if (!child.live) continue;
        const bytes = this.kill(child, L, 'opaque');
        stats.deleted++;
        stats.deletedBytes += bytes;
        stats.changes.push({ node: child, kind: 'deleted', bytes, how: 'opaque' });
      }
    }

    for (const path of layer.whiteouts) {
      const node = this.lookup(path);
      if (!node || !node.live || node === this.root) continue;
      const bytes = this.kill(node, L, 'whiteout');
      stats.deleted++;
      stats.deletedBytes += bytes;
      stats.changes.push({ node, kind: 'deleted', bytes, how: 'whiteout' });
    }

    this.changeOf = null;
    this.entryChangesFrom = stats.changes.length;
    this.lastDir = '';
    this.lastDirNode = null;
    let i = 0;
    for (const e of entries) {
      this.applyEntry(e, L, stats);
      if (++i % every === 0) yield;
    }
    this.changeOf = null;
    this.lastDirNode = null;
    return stats;
  }

  private applyEntry(e: LayerEntry, L: number, stats: LayerStats): void {
    const parent = this.ensureDir(e.path, L, stats);
    const name = e.path.slice(e.path.lastIndexOf('/') + 1);
    let node = parent.children!.get(name);
    const bytes = e.type === 'file' ? e.size : 0;
    if (!node) {
      node = newNode(name, parent, e.type);
      parent.children!.set(name, node);
      this.set(node, e, L, bytes);
      this.record(stats, { node, kind: 'added', bytes });
      return;
    }
    const last = node.copies[node.copies.length - 1];
    if (last && last.layer === L) {
      // Duplicate entry in one tar: the later one wins, nothing is counted twice.
      node.copies.pop();
      this.set(node, e, L, bytes);
      if (!this.changeOf) {
        this.changeOf = new Map();
        for (let i = this.entryChangesFrom; i < stats.changes.length; i++) this.changeOf.set(stats.changes[i].node, stats.changes[i]);
      }
      const change = this.changeOf.get(node);
      if (change && change.kind !== 'deleted') {
        if (change.kind === 'added') stats.addedBytes += bytes - change.bytes;
        else stats.modifiedBytes += bytes - change.bytes;
        change.bytes = bytes;
      }
      return;
    }
    const wasLive = node.live;
    const oldType = node.type;
    if (wasLive && oldType === 'dir' && e.type !== 'dir') {
      // A non-directory over a directory hides the whole lower directory.
      for (const child of node.children!.values()) {
        if (child.live) {
          const b = this.kill(child, L, 'replaced');
          stats.deletedBytes += b;
        }
      }
    }
    if (wasLive && oldType === 'dir' && e.type === 'dir') {
      const metaChanged = node.mode !== e.mode || node.uid !== e.uid || node.gid !== e.gid;
      this.set(node, e, L, 0);
      if (metaChanged) this.record(stats, { node, kind: 'modified', bytes: 0, lowerBytes: 0, metadataOnly: true });
      return;
    }
    const lowerBytes = wasLive ? node.size : 0;
    const metadataOnly = wasLive && oldType === e.type && e.type === 'file' && node.size === e.size &&
      (node.mode !== e.mode || node.uid !== e.uid || node.gid !== e.gid);
    this.set(node, e, L, bytes);
    node.live = true;
    node.deletedBy = null;
    node.deletedHow = null;
    if (wasLive) this.record(stats, { node, kind: 'modified', bytes, lowerBytes, metadataOnly });
    else this.record(stats, { node, kind: 'added', bytes });
  }

  private record(stats: LayerStats, c: LayerChange): void {
    if (c.kind === 'added') { stats.added++; stats.addedBytes += c.bytes; }
    else { stats.modified++; stats.modifiedBytes += c.bytes; }
    stats.changes.push(c);
    this.changeOf?.set(c.node, c);
  }

  private set(node: MergedNode, e: LayerEntry, L: number, bytes: number): void {
    if (this.finished) throw new Error('MergedTree: addLayer after finish');
    node.type = e.type;
    if (e.type === 'dir') node.children ??= new Map();
    else node.children = node.children && node.children.size > 0 ? node.children : null;
    node.size = bytes;
    node.mode = e.mode;
    node.uid = e.uid;
    node.gid = e.gid;
    node.linkname = e.linkname;
    node.layer = L;
    node.live = true;
    node.deletedBy = null;
    node.deletedHow = null;
    // Most paths have one copy: an exact one-element array, not push()'s 17-slot backing store
    // (about 130 bytes less per path).
    const copy: Copy = { layer: L, type: e.type, bytes };
    if (node.copies.length === 0) node.copies = [copy];
    else node.copies.push(copy);
  }

  /** The previous entry's parent directory (tar order keeps a directory's entries together). */
  private lastDir = '';
  private lastDirNode: MergedNode | null = null;

  /** The parent directory of `path`, created (implicitly, in layer L) where missing. */
  private ensureDir(path: string, L: number, stats: LayerStats): MergedNode {
    const cut = path.lastIndexOf('/');
    // Same parent as the previous entry, still a live directory (a replacement or deletion of it
    // or of an ancestor in this layer would have marked it dead): no walk from the root.
    const last = this.lastDirNode;
    if (last && cut === this.lastDir.length && last.live && last.type === 'dir' && last.children && path.startsWith(this.lastDir)) return last;
    const n = this.walkDirs(path, L, stats);
    if (cut > 0) { this.lastDir = path.slice(0, cut); this.lastDirNode = n; }
    return n;
  }

  private walkDirs(path: string, L: number, stats: LayerStats): MergedNode {
    let n = this.root;
    const parts = path.split('/');
    for (let i = 1; i < parts.length - 1; i++) {
      const part = parts[i];
      let child = n.children!.get(part);
      if (!child) {
        child = newNode(part, n, 'dir');
        child.layer = L;
        n.children!.set(part, child);
      } else if (!child.live || child.type !== 'dir') {
        // A path through a deleted entry or a non-directory: the layer recreates the directory.
        if (child.live) stats.deletedBytes += this.kill(child, L, 'replaced');
        child.type = 'dir';
        child.children ??= new Map();
        child.live = true;
        child.layer = L;
        child.size = 0;
        child.deletedBy = null;
        child.deletedHow = null;
      }
      n = child;
    }
    return n;
  }

  /** Marks a live subtree deleted by layer L; returns the live bytes it hid. */
  private kill(node: MergedNode, L: number, how: DeleteHow): number {
    let bytes = 0;
    const stack: MergedNode[] = [node];
    while (stack.length) {
      const n = stack.pop()!;
      if (!n.live) continue;
      n.live = false;
      n.deletedBy = L;
      n.deletedHow = how;
      if (n.type === 'file') bytes += n.size;
      if (n.children) for (const c of n.children.values()) stack.push(c);
    }
    return bytes;
  }

  /**
   * Resolves hardlink sizes, directory totals and per-layer hidden bytes. Call once after the last
   * layer; calling addLayer afterwards is an error.
   */
  finish(): { warnings: string[] } {
    return runSteps(this.finishSteps(Infinity));
  }

  /** finish() in steps of `every` nodes. */
  *finishSteps(every = 8192): Generator<void, { warnings: string[] }> {
    if (this.finished) return { warnings: [] };
    this.finished = true;
    return yield* this.totalsSteps(every);
  }

  private *totalsSteps(every: number): Generator<void, { warnings: string[] }> {
    const warnings: string[] = [];
    for (const s of this.layers) s.hiddenBytes = 0;
    const visit = (n: MergedNode): void => {
      for (let i = 0, top = hiddenCount(n); i < top; i++) this.layers[n.copies[i].layer].hiddenBytes += n.copies[i].bytes;
      if (n.live && n.type === 'hardlink') {
        const target = n.linkname ? this.lookup(n.linkname) : undefined;
        if (target && target.live && target.type === 'file') n.size = target.size;
        else if (warnings.length < 50) warnings.push(`hardlink ${nodePath(n)} points at missing ${n.linkname}`);
      }
    };
    const order = yield* postOrderSteps(this.root, every);
    for (let i = 0; i < order.length; i++) {
      const n = order[i];
      if (i > 0 && i % every === 0) yield;
      visit(n);
      if (n.type === 'dir') { n.total = 0; n.count = 0; }
      if (n.children) {
        for (const c of n.children.values()) {
          if (!c.live) continue;
          n.count += 1 + (c.type === 'dir' ? c.count : 0);
          n.total += c.type === 'dir' ? c.total : c.type === 'file' ? c.size : 0;
        }
      }
    }
    return { warnings };
  }

  /** Bytes shipped in the image that are invisible in the final filesystem, each hidden copy once. */
  get hiddenBytes(): number {
    return this.layers.reduce((a, s) => a + s.hiddenBytes, 0);
  }

  /** Depth-first, sorted walk of every node (live and deleted) with its path. */
  *walk(from: MergedNode = this.root): Generator<[string, MergedNode]> {
    const stack: Array<[string, MergedNode]> = [];
    const push = (dir: string, n: MergedNode): void => {
      if (!n.children) return;
      const names = [...n.children.keys()].sort().reverse();
      for (const name of names) stack.push([joinPath(dir, name), n.children.get(name)!]);
    };
    push(from === this.root ? '/' : nodePath(from), from);
    while (stack.length) {
      const [p, n] = stack.pop()!;
      yield [p, n];
      push(p, n);
    }
  }

  /** Hidden copies of a node: every copy but the visible one (all copies when deleted). */
  static hiddenCopies(n: MergedNode): Copy[] {
    return n.copies.slice(0, hiddenCount(n));
  }
}

/**
 * Every node below `root` (and root itself), children before their parent: an iterative walk, so
 * deep trees cannot overflow the stack.
 */
/** Runs a step generator to its end and returns its result. */
export function runSteps<T>(g: Generator<void, T>): T {
  for (;;) {
    const r = g.next();
    if (r.done) return r.value;
  }
}

export function postOrder(root: MergedNode): MergedNode[] {
  return runSteps(postOrderSteps(root, Infinity));
}

/** postOrder in steps: yields after every `every` nodes. */
function* postOrderSteps(root: MergedNode, every: number): Generator<void, MergedNode[]> {
  const order: MergedNode[] = [];
  const stack: MergedNode[] = [root];
  while (stack.length) {
    const n = stack.pop()!;
    order.push(n);
    if (n.children) for (const c of n.children.values()) stack.push(c);
    if (order.length % every === 0) yield;
  }
  return order.reverse();
}

/** Bytes of a node's hidden copies (every copy but the visible one; all when deleted). */
export function hiddenBytesOf(n: MergedNode): number {
  let sum = 0;
  for (let i = 0, top = hiddenCount(n); i < top; i++) sum += n.copies[i].bytes;
  return sum;
}

/** How many of a node's copies, from the bottom, are hidden: all but the visible one (all when deleted). */
export function hiddenCount(n: MergedNode): number {
  return n.live ? Math.max(0, n.copies.length - 1) : n.copies.length;
}

export function mergeLayers(layers: LayerIndex[]): MergedTree {
  const t = new MergedTree();
  for (const l of layers) t.addLayer(l);
  t.finish();
  return t;
}
