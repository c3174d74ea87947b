// Reading what one layer holds, beside indexing it: the bytes of one entry, and a layer's tar with
// its digests. Built on the analysis's own tar walker (tarWalk.ts) and decompression
// (decompress.ts), so a file version is read from exactly the bytes the analysis indexed:
// - findEntryAt: the last entry at a path in an uncompressed tar in a byte range, by seeking
//   (headers only, then the one body);
// - EntryFinder: the same from tar bytes pushed in order (a compressed layer, a stream);
// - layerTar: a blob (plain, gzip, zstd) as its uncompressed tar, hashing the blob and the tar;
// - archiveMembers: the members of an image archive read as a stream (the engine's export, a
//   `docker save` compressed as a whole), each with its body.
// A later entry at the same path wins, as it does in the merge.
import { createHash, type Hash } from 'node:crypto';
import { CancelledError, ImageFormatError } from '../errors';
import { openDecompressed, sniffCompression, toFormatError, type ByteSource, type Compression } from './decompress';
import { normalizeEntryPath } from './paths';
import { TarParser, TarSeekWalker, type EntrySink, type RandomAccess, type TarHeader } from './tarWalk';
import type { EntryType } from '../types';

/** One entry of a layer, with its content. */
export interface EntryContent {
  type: EntryType;
  /** Regular-file bytes; a symlink's target as text; empty otherwise. */
  data: Buffer;
  /** Bytes of content (regular files; 0 for everything else). */
  size: number;
  mode: number;
  /** Seconds since the epoch. */
  mtime: number;
  /** A symlink's target as written; a hardlink's target as an absolute path in the layer. */
  linkname?: string;
}

const TYPES: Partial<Record<NonNullable<TarHeader['type']>, EntryType>> = {
  file: 'file', 'contiguous-file': 'file', directory: 'dir', symlink: 'symlink', link: 'hardlink',
  'character-device': 'char', 'block-device': 'block', fifo: 'fifo',
};

/** An entry found, before its body is read. */
export interface FoundEntry {
  header: TarHeader;
  type: EntryType;
  /** Offset of the body (findEntryAt: in the RandomAccess). */
  dataOffset: number;
}

function entryOf(header: TarHeader, type: EntryType, data: Buffer): EntryContent {
  const linkname = type === 'hardlink' ? normalizeEntryPath(header.linkname ?? '').path
    : type === 'symlink' ? header.linkname ?? '' : undefined;
  return {
    type, size: type === 'file' ? header.size : 0, mode: header.mode & 0o7777, mtime: header.mtime, linkname,
    data: type === 'file' ? data : type === 'symlink' ? Buffer.from(linkname ?? '', 'utf8') : Buffer.alloc(0),
  };
}

/** A file larger than the caller will hold. */
export class EntryTooBigError extends ImageFormatError {
  constructor(path: string, readonly bytes: number, max: number) {
    super('limit', `${path} is ${bytes} bytes: larger than the ${max}-byte limit for reading a file version`);
  }
}

/** The tar entry at `path` (normalized, absolute), the last one if the tar has several. */
function matcher(path: string): (h: TarHeader) => EntryType | undefined {
  return (h) => {
    const type = h.type ? TYPES[h.type] : undefined;
    return type && normalizeEntryPath(h.name).path === path ? type : undefined;
  };
}

/** The last entry at `path` in the uncompressed tar in [offset, offset+size) of `access`, by seeking. */
export function findEntryAt(access: RandomAccess, offset: number, size: number, path: string): FoundEntry | undefined {
  const match = matcher(path);
  const walker = new TarSeekWalker(access, offset, offset + size);
  let found: FoundEntry | undefined;
  for (let e = walker.next(); e; e = walker.next()) {
    const type = match(e.header);
    if (type) found = { header: e.header, type, dataOffset: e.dataOffset };
  }
  return found;
}

/** The content of an entry findEntryAt found (at most maxBytes of file content). */
export function readFoundEntry(access: RandomAccess, found: FoundEntry, path: string, maxBytes: number): EntryContent {
  const { header, type } = found;
  if (type !== 'file') return entryOf(header, type, Buffer.alloc(0));
  if (header.size > maxBytes) throw new EntryTooBigError(path, header.size, maxBytes);
  const data = Buffer.allocUnsafe(header.size);
  for (let got = 0; got < header.size;) {
    const n = access.readInto(got === 0 ? data : data.subarray(got), header.size - got, found.dataOffset + got);
    if (n <= 0) throw new ImageFormatError('truncated', 'unexpected end of data: the tar ends inside an entry');
    got += n;
  }
  return entryOf(header, type, data);
}

/** Finds the last entry at `path` in tar bytes written to it in order; result() after the last write. */
export class EntryFinder {
  private readonly parser: TarParser;
  private found: EntryContent | undefined;
  private tooBig: number | undefined;

  constructor(private readonly path: string, private readonly maxBytes: number) {
    const match = matcher(path);
    this.parser = new TarParser((h) => {
      const type = match(h);
      if (!type) return null;
      if (type === 'file' && h.size > this.maxBytes) {
        this.found = undefined;
        this.tooBig = h.size;
        return null;
      }
      this.tooBig = undefined;
      const parts: Buffer[] = [];
      return {
        write: (c: Buffer) => { if (type === 'file') parts.push(Buffer.from(c)); },
        end: () => { this.found = entryOf(h, type, Buffer.concat(parts)); },
      } satisfies EntrySink;
    });
  }

  write(chunk: Buffer): void {
    this.parser.push(chunk);
  }

  /** The entry (undefined: the tar has none at the path); throws if the tar ended early or the entry is too big. */
  result(): EntryContent | undefined {
    this.parser.end();
    if (this.tooBig !== undefined) throw new EntryTooBigError(this.path, this.tooBig, this.maxBytes);
    return this.found;
  }
}

/** Where EntryStream puts a body: begin() at each entry at the path (a later one replaces an earlier one). */
export interface BodySink {
  begin(): void;
  write(chunk: Buffer): void;
}

/**
 * Finds the last entry at `path` in tar bytes written to it in order, like EntryFinder, without
 * holding its body: a regular file's bytes go to `body` as they pass. result() after the last
 * write: the entry with empty `data` for a regular file (its bytes are the body's), undefined
 * when the tar has none at the path.
 */
export class EntryStream implements TarConsumer<EntryContent | undefined> {
  private readonly parser: TarParser;
  private found: EntryContent | undefined;

  constructor(path: string, body: BodySink) {
    const match = matcher(path);
    this.parser = new TarParser((h) => {
      const type = match(h);
      if (!type) return null;
      body.begin();
      if (type !== 'file') {
        this.found = entryOf(h, type, Buffer.alloc(0));
        return null;
      }
      this.found = undefined;
      return {
        write: (c: Buffer) => body.write(c),
        end: () => { this.found = entryOf(h, type, Buffer.alloc(0)); },
      } satisfies EntrySink;
    });
  }

  write(chunk: Buffer): void {
    this.parser.push(chunk);
  }

  /** The entry (undefined: none at the path); throws if the tar ended early. */
  result(): EntryContent | undefined {
    this.parser.end();
    return this.found;
  }
}

/** The sha256 digests of a layer as read: of the blob (its bytes as stored) and of its tar. */
export interface LayerDigests {
  blob: string;
  tar: string;
  compression: Compression;
}

const hex = (h: Hash): string => 'sha256:' + h.digest('hex');

/**
 * A layer blob (plain, gzip or zstd, detected from its bytes) as its uncompressed tar, in chunks;
 * `digests()` gives the blob's and the tar's sha256 once every chunk has been read (a plain blob is
 * its tar: hashed once, passed through as it comes). With `hash: false` nothing is hashed (the
 * layer's digests were checked before).
 */
export function layerTar(blob: ByteSource, opts: { hash?: boolean; signal?: AbortSignal } = {}): { chunks: AsyncIterable<Buffer>; digests(): LayerDigests } {
  const hash = opts.hash !== false;
  const blobHash = hash ? createHash('sha256') : null;
  const tarHash = hash ? createHash('sha256') : null;
  let compression: Compression | undefined;
  let done = false;
  const asBuffer = (c: Uint8Array): Buffer => (Buffer.isBuffer(c) ? c : Buffer.from(c.buffer, c.byteOffset, c.byteLength));
  async function* tar(): AsyncGenerator<Buffer> {
    // Every blob byte is hashed as it passes into the decompressor's sniffing and decoding; a plain
    // blob is its own tar (openDecompressed passes it through), so it is hashed once.
    async function* blobChunks(): AsyncGenerator<Buffer> {
      for await (const c of blob) {
        const b = asBuffer(c);
        blobHash?.update(b);
        yield b;
      }
    }
    const dec = await openDecompressed(blobChunks());
    compression = dec.compression;
    const plain = compression === 'none';
    const out = (dec.stream as AsyncIterable<Buffer>)[Symbol.asyncIterator]();
    try {
      for (;;) {
        let r: IteratorResult<Buffer>;
        try {
          r = await out.next();
        } catch (e) {
          throw plain ? e : toFormatError(e, `a ${compression} layer`);
        }
        if (r.done) break;
        if (opts.signal?.aborted) throw new CancelledError();
        if (!plain) tarHash?.update(r.value);
        yield r.value;
      }
    } finally {
      dec.stream.destroy();
    }
    done = true;
  }
  return {
    chunks: tar(),
    digests: () => {
      if (!done || !blobHash || !tarHash) throw new Error('layerTar: digests before the end of the layer, or without hashing');
      const blobDigest = hex(blobHash);
      return { blob: blobDigest, tar: compression === 'none' ? blobDigest : hex(tarHash), compression: compression ?? 'none' };
    },
  };
}

/** One member of an image archive read as a stream: its header, path (archive-relative) and body. */
export interface StreamMember {
  header: TarHeader;
  path: string;
  /** The member's bytes; what the caller leaves unread is skipped when it asks for the next member. */
  body: AsyncIterable<Buffer>;
}

type MemberEvent = { header: TarHeader } | { chunk: Buffer } | { end: true };

/**
 * The members of an image archive (plain, or compressed as a whole), in order, each body read on
 * demand from the source: nothing is held but the chunk being parsed. Stop iterating to abandon
 * the source.
 */
export async function* archiveMembers(source: ByteSource): AsyncGenerator<StreamMember> {
  const { stream } = await openDecompressed(source);
  const input = (stream as AsyncIterable<Buffer>)[Symbol.asyncIterator]();
  let queue: MemberEvent[] = [];
  let at = 0;
  let ended = false;
  const sink: EntrySink = { write: (chunk) => queue.push({ chunk }), end: () => queue.push({ end: true }) };
  const parser = new TarParser((header) => { queue.push({ header }); return sink; });
  const next = async (): Promise<MemberEvent | undefined> => {
    while (at >= queue.length) {
      queue = [];
      at = 0;
      if (ended) return undefined;
      let r: IteratorResult<Buffer>;
      try {
        r = await input.next();
      } catch (e) {
        throw toFormatError(e, 'the image archive');
      }
      if (r.done) {
        ended = true;
        parser.end();
      } else {
        parser.push(r.value);
      }
    }
    return queue[at++];
  };
  try {
    for (;;) {
      let ev = await next();
      while (ev && !('header' in ev)) ev = await next(); // the rest of a body left unread
      if (!ev) return;
      const header = ev.header;
      const body = (async function* (): AsyncGenerator<Buffer> {
        for (let e = await next(); e && 'chunk' in e; e = await next()) yield e.chunk;
      })();
      yield { header, path: normalizeEntryPath(header.name).path.slice(1), body };
      await body.return(undefined);
    }
  } finally {
    stream.destroy();
  }
}

/** The first bytes of a member, and an iterable of all of it (those bytes included). */
export async function peek(body: AsyncIterable<Buffer>, min: number): Promise<{ head: Buffer; all: AsyncIterable<Buffer> }> {
  const it = body[Symbol.asyncIterator]();
  const parts: Buffer[] = [];
  let len = 0;
  let done = false;
  while (len < min) {
    const r = await it.next();
    if (r.done) { done = true; break; }
    parts.push(r.value);
    len += r.value.length;
  }
  const head = Buffer.concat(parts);
  async function* all(): AsyncGenerator<Buffer> {
    if (head.length) yield head;
    if (done) return;
    for (;;) {
      const r = await it.next();
      if (r.done) return;
      yield r.value;
    }
  }
  return { head, all: all() };
}

/** A member that looks like a JSON document (a config, a manifest), not a layer. */
export function looksLikeJson(head: Buffer, compression = sniffCompression(head)): boolean {
  return compression === 'none' && /^\s*[[{]/.test(head.toString('latin1', 0, 64));
}

/** What reads a candidate layer's tar (bytes pushed in order; result() after the last). */
export interface TarConsumer<T> {
  write(chunk: Buffer): void;
  result(): T;
}

/** The layer wanted from an archive stream. */
export interface StreamLayerWant {
  diffId: string;
  /** Its uncompressed size, when known: uncompressed members of another size are skipped unread. */
  tarBytes?: number;
  /** Its member path, when known: no other member is read. */
  member?: string;
}

function wrongBlob(member: string, named: string, got: string): ImageFormatError {
  return new ImageFormatError('corrupt', `the archive member ${member} does not match its blob digest ${named}: its blob hashes to ${got}`);
}

/**
 * Finds a layer in an image archive read as a stream (the engine's export, a `docker save` file
 * compressed as a whole) by its content: every member that may be a layer is decompressed, hashed
 * and pushed into a fresh consumer; the first whose tar hashes to the diffID gives the consumer's
 * result (a member named `blobs/sha256/<hex>` must also hash to that blob digest). The stream is
 * abandoned there. Undefined when no member is the layer. Identified by its hash, the layer is
 * checked by the same token.
 */
export async function scanArchiveForLayer<T>(
  source: ByteSource, want: StreamLayerWant, consumer: () => TarConsumer<T>, signal?: AbortSignal,
): Promise<{ member: string; result: T } | undefined> {
  const members = archiveMembers(source);
  try {
    for await (const m of members) {
      if (signal?.aborted) throw new CancelledError();
      if (want.member !== undefined && m.path !== want.member) continue;
      const type = m.header.type;
      if ((type !== 'file' && type !== 'contiguous-file') || m.header.size === 0) continue;
      const { head, all } = await peek(m.body, 512);
      const compression = sniffCompression(head);
      if (compression === 'none' && want.member === undefined) {
        if (want.tarBytes !== undefined && m.header.size !== want.tarBytes) continue;
        if (looksLikeJson(head, compression)) continue;
      }
      const layer = layerTar(all, { signal });
      const c = consumer();
      let failed: unknown;
      try {
        for await (const chunk of layer.chunks) {
          if (failed !== undefined) continue;
          try { c.write(chunk); } catch (e) { failed = e; }
        }
      } catch (e) {
        if (e instanceof CancelledError || (e instanceof ImageFormatError && e.code === 'limit')) throw e;
        if (want.member !== undefined) throw e;
        continue; // not a layer after all (a compressed member that does not decompress)
      }
      const d = layer.digests();
      if (d.tar !== want.diffId) continue;
      const named = /^blobs\/sha256\/[a-f0-9]{64}$/.test(m.path) ? 'sha256:' + m.path.slice(13) : undefined;
      if (named !== undefined && d.blob !== named) throw wrongBlob(m.path, named, d.blob);
      if (failed !== undefined) throw failed;
      return { member: m.path, result: c.result() };
    }
    return undefined;
  } finally {
    await members.return(undefined);
  }
}

/**
 * The uncompressed tar of the member `member` of an image archive read as a stream, checked: the
 * iteration throws at its end unless the tar hashes to `diffId` (and a `blobs/sha256/<hex>` member
 * to that digest), or when the archive has no such member.
 */
export async function* memberTar(source: ByteSource, member: string, diffId: string, signal?: AbortSignal): AsyncGenerator<Buffer> {
  const members = archiveMembers(source);
  try {
    for await (const m of members) {
      if (m.path !== member) continue;
      const layer = layerTar(m.body, { signal });
      yield* layer.chunks;
      const d = layer.digests();
      if (d.tar !== diffId) throw new ImageFormatError('corrupt', `the archive member ${member} does not match its diffID ${diffId}: its tar hashes to ${d.tar}`);
      const named = /^blobs\/sha256\/[a-f0-9]{64}$/.test(member) ? 'sha256:' + member.slice(13) : undefined;
      if (named !== undefined && d.blob !== named) throw wrongBlob(member, named, d.blob);
      return;
    }
    throw new ImageFormatError('missing', `the archive has no member ${member}`);
  } finally {
    await members.return(undefined);
  }
}

/** One regular file a FilesCollector kept: its path (normalized, absolute) and bytes. */
export interface CollectedFile {
  path: string;
  data: Buffer;
}

/**
 * Keeps the regular files of a layer's tar that `want(path, size)` asks for, in tar order (a later
 * entry at the same path replaces an earlier one, as in the merge), from bytes pushed in order.
 * Files larger than `maxBytes` are never held. Nothing is written anywhere: the bytes stay in memory
 * for the caller. result() after the last write.
 */
export class FilesCollector implements TarConsumer<CollectedFile[]> {
  private readonly parser: TarParser;
  private readonly files = new Map<string, Buffer>();

  constructor(want: (path: string, size: number) => boolean, maxBytes: number) {
    this.parser = new TarParser((h) => {
      const type = h.type ? TYPES[h.type] : undefined;
      const path = normalizeEntryPath(h.name).path;
      if (type !== 'file') { this.files.delete(path); return null; }
      if (h.size > maxBytes || !want(path, h.size)) { this.files.delete(path); return null; }
      const parts: Buffer[] = [];
      return {
        write: (c: Buffer) => { parts.push(Buffer.from(c)); },
        end: () => { this.files.set(path, Buffer.concat(parts)); },
      } satisfies EntrySink;
    });
  }

  write(chunk: Buffer): void {
    this.parser.push(chunk);
  }

  result(): CollectedFile[] {
    this.parser.end();
    return [...this.files].map(([path, data]) => ({ path, data }));
  }
}
