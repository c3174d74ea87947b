// A compact, versioned binary form of one LayerIndex, for the persistent per-layer cache (and for
// handing indexes between threads). Paths are front-coded against the previous path (tar order
// keeps siblings together, so most of a path is shared), numbers are LEB128 varints. The file ends
// with the sha256 of everything before it; decode() refuses anything that does not check out —
// wrong magic, version, length, digest, diffID, or a field running past the end — so a damaged
// cache entry is never used.
//
//   "LLIX" u16 version u16 flags u32 total-length | body | sha256(all before) (32 bytes)
//   body: diffId, head digest, header digest, origin (strings); tarBytes, tarFileBytes, tarEntries, compression;
//         entries (front-coded path, type, size, mode, uid, gid, zigzag mtime, link name);
//         whiteouts, opaque dirs (front-coded); warnings.
import { createHash } from 'node:crypto';
import type { EntryType, LayerEntry, LayerIndex } from './types';

export const CODEC_VERSION = 2;
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
  bytes(): Buffer { return this.buf.subarray(0, this.len); }
}

class Reader {
  pos: number;
  constructor(private readonly buf: Buffer, start: number, private readonly end: number) { this.pos = start; }
  private fail(): never { throw new Error('layer index record is damaged'); }
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
    // Front coding leaves mostly short ASCII suffixes ("f123"): build those here, without a call
    // into the runtime per name (V8 keeps strings under 13 characters flat when concatenating).
    if (n <= 12) {
      const b = this.buf;
      let s = '';
      for (let i = start; i < end; i++) {
        const c = b[i];
        if (c >= 0x80) return b.toString('utf8', start, end);
        s += String.fromCharCode(c);
      }
      return s;
    }
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
    w.str(p.slice(k));
    prev = p;
  }
}

function readPaths(r: Reader, max: number): string[] {
  const n = r.count(max);
  const out = new Array<string>(n);
  let prev = '';
  for (let i = 0; i < n; i++) {
    const k = r.uint();
    if (k > prev.length) throw new Error('layer index record is damaged');
    prev = (k === 0 ? '' : prev.slice(0, k)) + r.str();
    out[i] = prev;
  }
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
  const es = layer.entries;
  w.uint(es.length);
  let prev = '';
  for (const e of es) {
    const k = sharedPrefix(prev, e.path);
    w.uint(k);
    w.str(e.path.slice(k));
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
  writePaths(w, layer.whiteouts);
  writePaths(w, layer.opaqueDirs);
  w.uint(layer.warnings.length);
  for (const s of layer.warnings) w.str(s);
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
  const rec = encodeIndex(layer, { verified: false, head: '', hdr: '', origin: '' });
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

/**
 * Decodes a record written by encodeIndex, in steps if wanted (step(n) decodes up to n entries), so
 * that a big layer can be decoded on a thread that must not block. The constructor checks the
 * record (length, digest, diffID) and throws on any damage; so do step() and result().
 */
export class IndexDecoder {
  private readonly r: Reader;
  private readonly meta: IndexMeta;
  private readonly head: Omit<LayerIndex, 'entries' | 'whiteouts' | 'opaqueDirs' | 'warnings'>;
  private readonly entries: LayerEntry[];
  private next = 0;
  private prev = '';

  constructor(private readonly buf: Buffer, expectDiffId?: string) {
    const bad = checkRecord(buf);
    if (bad) throw new Error(`layer index record: ${bad}`);
    const verified = (buf.readUInt16LE(6) & 1) === 1;
    const r = new Reader(buf, HEADER, buf.length - TRAILER);
    this.r = r;
    const diffId = r.str();
    if (expectDiffId !== undefined && diffId !== expectDiffId) throw new Error(`layer index record is for ${diffId}, not ${expectDiffId}`);
    const head = r.str();
    const hdr = r.str();
    const origin = r.str();
    const tarBytes = r.uint();
    const tarFileBytes = r.uint();
    const tarEntries = r.uint();
    const compression = COMPRESSIONS[r.u8()];
    if (!compression) throw new Error('layer index record is damaged');
    // Every entry takes at least 6 bytes: a count beyond that is damage, not a reason to allocate.
    const n = r.count(buf.length / 6);
    this.entries = new Array<LayerEntry>(n);
    this.meta = { verified, head, hdr, origin };
    this.head = { diffId, tarBytes, tarFileBytes, tarEntries, compression };
  }

  get done(): boolean {
    return this.next >= this.entries.length;
  }

  /** Decodes up to `max` more entries. */
  step(max = Infinity): void {
    const r = this.r;
    const entries = this.entries;
    const end = Math.min(entries.length, this.next + max);
    let prev = this.prev;
    for (let i = this.next; i < end; i++) {
      const k = r.uint();
      if (k > prev.length) throw new Error('layer index record is damaged');
      const path = (k === 0 ? '' : prev.slice(0, k)) + r.str();
      prev = path;
      const t = r.u8();
      const type = TYPES[t & 0x7f];
      if (!type) throw new Error('layer index record is damaged');
      const size = type === 'file' ? r.uint() : 0;
      const mode = r.uint();
      const uid = r.int();
      const gid = r.int();
      const mtime = r.int();
      const e: LayerEntry = { path, type, size, mode, uid, gid, mtime };
      if (t & 0x80) e.linkname = r.str();
      entries[i] = e;
    }
    this.prev = prev;
    this.next = end;
  }

  /** The index (decodes whatever entries are left). */
  result(): DecodedIndex {
    this.step();
    const r = this.r;
    const max = this.buf.length;
    const whiteouts = readPaths(r, max);
    const opaqueDirs = readPaths(r, max);
    const nw = r.count(max);
    const warnings: string[] = [];
    for (let i = 0; i < nw; i++) warnings.push(r.str());
    if (r.pos !== this.buf.length - TRAILER) throw new Error('layer index record is damaged (trailing bytes)');
    return { index: { ...this.head, entries: this.entries, whiteouts, opaqueDirs, warnings }, meta: this.meta };
  }
}

/**
 * Decodes a record written by encodeIndex. Throws (with the reason) on any damage, or when the
 * record is for another diffID than `expectDiffId`.
 */
export function decodeIndex(buf: Buffer, expectDiffId?: string): DecodedIndex {
  return new IndexDecoder(buf, expectDiffId).result();
}
