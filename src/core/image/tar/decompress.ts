// Detects a layer blob's compression from its first bytes (never from names or media types, which
// lie) and decompresses as a stream: gzip through zlib, zstd through fzstd. Plain tar passes through.
import { Readable, Transform, pipeline, type TransformCallback } from 'node:stream';
import { createGunzip } from 'node:zlib';
import { Decompress as ZstdDecompress } from 'fzstd';
import { ImageFormatError } from '../errors';

export type Compression = 'gzip' | 'zstd' | 'none';

export function sniffCompression(head: Uint8Array): Compression {
  if (head.length >= 2 && head[0] === 0x1f && head[1] === 0x8b) return 'gzip';
  if (head.length >= 4 && head[0] === 0x28 && head[1] === 0xb5 && head[2] === 0x2f && head[3] === 0xfd) return 'zstd';
  return 'none';
}

/** A Transform that decompresses zstd frames (one or more) with fzstd's streaming decoder. */
export class ZstdTransform extends Transform {
  private readonly dec: ZstdDecompress;
  private ended = false;
  constructor() {
    super();
    this.dec = new ZstdDecompress((chunk: Uint8Array, final?: boolean) => {
      if (chunk.length) this.push(Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength));
      if (final) this.ended = true;
    });
  }
  override _transform(chunk: Buffer, _enc: BufferEncoding, cb: TransformCallback): void {
    try {
      this.dec.push(chunk);
      cb();
    } catch (e) {
      cb(new ImageFormatError('corrupt', `corrupt zstd data: ${(e as Error).message}`));
    }
  }
  override _flush(cb: TransformCallback): void {
    try {
      this.dec.push(new Uint8Array(0), true);
    } catch (e) {
      cb(new ImageFormatError('truncated', `truncated zstd data: ${(e as Error).message}`));
      return;
    }
    if (!this.ended) {
      cb(new ImageFormatError('truncated', 'truncated zstd data: the stream ended inside a frame'));
      return;
    }
    cb();
  }
}

/**
 * Reads the first bytes of a blob, picks the decompressor by magic number, and returns the
 * decompressed bytes as a Readable with backpressure all the way back to the source.
 * Decompressor errors surface as ImageFormatError.
 */
export type ByteSource = AsyncIterable<Uint8Array> | Iterable<Uint8Array>;

/**
 * A source that lends its memory (the engine export's raw reader) has a function under this key:
 * a reader calls it with each chunk once it is done with it, and the source may then overwrite the
 * chunk's bytes. A reader that keeps bytes past that point copies them; one that never calls it
 * leaves the source allocating fresh memory, as any other source does.
 */
export const releaseChunk = Symbol('layerlens.releaseChunk');
export type LendingSource = { [releaseChunk]?: (chunk: Uint8Array) => void };

function asyncIteratorOf(source: ByteSource): AsyncIterator<Uint8Array> {
  if (Symbol.asyncIterator in source) return (source as AsyncIterable<Uint8Array>)[Symbol.asyncIterator]();
  const sync = (source as Iterable<Uint8Array>)[Symbol.iterator]();
  return { next: async () => sync.next() };
}

export async function openDecompressed(source: ByteSource): Promise<{ compression: Compression; stream: Readable }> {
  const it = asyncIteratorOf(source);
  const head: Buffer[] = [];
  let headLen = 0;
  let done = false;
  while (headLen < 4) {
    const r = await it.next();
    if (r.done) { done = true; break; }
    const b = Buffer.from(r.value.buffer, r.value.byteOffset, r.value.byteLength);
    head.push(b);
    headLen += b.length;
  }
  const first = Buffer.concat(head);
  const compression = sniffCompression(first);
  async function* all(): AsyncGenerator<Buffer> {
    if (first.length) yield first;
    if (done) return;
    for (;;) {
      const r = await it.next();
      if (r.done) return;
      yield Buffer.from(r.value.buffer, r.value.byteOffset, r.value.byteLength);
    }
  }
  const raw = Readable.from(all(), { objectMode: false });
  if (compression === 'none') return { compression, stream: raw };
  const dec: Transform = compression === 'gzip' ? createGunzip() : new ZstdTransform();
  // pipeline destroys `dec` with the source's or the decoder's error; readers map it with toFormatError.
  pipeline(raw, dec, () => undefined);
  return { compression, stream: dec };
}

/** Maps low-level stream errors (zlib, tar) onto ImageFormatError with a message naming `what`. */
export function toFormatError(e: unknown, what: string): Error {
  if (e instanceof ImageFormatError) return e;
  const err = e as Error & { code?: string };
  if (err && err.name === 'CancelledError') return err;
  const msg = err?.message ?? String(e);
  // tar-stream refuses PAX / GNU long-name records over 4 MiB.
  if (/exceeds max size/i.test(msg)) return new ImageFormatError('limit', `${what} has a tar header record larger than 4 MiB (${msg})`);
  if (err?.code === 'Z_BUF_ERROR' || /unexpected end|premature|truncated/i.test(msg)) {
    return new ImageFormatError('truncated', `${what} is truncated (${msg})`);
  }
  if (err?.code?.startsWith?.('Z_') || /checksum|invalid|incorrect header|corrupt/i.test(msg)) {
    return new ImageFormatError('corrupt', `${what} is corrupt (${msg})`);
  }
  return err instanceof Error ? err : new Error(msg);
}
