// The image index handed from one thread to another: its columns travel as they are (their
// ArrayBuffers are transferred, not copied), its strings as one joined string each, and the other
// side puts the same index together again without rebuilding anything. (A layer's table travels as
// its record: src/core/image/indexCodec.ts.)
import type { TypedArray } from './columns';
import { ImageIndex, type IndexLayer } from './imageIndex';

/** The per-node and per-copy columns, by name. */
export const INDEX_COLUMNS = [
  'nodeParent', 'nodeName', 'exists', 'live', 'type', 'size', 'mode', 'uid', 'gid', 'link', 'layer', 'deletedBy', 'deletedHow',
  'total', 'count', 'copyStart', 'copyLayer', 'copyType', 'copyBytes', 'childStart', 'childList',
] as const;
const COLUMNS = INDEX_COLUMNS;
type ColumnName = typeof COLUMNS[number];

/** The index as structured-clone data. */
export interface IndexParts {
  /** Names and link targets joined by NUL (no tar name holds one), or as arrays when one does. */
  names: string | string[];
  links: string | string[];
  nameCount: number;
  linkCount: number;
  columns: Record<ColumnName, TypedArray>;
  layers: IndexLayer[];
  warnings: string[];
  opaqueIn: Array<[number, number[]]>;
  layerNodes: Int32Array[];
}

function joined(xs: string[]): string | string[] {
  return xs.some((x) => x.includes('\0')) ? xs : xs.join('\0');
}

function split(x: string | string[], n: number): string[] {
  if (Array.isArray(x)) return x;
  const out = n === 0 ? [] : x.split('\0');
  if (out.length !== n) throw new Error(`image index: ${out.length} strings where ${n} were sent`);
  return out;
}

/** The index's parts, and the buffers to transfer with them (the index must not be used after). */
export function indexParts(ix: ImageIndex): { parts: IndexParts; transfer: ArrayBuffer[] } {
  const columns = Object.fromEntries(COLUMNS.map((c) => [c, ix[c]])) as Record<ColumnName, TypedArray>;
  const buffers = new Set<ArrayBuffer>();
  const add = (a: TypedArray): void => { buffers.add(a.buffer as ArrayBuffer); };
  for (const c of COLUMNS) add(columns[c]);
  for (const g of ix.layerNodes) add(g);
  for (const l of ix.layers) for (const a of [l.changes.node, l.changes.kind, l.changes.bytes, l.changes.how, l.changes.lower, l.changes.meta]) add(a);
  return {
    parts: {
      names: joined(ix.names), links: joined(ix.links), nameCount: ix.names.length, linkCount: ix.links.length, columns, layers: ix.layers, warnings: ix.warnings,
      opaqueIn: [...ix.opaqueIn], layerNodes: ix.layerNodes,
    },
    transfer: [...buffers],
  };
}

/** The index from its parts (as indexParts made them, after a trip through postMessage). */
export function indexFromParts(p: IndexParts): ImageIndex {
  const c = p.columns as Record<ColumnName, never>;
  return new ImageIndex(
    split(p.names, p.nameCount), split(p.links, p.linkCount), c.nodeParent, c.nodeName, c.exists, c.live, c.type, c.size, c.mode, c.uid,
    c.gid, c.link, c.layer, c.deletedBy, c.deletedHow, c.total, c.count, c.copyStart, c.copyLayer, c.copyType, c.copyBytes,
    c.childStart, c.childList, new Map(p.opaqueIn), p.layers, p.warnings, p.layerNodes,
  );
}
