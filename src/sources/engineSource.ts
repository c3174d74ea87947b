// An image in a Docker Engine (or Podman): read from the engine's export stream
// (/images/{name}/get) with the layer cache (src/sources/fastRead.ts); an image whose documents and
// layers the cache knows whole is not exported again. A file version is read from the export: every
// member that may be the layer is hashed as it goes by, and the one whose tar hashes to the diffID
// answers (so it is checked by the same token); the export is abandoned there. A layer's tar
// (openLayer) is read from one export too.
import { assembleArchive } from '../core/image/tar/archive';
import { CancelledError, ImageFormatError } from '../core/image/errors';
import { EntryDigests } from '../core/image/tar/entryDigests';
import { EntryFinder, EntryStream, FilesCollector, archiveMembers, layerTar, looksLikeJson, peek, scanArchiveForLayer, type CollectedFile, type EntryContent, type LayerDigests, type StreamLayerWant } from '../core/image/tar/layerRead';
import { sniffCompression, toFormatError, type ByteSource } from '../core/image/tar/decompress';
import { withFacts } from '../core/image/indexCodec';
import { configDigestOf, digestOf, parseImageConfig, type PlatformWanted } from '../core/image/oci';
import type { ImageData, LayerIndex } from '../core/image/types';
import type { EngineClient } from '../engine/types';
import { cacheEngineLayers, readEngineStream } from './fastRead';
import type { LayerIndexCache } from './indexCache';
import { BaseSource, Spool, writeSpooled, type CopiedEntry, type LoadOptions, type ReadOptions, type SourceOptions, type SpoolOptions } from './imageSource';

export class EngineSource extends BaseSource {
  constructor(private readonly name: string, options: SourceOptions) {
    super({ kind: 'engine', name }, options);
  }

  load(opts: LoadOptions = {}): Promise<ImageData> {
    return loadFromEngine(this.name, { ...this.options, ...opts });
  }

  private async engine(): Promise<EngineClient> {
    if (!this.options.engine) throw new Error('no engine connection configured');
    return this.options.engine();
  }

  /**
   * One export, its members that may be the layer each fed to a sink of `make()` while they are
   * hashed: the result of the member that is the layer.
   */
  private async scanLayer<T>(diffId: string, make: () => { write(c: Buffer): void; result(): T }, opts: ReadOptions): Promise<T> {
    const engine = await this.engine();
    const stream = await engine.exportImage(this.name, opts.signal);
    try {
      const found = await scanArchiveForLayer(stream, { diffId, tarBytes: opts.tarBytes }, make, opts.signal);
      if (!found) throw new ImageFormatError('missing', `the engine's export of ${this.name} has no layer ${diffId}`);
      return found.result;
    } catch (e) {
      if (opts.signal?.aborted) throw new CancelledError();
      throw toFormatError(e, 'the image export');
    } finally {
      stream.destroy();
    }
  }

  protected async readEntry(diffId: string, path: string, opts: ReadOptions & { maxBytes: number }): Promise<EntryContent | undefined> {
    return this.scanLayer(diffId, () => {
      const f = new EntryFinder(path, opts.maxBytes);
      return { write: (c: Buffer) => f.write(c), result: () => f.result() };
    }, opts);
  }

  /** One export: the layer is found by hashing every candidate member, its entries hashed on the way. */
  override async hashEntries(diffId: string, paths: ReadonlySet<string>, opts: ReadOptions = {}): Promise<Map<string, string>> {
    return this.scanLayer(diffId, () => {
      const d = new EntryDigests(paths);
      return { write: (c: Buffer) => d.write(c), result: () => d.result() };
    }, opts);
  }

  /** One export: every member that may be the layer is collected from as it is hashed; the one that is answers. */
  override async readFiles(diffId: string, want: (path: string, size: number) => boolean, opts: ReadOptions & { maxBytes: number }): Promise<CollectedFile[]> {
    return this.scanLayer(diffId, () => new FilesCollector(want, opts.maxBytes), opts);
  }

  /**
   * One export: every member that may be the layer is read into a fresh EntryStream and Spool as
   * it is hashed, so only the entry waits (not the whole layer); the spool of the member that is
   * the layer is written out, each other one freed when the next candidate starts.
   */
  override async copyFile(diffId: string, path: string, write: (chunk: Buffer) => Promise<void>, opts: ReadOptions & { spool?: SpoolOptions } = {}): Promise<CopiedEntry> {
    const spools: Spool[] = [];
    try {
      const found = await this.scanLayer(diffId, () => {
        // A new candidate: the one before was not the layer.
        for (const s of spools.splice(0)) s.dispose();
        const spool = new Spool(opts.spool);
        spools.push(spool);
        const entry = new EntryStream(path, spool);
        return { write: (c: Buffer) => entry.write(c), result: () => ({ entry: entry.result(), spool }) };
      }, opts);
      return await writeSpooled(found.entry, found.spool, diffId, path, write);
    } finally {
      for (const s of spools) s.dispose();
    }
  }

  /**
   * One export. A member named `blobs/sha256/<hex of the diffID>` (an OCI-format export: an
   * uncompressed layer's blob digest is its diffID) is the layer: its bytes are passed on as they
   * come, hashed, and the iteration throws at its end when they do not hash to the diffID. Any
   * other member that may be the layer (an uncompressed one of tarBytes, a compressed one) can be
   * told only by its hash: its tar waits in a Spool while it is hashed; the first that hashes to
   * the diffID is passed on from there, the export abandoned (a legacy export names members by
   * ids that are not the diffID, and its manifest.json comes after the layers).
   */
  async openLayer(diffId: string, opts: ReadOptions = {}): Promise<AsyncIterable<Buffer>> {
    const engine = await this.engine();
    const name = this.name;
    return (async function* () {
      const stream = await engine.exportImage(name, opts.signal);
      try {
        yield* layerFromExport(stream, name, { diffId, tarBytes: opts.tarBytes }, opts.signal);
      } catch (e) {
        if (opts.signal?.aborted) throw new CancelledError();
        throw toFormatError(e, 'the image export');
      } finally {
        stream.destroy();
      }
    })();
  }
}

/** The layer `want` names from an export stream, as openLayer describes: one pass over the export. */
async function* layerFromExport(source: ByteSource, name: string, want: StreamLayerWant, signal?: AbortSignal): AsyncGenerator<Buffer> {
  const named = `blobs/sha256/${want.diffId.replace(/^sha256:/, '')}`;
  const members = archiveMembers(source);
  let found: Spool | undefined;
  try {
    for await (const m of members) {
      if (signal?.aborted) throw new CancelledError();
      const type = m.header.type;
      if ((type !== 'file' && type !== 'contiguous-file') || m.header.size === 0) continue;
      if (m.path === named) {
        // Known by its name: streamed, and checked by memberTar's rules (tar and blob digest).
        const layer = layerTar(m.body, { signal });
        yield* layer.chunks;
        const d = layer.digests();
        if (d.tar !== want.diffId) throw new ImageFormatError('corrupt', `the archive member ${m.path} does not match its diffID ${want.diffId}: its tar hashes to ${d.tar}`);
        if (d.blob !== want.diffId) throw new ImageFormatError('corrupt', `the archive member ${m.path} does not match its blob digest ${want.diffId}: its blob hashes to ${d.blob}`);
        return;
      }
      const { head, all } = await peek(m.body, 512);
      const compression = sniffCompression(head);
      const blob = /^blobs\/sha256\/[a-f0-9]{64}$/.test(m.path) ? 'sha256:' + m.path.slice(13) : undefined;
      if (compression === 'none') {
        // An uncompressed blob named by another digest is that digest's tar: not this layer.
        if (blob !== undefined) continue;
        if (want.tarBytes !== undefined && m.header.size !== want.tarBytes) continue;
        if (looksLikeJson(head, compression)) continue;
      }
      const spool = new Spool();
      let d: LayerDigests;
      try {
        const layer = layerTar(all, { signal });
        for await (const chunk of layer.chunks) spool.write(chunk);
        d = layer.digests();
      } catch (e) {
        spool.dispose();
        if (e instanceof CancelledError) throw e;
        continue; // not a layer after all (a compressed member that does not decompress)
      }
      if (d.tar !== want.diffId || (blob !== undefined && d.blob !== blob)) {
        spool.dispose();
        continue;
      }
      found = spool;
      break;
    }
  } catch (e) {
    found?.dispose();
    throw e;
  } finally {
    await members.return(undefined);
  }
  if (!found) throw new ImageFormatError('missing', `the engine's export of ${name} has no layer ${want.diffId}`);
  try {
    // Hashed to the diffID already: the export is abandoned, the checked bytes passed on.
    yield* found.read();
  } finally {
    found.dispose();
  }
}

async function loadFromEngine(name: string, opts: LoadOptions): Promise<ImageData> {
  if (!opts.engine) throw new Error('no engine connection configured');
  const engine = await opts.engine();
  const inspect = await engine.inspectImage(name, opts.signal);
  const hist = await engine.history(inspect.id, opts.signal);
  // An image whose documents and every layer the cache knows is not exported again: its id is the
  // digest of its config (or of the manifest or index that commits to it), and its diffIDs are
  // the digests of its layer tars.
  let image = opts.cache ? await imageFromCache(opts.cache, inspect, name, opts.platform) : undefined;
  /** The image id names the config read (directly, or through the manifest or index it is the digest of). */
  let named = true;
  if (image) {
    opts.onProgress?.(inspect.size, inspect.size);
  } else {
    // The export stream is consumed whole; layers the cache knows are hashed instead of parsed.
    // Progress: the stream is about the image's size (its layer tars).
    const onProgress = opts.onProgress ? (b: number): void => opts.onProgress!(b, inspect.size) : undefined;
    let read = await readEngineStream(await engine.exportImage(inspect.id, opts.signal), inspect.diffIds, { ...opts, onProgress });
    if (read.contents.cacheMismatches.length) {
      // A cached layer's size and first 64 KiB matched but its hash did not: read again, no cache.
      read = await readEngineStream(await engine.exportImage(inspect.id, opts.signal), inspect.diffIds, { ...opts, onProgress, useCache: false });
    }
    const contents = read.contents;
    image = await assembleArchive(contents, { kind: 'engine', ref: name }, { platform: opts.platform });
    // The export's documents by digest (configs, manifests, indexes: a few small JSON files).
    const docs = new Map<string, Buffer>();
    for (const doc of contents.docs.values()) docs.set(digestOf(doc), doc);
    const used: Array<[string, Buffer]> = [];
    const readDoc = async (d: string): Promise<Buffer | undefined> => {
      const b = docs.get(d);
      if (b) used.push([d, b]);
      return b;
    };
    named = image.id === inspect.id || (await configDigestOf(inspect.id, readDoc, { platform: opts.platform })) === image.id;
    if (!named) {
      image.warnings.push(`the exported config ${image.id} differs from the inspected image ${inspect.id}`);
    }
    if (opts.cache) {
      cacheEngineLayers(opts.cache, contents, image);
      // The documents too, unless the export said more than they and the layers can say again.
      if (named && contents.warnings.length === 0) {
        for (const [d, b] of used) opts.cache.putDoc(d, b);
        const config = docs.get(image.id);
        if (config) opts.cache.putDoc(image.id, config);
      }
    }
  }
  // An engine image goes by the id its engine gives it (what `docker images` shows, and what the
  // extension's quick views compare with): the config's digest, or under Docker's containerd image
  // store the manifest or index digest that commits to that config.
  if (named) image.id = inspect.id;
  image.repoTags = inspect.repoTags;
  image.engineLayerSizes = engineLayerSizes(image, hist.map((h) => h.size));
  return image;
}

/**
 * An engine image from the cache alone: its documents (by digest, each checked by its hash: the
 * config, and the manifest or index the image id names) and every layer's index (by diffID, see
 * LayerIndexCache.getForEngine), assembled as an export would be. Undefined when anything is
 * missing, or the config's diffIDs are not the inspected ones.
 */
async function imageFromCache(cache: LayerIndexCache, inspect: { id: string; diffIds: string[] }, name: string, platform?: PlatformWanted): Promise<ImageData | undefined> {
  const configDigest = await configDigestOf(inspect.id, async (d) => cache.getDoc(d), { platform });
  const config = configDigest ? cache.getDoc(configDigest) : undefined;
  if (!config) return undefined;
  let diffIds: unknown;
  try {
    diffIds = parseImageConfig(config).rootfs?.diff_ids;
  } catch {
    return undefined;
  }
  if (!Array.isArray(diffIds) || diffIds.length !== inspect.diffIds.length || diffIds.some((d, i) => d !== inspect.diffIds[i])) return undefined;
  const layers = new Map<string, LayerIndex>();
  for (let i = 0; i < inspect.diffIds.length; i++) {
    const layer = cache.getForEngine(inspect.diffIds[i]);
    if (!layer) return undefined;
    // A verified record may come from a compressed blob of a file: an engine exports plain tars.
    layers.set(`${i}/layer.tar`, layer.compression === 'none' ? layer : withFacts(layer, { compression: 'none' }));
  }
  const manifest = [{ Config: 'config.json', RepoTags: [], Layers: inspect.diffIds.map((_, i) => `${i}/layer.tar`) }];
  const docs = new Map([['manifest.json', Buffer.from(JSON.stringify(manifest))], ['config.json', config]]);
  const image = await assembleArchive({ docs, layers, links: new Map(), layerErrors: new Map(), warnings: [] }, { kind: 'engine', ref: name });
  // The member paths above are made up: the export that would name them was not read.
  delete image.layerIds;
  return image.id === configDigest ? image : undefined;
}

/**
 * The engine's history (newest first) aligned with the config history: entry i of the reversed
 * list is config history entry i. Falls back to matching non-empty rows in order when the counts
 * differ (some engines collapse entries).
 */
export function engineLayerSizes(image: Pick<ImageData, 'history' | 'layers'>, newestFirstSizes: number[]): number[] | undefined {
  const sizes = [...newestFirstSizes].reverse();
  const out = new Array<number>(image.layers.length).fill(0);
  if (sizes.length === image.history.length) {
    for (const h of image.history) if (h.layerIndex !== null) out[h.layerIndex] = sizes[h.index];
    return out;
  }
  return undefined;
}
