// In-memory tars for unit tests: layers, `docker save` archives and OCI layouts, built with the
// same tar library the product reads with.
import { createHash } from 'node:crypto';
import { execFileSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import * as nodePath from 'node:path';
import { gzipSync } from 'node:zlib';
import * as tar from 'tar-stream';

export interface TEntry {
  name: string;
  type?: 'file' | 'directory' | 'symlink' | 'link' | 'fifo' | 'character-device';
  body?: string | Buffer;
  size?: number; // for files: make a body of this many bytes
  mode?: number;
  linkname?: string;
  uid?: number;
}

export async function makeTar(entries: TEntry[]): Promise<Buffer> {
  const pack = tar.pack();
  for (const e of entries) {
    const type = e.type ?? 'file';
    const body = type === 'file' ? (e.body ?? Buffer.alloc(e.size ?? 0, 0x61)) : undefined;
    pack.entry({
      name: e.name, type, mode: e.mode ?? (type === 'directory' ? 0o755 : 0o644), linkname: e.linkname,
      uid: e.uid ?? 0, gid: 0, mtime: new Date(1_700_000_000_000),
    }, body as Buffer);
  }
  pack.finalize();
  const chunks: Buffer[] = [];
  for await (const c of pack as unknown as AsyncIterable<Buffer>) chunks.push(c);
  return Buffer.concat(chunks);
}

export function sha256(b: Buffer | string): string {
  return 'sha256:' + createHash('sha256').update(b).digest('hex');
}

export function zstd(b: Buffer): Buffer {
  return execFileSync('zstd', ['-q', '-c', '-3'], { input: b, maxBuffer: 1 << 30 });
}

export function gzip(b: Buffer): Buffer {
  return gzipSync(b);
}

export interface ImageSpec {
  layers: Buffer[]; // uncompressed layer tars, bottom first
  history?: Array<{ created_by: string; empty_layer?: boolean }>;
  tag?: string;
}

export function configFor(spec: ImageSpec): Buffer {
  const history = spec.history ?? spec.layers.map((_, i) => ({ created_by: `RUN step ${i}` }));
  return Buffer.from(JSON.stringify({
    architecture: 'amd64', os: 'linux', config: { Env: ['PATH=/bin'] },
    rootfs: { type: 'layers', diff_ids: spec.layers.map((l) => sha256(l)) },
    history,
  }));
}

/**
 * A `docker save` archive in the 20.10 layout: <id>/layer.tar …, manifest.json last. `bodies`: the
 * layer members' bytes where they are not spec.layers' (a layer rewritten after its config).
 */
export async function dockerSave(spec: ImageSpec, opts: { manifestFirst?: boolean; bodies?: Map<number, Buffer> } = {}): Promise<Buffer> {
  const config = configFor(spec);
  const configName = sha256(config).slice(7) + '.json';
  const seen = new Set<string>();
  const entries: TEntry[] = [];
  const layerPaths: string[] = [];
  spec.layers.forEach((l, i) => {
    const id = sha256(l).slice(7);
    layerPaths.push(`${id}/layer.tar`);
    if (seen.has(id)) return;
    seen.add(id);
    entries.push({ name: `${id}/`, type: 'directory' }, { name: `${id}/VERSION`, body: '1.0' },
      { name: `${id}/json`, body: '{}' }, { name: `${id}/layer.tar`, body: opts.bodies?.get(i) ?? l });
  });
  const manifest: TEntry = { name: 'manifest.json', body: JSON.stringify([{ Config: configName, RepoTags: [spec.tag ?? 'test:latest'], Layers: layerPaths }]) };
  entries.push({ name: configName, body: config });
  if (opts.manifestFirst) entries.unshift(manifest); else entries.push(manifest);
  return makeTar(entries);
}

/** An OCI image layout as a map of relative path → bytes, with compressed layer blobs. */
export function ociLayout(spec: ImageSpec, compress: 'gzip' | 'zstd' | 'none'): Map<string, Buffer> {
  const files = new Map<string, Buffer>();
  const blob = (b: Buffer): string => { const d = sha256(b); files.set('blobs/sha256/' + d.slice(7), b); return d; };
  const config = configFor(spec);
  const layerDescs = spec.layers.map((l) => {
    const c = compress === 'gzip' ? gzip(l) : compress === 'zstd' ? zstd(l) : l;
    const mt = 'application/vnd.oci.image.layer.v1.tar' + (compress === 'none' ? '' : '+' + compress);
    return { mediaType: mt, digest: blob(c), size: c.length };
  });
  const manifest = Buffer.from(JSON.stringify({
    schemaVersion: 2, mediaType: 'application/vnd.oci.image.manifest.v1+json',
    config: { mediaType: 'application/vnd.oci.image.config.v1+json', digest: blob(config), size: config.length },
    layers: layerDescs,
  }));
  const md = blob(manifest);
  files.set('oci-layout', Buffer.from('{"imageLayoutVersion":"1.0.0"}'));
  files.set('index.json', Buffer.from(JSON.stringify({
    schemaVersion: 2, mediaType: 'application/vnd.oci.image.index.v1+json',
    manifests: [{ mediaType: 'application/vnd.oci.image.manifest.v1+json', digest: md, size: manifest.length,
      annotations: { 'org.opencontainers.image.ref.name': spec.tag ?? 'latest' } }],
  })));
  return files;
}

/** Writes a map of relative path → bytes (e.g. ociLayout's) under dir. */
export function writeLayout(dir: string, files: Map<string, Buffer>): void {
  for (const [rel, b] of files) {
    mkdirSync(nodePath.dirname(nodePath.join(dir, rel)), { recursive: true });
    writeFileSync(nodePath.join(dir, rel), b);
  }
}

export async function tarOfFiles(files: Map<string, Buffer>): Promise<Buffer> {
  return makeTar([...files].map(([name, body]) => ({ name, body })));
}

/** Splits a buffer into small chunks, to exercise stream boundaries. */
export function* chunks(b: Buffer, size = 777): Generator<Buffer> {
  for (let i = 0; i < b.length; i += size) yield b.subarray(i, i + size);
}
