// Opens an image from any source and reads it through the one core parser. Source strings follow
// skopeo's transports: `docker://NAME` or a bare name/id (engine), `docker-archive:PATH[:REF]` or a
// path to a tar file (saved archive), `oci:DIR[:REF]` or a directory holding index.json (OCI
// layout). REF names one image of a source that holds several: a tag as a full reference
// (`app` is `docker.io/library/app:latest`; `ghcr.io/org/app:1.0`), an OCI ref name, or `@N`.
import { promises as fs, type Stats } from 'node:fs';
import * as nodePath from 'node:path';
import { assembleArchive, type ReadArchiveOptions } from '../core/image/tar/archive';
import { ImageFormatError, throwIfAborted } from '../core/image/errors';
import { cacheCompressedLayer, cacheEngineLayers, indexLayerFile, loadArchiveFileFast, probeLayerFile, readEngineStream, type BlobProbe, type ImagePlan } from './fastRead';
import { BlobIndexPool, blobWorkerCount, blobWorkerScript } from './blobPool';
import type { LayerIndexCache } from './indexCache';
import { alignHistory, blobPath, configDigestOf, digestOf, parseImageConfig, parseJson, resolveOciIndex, summariseConfig, type PlatformWanted } from '../core/image/oci';
import type { ImageData, LayerIndex } from '../core/image/types';
import type { EngineClient } from '../engine/types';

export type SourceSpec =
  | { kind: 'engine'; name: string }
  | { kind: 'docker-archive'; path: string; ref?: string }
  | { kind: 'oci'; dir: string; ref?: string };

/** A path (of a file or a directory) and a reference after it, split at the colon that ends an existing path. */
async function splitPathAndRef(rest: string, isPath: (st: Stats) => boolean): Promise<{ path: string; ref?: string }> {
  const whole = await fs.stat(rest).catch(() => null);
  if (whole && isPath(whole)) return { path: rest };
  for (let i = rest.indexOf(':'); i > 0; i = rest.indexOf(':', i + 1)) {
    const st = await fs.stat(rest.slice(0, i)).catch(() => null);
    if (st && isPath(st)) return { path: rest.slice(0, i), ref: rest.slice(i + 1) || undefined };
  }
  // Nothing exists: as skopeo reads it, the path ends at the first colon.
  const i = rest.indexOf(':');
  return i > 0 ? { path: rest.slice(0, i), ref: rest.slice(i + 1) || undefined } : { path: rest };
}

/** Parses a source string. Paths are checked on disk: a bare word that is a file or layout wins. */
export async function parseSource(spec: string): Promise<SourceSpec> {
  if (spec.startsWith('docker://')) return { kind: 'engine', name: spec.slice('docker://'.length) };
  if (spec.startsWith('docker-daemon:')) return { kind: 'engine', name: spec.slice('docker-daemon:'.length) };
  if (spec.startsWith('docker-archive:')) {
    const { path, ref } = await splitPathAndRef(spec.slice('docker-archive:'.length), (st) => !st.isDirectory());
    return ref === undefined ? { kind: 'docker-archive', path } : { kind: 'docker-archive', path, ref };
  }
  if (spec.startsWith('oci:')) {
    const { path, ref } = await splitPathAndRef(spec.slice('oci:'.length), (st) => st.isDirectory());
    return ref === undefined ? { kind: 'oci', dir: path } : { kind: 'oci', dir: path, ref };
  }
  const st = await fs.stat(spec).catch(() => null);
  if (st?.isDirectory()) {
    if (await fs.stat(nodePath.join(spec, 'index.json')).catch(() => null)) return { kind: 'oci', dir: spec };
    throw new ImageFormatError('unsupported', `${spec} is a directory without index.json: not an OCI image layout`);
  }
  if (st?.isFile()) return { kind: 'docker-archive', path: spec };
  if (/\.(tar|tar\.gz|tgz)$/.test(spec) || spec.includes('/') && !/^[\w.-]+(:\d+)?\/[\w./-]+(:[\w.-]+)?(@sha256:[a-f0-9]{64})?$/.test(spec)) {
    throw new ImageFormatError('missing', `no such file: ${spec}`);
  }
  return { kind: 'engine', name: spec };
}

export interface LoadOptions extends Pick<ReadArchiveOptions, 'onLayer'> {
  signal?: AbortSignal;
  platform?: PlatformWanted;
  /** Connects to the engine (only called for engine sources). */
  engine?: () => Promise<EngineClient>;
  /** The persistent per-layer index cache (src/sources/indexCache.ts); none: every layer is read. */
  cache?: LayerIndexCache;
  /** The stack order and image metadata, before layers are read (archive files, OCI layouts). */
  onPlan?: (plan: ImagePlan) => void;
  /** Bytes read so far and, when known, the total (file size, blob sizes, the engine's image size). */
  onProgress?: (bytes: number, total?: number) => void;
}

export async function loadImage(spec: SourceSpec, opts: LoadOptions = {}): Promise<ImageData> {
  switch (spec.kind) {
    case 'docker-archive': return loadArchiveFile(spec.path, spec.ref, opts);
    case 'oci': return loadOciLayout(spec.dir, spec.ref, opts);
    case 'engine': return loadFromEngine(spec.name, opts);
  }
}

async function loadArchiveFile(path: string, ref: string | undefined, opts: LoadOptions): Promise<ImageData> {
  await fs.access(path).catch(() => { throw new ImageFormatError('missing', `cannot read ${path}: no such file`); });
  // By seeking (headers only) with the layer cache; an archive compressed as a whole streams.
  return loadArchiveFileFast(path, ref, opts);
}

async function loadOciLayout(dir: string, ref: string | undefined, opts: LoadOptions): Promise<ImageData> {
  const readDoc = async (rel: string, what: string): Promise<Buffer> => {
    const p = nodePath.join(dir, rel);
    const st = await fs.stat(p).catch(() => null);
    if (!st) throw new ImageFormatError('missing', `the OCI layout ${dir} lacks ${what} (${rel})`);
    if (st.size > 16 * 1024 * 1024) throw new ImageFormatError('limit', `${what} in ${dir} is larger than 16 MiB`);
    return fs.readFile(p);
  };
  const index = parseJson<{ manifests?: [] }>(await readDoc('index.json', 'index.json'), `${dir}/index.json`);
  const resolved = await resolveOciIndex(index, (d) => readDoc(blobPath(d), `blob ${d}`), { platform: opts.platform, ref });
  const configBuf = await readDoc(blobPath(resolved.configDigest), 'the image config');
  const cfg = parseImageConfig(configBuf);
  const diffIds = cfg.rootfs?.diff_ids ?? [];
  if (diffIds.length !== resolved.layers.length) {
    throw new ImageFormatError('corrupt', `the image config lists ${diffIds.length} layers but the manifest ${resolved.layers.length}`);
  }
  const { history, warnings } = alignHistory(cfg, resolved.layers.length);
  const image: ImageData = {
    id: digestOf(configBuf),
    repoTags: resolved.refName ? [resolved.refName] : [],
    config: summariseConfig(cfg),
    diffIds,
    layers: [],
    history,
    source: { kind: 'oci', ref: dir },
    warnings,
  };
  // The stack order is known before any layer is read: partial results can follow it.
  try {
    opts.onPlan?.({ image: { ...image, layers: [] }, paths: resolved.layers.map((d) => blobPath(d.digest)) });
  } catch {
    // An invalid digest: reported below, when that layer is reached.
  }
  const total = resolved.layers.reduce((a, d) => a + (typeof d.size === 'number' && d.size > 0 ? d.size : 0), 0);
  // Every blob is checked first (present? in the cache? compressed?); compressed blobs the cache
  // lacks are read side by side on worker threads when there are several of them (blobPool.ts);
  // results are taken, and reported, bottom layer first.
  const blobs: Array<{ d: (typeof resolved.layers)[number]; p: string; diffId: string; label: string; probe: BlobProbe; job?: Promise<LayerIndex> }> = [];
  for (let i = 0; i < resolved.layers.length; i++) {
    const d = resolved.layers[i];
    const p = nodePath.join(dir, blobPath(d.digest));
    if (!(await fs.stat(p).catch(() => null))) {
      throw new ImageFormatError('missing', `the OCI layout ${dir} lacks layer ${i} (blob ${d.digest})`);
    }
    blobs.push({ d, p, diffId: diffIds[i], label: `layer ${i} (${d.digest.slice(0, 19)})`, probe: probeLayerFile(p, diffIds[i], opts.cache) });
  }
  const forWorkers = blobs.filter((b) => !b.probe.hit && b.probe.compression !== 'none');
  const workers = blobWorkerCount(forWorkers.length, forWorkers.reduce((a, b) => a + b.probe.size, 0));
  const script = workers > 0 ? blobWorkerScript() : undefined;
  // Asked for explicitly, a missing worker script is an error (a packaging mistake must not pass
  // unseen); chosen by size alone, the layers are read in-process instead.
  if (workers > 0 && !script && process.env.LAYERLENS_BLOB_WORKERS) {
    throw new Error(`LAYERLENS_BLOB_WORKERS=${process.env.LAYERLENS_BLOB_WORKERS}, but the layer worker script (blobworker.js) is missing from ${__dirname}`);
  }
  const pool = script ? new BlobIndexPool(workers, script, opts.signal) : undefined;
  try {
    if (pool) {
      for (const b of forWorkers) {
        b.job = pool.index(b.p, { label: b.label, diffId: b.diffId });
        b.job.catch(() => undefined); // awaited in order below; an early failure must not go unhandled
      }
    }
    let done = 0;
    for (const b of blobs) {
      throwIfAborted(opts.signal);
      let layer: LayerIndex;
      if (b.job) {
        layer = await b.job;
        if (opts.cache) cacheCompressedLayer(opts.cache, b.diffId, layer, b.probe.origin);
      } else {
        layer = await indexLayerFile(b.p, { signal: opts.signal, diffId: b.diffId, label: b.label, cache: opts.cache, probe: b.probe });
      }
      opts.onLayer?.(blobPath(b.d.digest), layer);
      image.layers.push(layer);
      done += typeof b.d.size === 'number' && b.d.size > 0 ? b.d.size : 0;
      opts.onProgress?.(done, total);
    }
  } catch (e) {
    throwIfAborted(opts.signal);
    throw e;
  } finally {
    pool?.close();
  }
  return image;
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
    layers.set(`${i}/layer.tar`, layer);
  }
  const manifest = [{ Config: 'config.json', RepoTags: [], Layers: inspect.diffIds.map((_, i) => `${i}/layer.tar`) }];
  const docs = new Map([['manifest.json', Buffer.from(JSON.stringify(manifest))], ['config.json', config]]);
  const image = await assembleArchive({ docs, layers, links: new Map(), layerErrors: new Map(), warnings: [] }, { kind: 'engine', ref: name });
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
