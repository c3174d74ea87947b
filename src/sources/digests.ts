// Layers read from files, checked against their digests: the diffID (sha256 of the
// uncompressed tar) for every layer, and for a blob named by its digest (an OCI layout's, or one in
// a Docker 25+ `docker save`) the blob's own digest. A `docker save` file or an uncompressed blob
// is indexed by seeking past file bodies, so its bytes are hashed apart from the walk: on a
// layer-blob worker (src/sources/blobPool.ts) beside it when there is much to hash, in this thread
// when little (a worker's start costs what hashing ~50 MB does). A compressed blob is hashed where
// it is decompressed. What was checked is remembered with the layer's cache record (its origin is
// the file's identity: path, size, mtime, inode, and where in the file), so an unchanged file is
// not hashed again. And reading a layer (or one entry of it) from a byte range of a file, checked
// the same way, for the file-version reader and `layerlens cat` (archiveSource.ts, ociSource.ts).
import { createHash } from 'node:crypto';
import { closeSync, createReadStream, fstatSync, openSync, readSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { CancelledError, ImageFormatError } from '../core/image/errors';
import { EntryFinder, findEntryAt, layerTar, readFoundEntry, type EntryContent, type LayerDigests } from '../core/image/tar/layerRead';
import { sniffCompression } from '../core/image/tar/decompress';
import { BlobIndexPool, blobWorkerScript } from './blobPool';
import { Spool, writeSpooled, type CopiedEntry, type SpoolOptions } from './imageSource';
import { openFileAccess } from './fastRead';
import type { LayerIndexCache } from './indexCache';

export type { LayerDigests };

/** What a layer must hash to. */
export interface LayerWant {
  /** How messages name it, e.g. `layer 2 (blobs/sha256/ab12…)`. */
  label: string;
  diffId: string;
  /** The blob digest, when the layer is a blob named by it. */
  blob?: string;
}

/** A layer whose bytes are not the ones its digests name. */
export class LayerDigestError extends ImageFormatError {
  constructor(want: LayerWant, what: 'diffID' | 'blob digest', got: string) {
    const named = what === 'diffID' ? want.diffId : want.blob;
    super('corrupt', `${want.label} does not match its ${what} ${named}: its ${what === 'diffID' ? 'tar' : 'blob'} hashes to ${got} (the layer was changed after the image named it; --no-verify reads it anyway)`);
  }
}

/** Throws LayerDigestError unless `got` are the digests `want` names. */
export function checkLayer(want: LayerWant, got: Pick<LayerDigests, 'blob' | 'tar'>): void {
  if (got.tar !== want.diffId) throw new LayerDigestError(want, 'diffID', got.tar);
  if (want.blob !== undefined && got.blob !== want.blob) throw new LayerDigestError(want, 'blob digest', got.blob);
}

/** The blob digest a member path names (`blobs/sha256/<hex>`), if it is one. */
export function blobDigestOfPath(path: string): string | undefined {
  const m = /(?:^|\/)blobs\/sha256\/([a-f0-9]{64})$/.exec(path);
  return m ? 'sha256:' + m[1] : undefined;
}

const CHUNK = 1024 * 1024;
const tick = (): Promise<void> => new Promise((r) => setImmediate(r));

/** The chunks of [offset, offset+size) of an open file, yielding to the event loop every 32 MiB. */
async function* rangeChunks(fd: number, offset: number, size: number, signal?: AbortSignal): AsyncGenerator<Buffer> {
  let since = 0;
  for (let at = offset; at < offset + size;) {
    const b = Buffer.allocUnsafe(Math.min(CHUNK, offset + size - at));
    const n = readSync(fd, b, 0, b.length, at);
    if (n <= 0) throw new ImageFormatError('truncated', 'the file ends inside a layer');
    at += n;
    yield n === b.length ? b : b.subarray(0, n);
    since += n;
    if (since >= 32 * 1024 * 1024) {
      since = 0;
      await tick();
      if (signal?.aborted) throw new CancelledError();
    }
  }
}

/** The digests of the layer blob in [offset, offset+size) of a file (decompressed for its tar's). */
export async function digestFileRange(path: string, offset: number, size: number, signal?: AbortSignal): Promise<LayerDigests> {
  const fd = openSync(path, 'r');
  try {
    const end = fstatSync(fd).size;
    if (offset + size > end) throw new ImageFormatError('truncated', `${path} ends inside a layer`);
    const head = Buffer.alloc(Math.min(4, size));
    if (head.length) readSync(fd, head, 0, head.length, offset);
    if (sniffCompression(head) === 'none') {
      // A plain tar is its own blob: one hash, one buffer read into again and again.
      const h = createHash('sha256');
      const b = Buffer.allocUnsafe(CHUNK);
      let since = 0;
      for (let at = offset; at < offset + size;) {
        const n = readSync(fd, b, 0, Math.min(CHUNK, offset + size - at), at);
        if (n <= 0) throw new ImageFormatError('truncated', `${path} ends inside a layer`);
        h.update(n === CHUNK ? b : b.subarray(0, n));
        at += n;
        if ((since += n) >= 32 * 1024 * 1024) {
          since = 0;
          await tick();
          if (signal?.aborted) throw new CancelledError();
        }
      }
      const tar = 'sha256:' + h.digest('hex');
      return { blob: tar, tar, compression: 'none' };
    }
    const layer = layerTar(rangeChunks(fd, offset, size, signal), { signal });
    for await (const c of layer.chunks) void c;
    return layer.digests();
  } finally {
    closeSync(fd);
  }
}

/**
 * How many workers to hash `bytes` in `jobs` ranges with: none (this thread) below 64 MiB, else
 * one per core but this thread's, at most one per range and four. LAYERLENS_HASH_WORKERS
 * overrides (0: always in this thread).
 */
export function hashWorkerCount(jobs: number, bytes: number, env: NodeJS.ProcessEnv = process.env): number {
  const forced = env.LAYERLENS_HASH_WORKERS;
  if (forced !== undefined && forced !== '' && Number.isInteger(Number(forced))) return Math.max(0, Math.min(Number(forced), jobs));
  if (jobs === 0 || bytes < 64 * 1024 * 1024) return 0;
  return Math.min(jobs, 4, Math.max(1, availableParallelism() - 1));
}

export interface RangeJob {
  path: string;
  offset: number;
  size: number;
  want: LayerWant;
}

/**
 * Starts checking every range (on workers when there is much to hash) and returns one promise per
 * job, each settling when its range is checked (rejecting with LayerDigestError on a mismatch).
 * Call it before reading the layers' headers: the hashing runs beside that reading.
 */
export function checkRanges(jobs: RangeJob[], opts: { signal?: AbortSignal } = {}): { done: Array<Promise<void>>; close(): void } {
  const workers = hashWorkerCount(jobs.length, jobs.reduce((a, j) => a + j.size, 0));
  const script = workers > 0 ? blobWorkerScript() : undefined;
  const pool = script ? new BlobIndexPool(workers, script, opts.signal) : undefined;
  let chain: Promise<unknown> = Promise.resolve();
  const done = jobs.map((j) => {
    let p: Promise<LayerDigests>;
    if (pool) {
      p = pool.digest({ path: j.path, offset: j.offset, size: j.size, label: j.want.label });
    } else {
      // One at a time in this thread: each hashes from where the previous one ended.
      p = chain.then(() => digestFileRange(j.path, j.offset, j.size, opts.signal));
      chain = p.catch(() => undefined);
    }
    const checked = p.then((d) => checkLayer(j.want, d));
    checked.catch(() => undefined); // awaited by the caller; an early failure must not go unhandled
    return checked;
  });
  return { done, close: () => pool?.close() };
}

/** A cache record for a layer read from a file, as LayerIndexCache.lookup gives it. */
export type CacheHit = NonNullable<ReturnType<LayerIndexCache['lookup']>>;

/**
 * After a layer was checked, read from the place its cache record `hit` came from: the record is
 * marked checked, if it was not (a re-read of the unchanged file then needs no hashing).
 */
export function markChecked(cache: LayerIndexCache | undefined, diffId: string, hit: CacheHit | undefined): void {
  if (cache && hit && !hit.verified) cache.put(diffId, hit.index, { ...hit.meta, verified: true });
}

/** A layer blob in a byte range of a file. */
export interface LayerRange {
  file: string;
  offset: number;
  size: number;
  /** What it must hash to; undefined: not checked (checked before, or --no-verify). */
  want?: LayerWant;
}

/**
 * The entry at `path` in the layer blob in a file range (the last one if there are several): an
 * uncompressed tar by seeking (and hashed beside, when checked), a compressed one decompressed.
 * Throws LayerDigestError when checked and the bytes are not the layer's.
 */
export async function readEntryInRange(r: LayerRange, path: string, opts: { maxBytes: number; signal?: AbortSignal }): Promise<EntryContent | undefined> {
  const f = openFileAccess(r.file);
  try {
    const head = Buffer.alloc(Math.min(4, r.size));
    const n = head.length ? f.access.readInto(head, head.length, r.offset) : 0;
    if (sniffCompression(head.subarray(0, n)) === 'none') {
      const check = r.want ? checkRanges([{ path: r.file, offset: r.offset, size: r.size, want: r.want }], opts) : undefined;
      try {
        const found = findEntryAt(f.access, r.offset, r.size, path);
        const e = found ? readFoundEntry(f.access, found, path, opts.maxBytes) : undefined;
        if (check) await check.done[0];
        return e;
      } catch (e) {
        // A layer that is not the one named is reported as that, whatever else failed on it.
        if (check) await check.done[0];
        throw e;
      } finally {
        check?.close();
      }
    }
  } finally {
    f.close();
  }
  const finder = new EntryFinder(path, opts.maxBytes);
  let failed: unknown;
  const layer = layerTar(rangeStream(r), { hash: !!r.want, signal: opts.signal });
  for await (const c of layer.chunks) {
    if (failed !== undefined) continue;
    try { finder.write(c); } catch (e) { failed = e; }
  }
  if (r.want) checkLayer(r.want, layer.digests());
  if (failed !== undefined) throw failed;
  return finder.result();
}

/**
 * copyFile from the layer in a file range, when it is an uncompressed tar: the last entry at `path`
 * found by seeking (headers only). A layer checked before (no `want`) has the entry's bytes
 * written straight from the file at the entry's offset; a layer being checked (hashed beside, as
 * readEntryInRange does) has only the entry wait in a Spool until the check has ended. Undefined
 * for a compressed blob (the caller reads it as a stream).
 */
export async function copyEntryInRange(
  r: LayerRange, diffId: string, path: string, write: (chunk: Buffer) => Promise<void>, opts: { spool?: SpoolOptions; signal?: AbortSignal },
): Promise<CopiedEntry | undefined> {
  const f = openFileAccess(r.file);
  try {
    const head = Buffer.alloc(Math.min(4, r.size));
    const n = head.length ? f.access.readInto(head, head.length, r.offset) : 0;
    if (sniffCompression(head.subarray(0, n)) !== 'none') return undefined;
    const check = r.want ? checkRanges([{ path: r.file, offset: r.offset, size: r.size, want: r.want }], opts) : undefined;
    const spool = new Spool(opts.spool);
    try {
      const found = findEntryAt(f.access, r.offset, r.size, path);
      const e = found && (found.type === 'file' ? { type: 'file' as const, size: found.header.size, mode: found.header.mode, mtime: found.header.mtime, data: Buffer.alloc(0) } : readFoundEntry(f.access, found, path, 0));
      if (found && found.type === 'file') {
        // Straight to the writer when nothing is left to check; else into the spool until the check ends.
        const direct = !check;
        for (let at = 0; at < found.header.size;) {
          if (opts.signal?.aborted) throw new CancelledError();
          const buf = Buffer.allocUnsafe(Math.min(CHUNK, found.header.size - at));
          const got = f.access.readInto(buf, buf.length, found.dataOffset + at);
          if (got <= 0) throw new ImageFormatError('truncated', 'unexpected end of data: the tar ends inside an entry');
          const chunk = got === buf.length ? buf : buf.subarray(0, got);
          if (direct) await write(chunk);
          else spool.write(chunk);
          at += got;
        }
        if (direct) return { type: 'file', size: found.header.size, spilled: false };
      }
      if (check) await check.done[0];
      return await writeSpooled(e, spool, diffId, path, write);
    } catch (e) {
      // A layer that is not the one named is reported as that, whatever else failed on it.
      if (check) await check.done[0];
      throw e;
    } finally {
      check?.close();
      spool.dispose();
    }
  } finally {
    f.close();
  }
}

function rangeStream(r: LayerRange): AsyncIterable<Buffer> {
  if (r.size === 0) return (async function* () { /* empty */ })();
  return createReadStream(r.file, { start: r.offset, end: r.offset + r.size - 1, highWaterMark: CHUNK }) as AsyncIterable<Buffer>;
}

/**
 * The uncompressed tar of the layer blob in a file range, in chunks; when checked, the iteration
 * throws LayerDigestError at its end if the bytes are not the layer's.
 */
export async function* rangeTar(r: LayerRange, signal?: AbortSignal): AsyncGenerator<Buffer> {
  const layer = layerTar(rangeStream(r), { hash: !!r.want, signal });
  yield* layer.chunks;
  if (r.want) checkLayer(r.want, layer.digests());
}
