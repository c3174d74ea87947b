// One parser for every image source that arrives as a tar: the engine's export stream
// (/images/{name}/get), a `docker save` file, and an OCI layout packed in a tar (Docker 25+ saves
// both manifest.json and index.json). Entries are read in stream order and classified by content:
// small JSON documents are kept, everything else is read as a layer (plain, gzip or zstd) without
// ever being held in memory. manifest.json usually comes last, so layers are indexed by their
// path first and ordered once the manifest is known.
import { ImageFormatError } from '../errors';
import type { ArchiveContents } from './archiveStream';
import { alignHistory, blobPath, checkDigest, diffIdCountMismatch, digestOf, parseImageConfig, parseJson, resolveOciIndex, summariseConfig, type PlatformWanted } from '../oci';
import { withFacts } from '../indexCodec';
import { archiveRel } from './paths';
import { ImageChoiceError, sameReference, sourceIndex } from '../reference';
import type { ImageData, LayerIndex } from '../types';

export type { ArchiveContents, ReadArchiveOptions } from './archiveStream';

/** The member a path names after the archive's links; a cycle (or a chain of 16 or more) is an error. */
function resolveLink(links: Map<string, string>, path: string): string {
  let p = path;
  for (let i = 0; links.has(p); i++) {
    if (i >= 16) throw new ImageFormatError('corrupt', `${path} is a link cycle (or a chain of more than 16 links) in the archive`);
    p = links.get(p)!;
  }
  return p;
}

interface SaveManifestEntry { Config?: string; RepoTags?: string[] | null; Layers?: string[] }

/** The tags of a manifest.json entry (strings only; an entry of the wrong shape has none). */
function tagsOf(e: SaveManifestEntry | null | undefined): string[] {
  return Array.isArray(e?.RepoTags) ? e.RepoTags.filter((t): t is string => typeof t === 'string') : [];
}

/**
 * The entry of a `docker save` manifest.json that `ref` names: by one of its tags (compared as
 * full references: `app` is `docker.io/library/app:latest`), or `@N` for the N-th entry. Without a
 * ref, the only entry. Anything else (no such tag, several images and no ref) is an error that
 * lists the tags the archive holds.
 */
export function pickManifestEntry(manifest: SaveManifestEntry[], ref: string | undefined): SaveManifestEntry {
  const held = manifest.flatMap((e, i) => (tagsOf(e).length ? tagsOf(e) : [`@${i}`]));
  if (ref === undefined) {
    if (manifest.length === 1) return manifest[0];
    throw new ImageChoiceError(`the archive holds ${manifest.length} images: name one as docker-archive:FILE:REF`, held);
  }
  const n = sourceIndex(ref);
  const pick = n !== undefined ? manifest[n] : manifest.find((e) => tagsOf(e).some((t) => sameReference(t, ref)));
  if (pick === undefined) throw new ImageChoiceError(`the archive holds no image ${ref}`, held);
  return pick;
}

export interface AssembleOptions {
  /** Pick this tag (a full reference, or `@N`) from a multi-image archive (`docker save a b`). */
  ref?: string;
  platform?: PlatformWanted;
  /** Check that the OCI documents (manifests, config) hash to the digests they are read by. */
  checkDigests?: boolean;
}

/** The first part of an archive member's path: what dive calls a layer's id. */
export function memberDir(path: string): string {
  return path.split('/')[0];
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
    if (!Array.isArray(manifest)) throw new ImageFormatError('corrupt', 'manifest.json is not a list of images');
    if (manifest.length === 0) throw new ImageFormatError('corrupt', 'manifest.json lists no image');
    const pick = pickManifestEntry(manifest, opts.ref);
    if (typeof pick?.Config !== 'string' || !Array.isArray(pick.Layers) || !pick.Layers.every((l) => typeof l === 'string')) {
      throw new ImageFormatError('corrupt', 'manifest.json entry has no Config or Layers');
    }
    configBuf = doc(archiveRel(pick.Config));
    if (!configBuf) throw new ImageFormatError('missing', `the archive lacks the image config ${pick.Config}`);
    layerPaths = pick.Layers.map(archiveRel);
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
    if (opts.checkDigests) checkDigest(configBuf, resolved.configDigest, `the image config ${resolved.configDigest}`);
    layerPaths = resolved.layers.map((l) => blobPath(l.digest));
    if (resolved.refName) repoTags = [resolved.refName];
  }
  const cfg = parseImageConfig(configBuf);
  const diffIds = cfg.rootfs?.diff_ids ?? [];
  if (diffIds.length !== layerPaths.length) {
    throw new ImageFormatError('corrupt', diffIdCountMismatch(diffIds.length, layerPaths.length));
  }
  const layers = layerPaths.map((p, i) => {
    const l = layerAt(p);
    const err = c.layerErrors.get(resolveLink(c.links, p));
    if (!l && err) throw err;
    if (!l) throw new ImageFormatError('missing', `the archive lacks layer ${i} (${p})`);
    // The same blob may back two layers (identical empty layers): share the index, not the id.
    return l.diffId === '' || l.diffId === diffIds[i] ? Object.assign(l, { diffId: diffIds[i] }) : withFacts(l, { diffId: diffIds[i] });
  });
  const { history, warnings: hw } = alignHistory(cfg, layers.length);
  warnings.push(...hw);
  return {
    id: digestOf(configBuf),
    repoTags,
    config: summariseConfig(cfg),
    diffIds,
    layers,
    history,
    layerIds: layerPaths.map(memberDir),
    source,
    warnings,
  };
}
