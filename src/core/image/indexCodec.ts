// A compact, versioned binary form of one LayerIndex, for the persistent per-layer cache (and for
// handing indexes between threads). Paths are front-coded against the previous path (tar order
// keeps siblings together, so most of a path is shared), numbers are LEB128 varints. The file ends
// with the sha256 of everything before it; decode() refuses anything that does not check out —
// wrong magic, version, length, digest, diffID, or a field running past the end — so a damaged
// cache entry is never used.
//
//   "LLIX" u16 version u16 flags u32 total-length | body | sha256(all before) (32 bytes)
//   body: diffId, head digest, header digest, origin (strings); tarBytes, tarFileBytes, tarEntries, compression;
//         whiteouts, opaque dirs (front-coded); warnings;
//         entries (front-coded path, type, size, mode, uid, gid, zigzag mtime, link name).
// Entries come last (version 3), so that a reader knows a layer's deletions before its first entry
// and can merge entries one at a time as it decodes them, never holding the whole array
// (RecordIndex.iterEntries: the extension's thread merges that way).
import { createHash } from 'node:crypto';
import { latin1String } from './tar/tarWalk';
import { LayerTable } from './index/layerTable';
import type { EntryType, LayerEntry, LayerIndex } from './types';

export const CODEC_VERSION = 3;
const MAGIC = 0x58494c4c; // "LLIX" little-endian
const TRAILER = 32;
const HEADER = 12;

const TYPES: EntryType[] = ['file', 'dir', 'symlink', 'hardlink', 'char', 'block', 'fifo'];
const TYPE_CODE = new Map(TYPES.map((t, i) => [t, i]));
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

class Writer {
  private buf = Buffer.allocUnsafe(64 * 1024);
  len = 0;
  private ensure(n: number): void {
    if (this.len + n <= this.buf.length) return;
    let size = this.buf.length * 2;
    while (size < this.len + n) size *= 2;
    const b = Buffer.allocUnsafe(size);
    this.buf.copy(b, 0, 0, this.len);
    this.buf = b;
  }
  u8(v: number): void { this.ensure(1); this.buf[this.len++] = v; }
  raw(b: Buffer): void { this.ensure(b.length); b.copy(this.buf, this.len); this.len += b.length; }
  /** Unsigned LEB128 of a non-negative integer up to 2^53. */
  uint(v: number): void {
    this.ensure(8);
    let x = v;
    while (x >= 0x80) {
      this.buf[this.len++] = (x % 0x80) | 0x80;
      x = Math.floor(x / 0x80);
    }
    this.buf[this.len++] = x;
  }
  /** Zigzag for integers of either sign (mtimes can be negative). */
  int(v: number): void { this.uint(v < 0 ? -v * 2 - 1 : v * 2); }
  str(s: string): void {
    const n = Buffer.byteLength(s, 'utf8');
    this.uint(n);
    this.ensure(n);
    this.buf.write(s, this.len, n, 'utf8');
    this.len += n;
  }
  /**
   * s.slice(from) as str() writes it. ASCII (nearly every path) is copied char by char, with no
   * slice and no UTF-8 encoder call; anything else goes through str().
   */
  strFrom(s: string, from: number): void {
    const n = s.length - from;
    const start = this.len;
    this.uint(n);
    this.ensure(n);
    const buf = this.buf;
    let at = this.len;
    for (let i = from; i < s.length; i++) {
      const c = s.charCodeAt(i);
      if (c >= 0x80) {
        this.len = start;
        this.str(s.slice(from));
        return;
      }
      buf[at++] = c;
    }
    this.len = at;
  }
  bytes(): Buffer { return this.buf.subarray(0, this.len); }
}

class Reader {
  pos: number;
  constructor(readonly buf: Buffer, start: number, readonly end: number) { this.pos = start; }
  fail(): never { throw new Error('layer index record is damaged'); }
  u8(): number { if (this.pos >= this.end) this.fail(); return this.buf[this.pos++]; }
  uint(): number {
    let v = 0;
    let mul = 1;
    for (let i = 0; i < 8; i++) {
      if (this.pos >= this.end) this.fail();
      const b = this.buf[this.pos++];
      v += (b & 0x7f) * mul;
      if (b < 0x80) return v;
      mul *= 0x80;
    }
    return this.fail();
  }
  int(): number { const z = this.uint(); return z % 2 === 1 ? -(z + 1) / 2 : z / 2; }
  str(): string {
    const n = this.uint();
    const start = this.pos;
    const end = start + n;
    if (end > this.end) this.fail();
    this.pos = end;
    // Paths do not come through here (PathDecoder): only digests, origins, warnings and link names.
    return this.buf.toString('utf8', start, end);
  }
  count(max: number): number { const n = this.uint(); if (n > max) this.fail(); return n; }
}

/** Common prefix length of a and b, never splitting a surrogate pair. */
function sharedPrefix(a: string, b: string): number {
  const max = Math.min(a.length, b.length);
  let i = 0;
  while (i < max && a.charCodeAt(i) === b.charCodeAt(i)) i++;
  if (i > 0 && i < b.length) {
    const c = b.charCodeAt(i - 1);
    if (c >= 0xd800 && c <= 0xdbff) i--;
  }
  return i;
}

function writePaths(w: Writer, paths: readonly string[]): void {
  w.uint(paths.length);
  let prev = '';
  for (const p of paths) {
    const k = sharedPrefix(prev, p);
    w.uint(k);
    w.strFrom(p, k);
    prev = p;
  }
}

/**
 * Front-coded paths back to strings: each is the previous path's first k characters plus a suffix.
 * ASCII paths (nearly all) are assembled as bytes and become one flat string in one call, instead of
 * a slice, a concatenation and a later flattening per path (three short-lived strings each, which
 * the extension's thread would otherwise copy through its young generation); other paths fall back
 * to string concatenation.
 */
class PathDecoder {
  private bytes = Buffer.allocUnsafe(512);
  /** How many leading characters of `prev` are ASCII and mirrored in `bytes`. */
  private ascii = 0;
  private prev = '';
  next(r: Reader): string {
    const k = r.uint();
    const prev = this.prev;
    if (k > prev.length) r.fail();
    const n = r.uint();
    const start = r.pos;
    const end = start + n;
    if (end > r.end) r.fail();
    r.pos = end;
    const src = r.buf;
    if (k <= this.ascii) {
      let i = start;
      while (i < end && src[i] < 0x80) i++;
      if (i === end) {
        if (k + n > this.bytes.length) {
          const b = Buffer.allocUnsafe(Math.max(2 * this.bytes.length, k + n));
          this.bytes.copy(b, 0, 0, k);
          this.bytes = b;
        }
        // A suffix is a few bytes: a loop beats Buffer#copy's call overhead.
        const dst = this.bytes;
        for (let j = start, o = k; j < end; j++, o++) dst[o] = src[j];
        this.ascii = k + n;
        return (this.prev = latin1String(this.bytes, 0, k + n));
      }
    }
    if (k < this.ascii) this.ascii = k;
    return (this.prev = (k === 0 ? '' : prev.slice(0, k)) + src.toString('utf8', start, end));
  }
}

function readPaths(r: Reader, max: number): string[] {
  const n = r.count(max);
  const out = new Array<string>(n);
  const d = new PathDecoder();
  for (let i = 0; i < n; i++) out[i] = d.next(r);
  return out;
}

export function encodeIndex(layer: LayerIndex, meta: IndexMeta): Buffer {
  const w = new Writer();
  w.raw(Buffer.alloc(HEADER)); // magic, version, flags, length: written below
  w.str(layer.diffId);
  w.str(meta.head);
  w.str(meta.hdr);
  w.str(meta.origin);
  w.uint(layer.tarBytes);
  w.uint(layer.tarFileBytes);
  w.uint(layer.tarEntries);
  w.u8(Math.max(0, COMPRESSIONS.indexOf(layer.compression)));
  writePaths(w, layer.whiteouts);
  writePaths(w, layer.opaqueDirs);
  w.uint(layer.warnings.length);
  for (const s of layer.warnings) w.str(s);
  const es = layer.entries;
  w.uint(es.length);
  let prev = '';
  for (const e of es) {
    const k = sharedPrefix(prev, e.path);
    w.uint(k);
    w.strFrom(e.path, k);
    prev = e.path;
    const t = TYPE_CODE.get(e.type) ?? 0;
    w.u8(t | (e.linkname !== undefined ? 0x80 : 0));
    if (e.type === 'file') w.uint(e.size);
    w.uint(e.mode);
    w.int(Number.isFinite(e.uid) ? e.uid : 0);
    w.int(Number.isFinite(e.gid) ? e.gid : 0);
    w.int(e.mtime);
    if (e.linkname !== undefined) w.str(e.linkname);
  }
  const body = w.bytes();
  const total = body.length + TRAILER;
  const out = Buffer.allocUnsafe(total);
  body.copy(out);
  out.writeUInt32LE(MAGIC, 0);
  out.writeUInt16LE(CODEC_VERSION, 4);
  out.writeUInt16LE(meta.verified ? 1 : 0, 6);
  out.writeUInt32LE(total, 8);
  createHash('sha256').update(out.subarray(0, body.length)).digest().copy(out, body.length);
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

/** The record's header and digest are sound (cheap checks first, then the sha256). */
function checkRecord(buf: Buffer): string | null {
  if (buf.length < HEADER + TRAILER) return 'too short';
  if (buf.readUInt32LE(0) !== MAGIC) return 'not a layer index record';
  if (buf.readUInt16LE(4) !== CODEC_VERSION) return `version ${buf.readUInt16LE(4)}, expected ${CODEC_VERSION}`;
  if (buf.readUInt32LE(8) !== buf.length) return 'length mismatch (truncated or extended)';
  const digest = createHash('sha256').update(buf.subarray(0, buf.length - TRAILER)).digest();
  if (!digest.equals(buf.subarray(buf.length - TRAILER))) return 'digest mismatch';
  return null;
}

export interface DecodedIndex {
  index: LayerIndex;
  meta: IndexMeta;
}

/** One entry at the reader's position (front-coded path, type, size, mode, owner, mtime, link). */
function readEntry(r: Reader, paths: PathDecoder): LayerEntry {
  const path = paths.next(r);
  const t = r.u8();
  const type = TYPES[t & 0x7f];
  if (!type) r.fail();
  const size = type === 'file' ? r.uint() : 0;
  const mode = r.uint();
  const uid = r.int();
  const gid = r.int();
  const mtime = r.int();
  const e: LayerEntry = { path, type, size, mode, uid, gid, mtime };
  if (t & 0x80) e.linkname = r.str();
  return e;
}

/**
 * A layer index read from its record: everything but the entries is decoded up front (after the
 * record's length, digest and diffID are checked); the entries stay encoded in the record and are
 * decoded on demand — one at a time by iterEntries() (the extension merges them as they come, so
 * they never pile up on its heap), or all at once by the `entries` getter, which keeps the array
 * only as long as something else holds it (a WeakRef). Damage found while decoding throws.
 */
export class RecordIndex implements LayerIndex {
  diffId: string;
  readonly tarBytes: number;
  readonly tarFileBytes: number;
  readonly tarEntries: number;
  readonly compression: LayerIndex['compression'];
  readonly whiteouts: string[];
  readonly opaqueDirs: string[];
  readonly warnings: string[];
  readonly meta: IndexMeta;
  /** Number of entries in the record. */
  readonly entryCount: number;
  /**
   * The record's own sha256 (hex, its trailer): names exactly this index with its cache facts, so
   * that results computed from a stack of records can be cached under their digests (summary.ts).
   */
  readonly recordDigest: string;
  /** diffID and compression as the record has them (with() may give the object others). */
  readonly recorded: { readonly diffId: string; readonly compression: LayerIndex['compression'] };
  private readonly buf: Buffer;
  /** Offset of the first entry. */
  private readonly entriesAt: number;
  private kept: WeakRef<LayerEntry[]> | undefined;

  constructor(buf: Buffer, expectDiffId?: string) {
    const bad = checkRecord(buf);
    if (bad) throw new Error(`layer index record: ${bad}`);
    const r = new Reader(buf, HEADER, buf.length - TRAILER);
    const diffId = r.str();
    if (expectDiffId !== undefined && diffId !== expectDiffId) throw new Error(`layer index record is for ${diffId}, not ${expectDiffId}`);
    this.diffId = diffId;
    this.meta = { verified: (buf.readUInt16LE(6) & 1) === 1, head: r.str(), hdr: r.str(), origin: r.str() };
    this.tarBytes = r.uint();
    this.tarFileBytes = r.uint();
    this.tarEntries = r.uint();
    const compression = COMPRESSIONS[r.u8()];
    if (!compression) r.fail();
    this.compression = compression;
    const max = buf.length;
    this.whiteouts = readPaths(r, max);
    this.opaqueDirs = readPaths(r, max);
    const nw = r.count(max);
    this.warnings = [];
    for (let i = 0; i < nw; i++) this.warnings.push(r.str());
    // Every entry takes at least 6 bytes: a count beyond that is damage.
    this.entryCount = r.count((r.end - r.pos) / 6);
    this.entriesAt = r.pos;
    this.buf = buf;
    this.recordDigest = recordDigest(buf);
    this.recorded = { diffId, compression };
  }

  /**
   * The same record with other source facts: another diffID (a layer the source copied under a
   * second one) or compression. A spread would lose the entries, which are read through the
   * prototype. The entries, and so recordDigest, stay those of the record.
   */
  with(over: { diffId?: string; compression?: LayerIndex['compression'] }): RecordIndex {
    const copy = Object.create(RecordIndex.prototype) as RecordIndex;
    Object.assign(copy, this, over, { kept: undefined });
    return copy;
  }

  /** The record as encoded: the same bytes encodeIndex gives for this index (facts included). */
  recordBytes(): Buffer {
    return this.buf;
  }

  /** Decodes the entries in order, one at a time; throws on damage (checked to the record's end). */
  *iterEntries(): Generator<LayerEntry, void> {
    const r = new Reader(this.buf, this.entriesAt, this.buf.length - TRAILER);
    const paths = new PathDecoder();
    for (let i = 0; i < this.entryCount; i++) yield readEntry(r, paths);
    if (r.pos !== r.end) throw new Error('layer index record is damaged (trailing bytes)');
  }

  /** Every entry in a new array (a plain loop: faster than iterating the generator). */
  private decodeAll(): LayerEntry[] {
    const r = new Reader(this.buf, this.entriesAt, this.buf.length - TRAILER);
    const paths = new PathDecoder();
    const out = new Array<LayerEntry>(this.entryCount);
    for (let i = 0; i < this.entryCount; i++) out[i] = readEntry(r, paths);
    if (r.pos !== r.end) throw new Error('layer index record is damaged (trailing bytes)');
    return out;
  }

  get entries(): LayerEntry[] {
    const held = this.kept?.deref();
    if (held) return held;
    const all = this.decodeAll();
    this.kept = new WeakRef(all);
    return all;
  }

  /** A plain LayerIndex (entries decoded into an array of its own). */
  toPlain(): LayerIndex {
    return {
      diffId: this.diffId, entries: this.decodeAll(), whiteouts: this.whiteouts, opaqueDirs: this.opaqueDirs, tarFileBytes: this.tarFileBytes,
      tarEntries: this.tarEntries, tarBytes: this.tarBytes, compression: this.compression, warnings: this.warnings,
    };
  }
}

/** A record's own sha256 (hex): its trailer, checked when the record is read. */
export function recordDigest(rec: Buffer): string {
  return rec.toString('hex', rec.length - TRAILER);
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
  return { index: r.toPlain(), meta: r.meta };
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
  if (l instanceof RecordIndex) return l.toPlain();
  return {
    diffId: l.diffId, entries: [...l.entries], whiteouts: l.whiteouts, opaqueDirs: l.opaqueDirs, tarFileBytes: l.tarFileBytes,
    tarEntries: l.tarEntries, tarBytes: l.tarBytes, compression: l.compression, warnings: l.warnings,
  };
}
