// What the binary records of the cache share (a layer's table: src/core/image/indexCodec.ts; the
// image index: indexRecord.ts): columns padded to 8 bytes, so that each can be a typed array over
// the record's bytes, and string tables stored NUL-joined, or as a JSON list in the record's facts
// when a string holds a NUL.
import { createHash } from 'node:crypto';

export const pad8 = (n: number): number => (n + 7) & ~7;

/** The strings joined by NUL as UTF-8, or null when one of them holds a NUL. */
export function joinedBytes(xs: readonly string[]): Buffer | null {
  if (xs.some((x) => x.includes('\0'))) return null;
  return Buffer.from(xs.join('\0'), 'utf8');
}

/**
 * A string table as joinedBytes stored it at `at` (`len` bytes), or `list` when the facts hold it;
 * `count` strings either way, else `damaged`. Returns them and the offset after them.
 */
export function readStrings(
  bytes: Buffer, at: number, end: number, stored: { list?: string[]; count: number; len: number }, damaged: () => never,
): { strings: string[]; at: number } {
  if (stored.list) {
    if (!Array.isArray(stored.list) || stored.list.length !== stored.count) damaged();
    return { strings: stored.list, at };
  }
  if (!Number.isSafeInteger(stored.len) || stored.len < 0 || at + stored.len > end) damaged();
  const strings = stored.count === 0 ? [] : bytes.toString('utf8', at, at + stored.len).split('\0');
  if (strings.length !== stored.count) damaged();
  return { strings, at: at + stored.len };
}

/** Every record starts with magic, version, flags, total length and facts length, and ends with its sha256. */
export const RECORD_HEADER = 16;
export const RECORD_TRAILER = 32;

/** A kind of record: its magic number, version, and a name for messages. */
export interface RecordKind {
  magic: number;
  version: number;
  name: string;
}

/** The record's header followed by its facts (JSON), zero-padded to 8 bytes. */
export function recordHead(kind: RecordKind, flags: number, total: number, json: Buffer): Buffer {
  const head = Buffer.alloc(pad8(RECORD_HEADER + json.length));
  head.writeUInt32LE(kind.magic, 0);
  head.writeUInt16LE(kind.version, 4);
  head.writeUInt16LE(flags, 6);
  head.writeUInt32LE(total, 8);
  head.writeUInt32LE(json.length, 12);
  json.copy(head, RECORD_HEADER);
  return head;
}

/** Why a record's header or digest is not sound (cheap checks first, then the sha256 unless `digest` is false), or null. */
export function recordProblem(buf: Buffer, kind: RecordKind, digest = true): string | null {
  if (buf.length < RECORD_HEADER + RECORD_TRAILER) return 'too short';
  if (buf.readUInt32LE(0) !== kind.magic) return `not a ${kind.name} record`;
  if (buf.readUInt16LE(4) !== kind.version) return `version ${buf.readUInt16LE(4)}, expected ${kind.version}`;
  if (buf.readUInt32LE(8) !== buf.length) return 'length mismatch (truncated or extended)';
  if (!digest) return null;
  const d = createHash('sha256').update(buf.subarray(0, buf.length - RECORD_TRAILER)).digest();
  if (!d.equals(buf.subarray(buf.length - RECORD_TRAILER))) return 'digest mismatch';
  return null;
}

/**
 * A record's facts, its bytes 8-byte aligned for typed-array views (a record in Buffer's shared
 * pool is copied), where its columns start and where its strings must end; `damaged` on facts that
 * run past the end or are not JSON.
 */
export function recordBody<F>(buf: Buffer, damaged: (why: string) => never): { facts: F; bytes: Buffer; at: number; end: number } {
  const jsonLen = buf.readUInt32LE(12);
  if (RECORD_HEADER + jsonLen > buf.length - RECORD_TRAILER) damaged('facts run past the end');
  let facts: F;
  try {
    facts = JSON.parse(buf.toString('utf8', RECORD_HEADER, RECORD_HEADER + jsonLen)) as F;
  } catch {
    return damaged('facts are not JSON');
  }
  const bytes = buf.byteOffset % 8 === 0 ? buf : Buffer.from(buf);
  return { facts, bytes, at: pad8(RECORD_HEADER + jsonLen), end: bytes.length - RECORD_TRAILER };
}
