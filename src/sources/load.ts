// Opens an image from any source and reads it through the one core parser. Source strings follow
// skopeo's transports: `docker://NAME` or a bare name/id (engine), `docker-archive:PATH[:REF]` or a
// path to a tar file (saved archive), `oci:DIR[:REF]` or a directory holding index.json (OCI
// layout), `registry://HOST[:PORT]/REPO[:TAG|@DIGEST]` (a registry, read without pulling). REF names one image of a source that holds several: a tag as a full reference
// (`app` is `docker.io/library/app:latest`; `ghcr.io/org/app:1.0`), an OCI ref name, or `@N`.
// Each kind of source is one ImageSource (src/sources/imageSource.ts), for the analysis and the
// file-version reader alike.
import { promises as fs, type Stats } from 'node:fs';
import * as nodePath from 'node:path';
import type { Analysis } from '../core/image/analysis';
import { ImageFormatError } from '../core/image/errors';
import { compareIndexes, entriesToHash, settleDiff, type FileDiff } from '../core/image/index/diff';
import type { ImageData } from '../core/image/types';
import { ArchiveFileSource } from './archiveSource';
import { EngineSource } from './engineSource';
import { OciLayoutSource } from './ociSource';
import { RegistrySource } from './registry/registrySource';
import { REGISTRY_PREFIX, parseRegistryRef } from './registry/reference';
import type { ImageSource, LoadOptions, SourceOptions, SourceSpec } from './imageSource';

export type { ImageSource, LoadOptions, SourceOptions, SourceSpec };
export { engineLayerSizes } from './engineSource';

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
  if (spec.startsWith(REGISTRY_PREFIX)) {
    parseRegistryRef(spec); // a malformed reference is one error here, before anything is read
    return { kind: 'registry', ref: spec };
  }
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

/** The reader of a source (its image, its layers, its files). */
export function openImageSource(spec: SourceSpec, opts: SourceOptions = {}): ImageSource {
  switch (spec.kind) {
    case 'docker-archive': return new ArchiveFileSource(spec.path, spec.ref, opts);
    case 'oci': return new OciLayoutSource(spec.dir, spec.ref, opts);
    case 'engine': return new EngineSource(spec.name, opts);
    case 'registry': return new RegistrySource(spec.ref, opts);
  }
}

export async function loadImage(spec: SourceSpec, opts: LoadOptions = {}): Promise<ImageData> {
  return openImageSource(spec, opts).load(opts);
}

/** An analyzed image and the reader it came from. */
export interface ReadImage {
  analysis: Analysis;
  reader: ImageSource;
}

/** Per layer read, the content digests of the wanted entries. */
async function digestsOf(x: ReadImage, wanted: Map<number, Set<string>>, signal?: AbortSignal): Promise<Map<number, Map<string, string>>> {
  const out = new Map<number, Map<string, string>>();
  for (const [layer, paths] of wanted) {
    out.set(layer, await x.reader.hashEntries(x.analysis.image.diffIds[layer], paths, { tarBytes: x.analysis.image.layers[layer].tarBytes, signal }));
  }
  return out;
}

/**
 * Two images compared path by path (`layerlens diff`, Compare with Previous Build): the image
 * indexes decide what they can (core/image/index/diff); files equal in metadata and size but
 * shipped by different layers are read through their readers, each such layer once, and their
 * contents hashed. Sorted by path.
 */
export async function diffImages(old: ReadImage, neu: ReadImage, signal?: AbortSignal): Promise<FileDiff[]> {
  const a = old.analysis, b = neu.analysis;
  const d = compareIndexes({ index: a.index, diffIds: a.image.diffIds }, { index: b.index, diffIds: b.image.diffIds });
  const oldDigests = await digestsOf(old, entriesToHash(d, 'old'), signal);
  const newDigests = await digestsOf(neu, entriesToHash(d, 'new'), signal);
  return settleDiff(d, (side, layer, entry) => (side === 'old' ? oldDigests : newDigests).get(layer)?.get(entry));
}
