// The fast paths of loadImage (src/sources/load.ts) and their use of the persistent layer cache:
// - a `docker save` file is read by seeking (src/core/image/tar/archiveSeek.ts): outer headers, documents,
//   then each layer's own headers; layers already in the cache (same file and offset, or a
//   verified entry for the diffID the manifest gives) are not read at all;
// - one compressed as a whole is read as a stream once, then recorded by the file's identity
//   (documents by digest, each layer member's index under the member's origin): the same file
//   is not decompressed again;
// - an OCI layout's uncompressed blobs are walked by seeking, compressed ones decompressed;
// - an engine export is a stream and stays one (src/core/image/tar/archiveStream.ts): new layers are parsed
//   and stored with two digests, of their first 64 KiB and of their header blocks; a member the
//   cache knows (same size and first 64 KiB as a cached layer of this image) has its headers
//   walked and digested but not turned into entries, and the cached index is used only if the
//   header digest matches (same headers, same index).
import { createHash } from 'node:crypto';
import { closeSync, createReadStream, fstatSync, openSync, readSync, type Stats } from 'node:fs';
import { assembleArchive, type ArchiveContents } from '../core/image/tar/archive';
import { indexArchiveLayers, indexLayerAt, scanArchive, type ArchiveScan } from '../core/image/tar/archiveSeek';
import { HEAD_BYTES, readArchiveStream, type KnownLayer, type KnownLayerQuery, type StreamArchiveContents } from '../core/image/tar/archiveStream';
import { sniffCompression } from '../core/image/tar/decompress';
import type { DecodedIndex } from '../core/image/indexCodec';
import { digestOf, isDigest, type PlatformWanted } from '../core/image/oci';
import type { RandomAccess } from '../core/image/tar/tarWalk';
import type { ByteSource } from '../core/image/tar/decompress';
import type { ImageData, LayerIndex } from '../core/image/types';
import { fileOrigin, memberOrigin, type LayerIndexCache } from './indexCache';

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
function headDigest(access: RandomAccess, offset: number, size: number): string {
  const len = Math.min(size, HEAD_BYTES);
  const b = Buffer.allocUnsafe(len);
  const n = access.readInto(b, len, offset);
  return createHash('sha256').update(b.subarray(0, n)).digest('hex');
}

function compressionAt(access: RandomAccess, offset: number, size: number): ReturnType<typeof sniffCompression> {
  const b = Buffer.alloc(Math.min(4, size));
  const n = size === 0 ? 0 : access.readInto(b, b.length, offset);
  return sniffCompression(b.subarray(0, n));
}

/**
 * Member path → diffID and the stack order, as assembleArchive will decide them, from the
 * documents alone (the same code runs on placeholder layers). Undefined when the manifest cannot
 * be read: then nothing is taken from the cache and the real assembleArchive reports the problem.
 */
async function planArchive(scan: ArchiveScan, source: ImageData['source'], ref: string | undefined, platform: PlatformWanted | undefined): Promise<{ ids: Map<string, string>; plan: ImagePlan } | undefined> {
  const stubs = new Map<string, LayerIndex>();
  const pathOf = new Map<LayerIndex, string>();
  for (const m of scan.layerMembers) {
    const stub: LayerIndex = { diffId: '', entries: [], whiteouts: [], opaqueDirs: [], tarFileBytes: 0, tarEntries: 0, tarBytes: 0, compression: 'none', warnings: [] };
    stubs.set(m.path, stub);
    pathOf.set(stub, m.path);
  }
  let image: ImageData;
  try {
    image = await assembleArchive({ docs: scan.docs, layers: stubs, links: scan.links, layerErrors: new Map(), warnings: [] }, source, { ref, platform });
  } catch {
    return undefined;
  }
  const ids = new Map<string, string>();
  for (const [path, stub] of stubs) if (stub.diffId) ids.set(path, stub.diffId);
  const paths = image.layers.map((l) => pathOf.get(l) ?? '');
  if (paths.some((p) => p === '')) return { ids, plan: { image: { ...image, layers: [] }, paths: [] } };
  return { ids, plan: { image: { ...image, layers: [] }, paths } };
}

/** A `docker save` file (or OCI layout in a tar) read by seeking, with the layer cache. */
export async function loadArchiveFileFast(path: string, ref: string | undefined, opts: FastReadOptions): Promise<ImageData> {
  const f = openFileAccess(path);
  try {
    const { access, stat } = f;
    // An archive compressed as a whole cannot be seeked: read it as a stream, unless the cache
    // knows this very file whole.
    if (compressionAt(access, 0, stat.size) !== 'none') {
      const known = opts.cache && knownStreamArchive(opts.cache, path, stat);
      if (known) {
        try {
          return await assembleArchive(known, { kind: 'docker-archive', ref: path }, { ref, platform: opts.platform });
        } catch {
          // Recorded for another tag or platform of a multi-image archive: read it.
        }
      }
      const contents = await readArchiveStream(createReadStream(path, { highWaterMark: 1024 * 1024 }), {
        signal: opts.signal, onLayer: opts.onLayer, onProgress: (b) => opts.onProgress?.(b, stat.size), maxEntriesPerLayer: opts.maxEntriesPerLayer,
      });
      const image = await assembleArchive(contents, { kind: 'docker-archive', ref: path }, { ref, platform: opts.platform });
      if (opts.cache) rememberStreamArchive(opts.cache, path, stat, contents);
      return image;
    }
    const scan = scanArchive(access);
    const cache = opts.cache;
    const planned = await planArchive(scan, { kind: 'docker-archive', ref: path }, ref, opts.platform);
    const ids = planned?.ids ?? new Map<string, string>();
    if (planned && planned.plan.paths.length) opts.onPlan?.(planned.plan);
    const indexed = await indexArchiveLayers(access, scan, {
      signal: opts.signal,
      maxEntriesPerLayer: opts.maxEntriesPerLayer,
      knownLayer: cache ? (m) => {
        const id = ids.get(m.path);
        const hit = id ? cache.get(id, fileOrigin(path, stat, m.offset)) : undefined;
        return hit?.with({ compression: compressionAt(access, m.offset, m.size) });
      } : undefined,
      onLayer: opts.onLayer,
      onProgress: (pos) => opts.onProgress?.(pos, stat.size),
    });
    const contents: ArchiveContents = { docs: scan.docs, layers: indexed.layers, links: scan.links, layerErrors: indexed.layerErrors, warnings: scan.warnings };
    const image = await assembleArchive(contents, { kind: 'docker-archive', ref: path }, { ref, platform: opts.platform });
    if (cache) {
      for (const m of scan.layerMembers) {
        const id = ids.get(m.path);
        const layer = indexed.layers.get(m.path);
        if (!id || !layer || indexed.fromCache.has(m.path)) continue;
        const plain = layer.compression === 'none';
        cache.put(id, layer, { verified: false, head: plain ? headDigest(access, m.offset, m.size) : '', hdr: '', origin: fileOrigin(path, stat, m.offset) });
      }
    }
    return image;
  } finally {
    f.close();
  }
}

/**
 * What a compressed archive held, recorded by the file's identity: its documents (by digest, in
 * the document cache), each layer member's diffID (its index in the layer cache under the
 * member's origin), links and warnings. Only layers the image's manifest named (assembleArchive
 * gave them their diffID) are recorded.
 */
interface StreamArchiveRecord {
  docs: Array<[string, string]>;
  layers: Array<[string, string]>;
  links: Array<[string, string]>;
  warnings: string[];
}

const isPairs = (x: unknown): x is Array<[string, string]> =>
  Array.isArray(x) && x.every((p) => Array.isArray(p) && p.length === 2 && typeof p[0] === 'string' && typeof p[1] === 'string');

function rememberStreamArchive(cache: LayerIndexCache, path: string, stat: Stats, contents: ArchiveContents): void {
  const rec: StreamArchiveRecord = { docs: [], layers: [], links: [...contents.links], warnings: contents.warnings };
  for (const [name, buf] of contents.docs) {
    const d = digestOf(buf);
    cache.putDoc(d, buf);
    rec.docs.push([name, d]);
  }
  for (const [member, layer] of contents.layers) {
    if (!isDigest(layer.diffId)) continue;
    cache.put(layer.diffId, layer, { verified: false, head: '', hdr: '', origin: memberOrigin(path, stat, member) });
    rec.layers.push([member, layer.diffId]);
  }
  cache.putFileRecord(fileOrigin(path, stat, 0), rec);
}

/**
 * The contents of a compressed archive the cache knows whole: the same file (path, size, mtime,
 * inode), every document and every recorded layer's index (read from this file) still cached.
 */
function knownStreamArchive(cache: LayerIndexCache, path: string, stat: Stats): ArchiveContents | undefined {
  const rec = cache.getFileRecord(fileOrigin(path, stat, 0)) as Partial<StreamArchiveRecord> | undefined;
  if (!rec || !isPairs(rec.docs) || !isPairs(rec.layers) || !isPairs(rec.links) || !Array.isArray(rec.warnings) || !rec.warnings.every((w) => typeof w === 'string')) return undefined;
  const docs = new Map<string, Buffer>();
  for (const [name, digest] of rec.docs) {
    const buf = cache.getDoc(digest);
    if (!buf) return undefined;
    docs.set(name, buf);
  }
  const layers = new Map<string, LayerIndex>();
  for (const [member, diffId] of rec.layers) {
    const layer = cache.get(diffId, memberOrigin(path, stat, member));
    if (!layer) return undefined;
    layers.set(member, layer);
  }
  return { docs, layers, links: new Map(rec.links), layerErrors: new Map(), warnings: [...rec.warnings] };
}

/** What loadOciLayout needs to know of a blob before reading it: a cache hit, or its compression and cache origin. */
export interface BlobProbe {
  hit?: LayerIndex;
  compression: ReturnType<typeof sniffCompression>;
  size: number;
  origin: string;
}

export function probeLayerFile(path: string, diffId: string, cache?: LayerIndexCache): BlobProbe {
  const f = openFileAccess(path);
  try {
    const { access, stat } = f;
    const origin = fileOrigin(path, stat, 0);
    const compression = compressionAt(access, 0, stat.size);
    const hit = cache?.get(diffId, origin);
    return { hit: hit?.with({ compression }), compression, size: stat.size, origin };
  } finally {
    f.close();
  }
}

/** Stores an index read from a compressed blob (no head digest: the engine never sends compressed layers). */
export function cacheCompressedLayer(cache: LayerIndexCache, diffId: string, layer: LayerIndex, origin: string): void {
  cache.put(diffId, layer, { verified: false, head: '', hdr: '', origin });
}

/** One OCI layout blob: from the cache, else walked (uncompressed) or decompressed. */
export async function indexLayerFile(
  path: string,
  opts: { diffId: string; label: string; signal?: AbortSignal; cache?: LayerIndexCache; maxEntries?: number; probe?: BlobProbe },
): Promise<LayerIndex> {
  const probe = opts.probe ?? probeLayerFile(path, opts.diffId, opts.cache);
  if (probe.hit) return probe.hit;
  const f = openFileAccess(path);
  try {
    const { access, stat } = f;
    const layer = await indexLayerAt(access, 0, stat.size, { label: opts.label, signal: opts.signal, diffId: opts.diffId, maxEntries: opts.maxEntries });
    if (opts.cache) {
      const plain = layer.compression === 'none';
      opts.cache.put(opts.diffId, layer, { verified: false, head: plain ? headDigest(access, 0, stat.size) : '', hdr: '', origin: probe.origin });
    }
    return layer;
  } finally {
    f.close();
  }
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
