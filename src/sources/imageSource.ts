// One reader per kind of image source (the Docker Engine, a `docker save` file, an OCI image
// layout), with everything both the analysis and the file-version reader need from it:
//   load()      the image: its documents and every layer's index (src/sources/load.ts)
//   openLayer() one layer's uncompressed tar by diffID, checked against its digests
//   readFile()  one entry of one layer (a hardlink read through to its target in that layer)
// Each kind finds its image and layers one way for all three (the same reference and platform
// choice, the same OCI index resolution, the same tar walker and decompression, the same cache).
// The kinds: engineSource.ts, archiveSource.ts, ociSource.ts, registry/registrySource.ts;
// openImageSource in load.ts.
// Also here: the Spool, where bytes wait until their layer's digests are checked (copyFile, and an
// engine's export read once).
import { randomBytes } from 'node:crypto';
import { closeSync, ftruncateSync, openSync, read, unlinkSync, writeSync } from 'node:fs';
import * as os from 'node:os';
import * as nodePath from 'node:path';
import { promisify } from 'node:util';
import { ImageFormatError } from '../core/image/errors';
import type { ReadArchiveOptions } from '../core/image/tar/archive';
import { EntryDigests } from '../core/image/tar/entryDigests';
import { EntryStream, FilesCollector, type BodySink, type CollectedFile, type EntryContent } from '../core/image/tar/layerRead';
import type { PlatformWanted } from '../core/image/oci';
import type { QuickImage } from '../core/image/quickImage';
import type { EntryType, ImageData } from '../core/image/types';
import type { EngineClient } from '../engine/types';
import type { ImagePlan } from './fastRead';
import type { LayerIndexCache } from './indexCache';
import type { RegistryOptions } from './registry/transport';

export type { CollectedFile, EntryContent };

export type SourceSpec =
  | { kind: 'engine'; name: string }
  | { kind: 'docker-archive'; path: string; ref?: string }
  | { kind: 'oci'; dir: string; ref?: string }
  /** `ref`: the whole source string, `registry://HOST[:PORT]/REPO[:TAG|@DIGEST]`. */
  | { kind: 'registry'; ref: string };

/** How a source is read: the same for loading it and for reading files from it. */
export interface SourceOptions {
  platform?: PlatformWanted;
  /** Connects to the engine (only called for engine sources). */
  engine?: () => Promise<EngineClient>;
  /** The persistent per-layer index cache (src/sources/indexCache.ts); none: every layer is read. */
  cache?: LayerIndexCache;
  /**
   * Check every layer read from a file against its digests (default true). false: not checked,
   * and the image's warnings say so.
   */
  verify?: boolean;
  /** How registries are reached: insecure hosts, parallel blobs, retries (registry sources only). */
  registry?: RegistryOptions;
}

export interface LoadOptions extends SourceOptions, Pick<ReadArchiveOptions, 'onLayer'> {
  signal?: AbortSignal;
  /** The stack order and image metadata, before layers are read (archive files, OCI layouts). */
  onPlan?: (plan: ImagePlan) => void;
  /** Bytes read so far and, when known, the total (file size, blob sizes, the engine's image size). */
  onProgress?: (bytes: number, total?: number) => void;
}

export interface ReadOptions {
  signal?: AbortSignal;
  /** Refuse files larger than this (default 256 MiB). */
  maxBytes?: number;
  /** Uncompressed size of the layer tar, when known (an engine's export skips other layers by it). */
  tarBytes?: number;
}

export class EntryNotFoundError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'EntryNotFoundError';
  }
}

export const DEFAULT_MAX_BYTES = 256 * 1024 * 1024;

/** Where a Spool keeps bytes: in memory up to memoryBytes (default SPOOL_MEMORY_BYTES), beyond that in a file in tmpDir (default the system's). */
export interface SpoolOptions {
  memoryBytes?: number;
  tmpDir?: string;
}

export const SPOOL_MEMORY_BYTES = 1024 * 1024;

const readAt = promisify(read);

function writeAllAt(fd: number, b: Buffer, at: number): void {
  for (let done = 0; done < b.length;) done += writeSync(fd, b, done, b.length - done, at + done);
}

/**
 * Bytes held until they may be used (their layer checked): in memory up to a bound, then in a
 * temporary file, so that memory stays bounded for any size. The file is created private (0600)
 * and, except on Windows, unlinked as soon as it is open: only the open descriptor holds it, so
 * nothing is left behind whatever ends the process. dispose() frees it; it is a BodySink
 * (begin() empties it).
 */
export class Spool implements BodySink {
  private parts: Buffer[] = [];
  private held = 0;
  private fd: number | undefined;
  /** The temporary file while it has a name (Windows: until dispose). */
  private file: string | undefined;
  /** Bytes held. */
  size = 0;
  /** Whether it went to a temporary file (it stays there until dispose). */
  spilled = false;

  constructor(private readonly opts: SpoolOptions = {}) {}

  begin(): void {
    this.parts = [];
    this.held = 0;
    this.size = 0;
    if (this.fd !== undefined) ftruncateSync(this.fd, 0);
  }

  write(chunk: Buffer): void {
    if (this.fd === undefined && this.held + chunk.length <= (this.opts.memoryBytes ?? SPOOL_MEMORY_BYTES)) {
      this.parts.push(Buffer.from(chunk));
      this.held += chunk.length;
      this.size += chunk.length;
      return;
    }
    const fd = this.fd ?? this.open();
    if (this.parts.length) {
      let at = 0;
      for (const p of this.parts) { writeAllAt(fd, p, at); at += p.length; }
      this.parts = [];
      this.held = 0;
    }
    writeAllAt(fd, chunk, this.size);
    this.size += chunk.length;
  }

  private open(): number {
    const dir = this.opts.tmpDir ?? os.tmpdir();
    const file = nodePath.join(dir, `layerlens-spool-${process.pid}-${randomBytes(8).toString('hex')}`);
    const fd = openSync(file, 'wx+', 0o600);
    this.fd = fd;
    this.spilled = true;
    if (process.platform === 'win32') this.file = file;
    else unlinkSync(file);
    return fd;
  }

  /** The bytes held, in order, in chunks of at most chunkBytes. */
  async *read(chunkBytes = 1024 * 1024): AsyncGenerator<Buffer> {
    if (this.fd === undefined) {
      yield* this.parts;
      return;
    }
    for (let at = 0; at < this.size;) {
      const buf = Buffer.allocUnsafe(Math.min(chunkBytes, this.size - at));
      const { bytesRead } = await readAt(this.fd, buf, 0, buf.length, at);
      if (bytesRead <= 0) throw new ImageFormatError('truncated', 'the temporary file ended early');
      at += bytesRead;
      yield bytesRead === buf.length ? buf : buf.subarray(0, bytesRead);
    }
  }

  dispose(): void {
    this.parts = [];
    if (this.fd !== undefined) {
      try { closeSync(this.fd); } catch { /* closed */ }
      this.fd = undefined;
    }
    if (this.file !== undefined) {
      try { unlinkSync(this.file); } catch { /* gone */ }
      this.file = undefined;
    }
  }
}

/** What copyFile found at the path. */
export interface CopiedEntry {
  type: EntryType;
  /** Bytes written (a regular file's size; 0 for anything else). */
  size: number;
  linkname?: string;
  /** The bytes waited in a temporary file (larger than the spool's memory bound). */
  spilled: boolean;
}

/** The warning an image carries when its layers were not checked. */
export const NOT_VERIFIED = 'layer digests were not checked (--no-verify)';

export interface ImageSource {
  readonly spec: SourceSpec;
  load(opts?: LoadOptions): Promise<ImageData>;
  /**
   * The uncompressed tar of layer `diffId`, in chunks. Its digests are checked as it is read: the
   * iteration throws at the end when they differ, so act on the bytes only once it has ended.
   */
  openLayer(diffId: string, opts?: ReadOptions): Promise<AsyncIterable<Buffer>>;
  /**
   * The entry at `path` (absolute) in layer `diffId`, the last one if the layer has several; a
   * hardlink is read through to its target in the same layer. EntryNotFoundError when the layer
   * lacks it (or a hardlink's target).
   */
  readFile(diffId: string, path: string, opts?: ReadOptions): Promise<EntryContent>;
  /**
   * The last entry at `path` (absolute) in layer `diffId`, of any size: a regular file's bytes are
   * handed to `write` in order, only once the layer was read to its end and checked against its
   * digests (until then they wait in a Spool: a layer that fails its check writes nothing). No
   * hardlink is followed: anything but a regular file is returned with nothing written.
   * EntryNotFoundError when the layer lacks it.
   */
  copyFile(diffId: string, path: string, write: (chunk: Buffer) => Promise<void>, opts?: ReadOptions & { spool?: SpoolOptions }): Promise<CopiedEntry>;
  /**
   * The sha256 of the contents of the regular files at `paths` in layer `diffId` (the last entry
   * at a path wins; a path the layer does not hold as a regular file has none), from one read of
   * the layer, checked against its digests like openLayer.
   */
  hashEntries(diffId: string, paths: ReadonlySet<string>, opts?: ReadOptions): Promise<Map<string, string>>;
  /**
   * The history and layer sizes without reading a layer, where the source can tell them from its
   * documents alone (a registry: the manifest and the config).
   */
  quickImage?(signal?: AbortSignal): Promise<QuickImage>;
  /**
   * The regular files of layer `diffId` that `want(path, size)` picks, up to `maxBytes` each, in
   * one pass over the layer (checked against its digests like openLayer). Held in memory only.
   */
  readFiles(diffId: string, want: (path: string, size: number) => boolean, opts: ReadOptions & { maxBytes: number }): Promise<CollectedFile[]>;
}

/**
 * copyFile's end, once the layer was read and checked: the entry EntryStream found at `path`, a
 * regular file's bytes from the spool they waited in.
 */
export async function writeSpooled(e: EntryContent | undefined, spool: Spool, diffId: string, path: string, write: (chunk: Buffer) => Promise<void>): Promise<CopiedEntry> {
  if (!e) throw new EntryNotFoundError(`${path} is not in layer ${diffId.slice(0, 19)}`);
  if (e.type !== 'file') return { type: e.type, size: 0, linkname: e.linkname, spilled: false };
  if (spool.size !== e.size) throw new ImageFormatError('corrupt', `${path} in layer ${diffId.slice(0, 19)}: ${spool.size} bytes read for a ${e.size}-byte entry`);
  for await (const chunk of spool.read()) await write(chunk);
  return { type: 'file', size: e.size, spilled: spool.spilled };
}

/** What every kind shares: readFile through the kind's single-entry read. */
export abstract class BaseSource implements ImageSource {
  constructor(readonly spec: SourceSpec, protected readonly options: SourceOptions) {}

  abstract load(opts?: LoadOptions): Promise<ImageData>;
  abstract openLayer(diffId: string, opts?: ReadOptions): Promise<AsyncIterable<Buffer>>;
  /** The entry at `path` in layer `diffId` as the tar has it (undefined: not there). */
  protected abstract readEntry(diffId: string, path: string, opts: ReadOptions & { maxBytes: number }): Promise<EntryContent | undefined>;

  protected get verify(): boolean {
    return this.options.verify !== false;
  }

  async hashEntries(diffId: string, paths: ReadonlySet<string>, opts: ReadOptions = {}): Promise<Map<string, string>> {
    const d = new EntryDigests(paths);
    // The layer's digests are checked at the end of the iteration: the result counts only after it.
    for await (const chunk of await this.openLayer(diffId, opts)) d.write(chunk);
    return d.result();
  }

  async readFile(diffId: string, path: string, opts: ReadOptions = {}): Promise<EntryContent> {
    let p = path;
    for (let hop = 0; hop < 8; hop++) {
      const e = await this.readEntry(diffId, p, { ...opts, maxBytes: opts.maxBytes ?? DEFAULT_MAX_BYTES });
      if (!e) throw new EntryNotFoundError(`${p} is not in layer ${diffId.slice(0, 19)}`);
      if (e.type !== 'hardlink' || !e.linkname) return e;
      // A hardlink's content is its target's, which the same layer carries earlier in the tar.
      p = e.linkname;
    }
    throw new ImageFormatError('corrupt', `too many hardlink hops from ${path}`);
  }

  async copyFile(diffId: string, path: string, write: (chunk: Buffer) => Promise<void>, opts: ReadOptions & { spool?: SpoolOptions } = {}): Promise<CopiedEntry> {
    const spool = new Spool(opts.spool);
    try {
      const found = new EntryStream(path, spool);
      // The iteration throws at its end when the layer's digests differ: nothing is written before.
      for await (const chunk of await this.openLayer(diffId, opts)) found.write(chunk);
      return await writeSpooled(found.result(), spool, diffId, path, write);
    } finally {
      spool.dispose();
    }
  }

  async readFiles(diffId: string, want: (path: string, size: number) => boolean, opts: ReadOptions & { maxBytes: number }): Promise<CollectedFile[]> {
    const c = new FilesCollector(want, opts.maxBytes);
    // The iteration throws at its end when the layer's digests differ: the result is used only after.
    for await (const chunk of await this.openLayer(diffId, opts)) c.write(chunk);
    return c.result();
  }
}
