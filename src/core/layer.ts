// Reads one layer blob (plain, gzip or zstd tar) as a stream into a LayerIndex: entries, whiteouts
// and opaque markers, with sizes. Never extracts anything, never holds file contents.
import { createHash, type Hash } from 'node:crypto';
import { Transform, pipeline, type TransformCallback } from 'node:stream';
import * as tar from 'tar-stream';
import { CancelledError, ImageFormatError } from './errors';
import { openDecompressed, toFormatError, type ByteSource } from './decompress';
import { AUFS_META_PREFIX, OPAQUE_MARKER, WHITEOUT_PREFIX, baseName, joinPath, normaliseEntryPath, parentPath } from './paths';
import type { EntryType, LayerEntry, LayerIndex } from './types';

export interface IndexLayerOptions {
  /** The diffID if already known (from the image config); otherwise computed when `hash` is set. */
  diffId?: string;
  /** Compute sha256 of the uncompressed tar (costs CPU; the config's diff_ids are used otherwise). */
  hash?: boolean;
  signal?: AbortSignal;
  /** Refuse layers with more entries than this (default 10 million). */
  maxEntries?: number;
  /** Name used in error messages, e.g. "layer 3 (sha256:ab12…)". */
  label?: string;
}

const MAX_WARNINGS = 50;
const MAX_PATH_BYTES = 4096;

function entryType(t: string | null | undefined): EntryType | null {
  switch (t) {
    case 'file': case 'contiguous-file': return 'file';
    case 'directory': return 'dir';
    case 'symlink': return 'symlink';
    case 'link': return 'hardlink';
    case 'character-device': return 'char';
    case 'block-device': return 'block';
    case 'fifo': return 'fifo';
    default: return null;
  }
}

class Meter extends Transform {
  bytes = 0;
  constructor(private readonly hash: Hash | null) { super(); }
  override _transform(chunk: Buffer, _e: BufferEncoding, cb: TransformCallback): void {
    this.bytes += chunk.length;
    this.hash?.update(chunk);
    cb(null, chunk);
  }
}

export async function indexLayer(source: ByteSource, opts: IndexLayerOptions = {}): Promise<LayerIndex> {
  const label = opts.label ?? 'layer';
  const maxEntries = opts.maxEntries ?? 10_000_000;
  const signal = opts.signal;
  if (signal?.aborted) throw new CancelledError();
  const { compression, stream } = await openDecompressed(source);
  const hash = opts.hash ? createHash('sha256') : null;
  const meter = new Meter(hash);
  const extract = tar.extract();
  pipeline(stream, meter, extract as unknown as NodeJS.WritableStream, () => undefined);
  const onAbort = (): void => { extract.destroy(new CancelledError()); };
  signal?.addEventListener('abort', onAbort, { once: true });

  const entries: LayerEntry[] = [];
  const whiteouts: string[] = [];
  const opaqueDirs: string[] = [];
  const warnings: string[] = [];
  const warn = (w: string): void => { if (warnings.length < MAX_WARNINGS) warnings.push(w); };
  let tarEntries = 0;
  let tarFileBytes = 0;
  try {
    for await (const entry of extract) {
      const h = entry.header;
      entry.resume();
      if (++tarEntries > maxEntries) {
        throw new ImageFormatError('limit', `${label} has more than ${maxEntries} entries`);
      }
      const { path, escaped } = normaliseEntryPath(h.name);
      // No Linux file system holds a longer path (PATH_MAX); deeper trees only cost time.
      if (path.length > MAX_PATH_BYTES) throw new ImageFormatError('limit', `${label} has an entry name of ${path.length} characters (the limit is ${MAX_PATH_BYTES})`);
      if (escaped) warn(`entry name '${h.name}' climbs above the root; read as ${path}`);
      if (path === '/') continue; // the root directory's own entry
      const name = baseName(path);
      if (name.startsWith(WHITEOUT_PREFIX)) {
        const dir = parentPath(path);
        if (name === OPAQUE_MARKER) opaqueDirs.push(dir);
        else if (!name.startsWith(AUFS_META_PREFIX)) whiteouts.push(joinPath(dir, name.slice(WHITEOUT_PREFIX.length)));
        continue;
      }
      if (path.includes('/' + AUFS_META_PREFIX)) continue; // contents of AUFS metadata dirs
      const type = entryType(h.type);
      if (type === null) { warn(`entry ${path} has unsupported type '${h.type}'; skipped`); continue; }
      const size = type === 'file' ? (h.size ?? 0) : 0;
      tarFileBytes += size;
      const e: LayerEntry = {
        path,
        type,
        size,
        mode: (h.mode ?? 0) & 0o7777,
        uid: h.uid ?? 0,
        gid: h.gid ?? 0,
        mtime: h.mtime ? Math.floor(h.mtime.getTime() / 1000) : 0,
      };
      if (type === 'symlink') e.linkname = h.linkname ?? '';
      else if (type === 'hardlink') e.linkname = normaliseEntryPath(h.linkname ?? '').path;
      entries.push(e);
    }
  } catch (e) {
    if (signal?.aborted) throw new CancelledError();
    throw toFormatError(e, label);
  } finally {
    signal?.removeEventListener('abort', onAbort);
  }
  return {
    diffId: hash ? 'sha256:' + hash.digest('hex') : (opts.diffId ?? ''),
    entries,
    whiteouts,
    opaqueDirs,
    tarFileBytes,
    tarEntries,
    tarBytes: meter.bytes,
    compression,
    warnings,
  };
}
