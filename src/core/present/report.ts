// The CLI's public output shapes (documented in docs/cli.md; bump SCHEMA_VERSION on any breaking
// change) and its human renderings.
import type { Analysis } from '../image/analysis';
import { formatBytes, formatMode, formatPercent, shortCreatedBy } from './format';
import { HOW, K_DELETED, KINDS, type ImageIndex } from '../image/index/imageIndex';
import { ENTRY_TYPES, layerTableOf, type LayerTable } from '../image/index/layerTable';
import { pathOrder } from '../image/index/pathOrder';

export const SCHEMA_VERSION = 1;

export interface AnalyzeJson {
  schemaVersion: number;
  image: { id: string; repoTags: string[]; os: string; architecture: string; size: number; source: string; sizeDefinition: string };
  layers: Array<{
    index: number; diffId: string; size: number; fileBytes: number; createdBy: string; entries: number; added: number;
    modified: number; deleted: number; hiddenBytes: number; addedBytes: number; modifiedBytes: number; deletedBytes: number;
    toc: 'estargz' | 'zstd:chunked' | null;
  }>;
  history: Array<{ index: number; createdBy: string; emptyLayer: boolean; layerIndex: number | null }>;
  efficiency: number;
  wastedBytes: number;
  userWastedPercent: number;
  hiddenBytes: number;
  warnings: string[];
}

export function analyzeJson(a: Analysis): AnalyzeJson {
  return {
    schemaVersion: SCHEMA_VERSION,
    image: {
      id: a.image.id,
      repoTags: a.image.repoTags,
      os: a.image.config.os,
      architecture: a.image.config.architecture,
      size: a.totalSize,
      source: `${a.image.source.kind}:${a.image.source.ref}`,
      sizeDefinition: a.sizeDefinition,
    },
    layers: a.layerStats.map((s, i) => ({
      index: i,
      diffId: a.image.layers[i].diffId,
      size: a.layerSizes[i],
      fileBytes: a.image.layers[i].tarFileBytes,
      createdBy: a.layerHistory[i]?.createdBy ?? '',
      entries: s.entries,
      added: s.added,
      modified: s.modified,
      deleted: s.deleted,
      hiddenBytes: s.hiddenBytes,
      addedBytes: s.addedBytes,
      modifiedBytes: s.modifiedBytes,
      deletedBytes: s.deletedBytes,
      toc: a.image.tocLayers?.[i] ?? null,
    })),
    history: a.image.history.map((h) => ({ index: h.index, createdBy: h.createdBy, emptyLayer: h.emptyLayer, layerIndex: h.layerIndex })),
    efficiency: a.dive.efficiency,
    wastedBytes: a.dive.wastedBytes,
    userWastedPercent: a.dive.userWastedPercent,
    hiddenBytes: a.hiddenBytes,
    warnings: a.warnings,
  };
}

export type FileRecord =
  | { path: string; type: string; size: number; mode: string; layer: number; hides: number[]; linkname?: string }
  | { path: string; deleted: true; deletedBy: number | null; shippedIn: number[] };


/** The merged filesystem, one record per path, sorted depth-first. */
export function fileRecords(a: Analysis): Generator<FileRecord> {
  return indexFileRecords(a.index);
}


/**
 * fileRecords(a) as JSON lines, each as JSON.stringify gives it, in chunks of UTF-8 bytes of about
 * `chunk` bytes: written straight from the index's columns into one buffer (`files --json` prints
 * millions of lines: no string or object per path). A path's bytes are its names' JSON-escaped
 * bytes, made once per name, joined by '/' (JSON.stringify escapes each character on its own).
 */
export function* fileJsonChunks(a: Analysis, chunk = 1 << 20): Generator<Buffer> {
  const ix = a.index;
  const w = new ByteWriter(chunk);
  const nameBytes: Array<Buffer | undefined> = new Array(ix.names.length);
  /** Per name id: 0 not looked at yet, 1 printable ASCII with nothing to escape, 2 anything else. */
  const plain = new Uint8Array(ix.names.length);
  const modeBytes = new Map<number, Buffer>();
  const typeBytes = ENTRY_TYPES.map((t) => Buffer.from(`,"type":${JSON.stringify(t)},"size":`));
  const pathOpen = Buffer.from('{"path":"');
  const deletedBy = Buffer.from('","deleted":true,"deletedBy":');
  const shippedIn = Buffer.from(',"shippedIn":[');
  const modeOpen = Buffer.from(',"mode":');
  const layerOpen = Buffer.from(',"layer":');
  const hidesOpen = Buffer.from(',"hides":[');
  const linkOpen = Buffer.from(',"linkname":');
  const { childStart, childList, nodeName, copyStart, copyLayer, live } = ix;
  // Depth-first, children sorted by name (ix.walk's order); the path's bytes are kept in `path`,
  // cut back to the parent's length on the way.
  let path = Buffer.allocUnsafe(4096);
  const depthLen: number[] = [0];
  const stack: number[] = [];
  const depthOf: number[] = [];
  for (let k = childStart[1] - 1; k >= childStart[0]; k--) { stack.push(childList[k]); depthOf.push(1); }
  while (stack.length) {
    const n = stack.pop()!;
    const d = depthOf.pop()!;
    const id = nodeName[n];
    const s = ix.names[id];
    // Most names are printable ASCII that JSON keeps as it is: their characters are their bytes.
    // Any other name is escaped by JSON.stringify and encoded once.
    if (plain[id] === 0) plain[id] = isPlainAscii(s) ? 1 : 2;
    const name = plain[id] === 1 ? undefined : (nameBytes[id] ??= Buffer.from(JSON.stringify(s).slice(1, -1)));
    const nameLen = name ? name.length : s.length;
    let len = depthLen[d - 1];
    if (len + 1 + nameLen > path.length) {
      const grown = Buffer.allocUnsafe(Math.max(path.length * 2, len + 1 + nameLen));
      path.copy(grown, 0, 0, len);
      path = grown;
    }
    path[len++] = 0x2f;
    if (name) for (let i = 0; i < nameLen; i++) path[len + i] = name[i];
    else for (let i = 0; i < nameLen; i++) path[len + i] = s.charCodeAt(i);
    len += nameLen;
    depthLen[d] = len;
    for (let k = childStart[n + 1] - 1; k >= childStart[n]; k--) { stack.push(childList[k]); depthOf.push(d + 1); }

    w.bytes(pathOpen);
    w.slice(path, len);
    const from = copyStart[n];
    if (!live[n]) {
      w.bytes(deletedBy);
      if (ix.deletedBy[n] < 0) w.ascii('null');
      else w.number(ix.deletedBy[n]);
      w.bytes(shippedIn);
      for (let i = from; i < copyStart[n + 1]; i++) {
        let first = true;
        for (let j = from; j < i; j++) if (copyLayer[j] === copyLayer[i]) { first = false; break; }
        if (!first) continue;
        if (w.last !== 0x5b) w.byte(0x2c);
        w.number(copyLayer[i]);
      }
      w.ascii(']}\n');
    } else {
      w.byte(0x22);
      w.bytes(typeBytes[ix.type[n]]);
      const size = ix.size[n];
      if (Number.isFinite(size)) w.number(size);
      else w.ascii('null');
      w.bytes(modeOpen);
      const m = ix.mode[n];
      let mb = modeBytes.get(m);
      if (!mb) modeBytes.set(m, (mb = Buffer.from(JSON.stringify(formatMode(m)))));
      w.bytes(mb);
      w.bytes(layerOpen);
      w.number(ix.layer[n]);
      w.bytes(hidesOpen);
      for (let i = from, top = from + ix.hiddenCount(n); i < top; i++) {
        if (i !== from) w.byte(0x2c);
        w.number(copyLayer[i]);
      }
      w.byte(0x5d);
      const link = ix.linkOf(n);
      if (link !== undefined) {
        w.bytes(linkOpen);
        w.bytes(Buffer.from(JSON.stringify(link)));
      }
      w.ascii('}\n');
    }
    if (w.full) yield w.take();
  }
  if (w.length) yield w.take();
}

/** Whether JSON.stringify keeps every character of `s` as it is, each one byte in UTF-8. */
function isPlainAscii(s: string): boolean {
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c < 0x20 || c > 0x7e || c === 0x22 || c === 0x5c) return false;
  }
  return true;
}

/** Bytes appended to a buffer of about `size` bytes (grown for a longer line), taken when full. */
class ByteWriter {
  private buf: Buffer;
  length = 0;
  constructor(private readonly size: number) {
    this.buf = Buffer.allocUnsafe(size + 4096);
  }
  get full(): boolean {
    return this.length >= this.size;
  }
  get last(): number {
    return this.length ? this.buf[this.length - 1] : -1;
  }
  private room(n: number): void {
    if (this.length + n <= this.buf.length) return;
    const grown = Buffer.allocUnsafe(Math.max(this.buf.length * 2, this.length + n));
    this.buf.copy(grown, 0, 0, this.length);
    this.buf = grown;
  }
  byte(b: number): void {
    this.room(1);
    this.buf[this.length++] = b;
  }
  bytes(b: Buffer): void {
    this.slice(b, b.length);
  }
  slice(b: Buffer, len: number): void {
    this.room(len);
    // A loop: Buffer.copy costs more than the few bytes of a line's pieces.
    const buf = this.buf, at = this.length;
    for (let i = 0; i < len; i++) buf[at + i] = b[i];
    this.length = at + len;
  }
  ascii(s: string): void {
    this.room(s.length);
    for (let i = 0; i < s.length; i++) this.buf[this.length++] = s.charCodeAt(i);
  }
  /** A number as String(x) writes it: digits for a whole number below 2^53, else String's text. */
  number(x: number): void {
    if (x >= 0 && x <= Number.MAX_SAFE_INTEGER && Math.floor(x) === x) {
      this.room(16);
      if (x < 10) { this.buf[this.length++] = 48 + x; return; }
      let digits = 1;
      for (let t = x; t >= 10; t = Math.floor(t / 10)) digits++;
      let at = this.length + digits;
      this.length = at;
      for (let t = x; at > this.length - digits; t = Math.floor(t / 10)) this.buf[--at] = 48 + (t % 10);
      return;
    }
    this.ascii(String(x));
  }
  /** The bytes written, as a buffer of their own; the writer starts again empty. */
  take(): Buffer {
    const out = this.buf.subarray(0, this.length);
    this.buf = Buffer.allocUnsafe(this.size + 4096);
    this.length = 0;
    return out;
  }
}

/** fileRecords(a), each as JSON.stringify gives it (the lines of fileJsonChunks, as strings). */
export function fileJsonLines(a: Analysis): string[] {
  const text = Buffer.concat([...fileJsonChunks(a)]).toString('utf8');
  return text === '' ? [] : text.slice(0, -1).split('\n');
}

/** fileRecord for node n of the image index. */
export function indexFileRecord(ix: ImageIndex, path: string, n: number): FileRecord {
  const from = ix.copyStart[n];
  if (!ix.live[n]) {
    const shippedIn: number[] = [];
    for (let i = from; i < ix.copyStart[n + 1]; i++) if (!shippedIn.includes(ix.copyLayer[i])) shippedIn.push(ix.copyLayer[i]);
    return { path, deleted: true, deletedBy: ix.deletedBy[n] < 0 ? null : ix.deletedBy[n], shippedIn };
  }
  const r: FileRecord = {
    path, type: ix.typeOf(n), size: ix.size[n], mode: formatMode(ix.mode[n]), layer: ix.layer[n],
    hides: Array.from(ix.copyLayer.subarray(from, from + ix.hiddenCount(n))),
  };
  const link = ix.linkOf(n);
  if (link !== undefined) r.linkname = link;
  return r;
}

/** The merged filesystem from the image index, one record per path, sorted depth-first. */
export function* indexFileRecords(ix: ImageIndex): Generator<FileRecord> {
  for (const [path, n] of ix.walk()) yield indexFileRecord(ix, path, n);
}

/**
 * One layer's changes from the image index, sorted by path. The type, mode, owner and link of an
 * added or modified path are those of the layer's own entry (a later chmod does not show here);
 * those of a deleted path are the deleted copy's, from the highest layer below that ships it.
 * `tableOf(i)` gives layer i's table (the columns the index was built from).
 */
export function* indexLayerChangeRecords(ix: ImageIndex, layer: number, tableOf: (i: number) => LayerTable): Generator<LayerChangeRecord> {
  const c = ix.layers[layer].changes;
  const pathOf = ix.pathNamer();
  // By path, as strings compare, with no path made for the sort.
  const order = pathOrder(ix, c.node.subarray(0, c.length));
  // The layer that ships each change's entry: this one, or for a deletion the highest below that ships the path.
  const shipper = new Int32Array(c.length);
  /** The changes of each shipping layer. */
  const byShipper = new Map<number, number[]>();
  for (let i = 0; i < c.length; i++) {
    const n = c.node[i];
    let at = layer;
    if (c.kind[i] === K_DELETED) {
      at = -1;
      for (let k = ix.copyStart[n]; k < ix.copyStart[n + 1]; k++) if (ix.copyLayer[k] < layer && ix.copyLayer[k] > at) at = ix.copyLayer[k];
    }
    shipper[i] = at;
    if (at < 0) continue;
    let list = byShipper.get(at);
    if (!list) byShipper.set(at, (list = []));
    list.push(i);
  }
  // Each change's entry in its shipping layer (the last one, as tar order wins; -1: none), one read of
  // each shipping layer's entries, with one node-wide array: -2 marks a node asked for, then its entry.
  const entryOf = new Int32Array(c.length).fill(-1);
  const mark = new Int32Array(ix.nodeCount).fill(-1);
  for (const [l, changes] of byShipper) {
    for (const i of changes) mark[c.node[i]] = -2;
    const cols = tableOf(l).cols;
    const g = ix.layerNodes[l];
    for (let e = 0; e < cols.entNode.length; e++) {
      const n = g[cols.entNode[e]];
      if (mark[n] !== -1) mark[n] = e;
    }
    for (const i of changes) entryOf[i] = mark[c.node[i]] >= 0 ? mark[c.node[i]] : -1;
    for (const i of changes) mark[c.node[i]] = -1;
  }
  for (const i of order) {
    const path = pathOf(c.node[i]);
    const n = c.node[i];
    const e = entryOf[i];
    // A path no layer ships as an entry (a directory implied by its children): the merge's.
    const cols = e >= 0 ? tableOf(shipper[i]).cols : undefined;
    const meta = cols
      ? { type: ENTRY_TYPES[cols.entType[e]], mode: cols.entMode[e], uid: cols.entUid[e], gid: cols.entGid[e], link: cols.entLink[e] >= 0 ? cols.links[cols.entLink[e]] : undefined }
      : { type: ix.typeOf(n), mode: ix.mode[n], uid: ix.uid[n], gid: ix.gid[n], link: ix.linkOf(n) };
    const r: LayerChangeRecord = {
      path, change: KINDS[c.kind[i]], type: meta.type, size: c.bytes[i], mode: formatMode(meta.mode), uid: meta.uid, gid: meta.gid, layer, bytes: c.bytes[i],
    };
    if (meta.link !== undefined) r.linkname = meta.link;
    if (c.meta[i]) r.metadataOnly = true;
    const how = HOW[c.how[i]];
    if (how) r.how = how;
    yield r;
  }
}

export interface LayerChangeRecord {
  path: string; change: 'added' | 'modified' | 'deleted'; type: string; size: number; mode: string; uid: number; gid: number;
  layer: number; bytes: number; linkname?: string; metadataOnly?: boolean; how?: string;
}

/** One layer's changes, sorted by path, with the layer's own metadata for each path. */
export function layerChangeRecords(a: Analysis, layer: number): Generator<LayerChangeRecord> {
  return indexLayerChangeRecords(a.index, layer, (i) => layerTableOf(a.image.layers[i]));
}


function pad(s: string, n: number, right = false): string {
  return right ? s.padStart(n) : s.padEnd(n);
}

/** `layerlens analyze` without --json: a table like `docker history`, then totals. */
export function analyzeText(a: Analysis, width = 120): string {
  const lines: string[] = [];
  const j = analyzeJson(a);
  const name = j.image.repoTags[0] ?? j.image.id.slice(7, 19);
  lines.push(`Image ${name} (${j.image.id.slice(0, 19)}) ${j.image.os}/${j.image.architecture}`);
  lines.push('');
  lines.push(`${pad('LAYER', 5)}  ${pad('SIZE', 9, true)}  ${pad('ADDED', 6, true)}  ${pad('MOD', 5, true)}  ${pad('DEL', 5, true)}  ${pad('HIDDEN', 9, true)}  CREATED BY`);
  const cbWidth = Math.max(20, width - 54);
  for (const h of a.image.history) {
    const cb = shortCreatedBy(h.createdBy || (h.comment ? `(${h.comment})` : ''));
    const text = cb.length > cbWidth ? cb.slice(0, cbWidth - 1) + '…' : cb;
    if (h.layerIndex === null) {
      lines.push(`${pad('-', 5)}  ${pad('0 B', 9, true)}  ${pad('', 6)}  ${pad('', 5)}  ${pad('', 5)}  ${pad('', 9)}  ${text}`);
      continue;
    }
    const l = j.layers[h.layerIndex];
    lines.push(`${pad(String(l.index), 5)}  ${pad(formatBytes(l.size), 9, true)}  ${pad(String(l.added), 6, true)}  ${pad(String(l.modified), 5, true)}  ${pad(String(l.deleted), 5, true)}  ${pad(formatBytes(l.hiddenBytes), 9, true)}  ${text}`);
  }
  lines.push('');
  const def = a.sizeDefinition === 'engine-history' ? 'sizes as the engine reports them' : 'sizes are regular-file bytes in each layer tar';
  lines.push(`Total ${formatBytes(j.image.size)} in ${j.layers.length} layers (${def})`);
  lines.push(`Hidden ${formatBytes(j.hiddenBytes)}: bytes shipped in lower layers that the final filesystem cannot see`);
  lines.push(`Efficiency ${formatPercent(j.efficiency)} · wasted ${formatBytes(j.wastedBytes)} · user wasted ${formatPercent(j.userWastedPercent)} (dive's definitions)`);
  for (const w of j.warnings.slice(0, 10)) lines.push(`warning: ${w}`);
  return lines.join('\n') + '\n';
}

/** `layerlens files` without --json: one line per path. */
export function fileLine(r: FileRecord): string {
  if ('deleted' in r) {
    return `${pad('deleted', 10)}  ${pad('', 9)}  L${r.deletedBy ?? '?'}   ${r.path}  (still shipped in ${r.shippedIn.map((l) => 'L' + l).join(', ') || 'no layer'})`;
  }
  const hides = r.hides.length ? `  (hides ${r.hides.map((l) => 'L' + l).join(', ')})` : '';
  const link = r.linkname !== undefined ? (r.type === 'symlink' ? ` -> ${r.linkname}` : ` => ${r.linkname}`) : '';
  return `${r.mode} ${pad(r.type, 8)} ${pad(formatBytes(r.size), 9, true)}  L${pad(String(r.layer), 3)} ${r.path}${link}${hides}`;
}
