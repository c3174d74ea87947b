// Our own tar header reader, for the two things tar-stream cannot do fast: walking a tar on disk by
// seeking past contents (no content byte is read), and parsing a stream synchronously chunk by chunk
// (no stream object, promise or buffer copy per entry). Header semantics follow tar-stream 3.x
// exactly (headers.js / extract.js) so that both read every tar the same way — the unit tests
// compare the two on the same inputs:
// - ustar (name + prefix), GNU (`ustar  `) and unknown magic (an error, as in tar-stream);
// - GNU long names ('L', 'N') and long link names ('K'); PAX 'x' (path, linkpath, size) with the
//   global 'g' record merged in only where an 'x' record exists (tar-stream's rule);
// - octal fields with leading spaces/NULs, base-256 numbers, an all-zero block skipped (not an
//   end), a directory's size field ignored (no body is skipped);
// - input ending inside a header or an entry is truncated; an all-zero checksum block is skipped.
import { ImageFormatError } from '../errors';

export type TarType =
  | 'file' | 'link' | 'symlink' | 'character-device' | 'block-device' | 'directory' | 'fifo' | 'contiguous-file'
  | 'pax-header' | 'pax-global-header' | 'gnu-long-link-path' | 'gnu-long-path';

export interface TarHeader {
  name: string;
  mode: number;
  uid: number;
  gid: number;
  size: number;
  /** Seconds since the epoch (tar-stream gives a Date of this many seconds). */
  mtime: number;
  type: TarType | null;
  linkname: string | null;
  pax: Record<string, string> | null;
}

/** tar-stream's cap on PAX / GNU long-name records. */
export const MAX_LONG_HEADER = 4 * 1024 * 1024;
const BLOCK = 512;

function toType(flag: number): TarType | null {
  switch (flag) {
    case 0: return 'file';
    case 1: return 'link';
    case 2: return 'symlink';
    case 3: return 'character-device';
    case 4: return 'block-device';
    case 5: return 'directory';
    case 6: return 'fifo';
    case 7: return 'contiguous-file';
    case 72: return 'pax-header';
    case 55: return 'pax-global-header';
    case 27: return 'gnu-long-link-path';
    case 28: case 30: return 'gnu-long-path';
    default: return null;
  }
}

type Latin1Slicer = Buffer & { latin1Slice(start: number, end: number): string };
const HAS_LATIN1_SLICE = typeof (Buffer.prototype as Partial<Latin1Slicer>).latin1Slice === 'function';

/**
 * buf[start, end) as a one-byte (latin1) string, through Node's Buffer method behind
 * toString('latin1', …) without its argument handling (about a fifth faster per short path,
 * measured); toString where a runtime lacks it (it is not documented).
 */
export function latin1String(buf: Buffer, start: number, end: number): string {
  return HAS_LATIN1_SLICE ? (buf as Latin1Slicer).latin1Slice(start, end) : buf.toString('latin1', start, end);
}

/** A NUL-terminated field: ASCII (nearly every name) straight to a one-byte string, else UTF-8. */
function decodeStr(buf: Uint8Array, off: number, len: number): string {
  let end = off;
  const max = off + len;
  let high = 0;
  for (let c: number; end < max && (c = buf[end]) !== 0; end++) high |= c;
  if (high < 0x80 && buf instanceof Buffer) return latin1String(buf, off, end);
  return Buffer.prototype.toString.call(buf, 'utf8', off, end) as string;
}

function parse256(buf: Uint8Array, off: number, len: number): number {
  let positive: boolean;
  if (buf[off] === 0x80) positive = true;
  else if (buf[off] === 0xff) positive = false;
  else return NaN;
  let sum = 0;
  let mul = 1;
  for (let i = off + len - 1; i > off; i--) {
    const byte = positive ? buf[i] : 0xff - buf[i];
    sum += byte * mul;
    mul *= 256;
  }
  return positive ? sum : -sum;
}

/** An octal number field as tar-stream's decodeOct reads it (parseInt semantics). */
function decodeOct(buf: Uint8Array, off: number, len: number): number {
  const max = off + len;
  let c = buf[off];
  // The usual field: octal digits from its first byte, ended by NUL, space or its end. parseInt
  // reads the same digits (it stops at the first byte that is no octal digit).
  if (c >= 48 && c <= 55) {
    let v = c - 48;
    for (let i = off + 1; i < max; i++) {
      c = buf[i];
      if (c < 48 || c > 55) break;
      v = v * 8 + (c - 48);
    }
    return v;
  }
  if (c & 0x80) return parse256(buf, off, len);
  let i = off;
  while (i < max && buf[i] === 32) i++;
  let end = i;
  while (end < max && buf[end] !== 32) end++;
  while (i < end && buf[i] === 0) i++;
  if (end === i) return 0;
  c = buf[i];
  if (c >= 48 && c <= 55) {
    let v = 0;
    while (i < end && (c = buf[i]) >= 48 && c <= 55) { v = v * 8 + (c - 48); i++; }
    return v;
  }
  return parseInt(Buffer.prototype.toString.call(buf, 'utf8', i, end) as string, 8);
}

/** A 32-bit view of the last buffer checksummed (a walker reads every header from one buffer). */
let wordsOf: ArrayBufferLike | null = null;
let words: Int32Array<ArrayBufferLike> = new Int32Array(0);

/**
 * The header checksum: the sum of its 512 bytes with the checksum field (148..155) counted as
 * spaces. Four bytes at a time where the block is 4-byte aligned (two 16-bit lanes per
 * accumulator, at most 128 × 255 each: no carry between lanes, and int32 throughout).
 */
function checksum(buf: Uint8Array, off: number): number {
  const at = buf.byteOffset + off;
  if ((at & 3) !== 0) {
    let sum = 8 * 32;
    for (let i = off, e = off + 148; i < e; i++) sum += buf[i];
    for (let i = off + 156, e = off + BLOCK; i < e; i++) sum += buf[i];
    return sum;
  }
  if (wordsOf !== buf.buffer) {
    wordsOf = buf.buffer;
    words = new Int32Array(buf.buffer, 0, buf.buffer.byteLength >>> 2);
  }
  const w32 = words;
  let lo = 0;
  let hi = 0;
  // Four words per turn: fewer loop checks on the hottest loop of a header walk.
  for (let i = at >>> 2, e = i + BLOCK / 4; i < e; i += 4) {
    const a = w32[i], b = w32[i + 1], c = w32[i + 2], d = w32[i + 3];
    lo += (a & 0x00ff00ff) + (b & 0x00ff00ff) + (c & 0x00ff00ff) + (d & 0x00ff00ff);
    hi += ((a >>> 8) & 0x00ff00ff) + ((b >>> 8) & 0x00ff00ff) + ((c >>> 8) & 0x00ff00ff) + ((d >>> 8) & 0x00ff00ff);
  }
  let field = 0;
  for (let i = off + 148, e = off + 156; i < e; i++) field += buf[i];
  return (lo & 0xffff) + (lo >>> 16) + (hi & 0xffff) + (hi >>> 16) - field + 8 * 32;
}

function magicIs(buf: Uint8Array, off: number, gnu: boolean): boolean {
  // "ustar\0" + any version (tar-stream checks only the magic for ustar), or "ustar " + " \0" (GNU).
  const m = off + 257;
  if (buf[m] !== 0x75 || buf[m + 1] !== 0x73 || buf[m + 2] !== 0x74 || buf[m + 3] !== 0x61 || buf[m + 4] !== 0x72) return false;
  if (!gnu) return buf[m + 5] === 0;
  return buf[m + 5] === 0x20 && buf[off + 263] === 0x20 && buf[off + 264] === 0;
}

/**
 * Checks the 512-byte header at `off`: false for a block whose checksum field sums like an all-zero
 * block (tar-stream skips those), true for a header. Throws ImageFormatError('corrupt') on a bad
 * checksum or an unknown format.
 */
export function checkHeader(buf: Uint8Array, off: number): boolean {
  const c = checksum(buf, off);
  if (c === 8 * 32) return false;
  if (c !== decodeOct(buf, off + 148, 8)) {
    throw new ImageFormatError('corrupt', 'invalid tar header checksum (the tar is corrupt, or compressed in an unknown way)');
  }
  if (!magicIs(buf, off, false) && !magicIs(buf, off, true)) throw new ImageFormatError('corrupt', 'invalid tar header: unknown format');
  return true;
}

/** True for a ustar header (its name may have a prefix field), false for GNU. */
export function isUstar(buf: Uint8Array, off: number): boolean {
  return magicIs(buf, off, false);
}

/** An octal (or base-256) number field, as tar-stream reads it. */
export const headerNumber = decodeOct;

/** The typeflag bytes of entries that carry no long name or PAX record: '\0' and '0'…'7'. */
export function isPlainFlag(flag: number): boolean {
  return flag === 0 || (flag >= 48 && flag <= 55);
}

/**
 * What an index takes straight from a header's bytes: `raw` gets a checked header with a plain
 * typeflag and no long name or PAX record pending, and returns false to have it decoded instead
 * (the entry then comes back as a TarHeader).
 */
export interface RawHeaderSink {
  raw(buf: Buffer, off: number): boolean;
}

/**
 * Decodes one 512-byte header at `off`. Returns null for a block whose checksum field sums like an
 * all-zero block (tar-stream skips those). Throws ImageFormatError('corrupt') on a bad checksum or
 * an unknown format.
 */
export function decodeHeader(buf: Uint8Array, off = 0): TarHeader | null {
  if (!checkHeader(buf, off)) return null;
  const typeflag = buf[off + 156] === 0 ? 0 : buf[off + 156] - 48;
  let name = decodeStr(buf, off, 100);
  if (magicIs(buf, off, false) && buf[off + 345]) name = decodeStr(buf, off + 345, 155) + '/' + name;
  // tar-stream turns a type-0 name ending in '/' into typeflag 5 only after it has computed the
  // type, so such an entry stays a 'file'; we read it the same way.
  return {
    name,
    mode: decodeOct(buf, off + 100, 8),
    uid: decodeOct(buf, off + 108, 8),
    gid: decodeOct(buf, off + 116, 8),
    size: decodeOct(buf, off + 124, 12),
    mtime: decodeOct(buf, off + 136, 12),
    type: toType(typeflag),
    linkname: buf[off + 157] === 0 ? null : decodeStr(buf, off + 157, 100),
    pax: null,
  };
}

/** tar-stream's decodePax: `len key=value\n` records; stops at the first malformed one. */
export function decodePax(buf: Uint8Array): Record<string, string> {
  const result: Record<string, string> = {};
  let b = buf;
  while (b.length) {
    let i = 0;
    while (i < b.length && b[i] !== 32) i++;
    const len = parseInt(Buffer.prototype.toString.call(b, 'utf8', 0, i) as string, 10);
    if (!len) return result;
    const s = Buffer.prototype.toString.call(b, 'utf8', i + 1, len - 1) as string;
    const k = s.indexOf('=');
    if (k === -1) return result;
    result[s.slice(0, k)] = s.slice(k + 1);
    b = b.subarray(len);
  }
  return result;
}

function padOf(size: number): number {
  const r = size % BLOCK;
  return r === 0 ? 0 : BLOCK - r;
}

/** Long-name and PAX state carried from special records to the next real header. */
class LongHeaders {
  private gnuPath: string | null = null;
  private gnuLink: string | null = null;
  private pax: Record<string, string> | null = null;
  private paxGlobal: Record<string, string> | null = null;

  /** True when `h` is a special record whose body must be collected and given to take(). */
  /** A long name or PAX record waits for the next header. */
  get pending(): boolean {
    return this.gnuPath !== null || this.gnuLink !== null || this.pax !== null;
  }

  static isLong(h: TarHeader): boolean {
    return h.type === 'gnu-long-path' || h.type === 'gnu-long-link-path' || h.type === 'pax-header' || h.type === 'pax-global-header';
  }

  take(h: TarHeader, body: Uint8Array): void {
    switch (h.type) {
      case 'gnu-long-path': this.gnuPath = decodeStr(body, 0, body.length); break;
      case 'gnu-long-link-path': this.gnuLink = decodeStr(body, 0, body.length); break;
      case 'pax-global-header': this.paxGlobal = decodePax(body); break;
      case 'pax-header': this.pax = this.paxGlobal === null ? decodePax(body) : Object.assign({}, this.paxGlobal, decodePax(body)); break;
      default: break;
    }
  }

  /** Applies pending records to a real header; throws on a size that is not a number >= 0. */
  apply(h: TarHeader): void {
    if (this.gnuPath !== null) { h.name = this.gnuPath; this.gnuPath = null; }
    if (this.gnuLink !== null) { h.linkname = this.gnuLink; this.gnuLink = null; }
    if (this.pax) {
      if (this.pax.path) h.name = this.pax.path;
      if (this.pax.linkpath) h.linkname = this.pax.linkpath;
      if (this.pax.size) h.size = parseInt(this.pax.size, 10);
      h.pax = this.pax;
      this.pax = null;
    }
    if (!(h.size >= 0)) throw new ImageFormatError('corrupt', 'invalid tar header: the entry size is not a number');
  }
}

function longHeaderTooBig(size: number): ImageFormatError {
  return new ImageFormatError('limit', `a tar header record (PAX or GNU long name) of ${size} bytes exceeds max size (${MAX_LONG_HEADER} bytes)`);
}

/** What an entry's body is handed to (synchronously, in order), or nothing to skip it. */
export interface EntrySink {
  write(chunk: Buffer): void;
  end(): void;
}

/**
 * A push parser: feed it bytes in any chunking, it calls `onEntry` for every real header (long
 * names and PAX applied) in order. The body goes to the sink `onEntry` returns, or is skipped.
 * Directories have no body, whatever their size field says (as in tar-stream).
 */
export class TarParser {
  /** Bytes consumed so far. */
  position = 0;
  private state: 'header' | 'long' | 'body' | 'pad' = 'header';
  private missing = 0;
  private readonly stage = Buffer.allocUnsafe(BLOCK);
  private staged = 0;
  private longHeader: TarHeader | null = null;
  private longParts: Buffer[] = [];
  private sink: EntrySink | null = null;
  private readonly long = new LongHeaders();

  /**
   * `onBlock`, when given, sees every header block (512 bytes) and every long-name/PAX record body
   * in order: all the bytes an index depends on (a digest of them identifies a layer's index).
   */
  constructor(
    private readonly onEntry: (h: TarHeader, dataOffset: number) => EntrySink | null | void,
    private readonly onBlock?: (bytes: Uint8Array) => void,
    /** Takes plain headers as bytes (no TarHeader is made for one it takes; onEntry gets the rest). */
    private readonly rawSink?: RawHeaderSink,
  ) {}

  push(chunk: Buffer): void {
    let i = 0;
    const n = chunk.length;
    while (i < n) {
      if (this.state === 'header') {
        let h: TarHeader | null;
        const hdrAt = this.position;
        if (this.rawSink && this.staged === 0 && n - i >= BLOCK && isPlainFlag(chunk[i + 156]) && !this.long.pending) {
          if (!checkHeader(chunk, i)) { i += BLOCK; this.position += BLOCK; continue; }
          const size = chunk[i + 156] === 53 ? 0 : decodeOct(chunk, i + 124, 12);
          if (!(size >= 0)) throw new ImageFormatError('corrupt', 'invalid tar header: the entry size is not a number');
          this.onBlock?.(chunk.subarray(i, i + BLOCK));
          if (this.rawSink.raw(chunk, i)) {
            i += BLOCK;
            this.position += BLOCK;
            this.sink = null;
            this.padAfter = padOf(size);
            this.begin('body', size);
            continue;
          }
          h = decodeHeader(chunk, i);
          i += BLOCK;
          this.position += BLOCK;
        } else if (this.staged === 0 && n - i >= BLOCK) {
          h = decodeHeader(chunk, i);
          if (h && this.onBlock) this.onBlock(chunk.subarray(i, i + BLOCK));
          i += BLOCK;
          this.position += BLOCK;
        } else {
          const take = Math.min(BLOCK - this.staged, n - i);
          chunk.copy(this.stage, this.staged, i, i + take);
          this.staged += take;
          i += take;
          this.position += take;
          if (this.staged < BLOCK) return;
          this.staged = 0;
          h = decodeHeader(this.stage, 0);
          if (h && this.onBlock) this.onBlock(this.stage);
        }
        if (h) this.header(h, hdrAt + BLOCK);
        continue;
      }
      const take = Math.min(this.missing, n - i);
      if (this.state === 'body') {
        if (this.sink && take > 0) this.sink.write(chunk.subarray(i, i + take));
      } else if (this.state === 'long' && take > 0) {
        this.longParts.push(Buffer.from(chunk.subarray(i, i + take)));
      }
      i += take;
      this.position += take;
      this.missing -= take;
      if (this.missing === 0) this.endOfPart();
    }
  }

  /** The input ended: an error unless it ended between entries. */
  end(): void {
    if (this.state !== 'header' || this.staged !== 0) {
      throw new ImageFormatError('truncated', 'unexpected end of data: the tar ends inside an entry');
    }
  }

  private header(h: TarHeader, dataOffset: number): void {
    if (LongHeaders.isLong(h)) {
      if (h.size > MAX_LONG_HEADER) throw longHeaderTooBig(h.size);
      if (!(h.size >= 0)) throw new ImageFormatError('corrupt', 'invalid tar header: the record size is not a number');
      this.longHeader = h;
      this.longParts = [];
      this.begin('long', h.size);
      return;
    }
    this.long.apply(h);
    const size = h.type === 'directory' ? 0 : h.size;
    this.sink = this.onEntry(h, dataOffset) ?? null;
    this.padAfter = padOf(size);
    this.begin('body', size);
  }

  private padAfter = 0;

  private begin(state: 'long' | 'body', size: number): void {
    this.state = state;
    this.missing = size;
    if (size === 0) this.endOfPart();
  }

  private endOfPart(): void {
    if (this.state === 'long') {
      const h = this.longHeader!;
      this.longHeader = null;
      const body = this.longParts.length === 1 ? this.longParts[0] : Buffer.concat(this.longParts);
      this.onBlock?.(body);
      this.longParts = [];
      this.long.take(h, body);
      this.state = 'pad';
      this.missing = padOf(h.size);
    } else if (this.state === 'body') {
      const s = this.sink;
      this.sink = null;
      s?.end();
      this.state = 'pad';
      this.missing = this.padAfter;
    } else {
      this.state = 'header';
      return;
    }
    if (this.missing === 0) this.state = 'header';
  }
}

/** Positional reads of a file or buffer: fills `target` with up to `length` bytes at `position`; returns the count. */
export interface RandomAccess {
  readonly size: number;
  readInto(target: Buffer, length: number, position: number): number;
}

export function bufferAccess(buf: Buffer): RandomAccess {
  return {
    size: buf.length,
    readInto: (t, l, p) => (p >= buf.length ? 0 : buf.copy(t, 0, p, Math.min(buf.length, p + l))),
  };
}

export interface SeekEntry {
  header: TarHeader;
  /** Absolute offset of the entry's body in the RandomAccess. */
  dataOffset: number;
}

/** What TarSeekWalker.nextOrRaw returns for an entry its RawHeaderSink took. */
export const RAW_TAKEN = 1;

const DENSE_READ = 64 * 1024;
const SPARSE_READ = 4 * 1024;

/**
 * Walks the tar in [start, end) of a RandomAccess by reading headers and seeking past bodies. Reads
 * into one reusable buffer: 64 KiB while entries are small (one read covers many headers), 4 KiB
 * after a big body (the next header is all we need from there).
 */
export class TarSeekWalker {
  private pos: number;
  private readonly buf: Buffer;
  private winAt = 0;
  private winLen = 0;
  private dense = true;
  private readonly long = new LongHeaders();
  /** Bytes read from the RandomAccess and read calls (for statistics). */
  bytesRead = 0;
  reads = 0;

  constructor(
    private readonly src: RandomAccess, start: number, private readonly end: number,
    private readonly reads_ = { dense: DENSE_READ, sparse: SPARSE_READ },
  ) {
    this.pos = start;
    this.buf = Buffer.allocUnsafe(Math.max(reads_.dense, reads_.sparse, BLOCK));
  }

  /** The offset in this.buf of the header block at `at` (from the window, else one read). */
  private block(at: number): number {
    if (at >= this.winAt && at + BLOCK <= this.winAt + this.winLen) return at - this.winAt;
    const want = Math.min(this.dense ? this.reads_.dense : this.reads_.sparse, this.end - at);
    const n = this.src.readInto(this.buf, want, at);
    this.bytesRead += n;
    this.reads++;
    this.winAt = at;
    this.winLen = n;
    if (n < BLOCK) throw new ImageFormatError('truncated', 'unexpected end of data: the tar ends inside a header');
    return 0;
  }

  /** `len` bytes at `at` as a new buffer (long-name and PAX records). */
  private bytes(at: number, len: number): Buffer {
    const out = Buffer.allocUnsafe(len);
    let got = 0;
    while (got < len) {
      const n = this.src.readInto(got === 0 ? out : out.subarray(got), len - got, at + got);
      this.reads++;
      if (n <= 0) throw new ImageFormatError('truncated', 'unexpected end of data: the tar ends inside an entry');
      got += n;
    }
    this.bytesRead += len;
    return out;
  }

  /** The next real entry, or null at the end of the region. */
  next(): SeekEntry | null {
    return this.nextOrRaw(undefined) as SeekEntry | null;
  }

  /**
   * The next real entry, or null at the end of the region, or RAW_TAKEN when `raw` took the entry's
   * header as bytes (see RawHeaderSink).
   */
  nextOrRaw(raw: RawHeaderSink | undefined): SeekEntry | null | typeof RAW_TAKEN {
    for (;;) {
      if (this.pos === this.end) return null;
      // Past the end: the last body's padding was missing (tar-stream reports that entry, then fails).
      if (this.pos > this.end) throw new ImageFormatError('truncated', 'unexpected end of data: the tar ends inside an entry');
      if (this.pos + BLOCK > this.end) throw new ImageFormatError('truncated', 'unexpected end of data: the tar ends inside a header');
      const at = this.block(this.pos);
      if (raw && isPlainFlag(this.buf[at + 156]) && !this.long.pending) {
        if (!checkHeader(this.buf, at)) { this.pos += BLOCK; continue; }
        const size = this.buf[at + 156] === 53 ? 0 : decodeOct(this.buf, at + 124, 12);
        if (!(size >= 0)) throw new ImageFormatError('corrupt', 'invalid tar header: the entry size is not a number');
        const dataOffset = this.pos + BLOCK;
        if (dataOffset + size > this.end) throw new ImageFormatError('truncated', 'unexpected end of data: the tar ends inside an entry');
        if (raw.raw(this.buf, at)) {
          this.dense = size < this.reads_.dense / 2;
          this.pos = dataOffset + size + padOf(size);
          return RAW_TAKEN;
        }
      }
      const h = decodeHeader(this.buf, at);
      this.pos += BLOCK;
      if (!h) continue;
      const dataOffset = this.pos;
      if (LongHeaders.isLong(h)) {
        if (h.size > MAX_LONG_HEADER) throw longHeaderTooBig(h.size);
        if (!(h.size >= 0)) throw new ImageFormatError('corrupt', 'invalid tar header: the record size is not a number');
        if (this.pos + h.size + padOf(h.size) > this.end) throw new ImageFormatError('truncated', 'unexpected end of data: the tar ends inside an entry');
        this.long.take(h, h.size === 0 ? Buffer.alloc(0) : this.bytes(this.pos, h.size));
        this.pos += h.size + padOf(h.size);
        continue;
      }
      this.long.apply(h);
      const size = h.type === 'directory' ? 0 : h.size;
      // The body must be there; missing padding fails on the next call (tar-stream needs it too).
      if (dataOffset + size > this.end) throw new ImageFormatError('truncated', 'unexpected end of data: the tar ends inside an entry');
      this.dense = size < this.reads_.dense / 2;
      this.pos = dataOffset + size + padOf(size);
      return { header: h, dataOffset };
    }
  }
}
