// The persistent per-layer index cache: one file per diffID under <dir>/layers-v<codec>/, written
// atomically (temp file + rename), read back only if it decodes cleanly (src/core/image/indexCodec.ts
// checks magic, version, length, sha256 and diffID). A damaged or foreign file is ignored and
// removed; the cache never makes a read fail. Trust:
// - a `verified` entry's tar was hashed while it was read and matched its diffID: usable for any
//   source of that diffID;
// - an entry read from a file is used only for the same bytes: the same file (path, size, mtime,
//   inode) and member offset it was read from; it is `verified` when the layer's bytes were
//   checked against their digests as they were read (src/sources/digests.ts), so that an unchanged
//   file is not hashed again, and one read without the check (--no-verify) is checked when next read;
// - an unverified entry read from an engine's export: in a later export, for a member of the same
//   size, first 64 KiB and header digest; with no export at all (getForEngine), for the diffID the
//   engine itself named it by. An unverified entry read from a file never stands for an engine layer.
// Next to it, <dir>/docs-v1/ keeps engine images' documents (config, and the manifest or image
// index an image id may name) by digest, each checked against its digest when read: with them
// and every layer's entry, an engine image is not exported again (src/sources/load.ts).
// And <dir>/analyses-v1/ keeps analysis summaries (src/core/image/summary.ts) by the stack of layer
// records they were computed from: a re-analysis of known layers needs no merge and no dive walk
// (src/sources/analysisCache.ts). A summary that does not read back for its key is removed.
// And <dir>/indexes-v2/ keeps image indexes (src/core/image/index/indexRecord.ts) by the same
// stack key, for commands that read the merged tree: an image the cache knows is loaded with no
// merge. Each is checked against its digest and key when read, and bounded (2 GiB, oldest out).
// CLI: $LAYERLENS_CACHE_DIR, else $XDG_CACHE_HOME/layerlens, else ~/.cache/layerlens. Extension:
// its global storage. LAYERLENS_CACHE=off (or --no-cache) disables it.
import { closeSync, mkdirSync, openSync, readFileSync, readdirSync, renameSync, rmSync, statSync, unlinkSync, writeFileSync, writeSync, type Stats } from 'node:fs';
import * as os from 'node:os';
import * as nodePath from 'node:path';
import { CODEC_VERSION, RecordIndex, encodeIndex, recordDigest, withFacts, type IndexMeta } from '../core/image/indexCodec';
import { digestOf, isDigest } from '../core/image/oci';
import { SUMMARY_FORMAT, decodeSummary, encodeSummary, type AnalysisSummary } from '../core/image/summary';
import { INDEX_RECORD_VERSION, decodeImageIndex, imageIndexRecordParts } from '../core/image/index/indexRecord';
import type { ImageIndex } from '../core/image/index/imageIndex';
import type { LayerIndex } from '../core/image/types';

export function defaultCacheDir(env: NodeJS.ProcessEnv = process.env): string {
  if (env.LAYERLENS_CACHE_DIR) return env.LAYERLENS_CACHE_DIR;
  const base = env.XDG_CACHE_HOME && nodePath.isAbsolute(env.XDG_CACHE_HOME) ? env.XDG_CACHE_HOME : nodePath.join(os.homedir(), '.cache');
  return nodePath.join(base, 'layerlens');
}

type FileIdentity = Pick<Stats, 'size' | 'mtimeMs' | 'ino'>;

/** A file's identity (path, size, mtime, inode) and where in it: the origin string cache entries carry. */
function originOf(path: string, st: FileIdentity, where: { offset: number } | { member: string }): string {
  return JSON.stringify({ file: nodePath.resolve(path), size: st.size, mtimeMs: st.mtimeMs, ino: st.ino, ...where });
}

/** The identity of bytes in a file: path, size, mtime, inode and the member's offset. */
export function fileOrigin(path: string, st: FileIdentity, offset: number): string {
  return originOf(path, st, { offset });
}

/**
 * The identity of one member of a file read as a stream (a compressed archive has no offsets to
 * seek to): the file's path, size, mtime and inode, and the member's path in the archive.
 */
export function memberOrigin(path: string, st: FileIdentity, member: string): string {
  return originOf(path, st, { member });
}

export interface CacheStats {
  hits: number;
  misses: number;
  rejected: number;
  writes: number;
  /** Analyses answered by a stored summary (no merge, no dive walk). */
  summaries: number;
  /** Image indexes loaded from the cache (no merge). */
  indexes: number;
}

/** A file record's name under files-v1/: the sha256 (hex) of the file's origin. */
const fileRecordName = (origin: string): string => digestOf(Buffer.from(origin)).slice(7);

/** A summary's stack key (summaryKey: sha256 hex), the only names under analyses-v1/. */
const isStackKey = (key: string): boolean => /^[0-9a-f]{64}$/.test(key);

/** Writes `f` in `dir` whole or not at all: a temp file, then a rename (readers never see half a file). */
function writeAtomically(dir: string, f: string, data: Uint8Array | readonly Uint8Array[]): void {
  mkdirSync(dir, { recursive: true });
  const tmp = `${f}.${process.pid}.${Math.random().toString(36).slice(2)}.tmp`;
  if (data instanceof Uint8Array) writeFileSync(tmp, data);
  else {
    const fd = openSync(tmp, 'w');
    try {
      for (const part of data) for (let at = 0; at < part.length;) at += writeSync(fd, part, at);
    } finally {
      closeSync(fd);
    }
  }
  renameSync(tmp, f);
}

export class LayerIndexCache {
  readonly dir: string;
  /**
   * Image documents (configs, manifests, image indexes) by digest (<root>/docs-v1/<hex>.json):
   * an engine image known whole is not exported again.
   */
  readonly docDir: string;
  /** Analysis summaries by stack key (<root>/analyses-v1/<key>.json: src/core/image/summary.ts). */
  readonly summaryDir: string;
  /**
   * What a file read as a stream held, by the file's identity (<root>/files-v1/<sha256 of the
   * origin>.json): a compressed archive known whole is not decompressed again (src/sources/fastRead.ts).
   */
  readonly fileDir: string;
  readonly stats: CacheStats = { hits: 0, misses: 0, rejected: 0, writes: 0, summaries: 0, indexes: 0 };
  /** Image indexes by stack key (<root>/indexes-v<version>/<key>.llii: src/core/image/index/indexRecord.ts). */
  readonly imageIndexDir: string;

  /**
   * Bounds, each kept once per process when the directory is first written (oldest written first
   * out): layer records ≤ maxBytes (default 1 GiB); documents ≤ maxDocs files (default 4000);
   * summaries ≤ maxDocs files and ≤ maxSummaryBytes (default 128 MiB: a summary lists every path
   * dive found in two or more layers, megabytes for an image that rewrote all its files).
   */
  constructor(root: string, private readonly opts: { maxBytes?: number; maxDocs?: number; maxSummaryBytes?: number; maxIndexBytes?: number; log?: (line: string) => void } = {}) {
    this.dir = nodePath.join(root, `layers-v${CODEC_VERSION}`);
    this.docDir = nodePath.join(root, 'docs-v1');
    this.summaryDir = nodePath.join(root, `analyses-v${SUMMARY_FORMAT}`);
    this.fileDir = nodePath.join(root, 'files-v1');
    this.imageIndexDir = nodePath.join(root, `indexes-v${INDEX_RECORD_VERSION}`);
  }

  /**
   * The image index stored for a stack key, if its record reads back for that key (its columns
   * views of the file's bytes); anything else is removed.
   */
  getIndex(key: string): ImageIndex | undefined {
    if (!isStackKey(key)) return undefined;
    return this.readChecked(this.imageIndexDir, key + '.llii', 'image index cache', (buf) => decodeImageIndex(buf, key));
  }

  /** Stores an image index under its stack key (never throws); the directory keeps to maxIndexBytes (default 2 GiB). */
  putIndex(key: string, ix: ImageIndex): void {
    if (!isStackKey(key)) return;
    const f = nodePath.join(this.imageIndexDir, key + '.llii');
    try {
      writeAtomically(this.imageIndexDir, f, imageIndexRecordParts(ix, key));
      this.pruneOnce(this.imageIndexDir, { bytes: this.opts.maxIndexBytes ?? 2 * 1024 * 1024 * 1024 });
    } catch (e) {
      this.opts.log?.(`image index cache: cannot write ${f}: ${(e as Error).message}`);
    }
  }

  /**
   * The record stored for a file identity (fileOrigin), if it reads back as JSON made for exactly
   * that origin; anything else is removed. The caller checks the value's shape.
   */
  getFileRecord(origin: string): unknown {
    return this.readChecked(this.fileDir, fileRecordName(origin), 'file cache', (buf) => {
      const doc = JSON.parse(buf.toString('utf8')) as { origin?: unknown; value?: unknown } | null;
      if (doc?.origin !== origin) throw new Error(`not a record for ${origin}`);
      return doc.value;
    });
  }

  /** Stores a file record (never throws). */
  putFileRecord(origin: string, value: unknown): void {
    this.writeBounded(this.fileDir, fileRecordName(origin), 'file cache', Buffer.from(JSON.stringify({ origin, value })), { files: this.maxFiles });
  }

  /**
   * The summary stored for a stack key, if it reads back as one for this key and this many layers;
   * anything else is removed (and the caller analyses as if there were none).
   */
  getSummary(key: string, layers: number): AnalysisSummary | undefined {
    if (!isStackKey(key)) return undefined;
    return this.readChecked(this.summaryDir, key, 'analysis cache', (buf) => decodeSummary(buf, key, layers));
  }

  /** Stores a summary under its stack key (never throws). */
  putSummary(key: string, s: AnalysisSummary): void {
    if (!isStackKey(key)) return;
    this.writeBounded(this.summaryDir, key, 'analysis cache', encodeSummary(key, s), { files: this.maxFiles, bytes: this.opts.maxSummaryBytes ?? 128 * 1024 * 1024 });
  }

  /**
   * The document whose sha256 is `digest`, if cached. The content is its own proof: a file that
   * does not hash to its name is removed.
   */
  getDoc(digest: string): Buffer | undefined {
    if (!isDigest(digest)) return undefined;
    return this.readChecked(this.docDir, digest.slice(7), 'image cache', (buf) => {
      if (digestOf(buf) !== digest) throw new Error('its content does not hash to its name');
      return buf;
    });
  }

  /** Stores a document under its digest (never throws; a document that does not hash to `digest` is not stored). */
  putDoc(digest: string, doc: Buffer): void {
    if (!isDigest(digest) || digestOf(doc) !== digest) return;
    this.writeBounded(this.docDir, digest.slice(7), 'image cache', doc, { files: this.maxFiles });
  }

  /** The bound on files of each JSON directory (documents, summaries, file records). */
  private get maxFiles(): number {
    return this.opts.maxDocs ?? 4000;
  }

  /**
   * <dir>/<file> as `decode` takes it (file: `name` plus `.json` unless it has an extension);
   * undefined if absent. One that `decode` refuses (throws) is counted, logged and removed, and
   * undefined.
   */
  private readChecked<T>(dir: string, name: string, what: string, decode: (buf: Buffer) => T): T | undefined {
    const f = nodePath.join(dir, name.includes('.') ? name : name + '.json');
    let buf: Buffer;
    try {
      buf = readFileSync(f);
    } catch {
      return undefined;
    }
    try {
      return decode(buf);
    } catch (e) {
      this.stats.rejected++;
      this.opts.log?.(`${what}: ignoring ${f}: ${(e as Error).message}`);
      unlinkQuietly(f);
      return undefined;
    }
  }

  /** Writes <dir>/<name>.json atomically and keeps dir within its bounds (never throws). */
  private writeBounded(dir: string, name: string, what: string, buf: Buffer, bounds: { files?: number; bytes?: number }): void {
    const f = nodePath.join(dir, name + '.json');
    try {
      writeAtomically(dir, f, buf);
      this.pruneOnce(dir, bounds);
    } catch (e) {
      this.opts.log?.(`${what}: cannot write ${f}: ${(e as Error).message}`);
    }
  }

  /**
   * The index of an engine's layer by diffID alone (no stream to compare with): a verified entry,
   * or one read from an engine's export, where the engine itself named the layer by its diffID
   * (the sha256 of the tar it exports). Unverified entries read from files are never taken here: a
   * file's manifest can name any diffID.
   */
  getForEngine(diffId: string): RecordIndex | undefined {
    const d = this.read(diffId);
    if (d && (d.meta.verified || d.meta.origin === 'engine')) {
      this.stats.hits++;
      return d.index;
    }
    if (d) this.stats.misses++;
    return undefined;
  }

  private readonly prunedDirs = new Set<string>();
  private droppedOld = false;

  /** Layer records and image indexes of an older version are never read again: their directories go (once per process, best effort). */
  private dropOldVersions(): void {
    if (this.droppedOld) return;
    this.droppedOld = true;
    const root = nodePath.dirname(this.dir);
    for (let v = 1; v < CODEC_VERSION; v++) {
      try { rmSync(nodePath.join(root, `layers-v${v}`), { recursive: true, force: true }); } catch { /* best effort */ }
    }
    for (let v = 1; v < INDEX_RECORD_VERSION; v++) {
      try { rmSync(nodePath.join(root, `indexes-v${v}`), { recursive: true, force: true }); } catch { /* best effort */ }
    }
  }

  /**
   * Keeps dir within its bounds (files, bytes), oldest written first out; temp files left by a
   * process that died (over an hour old) go too, younger ones (another process writing) stay. Once
   * per process and directory; best effort.
   */
  private pruneOnce(dir: string, bounds: { files?: number; bytes?: number }): void {
    if (this.prunedDirs.has(dir)) return;
    this.prunedDirs.add(dir);
    try {
      const now = Date.now();
      const files: Array<{ p: string; size: number; t: number }> = [];
      for (const name of readdirSync(dir)) {
        const p = nodePath.join(dir, name);
        const st = statSync(p);
        if (!name.endsWith('.tmp')) files.push({ p, size: st.size, t: st.mtimeMs });
        else if (now - st.mtimeMs > 3600_000) unlinkQuietly(p);
      }
      let count = files.length;
      let total = files.reduce((a, f) => a + f.size, 0);
      for (const f of files.sort((a, b) => a.t - b.t)) {
        if (count <= (bounds.files ?? Infinity) && total <= (bounds.bytes ?? Infinity)) break;
        unlinkQuietly(f.p);
        count--;
        total -= f.size;
      }
    } catch {
      // Pruning is best effort.
    }
  }

  private file(diffId: string): string | undefined {
    return isDigest(diffId) ? nodePath.join(this.dir, diffId.slice(7) + '.llix') : undefined;
  }

  /**
   * The entry for diffId if its record checks out (length, digest, diffID; no trust decision: see
   * get()). Its entries stay encoded until something reads them (RecordIndex).
   */
  read(diffId: string): { index: RecordIndex; meta: IndexMeta } | undefined {
    const f = this.file(diffId);
    if (!f) return undefined;
    let buf: Buffer;
    try {
      buf = readFileSync(f);
    } catch {
      this.stats.misses++;
      return undefined;
    }
    try {
      const index = new RecordIndex(buf, diffId);
      return { index, meta: index.meta };
    } catch (e) {
      this.stats.rejected++;
      this.opts.log?.(`layer cache: ignoring ${f}: ${(e as Error).message}`);
      unlinkQuietly(f);
      return undefined;
    }
  }

  /**
   * The cached index of diffId; counts a hit or a miss. The returned index carries diffId.
   * With an `origin` (a file: path, size, mtime, inode, offset) only an entry read from that very
   * file counts: a verified entry proves what the diffID's content holds, not that the file on disk
   * still holds it — a truncated or damaged blob must be read, and reported. Without an origin,
   * only verified entries count.
   */
  get(diffId: string, origin?: string): RecordIndex | undefined {
    return this.lookup(diffId, origin)?.index;
  }

  /** get(), with the record's facts (verified: its tar was hashed and matched diffId when it was read). */
  lookup(diffId: string, origin?: string): { index: RecordIndex; verified: boolean; meta: IndexMeta } | undefined {
    const d = this.read(diffId);
    if (!d) return undefined;
    if (origin !== undefined ? d.meta.origin === origin : d.meta.verified) {
      this.stats.hits++;
      return { index: d.index, verified: d.meta.verified, meta: d.meta };
    }
    this.stats.misses++;
    return undefined;
  }

  /** Record digests of the indexes this cache wrote, by the index object written. */
  private readonly written = new WeakMap<LayerIndex, string>();

  /**
   * The digest of the cache record that holds exactly this index: read from the cache, or written
   * to it by this process. undefined for an index the cache does not hold as it is.
   */
  recordDigestOf(layer: LayerIndex): string | undefined {
    return layer instanceof RecordIndex ? layer.recordDigest : this.written.get(layer);
  }

  /** Stores an index (never throws). A verified entry is not replaced by an unverified one. */
  put(diffId: string, layer: LayerIndex, meta: IndexMeta): void {
    const f = this.file(diffId);
    if (!f) return;
    try {
      if (!meta.verified) {
        const old = this.read(diffId);
        if (old?.meta.verified) return;
      }
      const rec = encodeIndex(withFacts(layer, { diffId }), meta);
      writeAtomically(this.dir, f, rec);
      this.written.set(layer, recordDigest(rec));
      this.stats.writes++;
      this.pruneOnce(this.dir, { bytes: this.opts.maxBytes ?? 1024 * 1024 * 1024 });
      this.dropOldVersions();
    } catch (e) {
      this.opts.log?.(`layer cache: cannot write ${f}: ${(e as Error).message}`);
    }
  }
}

function unlinkQuietly(p: string): void {
  try { unlinkSync(p); } catch { /* already gone */ }
}

/** The CLI's cache directory (layer indexes, image histories), unless LAYERLENS_CACHE=off. */
export function cliCacheRoot(env: NodeJS.ProcessEnv = process.env): string | undefined {
  if (/^(off|0|false|no)$/i.test(env.LAYERLENS_CACHE ?? '')) return undefined;
  return defaultCacheDir(env);
}

/** The CLI's cache, unless LAYERLENS_CACHE=off. */
export function cliCache(env: NodeJS.ProcessEnv = process.env, log?: (line: string) => void): LayerIndexCache | undefined {
  const root = cliCacheRoot(env);
  return root === undefined ? undefined : new LayerIndexCache(root, { log });
}
