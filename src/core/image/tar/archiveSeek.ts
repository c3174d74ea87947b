// Reading an image archive that is a file on disk by seeking: the outer tar's headers, the small
// JSON documents, then each uncompressed layer member's own tar headers — skipping every file body
// (a `docker save` of 1.2 GB and 45k files reads about 300 MB of headers' neighbourhood, not 1.2 GB,
// and spends no time in stream machinery). Compressed layer members are decompressed as a stream
// from their byte range. Two phases, so that the caller can look up cached layer indexes by
// diffID (from the manifest) between them:
//   scanArchive(access)               outer headers, documents, links, layer members
//   indexArchiveLayers(access, scan)  each layer member's index (or the cached one)
// Pure apart from the RandomAccess given (positional reads).
import { createHash } from 'node:crypto';
import { CancelledError, ImageFormatError } from '../errors';
import { LayerIndexBuilder } from './layerBuilder';
import { BlobIndexer, isManifestName, labelled, looksLikeDoc } from './archiveStream';
import { archiveRel } from './paths';
import { sniffCompression, type Compression } from './decompress';
import { RAW_TAKEN, TarSeekWalker, type RandomAccess } from './tarWalk';
import type { LayerIndex } from '../types';

export interface ArchiveMember {
  path: string;
  /** Offset of the member's body in the file. */
  offset: number;
  size: number;
}

export interface ArchiveScan {
  docs: Map<string, Buffer>;
  links: Map<string, string>;
  /** Members to read as layers, in archive order (documents that were not JSON included). */
  layerMembers: ArchiveMember[];
  warnings: string[];
}

export interface ScanOptions {
  maxDocBytes?: number;
}

function readExact(access: RandomAccess, offset: number, size: number): Buffer {
  const out = Buffer.allocUnsafe(size);
  let got = 0;
  while (got < size) {
    const n = access.readInto(got === 0 ? out : out.subarray(got), size - got, offset + got);
    if (n <= 0) throw new ImageFormatError('truncated', 'the image archive is truncated (unexpected end of data)');
    got += n;
  }
  return out;
}

/** Phase 1: the outer tar by seeking; documents read whole, layers only located. */
export function scanArchive(access: RandomAccess, opts: ScanOptions = {}): ArchiveScan {
  const maxDoc = opts.maxDocBytes ?? 16 * 1024 * 1024;
  const docs = new Map<string, Buffer>();
  const links = new Map<string, string>();
  const layerMembers: ArchiveMember[] = [];
  const walker = new TarSeekWalker(access, 0, access.size);
  let members = 0;
  try {
    for (let e = walker.next(); e; e = walker.next()) {
      if (++members > 1_000_000) throw new ImageFormatError('limit', 'the archive has more than a million members');
      const h = e.header;
      const path = archiveRel(h.name);
      if (h.type === 'symlink' || h.type === 'link') {
        const ln = h.linkname ?? '';
        const dir = path.split('/').slice(0, -1).join('/');
        links.set(path, h.type === 'symlink' && !ln.startsWith('/') ? archiveRel(dir + '/' + ln) : archiveRel(ln));
        continue;
      }
      if (h.type !== 'file' && h.type !== 'contiguous-file') continue;
      const isDocName = /(^|\/)(VERSION|repositories|oci-layout)$/.test(path);
      if (h.size === 0) {
        if (isDocName) docs.set(path, Buffer.alloc(0));
        continue;
      }
      const head = readExact(access, e.dataOffset, Math.min(h.size, 512));
      // The archive's own manifests are documents whatever they hold (a manifest.json of `null`
      // is a wrong manifest, not a layer).
      const isManifest = isManifestName(path);
      if ((h.size <= maxDoc && (looksLikeDoc(head) || isManifest)) || (isDocName && h.size <= 4096)) {
        const buf = h.size <= 512 ? head : readExact(access, e.dataOffset, h.size);
        let isJson = isDocName || isManifest;
        if (!isJson) { try { JSON.parse(buf.toString('utf8')); isJson = true; } catch { isJson = false; } }
        if (isJson) { docs.set(path, buf); continue; }
      }
      layerMembers.push({ path, offset: e.dataOffset, size: h.size });
    }
  } catch (e) {
    throw labelled(e, 'the image archive');
  }
  if (members === 0) throw new ImageFormatError('corrupt', 'the image archive is empty or not a tar');
  return { docs, links, layerMembers, warnings: [] };
}

export interface IndexLayersOptions {
  signal?: AbortSignal;
  maxEntriesPerLayer?: number;
  /** A cached index for this member (the caller checks diffID and origin). */
  knownLayer?: (m: ArchiveMember) => LayerIndex | undefined;
  onLayer?: (path: string, layer: LayerIndex) => void;
  /** Called with the file offset reached (for a percentage of the file size). */
  onProgress?: (position: number) => void;
  /** Members to index only (default: every layer member). */
  only?: Set<string>;
  /** Filled with the digests of the compressed members indexed (see indexLayerAt). */
  digests?: Map<string, BlobDigests>;
}

export interface IndexedLayers {
  layers: Map<string, LayerIndex>;
  layerErrors: Map<string, Error>;
  /** Members whose index came from knownLayer. */
  fromCache: Set<string>;
}

const YIELD_EVERY = 20_000;
const tick = (): Promise<void> => new Promise((r) => setImmediate(r));

/**
 * Indexes one uncompressed layer tar in [offset, offset+size) by seeking past bodies. Yields to the
 * event loop every 20k entries (cancellation and progress stay responsive).
 */
export async function indexTarAt(
  access: RandomAccess, offset: number, size: number,
  opts: { label: string; maxEntries?: number; signal?: AbortSignal; diffId?: string; compression?: Compression },
): Promise<LayerIndex> {
  // A tar of small files holds about one entry per KiB: size the index's tables for that.
  const builder = new LayerIndexBuilder(opts.label, opts.maxEntries ?? 10_000_000, size / 1024);
  const walker = new TarSeekWalker(access, offset, offset + size);
  let n = 0;
  try {
    for (let e = walker.nextOrRaw(builder); e; e = walker.nextOrRaw(builder)) {
      if (e !== RAW_TAKEN) builder.add(e.header);
      if (++n % YIELD_EVERY === 0) {
        await tick();
        if (opts.signal?.aborted) throw new CancelledError();
      }
    }
  } catch (e) {
    if (e instanceof CancelledError) throw e;
    throw labelled(e, opts.label);
  }
  return builder.finish({ diffId: opts.diffId ?? '', tarBytes: size, compression: opts.compression ?? 'none' });
}

/**
 * Indexes a layer blob in a byte range: uncompressed by seeking; gzip/zstd by reading 1 MiB chunks
 * into a BlobIndexer (zstd decoded and parsed synchronously, gzip in zlib's threadpool while this
 * thread parses), yielding to the event loop every 64 MiB.
 */
export async function indexLayerAt(
  access: RandomAccess, offset: number, size: number,
  opts: { label: string; maxEntries?: number; signal?: AbortSignal; diffId?: string; digests?: BlobDigests },
): Promise<LayerIndex> {
  const head = Buffer.allocUnsafe(Math.min(4, size));
  const n = size === 0 ? 0 : access.readInto(head, head.length, offset);
  const compression = sniffCompression(head.subarray(0, n));
  if (compression === 'none') return indexTarAt(access, offset, size, opts);
  const blobHash = opts.digests ? createHash('sha256') : null;
  const bi = new BlobIndexer(opts.label, size, opts.maxEntries, !!opts.digests);
  let sinceTick = 0;
  for (let at = offset; at < offset + size;) {
    const len = Math.min(1024 * 1024, offset + size - at);
    const b = Buffer.allocUnsafe(len);
    const got = access.readInto(b, len, at);
    if (got <= 0) break;
    at += got;
    const chunk = got === len ? b : b.subarray(0, got);
    blobHash?.update(chunk);
    bi.write(chunk);
    const p = bi.pending();
    if (p) await p;
    sinceTick += got;
    if (sinceTick >= 64 * 1024 * 1024) {
      sinceTick = 0;
      await tick();
      if (opts.signal?.aborted) throw new CancelledError();
    }
  }
  const layer = await bi.end(opts.diffId);
  if (opts.digests && blobHash) {
    opts.digests.blob = 'sha256:' + blobHash.digest('hex');
    opts.digests.tar = bi.tarDigest;
  }
  return layer;
}

/**
 * Filled by indexLayerAt for a compressed blob (hashed as it is read and decompressed: an
 * uncompressed one is walked by seeking, its bytes never read): the sha256 of the blob as stored
 * and of its tar.
 */
export interface BlobDigests {
  blob?: string;
  tar?: string;
}

/** Phase 2: every layer member's index (cached, seek-walked, or decompressed as a stream). */
export async function indexArchiveLayers(access: RandomAccess, scan: ArchiveScan, opts: IndexLayersOptions = {}): Promise<IndexedLayers> {
  const layers = new Map<string, LayerIndex>();
  const layerErrors = new Map<string, Error>();
  const fromCache = new Set<string>();
  for (const m of scan.layerMembers) {
    if (opts.signal?.aborted) throw new CancelledError();
    if (opts.only && !opts.only.has(m.path)) continue;
    const known = opts.knownLayer?.(m);
    if (known) {
      layers.set(m.path, known);
      fromCache.add(m.path);
      // Progress first: whoever takes the layer knows how much of the file is read with it.
      opts.onProgress?.(m.offset + m.size);
      opts.onLayer?.(m.path, known);
      continue;
    }
    try {
      const digests: BlobDigests | undefined = opts.digests ? {} : undefined;
      const layer = await indexLayerAt(access, m.offset, m.size, { label: `layer ${m.path}`, maxEntries: opts.maxEntriesPerLayer, signal: opts.signal, digests });
      if (digests?.tar) opts.digests!.set(m.path, digests);
      layers.set(m.path, layer);
      opts.onProgress?.(m.offset + m.size);
      opts.onLayer?.(m.path, layer);
    } catch (e) {
      if (opts.signal?.aborted) throw new CancelledError();
      if (!(e instanceof ImageFormatError) || e.code === 'limit') throw e;
      layerErrors.set(m.path, e);
      opts.onProgress?.(m.offset + m.size);
    }
    await tick();
  }
  return { layers, layerErrors, fromCache };
}

