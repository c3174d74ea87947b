// The image index as one binary record, for the persistent cache: its columns byte for byte (the
// same parts a thread hand-over carries: transfer.ts), so that an image the cache knows is loaded
// as views over the record's bytes, with no reading of layers and no merge. The record ends with
// the sha256 of everything before it and names the stack key it was made for; a record is
// refused — wrong magic, version, length, digest, key, or columns that do not hold together.
//
//   "LLII" u16 version u16 0 u32 total-length u32 facts-length | facts (JSON) | pad to 8
//   | columns, each padded to 8 (the facts list them: name, element type, length)
//   | names and link targets (UTF-8, NUL-separated) | sha256(all before) (32 bytes)
import { createHash } from 'node:crypto';
import type { TypedArray } from './columns';
import type { ImageIndex, IndexLayer } from './imageIndex';
import { RECORD_HEADER, RECORD_TRAILER, joinedBytes, pad8, readStrings, recordBody, recordHead, recordProblem, type RecordKind } from './recordBytes';
import { INDEX_COLUMNS, indexFromParts, indexParts, type IndexParts } from './transfer';

export const INDEX_RECORD_VERSION = 2;
const KIND: RecordKind = { magic: 0x49494c4c /* "LLII" little-endian */, version: INDEX_RECORD_VERSION, name: 'image index' };

const TYPES = { i32: Int32Array, u8: Uint8Array, u16: Uint16Array, u32: Uint32Array, f64: Float64Array } as const;
type TypeName = keyof typeof TYPES;

function typeName(a: TypedArray): TypeName {
  if (a instanceof Int32Array) return 'i32';
  if (a instanceof Uint8Array) return 'u8';
  if (a instanceof Uint16Array) return 'u16';
  if (a instanceof Uint32Array) return 'u32';
  if (a instanceof Float64Array) return 'f64';
  throw new Error('image index record: a column of an unexpected type');
}

const CHANGE_COLUMNS = ['node', 'kind', 'bytes', 'how', 'lower', 'meta'] as const;

interface Facts {
  key: string;
  /** Every column in record order: [name, element type, length]. */
  columns: Array<[string, TypeName, number]>;
  layers: Array<Omit<IndexLayer, 'changes'> & { changeCount: number }>;
  warnings: string[];
  opaqueIn: Array<[number, number[]]>;
  names: number;
  nameBytes: number;
  nameList?: string[];
  links: number;
  linkBytes: number;
  linkList?: string[];
}

/** The index as a record for the stack `key` (the index itself stays usable). */
export function encodeImageIndex(ix: ImageIndex, key: string): Buffer {
  return Buffer.concat(imageIndexRecordParts(ix, key));
}

/**
 * The record as consecutive pieces (its header, each column as a view of the index's own memory,
 * padding, strings, digest): written one after another they are the record, with no copy of the
 * columns made.
 */
export function imageIndexRecordParts(ix: ImageIndex, key: string): Uint8Array[] {
  const { parts } = indexParts(ix);
  const cols: Array<[string, TypedArray]> = Object.entries(parts.columns);
  parts.layerNodes.forEach((g, i) => cols.push([`layerNodes.${i}`, g]));
  ix.layers.forEach((l, i) => { for (const c of CHANGE_COLUMNS) cols.push([`changes.${i}.${c}`, l.changes[c]]); });
  const names = joinedBytes(ix.names);
  const links = joinedBytes(ix.links);
  const facts: Facts = {
    key, columns: cols.map(([n, a]) => [n, typeName(a), a.length]),
    layers: ix.layers.map(({ changes, ...rest }) => ({ ...rest, changeCount: changes.length })),
    warnings: ix.warnings, opaqueIn: parts.opaqueIn,
    names: ix.names.length, nameBytes: names?.length ?? 0, links: ix.links.length, linkBytes: links?.length ?? 0,
  };
  if (!names) facts.nameList = ix.names;
  if (!links) facts.linkList = ix.links;
  const json = Buffer.from(JSON.stringify(facts), 'utf8');
  let total = pad8(RECORD_HEADER + json.length);
  for (const [, a] of cols) total = pad8(total + a.byteLength);
  total += facts.nameBytes + facts.linkBytes + RECORD_TRAILER;
  const head = recordHead(KIND, 0, total, json);
  const out: Uint8Array[] = [head];
  const zeros = new Uint8Array(8);
  for (const [, a] of cols) {
    out.push(new Uint8Array(a.buffer, a.byteOffset, a.byteLength));
    const pad = pad8(a.byteLength) - a.byteLength;
    if (pad) out.push(zeros.subarray(0, pad));
  }
  if (names) out.push(names);
  if (links) out.push(links);
  const h = createHash('sha256');
  for (const p of out) h.update(p);
  out.push(h.digest());
  return out;
}

function damaged(why: string): never {
  throw new Error(`image index record is damaged (${why})`);
}

/**
 * The index a record holds, its columns views of the record's bytes; throws (with the reason) on
 * any damage or when the record was made for another stack key.
 */
export function decodeImageIndex(buf: Buffer, key: string): ImageIndex {
  return indexFromParts(recordParts(buf, key, true).parts);
}

/**
 * The record's index as the parts a thread hand-over carries (transfer.ts), checked as
 * decodeImageIndex checks it, its names and link targets left joined as one string each (the
 * receiving side splits them): no string per name is made here. Every column is a view of one
 * buffer, the one to transfer.
 */
export function imageIndexPartsOfRecord(buf: Buffer, key: string): { parts: IndexParts; transfer: ArrayBuffer[] } {
  return recordParts(buf, key, false);
}

function recordParts(buf: Buffer, key: string, split: boolean): { parts: IndexParts; transfer: ArrayBuffer[] } {
  const bad = recordProblem(buf, KIND);
  if (bad) damaged(bad);
  const body = recordBody<Facts>(buf, damaged);
  const { facts, bytes, end } = body;
  if (facts.key !== key) damaged(`made for another stack of layers`);
  let at = body.at;
  const cols = new Map<string, TypedArray>();
  for (const [name, type, n] of facts.columns) {
    const ctor = TYPES[type];
    if (!ctor || !Number.isSafeInteger(n) || n < 0 || at + n * ctor.BYTES_PER_ELEMENT > end) damaged(`column ${name}`);
    cols.set(name, new ctor(bytes.buffer as ArrayBuffer, bytes.byteOffset + at, n));
    at = pad8(at + n * ctor.BYTES_PER_ELEMENT);
  }
  const strings = (stored: { list?: string[]; count: number; len: number }, what: string): string | string[] => {
    if (split || stored.list) {
      const t = readStrings(bytes, at, end, stored, () => damaged(what));
      at = t.at;
      return t.strings;
    }
    if (!Number.isSafeInteger(stored.len) || stored.len < 0 || at + stored.len > end) damaged(what);
    let count = stored.len > 0 || stored.count > 0 ? 1 : 0;
    for (let i = at; i < at + stored.len; i++) if (bytes[i] === 0) count++;
    if (count !== stored.count) damaged(what);
    const joined = bytes.toString('utf8', at, at + stored.len);
    at += stored.len;
    return joined;
  };
  const names = strings({ list: facts.nameList, count: facts.names, len: facts.nameBytes }, 'names');
  const links = strings({ list: facts.linkList, count: facts.links, len: facts.linkBytes }, 'link targets');
  if (at !== end) damaged('trailing bytes');
  const col = (name: string): TypedArray => cols.get(name) ?? damaged(`no column ${name}`);
  const layers: IndexLayer[] = facts.layers.map(({ changeCount, ...rest }, i) => {
    const c = Object.fromEntries(CHANGE_COLUMNS.map((k) => [k, col(`changes.${i}.${k}`)])) as unknown as IndexLayer['changes'];
    if (c.node.length !== changeCount) damaged('changes');
    return { ...rest, changes: { ...c, length: changeCount } };
  });
  const parts: IndexParts = {
    names, links, nameCount: facts.names, linkCount: facts.links,
    columns: Object.fromEntries([...cols].filter(([n]) => !n.includes('.'))) as IndexParts['columns'],
    layers, warnings: facts.warnings, opaqueIn: facts.opaqueIn,
    layerNodes: layers.map((_, i) => col(`layerNodes.${i}`) as Int32Array),
  };
  check(parts, layers);
  return { parts, transfer: [bytes.buffer as ArrayBuffer] };
}

/** The columns hold together: one length per node, parents before children, ids in range. */
function check(parts: IndexParts, layers: IndexLayer[]): void {
  const c = parts.columns as Record<string, TypedArray | undefined>;
  const col = (name: string): TypedArray => c[name] ?? damaged(`no column ${name}`);
  const nodeParent = col('nodeParent'), nodeName = col('nodeName'), link = col('link');
  const copyStart = col('copyStart'), childStart = col('childStart'), childList = col('childList'), copyLayer = col('copyLayer');
  const N = nodeParent.length;
  if (N < 1 || nodeParent[0] !== -1) damaged('root');
  for (const name of INDEX_COLUMNS) {
    const a = col(name);
    const want = name === 'copyStart' || name === 'childStart' ? N + 1 : name.startsWith('copy') ? copyStart[N] : name === 'childList' ? childStart[N] : N;
    if (a.length !== want) damaged(`column ${name} length`);
  }
  for (let n = 1; n < N; n++) {
    const p = nodeParent[n];
    if (p < 0 || p >= n || nodeName[n] < 0 || nodeName[n] >= parts.nameCount || link[n] >= parts.linkCount) damaged('node table');
  }
  for (let i = 0; i < childList.length; i++) if (childList[i] < 1 || childList[i] >= N) damaged('children');
  for (let n = 0; n < N; n++) {
    if (copyStart[n] > copyStart[n + 1] || childStart[n] > childStart[n + 1]) damaged('offsets');
  }
  for (let i = 0; i < copyLayer.length; i++) if (copyLayer[i] < 0 || copyLayer[i] >= layers.length) damaged('copies');
  for (const l of layers) for (let i = 0; i < l.changes.length; i++) if (l.changes.node[i] < 0 || l.changes.node[i] >= N) damaged('changes');
  for (const g of parts.layerNodes) for (let i = 0; i < g.length; i++) if (g[i] < 0 || g[i] >= N) damaged('layer nodes');
}
