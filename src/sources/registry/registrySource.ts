// An image in a registry, read without pulling: `registry://HOST[:PORT]/REPO[:TAG|@DIGEST]`.
// The manifest (an index resolved to --platform, default this machine's) and the config come
// first, checked against their digests: that is all CodeLens sizes and `layerlens lines` need
// (quickImage: compressed sizes from the manifest, history from the config; no blob is read).
// Layers are read only for an analysis or a file version: each blob streams from the registry
// straight into the tar walker (gzip, zstd or plain, sniffed from its bytes), a few at once
// (`parallel`, default 3), hashed as it passes: the blob against its digest, the tar against its
// diffID. Nothing is written to disk but the cache's layer indexes (verified: their tar hashed to
// the diffID), so a layer known from any source is not downloaded again.
// A layer whose descriptor announces a table of contents (eStargz, zstd:chunked: core/image/tar/toc.ts)
// is indexed from it instead, read with Range requests (its footer and TOC, checked against the
// annotation; the manifest that carries the annotation is checked against its digest). Its blob
// is not downloaded, so its diffID and blob digest are not checked: the image says so per layer
// (ImageData.tocLayers) and in one warning. `fullRead` (--full-read) reads every blob whole.
import { CancelledError, ImageFormatError, throwIfAborted } from '../../core/image/errors';
import { BlobIndexer } from '../../core/image/tar/archiveStream';
import { EntryFinder, layerTar, type EntryContent } from '../../core/image/tar/layerRead';
import { withFacts } from '../../core/image/indexCodec';
import { ESTARGZ_FOOTER_SIZE, estargzToc, indexFromToc, parseEstargzFooter, tocPlanOf, zstdChunkedToc, type TocKind, type TocPlan } from '../../core/image/tar/toc';
import { alignHistory, diffIdCountMismatch, parseImageConfig, summariseConfig, type Descriptor } from '../../core/image/oci';
import type { QuickImage } from '../../core/image/quickImage';
import type { ImageData, LayerIndex } from '../../core/image/types';
import { LayerDigestError, checkLayer, type LayerWant } from '../digests';
import { BaseSource, type LoadOptions, type ReadOptions, type SourceOptions } from '../imageSource';
import { RegistryClient, type RemoteImage } from './client';
import { formatRegistryRef, parseRegistryRef, type RegistryRef } from './reference';

/** The image's documents, parsed, before any layer is read. */
interface Resolved extends RemoteImage {
  cfg: ReturnType<typeof parseImageConfig>;
  diffIds: string[];
}

/** The compression a layer's media type names (the bytes decide when it is read). */
function mediaCompression(d: Descriptor): LayerIndex['compression'] {
  const t = d.mediaType ?? '';
  if (/zstd/.test(t)) return 'zstd';
  if (/gzip/.test(t)) return 'gzip';
  return t ? 'none' : 'gzip';
}

/** The bytes an eStargz TOC read asks for first: the footer and, mostly, the whole TOC. */
const TOC_TAIL_BYTES = 64 * 1024;

/** Runs tasks at most `n` at a time, in the order they are asked for. */
class Limiter {
  private running = 0;
  private readonly queue: Array<() => void> = [];
  constructor(private readonly n: number) {}
  run<T>(task: () => Promise<T>): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      const start = (): void => {
        this.running++;
        task().then(resolve, reject).finally(() => {
          this.running--;
          this.queue.shift()?.();
        });
      };
      if (this.running < this.n) start();
      else this.queue.push(start);
    });
  }
}

export class RegistrySource extends BaseSource {
  readonly ref: RegistryRef;
  private client: RegistryClient | undefined;
  private resolved: Promise<Resolved> | undefined;

  constructor(private readonly source: string, options: SourceOptions) {
    super({ kind: 'registry', ref: source }, options);
    this.ref = parseRegistryRef(source);
  }

  /** The transport's counters (requests, retries, resumes, tokens): tests and LAYERLENS_DEBUG. */
  get stats(): RegistryClient['transport']['stats'] | undefined {
    return this.client?.transport.stats;
  }

  private registry(): RegistryClient {
    this.client ??= new RegistryClient(this.ref, this.options.registry);
    return this.client;
  }

  /** The manifest and config (once per reader: its layers are the ones later reads name). */
  private resolve(signal?: AbortSignal): Promise<Resolved> {
    this.resolved ??= (async () => {
      const r = await this.registry().resolve(this.options.platform, signal);
      const cfg = parseImageConfig(r.configBuf);
      const diffIds = cfg.rootfs?.diff_ids ?? [];
      if (diffIds.length !== r.layers.length) {
        throw new ImageFormatError('corrupt', `${this.source}: ${diffIdCountMismatch(diffIds.length, r.layers.length)}`);
      }
      // A single-platform image asked for another platform by name: no such image (an index
      // chose by platform already; without --platform the one image is read, as docker does).
      const want = this.options.platform;
      if (want && !r.fromIndex && (cfg.os !== want.os || cfg.architecture !== want.architecture || (want.variant && cfg.variant !== want.variant))) {
        const have = `${cfg.os ?? '?'}/${cfg.architecture ?? '?'}${cfg.variant ? '/' + cfg.variant : ''}`;
        throw new ImageFormatError('missing', `${this.source} is one image for ${have}: no image for platform ${want.os}/${want.architecture}${want.variant ? '/' + want.variant : ''}`);
      }
      return { ...r, cfg, diffIds };
    })();
    this.resolved.catch(() => { this.resolved = undefined; });
    return this.resolved;
  }

  private imageOf(r: Resolved): ImageData {
    const { history, warnings } = alignHistory(r.cfg, r.layers.length);
    const name = `${this.ref.host}/${this.ref.repo}`;
    return {
      id: r.configDigest,
      repoTags: this.ref.tag ? [`${name}:${this.ref.tag}`] : [],
      config: summariseConfig(r.cfg),
      diffIds: r.diffIds,
      layers: [],
      history,
      // `image.source` reads `registry://HOST/REPO:TAG` (kind, a colon, this ref).
      source: { kind: 'registry', ref: formatRegistryRef(this.ref).slice('registry:'.length) },
      warnings,
    };
  }

  /**
   * The image's history with each layer's compressed size from the manifest: CodeLens sizes and
   * `layerlens lines` without reading a blob.
   */
  async quickImage(signal?: AbortSignal): Promise<QuickImage> {
    const r = await this.resolve(signal);
    const image = this.imageOf(r);
    return { id: image.id, repoTags: image.repoTags, history: image.history, layerSizes: r.layers.map((d) => (typeof d.size === 'number' && d.size > 0 ? d.size : 0)), alignment: 'analyzed' };
  }

  private want(r: Resolved, i: number): LayerWant {
    return { label: `layer ${i} (blob ${r.layers[i].digest.slice(0, 19)})`, diffId: r.diffIds[i], blob: r.layers[i].digest };
  }

  /**
   * Layer i's index from its table of contents, read with Range requests: eStargz, the blob's tail
   * (64 KiB, which holds the footer and most TOCs), then the rest of the TOC if it starts before;
   * zstd:chunked, the TOC's bytes at the position the annotation names. undefined when the registry
   * ignores Range (it answered with the whole blob): the caller reads the blob.
   */
  private async indexToc(r: Resolved, i: number, plan: TocPlan, signal: AbortSignal | undefined): Promise<LayerIndex | undefined> {
    const d = r.layers[i];
    const size = d.size!;
    const label = `registry ${this.ref.host}: ${this.want(r, i).label}`;
    const client = this.registry();
    const range = async (start: number, end: number): Promise<Buffer | undefined> => {
      const got = await client.blobRange(d.digest, start, end, this.want(r, i).label, signal);
      return 'bytes' in got ? got.bytes : undefined;
    };
    if (plan.kind === 'zstd:chunked') {
      const bytes = await range(plan.offset, plan.offset + plan.length - 1);
      if (!bytes) return undefined;
      return indexFromToc(zstdChunkedToc(bytes, plan, label), { diffId: r.diffIds[i], compression: 'zstd', label });
    }
    const tailStart = Math.max(0, size - TOC_TAIL_BYTES);
    let tail = await range(tailStart, size - 1);
    if (!tail) return undefined;
    const tocOffset = parseEstargzFooter(tail.subarray(tail.length - ESTARGZ_FOOTER_SIZE), label, size);
    if (tocOffset < tailStart) {
      const head = await range(tocOffset, tailStart - 1);
      if (!head) return undefined;
      tail = Buffer.concat([head, tail]);
    }
    const member = tail.subarray(tocOffset - Math.min(tocOffset, tailStart), tail.length - ESTARGZ_FOOTER_SIZE);
    return indexFromToc(estargzToc(member, plan.tocDigest, label), { diffId: r.diffIds[i], compression: 'gzip', label });
  }

  /** One blob streamed into the tar walker, hashed: its index, checked against its diffID. */
  private async indexBlob(r: Resolved, i: number, signal: AbortSignal | undefined, onBytes: (n: number) => void): Promise<LayerIndex> {
    const d = r.layers[i];
    const want = this.want(r, i);
    // The tar is hashed here (the diffID); the blob by the registry client as it arrives.
    const bi = new BlobIndexer(want.label, typeof d.size === 'number' ? d.size : 0, undefined, true, false);
    // Bytes the walker refuses (corrupt gzip, a broken tar) are read to the end all the same: a
    // blob that is not the one its digest names is reported as that, whatever else failed on it.
    let refused: unknown;
    // The socket's 16–64 KiB chunks are written to the walker 1 MiB at a time: one decompression
    // job per MiB instead of per chunk.
    let held: Buffer[] = [];
    let heldBytes = 0;
    const feed = async (): Promise<void> => {
      const c = held.length === 1 ? held[0] : Buffer.concat(held, heldBytes);
      held = [];
      heldBytes = 0;
      if (refused !== undefined) return;
      try {
        bi.write(c);
        const p = bi.pending();
        if (p) await p;
      } catch (e) {
        if (!(e instanceof ImageFormatError)) throw e;
        refused = e;
      }
    };
    for await (const c of this.registry().blob(d.digest, typeof d.size === 'number' ? d.size : undefined, want.label, signal)) {
      held.push(c);
      heldBytes += c.length;
      if (heldBytes >= 1024 * 1024) await feed();
      onBytes(c.length);
      if (signal?.aborted) throw new CancelledError();
    }
    if (heldBytes > 0) await feed();
    if (refused !== undefined) throw refused;
    const layer = await bi.end(want.diffId);
    if (bi.tarDigest !== want.diffId) throw new LayerDigestError(want, 'diffID', bi.tarDigest ?? '?');
    return layer;
  }

  async load(opts: LoadOptions = {}): Promise<ImageData> {
    const o = { ...this.options, ...opts };
    const r = await this.resolve(o.signal);
    const image = this.imageOf(r);
    const keys = r.layers.map((d) => d.digest);
    o.onPlan?.({ image: { ...image, layers: [] }, paths: keys });
    const total = r.layers.reduce((a, d) => a + (typeof d.size === 'number' && d.size > 0 ? d.size : 0), 0);
    let done = 0;
    const onBytes = (n: number): void => {
      done += n;
      o.onProgress?.(done, total);
    };
    const limiter = new Limiter(Math.max(1, o.registry?.parallel ?? 3));
    // Started bottom first, a few at a time; one job per blob (an image may ship a blob twice).
    const jobs = new Map<string, Promise<{ layer: LayerIndex; fresh: boolean; toc?: TocKind }>>();
    // One failed layer stops the others (and so does the caller's signal).
    const ac = new AbortController();
    const signal = ac.signal;
    const onAbort = (): void => ac.abort();
    if (o.signal?.aborted) ac.abort();
    o.signal?.addEventListener('abort', onAbort, { once: true });
    for (let i = 0; i < r.layers.length; i++) {
      const d = r.layers[i];
      if (jobs.has(d.digest)) continue;
      // A verified index (its tar hashed to this diffID, from any source) stands for the layer.
      const hit = o.cache?.lookup(r.diffIds[i]);
      // Else its table of contents, when it announces one and the blob's size is known.
      const plan = !hit && !o.registry?.fullRead && typeof d.size === 'number' && d.size > ESTARGZ_FOOTER_SIZE ? tocPlanOf(d) : undefined;
      const job: Promise<{ layer: LayerIndex; fresh: boolean; toc?: TocKind }> = hit
        ? Promise.resolve({ layer: withFacts(hit.index, { compression: mediaCompression(d) }), fresh: false })
        : limiter.run(async () => {
          throwIfAborted(signal);
          if (plan) {
            const layer = await this.indexToc(r, i, plan, signal);
            if (layer) return { layer, fresh: false, toc: plan.kind };
          }
          return { layer: await this.indexBlob(r, i, signal, onBytes), fresh: true };
        });
      job.catch(() => undefined); // awaited in order below; an early failure must not go unhandled
      jobs.set(d.digest, job);
    }
    try {
      const tocLayers: Array<TocKind | null> = [];
      for (let i = 0; i < r.layers.length; i++) {
        const { layer, fresh, toc } = await jobs.get(r.layers[i].digest)!;
        tocLayers.push(toc ?? null);
        if (!fresh) onBytes(typeof r.layers[i].size === 'number' ? r.layers[i].size! : 0);
        if (fresh && o.cache && !o.cache.recordDigestOf(layer)) {
          o.cache.put(r.diffIds[i], layer, { verified: true, head: '', hdr: '', origin: 'registry' });
        }
        o.onLayer?.(keys[i], layer);
        image.layers.push(layer);
      }
      const byToc = tocLayers.filter((t) => t !== null);
      if (byToc.length) {
        image.tocLayers = tocLayers;
        const kinds = [...new Set(byToc)].join(', ');
        image.warnings.push(`${byToc.length} of ${r.layers.length} layers were indexed from their table of contents (${kinds}) without downloading their blobs: their diffIDs and blob digests were not checked (--full-read reads and checks them)`);
      }
    } catch (e) {
      ac.abort();
      throwIfAborted(o.signal);
      throw e;
    } finally {
      o.signal?.removeEventListener('abort', onAbort);
    }
    return image;
  }

  /** Layer diffId's blob as its uncompressed tar, checked against both digests as it streams. */
  private async *layerChunks(diffId: string, signal?: AbortSignal): AsyncGenerator<Buffer> {
    const r = await this.resolve(signal);
    const i = r.diffIds.indexOf(diffId);
    if (i < 0) throw new ImageFormatError('missing', `${this.source} has no layer ${diffId}`);
    const want = this.want(r, i);
    const d = r.layers[i];
    const t = layerTar(this.registry().blob(d.digest, typeof d.size === 'number' ? d.size : undefined, want.label, signal), { signal });
    yield* t.chunks;
    checkLayer(want, t.digests());
  }

  async openLayer(diffId: string, opts: ReadOptions = {}): Promise<AsyncIterable<Buffer>> {
    await this.resolve(opts.signal);
    return this.layerChunks(diffId, opts.signal);
  }

  protected async readEntry(diffId: string, path: string, opts: ReadOptions & { maxBytes: number }): Promise<EntryContent | undefined> {
    const f = new EntryFinder(path, opts.maxBytes);
    for await (const c of this.layerChunks(diffId, opts.signal)) f.write(c);
    return f.result();
  }
}
