// One parser for every image source that arrives as a tar: the engine's export stream
// (/images/{name}/get), a `docker save` file, and an OCI layout packed in a tar (Docker 25+ saves
// both manifest.json and index.json). Entries are read in stream order and classified by content:
// small JSON documents are kept, everything else is read as a layer (plain, gzip or zstd) without
// ever being held in memory. manifest.json usually comes last, so layers are indexed by their
// path first and ordered once the manifest is known.
import { createHash } from 'node:crypto';
import { pipeline } from 'node:stream';
import * as tar from 'tar-stream';
import { CancelledError, ImageFormatError } from './errors';
import { openDecompressed, toFormatError, type ByteSource } from './decompress';
import { indexLayer } from './layer';
import { alignHistory, blobPath, parseImageConfig, parseJson, resolveOciIndex, summariseConfig, type PlatformWanted } from './oci';
import { normaliseEntryPath } from './paths';
import type { ImageData, LayerIndex } from './types';

export interface ArchiveContents {
  /** Small documents (JSON and the like) by path relative to the archive root. */
  docs: Map<string, Buffer>;
  layers: Map<string, LayerIndex>;
  /** Symlinks and hardlinks between archive members (Docker 25+ links layer.tar to blobs). */
  links: Map<string, string>;
  /** Members that could not be read as layers: an error only if the manifest names them. */
  layerErrors: Map<string, Error>;
  warnings: string[];
}

export interface ReadArchiveOptions {
  signal?: AbortSignal;
  /** Documents larger than this are never buffered (default 16 MiB). */
  maxDocBytes?: number;
  /** Called as each layer finishes (for progress and partial results). */
  onLayer?: (path: string, layer: LayerIndex) => void;
  /** Called with bytes read so far of the outer stream. */
  onProgress?: (bytes: number) => void;
  maxEntriesPerLayer?: number;
}

function looksLikeDoc(first: Buffer): boolean {
  for (const b of first) {
    if (b === 0x20 || b === 0x0a || b === 0x0d || b === 0x09) continue;
    return b === 0x7b /* { */ || b === 0x5b /* [ */;
  }
  return false;
}

function rel(name: string): string {
  return normaliseEntryPath(name).path.slice(1);
}

async function* prepend(first: Buffer, rest: AsyncIterator<Buffer>): AsyncGenerator<Buffer> {
  yield first;
  for (;;) {
    const r = await rest.next();
    if (r.done) return;
    yield r.value;
  }
}

export async function readArchive(source: ByteSource, opts: ReadArchiveOptions = {}): Promise<ArchiveContents> {
  const maxDoc = opts.maxDocBytes ?? 16 * 1024 * 1024;
  const signal = opts.signal;
  if (signal?.aborted) throw new CancelledError();
  const docs = new Map<string, Buffer>();
  const layers = new Map<string, LayerIndex>();
  const links = new Map<string, string>();
  const layerErrors = new Map<string, Error>();
  const warnings: string[] = [];
  const extract = tar.extract();
  let bytes = 0;
  const counted = (async function* () {
    for await (const c of source as AsyncIterable<Uint8Array>) {
      bytes += c.length;
      opts.onProgress?.(bytes);
      yield c;
    }
  })();
  // A saved archive may itself be compressed (`docker save | gzip`, `| zstd`).
  const input = (await openDecompressed(counted)).stream;
  pipeline(input, extract as unknown as NodeJS.WritableStream, () => undefined);
  const onAbort = (): void => { extract.destroy(new CancelledError()); };
  signal?.addEventListener('abort', onAbort, { once: true });
  let entries = 0;
  const readLayer = async (path: string, src: ByteSource): Promise<boolean> => {
    try {
      const layer = await indexLayer(src, { signal, label: `layer ${path}`, maxEntries: opts.maxEntriesPerLayer });
      layers.set(path, layer);
      opts.onLayer?.(path, layer);
      return true;
    } catch (e) {
      if (!(e instanceof ImageFormatError) || e.code === 'limit') throw e;
      layerErrors.set(path, e);
      return false;
    }
  };
  try {
    for await (const entry of extract) {
      if (++entries > 1_000_000) throw new ImageFormatError('limit', 'the archive has more than a million members');
      const h = entry.header;
      const path = rel(h.name);
      if (h.type === 'symlink' || h.type === 'link') {
        const ln = h.linkname ?? '';
        const dir = path.split('/').slice(0, -1).join('/');
        const target = h.type === 'symlink' && !ln.startsWith('/') ? rel(dir + '/' + ln) : rel(ln);
        links.set(path, target);
        entry.resume();
        continue;
      }
      if (h.type !== 'file' && h.type !== 'contiguous-file') { entry.resume(); continue; }
      const it = (entry as unknown as AsyncIterable<Buffer>)[Symbol.asyncIterator]();
      const firstRes = await it.next();
      const first = firstRes.done ? Buffer.alloc(0) : firstRes.value;
      const size = h.size ?? 0;
      const isDocName = /(^|\/)(VERSION|repositories|oci-layout)$/.test(path);
      if ((size <= maxDoc && looksLikeDoc(first)) || (isDocName && size <= 4096)) {
        const parts = [first];
        for (;;) { const r = await it.next(); if (r.done) break; parts.push(r.value); }
        const buf = Buffer.concat(parts);
        let isJson = isDocName;
        if (!isJson) { try { parseJson(buf, path); isJson = true; } catch { isJson = false; } }
        if (isJson) { docs.set(path, buf); continue; }
        // Not JSON after all: read it as a layer from memory (it is at most maxDoc bytes).
        await readLayer(path, [buf]);
        continue;
      }
      if (size === 0) continue;
      if (!(await readLayer(path, prepend(first, it)))) {
        // Skip what is left of this member; a broken outer stream throws here.
        for (;;) { const r = await it.next(); if (r.done) break; }
      }
    }
  } catch (e) {
    if (signal?.aborted) throw new CancelledError();
    throw toFormatError(e, 'the image archive');
  } finally {
    signal?.removeEventListener('abort', onAbort);
  }
  if (entries === 0) throw new ImageFormatError('corrupt', 'the image archive is empty or not a tar');
  return { docs, layers, links, layerErrors, warnings };
}

function resolveLink(links: Map<string, string>, path: string): string {
  let p = path;
  for (let i = 0; i < 16 && links.has(p); i++) p = links.get(p)!;
  return p;
}

interface SaveManifestEntry { Config?: string; RepoTags?: string[] | null; Layers?: string[] }

export interface AssembleOptions {
  /** Pick this tag from a multi-image archive (`docker save a b`). */
  ref?: string;
  platform?: PlatformWanted;
}

/** Turns an archive's contents into the image model (docker-save manifest first, else OCI index). */
export async function assembleArchive(
  c: ArchiveContents,
  source: ImageData['source'],
  opts: AssembleOptions = {},
): Promise<ImageData> {
  const doc = (p: string): Buffer | undefined => c.docs.get(resolveLink(c.links, p));
  const layerAt = (p: string): LayerIndex | undefined => c.layers.get(resolveLink(c.links, p));
  const warnings = [...c.warnings];

  let configBuf: Buffer | undefined;
  let layerPaths: string[];
  let repoTags: string[] = [];
  const manifestBuf = doc('manifest.json');
  if (manifestBuf) {
    const manifest = parseJson<SaveManifestEntry[]>(manifestBuf, 'manifest.json');
    if (!Array.isArray(manifest) || manifest.length === 0) throw new ImageFormatError('corrupt', 'manifest.json lists no image');
    let pick = manifest[0];
    if (opts.ref) {
      const want = opts.ref.includes(':') ? opts.ref : opts.ref + ':latest';
      pick = manifest.find((m) => Array.isArray(m?.RepoTags) && m.RepoTags.includes(want)) ?? pick;
    }
    if (typeof pick?.Config !== 'string' || !Array.isArray(pick.Layers) || !pick.Layers.every((l) => typeof l === 'string')) {
      throw new ImageFormatError('corrupt', 'manifest.json entry has no Config or Layers');
    }
    configBuf = doc(rel(pick.Config));
    if (!configBuf) throw new ImageFormatError('missing', `the archive lacks the image config ${pick.Config}`);
    layerPaths = pick.Layers.map(rel);
    repoTags = Array.isArray(pick.RepoTags) ? pick.RepoTags.filter((t) => typeof t === 'string') : [];
  } else {
    const indexBuf = doc('index.json');
    if (!indexBuf) throw new ImageFormatError('corrupt', 'not an image archive: no manifest.json or index.json');
    const index = parseJson<{ manifests?: [] }>(indexBuf, 'index.json');
    const resolved = await resolveOciIndex(index, async (d) => {
      const b = doc(blobPath(d));
      if (!b) throw new ImageFormatError('missing', `the archive lacks blob ${d}`);
      return b;
    }, opts);
    configBuf = doc(blobPath(resolved.configDigest));
    if (!configBuf) throw new ImageFormatError('missing', `the archive lacks the image config ${resolved.configDigest}`);
    layerPaths = resolved.layers.map((l) => blobPath(l.digest));
    if (resolved.refName) repoTags = [resolved.refName];
  }
  const cfg = parseImageConfig(configBuf);
  const diffIds = cfg.rootfs?.diff_ids ?? [];
  if (diffIds.length !== layerPaths.length) {
    throw new ImageFormatError('corrupt', `the image config lists ${diffIds.length} layers but the manifest ${layerPaths.length}`);
  }
  const layers = layerPaths.map((p, i) => {
    const l = layerAt(p);
    const err = c.layerErrors.get(resolveLink(c.links, p));
    if (!l && err) throw err;
    if (!l) throw new ImageFormatError('missing', `the archive lacks layer ${i} (${p})`);
    // The same blob may back two layers (identical empty layers): share the index, not the id.
    return l.diffId === '' || l.diffId === diffIds[i] ? Object.assign(l, { diffId: diffIds[i] }) : { ...l, diffId: diffIds[i] };
  });
  const { history, warnings: hw } = alignHistory(cfg, layers.length);
  warnings.push(...hw);
  return {
    id: 'sha256:' + createHash('sha256').update(configBuf).digest('hex'),
    repoTags,
    config: summariseConfig(cfg),
    diffIds,
    layers,
    history,
    source,
    warnings,
  };
}
