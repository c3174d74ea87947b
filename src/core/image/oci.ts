// Image manifests and configs: Docker's `docker save` manifest.json and the OCI image layout
// (index.json → [index →] manifest → config + layer blobs), with Docker and OCI media types.
// Pure: blobs are read through a callback, so layouts on disk and inside a tar share this code.
import { createHash } from 'node:crypto';
import { ImageFormatError } from './errors';
import { ImageChoiceError, sameReference, sourceIndex } from './reference';
import type { HistoryEntry, ImageConfigSummary } from './types';

export const MEDIA = {
  ociIndex: 'application/vnd.oci.image.index.v1+json',
  ociManifest: 'application/vnd.oci.image.manifest.v1+json',
  dockerList: 'application/vnd.docker.distribution.manifest.list.v2+json',
  dockerManifest: 'application/vnd.docker.distribution.manifest.v2+json',
  ociConfig: 'application/vnd.oci.image.config.v1+json',
  dockerConfig: 'application/vnd.docker.container.image.v1+json',
} as const;

/** The config of a manifest whose config says it is no container image (a Helm chart, a WASM module, any OCI artifact). */
const ARTIFACT_KINDS: Record<string, string> = {
  'application/vnd.cncf.helm.config.v1+json': 'a Helm chart',
  'application/vnd.wasm.config.v0+json': 'a WebAssembly module',
  'application/vnd.oci.empty.v1+json': 'an OCI artifact',
};

/**
 * Throws unless a manifest's config descriptor is an image config's (or says nothing): a Helm
 * chart or another OCI artifact has no container image to show.
 */
export function refuseArtifact(config: Descriptor, what: string): void {
  const t = config.mediaType;
  if (t === undefined || t === MEDIA.ociConfig || t === MEDIA.dockerConfig) return;
  const kind = ARTIFACT_KINDS[String(t)] ?? 'an artifact';
  throw new ImageFormatError('unsupported', `${what} is ${kind} (config media type ${String(t).slice(0, 120)}), not a container image`);
}

/** The error for a config whose diff_ids and a manifest whose layers differ in number. */
export function diffIdCountMismatch(diffIds: number, layers: number): string {
  return `the image config's rootfs.diff_ids lists ${diffIds} layers but the manifest ${layers}`;
}

export interface Descriptor {
  mediaType?: string;
  digest: string;
  size?: number;
  platform?: { os?: string; architecture?: string; variant?: string };
  annotations?: Record<string, string>;
}

export interface ImageConfigJson {
  architecture?: string;
  os?: string;
  variant?: string;
  config?: {
    Env?: string[]; Cmd?: string[]; Entrypoint?: string[]; WorkingDir?: string; User?: string;
    Labels?: Record<string, string> | null; OnBuild?: string[] | null;
  };
  rootfs?: { type?: string; diff_ids?: string[] };
  history?: Array<{ created?: string; created_by?: string; comment?: string; empty_layer?: boolean }>;
}

const DIGEST_RE = /^sha256:[a-f0-9]{64}$/;

/** A sha256 digest in canonical form (`sha256:` and 64 lowercase hex): safe to make a file name of. */
export function isDigest(s: string): boolean {
  return DIGEST_RE.test(s);
}

/** The OCI digest (`sha256:<64 hex>`) of a blob. */
export function digestOf(blob: Uint8Array): string {
  return 'sha256:' + createHash('sha256').update(blob).digest('hex');
}

/** Validates a digest before it becomes a path: blobs are only ever `blobs/sha256/<64 hex>`. */
export function blobPath(digest: string): string {
  if (typeof digest !== 'string' || !isDigest(digest)) throw new ImageFormatError('corrupt', `invalid blob digest '${String(digest).slice(0, 80)}'`);
  return 'blobs/sha256/' + digest.slice(7);
}

/** Image documents nest a few levels; V8 takes seconds per million levels, so deeper is refused. */
export const MAX_JSON_DEPTH = 256;

function jsonDepth(buf: Buffer): number {
  let depth = 0;
  let max = 0;
  let inString = false;
  for (let i = 0; i < buf.length; i++) {
    const c = buf[i];
    if (inString) {
      if (c === 0x5c) i++; // backslash: skip the escaped byte
      else if (c === 0x22) inString = false;
    } else if (c === 0x22) inString = true;
    else if (c === 0x5b || c === 0x7b) { if (++depth > max) { max = depth; if (max > MAX_JSON_DEPTH) return max; } }
    else if (c === 0x5d || c === 0x7d) depth--;
  }
  return max;
}

export function parseJson<T>(buf: Buffer, what: string): T {
  if (jsonDepth(buf) > MAX_JSON_DEPTH) throw new ImageFormatError('limit', `${what} nests JSON more than ${MAX_JSON_DEPTH} levels deep`);
  try {
    return JSON.parse(buf.toString('utf8')) as T;
  } catch (e) {
    throw new ImageFormatError('corrupt', `${what} is not valid JSON (${(e as Error).message})`);
  }
}

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);
const strOrUndef = (v: unknown): string | undefined => (typeof v === 'string' ? v : undefined);
const strList = (v: unknown): string[] | undefined => (Array.isArray(v) ? v.filter((x): x is string => typeof x === 'string') : undefined);

/**
 * Parses an image config and keeps only fields of the types the spec gives them, so that a hostile
 * or broken config (history a number, created_by an object, diff_ids a string) reads as missing
 * fields instead of crashing later code.
 */
export function parseImageConfig(buf: Buffer, what = 'the image config'): ImageConfigJson {
  const raw = parseJson<unknown>(buf, what);
  if (!isObject(raw)) throw new ImageFormatError('corrupt', `${what} is not a JSON object`);
  const out: ImageConfigJson = {
    architecture: strOrUndef(raw.architecture), os: strOrUndef(raw.os), variant: strOrUndef(raw.variant),
  };
  if (isObject(raw.config)) {
    const c = raw.config;
    const labels = isObject(c.Labels)
      ? Object.fromEntries(Object.entries(c.Labels).filter((e): e is [string, string] => typeof e[1] === 'string')) : undefined;
    out.config = {
      Env: strList(c.Env), Cmd: strList(c.Cmd), Entrypoint: strList(c.Entrypoint), WorkingDir: strOrUndef(c.WorkingDir),
      User: strOrUndef(c.User), Labels: labels, OnBuild: strList(c.OnBuild),
    };
  }
  if (isObject(raw.rootfs)) {
    const ids = raw.rootfs.diff_ids;
    if (ids !== undefined && !(Array.isArray(ids) && ids.every((d) => typeof d === 'string'))) {
      throw new ImageFormatError('corrupt', `${what}: rootfs.diff_ids is not a list of digests`);
    }
    out.rootfs = { type: strOrUndef(raw.rootfs.type), diff_ids: ids as string[] | undefined };
  }
  if (Array.isArray(raw.history)) {
    out.history = raw.history.map((h) => (isObject(h) ? {
      created: strOrUndef(h.created), created_by: strOrUndef(h.created_by), comment: strOrUndef(h.comment),
      empty_layer: h.empty_layer === true,
    } : {}));
  }
  return out;
}

export interface PlatformWanted { os: string; architecture: string; variant?: string }

export function hostPlatform(): PlatformWanted {
  const map: Record<string, string> = { x64: 'amd64', arm64: 'arm64', arm: 'arm', ia32: '386', ppc64: 'ppc64le', s390x: 's390x', riscv64: 'riscv64' };
  return { os: 'linux', architecture: map[process.arch] ?? process.arch };
}

export function parsePlatform(s: string): PlatformWanted {
  const [os, architecture, variant] = s.split('/');
  if (!os || !architecture) throw new ImageFormatError('unsupported', `platform '${s}' is not of the form os/arch[/variant]`);
  return { os, architecture, variant };
}

/** A digest as a reference: `sha256:<hex>` or `@sha256:<hex>` (a manifest's or an index's). */
export function digestRef(ref: string): string | undefined {
  const d = ref.startsWith('@') ? ref.slice(1) : ref;
  return isDigest(d) ? d : undefined;
}

const isIndexType = (t: unknown): boolean => t === MEDIA.ociIndex || t === MEDIA.dockerList;
const isManifestType = (t: unknown): boolean => t === MEDIA.ociManifest || t === MEDIA.dockerManifest;

function isIndex(m: { mediaType?: string; manifests?: unknown }): boolean {
  return m.mediaType === MEDIA.ociIndex || m.mediaType === MEDIA.dockerList || (m.mediaType === undefined && Array.isArray(m.manifests));
}

export interface ResolvedManifest {
  manifestDigest: string;
  configDigest: string;
  layers: Descriptor[];
  refName?: string;
}

/** The names an index entry carries (org.opencontainers.image.ref.name, io.containerd.image.name). */
function namesOf(d: Descriptor): string[] {
  const a = isObject(d.annotations) ? d.annotations : {};
  return [a['org.opencontainers.image.ref.name'], a['io.containerd.image.name']].filter((n): n is string => typeof n === 'string' && n !== '');
}

function platformOf(d: Descriptor): string | undefined {
  const p = d.platform;
  if (!isObject(p) || typeof p.os !== 'string' || typeof p.architecture !== 'string') return undefined;
  return `${p.os}/${p.architecture}${typeof p.variant === 'string' && p.variant ? '/' + p.variant : ''}`;
}

function matchesPlatform(d: Descriptor, want: PlatformWanted): boolean {
  return !!d.platform && d.platform.os === want.os && d.platform.architecture === want.architecture
    && (!want.variant || d.platform.variant === want.variant);
}

/**
 * Entries that are one image's platforms: each has a platform, no two the same, and they carry one
 * name or none. Only such a list may be chosen from by platform.
 */
function isOneImagesPlatforms(ds: Descriptor[]): boolean {
  const platforms = ds.map(platformOf);
  if (platforms.some((p) => p === undefined) || new Set(platforms).size !== platforms.length) return false;
  return new Set(ds.map((d) => namesOf(d)[0] ?? '')).size === 1;
}

function noPlatform(want: PlatformWanted, ds: Descriptor[]): ImageFormatError {
  const have = ds.map((d) => platformOf(d) ?? '?').join(', ');
  return new ImageFormatError('missing', `no image for platform ${want.os}/${want.architecture} in the index (has ${have}); choose one with --platform`);
}

/**
 * The entry of an index that names the image wanted:
 * - by `ref` (top level only): an entry whose name is `ref` (or the same full reference), or the
 *   N-th entry for `@N`; several matches must be one image's platforms;
 * - without one: the only image, or one image's platforms;
 * - among one image's platforms (a nested index always is), the one for `want`.
 * Anything else is an error listing the names the index holds: never another image.
 */
function pickEntry(all: Array<{ d: Descriptor; i: number }>, top: boolean, ref: string | undefined, want: PlatformWanted): Descriptor {
  const candidates = all.filter(({ d }) => !(d.platform?.os === 'unknown' && d.platform?.architecture === 'unknown')
    && d.annotations?.['vnd.docker.reference.type'] !== 'attestation-manifest');
  if (candidates.length === 0) throw new ImageFormatError('missing', 'the image index lists no image manifest');
  // Listed by the fullest name (containerd's image name is a whole reference, ref.name often a tag).
  const held = [...new Set(candidates.map(({ d, i }) => namesOf(d).at(-1) ?? `@${i}${platformOf(d) ? ` (${platformOf(d)})` : ''}`))];
  let set = candidates.map(({ d }) => d);
  if (top && ref !== undefined) {
    const n = sourceIndex(ref);
    const digest = digestRef(ref);
    const found = n !== undefined ? candidates.filter(({ i }) => i === n).map(({ d }) => d)
      : digest !== undefined ? set.filter((d) => d.digest === digest)
        : set.filter((d) => namesOf(d).some((name) => sameReference(name, ref)));
    if (found.length === 0) throw new ImageChoiceError(`the image index has no image ${ref}`, held);
    set = found;
  }
  if (new Set(set.map((d) => d.digest)).size === 1) return set[0];
  if (!top || isOneImagesPlatforms(set)) {
    const pick = set.find((d) => matchesPlatform(d, want)) ?? (top ? undefined : set.find((d) => !d.platform));
    if (!pick) throw noPlatform(want, set);
    return pick;
  }
  throw new ImageChoiceError(`the image index lists ${set.length} images${ref === undefined ? '' : ` named ${ref}`}: add :REF to the source to name one`, held);
}

/**
 * Walks an OCI index (and nested indexes) to one image manifest: the image `opts.ref` names (see
 * pickEntry), for `opts.platform` (default: this host's) when the index holds one image's
 * platforms. With `checkDigests`, every document read must hash to the digest it was read by.
 */
export async function resolveOciIndex(
  index: { manifests?: Descriptor[]; mediaType?: string },
  readBlob: (digest: string) => Promise<Buffer>,
  opts: { platform?: PlatformWanted; ref?: string; checkDigests?: boolean } = {},
): Promise<ResolvedManifest> {
  const want = opts.platform ?? hostPlatform();
  let current = index;
  let refName: string | undefined;
  for (let depth = 0; depth < 8; depth++) {
    if (!isObject(current)) throw new ImageFormatError('corrupt', 'the image index is not a JSON object');
    const all = (Array.isArray(current.manifests) ? current.manifests : [])
      .map((d, i) => ({ d, i }))
      .filter(({ d }) => isObject(d) && typeof d.digest === 'string');
    const pick = pickEntry(all, depth === 0, opts.ref, want);
    // An entry that says what it is must be an image manifest or an index (as go-containerregistry
    // reads layouts); one without a media type is known by its content.
    if (pick.mediaType !== undefined && !isIndexType(pick.mediaType) && !isManifestType(pick.mediaType)) {
      throw new ImageFormatError('unsupported', `the image index lists ${pick.digest} with media type ${String(pick.mediaType).slice(0, 120)}: neither an image manifest nor an image index`);
    }
    refName ??= namesOf(pick)[0];
    const buf = await readBlob(pick.digest);
    if (opts.checkDigests) checkDigest(buf, pick.digest, `manifest ${pick.digest}`);
    const body = parseJson<{ mediaType?: string; manifests?: Descriptor[]; config?: Descriptor; layers?: Descriptor[] }>(buf, `manifest ${pick.digest}`);
    if (isIndex(body) || isIndexType(pick.mediaType)) {
      current = body;
      continue;
    }
    if (!isObject(body) || typeof body.config?.digest !== 'string' || !Array.isArray(body.layers)
      || !body.layers.every((l) => isObject(l) && typeof l.digest === 'string')) {
      throw new ImageFormatError('corrupt', `manifest ${pick.digest} has no config or layers`);
    }
    refuseArtifact(body.config, `manifest ${pick.digest}`);
    return { manifestDigest: pick.digest, configDigest: body.config.digest, layers: body.layers, refName };
  }
  throw new ImageFormatError('limit', 'image indexes nested too deeply');
}

/** Throws unless `buf` hashes to `digest` (a document or blob altered after it was named). */
export function checkDigest(buf: Uint8Array, digest: string, what: string): void {
  const got = digestOf(buf);
  if (got !== digest) throw new ImageFormatError('corrupt', `${what} does not match its digest (its content hashes to ${got})`);
}

/**
 * The config digest an engine's image id names. Docker's classic store and Podman name an image
 * by its config's digest; Docker's containerd image store by the digest of its manifest or image
 * index, which commits to the config (an index through the manifest for `opts.platform`).
 * `readBlob` gives a document by digest (the caller checks its hash); undefined when a document
 * is missing or is none of the three.
 */
export async function configDigestOf(
  id: string,
  readBlob: (digest: string) => Promise<Buffer | undefined>,
  opts: { platform?: PlatformWanted } = {},
): Promise<string | undefined> {
  const body = await readBlob(id);
  if (!body) return undefined;
  let doc: { rootfs?: unknown; config?: { digest?: unknown }; manifests?: unknown; mediaType?: string };
  try {
    doc = parseJson(body, `document ${id}`);
  } catch {
    return undefined;
  }
  if (!isObject(doc)) return undefined;
  if (isObject(doc.rootfs)) return id;
  if (isObject(doc.config) && typeof doc.config.digest === 'string') return doc.config.digest;
  if (Array.isArray(doc.manifests)) {
    try {
      return (await resolveOciIndex(doc as { manifests?: Descriptor[] }, async (d) => {
        const b = await readBlob(d);
        if (!b) throw new ImageFormatError('missing', `no document ${d}`);
        return b;
      }, opts)).configDigest;
    } catch {
      return undefined;
    }
  }
  return undefined;
}

export function summariseConfig(cfg: ImageConfigJson): ImageConfigSummary {
  const c = cfg.config ?? {};
  return {
    os: cfg.os ?? 'unknown',
    architecture: cfg.architecture ?? 'unknown',
    variant: cfg.variant,
    env: c.Env ?? undefined,
    cmd: c.Cmd ?? undefined,
    entrypoint: c.Entrypoint ?? undefined,
    workingDir: c.WorkingDir || undefined,
    user: c.User || undefined,
    labels: c.Labels ?? undefined,
    onBuild: c.OnBuild ?? undefined,
  };
}

/**
 * Aligns config history with layers exactly as the config defines it: each entry without
 * `empty_layer` consumed the next diff_id. Layers left over (images without full history) get
 * synthetic entries so that every layer has one.
 */
export function alignHistory(cfg: ImageConfigJson, layerCount: number): { history: HistoryEntry[]; warnings: string[] } {
  const warnings: string[] = [];
  const history: HistoryEntry[] = [];
  let next = 0;
  for (const h of cfg.history ?? []) {
    const empty = h.empty_layer === true;
    let layerIndex: number | null = null;
    if (!empty) {
      if (next < layerCount) layerIndex = next++;
      else warnings.push(`history entry ${history.length} claims a layer but the image has only ${layerCount}`);
    }
    history.push({
      index: history.length, createdBy: h.created_by ?? '', created: h.created, comment: h.comment,
      emptyLayer: empty || layerIndex === null, layerIndex,
    });
  }
  if (next < layerCount) {
    warnings.push(`${layerCount - next} layer(s) have no history entry`);
    while (next < layerCount) {
      history.push({ index: history.length, createdBy: '', emptyLayer: false, layerIndex: next++ });
    }
  }
  return { history, warnings };
}
