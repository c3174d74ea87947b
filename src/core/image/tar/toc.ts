// Layers that carry a table of contents (TOC): eStargz (gzip) and zstd:chunked (zstd). Their
// manifest descriptors name the TOC (eStargz: the `toc.digest` annotation; zstd:chunked: its
// position and checksum annotations), so a layer's index can be built from the TOC alone, read
// with a Range request or two, instead of from the whole blob. The index is the one the tar walker
// builds from the same blob (the same LayerIndexBuilder, fed the TOC's entries in tar order):
//
// - eStargz (containerd/stargz-snapshotter, docs/estargz.md): the blob ends with a 51-byte footer,
//   an empty gzip member whose extra field (subfield `SG`, 22 bytes) holds the TOC's offset as 16
//   hex digits and `STARGZ`. From that offset to the footer, one gzip member holds a tar with one
//   entry, `stargz.index.json`: the TOC JSON, whose sha256 the annotation names. That tar entry is
//   part of the layer tar: a full read sees it as a regular file, and so does the index built here.
//   The `.prefetch.landmark` / `.no.prefetch.landmark` entries are ordinary TOC entries (1-byte
//   regular files in the tar), kept as they are.
// - zstd:chunked (containers/storage, pkg/chunked; the annotations `io.github.containers.zstd-chunked.*`,
//   or `io.containers.zstd-chunked.*` as older writers name them): `manifest-position` is
//   `offset:length:lengthUncompressed:type`; the bytes there are one zstd frame of the TOC JSON
//   (inside a skippable frame, which a full read skips), and `manifest-checksum` is the sha256 of
//   those compressed bytes. The TOC is no tar entry.
//
// Both TOCs list every tar entry in order with its type, mode, owner, size, modification time and
// link target; regular files split in chunks add `chunk` entries, which are not tar entries.
import { createHash } from 'node:crypto';
import { gunzipSync } from 'node:zlib';
import { decompress as zstdDecompress } from 'fzstd';
import { ImageFormatError } from '../errors';
import type { LayerIndex } from '../types';
import { LayerIndexBuilder, type HeaderFields } from './layerBuilder';
import { decodeHeader } from './tarWalk';

export type TocKind = 'estargz' | 'zstd:chunked';

export const ESTARGZ_TOC_ANNOTATION = 'containerd.io/snapshot/stargz/toc.digest';
export const ZSTD_CHUNKED_CHECKSUM_ANNOTATION = 'io.github.containers.zstd-chunked.manifest-checksum';
export const ZSTD_CHUNKED_POSITION_ANNOTATION = 'io.github.containers.zstd-chunked.manifest-position';
/** The same annotations as containers/storage wrote them before their rename (skopeo 1.9 writes these). */
const ZSTD_CHUNKED_OLD_PREFIX = 'io.containers.zstd-chunked.';
export const ESTARGZ_FOOTER_SIZE = 51;
export const ESTARGZ_TOC_NAME = 'stargz.index.json';
/** A TOC larger than this (compressed or not) is refused: 256 MiB of JSON is millions of entries. */
export const MAX_TOC_BYTES = 256 * 1024 * 1024;

/** Where a layer's TOC is, as its descriptor tells. */
export type TocPlan =
  | { kind: 'estargz'; tocDigest: string }
  | { kind: 'zstd:chunked'; checksum: string; offset: number; length: number; lengthUncompressed: number };

const DIGEST = /^sha256:[0-9a-f]{64}$/;

/**
 * The TOC a layer descriptor announces, or undefined (no TOC annotation, or one that is not
 * well-formed: the layer is then read whole). A descriptor carrying both is read as eStargz.
 */
export function tocPlanOf(d: { annotations?: Record<string, string>; size?: number }): TocPlan | undefined {
  const a = d.annotations;
  if (!a || typeof a !== 'object') return undefined;
  const toc = a[ESTARGZ_TOC_ANNOTATION];
  if (typeof toc === 'string' && DIGEST.test(toc)) return { kind: 'estargz', tocDigest: toc };
  const sum = a[ZSTD_CHUNKED_CHECKSUM_ANNOTATION] ?? a[ZSTD_CHUNKED_OLD_PREFIX + 'manifest-checksum'];
  const pos = a[ZSTD_CHUNKED_POSITION_ANNOTATION] ?? a[ZSTD_CHUNKED_OLD_PREFIX + 'manifest-position'];
  if (typeof sum === 'string' && DIGEST.test(sum) && typeof pos === 'string') {
    const m = /^(\d+):(\d+):(\d+):(\d+)$/.exec(pos);
    if (!m) return undefined;
    const [offset, length, lengthUncompressed, type] = m.slice(1).map(Number);
    // Type 1 is the only manifest type (ManifestTypeCRFS); the TOC must lie inside the blob.
    if (type !== 1 || length <= 0 || !Number.isSafeInteger(offset + length)) return undefined;
    if (typeof d.size === 'number' && offset + length > d.size) return undefined;
    return { kind: 'zstd:chunked', checksum: sum, offset, length, lengthUncompressed };
  }
  return undefined;
}

/**
 * The TOC's offset from an eStargz footer (the blob's last 51 bytes). Anything else is one error
 * naming `label`.
 */
export function parseEstargzFooter(footer: Uint8Array, label: string, blobSize?: number): number {
  const bad = (why: string): never => {
    throw new ImageFormatError('corrupt', `${label}: not an eStargz footer (${why}); --full-read reads the layer whole`);
  };
  if (footer.length !== ESTARGZ_FOOTER_SIZE) bad(`${footer.length} bytes instead of ${ESTARGZ_FOOTER_SIZE}`);
  if (footer[0] !== 0x1f || footer[1] !== 0x8b || footer[2] !== 8) bad('no gzip header');
  if ((footer[3] & 0x04) === 0) bad('no gzip extra field');
  const xlen = footer[10] | (footer[11] << 8);
  if (xlen !== 26) bad(`an extra field of ${xlen} bytes instead of 26`);
  if (footer[12] !== 0x53 || footer[13] !== 0x47) bad('no SG subfield');
  const slen = footer[14] | (footer[15] << 8);
  if (slen !== 22) bad(`a subfield of ${slen} bytes instead of 22`);
  const sub = Buffer.from(footer.buffer, footer.byteOffset + 16, 22).toString('latin1');
  if (sub.slice(16) !== 'STARGZ') bad('no STARGZ magic');
  if (!/^[0-9a-fA-F]{16}$/.test(sub.slice(0, 16))) bad(`TOC offset '${sub.slice(0, 16)}' is not 16 hex digits`);
  const off = Number.parseInt(sub.slice(0, 16), 16);
  if (!Number.isSafeInteger(off)) bad('TOC offset out of range');
  if (blobSize !== undefined && off > blobSize - ESTARGZ_FOOTER_SIZE) bad(`TOC offset ${off} beyond the blob's ${blobSize} bytes`);
  // The rest: an empty stored deflate block, then CRC32 and ISIZE of nothing (all zero).
  try {
    if (gunzipSync(Buffer.from(footer)).length !== 0) bad('the footer member is not empty');
  } catch (e) {
    if (e instanceof ImageFormatError) throw e;
    bad('not a complete gzip member');
  }
  return off;
}

/** What a TOC read found: the JSON, and the TOC's own tar entry (eStargz). */
export interface TocJson {
  json: Buffer;
  /** eStargz: the header of the `stargz.index.json` tar entry that holds the JSON. */
  tocEntry?: HeaderFields;
}

function sha256(b: Uint8Array): string {
  return 'sha256:' + createHash('sha256').update(b).digest('hex');
}

/**
 * The eStargz TOC from the bytes between its offset and the footer (one gzip member holding a tar
 * with the one entry `stargz.index.json`), checked against the `toc.digest` annotation.
 */
export function estargzToc(member: Uint8Array, tocDigest: string, label: string): TocJson {
  let tar: Buffer;
  try {
    tar = gunzipSync(Buffer.from(member.buffer, member.byteOffset, member.byteLength), { maxOutputLength: MAX_TOC_BYTES + 2048 });
  } catch (e) {
    throw new ImageFormatError(/unexpected end/i.test((e as Error).message) ? 'truncated' : 'corrupt', `${label}: its eStargz TOC is not readable gzip (${(e as Error).message})`);
  }
  const h = decodeHeader(tar, 0);
  if (!h) throw new ImageFormatError('corrupt', `${label}: its eStargz TOC holds no tar header`);
  if (h.name.replace(/^\.?\//, '') !== ESTARGZ_TOC_NAME || (h.type !== 'file' && h.type !== 'contiguous-file')) {
    throw new ImageFormatError('corrupt', `${label}: its eStargz TOC holds '${h.name}' instead of ${ESTARGZ_TOC_NAME}`);
  }
  if (512 + h.size > tar.length) throw new ImageFormatError('truncated', `${label}: its eStargz TOC ends after ${tar.length - 512} of ${h.size} bytes`);
  const json = tar.subarray(512, 512 + h.size);
  const got = sha256(json);
  if (got !== tocDigest) {
    throw new ImageFormatError('corrupt', `${label}: its eStargz TOC does not match the toc.digest annotation ${tocDigest}: it hashes to ${got}`);
  }
  return { json, tocEntry: { name: h.name, type: h.type, size: h.size, mode: h.mode, uid: h.uid, gid: h.gid, mtime: h.mtime, linkname: h.linkname } };
}

/** The zstd:chunked TOC from its compressed bytes, checked against the manifest-checksum annotation. */
export function zstdChunkedToc(compressed: Uint8Array, plan: Extract<TocPlan, { kind: 'zstd:chunked' }>, label: string): TocJson {
  if (compressed.length !== plan.length) {
    throw new ImageFormatError('truncated', `${label}: its zstd:chunked TOC is ${compressed.length} bytes instead of ${plan.length}`);
  }
  const got = sha256(compressed);
  if (got !== plan.checksum) {
    throw new ImageFormatError('corrupt', `${label}: its zstd:chunked TOC does not match the manifest-checksum annotation ${plan.checksum}: it hashes to ${got}`);
  }
  if (plan.lengthUncompressed > MAX_TOC_BYTES) throw new ImageFormatError('limit', `${label}: its zstd:chunked TOC is ${plan.lengthUncompressed} bytes (the limit is ${MAX_TOC_BYTES})`);
  let json: Uint8Array;
  try {
    json = zstdDecompress(compressed, new Uint8Array(plan.lengthUncompressed));
  } catch (e) {
    throw new ImageFormatError('corrupt', `${label}: its zstd:chunked TOC is not readable zstd (${(e as Error).message})`);
  }
  if (json.length !== plan.lengthUncompressed) {
    throw new ImageFormatError('corrupt', `${label}: its zstd:chunked TOC decompresses to ${json.length} bytes instead of ${plan.lengthUncompressed}`);
  }
  return { json: Buffer.from(json.buffer, json.byteOffset, json.byteLength) };
}

const TYPES: Record<string, string> = {
  reg: 'file', dir: 'directory', symlink: 'symlink', hardlink: 'link', char: 'character-device', block: 'block-device', fifo: 'fifo',
};

interface TocEntryJson {
  name?: unknown; type?: unknown; size?: unknown; mode?: unknown; uid?: unknown; gid?: unknown; modtime?: unknown; linkName?: unknown;
}

const num = (v: unknown): number => (typeof v === 'number' && Number.isFinite(v) ? v : 0);

/**
 * A layer's index from its TOC JSON: each entry as the tar header it stands for (`chunk` entries
 * skipped), and, for eStargz, the TOC's own tar entry last, where the tar holds it.
 */
export function indexFromToc(toc: TocJson, meta: { diffId: string; compression: LayerIndex['compression']; label: string; maxEntries?: number }): LayerIndex {
  let doc: { entries?: unknown };
  try {
    doc = JSON.parse(toc.json.toString('utf8')) as { entries?: unknown };
  } catch (e) {
    throw new ImageFormatError('corrupt', `${meta.label}: its TOC is not JSON (${(e as Error).message})`);
  }
  if (!doc || typeof doc !== 'object' || !Array.isArray(doc.entries)) {
    throw new ImageFormatError('corrupt', `${meta.label}: its TOC has no entries list`);
  }
  const b = new LayerIndexBuilder(meta.label, meta.maxEntries, doc.entries.length);
  for (const raw of doc.entries as TocEntryJson[]) {
    if (!raw || typeof raw !== 'object' || typeof raw.name !== 'string' || typeof raw.type !== 'string') {
      throw new ImageFormatError('corrupt', `${meta.label}: its TOC has an entry without a name or type`);
    }
    if (raw.type === 'chunk') continue;
    const t = TYPES[raw.type];
    const mtime = typeof raw.modtime === 'string' ? Date.parse(raw.modtime) / 1000 : 0;
    b.add({
      name: raw.name,
      // An unknown type goes through as a type the builder does not map: warned and skipped, as
      // the tar walker does with an entry type it does not know.
      type: t ?? raw.type,
      size: raw.type === 'reg' ? num(raw.size) : 0,
      mode: num(raw.mode),
      uid: num(raw.uid),
      gid: num(raw.gid),
      mtime: Number.isFinite(mtime) ? mtime : 0,
      linkname: typeof raw.linkName === 'string' ? raw.linkName : null,
    });
  }
  if (toc.tocEntry) b.add(toc.tocEntry);
  // The tar's size is not known from a TOC (PAX records, padding, the end blocks): 0.
  return b.finish({ diffId: meta.diffId, tarBytes: 0, compression: meta.compression });
}
