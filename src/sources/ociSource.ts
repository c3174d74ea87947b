// An OCI image layout on disk (index.json → [index →] manifest → config + layer blobs). The image
// is the one the reference names (index.json's ref names, or `@N`), the only one, or, among one
// image's platforms, this host's (or --platform's). Every document read is checked against the
// digest it is read by; every layer blob against its blob digest and its tar against the diffID:
// an uncompressed blob is walked by seeking and hashed beside (src/sources/digests.ts), a
// compressed one hashed as it decompresses (several side by side on the layer workers,
// src/sources/blobPool.ts). The cache keeps each blob's index by the blob file's identity, and
// with it whether it was checked: an unchanged layout is neither read nor hashed again.
import { promises as fs, type Stats } from 'node:fs';
import * as nodePath from 'node:path';
import { indexLayerAt, type BlobDigests } from '../core/image/tar/archiveSeek';
import { ImageFormatError, throwIfAborted } from '../core/image/errors';
import { withFacts } from '../core/image/indexCodec';
import type { EntryContent } from '../core/image/tar/layerRead';
import { alignHistory, blobPath, checkDigest, diffIdCountMismatch, digestOf, parseImageConfig, parseJson, resolveOciIndex, summariseConfig, type Descriptor, type PlatformWanted } from '../core/image/oci';
import type { ImageData, LayerIndex } from '../core/image/types';
import { BlobIndexPool, blobWorkerCount, blobWorkerScript } from './blobPool';
import { checkLayer, checkRanges, copyEntryInRange, markChecked, rangeTar, readEntryInRange, type CacheHit, type LayerDigests, type LayerWant, type RangeJob } from './digests';
import { compressionAt, headDigest, openFileAccess } from './fastRead';
import { fileOrigin } from './indexCache';
import { BaseSource, NOT_VERIFIED, type CopiedEntry, type LoadOptions, type ReadOptions, type SourceOptions, type SpoolOptions } from './imageSource';

/** The image a layout's index resolves to: its documents, before any layer is read. */
interface Resolved {
  configBuf: Buffer;
  diffIds: string[];
  layers: Descriptor[];
  refName?: string;
  cfg: ReturnType<typeof parseImageConfig>;
}

/** One layer blob before it is read: where, a cache hit for this very file, its compression. */
interface Blob {
  d: Descriptor;
  p: string;
  diffId: string;
  label: string;
  origin: string;
  stat: Stats;
  compression: LayerIndex['compression'];
  /** The cache record read from this very file, its index with this blob's compression. */
  hit?: { index: LayerIndex; record: CacheHit };
  /** What it must hash to, when it is checked in this read. */
  want?: LayerWant;
  job?: Promise<{ layer: LayerIndex; digests?: LayerDigests }>;
}

export class OciLayoutSource extends BaseSource {
  /** Blob origins (file identities) whose bytes this source checked against their digests. */
  private readonly checked = new Set<string>();

  constructor(private readonly dir: string, private readonly ref: string | undefined, options: SourceOptions) {
    super({ kind: 'oci', dir, ref }, options);
  }

  private async readDoc(rel: string, what: string): Promise<Buffer> {
    const p = nodePath.join(this.dir, rel);
    const st = await fs.stat(p).catch(() => null);
    if (!st) throw new ImageFormatError('missing', `the OCI layout ${this.dir} lacks ${what} (${rel})`);
    if (st.size > 16 * 1024 * 1024) throw new ImageFormatError('limit', `${what} in ${this.dir} is larger than 16 MiB`);
    return fs.readFile(p);
  }

  private async resolve(platform: PlatformWanted | undefined, verify: boolean): Promise<Resolved> {
    const index = parseJson<{ manifests?: [] }>(await this.readDoc('index.json', 'index.json'), `${this.dir}/index.json`);
    const resolved = await resolveOciIndex(index, (d) => this.readDoc(blobPath(d), `blob ${d}`), { platform, ref: this.ref, checkDigests: verify });
    const configBuf = await this.readDoc(blobPath(resolved.configDigest), 'the image config');
    if (verify) checkDigest(configBuf, resolved.configDigest, `the image config ${resolved.configDigest}`);
    const cfg = parseImageConfig(configBuf);
    const diffIds = cfg.rootfs?.diff_ids ?? [];
    if (diffIds.length !== resolved.layers.length) {
      throw new ImageFormatError('corrupt', diffIdCountMismatch(diffIds.length, resolved.layers.length));
    }
    return { configBuf, diffIds, layers: resolved.layers, refName: resolved.refName, cfg };
  }

  /** Layer i's blob: present? cached for this very file? compressed? checked before? */
  private async blob(r: Resolved, i: number, verify: boolean): Promise<Blob> {
    const d = r.layers[i];
    const p = nodePath.join(this.dir, blobPath(d.digest));
    if (!(await fs.stat(p).catch(() => null))) {
      throw new ImageFormatError('missing', `the OCI layout ${this.dir} lacks layer ${i} (blob ${d.digest})`);
    }
    const f = openFileAccess(p);
    try {
      const origin = fileOrigin(p, f.stat, 0);
      const compression = compressionAt(f.access, 0, f.stat.size);
      const found = this.options.cache?.lookup(r.diffIds[i], origin);
      const label = `layer ${i} (blob ${d.digest.slice(0, 19)})`;
      const hit = found ? { index: withFacts(found.index, { compression }), record: found } : undefined;
      const want = verify && !found?.verified && !this.checked.has(origin) ? { label, diffId: r.diffIds[i], blob: d.digest } : undefined;
      return { d, p, diffId: r.diffIds[i], label, origin, stat: f.stat, compression, hit, want };
    } finally {
      f.close();
    }
  }

  async load(opts: LoadOptions = {}): Promise<ImageData> {
    const o = { ...this.options, ...opts };
    const verify = o.verify !== false;
    const cache = o.cache;
    const r = await this.resolve(o.platform, verify);
    const { history, warnings } = alignHistory(r.cfg, r.layers.length);
    const image: ImageData = {
      id: digestOf(r.configBuf),
      repoTags: r.refName ? [r.refName] : [],
      config: summariseConfig(r.cfg),
      diffIds: r.diffIds,
      layers: [],
      history,
      // Every layer is a blob, at blobs/<algorithm>/<hex> in the layout.
      layerIds: r.layers.map(() => 'blobs'),
      source: { kind: 'oci', ref: this.dir },
      warnings,
    };
    if (!verify) image.warnings.push(NOT_VERIFIED);
    // The stack order is known before any layer is read: partial results can follow it.
    try {
      o.onPlan?.({ image: { ...image, layers: [] }, paths: r.layers.map((d) => blobPath(d.digest)) });
    } catch {
      // An invalid digest: reported below, when that layer is reached.
    }
    const total = r.layers.reduce((a, d) => a + (typeof d.size === 'number' && d.size > 0 ? d.size : 0), 0);
    // Every blob is looked at first (present? in the cache? compressed?); compressed blobs the
    // cache lacks are read side by side on worker threads when there are several of them
    // (blobPool.ts), and hashed as they are read; blobs read by seeking, or taken from the cache
    // unchecked, are hashed beside (digests.ts). Results are taken, and reported, bottom layer first.
    const blobs: Blob[] = [];
    for (let i = 0; i < r.layers.length; i++) blobs.push(await this.blob(r, i, verify));
    const ranges: RangeJob[] = [];
    /** Blobs hashed beside the reading (by origin: a blob two layers share is hashed once). */
    const hashedBeside = new Set<string>();
    for (const b of blobs) {
      if (!b.want || (!b.hit && b.compression !== 'none') || hashedBeside.has(b.origin)) continue;
      hashedBeside.add(b.origin);
      ranges.push({ path: b.p, offset: 0, size: b.stat.size, want: b.want });
    }
    const checks = checkRanges(ranges, { signal: o.signal });
    const forWorkers = blobs.filter((b) => !b.hit && b.compression !== 'none');
    const workers = blobWorkerCount(forWorkers.length, forWorkers.reduce((a, b) => a + b.stat.size, 0));
    const script = workers > 0 ? blobWorkerScript() : undefined;
    // Asked for explicitly, a missing worker script is an error (a packaging mistake must not pass
    // unseen); chosen by size alone, the layers are read in-process instead.
    if (workers > 0 && !script && process.env.LAYERLENS_BLOB_WORKERS) {
      throw new Error(`LAYERLENS_BLOB_WORKERS=${process.env.LAYERLENS_BLOB_WORKERS}, but the layer worker script (blobworker.js) is missing from ${__dirname}`);
    }
    const pool = script ? new BlobIndexPool(workers, script, o.signal) : undefined;
    try {
      if (pool) {
        for (const b of forWorkers) {
          b.job = pool.indexHashed(b.p, { label: b.label, diffId: b.diffId, digests: !!b.want });
          b.job.catch(() => undefined); // awaited in order below; an early failure must not go unhandled
        }
      }
      let done = 0;
      for (const b of blobs) {
        throwIfAborted(o.signal);
        let layer: LayerIndex;
        if (b.hit) {
          layer = b.hit.index;
        } else {
          let digests: Pick<LayerDigests, 'blob' | 'tar'> | undefined;
          if (b.job) {
            const j = await b.job;
            layer = j.layer;
            digests = j.digests;
          } else {
            const got: BlobDigests = {};
            layer = await this.index(b, b.want ? got : undefined, o.signal);
            digests = got.blob && got.tar ? { blob: got.blob, tar: got.tar } : undefined;
          }
          if (b.want && !hashedBeside.has(b.origin)) {
            if (!digests) throw new ImageFormatError('corrupt', `${b.label} was not hashed`);
            checkLayer(b.want, digests);
          }
        }
        o.onLayer?.(blobPath(b.d.digest), layer);
        image.layers.push(layer);
        done += typeof b.d.size === 'number' && b.d.size > 0 ? b.d.size : 0;
        o.onProgress?.(done, total);
      }
      await Promise.all(checks.done);
    } catch (e) {
      throwIfAborted(o.signal);
      // A layer that is not the one named is reported as that, whatever else failed on it.
      for (const s of await Promise.allSettled(checks.done)) if (s.status === 'rejected') throw s.reason;
      throw e;
    } finally {
      checks.close();
      pool?.close();
    }
    blobs.forEach((b, i) => {
      if (b.want) this.checked.add(b.origin);
      if (!cache) return;
      if (b.hit) {
        if (b.want) markChecked(cache, b.diffId, b.hit.record);
        return;
      }
      const layer = image.layers[i];
      cache.put(b.diffId, layer, { verified: verify, head: b.compression === 'none' ? this.head(b) : '', hdr: '', origin: b.origin });
    });
    return image;
  }

  /** One blob indexed in this thread: walked by seeking (uncompressed) or decompressed (and hashed into `digests`). */
  private async index(b: Blob, digests: BlobDigests | undefined, signal?: AbortSignal): Promise<LayerIndex> {
    const f = openFileAccess(b.p);
    try {
      return await indexLayerAt(f.access, 0, f.stat.size, { label: b.label, signal, diffId: b.diffId, digests });
    } finally {
      f.close();
    }
  }

  private head(b: Blob): string {
    const f = openFileAccess(b.p);
    try {
      return headDigest(f.access, 0, f.stat.size);
    } finally {
      f.close();
    }
  }

  /** The blob of layer diffId in the image the layout resolves to. */
  private async layerBlob(diffId: string): Promise<Blob> {
    const r = await this.resolve(this.options.platform, this.verify);
    const i = r.diffIds.indexOf(diffId);
    if (i < 0) throw new ImageFormatError('missing', `the image in ${this.dir} has no layer ${diffId}`);
    return this.blob(r, i, this.verify);
  }

  protected async readEntry(diffId: string, path: string, opts: ReadOptions & { maxBytes: number }): Promise<EntryContent | undefined> {
    const b = await this.layerBlob(diffId);
    const e = await readEntryInRange({ file: b.p, offset: 0, size: b.stat.size, want: b.want }, path, opts);
    if (b.want) this.remember(b);
    return e;
  }

  private remember(b: Blob): void {
    this.checked.add(b.origin);
    markChecked(this.options.cache, b.diffId, b.hit?.record);
  }

  /** An uncompressed blob: as ArchiveFileSource.copyFile does it (by seeking; straight from the file once checked). */
  override async copyFile(diffId: string, path: string, write: (chunk: Buffer) => Promise<void>, opts: ReadOptions & { spool?: SpoolOptions } = {}): Promise<CopiedEntry> {
    const b = await this.layerBlob(diffId);
    const got = await copyEntryInRange({ file: b.p, offset: 0, size: b.stat.size, want: b.want }, diffId, path, write, opts);
    if (!got) return super.copyFile(diffId, path, write, opts);
    if (b.want) this.remember(b);
    return got;
  }

  async openLayer(diffId: string, opts: ReadOptions = {}): Promise<AsyncIterable<Buffer>> {
    const b = await this.layerBlob(diffId);
    const remember = (): void => this.remember(b);
    return (async function* () {
      yield* rangeTar({ file: b.p, offset: 0, size: b.stat.size, want: b.want }, opts.signal);
      if (b.want) remember();
    })();
  }
}
