// The CLI's public output shapes (documented in docs/cli.md; bump SCHEMA_VERSION on any breaking
// change) and its human renderings.
import type { Analysis } from '../image/analysis';
import { formatBytes, formatMode, formatPercent, shortCreatedBy } from './format';
import { HOW, KINDS, type ImageIndex } from '../image/index/imageIndex';
import { ENTRY_TYPES, layerTableOf, type LayerTable } from '../image/index/layerTable';

export const SCHEMA_VERSION = 1;

export interface AnalyzeJson {
  schemaVersion: number;
  image: { id: string; repoTags: string[]; os: string; architecture: string; size: number; source: string; sizeDefinition: string };
  layers: Array<{
    index: number; diffId: string; size: number; fileBytes: number; createdBy: string; entries: number; added: number;
    modified: number; deleted: number; hiddenBytes: number; addedBytes: number; modifiedBytes: number; deletedBytes: number;
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

const jsonNumber = (x: number): string => (Number.isFinite(x) ? String(x) : 'null');

/**
 * fileRecords(a), each as JSON.stringify gives it, written straight from the index's columns (no
 * record object per path: `files --json` prints millions of them).
 */
export function* fileJsonLines(a: Analysis): Generator<string> {
  const ix = a.index;
  for (const [path, n] of ix.walk()) {
    const p = JSON.stringify(path);
    const from = ix.copyStart[n];
    if (!ix.live[n]) {
      const shippedIn: number[] = [];
      for (let i = from; i < ix.copyStart[n + 1]; i++) if (!shippedIn.includes(ix.copyLayer[i])) shippedIn.push(ix.copyLayer[i]);
      yield `{"path":${p},"deleted":true,"deletedBy":${ix.deletedBy[n] < 0 ? 'null' : ix.deletedBy[n]},"shippedIn":[${shippedIn.join(',')}]}`;
      continue;
    }
    let hides = '';
    for (let i = from, top = from + ix.hiddenCount(n); i < top; i++) hides += i === from ? String(ix.copyLayer[i]) : ',' + ix.copyLayer[i];
    const link = ix.linkOf(n);
    yield `{"path":${p},"type":${JSON.stringify(ix.typeOf(n))},"size":${jsonNumber(ix.size[n])},"mode":${JSON.stringify(formatMode(ix.mode[n]))},"layer":${ix.layer[n]},"hides":[${hides}]${link === undefined ? '' : ',"linkname":' + JSON.stringify(link)}}`;
  }
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

const K_DELETED_CODE = KINDS.indexOf('deleted');

/**
 * One layer's changes from the image index, sorted by path. The type, mode, owner and link of an
 * added or modified path are those of the layer's own entry (a later chmod does not show here);
 * those of a deleted path are the deleted copy's, from the highest layer below that ships it.
 * `tableOf(i)` gives layer i's table (the columns the index was built from).
 */
export function* indexLayerChangeRecords(ix: ImageIndex, layer: number, tableOf: (i: number) => LayerTable): Generator<LayerChangeRecord> {
  const c = ix.layers[layer].changes;
  const rows = Array.from({ length: c.length }, (_, i) => ({ i, path: ix.pathOf(c.node[i]) }))
    .sort((x, y) => (x.path < y.path ? -1 : x.path > y.path ? 1 : 0));
  // Per layer read: the entry (its last one, as tar order wins) of each node asked for.
  const wanted = new Map<number, Set<number>>();
  const shipper = new Int32Array(c.length);
  for (let i = 0; i < c.length; i++) {
    const n = c.node[i];
    let at = layer;
    if (c.kind[i] === K_DELETED_CODE) {
      at = -1;
      for (let k = ix.copyStart[n]; k < ix.copyStart[n + 1]; k++) if (ix.copyLayer[k] < layer && ix.copyLayer[k] > at) at = ix.copyLayer[k];
    }
    shipper[i] = at;
    if (at >= 0) {
      let s = wanted.get(at);
      if (!s) wanted.set(at, (s = new Set()));
      s.add(n);
    }
  }
  const entryOf = new Map<number, Map<number, number>>();
  for (const [l, nodes] of wanted) {
    const cols = tableOf(l).cols;
    const g = ix.layerNodes[l];
    const m = new Map<number, number>();
    for (let e = 0; e < cols.entNode.length; e++) if (nodes.has(g[cols.entNode[e]])) m.set(g[cols.entNode[e]], e);
    entryOf.set(l, m);
  }
  for (const { i, path } of rows) {
    const n = c.node[i];
    const at = shipper[i];
    const e = at >= 0 ? entryOf.get(at)?.get(n) : undefined;
    // A path no layer ships as an entry (a directory implied by its children): the merge's.
    const cols = e !== undefined ? tableOf(at).cols : undefined;
    const meta = cols && e !== undefined
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
