// The Layers sidebar as pure data: which rows exist, their labels, descriptions, tooltips, icons
// and children, for both views (the image's layers, and the merged filesystem or one layer's
// changes). No vscode here: src/vscode/tree adapts these rows to TreeItems, and unit tests render
// them to golden text.
//
// Everything is lazy: rows are created when their parent is expanded, a directory's children are
// sorted once per expand and cached, and whole-tree numbers (hidden bytes below each directory)
// are computed in one pass the first time they are needed.
import type { Analysis } from '../image/analysis';
import { formatBytes, mdEscape, plural, shortCreatedBy } from './format';
import { parseDockerfile } from '../dockerfile/dockerfile';
import { bestStageMapping, mapHistory } from '../dockerfile/mapping';
import { nodePath, type MergedTreeLike, type ChangeKind, type Copy, type LayerChange, type MergedNode } from '../image/merge';
import type { HistoryEntry } from '../image/types';
import { IndexTreeView } from '../image/index/treeView';
import { ChangeTrie } from '../image/index/changeTrie';
import { K_DELETED } from '../image/index/imageIndex';
import { T_DIR } from '../image/index/layerTable';

export interface TreeModelOptions {
  /** 1-based Dockerfile line of the instruction that created a layer, when mapped. */
  lineForLayer?: (layer: number) => number | undefined;
  /** How many bottom layers come from the base image (FROM); grouped under one row when > 0. */
  baseLayerCount?: number;
  /** Longest instruction text shown in labels and descriptions (default 60 / 40 characters). */
  labelWidth?: number;
  descriptionWidth?: number;
  /** How many children a directory lists before a "more" row (default 500). */
  pageSize?: number;
}

/** How a row is coloured: the adapter maps tones to theme colours. */
export type Tone = 'normal' | 'deleted' | 'added' | 'modified' | 'hidden';

/**
 * An icon: 'file' and 'folder' mean "from the file icon theme" (the adapter sets a resourceUri
 * named like the path); anything else is a codicon id.
 */
export type IconId = 'file' | 'folder' | string;

export interface Row {
  /** Unique in its view, stable across refreshes of the same image (keeps expansion state). */
  id: string;
  label: string;
  description: string;
  /** Markdown, computed on demand (VS Code asks for it on hover: resolveTreeItem). */
  tooltip: () => string;
  collapsible: 'none' | 'collapsed' | 'expanded';
  icon: IconId;
  tone: Tone;
  /** Space-separated words the menus match on: layer, baseImage, file, dir, deleted, hiddenCopy, change, mapped… */
  contextValue: string;
  /** Absolute path in the image this row stands for. */
  path?: string;
  /** The layer whose version (of a path) or instruction this row stands for. */
  layer?: number;
  /** 1-based Dockerfile line of that layer, when mapped. */
  line?: number;
  /** Whether `layer`'s version of `path` can be opened as a file (regular file, hardlink or symlink). */
  openable?: boolean;
  /** Colour the icon as a warning (a layer that ships hidden bytes). */
  warn?: boolean;
}

// --------------------------------------------------------------------------------------------
// Elements: the objects a TreeDataProvider hands around. Identity matters (reveal, getParent):
// the model caches them, so the same path gives the same object while the model lives.

export interface BaseGroupEl { kind: 'base'; layers: number[] }
export interface LayerEl { kind: 'layer'; layer: number }
export interface EntryEl { kind: 'entry'; node: MergedNode; path: string }
export interface CopyEl { kind: 'copy'; owner: EntryEl; copy: Copy; index: number }
export interface ChangeEl { kind: 'change'; layer: number; cn: ChangeNode; label: string; parent: ChangeEl | LayerEl | null }
export interface InfoEl { kind: 'info'; id: string; text: string; parent: TreeEl | null }
/**
 * The rest of a long list of children: `shown` of `total` are listed before it; showMore(el) lists
 * the next page. `owner` is the element whose children these are (null: the merged root).
 */
export interface MoreEl { kind: 'more'; id: string; owner: TreeEl | null; shown: number; total: number }

export type TreeEl = BaseGroupEl | LayerEl | EntryEl | CopyEl | ChangeEl | InfoEl | MoreEl;

/** One layer's change trie (src/core/image/index/changeTrie.ts) and the row objects made of it so far. */
class LayerChangeNodes {
  readonly trie: ChangeTrie;
  private readonly made = new Map<number, ChangeNode>();
  constructor(readonly view: IndexTreeView, readonly layer: number) {
    this.trie = new ChangeTrie(view.index, layer);
  }
  /** The object of a slot (one per slot, made once). */
  at(slot: number): ChangeNode {
    let c = this.made.get(slot);
    if (!c) this.made.set(slot, (c = new ChangeNode(this, slot)));
    return c;
  }
}

/** One path of one layer's change tree (a trie of the changed paths), read from the trie's columns. */
export class ChangeNode {
  private changeObj: LayerChange | null | undefined;
  constructor(private readonly owner: LayerChangeNodes, readonly slot: number) {}
  /** The node of the image index. */
  get id(): number { return this.owner.trie.node[this.slot]; }
  get name(): string { return this.owner.view.index.nameOf(this.id); }
  get path(): string { return this.owner.view.index.pathOf(this.id); }
  /** The layer's change at this path; undefined for a directory that only leads to changes. */
  get change(): LayerChange | undefined {
    if (this.changeObj === undefined) {
      const i = this.owner.trie.change[this.slot];
      this.changeObj = i < 0 ? null : this.owner.view.change(this.owner.layer, i);
    }
    return this.changeObj ?? undefined;
  }
  get childCount(): number { return this.owner.trie.kidCount(this.slot); }
  /** Counts and bytes of the changes at and below this path. */
  get added(): number { return this.owner.trie.added[this.slot]; }
  get modified(): number { return this.owner.trie.modified[this.slot]; }
  get deleted(): number { return this.owner.trie.deleted[this.slot]; }
  get bytes(): number { return this.owner.trie.bytes[this.slot]; }
}

/** What the merged-filesystem view shows. */
export interface FilesMode {
  /** A layer index: only that layer's changes; undefined: the merged filesystem. */
  layer?: number;
  /** Only rows that carry hidden (shipped but invisible) bytes. */
  wasteOnly: boolean;
}

const byteWords = (n: number): string => formatBytes(n);

function truncate(s: string, width: number): string {
  return s.length > width ? s.slice(0, Math.max(1, width - 1)) + '…' : s;
}

const compareNames = (a: string, b: string): number => (a < b ? -1 : a > b ? 1 : 0);

const isDirNode = (n: MergedNode): boolean => n.type === 'dir';

/**
 * Hidden copies worth a row: every copy but the visible one, except a directory's lower directory
 * entries (directories merge; those copies hold no bytes and hide nothing).
 */
export function hiddenCopiesOf(n: MergedNode): Array<{ copy: Copy; index: number }> {
  const top = n.live ? n.copies.length - 1 : n.copies.length;
  const out: Array<{ copy: Copy; index: number }> = [];
  for (let i = 0; i < top; i++) {
    const c = n.copies[i];
    if (n.type === 'dir' && c.type === 'dir') continue;
    out.push({ copy: c, index: i });
  }
  return out;
}
const OPENABLE = new Set(['file', 'hardlink', 'symlink']);

/** Where a row of a path stands: its id, label, path, layer, line and whether it opens. */
type RowPlace = Pick<Row, 'id' | 'label' | 'path' | 'layer' | 'line' | 'openable'>;

/**
 * A row of a path from where it stands and what it shows, field by field: an object spread of the
 * place costs microseconds a row in V8, which a directory of 100k children turns into seconds.
 */
function pathRow(at: RowPlace, what: Pick<Row, 'description' | 'tooltip' | 'collapsible' | 'icon' | 'tone' | 'contextValue'>): Row {
  const r: Row = {
    id: at.id, label: at.label, description: what.description, tooltip: what.tooltip, collapsible: what.collapsible,
    icon: what.icon, tone: what.tone, contextValue: what.contextValue, path: at.path, layer: at.layer, line: at.line,
  };
  if ('openable' in at) r.openable = at.openable;
  return r;
}

export class TreeModel {
  private readonly opts: Required<Pick<TreeModelOptions, 'labelWidth' | 'descriptionWidth' | 'pageSize'>> & TreeModelOptions;
  /** How many children each element lists, where more than a page were asked for (by showMore or reveal). */
  private readonly shownCounts = new Map<TreeEl | null, number>();
  /** A directory's children as node ids, directories first, then by name; per waste filter. */
  private readonly kidOrders = new Map<string, Int32Array>();
  private readonly entryEls = new Map<MergedNode, EntryEl>();
  private readonly layerEls: LayerEl[];
  private readonly baseEl: BaseGroupEl | undefined;
  private readonly childCache = new Map<string, Map<TreeEl | null, TreeEl[]>>();
  private hiddenBelowMap: Pick<Map<MergedNode, number>, 'get'> | undefined;
  private readonly changeRoots = new Map<number, LayerChangeNodes>();
  private readonly shippedCache = new Map<MergedNode, Map<number, number>>();
  private readonly instructions = new Map<number, string>();
  private readonly layerRefs = new Map<number, string>();

  constructor(readonly analysis: Analysis, options: TreeModelOptions = {}) {
    this.opts = { labelWidth: 60, descriptionWidth: 40, pageSize: 500, ...options };
    const n = analysis.tree.layers.length;
    this.layerEls = Array.from({ length: n }, (_, layer) => ({ kind: 'layer' as const, layer }));
    const base = Math.min(options.baseLayerCount ?? 0, n);
    if (base > 0) this.baseEl = { kind: 'base', layers: Array.from({ length: base }, (_, i) => i) };
  }

  get tree(): MergedTreeLike {
    return this.analysis.tree;
  }

  // ------------------------------------------------------------------------------------------
  // Layer texts

  /** The instruction that created a layer, Dockerfile-style, untruncated. */
  instruction(layer: number): string {
    let s = this.instructions.get(layer);
    if (s === undefined) { s = this.computeInstruction(layer); this.instructions.set(layer, s); }
    return s;
  }

  private computeInstruction(layer: number): string {
    const h = this.analysis.layerHistory[layer];
    if (!h) return '(no history)';
    const s = shortCreatedBy(h.createdBy)
      // BuildKit writes `RUN [|N ARG=v…] /bin/sh -c cmd`; the legacy builder `/bin/ash -c cmd` after a SHELL.
      .replace(/^RUN (\|\d+(\s+\S+=\S*)*\s+)?\/bin\/(sh|ash|bash|dash) -c /, 'RUN ')
      .replace(/^\/bin\/(ash|bash|dash|zsh) -c (?!#\(nop\))/, 'RUN ');
    if (s) return s;
    return h.comment ? `(${h.comment})` : '(no instruction recorded)';
  }

  /** `L5 · RUN pip install…` as file descriptions name the providing layer. */
  layerRef(layer: number): string {
    let s = this.layerRefs.get(layer);
    if (s === undefined) { s = `L${layer} · ${truncate(this.instruction(layer), this.opts.descriptionWidth)}`; this.layerRefs.set(layer, s); }
    return s;
  }

  line(layer: number): number | undefined {
    return this.opts.lineForLayer?.(layer);
  }

  /** For the view's description: name, total size and hidden bytes. */
  imageSummary(): string {
    const a = this.analysis;
    const name = a.image.repoTags[0] ?? a.image.id.slice(7, 19);
    const hidden = a.hiddenBytes > 0 ? ` · ${byteWords(a.hiddenBytes)} hidden` : '';
    return `${name} · ${byteWords(a.totalSize)}${hidden}`;
  }

  // ------------------------------------------------------------------------------------------
  // Layers view

  layerRoots(): TreeEl[] {
    const base = this.baseEl;
    if (!base) return [...this.layerEls];
    return [base, ...this.layerEls.slice(base.layers.length)];
  }

  layerEl(layer: number): LayerEl | undefined {
    return this.layerEls[layer];
  }

  // ------------------------------------------------------------------------------------------
  // Files view

  fileRoots(mode: FilesMode): TreeEl[] {
    if (mode.layer !== undefined) return this.children(this.layerEls[mode.layer], mode);
    return this.children(null, mode);
  }

  /** The row element of a merged-tree node (live or deleted). */
  entryEl(node: MergedNode, path?: string): EntryEl {
    let el = this.entryEls.get(node);
    if (!el) {
      el = { kind: 'entry', node, path: path ?? nodePath(node) };
      this.entryEls.set(node, el);
    }
    return el;
  }

  /** Every path of the image (live and deleted), depth-first and sorted, for Find File. */
  *paths(): Generator<{ path: string; node: MergedNode }> {
    for (const [path, node] of this.tree.walk()) yield { path, node };
  }

  // ------------------------------------------------------------------------------------------
  // Children and parents

  /**
   * Children of an element; `null` is the merged filesystem's root. `mode` only matters for the
   * files view (the waste filter); layer rows and change rows of the Layers view ignore it unless
   * the files view is in one-layer mode.
   */
  children(el: TreeEl | null, mode: FilesMode = { wasteOnly: false }): TreeEl[] {
    const key = mode.wasteOnly ? 'waste' : 'all';
    let cache = this.childCache.get(key);
    if (!cache) { cache = new Map(); this.childCache.set(key, cache); }
    const hit = cache.get(el);
    if (hit) return hit;
    const out = this.computeChildren(el, mode.wasteOnly);
    cache.set(el, out);
    return out;
  }

  private computeChildren(el: TreeEl | null, wasteOnly: boolean): TreeEl[] {
    if (el === null) return this.entryChildren(this.tree.root, wasteOnly, null);
    switch (el.kind) {
      case 'base': return el.layers.map((i) => this.layerEls[i]);
      case 'layer': {
        const root = this.changeTree(el.layer);
        const kids = this.changeChildren(el.layer, root, el, wasteOnly);
        if (kids.length === 0) {
          const text = wasteOnly ? 'no changes with hidden bytes' : 'no changes';
          return [{ kind: 'info', id: `info:L${el.layer}:none`, text, parent: el }];
        }
        return kids;
      }
      case 'change': return this.changeChildren(el.layer, el.cn, el, wasteOnly);
      case 'entry': {
        const n = el.node;
        const copies: TreeEl[] = hiddenCopiesOf(n)
          .map(({ copy, index }) => ({ kind: 'copy' as const, owner: el, copy, index }))
          .filter((c) => !wasteOnly || c.copy.bytes > 0)
          .reverse(); // newest hidden copy first
        const kids = this.hasChildren(n) ? this.entryChildren(n, wasteOnly, el) : [];
        // A file that replaced a directory keeps the directory's (deleted) entries: list them after its copies.
        return n.type === 'dir' ? [...kids, ...copies] : [...copies, ...kids];
      }
      case 'copy':
      case 'info':
      case 'more':
        return [];
    }
  }

  /** A directory's children, directories first, then by name: one page, then a "more" row. */
  private entryChildren(dir: MergedNode, wasteOnly: boolean, owner: TreeEl | null): TreeEl[] {
    const view = this.indexView();
    const order = this.kidOrder(view.idOf(dir), wasteOnly);
    const limit = Math.min(order.length, this.shown(owner));
    const base = dir === this.tree.root ? '' : this.entryEl(dir).path;
    const out: TreeEl[] = [];
    for (let i = 0; i < limit; i++) {
      const n = view.node(order[i]);
      out.push(this.entryEl(n, `${base}/${n.name}`));
    }
    if (limit < order.length) out.push(this.moreEl(owner, limit, order.length));
    return out;
  }

  /** The children of index node `id` in the view's order (the index keeps them sorted by name). */
  private kidOrder(id: number, wasteOnly: boolean): Int32Array {
    const key = `${wasteOnly ? 'w' : 'a'}${id}`;
    let order = this.kidOrders.get(key);
    if (order) return order;
    const ix = this.indexView().index;
    const from = ix.childStart[id];
    const to = ix.childStart[id + 1];
    const hidden = wasteOnly ? this.hiddenSums() : undefined;
    order = new Int32Array(to - from);
    let k = 0;
    for (const dirs of [true, false]) {
      for (let i = from; i < to; i++) {
        const c = ix.childList[i];
        if ((ix.type[c] === T_DIR) !== dirs || (hidden && !(hidden[c] > 0))) continue;
        order[k++] = c;
      }
    }
    order = order.subarray(0, k);
    this.kidOrders.set(key, order);
    return order;
  }

  private shown(owner: TreeEl | null): number {
    return this.shownCounts.get(owner) ?? this.opts.pageSize;
  }

  private moreEl(owner: TreeEl | null, shown: number, total: number): MoreEl {
    const id = owner === null ? 'more:/' : `more:${this.row(owner).id}`;
    return { kind: 'more', id, owner, shown, total };
  }

  /** Lists one more page of a "more" row's list; its owner's children change (refresh it). */
  showMore(el: MoreEl): TreeEl | null {
    this.setShown(el.owner, el.shown + this.opts.pageSize);
    return el.owner;
  }

  private setShown(owner: TreeEl | null, n: number): void {
    this.shownCounts.set(owner, n);
    for (const cache of this.childCache.values()) cache.delete(owner);
  }

  /**
   * Makes an entry listable by revealing it: every directory on its way lists pages up to it. The
   * elements whose children changed are returned (refresh them before revealing).
   */
  showEntry(el: EntryEl, mode: FilesMode = { wasteOnly: false }): Array<TreeEl | null> {
    const view = this.indexView();
    const changed: Array<TreeEl | null> = [];
    for (let n: MergedNode | null = el.node; n && n !== this.tree.root; n = n.parent) {
      const p = n.parent;
      if (!p) break;
      const owner = p === this.tree.root ? null : this.entryEl(p);
      const at = this.kidOrder(view.idOf(p), mode.wasteOnly).indexOf(view.idOf(n));
      if (at < 0 || at < this.shown(owner)) continue;
      this.setShown(owner, Math.ceil((at + 1) / this.opts.pageSize) * this.opts.pageSize);
      changed.push(owner);
    }
    return changed;
  }

  parent(el: TreeEl): TreeEl | undefined {
    switch (el.kind) {
      case 'base': return undefined;
      case 'layer': return this.baseEl && el.layer < this.baseEl.layers.length ? this.baseEl : undefined;
      case 'entry': {
        const p = el.node.parent;
        return !p || p === this.tree.root ? undefined : this.entryEl(p);
      }
      case 'copy': return el.owner;
      case 'change': return el.parent ?? undefined;
      case 'info': return el.parent ?? undefined;
      case 'more': return el.owner ?? undefined;
    }
  }

  // ------------------------------------------------------------------------------------------
  // One layer's changes

  /** The trie of a layer's changed paths (built on first use, cached). */
  changeTree(layer: number): ChangeNode {
    let t = this.changeRoots.get(layer);
    if (!t) this.changeRoots.set(layer, (t = new LayerChangeNodes(this.indexView(), layer)));
    return t.at(0);
  }

  private indexView(): IndexTreeView {
    if (!(this.tree instanceof IndexTreeView)) throw new Error('TreeModel: the analysis has no image index view');
    return this.tree;
  }

  private changeChildren(layer: number, cn: ChangeNode, parent: ChangeEl | LayerEl, wasteOnly: boolean): TreeEl[] {
    const nodes = this.changeRoots.get(layer)!;
    const t = nodes.trie;
    const ix = t.index;
    const isDir = (s: number): boolean => t.kidCount(s) > 0 || (t.change[s] >= 0 && ix.type[t.node[s]] === T_DIR);
    // Sorted as positions (directories first, then by name): no object per child, a label only for
    // the rows of the page.
    const ks = t.kids(cn.slot);
    const n = ks.length;
    const fileFlag = new Uint8Array(n);
    const names = new Array<string>(n);
    for (let i = 0; i < n; i++) {
      fileFlag[i] = isDir(ks[i]) ? 0 : 1;
      names[i] = ix.nameOf(t.node[ks[i]]);
    }
    const order = new Uint32Array(n);
    for (let i = 0; i < n; i++) order[i] = i;
    order.sort((a, b) => fileFlag[a] - fileFlag[b] || compareNames(names[a], names[b]));
    const shown = this.shown(parent);
    const out: TreeEl[] = [];
    let picked = 0;
    for (let j = 0; j < n; j++) {
      const i = order[j];
      let s = ks[i];
      let label: string | undefined = picked < shown ? names[i] : undefined;
      // Compact chains of directories that only lead somewhere (usr/lib/python3/…).
      while (t.change[s] < 0 && t.kidCount(s) === 1) {
        const only = t.kids(s)[0];
        if (t.kidCount(only) === 0) break;
        if (label !== undefined) label += '/' + ix.nameOf(t.node[only]);
        s = only;
      }
      if (wasteOnly && !this.changeHasWaste(t, s)) continue;
      // One page, then a "more" row.
      if (label !== undefined) out.push({ kind: 'change', layer, cn: nodes.at(s), label, parent });
      picked++;
    }
    const limit = Math.min(picked, shown);
    if (limit < picked) out.push(this.moreEl(parent, limit, picked));
    return out;
  }

  /** Whether a change (or one below it) ships bytes that end up invisible, or deletes shipped bytes. */
  private changeHasWaste(t: ChangeTrie, from: number): boolean {
    const c = t.index.layers[t.layer].changes;
    const stack = [from];
    while (stack.length) {
      const s = stack.pop()!;
      const i = t.change[s];
      if (i >= 0 && c.bytes[i] > 0) {
        if (c.kind[i] === K_DELETED) return true;
        if (this.laterFateOf(t.layer, c.node[i])) return true;
      }
      for (const k of t.kids(s)) stack.push(k);
    }
    return false;
  }

  /** What became of `layer`'s copy of a node later: replaced by / deleted by a higher layer, or undefined if it is visible. */
  laterFate(layer: number, node: MergedNode): { how: 'replaced' | 'deleted'; by: number } | undefined {
    return this.laterFateOf(layer, this.indexView().idOf(node));
  }

  /** laterFate of index node n, from the copy columns. */
  private laterFateOf(layer: number, n: number): { how: 'replaced' | 'deleted'; by: number } | undefined {
    const ix = this.indexView().index;
    const end = ix.copyStart[n + 1];
    let i = ix.copyStart[n];
    while (i < end && ix.copyLayer[i] !== layer) i++;
    if (i === end) return undefined;
    // A directory over a directory merges: the lower directory entry hides nothing.
    for (let k = i + 1; k < end; k++) if (!(ix.copyType[k] === T_DIR && ix.copyType[i] === T_DIR)) return { how: 'replaced', by: ix.copyLayer[k] };
    if (!ix.live[n]) return ix.deletedBy[n] > layer ? { how: 'deleted', by: ix.deletedBy[n] } : undefined;
    return undefined;
  }

  /** Whether a node of the merged tree has children (over the image index: no child object made). */
  private hasChildren(n: MergedNode): boolean {
    const view = this.indexView();
    const id = view.idOf(n);
    return view.index.childStart[id + 1] > view.index.childStart[id];
  }

  // ------------------------------------------------------------------------------------------
  // Hidden bytes

  /** Hidden bytes at and below every node (hiddenSums, read through the node's id). */
  hiddenBelow(): Pick<Map<MergedNode, number>, 'get'> {
    if (this.hiddenBelowMap) return this.hiddenBelowMap;
    const sum = this.hiddenSums();
    const view = this.indexView();
    return (this.hiddenBelowMap = { get: (node: MergedNode): number | undefined => sum[view.idOf(node)] });
  }

  private hiddenSum: Float64Array | undefined;
  /**
   * Hidden bytes at and below each index node: one pass over the columns, on first use (a node's
   * id is larger than its parent's: in falling id order a node's sum is complete before it is
   * added to its parent's), no object per node.
   */
  private hiddenSums(): Float64Array {
    if (this.hiddenSum) return this.hiddenSum;
    const ix = this.indexView().index;
    const sum = new Float64Array(ix.nodeCount);
    for (let n = ix.nodeCount - 1; n >= 0; n--) {
      if (!ix.exists[n]) continue;
      for (let k = ix.copyStart[n], top = k + ix.hiddenCount(n); k < top; k++) sum[n] += ix.copyBytes[k];
      if (n > 0) sum[ix.nodeParent[n]] += sum[n];
    }
    return (this.hiddenSum = sum);
  }

  /** For a deleted node: bytes still shipped per layer, for it and everything below it. */
  shippedByLayer(node: MergedNode): Map<number, number> {
    const hit = this.shippedCache.get(node);
    if (hit) return hit;
    const per = new Map<number, number>();
    const stack = [node];
    while (stack.length) {
      const n = stack.pop()!;
      if (n.live && n !== node) continue;
      for (const c of n.copies) per.set(c.layer, (per.get(c.layer) ?? 0) + c.bytes);
      if (n.children) for (const c of n.children.values()) stack.push(c);
    }
    const sorted = new Map([...per].filter(([, b]) => b > 0).sort((a, b) => a[0] - b[0]));
    this.shippedCache.set(node, sorted);
    return sorted;
  }

  /** What an opaque directory hides: lower entries it made invisible, and their shipped bytes. */
  opaqueHides(node: MergedNode): { layers: number[]; entries: number; bytes: number } | undefined {
    if (!node.opaqueIn || !node.children) return undefined;
    let entries = 0;
    let bytes = 0;
    for (const c of node.children.values()) {
      if (c.live || c.deletedHow !== 'opaque' || c.deletedBy === null || !node.opaqueIn.includes(c.deletedBy)) continue;
      entries++;
      for (const b of this.shippedByLayer(c).values()) bytes += b;
    }
    return entries > 0 ? { layers: node.opaqueIn, entries, bytes } : undefined;
  }

  // ------------------------------------------------------------------------------------------
  // Presentation

  row(el: TreeEl, mode: FilesMode = { wasteOnly: false }): Row {
    switch (el.kind) {
      case 'base': return this.baseRow(el);
      case 'layer': return this.layerRow(el);
      case 'entry': return this.entryRow(el, mode);
      case 'copy': return this.copyRow(el);
      case 'change': return this.changeRow(el);
      case 'info': return { id: el.id, label: el.text, description: '', tooltip: () => '', collapsible: 'none', icon: 'info', tone: 'hidden', contextValue: 'info' };
      case 'more': {
        const next = Math.min(this.opts.pageSize, el.total - el.shown);
        return {
          id: el.id, label: `Show ${next.toLocaleString('en-US')} more`, description: `${el.shown.toLocaleString('en-US')} of ${el.total.toLocaleString('en-US')} shown`,
          tooltip: () => `${el.total.toLocaleString('en-US')} entries here: the list shows ${this.opts.pageSize.toLocaleString('en-US')} at a time. Find File reveals any path.`,
          collapsible: 'none', icon: 'ellipsis', tone: 'hidden', contextValue: 'more',
        };
      }
    }
  }

  private baseRow(el: BaseGroupEl): Row {
    const n = el.layers.length;
    const size = el.layers.reduce((s, i) => s + (this.analysis.layerSizes[i] ?? 0), 0);
    const hidden = el.layers.reduce((s, i) => s + (this.tree.layers[i]?.hiddenBytes ?? 0), 0);
    const desc = [byteWords(size)];
    if (hidden > 0) desc.push(`${byteWords(hidden)} hidden`);
    return {
      id: 'base', label: `Base image · ${plural(n, 'layer')}`, description: desc.join(' · '),
      tooltip: () => `**Base image**: L0–L${n - 1}, ${byteWords(size)}${hidden > 0 ? `, ${byteWords(hidden)} of it hidden by later layers` : ''}`,
      collapsible: 'collapsed', icon: 'package', tone: 'normal', contextValue: 'baseImage',
    };
  }

  private layerRow(el: LayerEl): Row {
    const i = el.layer;
    const s = this.tree.layers[i];
    const size = this.analysis.layerSizes[i] ?? s.fileBytes;
    const line = this.line(i);
    const instr = this.instruction(i);
    const label = `L${i} · ${line !== undefined ? `line ${line} · ` : ''}${truncate(instr, this.opts.labelWidth)}`;
    const desc = [byteWords(size)];
    if (s.hiddenBytes > 0) desc.push(`${byteWords(s.hiddenBytes)} hidden`);
    if (this.analysis.index.layers[i].changes.length === 0) desc.push('empty layer');
    const h = this.analysis.layerHistory[i];
    const tooltip = (): string => {
      const tip: string[] = [
        `**L${i}**${line !== undefined ? ` · Dockerfile line ${line}` : ''}`,
        '',
        '```dockerfile',
        instr.length > 2000 ? instr.slice(0, 2000) + '…' : instr,
        '```',
        '',
        `Size: ${byteWords(size)}${this.analysis.sizeDefinition === 'engine-history' ? ' (as the engine reports it)' : ' (file bytes in the layer tar)'}`,
        '',
        `Added: ${plural(s.added, 'path')}, ${byteWords(s.addedBytes)} · modified: ${plural(s.modified, 'path')}, ${byteWords(s.modifiedBytes)} · deleted: ${plural(s.deleted, 'path')}, ${byteWords(s.deletedBytes)} hidden below`,
      ];
      if (s.hiddenBytes > 0) tip.push('', `Hidden: ${byteWords(s.hiddenBytes)} this layer ships are overwritten or deleted by later layers`);
      if (h?.created) tip.push('', `Created ${h.created}`);
      const diff = this.analysis.image.diffIds[i];
      if (diff) tip.push('', `\`${diff}\``);
      return tip.join('\n');
    };
    return {
      id: `layer:${i}`, label, description: desc.join(' · '), tooltip,
      collapsible: 'collapsed', icon: 'layers', tone: 'normal',
      contextValue: line !== undefined ? 'layer mapped' : 'layer', layer: i, line, warn: s.hiddenBytes > 0,
    };
  }

  private entryRow(el: EntryEl, mode: FilesMode): Row {
    const n = el.node;
    const hidden = hiddenCopiesOf(n).map((h) => h.copy);
    const hasKids = this.hasChildren(n) || hidden.length > 0;
    const kidsShown = hasKids && (!mode.wasteOnly || (this.hiddenBelow().get(n) ?? 0) > 0);
    const collapsible = kidsShown ? 'collapsed' : 'none';
    const line = n.layer >= 0 ? this.line(n.layer) : undefined;
    const mapped = line !== undefined ? ' mapped' : '';
    const openable = OPENABLE.has(n.type);
    const layer = n.layer >= 0 ? n.layer : undefined;
    const common = { id: `f:${el.path}`, label: n.name, path: el.path, layer, line, openable };

    if (!n.live) {
      const desc = this.deletedText(n);
      const tooltip = (): string => {
        const tip = [`**${mdEscape(el.path)}** — ${mdEscape(desc)}`];
        if (n.copies.length) tip.push('', 'Shipped copies: ' + n.copies.map((c) => `L${c.layer} ${c.type} ${byteWords(c.bytes)}`).join(', '));
        tip.push('', 'Deleting a path in a later layer does not make the image smaller: the lower layer still carries it. Delete it in the same RUN that created it.');
        return tip.join('\n');
      };
      return pathRow(common, {
        description: desc, tooltip, collapsible,
        icon: isDirNode(n) ? 'folder' : 'file', tone: 'deleted',
        contextValue: `${isDirNode(n) ? 'dir' : openable ? 'file' : 'special'} deleted${mapped}`,
      });
    }

    if (isDirNode(n)) {
      const desc = [byteWords(n.total)];
      const hb = this.hiddenBelow().get(n) ?? 0;
      if (hb > 0) desc.push(`${byteWords(hb)} hidden`);
      const opq = this.opaqueHides(n);
      if (opq) desc.push(`opaque in ${opq.layers.map((l) => 'L' + l).join(', ')}: hides ${plural(opq.entries, 'entry', 'entries')} (${byteWords(opq.bytes)})`);
      const tooltip = (): string => {
        const tip = [
          `**${mdEscape(el.path)}/** — ${plural(n.count, 'entry', 'entries')}, ${byteWords(n.total)}`,
        ];
        if (hb > 0) tip.push('', `${byteWords(hb)} below are shipped in lower layers but hidden (overwritten or deleted)`);
        if (opq) tip.push('', `Marked opaque in ${opq.layers.map((l) => 'L' + l).join(', ')}: every lower entry of this directory is hidden (${plural(opq.entries, 'entry', 'entries')}, ${byteWords(opq.bytes)} still shipped)`);
        if (hidden.length) tip.push('', `Hides ${hidden.map((c) => `L${c.layer} ${c.type}`).join(', ')}`);
        return tip.join('\n');
      };
      return pathRow(common, { description: desc.join(' · '), tooltip, collapsible, icon: 'folder', tone: 'normal', contextValue: `dir${mapped}` });
    }

    const parts: string[] = [];
    if (n.type === 'symlink') parts.push(`→ ${n.linkname ?? ''}`);
    else if (n.type === 'hardlink') parts.push(`⇒ ${n.linkname ?? ''}`, byteWords(n.size));
    else if (n.type === 'file') parts.push(byteWords(n.size));
    else parts.push(n.type);
    parts.push(this.layerRef(n.layer));
    if (hidden.length) {
      const hb = hidden.reduce((s, c) => s + c.bytes, 0);
      parts.push(`hides ${hidden.map((c) => 'L' + c.layer).join(', ')}${hb > 0 ? ` (${byteWords(hb)})` : ''}`);
    }
    const tooltip = (): string => {
      const tip = [
        `**${mdEscape(el.path)}** — ${n.type}${n.type === 'file' || n.type === 'hardlink' ? `, ${byteWords(n.size)}` : ''}, mode ${n.mode.toString(8).padStart(4, '0')}, uid ${n.uid}:${n.gid}`,
      ];
      if (n.linkname !== undefined) tip.push('', `${n.type === 'symlink' ? 'Symlink to' : 'Hardlink to'} \`${n.linkname}\``);
      tip.push('', `Provided by **L${n.layer}**${line !== undefined ? ` (Dockerfile line ${line})` : ''}: \`${truncate(this.instruction(n.layer), 200).replace(/`/g, "'")}\``);
      if (hidden.length) tip.push('', `Hides ${hidden.map((c) => `L${c.layer} (${c.type}, ${byteWords(c.bytes)})`).join(', ')}: those bytes are still shipped`);
      return tip.join('\n');
    };
    return pathRow(common, {
      description: parts.join(' · '), tooltip, collapsible, icon: 'file', tone: 'normal',
      contextValue: `${openable ? 'file' : 'special'}${hidden.length ? ' hides' : ''}${mapped}`,
    });
  }

  /** "deleted by L7, still shipped in L3: 48 MB" (or opaque / replaced). */
  deletedText(n: MergedNode): string {
    const by = n.deletedBy !== null ? `L${n.deletedBy}` : 'a later layer';
    const verb = n.deletedHow === 'opaque' ? `hidden by opaque dir in ${by}` : n.deletedHow === 'replaced' ? `replaced in ${by}` : `deleted by ${by}`;
    const shipped = this.shippedByLayer(n);
    if (shipped.size === 0) return verb;
    return `${verb}, still shipped in ${[...shipped].map(([l, b]) => `L${l}: ${byteWords(b)}`).join(', ')}`;
  }

  private copyRow(el: CopyEl): Row {
    const n = el.owner.node;
    const c = el.copy;
    const next = n.copies[el.index + 1];
    const fate = next ? `hidden by L${next.layer}` : n.deletedBy !== null ? `deleted by L${n.deletedBy}` : 'hidden';
    const what = c.type === 'file' ? byteWords(c.bytes) : c.type === 'dir' ? 'directory' : c.type;
    const line = this.line(c.layer);
    const openable = OPENABLE.has(c.type);
    const tooltip = (): string => {
      const tip = [
        `**${mdEscape(el.owner.path)}** as shipped in **L${c.layer}**${line !== undefined ? ` (Dockerfile line ${line})` : ''}: ${c.type}, ${byteWords(c.bytes)}`,
        '',
        `\`${truncate(this.instruction(c.layer), 200).replace(/`/g, "'")}\``,
        '',
        `${fate[0].toUpperCase()}${fate.slice(1)}: these bytes are in the image but no container can see them.`,
      ];
      return tip.join('\n');
    };
    return {
      id: `f:${el.owner.path}#L${c.layer}.${el.index}`,
      label: this.layerRef(c.layer),
      description: `${what} · ${fate}`,
      tooltip,
      collapsible: 'none', icon: 'history', tone: 'hidden',
      contextValue: `${openable ? 'hiddenCopy file' : 'copy'}${line !== undefined ? ' mapped' : ''}`,
      path: el.owner.path, layer: c.layer, line, openable,
    };
  }

  private changeRow(el: ChangeEl): Row {
    const cn = el.cn;
    const c = cn.change;
    const line = this.line(el.layer);
    const mapped = line !== undefined ? ' mapped' : '';
    const hasKids = cn.childCount > 0;
    const common = { id: `c:${el.layer}:${cn.path}`, label: el.label, path: cn.path, layer: el.layer, line };
    const summary = (): string => {
      const parts: string[] = [];
      if (cn.added) parts.push(`${cn.added} added`);
      if (cn.modified) parts.push(`${cn.modified} modified`);
      if (cn.deleted) parts.push(`${cn.deleted} deleted`);
      return `${parts.join(', ')} · ${byteWords(cn.bytes)}`;
    };
    if (!c) {
      return pathRow(common, {
        description: summary(), tooltip: () => `**${mdEscape(cn.path)}/** in L${el.layer}: ${summary()}`,
        collapsible: 'collapsed', icon: 'folder', tone: 'normal', contextValue: `change dir${mapped}`,
      });
    }
    const node = c.node;
    const isDir = node.type === 'dir' || hasKids;
    const tone: Tone = c.kind === 'deleted' ? 'deleted' : c.kind;
    let desc: string;
    if (c.kind === 'deleted') {
      const how = c.how === 'opaque' ? ' (opaque dir)' : c.how === 'replaced' ? ' (replaced)' : '';
      desc = `deleted${how} · ${byteWords(c.bytes)} still shipped below`;
    } else if (c.kind === 'modified' && c.metadataOnly) {
      desc = `metadata only · ${byteWords(c.bytes)} copied up`;
    } else if (c.kind === 'modified') {
      const i = node.copies.findIndex((x) => x.layer === el.layer);
      const lower = i > 0 ? node.copies[i - 1] : undefined;
      const mine = i >= 0 ? node.copies[i] : undefined;
      const was = lower && mine && lower.type !== mine.type ? ` (was ${lower.type === 'dir' ? 'a directory' : `a ${lower.type}`})`
        : c.lowerBytes ? ` (was ${byteWords(c.lowerBytes)})` : '';
      desc = `modified · ${byteWords(c.bytes)}${was}`;
    } else {
      const t = node.copies.find((x) => x.layer === el.layer)?.type ?? node.type;
      desc = `added · ${t === 'file' || t === 'dir' ? byteWords(c.bytes) : t}`;
    }
    if (hasKids && (cn.added + cn.modified + cn.deleted) > 1) desc = `${c.kind} dir · ${summary()}`;
    const fate = c.kind !== 'deleted' ? this.laterFate(el.layer, node) : undefined;
    if (fate) desc += fate.how === 'replaced' ? ` · hidden by L${fate.by}` : ` · deleted by L${fate.by}`;
    const kindWord: Record<ChangeKind, string> = { added: 'Added', modified: 'Modified', deleted: 'Deleted' };
    const tooltip = (): string => {
      const tip = [`**${mdEscape(cn.path)}** — ${kindWord[c.kind]} in L${el.layer}: ${mdEscape(desc)}`];
      if (c.kind === 'modified' && (c.lowerBytes ?? 0) > 0) {
        tip.push('', `Copy-on-write: the whole file (${byteWords(c.bytes)}) is shipped again in this layer; the lower copy (${byteWords(c.lowerBytes ?? 0)}) stays in its layer.`);
      }
      if (fate) tip.push('', `This layer's copy is ${fate.how === 'replaced' ? `overwritten by L${fate.by}` : `deleted by L${fate.by}`}: its bytes are shipped but invisible.`);
      return tip.join('\n');
    };
    const openable = c.kind !== 'deleted' && OPENABLE.has(node.copies.find((x) => x.layer === el.layer)?.type ?? '');
    return pathRow({ ...common, openable }, {
      description: desc, tooltip,
      collapsible: hasKids ? 'collapsed' : 'none',
      icon: isDir ? 'folder' : 'file', tone,
      // Deleted rows never say "file": this layer holds a whiteout, not a version to open.
      contextValue: `change ${c.kind} ${isDir ? 'dir' : openable ? 'file' : c.kind === 'deleted' ? 'path' : 'special'}${mapped}`,
    });
  }
}

// --------------------------------------------------------------------------------------------
// Dockerfile lines for layers

export interface DockerfileLayerLines {
  /** Layer index → 1-based line of the instruction that made it. */
  lines: Map<number, number>;
  /** Layers below the mapped stage chain's first instruction (the base image's). */
  baseLayerCount: number;
  /** How well the history matched (mapHistory's score, 0..1). */
  score: number;
  stage: number;
}

/**
 * Maps an image's layers to the lines of the Dockerfile that built it (src/core/dockerfile/mapping.ts): with
 * `stage` (unless another stage matches far better than its poor match), else with the stage that
 * matches best. Undefined when nothing matches well enough to label layers with lines.
 */
export function layerLinesFromDockerfile(text: string, history: readonly HistoryEntry[], opts: { stage?: string | number; minScore?: number } = {}): DockerfileLayerLines | undefined {
  const minScore = opts.minScore ?? 0.5;
  let model;
  try {
    model = parseDockerfile(text);
  } catch {
    return undefined;
  }
  const stage = opts.stage === '' ? undefined : opts.stage;
  let best = stage === undefined ? bestStageMapping(model, history) : mapHistory(model, history, { stage });
  if (best.score < 0.9 && stage !== undefined) {
    const r = bestStageMapping(model, history);
    if (r.score > best.score) best = r;
  }
  if (best.score < minScore || best.stage < 0) return undefined;
  const lines = new Map<number, number>();
  for (const l of best.lines) if (l.layerIndex !== null && !lines.has(l.layerIndex)) lines.set(l.layerIndex, l.line);
  let baseLayerCount = 0;
  for (const h of history) if (h.index < best.baseEntryCount && h.layerIndex !== null) baseLayerCount++;
  return { lines, baseLayerCount, score: best.score, stage: best.stage };
}
