// Reads one version of one file out of one layer of an image, by streaming: re-opens the image
// source, finds the layer (by its diffID), decompresses just that layer and keeps only the bytes of
// the wanted entry. Nothing is extracted to disk. No vscode here (unit-tested in plain Node).
//
// - OCI layout: the layer blob is found through index.json → manifests → config diff_ids.
// - `docker save` archive file: the tar's headers are walked with seeks (no data read), then
//   manifest.json (or index.json) names the layer member, which is read by its byte range.
// - Engine: the export stream is read once; every layer member is hashed while it is scanned, and
//   the one whose sha256 is the diffID answers (uncompressed members of the wrong size are skipped
//   without decompressing or hashing). The stream is abandoned as soon as the layer is found.
import { createHash, type Hash } from 'node:crypto';
import { createReadStream, promises as fs } from 'node:fs';
import * as nodePath from 'node:path';
import { Readable, Transform, pipeline, type TransformCallback } from 'node:stream';
import * as tar from 'tar-stream';
import { withFirst } from '../core/image/tar/archiveStream';
import { openDecompressed, sniffCompression, toFormatError, type ByteSource } from '../core/image/tar/decompress';
import { CancelledError, ImageFormatError } from '../core/image/errors';
import { blobPath, parseImageConfig, parseJson } from '../core/image/oci';
import { normaliseEntryPath } from '../core/image/tar/paths';
import type { EntryType } from '../core/image/types';
import type { EngineClient } from '../engine/types';
import type { SourceSpec } from './load';

export interface EntryRequest {
  /** The layer's diffID (sha256 of its uncompressed tar), as the image config lists it. */
  diffId: string;
  /** Absolute path of the entry inside the layer, e.g. "/usr/bin/python3". */
  path: string;
  /** Uncompressed size of the layer tar, when known (lets the engine scan skip other layers fast). */
  tarBytes?: number;
  /** Refuse files larger than this (default 256 MiB). */
  maxBytes?: number;
  signal?: AbortSignal;
  /** Connects to the engine (engine sources only). */
  engine?: () => Promise<EngineClient>;
}

export interface EntryContent {
  type: EntryType;
  /** Regular-file bytes (a hardlink's target's), a symlink's target as text, empty otherwise. */
  data: Buffer;
  size: number;
  mode: number;
  mtime: number;
  linkname?: string;
}

export class EntryNotFoundError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'EntryNotFoundError';
  }
}

export const DEFAULT_MAX_BYTES = 256 * 1024 * 1024;

const TAR_TYPES: Record<string, EntryType> = {
  file: 'file', 'contiguous-file': 'file', directory: 'dir', symlink: 'symlink', link: 'hardlink',
  'character-device': 'char', 'block-device': 'block', fifo: 'fifo',
};

class HashMeter extends Transform {
  bytes = 0;
  constructor(private readonly hash: Hash) { super(); }
  override _transform(chunk: Buffer, _e: BufferEncoding, cb: TransformCallback): void {
    this.bytes += chunk.length;
    this.hash.update(chunk);
    cb(null, chunk);
  }
}

interface ScanResult {
  entry?: EntryContent;
  /** The entry was there but larger than maxBytes (its size). */
  tooBig?: number;
  /** sha256 of the uncompressed tar (only when hashing). */
  diffId?: string;
}

/**
 * Scans one layer blob (plain, gzip or zstd) for `path`. Without `hash`, stops at the first match;
 * with it, reads to the end (the hash needs every byte) and keeps the last match, as a union
 * filesystem would.
 */
export async function scanLayerBlob(blob: ByteSource, path: string, opts: { hash?: boolean; maxBytes?: number; signal?: AbortSignal } = {}): Promise<ScanResult> {
  const maxBytes = opts.maxBytes ?? DEFAULT_MAX_BYTES;
  if (opts.signal?.aborted) throw new CancelledError();
  const { stream } = await openDecompressed(blob);
  const extract = tar.extract();
  const hash = opts.hash ? createHash('sha256') : null;
  if (hash) pipeline(stream, new HashMeter(hash), extract as unknown as NodeJS.WritableStream, () => undefined);
  else pipeline(stream, extract as unknown as NodeJS.WritableStream, () => undefined);
  const onAbort = (): void => { extract.destroy(new CancelledError()); };
  opts.signal?.addEventListener('abort', onAbort, { once: true });
  let found: EntryContent | undefined;
  let tooBig: number | undefined;
  try {
    for await (const entry of extract) {
      const h = entry.header;
      const p = normaliseEntryPath(h.name).path;
      const type = TAR_TYPES[h.type ?? ''];
      if (p !== path || !type) { entry.resume(); continue; }
      const size = type === 'file' ? h.size ?? 0 : 0;
      if (size > maxBytes) {
        entry.resume();
        tooBig = size;
        found = undefined;
        if (!hash) break;
        continue;
      }
      tooBig = undefined;
      const parts: Buffer[] = [];
      for await (const c of entry as unknown as AsyncIterable<Buffer>) if (type === 'file') parts.push(c);
      const linkname = type === 'hardlink' ? normaliseEntryPath(h.linkname ?? '').path : type === 'symlink' ? h.linkname ?? '' : undefined;
      found = {
        type, size, mode: (h.mode ?? 0) & 0o7777, mtime: h.mtime ? Math.floor(h.mtime.getTime() / 1000) : 0, linkname,
        data: type === 'file' ? Buffer.concat(parts) : type === 'symlink' ? Buffer.from(linkname ?? '', 'utf8') : Buffer.alloc(0),
      };
      if (!hash) break;
    }
  } catch (e) {
    if (opts.signal?.aborted) throw new CancelledError();
    throw toFormatError(e, `the layer holding ${path}`);
  } finally {
    opts.signal?.removeEventListener('abort', onAbort);
    if (!hash) extract.destroy();
  }
  return { entry: found, tooBig, diffId: hash ? 'sha256:' + hash.digest('hex') : undefined };
}

/** Reads `req.path` from the layer `req.diffId` of the image at `spec`; resolves hardlinks within the layer. */
export async function readLayerEntry(spec: SourceSpec, req: EntryRequest): Promise<EntryContent> {
  let path = req.path;
  for (let hop = 0; hop < 8; hop++) {
    const e = await readOnce(spec, { ...req, path });
    if (e.type !== 'hardlink' || !e.linkname) return e;
    // A hardlink's content is its target's, which the same layer carries earlier in the tar.
    path = e.linkname;
  }
  throw new ImageFormatError('corrupt', `too many hardlink hops from ${req.path}`);
}

async function readOnce(spec: SourceSpec, req: EntryRequest): Promise<EntryContent> {
  const notFound = (): never => {
    throw new EntryNotFoundError(`${req.path} is not in layer ${req.diffId.slice(0, 19)}`);
  };
  switch (spec.kind) {
    case 'oci': {
      const digest = await findLayerBlob((rel) => readSmallFile(nodePath.join(spec.dir, rel)), req.diffId);
      const file = nodePath.join(spec.dir, blobPath(digest));
      const r = await scanLayerBlob(createReadStream(file, { highWaterMark: 1 << 20 }), req.path, req);
      return entryOf(r, req) ?? notFound();
    }
    case 'docker-archive': {
      const r = await readFromArchiveFile(spec.path, req);
      return r ?? notFound();
    }
    case 'engine': {
      if (!req.engine) throw new Error('no engine connection');
      const engine = await req.engine();
      const stream = await engine.exportImage(spec.name, req.signal);
      try {
        const r = await scanArchiveStream(stream, req);
        if (r === 'no-layer') throw new ImageFormatError('missing', `the engine's export of ${spec.name} has no layer ${req.diffId}`);
        return r ?? notFound();
      } finally {
        stream.destroy();
      }
    }
  }
}

function entryOf(r: ScanResult, req: EntryRequest): EntryContent | undefined {
  if (r.entry) return r.entry;
  if (r.tooBig !== undefined) {
    const max = req.maxBytes ?? DEFAULT_MAX_BYTES;
    throw new ImageFormatError('limit', `${req.path} is ${r.tooBig} bytes: larger than the ${max}-byte limit for opening a file version`);
  }
  return undefined;
}

async function readSmallFile(p: string): Promise<Buffer> {
  const st = await fs.stat(p).catch(() => null);
  if (!st) throw new ImageFormatError('missing', `${p} is missing`);
  if (st.size > 16 * 1024 * 1024) throw new ImageFormatError('limit', `${p} is larger than 16 MiB`);
  return fs.readFile(p);
}

interface Desc { mediaType?: string; digest: string }
interface IndexJson { manifests?: Desc[] }
interface ManifestJson { config?: Desc; layers?: Desc[]; manifests?: Desc[] }

/** The digest of the blob holding the layer `diffId`, searching every manifest an index reaches. */
export async function findLayerBlob(readDoc: (rel: string) => Promise<Buffer>, diffId: string): Promise<string> {
  const descs = (v: unknown): Desc[] => (Array.isArray(v) ? v.filter((d): d is Desc => !!d && typeof d === 'object' && typeof (d as Desc).digest === 'string') : []);
  const queue: Desc[] = descs(parseJson<IndexJson | null>(await readDoc('index.json'), 'index.json')?.manifests);
  for (let seen = 0; queue.length && seen < 256; seen++) {
    const d = queue.shift()!;
    let doc: ManifestJson;
    try {
      doc = parseJson<ManifestJson>(await readDoc(blobPath(d.digest)), `blob ${d.digest}`);
    } catch {
      continue; // attestation or missing platform blob: not ours
    }
    if (!doc || typeof doc !== 'object') continue;
    if (Array.isArray(doc.manifests)) { queue.push(...descs(doc.manifests)); continue; }
    if (typeof doc.config?.digest !== 'string' || !Array.isArray(doc.layers)) continue;
    let cfg: ReturnType<typeof parseImageConfig>;
    try { cfg = parseImageConfig(await readDoc(blobPath(doc.config.digest)), 'config'); } catch { continue; }
    const i = (cfg.rootfs?.diff_ids ?? []).indexOf(diffId);
    const layer = i >= 0 ? descs(doc.layers.slice(i, i + 1))[0] : undefined;
    if (layer) return layer.digest;
  }
  throw new ImageFormatError('missing', `no manifest lists a layer with diffID ${diffId}`);
}

// --------------------------------------------------------------------------------------------
// docker-save archive files: walk headers with seeks

interface Member { name: string; type: string; offset: number; size: number; linkname: string }

function cstr(b: Buffer, start: number, len: number): string {
  const end = b.indexOf(0, start);
  return b.toString('utf8', start, end < 0 || end > start + len ? start + len : end);
}

function parseSize(b: Buffer): number {
  if (b[124] & 0x80) {
    // base-256 (GNU) for sizes ≥ 8 GiB
    let v = 0;
    for (let i = 125; i < 136; i++) v = v * 256 + b[i];
    return v;
  }
  const s = cstr(b, 124, 12).trim();
  return s ? parseInt(s, 8) : 0;
}

function parsePax(data: Buffer): Record<string, string> {
  const out: Record<string, string> = {};
  let i = 0;
  while (i < data.length) {
    const sp = data.indexOf(0x20, i);
    if (sp < 0) break;
    const len = parseInt(data.toString('ascii', i, sp), 10);
    if (!len) break;
    const rec = data.toString('utf8', sp + 1, i + len - 1);
    const eq = rec.indexOf('=');
    if (eq > 0) out[rec.slice(0, eq)] = rec.slice(eq + 1);
    i += len;
  }
  return out;
}

/** Members of a tar file by normalised relative path, from headers only (data is skipped by seeking). */
export async function tarMembers(file: string, maxMembers = 1_000_000): Promise<Map<string, Member>> {
  const fh = await fs.open(file, 'r');
  const members = new Map<string, Member>();
  try {
    const { size: fileSize } = await fh.stat();
    const hdr = Buffer.alloc(512);
    let pos = 0;
    let longName: string | undefined;
    let longLink: string | undefined;
    let pax: Record<string, string> = {};
    while (pos + 512 <= fileSize && members.size < maxMembers) {
      const { bytesRead } = await fh.read(hdr, 0, 512, pos);
      if (bytesRead < 512) break;
      if (hdr.every((x) => x === 0)) break;
      const typeflag = String.fromCharCode(hdr[156] || 0x30);
      const size = parseSize(hdr);
      if (!Number.isSafeInteger(size) || size < 0) throw new ImageFormatError('corrupt', `a tar header in ${file} has an invalid size`);
      const dataAt = pos + 512;
      pos = dataAt + Math.ceil(size / 512) * 512;
      if (typeflag === 'L' || typeflag === 'K' || typeflag === 'x') {
        if (size > 1 << 20) throw new ImageFormatError('limit', `a tar extension header in ${file} is larger than 1 MiB`);
        const data = Buffer.alloc(size);
        await fh.read(data, 0, size, dataAt);
        if (typeflag === 'L') longName = cstr(data, 0, size);
        else if (typeflag === 'K') longLink = cstr(data, 0, size);
        else pax = parsePax(data);
        continue;
      }
      if (typeflag === 'g') continue;
      let name = cstr(hdr, 0, 100);
      if (hdr.toString('ascii', 257, 262) === 'ustar') {
        const prefix = cstr(hdr, 345, 155);
        if (prefix) name = `${prefix}/${name}`;
      }
      name = pax.path ?? longName ?? name;
      const linkname = pax.linkpath ?? longLink ?? cstr(hdr, 157, 100);
      const realSize = pax.size !== undefined ? Number(pax.size) : size;
      if (!Number.isSafeInteger(realSize) || realSize < 0) throw new ImageFormatError('corrupt', `a PAX header in ${file} has an invalid size`);
      if (pax.size !== undefined) pos = dataAt + Math.ceil(realSize / 512) * 512;
      longName = longLink = undefined;
      pax = {};
      const type = typeflag === '0' || typeflag === '\0' || typeflag === '7' ? 'file' : typeflag === '1' ? 'link' : typeflag === '2' ? 'symlink' : typeflag === '5' ? 'directory' : 'other';
      members.set(normaliseEntryPath(name).path.slice(1), { name, type, offset: dataAt, size: realSize, linkname });
    }
  } finally {
    await fh.close();
  }
  return members;
}

async function readFromArchiveFile(file: string, req: EntryRequest): Promise<EntryContent | undefined> {
  await fs.access(file).catch(() => { throw new ImageFormatError('missing', `cannot read ${file}: no such file`); });
  const members = await tarMembers(file);
  const resolve = (rel: string): Member | undefined => {
    let p = normaliseEntryPath(rel).path.slice(1);
    for (let i = 0; i < 16; i++) {
      const m = members.get(p);
      if (!m) return undefined;
      if (m.type !== 'symlink' && m.type !== 'link') return m;
      const dir = p.split('/').slice(0, -1).join('/');
      p = normaliseEntryPath(m.type === 'symlink' && !m.linkname.startsWith('/') ? `${dir}/${m.linkname}` : m.linkname).path.slice(1);
    }
    return undefined;
  };
  const readDoc = async (rel: string): Promise<Buffer> => {
    const m = resolve(rel);
    if (!m) throw new ImageFormatError('missing', `the archive ${file} lacks ${rel}`);
    if (m.size > 16 * 1024 * 1024) throw new ImageFormatError('limit', `${rel} in ${file} is larger than 16 MiB`);
    const fh = await fs.open(file, 'r');
    try {
      const b = Buffer.alloc(m.size);
      await fh.read(b, 0, m.size, m.offset);
      return b;
    } finally {
      await fh.close();
    }
  };
  let layerRel: string | undefined;
  if (resolve('manifest.json')) {
    const manifest = parseJson<Array<{ Config?: string; Layers?: string[] }>>(await readDoc('manifest.json'), 'manifest.json');
    for (const m of Array.isArray(manifest) ? manifest : []) {
      if (!m || typeof m.Config !== 'string' || !Array.isArray(m.Layers)) continue;
      const cfg = parseImageConfig(await readDoc(m.Config));
      const i = (cfg.rootfs?.diff_ids ?? []).indexOf(req.diffId);
      if (i >= 0 && typeof m.Layers[i] === 'string') { layerRel = m.Layers[i]; break; }
    }
  } else if (resolve('index.json')) {
    layerRel = blobPath(await findLayerBlob(readDoc, req.diffId));
  }
  const member = layerRel ? resolve(layerRel) : undefined;
  if (!member) throw new ImageFormatError('missing', `the archive ${file} has no layer ${req.diffId}`);
  if (member.size === 0) return undefined;
  const r = await scanLayerBlob(
    createReadStream(file, { start: member.offset, end: member.offset + member.size - 1, highWaterMark: 1 << 20 }), req.path, req);
  return entryOf(r, req);
}

// --------------------------------------------------------------------------------------------
// Engine export streams: identify the layer by hashing

/**
 * Scans a `docker save` stream (either layout) for the layer `req.diffId` and returns the entry
 * (undefined: the layer was found but lacks the path; 'no-layer': no member was that layer).
 */
export async function scanArchiveStream(source: Readable | ByteSource, req: EntryRequest): Promise<EntryContent | undefined | 'no-layer'> {
  const extract = tar.extract();
  const input = source instanceof Readable ? source : Readable.from(source as AsyncIterable<Uint8Array>);
  pipeline(input, extract as unknown as NodeJS.WritableStream, () => undefined);
  const onAbort = (): void => { extract.destroy(new CancelledError()); };
  req.signal?.addEventListener('abort', onAbort, { once: true });
  const wantHex = req.diffId.replace(/^sha256:/, '');
  try {
    for await (const member of extract) {
      const h = member.header;
      const rel = normaliseEntryPath(h.name).path.slice(1);
      const size = h.size ?? 0;
      if ((h.type !== 'file' && h.type !== 'contiguous-file') || size === 0) { member.resume(); continue; }
      const it = (member as unknown as AsyncIterable<Buffer>)[Symbol.asyncIterator]();
      const first = await it.next();
      if (first.done) continue;
      const head = first.value;
      const compressed = sniffCompression(head) !== 'none';
      const drain = async (): Promise<void> => { for (;;) { const r = await it.next(); if (r.done) return; } };
      // An uncompressed blob named by its digest is its own diffID.
      if (rel === `blobs/sha256/${wantHex}`) {
        const r = await scanLayerBlob(withFirst(head, it), req.path, { ...req, hash: false });
        return entryOf(r, req);
      }
      if (!compressed && req.tarBytes !== undefined && size !== req.tarBytes) { await drain(); continue; }
      if (!compressed && /^\s*[[{]/.test(head.toString('latin1', 0, 64))) { await drain(); continue; } // a JSON document
      let r: ScanResult;
      try {
        r = await scanLayerBlob(withFirst(head, it), req.path, { ...req, hash: true });
      } catch (e) {
        if (e instanceof CancelledError || (e instanceof ImageFormatError && e.code === 'limit')) throw e;
        await drain().catch(() => undefined);
        continue; // not a layer after all
      }
      if (r.diffId === req.diffId) return entryOf(r, req);
    }
  } catch (e) {
    if (req.signal?.aborted) throw new CancelledError();
    throw toFormatError(e, 'the image export');
  } finally {
    req.signal?.removeEventListener('abort', onAbort);
    extract.destroy();
  }
  return 'no-layer';
}
