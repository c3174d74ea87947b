// A `docker save` file (either layout; or an OCI layout packed in a tar), plain or compressed as a
// whole (`docker save … | gzip`, `| zstd`):
// - plain: read by seeking (src/core/image/tar/archiveSeek.ts): outer headers, documents, then
//   each layer member's own headers; members the cache holds for this very file (path, size,
//   mtime, inode, offset) are not read at all. Every layer member is hashed beside the header
//   walk and checked against its diffID (and a `blobs/sha256/<hex>` member against that digest);
//   the check is remembered with the cache record, so an unchanged file is not hashed again.
// - compressed as a whole: read as a stream once (every layer hashed as it goes by), then recorded
//   by the file's identity (documents by digest, each layer member's index under the member's
//   origin): the same file is not decompressed again.
// The image is the one its reference names (a tag as a full reference, or `@N`), or the only one.
// A file version is read from the member the same manifest names (plain), or from the member
// whose tar hashes to the diffID (compressed as a whole: a stream cannot be sought).
import { createReadStream, promises as fs, type Stats } from 'node:fs';
import { assembleArchive, type ArchiveContents } from '../core/image/tar/archive';
import { indexArchiveLayers, scanArchive, type ArchiveMember, type BlobDigests } from '../core/image/tar/archiveSeek';
import { readArchiveStream } from '../core/image/tar/archiveStream';
import { EntryFinder, memberTar, scanArchiveForLayer, type EntryContent } from '../core/image/tar/layerRead';
import { ImageChoiceError } from '../core/image/reference';
import { withFacts } from '../core/image/indexCodec';
import { ImageFormatError } from '../core/image/errors';
import { digestOf, isDigest, type PlatformWanted } from '../core/image/oci';
import type { ImageData, LayerIndex } from '../core/image/types';
import { blobDigestOfPath, checkLayer, checkRanges, copyEntryInRange, markChecked, rangeTar, readEntryInRange, type CacheHit, type LayerWant, type RangeJob } from './digests';
import { compressionAt, headDigest, openFileAccess, type ImagePlan } from './fastRead';
import { fileOrigin, memberOrigin, type LayerIndexCache } from './indexCache';
import { BaseSource, NOT_VERIFIED, type CopiedEntry, type LoadOptions, type ReadOptions, type SourceOptions, type SpoolOptions } from './imageSource';

export class ArchiveFileSource extends BaseSource {
  /** Origins (file identity and member) whose bytes this source checked against their digests. */
  private readonly checked = new Set<string>();

  constructor(private readonly path: string, private readonly ref: string | undefined, options: SourceOptions) {
    super({ kind: 'docker-archive', path, ref }, options);
  }

  private get source(): ImageData['source'] {
    return { kind: 'docker-archive', ref: this.path };
  }

  async load(opts: LoadOptions = {}): Promise<ImageData> {
    await fs.access(this.path).catch(() => { throw new ImageFormatError('missing', `cannot read ${this.path}: no such file`); });
    const o = { ...this.options, ...opts };
    const image = await this.loadFile(o);
    if (o.verify === false) image.warnings.push(NOT_VERIFIED);
    return image;
  }

  private async loadFile(opts: LoadOptions): Promise<ImageData> {
    const f = openFileAccess(this.path);
    try {
      const { access, stat } = f;
      // An archive compressed as a whole cannot be sought: it is read as a stream.
      if (compressionAt(access, 0, stat.size) !== 'none') return await this.loadStream(stat, opts);
      const verify = opts.verify !== false;
      const cache = opts.cache;
      const scan = scanArchive(access);
      let planned: ArchivePlan | undefined;
      try {
        planned = await planArchive(scan, this.source, this.ref, opts.platform);
      } catch {
        // Reported by assembleArchive below, with the layers read.
      }
      const ids = planned?.ids ?? new Map<string, string>();
      if (planned && planned.plan.paths.length) opts.onPlan?.(planned.plan);
      // The image's layers the cache holds for this file; those not yet checked are hashed
      // beside the header walk (compressed members being indexed are hashed as they decompress).
      const known = new Map<string, CacheHit>();
      const jobs: RangeJob[] = [];
      const hashedWhileIndexed = new Map<string, LayerWant>();
      const checkedNow: Array<[string, string]> = [];
      const byPath = new Map(scan.layerMembers.map((m) => [m.path, m]));
      (planned?.plan.paths ?? []).forEach((p, i) => {
        const m = byPath.get(p);
        const id = ids.get(p);
        if (!m || !id || known.has(p) || hashedWhileIndexed.has(p) || jobs.some((j) => j.offset === m.offset)) return;
        const origin = fileOrigin(this.path, stat, m.offset);
        const hit = cache?.lookup(id, origin);
        if (hit) known.set(p, hit);
        if (!verify || hit?.verified || this.checked.has(origin)) return;
        const want: LayerWant = { label: `layer ${i} (${p})`, diffId: id, blob: blobDigestOfPath(p) };
        checkedNow.push([id, origin]);
        if (!hit && compressionAt(access, m.offset, m.size) !== 'none') hashedWhileIndexed.set(p, want);
        else jobs.push({ path: this.path, offset: m.offset, size: m.size, want });
      });
      const checks = checkRanges(jobs, { signal: opts.signal });
      let image: ImageData;
      let indexed: Awaited<ReturnType<typeof indexArchiveLayers>>;
      try {
        const digests = new Map<string, BlobDigests>();
        indexed = await indexArchiveLayers(access, scan, {
          signal: opts.signal,
          only: ids.size ? new Set(ids.keys()) : undefined,
          knownLayer: (m) => {
            const hit = known.get(m.path);
            return hit ? withFacts(hit.index, { compression: compressionAt(access, m.offset, m.size) }) : undefined;
          },
          digests: hashedWhileIndexed.size ? digests : undefined,
          onLayer: opts.onLayer,
          onProgress: (pos) => opts.onProgress?.(pos, stat.size),
        });
        const contents: ArchiveContents = { docs: scan.docs, layers: indexed.layers, links: scan.links, layerErrors: indexed.layerErrors, warnings: scan.warnings };
        image = await assembleArchive(contents, this.source, { ref: this.ref, platform: opts.platform, checkDigests: verify });
        for (const [p, want] of hashedWhileIndexed) {
          const d = digests.get(p);
          if (!d?.blob || !d.tar) throw new ImageFormatError('corrupt', `${want.label} was not hashed`);
          checkLayer(want, { blob: d.blob, tar: d.tar });
        }
        await Promise.all(checks.done);
      } catch (e) {
        // A layer that is not the one named is reported as that, whatever else failed on it.
        for (const r of await Promise.allSettled(checks.done)) if (r.status === 'rejected') throw r.reason;
        throw e;
      } finally {
        checks.close();
      }
      for (const [, origin] of checkedNow) this.checked.add(origin);
      if (cache) {
        for (const m of scan.layerMembers) {
          const id = ids.get(m.path);
          const layer = indexed.layers.get(m.path);
          if (!id || !layer) continue;
          const origin = fileOrigin(this.path, stat, m.offset);
          if (indexed.fromCache.has(m.path)) {
            if (verify) markChecked(cache, id, known.get(m.path));
            continue;
          }
          const plain = layer.compression === 'none';
          cache.put(id, layer, { verified: verify, head: plain ? headDigest(access, m.offset, m.size) : '', hdr: '', origin });
        }
      }
      return image;
    } finally {
      f.close();
    }
  }

  /** Compressed as a whole: from the cache's record of this very file, else read (and hashed) as a stream. */
  private async loadStream(stat: Stats, opts: LoadOptions): Promise<ImageData> {
    const verify = opts.verify !== false;
    const known = opts.cache && knownStreamArchive(opts.cache, this.path, stat, verify);
    if (known) {
      try {
        return await assembleArchive(known, this.source, { ref: this.ref, platform: opts.platform, checkDigests: verify });
      } catch (e) {
        // The record holds every document: a reference that names nothing there names nothing.
        if (e instanceof ImageChoiceError) throw e;
        // Recorded for another image of a multi-image archive: read it.
      }
    }
    const contents = await readArchiveStream(createReadStream(this.path, { highWaterMark: 1024 * 1024 }), {
      signal: opts.signal, onLayer: opts.onLayer, onProgress: (b) => opts.onProgress?.(b, stat.size), hashLayers: verify,
    });
    const paths = verify ? (await planArchive({ docs: contents.docs, links: contents.links, layerMembers: [...contents.layers.keys()].map((path) => ({ path, offset: 0, size: 0 })) }, this.source, this.ref, opts.platform).catch(() => undefined))?.plan.paths : undefined;
    const image = await assembleArchive(contents, this.source, { ref: this.ref, platform: opts.platform, checkDigests: verify });
    if (verify) {
      if (!paths || paths.length !== image.layers.length) throw new ImageFormatError('corrupt', 'the archive\'s layers could not be matched with its manifest to check them');
      paths.forEach((p, i) => {
        const tar = contents.layerDigests.get(p);
        if (!tar) throw new ImageFormatError('corrupt', `layer ${i} (${p}) was not hashed`);
        checkLayer({ label: `layer ${i} (${p})`, diffId: image.diffIds[i], blob: blobDigestOfPath(p) }, { tar, blob: contents.layerBlobDigests.get(p) ?? tar });
      });
    }
    if (opts.cache) rememberStreamArchive(opts.cache, this.path, stat, contents, verify);
    return image;
  }

  /** The image's layer member for diffId (a plain archive), from the same manifest load reads. */
  private async locate(diffId: string): Promise<{ member: ArchiveMember; stat: Stats; label: string } | undefined> {
    const f = openFileAccess(this.path);
    try {
      const scan = scanArchive(f.access);
      const { plan } = await planArchive(scan, this.source, this.ref, this.options.platform);
      const i = plan.image.diffIds.indexOf(diffId);
      const member = i >= 0 ? scan.layerMembers.find((m) => m.path === plan.paths[i]) : undefined;
      return member ? { member, stat: f.stat, label: `layer ${i} (${member.path})` } : undefined;
    } finally {
      f.close();
    }
  }

  private compressedWhole(): { stat: Stats; compressed: boolean } {
    const f = openFileAccess(this.path);
    try {
      return { stat: f.stat, compressed: compressionAt(f.access, 0, f.stat.size) !== 'none' };
    } finally {
      f.close();
    }
  }

  /** What a member read must hash to, unless checked before (by this source, or as the cache records). */
  private wantFor(diffId: string, origin: string, label: string, path: string): { want?: LayerWant; hit?: CacheHit } {
    if (!this.verify || this.checked.has(origin)) return {};
    const hit = this.options.cache?.lookup(diffId, origin);
    return hit?.verified ? {} : { want: { label, diffId, blob: blobDigestOfPath(path) }, hit };
  }

  private noLayer(diffId: string): ImageFormatError {
    return new ImageFormatError('missing', `the archive ${this.path} has no layer ${diffId}`);
  }

  protected async readEntry(diffId: string, path: string, opts: ReadOptions & { maxBytes: number }): Promise<EntryContent | undefined> {
    await fs.access(this.path).catch(() => { throw new ImageFormatError('missing', `cannot read ${this.path}: no such file`); });
    const { stat, compressed } = this.compressedWhole();
    if (compressed) {
      // Found by its hash (checked by the same token); the member the cache recorded, if any.
      const member = this.options.cache ? recordedMember(this.options.cache, this.path, stat, diffId) : undefined;
      const found = await scanArchiveForLayer(createReadStream(this.path, { highWaterMark: 1024 * 1024 }), { diffId, tarBytes: opts.tarBytes, member }, () => {
        const f = new EntryFinder(path, opts.maxBytes);
        return { write: (c: Buffer) => f.write(c), result: () => f.result() };
      }, opts.signal);
      if (!found) throw this.noLayer(diffId);
      return found.result;
    }
    const at = await this.locate(diffId);
    if (!at) throw this.noLayer(diffId);
    const origin = fileOrigin(this.path, at.stat, at.member.offset);
    const { want, hit } = this.wantFor(diffId, origin, at.label, at.member.path);
    const e = await readEntryInRange({ file: this.path, offset: at.member.offset, size: at.member.size, want }, path, opts);
    if (want) this.remember(diffId, origin, hit);
    return e;
  }

  private remember(diffId: string, origin: string, hit: CacheHit | undefined): void {
    this.checked.add(origin);
    markChecked(this.options.cache, diffId, hit);
  }

  /**
   * A plain archive whose member is an uncompressed tar: the entry found by seeking, written
   * straight from its offset when the layer was checked before (for this very file), else held
   * alone until the member's check ends. Anything else: through openLayer.
   */
  override async copyFile(diffId: string, path: string, write: (chunk: Buffer) => Promise<void>, opts: ReadOptions & { spool?: SpoolOptions } = {}): Promise<CopiedEntry> {
    await fs.access(this.path).catch(() => { throw new ImageFormatError('missing', `cannot read ${this.path}: no such file`); });
    if (!this.compressedWhole().compressed) {
      const at = await this.locate(diffId);
      if (!at) throw this.noLayer(diffId);
      const origin = fileOrigin(this.path, at.stat, at.member.offset);
      const { want, hit } = this.wantFor(diffId, origin, at.label, at.member.path);
      const got = await copyEntryInRange({ file: this.path, offset: at.member.offset, size: at.member.size, want }, diffId, path, write, opts);
      if (got) {
        if (want) this.remember(diffId, origin, hit);
        return got;
      }
    }
    return super.copyFile(diffId, path, write, opts);
  }

  async openLayer(diffId: string, opts: ReadOptions = {}): Promise<AsyncIterable<Buffer>> {
    await fs.access(this.path).catch(() => { throw new ImageFormatError('missing', `cannot read ${this.path}: no such file`); });
    const { stat, compressed } = this.compressedWhole();
    const file = this.path;
    if (compressed) {
      let member = this.options.cache ? recordedMember(this.options.cache, file, stat, diffId) : undefined;
      member ??= (await scanArchiveForLayer(createReadStream(file, { highWaterMark: 1024 * 1024 }), { diffId, tarBytes: opts.tarBytes },
        () => ({ write: () => undefined, result: () => undefined }), opts.signal))?.member;
      if (member === undefined) throw this.noLayer(diffId);
      return memberTar(createReadStream(file, { highWaterMark: 1024 * 1024 }), member, diffId, opts.signal);
    }
    const at = await this.locate(diffId);
    if (!at) throw this.noLayer(diffId);
    const origin = fileOrigin(file, at.stat, at.member.offset);
    const { want, hit } = this.wantFor(diffId, origin, at.label, at.member.path);
    const remember = (): void => this.remember(diffId, origin, hit);
    return (async function* () {
      yield* rangeTar({ file, offset: at.member.offset, size: at.member.size, want }, opts.signal);
      if (want) remember();
    })();
  }
}

interface ArchivePlan { ids: Map<string, string>; plan: ImagePlan }

/**
 * Member path → diffID and the stack order, as assembleArchive will decide them, from the
 * documents alone (the same code runs on placeholder layers). Throws what assembleArchive throws
 * for the documents (no such image, a manifest of the wrong shape).
 */
async function planArchive(scan: Pick<ReturnType<typeof scanArchive>, 'docs' | 'links' | 'layerMembers'>, source: ImageData['source'], ref: string | undefined, platform: PlatformWanted | undefined): Promise<ArchivePlan> {
  const stubs = new Map<string, LayerIndex>();
  const pathOf = new Map<LayerIndex, string>();
  for (const m of scan.layerMembers) {
    const stub: LayerIndex = { diffId: '', entries: [], whiteouts: [], opaqueDirs: [], tarFileBytes: 0, tarEntries: 0, tarBytes: 0, compression: 'none', warnings: [] };
    stubs.set(m.path, stub);
    pathOf.set(stub, m.path);
  }
  const image = await assembleArchive({ docs: scan.docs, layers: stubs, links: scan.links, layerErrors: new Map(), warnings: [] }, source, { ref, platform });
  const ids = new Map<string, string>();
  for (const [path, stub] of stubs) if (stub.diffId) ids.set(path, stub.diffId);
  const paths = image.layers.map((l) => pathOf.get(l) ?? '');
  if (paths.some((p) => p === '')) return { ids, plan: { image: { ...image, layers: [] }, paths: [] } };
  return { ids, plan: { image: { ...image, layers: [] }, paths } };
}

/**
 * What a compressed archive held, recorded by the file's identity: its documents (by digest, in
 * the document cache), each layer member's diffID (its index in the layer cache under the
 * member's origin, marked verified when it was checked), links and warnings. Only layers the
 * image's manifest named (assembleArchive gave them their diffID) are recorded.
 */
interface StreamArchiveRecord {
  docs: Array<[string, string]>;
  layers: Array<[string, string]>;
  links: Array<[string, string]>;
  warnings: string[];
}

const isPairs = (x: unknown): x is Array<[string, string]> =>
  Array.isArray(x) && x.every((p) => Array.isArray(p) && p.length === 2 && typeof p[0] === 'string' && typeof p[1] === 'string');

function rememberStreamArchive(cache: LayerIndexCache, path: string, stat: Stats, contents: ArchiveContents, verified: boolean): void {
  const rec: StreamArchiveRecord = { docs: [], layers: [], links: [...contents.links], warnings: contents.warnings };
  for (const [name, buf] of contents.docs) {
    const d = digestOf(buf);
    cache.putDoc(d, buf);
    rec.docs.push([name, d]);
  }
  for (const [member, layer] of contents.layers) {
    if (!isDigest(layer.diffId)) continue;
    cache.put(layer.diffId, layer, { verified, head: '', hdr: '', origin: memberOrigin(path, stat, member) });
    rec.layers.push([member, layer.diffId]);
  }
  cache.putFileRecord(fileOrigin(path, stat, 0), rec);
}

function streamRecord(cache: LayerIndexCache, path: string, stat: Stats): StreamArchiveRecord | undefined {
  const rec = cache.getFileRecord(fileOrigin(path, stat, 0)) as Partial<StreamArchiveRecord> | undefined;
  if (!rec || !isPairs(rec.docs) || !isPairs(rec.layers) || !isPairs(rec.links) || !Array.isArray(rec.warnings) || !rec.warnings.every((w) => typeof w === 'string')) return undefined;
  return rec as StreamArchiveRecord;
}

/**
 * The contents of a compressed archive the cache knows whole: the same file (path, size, mtime,
 * inode), every document and every recorded layer's index (read from this file, and checked
 * against its digests when `checked`) still cached.
 */
function knownStreamArchive(cache: LayerIndexCache, path: string, stat: Stats, checked: boolean): ArchiveContents | undefined {
  const rec = streamRecord(cache, path, stat);
  if (!rec) return undefined;
  const docs = new Map<string, Buffer>();
  for (const [name, digest] of rec.docs) {
    const buf = cache.getDoc(digest);
    if (!buf) return undefined;
    docs.set(name, buf);
  }
  const layers = new Map<string, LayerIndex>();
  for (const [member, diffId] of rec.layers) {
    const hit = cache.lookup(diffId, memberOrigin(path, stat, member));
    if (!hit || (checked && !hit.verified)) return undefined;
    layers.set(member, hit.index);
  }
  return { docs, layers, links: new Map(rec.links), layerErrors: new Map(), warnings: [...rec.warnings] };
}

/** The member of a compressed archive the cache recorded for diffId, if any. */
function recordedMember(cache: LayerIndexCache, path: string, stat: Stats, diffId: string): string | undefined {
  return streamRecord(cache, path, stat)?.layers.find(([, d]) => d === diffId)?.[0];
}
