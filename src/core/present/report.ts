// The CLI's public output shapes (documented in docs/cli.md; bump SCHEMA_VERSION on any breaking
// change) and its human renderings.
import type { Analysis } from '../image/analysis';
import { formatBytes, formatMode, formatPercent, shortCreatedBy } from './format';
import { HOW, KINDS, type ImageIndex } from '../image/index/imageIndex';

export const SCHEMA_VERSION = 1;

export interface AnalyzeJson {
  schemaVersion: number;
  image: { id: string; repoTags: string[]; os: string; architecture: string; size: number; source: string; sizeDefinition: string };
  layers: Array<{
    index: number; diffId: string; size: number; createdBy: string; entries: number; added: number;
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

/** One layer's changes from the image index, sorted by path. */
export function* indexLayerChangeRecords(ix: ImageIndex, layer: number): Generator<LayerChangeRecord> {
  const c = ix.layers[layer].changes;
  const rows = Array.from({ length: c.length }, (_, i) => ({ i, path: ix.pathOf(c.node[i]) }))
    .sort((x, y) => (x.path < y.path ? -1 : x.path > y.path ? 1 : 0));
  for (const { i, path } of rows) {
    const n = c.node[i];
    const r: LayerChangeRecord = {
      path, change: KINDS[c.kind[i]], type: ix.typeOf(n), size: c.bytes[i], mode: formatMode(ix.mode[n]), layer, bytes: c.bytes[i],
    };
    if (c.meta[i]) r.metadataOnly = true;
    const how = HOW[c.how[i]];
    if (how) r.how = how;
    yield r;
  }
}

export interface LayerChangeRecord {
  path: string; change: 'added' | 'modified' | 'deleted'; type: string; size: number; mode: string;
  layer: number; bytes: number; metadataOnly?: boolean; how?: string;
}

/** One layer's changes, sorted by path. */
export function layerChangeRecords(a: Analysis, layer: number): Generator<LayerChangeRecord> {
  return indexLayerChangeRecords(a.index, layer);
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
