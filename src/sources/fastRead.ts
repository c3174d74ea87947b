// What the readers of image files and engine exports share, and the engine's fast path:
// - positional reads of a file (openFileAccess), the compression of a byte range, and the digest
//   of a layer tar's first 64 KiB (stored with each cached index);
// - an engine export is a stream and stays one (src/core/image/tar/archiveStream.ts): new layers are parsed
//   and stored with two digests, of their first 64 KiB and of their header blocks; a member the
//   cache knows (same size and first 64 KiB as a cached layer of this image) has its headers
//   walked and digested but not turned into entries, and the cached index is used only if the
//   header digest matches (same headers, same index).
// The `docker save` file and the OCI layout readers: archiveSource.ts and ociSource.ts.
import { createHash } from 'node:crypto';
import { closeSync, fstatSync, openSync, readSync, type Stats } from 'node:fs';
import { HEAD_BYTES, readArchiveStream, type KnownLayer, type KnownLayerQuery, type StreamArchiveContents } from '../core/image/tar/archiveStream';
import { sniffCompression } from '../core/image/tar/decompress';
import type { DecodedIndex } from '../core/image/indexCodec';
import type { PlatformWanted } from '../core/image/oci';
import type { RandomAccess } from '../core/image/tar/tarWalk';
import type { ByteSource } from '../core/image/tar/decompress';
import type { ImageData, LayerIndex } from '../core/image/types';
import type { LayerIndexCache } from './indexCache';

export interface FastReadOptions {
  signal?: AbortSignal;
  platform?: PlatformWanted;
  onLayer?: (path: string, layer: LayerIndex) => void;
  /** Bytes of the source consumed so far (file position for seek reads). */
  onProgress?: (bytes: number, total?: number) => void;
  cache?: LayerIndexCache;
  maxEntriesPerLayer?: number;
  /**
   * Called before layers are read when the source tells the stack order up front (archive files,
   * OCI layouts): the image without layers and, per layer bottom first, the path onLayer will use.
   */
  onPlan?: (plan: ImagePlan) => void;
}

export interface ImagePlan {
  image: ImageData;
  /** Per image layer, bottom first: the key (member path) its index arrives under in onLayer. */
  paths: string[];
}

export interface FileAccess {
  access: RandomAccess;
  stat: Stats;
  close(): void;
}

export function openFileAccess(path: string): FileAccess {
  const fd = openSync(path, 'r');
  try {
    const stat = fstatSync(fd);
    return {
      stat,
      access: { size: stat.size, readInto: (t, len, pos) => readSync(fd, t, 0, len, pos) },
      close: () => closeSync(fd),
    };
  } catch (e) {
    closeSync(fd);
    throw e;
  }
}

/** sha256 (hex) of the first HEAD_BYTES of an uncompressed tar in a file range. */
export function headDigest(access: RandomAccess, offset: number, size: number): string {
  const len = Math.min(size, HEAD_BYTES);
  const b = Buffer.allocUnsafe(len);
  const n = access.readInto(b, len, offset);
  return createHash('sha256').update(b.subarray(0, n)).digest('hex');
}

export function compressionAt(access: RandomAccess, offset: number, size: number): ReturnType<typeof sniffCompression> {
  const b = Buffer.alloc(Math.min(4, size));
  const n = size === 0 ? 0 : access.readInto(b, b.length, offset);
  return sniffCompression(b.subarray(0, n));
}

export interface EngineStreamRead {
  contents: StreamArchiveContents;
  /** Cache entries offered for this image's diffIDs. */
  offered: number;
}

/**
 * Reads an engine export stream with the cache: a member whose size and first 64 KiB match a
 * cached layer of this image (its diffIDs from inspect) is checked by header digest instead of
 * parsed. The caller re-reads when cacheMismatches is not empty.
 */
export async function readEngineStream(stream: ByteSource, diffIds: string[], opts: FastReadOptions & { useCache?: boolean }): Promise<EngineStreamRead> {
  const cache = opts.cache;
  const candidates: Array<{ diffId: string; d: DecodedIndex; used: boolean }> = [];
  if (cache && opts.useCache !== false) {
    for (const id of new Set(diffIds)) {
      const d = cache.read(id);
      if (d && d.meta.head && d.meta.hdr) candidates.push({ diffId: id, d, used: false });
    }
  }
  const knownLayer = candidates.length ? (q: KnownLayerQuery): KnownLayer | undefined => {
    let head: string | undefined;
    for (const c of candidates) {
      if (c.used || c.d.index.tarBytes !== q.size) continue;
      head ??= createHash('sha256').update(q.head).digest('hex');
      if (c.d.meta.head !== head) continue;
      c.used = true;
      return { diffId: c.diffId, index: c.d.index, hdr: c.d.meta.hdr };
    }
    return undefined;
  } : undefined;
  const contents = await readArchiveStream(stream, {
    signal: opts.signal, onLayer: opts.onLayer, onProgress: (b) => opts.onProgress?.(b), maxEntriesPerLayer: opts.maxEntriesPerLayer,
    // No content hashing (~1 s of CPU per GB, competing with the engine for the CPU): a known
    // layer is identified by size and head, and confirmed by the digest of its headers.
    knownLayer, hashLayers: false,
  });
  return { contents, offered: candidates.length };
}

/** After assembleArchive: store each layer parsed from the engine stream (with its head and header digests). */
export function cacheEngineLayers(cache: LayerIndexCache, contents: StreamArchiveContents, image: ImageData): void {
  const pathOf = new Map<LayerIndex, string>();
  for (const [p, l] of contents.layers) pathOf.set(l, p);
  image.layers.forEach((layer, i) => {
    const path = pathOf.get(layer);
    const diffId = image.diffIds[i];
    if (!path || !diffId || contents.fromCache.has(path)) return;
    const head = contents.layerHeads.get(path) ?? '';
    const hdr = contents.layerHdrs.get(path) ?? '';
    // Not hashed, so not "verified": the next engine read recognises it by size and head and takes
    // it only if its headers digest the same.
    if (head && hdr) cache.put(diffId, layer, { verified: contents.layerDigests.get(path) === diffId, head, hdr, origin: 'engine' });
  });
}
