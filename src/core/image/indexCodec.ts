// A versioned binary form of one layer's index, for the persistent per-layer cache and for handing
// indexes between threads: the layer's table (src/core/image/index/layerTable.ts) as it is, its
// columns byte for byte, so that reading a record back is a few views over the file's bytes, with
// no parsing per entry. The record ends with the sha256 of everything before it; a record is
// refused — wrong magic, version, length, digest, diffID, or columns that do not hold together —
// so a damaged cache entry is never used.
//
//   "LLIX" u16 version u16 flags u32 total-length u32 facts-length | facts (JSON) | pad to 8
//   | columns, each padded to 8: nodeParent nodeName (per node); entNode entType entMode entUid
//     entGid entSize entMtime entLink (per entry); whiteNode whiteRaw whiteType whiteMode whiteUid
//     whiteGid whiteSize whiteLink (per whiteout marker); opaqueNode
//   | names and link targets (UTF-8, NUL-separated) | sha256(all before) (32 bytes)
// facts: diffId, head and header digests, origin, tarBytes, tarFileBytes, tarEntries,
// compression, whiteouts, opaque dirs, warnings, and the counts the columns are cut by.
import { createHash } from 'node:crypto';
import { LayerTable, PLAIN_WHITEOUT, layerTableOf, type LayerColumns } from './index/layerTable';
import { RECORD_HEADER, RECORD_TRAILER, joinedBytes, pad8, readStrings, recordBody, recordHead, recordProblem, type RecordKind } from './index/recordBytes';
import type { LayerIndex } from './types';

export const CODEC_VERSION = 6;
const KIND: RecordKind = { magic: 0x58494c4c /* "LLIX" little-endian */, version: CODEC_VERSION, name: 'layer index' };

const COMPRESSIONS: LayerIndex['compression'][] = ['none', 'gzip', 'zstd'];

/** Facts stored with an index: how far it can be trusted and where it was read from. */
export interface IndexMeta {
  /** The tar's sha256 was computed while reading and equals diffId. */
  verified: boolean;
  /** sha256 (hex) of the tar's first 64 KiB: a layer in a stream is a candidate if it starts so. */
  head: string;
  /**
   * sha256 (hex) of the tar's header blocks and long-name/PAX records, in order: the bytes the index
   * is made of. A candidate is taken when its headers digest to this ("" when not computed).
   */
  hdr: string;
  /** Where the index was read from, e.g. a file's identity and the member offset ("" if none). */
  origin: string;
}

type NumberColumn = Exclude<keyof LayerColumns, 'names' | 'links'>;
type Ctor = Int32ArrayConstructor | Uint8ArrayConstructor | Uint16ArrayConstructor | Uint32ArrayConstructor | Float64ArrayConstructor;
/**
 * The columns in record order, with their element type and what counts them. 'num': a NumArray
 * column, stored as Uint32 unless the facts list it as wide (Float64).
 */
const COLUMNS: ReadonlyArray<[NumberColumn, Ctor | 'num', 'nodes' | 'entries' | 'white' | 'opaque']> = [
  ['nodeParent', Int32Array, 'nodes'], ['nodeName', Int32Array, 'nodes'],
  ['entNode', Int32Array, 'entries'], ['entType', Uint8Array, 'entries'], ['entMode', Uint16Array, 'entries'],
  ['entUid', 'num', 'entries'], ['entGid', 'num', 'entries'], ['entSize', 'num', 'entries'],
  ['entMtime', 'num', 'entries'], ['entLink', Int32Array, 'entries'],
  ['whiteNode', Int32Array, 'white'], ['whiteRaw', Int32Array, 'white'], ['whiteType', Uint8Array, 'white'], ['whiteMode', Uint16Array, 'white'],
  ['whiteUid', Float64Array, 'white'], ['whiteGid', Float64Array, 'white'], ['whiteSize', Float64Array, 'white'], ['whiteLink', Int32Array, 'white'],
  ['opaqueNode', Int32Array, 'opaque'],
];

interface Facts {
  diffId: string;
  head: string;
  hdr: string;
  origin: string;
  tarBytes: number;
  tarFileBytes: number;
  tarEntries: number;
  compression: number;
  whiteouts: string[];
  opaqueDirs: string[];
  warnings: string[];
  nodes: number;
  entries: number;
  white: number;
  opaque: number;
  /** Names and link targets: their count and UTF-8 length, or the list itself when one holds a NUL. */
  names: number;
  nameBytes: number;
  nameList?: string[];
  links: number;
  linkBytes: number;
  linkList?: string[];
  /** The 'num' columns stored as Float64 (the others as Uint32). */
  wide: string[];
}

export function encodeIndex(layer: LayerIndex, meta: IndexMeta): Buffer {
  const t = layerTableOf(layer);
  const c = t.cols;
  const names = joinedBytes(c.names);
  const links = joinedBytes(c.links);
  const facts: Facts = {
    diffId: layer.diffId, head: meta.head, hdr: meta.hdr, origin: meta.origin, tarBytes: layer.tarBytes, tarFileBytes: layer.tarFileBytes,
    tarEntries: layer.tarEntries, compression: Math.max(0, COMPRESSIONS.indexOf(layer.compression)), whiteouts: layer.whiteouts,
    opaqueDirs: layer.opaqueDirs, warnings: layer.warnings, nodes: c.nodeParent.length, entries: c.entNode.length, white: c.whiteNode.length,
    opaque: c.opaqueNode.length, names: c.names.length, nameBytes: names?.length ?? 0, links: c.links.length, linkBytes: links?.length ?? 0,
    wide: COLUMNS.filter(([name, ctor]) => ctor === 'num' && c[name] instanceof Float64Array).map(([name]) => name),
  };
  if (!names) facts.nameList = c.names;
  if (!links) facts.linkList = c.links;
  const json = Buffer.from(JSON.stringify(facts), 'utf8');
  let total = pad8(RECORD_HEADER + json.length);
  for (const [name] of COLUMNS) total = pad8(total + c[name].byteLength);
  total += facts.nameBytes + facts.linkBytes + RECORD_TRAILER;
  const out = Buffer.alloc(total);
  const head = recordHead(KIND, meta.verified ? 1 : 0, total, json);
  head.copy(out, 0);
  let at = head.length;
  for (const [name] of COLUMNS) {
    const a = c[name];
    out.set(new Uint8Array(a.buffer, a.byteOffset, a.byteLength), at);
    at = pad8(at + a.byteLength);
  }
  if (names) { names.copy(out, at); at += names.length; }
  if (links) { links.copy(out, at); at += links.length; }
  createHash('sha256').update(out.subarray(0, at)).digest().copy(out, at);
  return out;
}

/**
 * A layer's record (no cache facts) in an ArrayBuffer of its own, to transfer to another thread:
 * the encoded buffer itself when it owns its memory, a copy when it is a view into Buffer's pool.
 */
export function transferableIndex(layer: LayerIndex): ArrayBuffer {
  // A record read from the cache goes as it is (a copy of its bytes; its cache facts travel along,
  // unread), unless the source changed its diffID or compression.
  const rec = layer instanceof RecordIndex && sameFacts(layer)
    ? Buffer.from(layer.recordBytes())
    : encodeIndex(layer, { verified: false, head: '', hdr: '', origin: '' });
  if (rec.byteOffset === 0 && rec.byteLength === rec.buffer.byteLength) return rec.buffer as ArrayBuffer;
  return rec.buffer.slice(rec.byteOffset, rec.byteOffset + rec.byteLength) as ArrayBuffer;
}

export interface DecodedIndex {
  index: RecordIndex;
  meta: IndexMeta;
}

function damaged(why: string): never {
  throw new Error(`layer index record is damaged (${why})`);
}

/** The facts and columns of a record (columns are views of its bytes), checked unless `trusted`. */
function readRecord(buf: Buffer, trusted: boolean): { facts: Facts; cols: LayerColumns } {
  const body = recordBody<Facts>(buf, damaged);
  const { facts, bytes, end } = body;
  let at = body.at;
  const counts = { nodes: facts.nodes, entries: facts.entries, white: facts.white, opaque: facts.opaque };
  for (const [k, v] of Object.entries(counts)) if (!Number.isSafeInteger(v) || v < 0) damaged(`${k} count`);
  if (facts.nodes < 1) damaged('no root node');
  if (!Array.isArray(facts.wide)) damaged('column types');
  const cols = {} as Record<NumberColumn, Int32Array | Uint8Array | Uint16Array | Uint32Array | Float64Array>;
  for (const [name, type, by] of COLUMNS) {
    const ctor = type !== 'num' ? type : facts.wide.includes(name) ? Float64Array : Uint32Array;
    const n = counts[by];
    if (at + n * ctor.BYTES_PER_ELEMENT > end) damaged('columns run past the end');
    cols[name] = new ctor(bytes.buffer as ArrayBuffer, bytes.byteOffset + at, n);
    at = pad8(at + n * ctor.BYTES_PER_ELEMENT);
  }
  if (trusted) return { facts, cols: lazyStrings(cols, bytes, at, end, facts) };
  const nameTable = readStrings(bytes, at, end, { list: facts.nameList, count: facts.names, len: facts.nameBytes }, () => damaged('names'));
  const linkTable = readStrings(bytes, nameTable.at, end, { list: facts.linkList, count: facts.links, len: facts.linkBytes }, () => damaged('link targets'));
  at = linkTable.at;
  const names = nameTable.strings;
  const links = linkTable.strings;
  if (at !== end) damaged('trailing bytes');
  const c = { ...cols, names, links } as LayerColumns;
  // The columns must hold together: parents before children, ids in range.
  if (c.nodeParent[0] !== -1) damaged('root');
  for (let i = 1; i < facts.nodes; i++) {
    const p = c.nodeParent[i];
    const nm = c.nodeName[i];
    if (p < 0 || p >= i || nm < 0 || nm >= names.length) damaged('node table');
  }
  for (let i = 0; i < facts.entries; i++) {
    const n = c.entNode[i];
    const l = c.entLink[i];
    if (n < 1 || n >= facts.nodes || c.entType[i] > 6 || l < -1 || l >= links.length) damaged('entry table');
  }
  for (const a of [c.whiteNode, c.whiteRaw, c.opaqueNode]) for (let i = 0; i < a.length; i++) if (a[i] < 0 || a[i] >= facts.nodes) damaged('deletions');
  for (let i = 0; i < facts.white; i++) if (c.whiteType[i] > 6 || c.whiteLink[i] < -1 || c.whiteLink[i] >= links.length) damaged('whiteout headers');
  if (!COMPRESSIONS[facts.compression]) damaged('compression');
  return { facts, cols: c };
}

/**
 * The columns with their names and link targets decoded on first read (a trusted record: the
 * thread that takes it over seldom reads a layer's names, and a big layer has hundreds of
 * thousands). Their lengths are checked now.
 */
function lazyStrings(cols: Record<NumberColumn, Int32Array | Uint8Array | Uint16Array | Uint32Array | Float64Array>, bytes: Buffer, at: number, end: number, facts: Facts): LayerColumns {
  const nameLen = facts.nameList ? 0 : facts.nameBytes;
  const linkLen = facts.linkList ? 0 : facts.linkBytes;
  if (!Number.isSafeInteger(nameLen) || !Number.isSafeInteger(linkLen) || nameLen < 0 || linkLen < 0 || at + nameLen + linkLen !== end) damaged('names');
  const c = { ...cols } as LayerColumns;
  let names: string[] | undefined;
  let links: string[] | undefined;
  Object.defineProperty(c, 'names', {
    enumerable: true,
    get: () => (names ??= readStrings(bytes, at, end, { list: facts.nameList, count: facts.names, len: facts.nameBytes }, () => damaged('names')).strings),
  });
  Object.defineProperty(c, 'links', {
    enumerable: true,
    get: () => (links ??= readStrings(bytes, at + nameLen, end, { list: facts.linkList, count: facts.links, len: facts.linkBytes }, () => damaged('link targets')).strings),
  });
  return c;
}

/**
 * A layer index read from its record: a LayerTable whose columns are views of the record's bytes
 * (after its length, digest, diffID and columns are checked), with the cache facts it was stored
 * with.
 */
export class RecordIndex extends LayerTable {
  readonly meta: IndexMeta;
  /**
   * The record's own sha256 (hex, its trailer): names exactly this index with its cache facts, so
   * that results computed from a stack of records can be cached under their digests (summary.ts).
   */
  readonly recordDigest: string;
  /** diffID and compression as the record has them (with() may give the object others). */
  readonly recorded: { readonly diffId: string; readonly compression: LayerIndex['compression'] };
  private readonly buf: Buffer;

  /**
   * `trusted`: a record this process's own worker thread made or checked, handed over in memory:
   * its length, version and counts are checked, not its digest nor every node and entry (a pass
   * over millions of rows on the receiving thread).
   */
  constructor(buf: Buffer, expectDiffId?: string, opts: { trusted?: boolean } = {}) {
    const trusted = opts.trusted === true;
    const bad = recordProblem(buf, KIND, !trusted);
    if (bad) throw new Error(`layer index record: ${bad}`);
    const { facts, cols } = readRecord(buf, trusted);
    if (expectDiffId !== undefined && facts.diffId !== expectDiffId) throw new Error(`layer index record is for ${facts.diffId}, not ${expectDiffId}`);
    const compression = COMPRESSIONS[facts.compression];
    super(cols, {
      diffId: facts.diffId, tarBytes: facts.tarBytes, compression, tarFileBytes: facts.tarFileBytes, tarEntries: facts.tarEntries,
      warnings: facts.warnings, whiteouts: facts.whiteouts, opaqueDirs: facts.opaqueDirs,
    });
    this.meta = { verified: (buf.readUInt16LE(6) & 1) === 1, head: facts.head, hdr: facts.hdr, origin: facts.origin };
    this.buf = buf;
    this.recordDigest = recordDigest(buf);
    this.recorded = { diffId: facts.diffId, compression };
  }

  /** The record as encoded: the same bytes encodeIndex gives for this index (facts included). */
  recordBytes(): Buffer {
    return this.buf;
  }

  /** A plain LayerIndex (entries decoded into an array of its own). */
  toPlain(): LayerIndex {
    return plainIndex(this);
  }
}

/** A record's own sha256 (hex): its trailer, checked when the record is read. */
export function recordDigest(rec: Buffer): string {
  return rec.toString('hex', rec.length - RECORD_TRAILER);
}

/** The record still says what the object says (diffID, compression): with() changed neither. */
function sameFacts(r: RecordIndex): boolean {
  return r.recorded.diffId === r.diffId && r.recorded.compression === r.compression;
}

/**
 * Decodes a record written by encodeIndex. Throws (with the reason) on any damage, or when the
 * record is for another diffID than `expectDiffId`.
 */
export function decodeIndex(buf: Buffer, expectDiffId?: string): DecodedIndex {
  const r = new RecordIndex(buf, expectDiffId);
  return { index: r, meta: r.meta };
}

/**
 * The index with other source facts (diffID, compression), entries shared: a record stays a record
 * and a table stay what they are (a spread would drop their entries, read through the prototype).
 */
export function withFacts(l: LayerIndex, over: { diffId?: string; compression?: LayerIndex['compression'] }): LayerIndex {
  return l instanceof RecordIndex || l instanceof LayerTable ? l.with(over) : { ...l, ...over };
}

/** The index as a plain object with its own entries array (records and tables decoded), e.g. to compare two. */
export function plainIndex(l: LayerIndex): LayerIndex {
  return {
    diffId: l.diffId, entries: [...l.entries], whiteouts: l.whiteouts, whiteoutHeads: l.whiteoutHeads ?? l.whiteouts.map(() => PLAIN_WHITEOUT), opaqueDirs: l.opaqueDirs, tarFileBytes: l.tarFileBytes,
    tarEntries: l.tarEntries, tarBytes: l.tarBytes, compression: l.compression, warnings: l.warnings,
  };
}
