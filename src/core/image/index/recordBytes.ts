// What the binary records of the cache share (a layer's table: src/core/image/indexCodec.ts; the
// image index: indexRecord.ts): columns padded to 8 bytes, so that each can be a typed array over
// the record's bytes, and string tables stored NUL-joined, or as a JSON list in the record's facts
// when a string holds a NUL.

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
