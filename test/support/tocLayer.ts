// Test-only writers of layers that carry a table of contents, made the way their specifications
// lay them out, from a list of tar entries:
// - eStargz (containerd/stargz-snapshotter docs/estargz.md): gzip members (a regular file's
//   payload starts a new member; a file larger than `chunkSize` is split into members, each a
//   `chunk` entry after the first), then a member holding a tar with `stargz.index.json` (the TOC,
//   indented with tabs as the reference writer does) and the tar's end, then the 51-byte footer
//   (an empty gzip member whose extra field is `SG`, 22, `%016x` of the TOC offset, `STARGZ`).
//   Landmarks: `.no.prefetch.landmark` first, or `.prefetch.landmark` after the first
//   `prefetch` entries (1-byte regular files holding 0x0f).
// - zstd:chunked (containers/storage pkg/chunked): zstd frames (a regular file's payload in its
//   own frames), then skippable frames holding the zstd-compressed TOC, the tar-split data and the
//   64-byte footer; the annotations name the TOC's position and checksum. The `zstd` program
//   compresses (fzstd, which Layer Lens reads with, only decompresses).
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdirSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';
import { gzipSync } from 'node:zlib';

export interface TocTestEntry {
  name: string;
  type: 'reg' | 'dir' | 'symlink' | 'hardlink' | 'char' | 'block' | 'fifo';
  mode?: number;
  uid?: number;
  gid?: number;
  /** Seconds since the epoch. */
  mtime?: number;
  content?: Buffer;
  linkname?: string;
  devMajor?: number;
  devMinor?: number;
}

export interface TocLayer {
  blob: Buffer;
  /** sha256 of the blob. */
  digest: string;
  /** sha256 of the uncompressed tar (the diffID). */
  diffId: string;
  /** The uncompressed tar. */
  tar: Buffer;
  annotations: Record<string, string>;
  mediaType: string;
  tocJson: Buffer;
}

const sha = (b: Buffer): string => 'sha256:' + createHash('sha256').update(b).digest('hex');

const TYPEFLAG: Record<TocTestEntry['type'], string> = { reg: '0', hardlink: '1', symlink: '2', char: '3', block: '4', dir: '5', fifo: '6' };

function octal(buf: Buffer, off: number, len: number, v: number): void {
  buf.write(v.toString(8).padStart(len - 1, '0') + '\0', off, len, 'latin1');
}

/** A ustar header (names up to 255 bytes through the prefix field). */
export function tarHeader(e: { name: string; type: TocTestEntry['type']; size: number; mode?: number; uid?: number; gid?: number; mtime?: number; linkname?: string; devMajor?: number; devMinor?: number }): Buffer {
  const h = Buffer.alloc(512);
  let name = e.name;
  let prefix = '';
  if (Buffer.byteLength(name) > 100) {
    const cut = name.lastIndexOf('/', name.length - 2);
    prefix = name.slice(0, cut);
    name = name.slice(cut + 1);
    if (Buffer.byteLength(name) > 100 || Buffer.byteLength(prefix) > 155) throw new Error(`name too long for the test writer: ${e.name}`);
  }
  h.write(name, 0, 100, 'utf8');
  octal(h, 100, 8, e.mode ?? (e.type === 'dir' ? 0o755 : 0o644));
  octal(h, 108, 8, e.uid ?? 0);
  octal(h, 116, 8, e.gid ?? 0);
  octal(h, 124, 12, e.size);
  octal(h, 136, 12, e.mtime ?? 0);
  h.write('        ', 148, 8, 'latin1');
  h.write(TYPEFLAG[e.type], 156, 1, 'latin1');
  if (e.linkname) h.write(e.linkname, 157, 100, 'utf8');
  h.write('ustar\0', 257, 6, 'latin1');
  h.write('00', 263, 2, 'latin1');
  octal(h, 329, 8, e.devMajor ?? 0);
  octal(h, 337, 8, e.devMinor ?? 0);
  if (prefix) h.write(prefix, 345, 155, 'utf8');
  let sum = 0;
  for (const b of h) sum += b;
  h.write(sum.toString(8).padStart(6, '0') + '\0 ', 148, 8, 'latin1');
  return h;
}

const pad = (n: number): Buffer => Buffer.alloc((512 - (n % 512)) % 512);
const rfc3339 = (s: number): string => new Date(s * 1000).toISOString().replace(/\.000Z$/, 'Z');

/** The TOC entry fields both formats share (chunk fields aside). */
function tocEntry(e: TocTestEntry): Record<string, unknown> {
  const o: Record<string, unknown> = { name: e.name, type: e.type };
  if (e.type === 'reg' && (e.content?.length ?? 0) > 0) o.size = e.content!.length;
  if (e.mtime) o.modtime = rfc3339(e.mtime);
  if (e.linkname) o.linkName = e.linkname;
  const mode = e.mode ?? (e.type === 'dir' ? 0o755 : 0o644);
  if (mode) o.mode = mode;
  if (e.uid) o.uid = e.uid;
  if (e.gid) o.gid = e.gid;
  if (e.devMajor) o.devMajor = e.devMajor;
  if (e.devMinor) o.devMinor = e.devMinor;
  return o;
}

/** Separately compressed members over one tar stream: put() adds tar bytes to the open member, flush() compresses it. */
class MemberWriter {
  readonly out: Buffer[] = [];
  readonly tarParts: Buffer[] = [];
  /** Compressed bytes so far. */
  offset = 0;
  /** Tar bytes so far. */
  tarBytes = 0;
  private open: Buffer[] = [];
  constructor(private readonly compress: (b: Buffer) => Buffer) {}
  put(b: Buffer): void {
    if (b.length === 0) return;
    this.open.push(b);
    this.tarParts.push(b);
    this.tarBytes += b.length;
  }
  flush(): void {
    if (this.open.length === 0) return;
    const z = this.compress(Buffer.concat(this.open));
    this.out.push(z);
    this.offset += z.length;
    this.open = [];
  }
  /** The finished layer: the blob of every member, its tar, and the annotations made from the tar. */
  layer(mediaType: string, tocJson: Buffer, annotations: (tar: Buffer) => Record<string, string>): TocLayer {
    const blob = Buffer.concat(this.out);
    const tar = Buffer.concat(this.tarParts);
    return { blob, digest: sha(blob), diffId: sha(tar), tar, tocJson, mediaType, annotations: annotations(tar) };
  }
}

/** Adds the landmark an eStargz builder puts in the layer. */
function withLandmark(entries: TocTestEntry[], prefetch: number | undefined): TocTestEntry[] {
  const mark = (name: string): TocTestEntry => ({ name, type: 'reg', mode: 0o644, content: Buffer.from([0x0f]) });
  if (prefetch === undefined) return [mark('.no.prefetch.landmark'), ...entries];
  return [...entries.slice(0, prefetch), mark('.prefetch.landmark'), ...entries.slice(prefetch)];
}

export interface EstargzOptions {
  /** Bytes per chunk of a regular file (default 4 MiB, the reference writer's). */
  chunkSize?: number;
  /** Put `.prefetch.landmark` after this many entries; default: `.no.prefetch.landmark` first. */
  prefetch?: number;
  /** gzip level (default 6). */
  level?: number;
}

/** An eStargz blob holding `entries` (and its landmark), with its annotations. */
export function writeEstargz(entries: TocTestEntry[], opts: EstargzOptions = {}): TocLayer {
  const chunkSize = opts.chunkSize ?? 4 * 1024 * 1024;
  const level = opts.level ?? 6;
  const w = new MemberWriter((b) => gzipSync(b, { level }));
  const { out, tarParts } = w;
  const toc: Array<Record<string, unknown>> = [];
  for (const e of withLandmark(entries, opts.prefetch)) {
    const content = e.type === 'reg' ? e.content ?? Buffer.alloc(0) : Buffer.alloc(0);
    // The padding of the previous payload belongs before this header.
    w.put(pad(w.tarBytes));
    w.put(tarHeader({ ...e, size: content.length }));
    const te = tocEntry(e);
    if (e.type === 'reg') te.digest = sha(content);
    if (content.length === 0) { toc.push(te); continue; }
    for (let at = 0; at < content.length; at += chunkSize) {
      const part = content.subarray(at, Math.min(content.length, at + chunkSize));
      w.flush();
      const ce: Record<string, unknown> = at === 0 ? te : { name: e.name, type: 'chunk' };
      ce.offset = w.offset;
      if (at > 0) ce.chunkOffset = at;
      if (content.length > chunkSize && at + chunkSize < content.length) ce.chunkSize = part.length;
      ce.chunkDigest = sha(part);
      toc.push(ce);
      w.put(part);
    }
  }
  w.put(pad(w.tarBytes));
  w.flush();
  const tocOffset = w.offset;
  const tocJson = Buffer.from(JSON.stringify({ version: 1, entries: toc }, null, '\t'));
  // The TOC's tar: Go's tar.Writer with only Typeflag, Name and Size set (mode 0, owner 0:0, mtime 0).
  const tocTar = Buffer.concat([tarHeader({ name: 'stargz.index.json', type: 'reg', size: tocJson.length, mode: 0 }), tocJson, pad(tocJson.length), Buffer.alloc(1024)]);
  tarParts.push(tocTar);
  out.push(gzipSync(tocTar, { level }));
  out.push(estargzFooter(tocOffset));
  return w.layer('application/vnd.oci.image.layer.v1.tar+gzip', tocJson, (tar) => ({
    'containerd.io/snapshot/stargz/toc.digest': sha(tocJson), 'io.containers.estargz.uncompressed-size': String(tar.length),
  }));
}

/** The 51-byte eStargz footer naming the TOC's offset. */
export function estargzFooter(tocOffset: number): Buffer {
  const sub = Buffer.from(tocOffset.toString(16).padStart(16, '0') + 'STARGZ', 'latin1');
  const head = Buffer.from([0x1f, 0x8b, 8, 4, 0, 0, 0, 0, 0, 255]);
  const extra = Buffer.concat([Buffer.from([26, 0, 0x53, 0x47, 22, 0]), sub]);
  return Buffer.concat([head, extra, Buffer.from([1, 0, 0, 0xff, 0xff]), Buffer.alloc(8)]);
}

function zstd(b: Buffer): Buffer {
  return execFileSync('zstd', ['-q', '-c', '-3'], { input: b, maxBuffer: 1 << 30 });
}

function skippable(data: Buffer): Buffer {
  const h = Buffer.alloc(8);
  h.set([0x50, 0x2a, 0x4d, 0x18]);
  h.writeUInt32LE(data.length, 4);
  return Buffer.concat([h, data]);
}

/** A zstd:chunked blob holding `entries`, with its annotations. */
export function writeZstdChunked(entries: TocTestEntry[]): TocLayer {
  const w = new MemberWriter(zstd);
  const { out } = w;
  const toc: Array<Record<string, unknown>> = [];
  for (const e of entries) {
    const content = e.type === 'reg' ? e.content ?? Buffer.alloc(0) : Buffer.alloc(0);
    w.put(pad(w.tarBytes));
    w.put(tarHeader({ ...e, size: content.length }));
    const te = tocEntry(e);
    if (e.type === 'reg') te.digest = sha(content);
    if (content.length > 0) {
      w.flush();
      te.offset = w.offset;
      w.put(content);
      w.flush();
      te.endOffset = w.offset;
    }
    toc.push(te);
  }
  w.put(pad(w.tarBytes));
  w.put(Buffer.alloc(1024));
  w.flush();
  const tocJson = Buffer.from(JSON.stringify({ version: 1, entries: toc }));
  const compressedToc = zstd(tocJson);
  const tocOffset = w.offset + 8;
  out.push(skippable(compressedToc));
  w.offset += 8 + compressedToc.length;
  // tar-split data is not read by Layer Lens: an empty zstd frame stands for it.
  const tarSplit = zstd(Buffer.alloc(0));
  const tarSplitOffset = w.offset + 8;
  out.push(skippable(tarSplit));
  const footer = Buffer.alloc(64);
  footer.writeBigUInt64LE(BigInt(tocOffset), 0);
  footer.writeBigUInt64LE(BigInt(compressedToc.length), 8);
  footer.writeBigUInt64LE(BigInt(tocJson.length), 16);
  footer.writeBigUInt64LE(1n, 24);
  footer.writeBigUInt64LE(BigInt(tarSplitOffset), 32);
  footer.writeBigUInt64LE(BigInt(tarSplit.length), 40);
  footer.writeBigUInt64LE(0n, 48);
  footer.set([0x47, 0x4e, 0x55, 0x6c, 0x49, 0x6e, 0x55, 0x78], 56);
  out.push(skippable(footer));
  return w.layer('application/vnd.oci.image.layer.v1.tar+zstd', tocJson, () => ({
    'io.github.containers.zstd-chunked.manifest-checksum': sha(compressedToc),
    'io.github.containers.zstd-chunked.manifest-position': `${tocOffset}:${compressedToc.length}:${tocJson.length}:1`,
    'io.github.containers.zstd-chunked.tarsplit-position': `${tarSplitOffset}:${tarSplit.length}:0`,
  }));
}

/**
 * An OCI image layout at `dir` holding one image of `layers` (their annotations in the manifest,
 * `annotate` changing them per layer), tagged `tag`: for `skopeo copy --preserve-digests` to a
 * registry. Returns the manifest's digest.
 */
export function writeTocImage(dir: string, layers: TocLayer[], tag: string, annotate?: (i: number, a: Record<string, string>) => Record<string, string>): string {
  mkdirSync(path.join(dir, 'blobs', 'sha256'), { recursive: true });
  const blob = (b: Buffer): string => {
    const d = sha(b);
    writeFileSync(path.join(dir, 'blobs', 'sha256', d.slice(7)), b);
    return d;
  };
  const config = Buffer.from(JSON.stringify({
    architecture: 'amd64', os: 'linux', created: '2026-12-07T00:00:00Z',
    config: { Cmd: ['/bin/sh'] },
    rootfs: { type: 'layers', diff_ids: layers.map((l) => l.diffId) },
    history: layers.map((l, i) => ({ created: '2026-12-07T00:00:00Z', created_by: `layer ${i} (${l.mediaType.endsWith('zstd') ? 'zstd:chunked' : 'eStargz'})` })),
  }));
  const manifest = Buffer.from(JSON.stringify({
    schemaVersion: 2,
    mediaType: 'application/vnd.oci.image.manifest.v1+json',
    config: { mediaType: 'application/vnd.oci.image.config.v1+json', digest: blob(config), size: config.length },
    layers: layers.map((l, i) => ({ mediaType: l.mediaType, digest: blob(l.blob), size: l.blob.length, annotations: annotate ? annotate(i, { ...l.annotations }) : l.annotations })),
  }));
  const md = blob(manifest);
  writeFileSync(path.join(dir, 'oci-layout'), JSON.stringify({ imageLayoutVersion: '1.0.0' }));
  writeFileSync(path.join(dir, 'index.json'), JSON.stringify({
    schemaVersion: 2,
    manifests: [{ mediaType: 'application/vnd.oci.image.manifest.v1+json', digest: md, size: manifest.length, annotations: { 'org.opencontainers.image.ref.name': tag } }],
  }));
  return md;
}

/** A plain (uncompressed) tar layer of `entries`, no TOC: for a writer such as skopeo to convert. */
export function writePlainLayer(entries: TocTestEntry[]): TocLayer {
  const parts: Buffer[] = [];
  for (const e of entries) {
    const content = e.type === 'reg' ? e.content ?? Buffer.alloc(0) : Buffer.alloc(0);
    parts.push(tarHeader({ ...e, size: content.length }), content, pad(content.length));
  }
  parts.push(Buffer.alloc(1024));
  const tar = Buffer.concat(parts);
  return { blob: tar, digest: sha(tar), diffId: sha(tar), tar, annotations: {}, mediaType: 'application/vnd.oci.image.layer.v1.tar', tocJson: Buffer.alloc(0) };
}
