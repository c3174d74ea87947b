// One layer's index as columns: its paths are nodes of a small trie (parent id, name id; names
// interned once per layer), its entries are rows of typed arrays in tar order (node, type, mode,
// owner, size, mtime, link target), and its whiteouts and opaque directories are node ids. The tar
// walk fills the columns directly (LayerTableBuilder.add): no object per entry is kept.
//
// A LayerTable is also a LayerIndex: `entries` builds the per-entry objects on demand, for the
// readers that still want them (the record codec, the file-version reader).
import type { Compression } from '../tar/decompress';
import type { EntryType, LayerEntry, LayerIndex, WhiteoutHead } from '../types';
import { Column, NameTable, PairHash, StringTable, fitsU32, type NumArray } from './columns';

export const ENTRY_TYPES: readonly EntryType[] = ['file', 'dir', 'symlink', 'hardlink', 'char', 'block', 'fifo'];
export const T_FILE = 0;
export const T_DIR = 1;
export const T_SYMLINK = 2;
export const T_HARDLINK = 3;
export const T_CHAR = 4;
export const T_BLOCK = 5;
export const T_FIFO = 6;
const TYPE_CODE = new Map<EntryType, number>(ENTRY_TYPES.map((t, i) => [t, i]));

/** The columns of one layer. Node 0 is the root ("/"). */
export interface LayerColumns {
  /** Component names by id. */
  names: string[];
  /** Per node: parent node (-1 for the root) and name id (-1 for the root). */
  nodeParent: Int32Array;
  nodeName: Int32Array;
  /** Per entry, in tar order. */
  entNode: Int32Array;
  entType: Uint8Array;
  entMode: Uint16Array;
  /** Uint32Array unless a value does not fit (NumArray). */
  entUid: NumArray;
  entGid: NumArray;
  entSize: NumArray;
  entMtime: NumArray;
  /** Index into links, or -1. */
  entLink: Int32Array;
  links: string[];
  /**
   * Nodes deleted by `.wh.NAME` markers, and directories marked opaque, in tar order. A marker
   * named just `.wh.` names its directory with a trailing '/': whiteNode is the directory (as a
   * path lookup sees it), whiteRaw a node of its own (dive keys paths by their text).
   */
  whiteNode: Int32Array;
  whiteRaw: Int32Array;
  /** Per whiteout marker: its header's type (ENTRY_TYPES), mode, owner, size and link (index into links, or -1). */
  whiteType: Uint8Array;
  whiteMode: Uint16Array;
  whiteUid: Float64Array;
  whiteGid: Float64Array;
  whiteSize: Float64Array;
  whiteLink: Int32Array;
  opaqueNode: Int32Array;
}

/** The header the engines write for a whiteout marker. */
export const PLAIN_WHITEOUT: WhiteoutHead = { type: 'file', mode: 0, uid: 0, gid: 0, size: 0 };

export class LayerTable implements LayerIndex {
  diffId: string;
  tarBytes: number;
  compression: LayerIndex['compression'];
  readonly tarFileBytes: number;
  readonly tarEntries: number;
  readonly warnings: string[];
  readonly whiteouts: string[];
  readonly opaqueDirs: string[];
  readonly cols: LayerColumns;
  private kept: WeakRef<LayerEntry[]> | undefined;

  constructor(cols: LayerColumns, facts: {
    diffId: string; tarBytes: number; compression: LayerIndex['compression']; tarFileBytes: number; tarEntries: number;
    warnings: string[]; whiteouts: string[]; opaqueDirs: string[];
  }) {
    this.cols = cols;
    this.diffId = facts.diffId;
    this.tarBytes = facts.tarBytes;
    this.compression = facts.compression;
    this.tarFileBytes = facts.tarFileBytes;
    this.tarEntries = facts.tarEntries;
    this.warnings = facts.warnings;
    this.whiteouts = facts.whiteouts;
    this.opaqueDirs = facts.opaqueDirs;
  }

  get entryCount(): number {
    return this.cols.entNode.length;
  }

  get nodeCount(): number {
    return this.cols.nodeParent.length;
  }

  /** The absolute path of a node. */
  pathOf(node: number): string {
    const { nodeParent, nodeName, names } = this.cols;
    if (node === 0) return '/';
    const parts: string[] = [];
    for (let n = node; n > 0; n = nodeParent[n]) parts.push(names[nodeName[n]]);
    return '/' + parts.reverse().join('/');
  }

  /** The header of whiteout marker i (in the order of `whiteouts`). */
  whiteoutHead(i: number): WhiteoutHead {
    const c = this.cols;
    const h: WhiteoutHead = { type: ENTRY_TYPES[c.whiteType[i]], mode: c.whiteMode[i], uid: c.whiteUid[i], gid: c.whiteGid[i], size: c.whiteSize[i] };
    if (c.whiteLink[i] >= 0) h.linkname = c.links[c.whiteLink[i]];
    return h;
  }

  get whiteoutHeads(): WhiteoutHead[] {
    return Array.from({ length: this.cols.whiteNode.length }, (_, i) => this.whiteoutHead(i));
  }

  /** Entry i as an object. */
  entry(i: number): LayerEntry {
    return this.entryAt(i, this.pathOf(this.cols.entNode[i]));
  }

  private entryAt(i: number, path: string): LayerEntry {
    const c = this.cols;
    const e: LayerEntry = { path, type: ENTRY_TYPES[c.entType[i]], size: c.entSize[i], mode: c.entMode[i], uid: c.entUid[i], gid: c.entGid[i], mtime: c.entMtime[i] };
    if (c.entLink[i] >= 0) e.linkname = c.links[c.entLink[i]];
    return e;
  }

  /** Every entry as an object (kept while something else holds the array). */
  get entries(): LayerEntry[] {
    const held = this.kept?.deref();
    if (held) return held;
    const n = this.entryCount;
    const out = new Array<LayerEntry>(n);
    // Paths of consecutive entries share their parent: build each parent's path once.
    const { entNode, nodeParent, nodeName, names } = this.cols;
    let lastParent = -1;
    let prefix = '';
    for (let i = 0; i < n; i++) {
      const node = entNode[i];
      const p = nodeParent[node];
      if (p !== lastParent) { lastParent = p; prefix = p === 0 ? '' : this.pathOf(p); }
      out[i] = this.entryAt(i, prefix + '/' + names[nodeName[node]]);
    }
    this.kept = new WeakRef(out);
    return out;
  }

  /** The same table with other source facts (a spread would lose the entries getter). */
  with(over: { diffId?: string; compression?: LayerIndex['compression'] }): LayerTable {
    const copy = Object.create(Object.getPrototypeOf(this) as object) as LayerTable;
    Object.assign(copy, this, over, { kept: undefined });
    return copy;
  }
}

const MAX_WARNINGS = 50;

/**
 * Builds a LayerTable from entries whose paths are already absolute and normalized (the tar
 * header walk normalizes names first: src/core/image/tar/layerBuilder.ts), whiteouts and opaque
 * directories.
 */
export class LayerTableBuilder {
  private readonly names: NameTable;
  private readonly children: PairHash;
  private readonly nodeParent: Column<Int32Array>;
  private readonly nodeName: Column<Int32Array>;
  private readonly entNode: Column<Int32Array>;
  private readonly entType: Column<Uint8Array>;
  private readonly entMode: Column<Uint16Array>;
  private readonly entUid: Column<NumArray>;
  private readonly entGid: Column<NumArray>;
  private readonly entSize: Column<NumArray>;
  private readonly entMtime: Column<NumArray>;
  private readonly entLink: Column<Int32Array>;
  private readonly linkTable = new StringTable();
  private readonly whiteNode = new Column(Int32Array, 16);
  private readonly whiteRaw = new Column(Int32Array, 16);
  private readonly whiteType = new Column(Uint8Array, 16);
  private readonly whiteMode = new Column(Uint16Array, 16);
  private readonly whiteUid = new Column(Float64Array, 16);
  private readonly whiteGid = new Column(Float64Array, 16);
  private readonly whiteSize = new Column(Float64Array, 16);
  private readonly whiteLink = new Column(Int32Array, 16);
  private readonly opaqueNode = new Column(Int32Array, 16);
  readonly whiteouts: string[] = [];
  readonly opaqueDirs: string[] = [];
  readonly warnings: string[] = [];
  tarEntries = 0;
  tarFileBytes = 0;
  /** The directory of the previous path, and its node: tar order keeps a directory's entries together. */
  private lastDir = '';
  private lastDirNode = 0;

  /** The directory bytes of the previous raw path, and its node (nodeRaw's shortcut). */
  private readonly lastRaw = new Uint8Array(512);
  private lastRawLen = -1;
  private lastRawNode = 0;

  /** `expected`: about how many entries the layer holds (sizes the tables, nothing else). */
  constructor(expected = 1024) {
    const cap = Math.max(1024, Math.min(Math.ceil(expected * 1.1), 1 << 24));
    this.children = new PairHash(cap);
    this.names = new NameTable(cap >> 3);
    this.nodeParent = new Column(Int32Array, cap);
    this.nodeName = new Column(Int32Array, cap);
    this.entNode = new Column(Int32Array, cap);
    this.entType = new Column(Uint8Array, cap);
    this.entMode = new Column(Uint16Array, cap);
    this.entUid = new Column<NumArray>(Uint32Array, cap);
    this.entGid = new Column<NumArray>(Uint32Array, cap);
    this.entSize = new Column<NumArray>(Uint32Array, cap);
    this.entMtime = new Column<NumArray>(Uint32Array, cap);
    this.entLink = new Column(Int32Array, cap);
    this.nodeParent.push(-1);
    this.nodeName.push(-1);
  }

  warn(w: string): void {
    if (this.warnings.length < MAX_WARNINGS) this.warnings.push(w);
  }

  /** The node of an absolute normalized path ("/" is node 0), created with its ancestors where missing. */
  node(path: string): number {
    if (path === '/') return 0;
    const cut = path.lastIndexOf('/');
    let parent: number;
    if (cut === this.lastDir.length && path.startsWith(this.lastDir)) parent = this.lastDirNode;
    else {
      parent = 0;
      let from = 1;
      while (from < cut) {
        let to = path.indexOf('/', from);
        if (to < 0 || to > cut) to = cut;
        parent = this.child(parent, path.slice(from, to));
        from = to + 1;
      }
      this.lastDir = path.slice(0, cut);
      this.lastDirNode = parent;
    }
    return this.child(parent, path.slice(cut + 1));
  }

  private child(parent: number, name: string): number {
    return this.childId(parent, this.names.id(name));
  }

  private childId(parent: number, nameId: number): number {
    const next = this.nodeParent.length;
    const n = this.children.intern(parent, nameId, next);
    if (n === next) {
      // Direct stores (see pushEntry).
      if (next >= this.nodeParent.a.length) { this.nodeParent.ensure(next); this.nodeName.ensure(next); }
      this.nodeParent.a[next] = parent;
      this.nodeName.a[next] = nameId;
      this.nodeParent.length = this.nodeName.length = next + 1;
    }
    return n;
  }

  /**
   * The node of a relative ASCII path given as bytes, p[0, len): no leading or trailing '/', no
   * empty, '.' or '..' component (the caller checked). The same node `node('/' + path)` gives.
   */
  nodeRaw(p: Uint8Array, len: number): number {
    let cut = len - 1;
    while (cut >= 0 && p[cut] !== 47) cut--;
    let parent = 0;
    if (cut > 0) {
      const last = this.lastRaw;
      let same = cut === this.lastRawLen;
      for (let i = 0; same && i < cut; i++) same = p[i] === last[i];
      if (same) parent = this.lastRawNode;
      else {
        let from = 0;
        for (let i = 0; i <= cut; i++) {
          if (i === cut || p[i] === 47) {
            parent = this.childId(parent, this.names.idBytes(p, from, i));
            from = i + 1;
          }
        }
        last.set(p.subarray(0, cut));
        this.lastRawLen = cut;
        this.lastRawNode = parent;
      }
    }
    return this.childId(parent, this.names.idBytes(p, cut + 1, len));
  }

  /** An entry whose path is given as nodeRaw takes it, its type as a code (ENTRY_TYPES). */
  addRaw(p: Uint8Array, len: number, type: number, size: number, mode: number, uid: number, gid: number, mtime: number, linkname: string | undefined): void {
    this.pushEntry(this.nodeRaw(p, len), type, size, mode, uid, gid, mtime, linkname);
  }

  addEntry(path: string, type: EntryType, size: number, mode: number, uid: number, gid: number, mtime: number, linkname: string | undefined): void {
    this.pushEntry(this.node(path), TYPE_CODE.get(type)!, size, mode, uid, gid, mtime, linkname);
  }

  // Writes each column's array directly: a store site that sees one array type stays fast, where
  // Column.push, shared by every column type, does not.
  private pushEntry(node: number, type: number, size: number, mode: number, uid: number, gid: number, mtime: number, linkname: string | undefined): void {
    const i = this.entNode.length;
    if (i >= this.entNode.a.length) {
      for (const c of [this.entNode, this.entType, this.entSize, this.entMode, this.entUid, this.entGid, this.entMtime, this.entLink]) c.ensure(i);
    }
    if (!fitsU32(size) || !fitsU32(uid) || !fitsU32(gid) || !fitsU32(mtime)) this.widen(size, uid, gid, mtime);
    this.entNode.a[i] = node;
    this.entType.a[i] = type;
    this.entSize.a[i] = size;
    this.entMode.a[i] = mode;
    this.entUid.a[i] = uid;
    this.entGid.a[i] = gid;
    this.entMtime.a[i] = mtime;
    this.entLink.a[i] = linkname === undefined ? -1 : this.linkTable.id(linkname);
    this.entNode.length = this.entType.length = this.entSize.length = this.entMode.length = i + 1;
    this.entUid.length = this.entGid.length = this.entMtime.length = this.entLink.length = i + 1;
    if (type === T_FILE) this.tarFileBytes += size;
  }

  /** The columns whose value does not fit 32 bits become Float64Array ones (rare: see NumArray). */
  private widen(size: number, uid: number, gid: number, mtime: number): void {
    if (!fitsU32(size)) this.entSize.widen();
    if (!fitsU32(uid)) this.entUid.widen();
    if (!fitsU32(gid)) this.entGid.widen();
    if (!fitsU32(mtime)) this.entMtime.widen();
  }

  /** A `.wh.NAME` marker: the path it deletes, and its own header. */
  addWhiteout(path: string, head: WhiteoutHead = PLAIN_WHITEOUT): void {
    this.whiteouts.push(path);
    const raw = this.node(path);
    this.whiteRaw.push(raw);
    this.whiteNode.push(path.length > 1 && path.endsWith('/') ? this.nodeParent.a[raw] : raw);
    this.whiteType.push(TYPE_CODE.get(head.type)!);
    this.whiteMode.push(head.mode);
    this.whiteUid.push(head.uid);
    this.whiteGid.push(head.gid);
    this.whiteSize.push(head.size);
    this.whiteLink.push(head.linkname === undefined ? -1 : this.linkTable.id(head.linkname));
  }

  addOpaque(dir: string): void {
    this.opaqueDirs.push(dir);
    this.opaqueNode.push(this.node(dir));
  }

  finish(meta: { diffId: string; tarBytes: number; compression: Compression }): LayerTable {
    return new LayerTable({
      names: this.names.strings,
      nodeParent: this.nodeParent.fit(),
      nodeName: this.nodeName.fit(),
      entNode: this.entNode.fit(),
      entType: this.entType.fit(),
      entMode: this.entMode.fit(),
      entUid: this.entUid.fit(),
      entGid: this.entGid.fit(),
      entSize: this.entSize.fit(),
      entMtime: this.entMtime.fit(),
      entLink: this.entLink.fit(),
      links: this.linkTable.strings,
      whiteNode: this.whiteNode.fit(),
      whiteRaw: this.whiteRaw.fit(),
      whiteType: this.whiteType.fit(),
      whiteMode: this.whiteMode.fit(),
      whiteUid: this.whiteUid.fit(),
      whiteGid: this.whiteGid.fit(),
      whiteSize: this.whiteSize.fit(),
      whiteLink: this.whiteLink.fit(),
      opaqueNode: this.opaqueNode.fit(),
    }, {
      diffId: meta.diffId, tarBytes: meta.tarBytes, compression: meta.compression, tarFileBytes: this.tarFileBytes,
      tarEntries: this.tarEntries, warnings: this.warnings, whiteouts: this.whiteouts, opaqueDirs: this.opaqueDirs,
    });
  }
}

/** Any LayerIndex as a LayerTable: a table as it is, anything else rebuilt from its entries. */
export function layerTableOf(l: LayerIndex): LayerTable {
  if (l instanceof LayerTable) return l;
  const b = new LayerTableBuilder();
  for (const w of l.opaqueDirs) b.addOpaque(w);
  l.whiteouts.forEach((w, i) => b.addWhiteout(w, l.whiteoutHeads?.[i]));
  const it = (l as { iterEntries?: () => Iterable<LayerEntry> }).iterEntries?.() ?? l.entries;
  for (const e of it) b.addEntry(e.path, e.type, e.size, e.mode, e.uid, e.gid, e.mtime, e.linkname);
  b.tarEntries = l.tarEntries;
  const t = b.finish({ diffId: l.diffId, tarBytes: l.tarBytes, compression: l.compression });
  // The figures the source recorded stand (a hardlink's tar size is not counted, for one).
  return Object.assign(t, { tarFileBytes: l.tarFileBytes, warnings: l.warnings });
}
