// The streaming reader of image archives (the engine's export stream, a `docker save` file read as
// a stream, an OCI layout packed in a tar, any of them gzip/zstd-compressed as a whole), built on
// our synchronous tar parser: every chunk goes through the outer parser and, for layer members,
// straight into the layer's parser in the same call — no stream object, promise or copy per
// entry. Only gzip layers inside the archive go through zlib's asynchronous stream (off the main
// thread), with backpressure back to the source.
//
// Optional: `knownLayer` names layers whose index is already known (the persistent cache); such a
// member is hashed instead of parsed and taken only if its sha256 is the expected diffID.
// `hashLayers` computes every uncompressed layer's sha256 (its diffID) while reading.
import { createHash, type Hash } from 'node:crypto';
import type { Readable } from 'node:stream';
import { createGunzip, type Gunzip, type ZlibOptions } from 'node:zlib';
import { Decompress as ZstdDecompress } from 'fzstd';
import { CancelledError, ImageFormatError } from '../errors';
import { openDecompressed, releaseChunk, sniffCompression, toFormatError, type ByteSource, type Compression, type LendingSource } from './decompress';
import { withFacts } from '../indexCodec';
import { LayerIndexBuilder } from './layerBuilder';
import { archiveRel } from './paths';
import { TarParser, type EntrySink, type TarHeader } from './tarWalk';
import type { LayerIndex } from '../types';

export interface ArchiveContents {
  /** Small documents (JSON and the like) by path relative to the archive root. */
  docs: Map<string, Buffer>;
  layers: Map<string, LayerIndex>;
  /** Symlinks and hardlinks between archive members (Docker 25+ links layer.tar to blobs). */
  links: Map<string, string>;
  /** Members that could not be read as layers: an error only if the manifest names them. */
  layerErrors: Map<string, Error>;
  warnings: string[];
}

export interface ReadArchiveOptions {
  signal?: AbortSignal;
  /** Documents larger than this are never buffered (default 16 MiB). */
  maxDocBytes?: number;
  /** Called as each layer finishes (for progress and partial results). */
  onLayer?: (path: string, layer: LayerIndex) => void;
  /** Called with bytes read so far of the outer stream. */
  onProgress?: (bytes: number) => void;
  maxEntriesPerLayer?: number;
}

export interface KnownLayer {
  diffId: string;
  index: LayerIndex;
  /** sha256 (hex) of the layer's header blocks and long-name/PAX records: what its index depends on. */
  hdr: string;
}

export interface KnownLayerQuery {
  /** Member path relative to the archive root. */
  path: string;
  /** Member size in bytes (the uncompressed tar's size: only uncompressed members are asked about). */
  size: number;
  /** The member's first min(size, HEAD_BYTES) bytes. */
  head: Buffer;
}

/** How many leading bytes of a layer tar identify it together with its size (the cache stores their sha256). */
export const HEAD_BYTES = 64 * 1024;

export interface StreamArchiveOptions extends ReadArchiveOptions {
  /**
   * A cached index for an uncompressed layer member: its headers are still walked (to skip the
   * bodies) but not turned into entries, and the cached index is taken only if the digest of the
   * header blocks equals the cached one (same headers, same index).
   */
  knownLayer?: (q: KnownLayerQuery) => KnownLayer | undefined;
  /** Compute the sha256 of every layer tar read (uncompressed bytes). */
  hashLayers?: boolean;
  /**
   * With hashLayers, also the sha256 of compressed members as stored (default true); false when
   * the caller hashes the blob itself as it arrives.
   */
  hashBlobs?: boolean;
}

export interface StreamArchiveContents extends ArchiveContents {
  /** sha256 ("sha256:…") of layer tars that were hashed (hashLayers, or verified known layers). */
  layerDigests: Map<string, string>;
  /** sha256 of compressed layer members as stored (hashLayers): their blob digests. */
  layerBlobDigests: Map<string, string>;
  /** sha256 of each parsed uncompressed layer's first HEAD_BYTES (for the cache). */
  layerHeads: Map<string, string>;
  /** sha256 of each layer's header blocks and long-name/PAX records (for the cache). */
  layerHdrs: Map<string, string>;
  /** Members taken from `knownLayer` after their hash matched. */
  fromCache: Set<string>;
  /** Members offered by `knownLayer` whose header digest did not match: their index is missing. */
  cacheMismatches: string[];
}

/** Whether a member's first bytes start a JSON document (after whitespace): `{` or `[`. */
export function looksLikeDoc(first: Buffer): boolean {
  for (const b of first) {
    if (b === 0x20 || b === 0x0a || b === 0x0d || b === 0x09) continue;
    return b === 0x7b /* { */ || b === 0x5b /* [ */;
  }
  return false;
}

/** An archive's own manifest (manifest.json, index.json at its root): a document whatever it holds. */
export function isManifestName(path: string): boolean {
  return path === 'manifest.json' || path === 'index.json';
}

/** A tar error from our parser names the layer it happened in. */
export function labelled(e: unknown, label: string): Error {
  if (e instanceof ImageFormatError) {
    return e.message.startsWith(label) ? e : new ImageFormatError(e.code, `${label}: ${e.message}`);
  }
  return toFormatError(e, label);
}

/** Resolves when a writable can take more (or is done or broken). */
function writable(w: Gunzip): Promise<void> {
  return new Promise((resolve) => {
    const done = (): void => { w.off('drain', done); w.off('error', done); w.off('close', done); resolve(); };
    w.on('drain', done); w.on('error', done); w.on('close', done);
  });
}

interface Ctx {
  opts: StreamArchiveOptions;
  out: StreamArchiveContents;
  waits: Promise<void>[];
  fatal: Error | null;
  /** The source lends its chunks (see releaseChunk): whatever is kept past a write() is copied. */
  lent: boolean;
}

/** One layer member: sniffs compression, then parses (or hashes, when known) as bytes arrive. */
class LayerSink implements EntrySink {
  private head: Buffer[] = [];
  private headLen = 0;
  private mode: 'sniff' | 'none' | 'gzip' | 'zstd' | 'known' | 'failed' = 'sniff';
  private readonly builder: LayerIndexBuilder;
  private readonly parser: TarParser;
  private hash: Hash | null;
  /** The member's bytes as stored, when it is compressed and layers are hashed. */
  private blobHash: Hash | null = null;
  private headHash: Hash | null = null;
  private readonly hdrHash: Hash = createHash('sha256');
  private headSeen = 0;
  private tarBytes = 0;
  private compression: Compression = 'none';
  private gz: Gunzip | null = null;
  private zst: ZstdDecompress | null = null;
  private zstEnded = false;
  private known: KnownLayer | undefined;
  private readonly label: string;

  constructor(private readonly ctx: Ctx, private readonly path: string, private readonly size: number, label?: string) {
    this.label = label ?? `layer ${path}`;
    this.builder = new LayerIndexBuilder(this.label, ctx.opts.maxEntriesPerLayer, size / 1024);
    // A known layer's headers are walked but not turned into entries.
    this.parser = new TarParser((h: TarHeader) => { if (this.mode !== 'known') this.builder.add(h); }, (b) => this.hdrHash.update(b), {
      raw: (buf, off) => this.mode === 'known' || this.builder.raw(buf, off),
    });
    this.hash = ctx.opts.hashLayers ? createHash('sha256') : null;
  }

  write(chunk: Buffer): void {
    if (this.mode === 'failed') return;
    try {
      if (this.mode === 'sniff') {
        this.headLen += chunk.length;
        if (this.headLen < 4 && this.headLen < this.size) {
          // Too short to sniff: kept until the next write, so copied (the source may lend it).
          this.head.push(Buffer.from(chunk));
          return;
        }
        this.head.push(chunk);
        const first = this.head.length === 1 ? this.head[0] : Buffer.concat(this.head);
        this.head = [];
        this.start(first);
        return;
      }
      this.feed(chunk);
    } catch (e) {
      this.fail(e);
    }
  }

  private start(first: Buffer): void {
    this.compression = sniffCompression(first);
    if (this.hash && this.compression !== 'none' && this.ctx.opts.hashBlobs !== false) this.blobHash = createHash('sha256');
    if (this.compression === 'gzip') {
      this.mode = 'gzip';
      // Big output chunks: one parser call per 128 KiB instead of per 16 KiB.
      // The reader may run up to 4 MiB ahead of zlib, so reading the file overlaps decompression.
      const gz = createGunzip({ chunkSize: 128 * 1024, writableHighWaterMark: 4 * 1024 * 1024 } as ZlibOptions);
      this.gz = gz;
      gz.on('data', (d: Buffer) => { if (this.mode === 'gzip') { try { this.tar(d); } catch (e) { this.fail(e); gz.destroy(); } } });
      gz.on('error', (e) => this.fail(e));
    } else if (this.compression === 'zstd') {
      this.mode = 'zstd';
      this.zst = new ZstdDecompress((c: Uint8Array, final?: boolean) => {
        if (c.length) this.tar(Buffer.from(c.buffer, c.byteOffset, c.byteLength));
        if (final) this.zstEnded = true;
      });
    } else {
      this.mode = 'none';
      if (this.ctx.opts.knownLayer && this.size > 0) this.askHead = [];
      this.headHash = createHash('sha256');
    }
    this.feed(first);
  }

  private feed(chunk: Buffer): void {
    this.blobHash?.update(chunk);
    switch (this.mode) {
      case 'none': case 'known': this.tar(chunk); return;
      // zlib and fzstd keep input they have not used yet: lent bytes are copied first.
      case 'gzip':
        if (!this.gz!.write(this.ctx.lent ? Buffer.from(chunk) : chunk)) this.ctx.waits.push(writable(this.gz!));
        return;
      case 'zstd':
        try { this.zst!.push(this.ctx.lent ? Buffer.from(chunk) : chunk); } catch (e) { throw new ImageFormatError('corrupt', `corrupt zstd data: ${(e as Error).message}`); }
        return;
      default:
        return;
    }
  }

  /** Uncompressed tar bytes: (for a plain member, first ask the cache once the head is here), hash, parse. */
  private tar(chunk: Buffer): void {
    if (this.askHead) {
      const need = Math.min(this.size, HEAD_BYTES) - this.askHeadLen;
      if (chunk.length < need) {
        this.askHead.push(Buffer.from(chunk));
        this.askHeadLen += chunk.length;
      } else {
        this.askHead.push(Buffer.from(chunk.subarray(0, need)));
        const head = Buffer.concat(this.askHead);
        this.askHead = null;
        const known = this.ctx.opts.knownLayer!({ path: this.path, size: this.size, head });
        if (known) {
          // From here on the headers are only digested; the entries parsed so far are dropped.
          this.known = known;
          this.mode = 'known';
        }
      }
    }
    this.hash?.update(chunk);
    if (this.headHash && this.headSeen < HEAD_BYTES) {
      const take = Math.min(HEAD_BYTES - this.headSeen, chunk.length);
      this.headHash.update(take === chunk.length ? chunk : chunk.subarray(0, take));
      this.headSeen += take;
    }
    this.tarBytes += chunk.length;
    this.parser.push(chunk);
  }

  /** Head bytes collected for the knownLayer question (plain members, when the option is set). */
  private askHead: Buffer[] | null = null;
  private askHeadLen = 0;

  private fail(e: unknown): void {
    if (this.mode === 'failed') return;
    this.mode = 'failed';
    this.gz?.destroy();
    const err = labelled(e, this.label);
    if (err instanceof ImageFormatError && err.code !== 'limit') this.ctx.out.layerErrors.set(this.path, err);
    else this.ctx.fatal ??= err;
  }

  end(): void {
    try {
      if (this.mode === 'sniff') {
        const first = Buffer.concat(this.head);
        this.head = [];
        this.start(first);
      }
      if (this.mode === 'gzip') {
        const gz = this.gz!;
        this.ctx.waits.push(new Promise<void>((resolve) => {
          gz.once('end', () => { this.finish(); resolve(); });
          gz.once('error', () => resolve());
          gz.once('close', () => resolve());
          gz.end();
        }));
        return;
      }
      if (this.mode === 'zstd') {
        try { this.zst!.push(new Uint8Array(0), true); } catch (e) {
          throw new ImageFormatError('truncated', `truncated zstd data: ${(e as Error).message}`);
        }
        if (!this.zstEnded) throw new ImageFormatError('truncated', 'truncated zstd data: the stream ended inside a frame');
      }
      this.finish();
    } catch (e) {
      this.fail(e);
    }
  }

  private finish(): void {
    if (this.mode === 'failed') return;
    try {
      const out = this.ctx.out;
      if (this.mode === 'known') {
        this.parser.end();
        if (this.hash) out.layerDigests.set(this.path, 'sha256:' + this.hash.digest('hex'));
        if (this.hdrHash.digest('hex') !== this.known!.hdr) { out.cacheMismatches.push(this.path); return; }
        const layer = withFacts(this.known!.index, { diffId: '', compression: 'none' });
        out.fromCache.add(this.path);
        out.layers.set(this.path, layer);
        this.ctx.opts.onLayer?.(this.path, layer);
        return;
      }
      this.parser.end();
      if (this.hash) out.layerDigests.set(this.path, 'sha256:' + this.hash.digest('hex'));
      if (this.blobHash) out.layerBlobDigests.set(this.path, 'sha256:' + this.blobHash.digest('hex'));
      if (this.headHash) out.layerHeads.set(this.path, this.headHash.digest('hex'));
      out.layerHdrs.set(this.path, this.hdrHash.digest('hex'));
      const layer = this.builder.finish({ diffId: '', tarBytes: this.tarBytes, compression: this.compression });
      out.layers.set(this.path, layer);
      this.ctx.opts.onLayer?.(this.path, layer);
    } catch (e) {
      this.fail(e);
    }
  }
}

/**
 * One layer blob (plain, gzip or zstd) indexed from chunks the caller pushes: plain tars and zstd
 * are parsed synchronously inside write(); gzip goes through zlib's threadpool stream (pending()
 * gives the backpressure to wait for). No stream objects, no per-chunk promises otherwise.
 */
export class BlobIndexer {
  private readonly ctx: Ctx;
  private readonly sink: LayerSink;
  private static readonly KEY = 'blob';

  /**
   * `hash`: compute the sha256 of the uncompressed tar (tarDigest, after end()); `hashBlob: false`:
   * not of the blob as stored too (the caller hashes the bytes it writes).
   */
  constructor(private readonly label: string, size: number, maxEntries?: number, hash = false, hashBlob = true) {
    this.ctx = {
      opts: { maxEntriesPerLayer: maxEntries, hashLayers: hash, hashBlobs: hashBlob },
      out: {
        docs: new Map(), layers: new Map(), links: new Map(), layerErrors: new Map(), warnings: [],
        layerDigests: new Map(), layerBlobDigests: new Map(), layerHeads: new Map(), layerHdrs: new Map(), fromCache: new Set(), cacheMismatches: [],
      },
      waits: [],
      fatal: null,
      lent: false,
    };
    this.sink = new LayerSink(this.ctx, BlobIndexer.KEY, size, label);
  }

  private check(): void {
    if (this.ctx.fatal) throw this.ctx.fatal;
    const err = this.ctx.out.layerErrors.get(BlobIndexer.KEY);
    if (err) throw err;
  }

  /** Feeds bytes (the chunk must not be reused by the caller: zlib may still hold it). */
  write(chunk: Buffer): void {
    this.sink.write(chunk);
    this.check();
  }

  /** A promise to wait for before writing more (gzip backpressure), or null. */
  pending(): Promise<void> | null {
    if (this.ctx.waits.length === 0) return null;
    const w = this.ctx.waits;
    this.ctx.waits = [];
    return Promise.all(w).then(() => this.check());
  }

  async end(diffId = ''): Promise<LayerIndex> {
    this.sink.end();
    while (this.ctx.waits.length) {
      const w = this.ctx.waits;
      this.ctx.waits = [];
      await Promise.all(w);
    }
    this.check();
    const layer = this.ctx.out.layers.get(BlobIndexer.KEY);
    if (!layer) throw new ImageFormatError('truncated', `${this.label}: the layer ended early`);
    if (diffId) layer.diffId = diffId;
    return layer;
  }

  /** sha256 ("sha256:…") of the uncompressed tar, after end() (constructed with `hash`). */
  get tarDigest(): string | undefined {
    return this.ctx.out.layerDigests.get(BlobIndexer.KEY);
  }
}

/** A small member kept in memory: a JSON document, or (if it is not JSON) a layer after all. */
class DocSink implements EntrySink {
  private parts: Buffer[] = [];
  private len = 0;
  private decided: 'doc' | 'layer' | null = null;
  private layer: LayerSink | null = null;

  constructor(private readonly ctx: Ctx, private readonly path: string, private readonly size: number, private readonly isDocName: boolean) {}

  write(chunk: Buffer): void {
    if (this.decided === 'layer') { this.layer!.write(chunk); return; }
    this.parts.push(Buffer.from(chunk));
    this.len += chunk.length;
    if (this.decided === null && (this.len >= Math.min(this.size, 512))) this.decide();
  }

  private decide(): void {
    const head = Buffer.concat(this.parts);
    const maxDoc = this.ctx.opts.maxDocBytes ?? 16 * 1024 * 1024;
    if ((this.size <= maxDoc && (looksLikeDoc(head) || isManifestName(this.path))) || (this.isDocName && this.size <= 4096)) {
      this.parts = [head];
      this.decided = 'doc';
      return;
    }
    this.decided = 'layer';
    this.layer = new LayerSink(this.ctx, this.path, this.size);
    this.parts = [];
    this.layer.write(head);
  }

  end(): void {
    if (this.decided === null) this.decide();
    if (this.decided === 'layer') { this.layer!.end(); return; }
    const buf = Buffer.concat(this.parts);
    this.parts = [];
    let isJson = this.isDocName || isManifestName(this.path);
    if (!isJson) { try { JSON.parse(buf.toString('utf8')); isJson = true; } catch { isJson = false; } }
    if (isJson) { this.ctx.out.docs.set(this.path, buf); return; }
    // Not JSON after all: read it as a layer from memory (it is at most maxDocBytes).
    const l = new LayerSink(this.ctx, this.path, this.size);
    l.write(buf);
    l.end();
  }
}

function isReadable(x: unknown): x is Readable {
  const r = x as Readable | undefined;
  return typeof r?.on === 'function' && typeof r?.pause === 'function' && typeof r?.resume === 'function' && typeof r?.destroy === 'function';
}

/** The first chunk of a Readable (left paused), or null if it ends first. */
function firstChunk(src: Readable): Promise<Buffer | null> {
  return new Promise((resolve, reject) => {
    const done = (): void => { src.off('data', onData); src.off('end', onEnd); src.off('error', onError); };
    const onData = (c: Buffer): void => { src.pause(); done(); resolve(c); };
    const onEnd = (): void => { done(); resolve(null); };
    const onError = (e: Error): void => { done(); reject(e); };
    src.on('data', onData);
    src.once('end', onEnd);
    src.once('error', onError);
  });
}

/**
 * Calls fn on every chunk, in order, waiting for its promise when it returns one, then `done` with
 * the chunk (a lending source's release: fn keeps nothing of it past that point). A Node Readable
 * is read in flowing mode: an async iterator's read() concatenates whatever is buffered (a copy of
 * every byte through a 1 MiB buffer for the engine's export stream); 'data' events do not.
 */
function forEachChunk(src: Readable | AsyncIterator<Uint8Array>, fn: (c: Uint8Array) => void | Promise<void>, done?: (c: Uint8Array) => void): Promise<void> {
  if (!isReadable(src)) {
    return (async () => {
      for (;;) {
        const r = await src.next();
        if (r.done) return;
        await fn(r.value);
        done?.(r.value);
      }
    })();
  }
  return new Promise((resolve, reject) => {
    let failed = false;
    let ended = false;
    let pending = 0;
    const cleanup = (): void => { src.off('data', onData); src.off('end', onEnd); src.off('error', onError); src.off('close', onClose); };
    const fail = (e: unknown): void => {
      if (failed) return;
      failed = true;
      cleanup();
      if (!src.destroyed) src.destroy();
      reject(e);
    };
    const onData = (c: Buffer): void => {
      if (failed) return;
      let r: void | Promise<void>;
      try { r = fn(c); } catch (e) { fail(e); return; }
      if (!r) { done?.(c); return; }
      pending++;
      src.pause();
      r.then(() => {
        pending--;
        done?.(c);
        if (failed) return;
        if (ended && pending === 0) { cleanup(); resolve(); } else src.resume();
      }, fail);
    };
    const onEnd = (): void => { ended = true; if (pending === 0 && !failed) { cleanup(); resolve(); } };
    const onError = (e: Error): void => fail(e);
    const onClose = (): void => { if (!ended) fail(new Error('premature close: the stream ended early')); };
    src.on('data', onData);
    src.on('end', onEnd);
    src.on('error', onError);
    src.on('close', onClose);
    src.resume();
  });
}

/** `first`, then what `rest` yields (a stream whose first chunk was read to sniff it). */
export async function* withFirst<T>(first: T, rest: AsyncIterator<T>): AsyncGenerator<T> {
  yield first;
  for (;;) {
    const r = await rest.next();
    if (r.done) return;
    yield r.value;
  }
}

export async function readArchiveStream(source: ByteSource, opts: StreamArchiveOptions = {}): Promise<StreamArchiveContents> {
  const signal = opts.signal;
  if (signal?.aborted) throw new CancelledError();
  const out: StreamArchiveContents = {
    docs: new Map(), layers: new Map(), links: new Map(), layerErrors: new Map(), warnings: [],
    layerDigests: new Map(), layerBlobDigests: new Map(), layerHeads: new Map(), layerHdrs: new Map(), fromCache: new Set(), cacheMismatches: [],
  };
  const lend = (source as LendingSource)[releaseChunk];
  const ctx: Ctx = { opts, out, waits: [], fatal: null, lent: typeof lend === 'function' };
  let members = 0;
  const parser = new TarParser((h) => {
    if (++members > 1_000_000) throw new ImageFormatError('limit', 'the archive has more than a million members');
    const path = archiveRel(h.name);
    if (h.type === 'symlink' || h.type === 'link') {
      const ln = h.linkname ?? '';
      const dir = path.split('/').slice(0, -1).join('/');
      const target = h.type === 'symlink' && !ln.startsWith('/') ? archiveRel(dir + '/' + ln) : archiveRel(ln);
      out.links.set(path, target);
      return null;
    }
    if (h.type !== 'file' && h.type !== 'contiguous-file') return null;
    const isDocName = /(^|\/)(VERSION|repositories|oci-layout)$/.test(path);
    const maxDoc = opts.maxDocBytes ?? 16 * 1024 * 1024;
    if (h.size === 0) {
      if (isDocName) out.docs.set(path, Buffer.alloc(0));
      return null;
    }
    if (h.size <= maxDoc || isDocName) return new DocSink(ctx, path, h.size, isDocName);
    return new LayerSink(ctx, path, h.size);
  });

  let bytes = 0;
  const count = (n: number): void => { bytes += n; opts.onProgress?.(bytes); };
  let plain = true;
  const handle = (raw: Uint8Array): void | Promise<void> => {
    if (signal?.aborted) throw new CancelledError();
    const chunk = Buffer.isBuffer(raw) ? raw : Buffer.from(raw.buffer, raw.byteOffset, raw.byteLength);
    if (plain) count(chunk.length);
    parser.push(chunk);
    if (ctx.fatal) throw ctx.fatal;
    if (ctx.waits.length === 0) return;
    const w = ctx.waits;
    ctx.waits = [];
    return Promise.all(w).then(() => { if (ctx.fatal) throw ctx.fatal; });
  };
  let current: Readable | undefined;
  const onAbort = (): void => { current?.destroy(new CancelledError()); };
  signal?.addEventListener('abort', onAbort, { once: true });
  try {
    // A saved archive may itself be compressed (`docker save | gzip`, `| zstd`): sniff the first chunk.
    let first: Uint8Array | null;
    let rest: Readable | AsyncIterator<Uint8Array>;
    if (isReadable(source)) {
      current = source;
      first = await firstChunk(source);
      rest = source;
    } else {
      const it = (Symbol.asyncIterator in source
        ? (source as AsyncIterable<Uint8Array>)[Symbol.asyncIterator]()
        : (async function* () { yield* source as Iterable<Uint8Array>; })());
      const r = await it.next();
      first = r.done ? null : r.value;
      rest = it;
    }
    if (first !== null && sniffCompression(first) === 'none') {
      await handle(first);
      // Only a plain stream hands chunks back: a compressed one goes through a decompressor that
      // keeps them for as long as it likes.
      await forEachChunk(rest, handle, ctx.lent ? lend : undefined);
    } else if (first !== null) {
      plain = false;
      const it = isReadable(rest) ? (rest as AsyncIterable<Uint8Array>)[Symbol.asyncIterator]() : rest;
      const counted = (async function* () {
        for await (const c of withFirst(first, it)) { count(c.length); yield c; }
      })();
      const dec = (await openDecompressed(counted)).stream;
      current = dec;
      await forEachChunk(dec, handle);
    }
    if (signal?.aborted) throw new CancelledError();
    parser.end();
    while (ctx.waits.length) {
      const w = ctx.waits;
      ctx.waits = [];
      await Promise.all(w);
    }
    if (ctx.fatal) throw ctx.fatal;
  } catch (e) {
    if (signal?.aborted) throw new CancelledError();
    throw labelled(e, 'the image archive');
  } finally {
    signal?.removeEventListener('abort', onAbort);
  }
  if (members === 0) throw new ImageFormatError('corrupt', 'the image archive is empty or not a tar');
  return out;
}
