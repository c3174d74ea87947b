// The OCI distribution API (Docker Registry HTTP API v2) for reading one image: its manifest
// (Docker schema 2 or OCI; an image index or manifest list resolved to one platform), its config,
// and its blobs as streams. Every document is checked against the digest it is read by (a manifest
// read by tag against the Docker-Content-Digest the registry names it by); every blob as it
// streams, against its digest and size. A blob whose connection drops is resumed from the byte
// reached with a Range request (a registry that ignores Range is read again from the start, the
// bytes already passed skipped), up to the transport's retries.
import { createHash } from 'node:crypto';
import { CancelledError } from '../../core/image/errors';
import { MEDIA, checkDigest, isDigest, parseJson, refuseArtifact, resolveOciIndex, type Descriptor, type PlatformWanted } from '../../core/image/oci';
import { manifestRef, type RegistryRef } from './reference';
import { RegistryError, RegistryTransport, isRetryableNetworkError, readBody, type RegistryOptions } from './transport';

export const MANIFEST_ACCEPT = [MEDIA.ociIndex, MEDIA.ociManifest, MEDIA.dockerList, MEDIA.dockerManifest].join(', ');
const MAX_MANIFEST = 4 * 1024 * 1024;
const MAX_CONFIG = 16 * 1024 * 1024;

/** One image as the registry describes it, before any layer is read. */
export interface RemoteImage {
  /** The digest of the image manifest (for an index: of the platform's manifest). */
  manifestDigest: string;
  configDigest: string;
  configBuf: Buffer;
  layers: Descriptor[];
  /** The reference named an image index, resolved to one platform's manifest. */
  fromIndex: boolean;
}

/** A stream's end came before the blob's size: resumed like a dropped connection. */
class ShortBody extends Error {
  constructor(got: number) {
    super(`the connection ended after ${got} bytes`);
  }
}

export class RegistryClient {
  readonly transport: RegistryTransport;

  constructor(readonly ref: RegistryRef, opts: RegistryOptions = {}) {
    this.transport = new RegistryTransport(ref, opts);
  }

  private get what(): string {
    return `registry ${this.ref.host}`;
  }

  close(): void {
    this.transport.close();
  }

  /** A manifest or index by tag or digest: its bytes, checked against its digest. */
  async manifest(reference: string, signal?: AbortSignal): Promise<{ buf: Buffer; digest: string }> {
    const res = await this.transport.request(`/v2/${this.ref.repo}/manifests/${reference}`, { accept: MANIFEST_ACCEPT, signal });
    if (res.statusCode === 404) {
      res.resume();
      throw new RegistryError('not-found', `${this.what}: ${this.ref.repo}${isDigest(reference) ? '@' : ':'}${reference} not found`);
    }
    const type = String(res.headers['content-type'] ?? '').split(';')[0].trim();
    const buf = await readBody(res, MAX_MANIFEST, `the manifest of ${this.ref.repo}:${reference}`);
    if (/^application\/vnd\.docker\.distribution\.manifest\.v1\+/.test(type)) {
      throw new RegistryError('protocol', `${this.what}: ${this.ref.repo}:${reference} has only a Docker schema 1 manifest, which Layer Lens does not read (push it again with a current docker or skopeo)`);
    }
    const named = isDigest(reference) ? reference : String(res.headers['docker-content-digest'] ?? '');
    if (isDigest(named)) {
      try {
        checkDigest(buf, named, `the manifest ${named}`);
      } catch {
        throw new RegistryError('digest', `${this.what}: the manifest of ${this.ref.repo}:${reference} does not match its digest ${named}`);
      }
    }
    return { buf, digest: named && isDigest(named) ? named : createDigest(buf) };
  }

  /** The image the reference names, for `platform` (default: this machine's) when it is an index. */
  async resolve(platform: PlatformWanted | undefined, signal?: AbortSignal): Promise<RemoteImage> {
    const top = await this.manifest(manifestRef(this.ref), signal);
    const doc = parseJson<{ mediaType?: string; manifests?: Descriptor[]; config?: Descriptor; layers?: Descriptor[]; schemaVersion?: number }>(top.buf, `the manifest of ${this.ref.repo}`);
    let manifestDigest = top.digest;
    let config: Descriptor | undefined;
    let layers: Descriptor[] | undefined;
    if (Array.isArray(doc.manifests)) {
      const r = await resolveOciIndex(doc, async (d) => (await this.manifest(d, signal)).buf, { platform, checkDigests: true });
      manifestDigest = r.manifestDigest;
      config = { digest: r.configDigest };
      layers = r.layers;
    } else {
      config = doc.config;
      layers = doc.layers;
      if (config && typeof config === 'object') refuseArtifact(config, `${this.ref.repo}: the manifest ${manifestDigest}`);
    }
    if (!config || typeof config.digest !== 'string' || !isDigest(config.digest) || !Array.isArray(layers) || !layers.every((l) => l && typeof l.digest === 'string' && isDigest(l.digest))) {
      throw new RegistryError('protocol', `${this.what}: the manifest of ${this.ref.repo} has no config or layers with sha256 digests`);
    }
    const configBuf = await this.blobBuffer(config.digest, MAX_CONFIG, 'the image config', signal);
    return { manifestDigest, configDigest: config.digest, configBuf, layers, fromIndex: Array.isArray(doc.manifests) };
  }

  /** A small blob (the config) whole, checked against its digest. */
  async blobBuffer(digest: string, max: number, what: string, signal?: AbortSignal): Promise<Buffer> {
    const parts: Buffer[] = [];
    let n = 0;
    for await (const c of this.blob(digest, undefined, what, signal)) {
      n += c.length;
      if (n > max) throw new RegistryError('protocol', `${this.what}: ${what} is larger than ${max} bytes`);
      parts.push(c);
    }
    return Buffer.concat(parts);
  }

  /**
   * Bytes `start`..`end` (included) of a blob, with Range requests: a connection that drops is
   * resumed from the byte reached, up to the transport's retries. A registry that answers with the
   * whole blob (it ignores Range) is not read: `{ ignored: true }`, and the caller reads the blob.
   * The bytes are not checked here (a part of a blob has no digest of its own): the caller checks
   * what they hold.
   */
  async blobRange(digest: string, start: number, end: number, label: string, signal?: AbortSignal): Promise<RangeRead> {
    const parts: Buffer[] = [];
    let at = start;
    let resumes = 0;
    while (at <= end) {
      const res = await this.transport.request(`/v2/${this.ref.repo}/blobs/${digest}`, { rangeFrom: at, rangeTo: end, signal });
      this.transport.stats.rangeRequests++;
      if (res.statusCode === 404) {
        res.resume();
        throw new RegistryError('not-found', `${this.what}: ${label} (blob ${digest}) of ${this.ref.repo} not found`);
      }
      if (res.statusCode !== 206) {
        res.destroy();
        return { ignored: true };
      }
      const m = /^bytes (\d+)-(\d+)\//.exec(String(res.headers['content-range'] ?? ''));
      if (!m || Number(m[1]) !== at || Number(m[2]) > end) {
        res.destroy();
        throw new RegistryError('protocol', `${this.what} answered a Range request for ${label} (bytes ${at}-${end}) with '${String(res.headers['content-range'] ?? '')}'`);
      }
      try {
        for await (const c of res as AsyncIterable<Buffer>) {
          if (at + c.length > end + 1) {
            res.destroy();
            throw new RegistryError('protocol', `${this.what} sent more than the ${end - start + 1} bytes asked for ${label}`);
          }
          parts.push(c);
          at += c.length;
          this.transport.stats.rangeBytes += c.length;
        }
        if (at <= end) throw new ShortBody(at - start);
      } catch (e) {
        if (signal?.aborted) throw new CancelledError();
        if (!(e instanceof ShortBody) && !isRetryableNetworkError(e)) throw e;
        res.destroy();
        if (resumes >= this.transport.retries) {
          throw new RegistryError('unreachable', `${this.what}: ${label} (blob ${digest}, bytes ${start}-${end}) broke off after ${at - start} bytes, ${resumes} times resumed: ${(e as Error).message}`);
        }
        resumes++;
        this.transport.stats.resumes++;
        await new Promise((r) => setTimeout(r, this.transport.backoff(resumes)));
      }
    }
    return { bytes: Buffer.concat(parts) };
  }

  /**
   * A blob's bytes as they arrive, hashed as they pass: the iteration throws at its end when they
   * do not hash to `digest` (or are not `size` bytes), so act on them only once it has ended.
   */
  async *blob(digest: string, size: number | undefined, label: string, signal?: AbortSignal): AsyncGenerator<Buffer> {
    const hash = createHash('sha256');
    let got = 0;
    let resumes = 0;
    for (;;) {
      const res = await this.transport.request(`/v2/${this.ref.repo}/blobs/${digest}`, { rangeFrom: got, signal });
      if (res.statusCode === 404) {
        res.resume();
        throw new RegistryError('not-found', `${this.what}: ${label} (blob ${digest}) of ${this.ref.repo} not found`);
      }
      // A registry that ignores Range sends the whole blob again: skip what was read.
      let skip = got > 0 && res.statusCode === 200 ? got : 0;
      if (got > 0 && res.statusCode === 206) {
        const m = /^bytes (\d+)-/.exec(String(res.headers['content-range'] ?? ''));
        if (!m || Number(m[1]) !== got) {
          res.destroy();
          throw new RegistryError('protocol', `${this.what} answered a Range request for ${label} from ${got} with '${String(res.headers['content-range'] ?? '')}'`);
        }
      }
      try {
        for await (const chunk of res as AsyncIterable<Buffer>) {
          let c = chunk;
          if (skip > 0) {
            if (c.length <= skip) { skip -= c.length; continue; }
            c = c.subarray(skip);
            skip = 0;
          }
          got += c.length;
          if (size !== undefined && got > size) {
            res.destroy();
            throw new RegistryError('digest', `${this.what}: ${label} (blob ${digest}) is longer than the ${size} bytes its manifest names`);
          }
          hash.update(c);
          yield c;
        }
        if (size !== undefined && got < size) throw new ShortBody(got);
        break;
      } catch (e) {
        if (signal?.aborted) throw new CancelledError();
        if (!(e instanceof ShortBody) && !isRetryableNetworkError(e)) throw e;
        res.destroy();
        if (resumes >= this.transport.retries) {
          throw new RegistryError('unreachable', `${this.what}: ${label} (blob ${digest}) broke off after ${got} bytes, ${resumes} times resumed: ${(e as Error).message}`);
        }
        resumes++;
        this.transport.stats.resumes++;
        await new Promise((r) => setTimeout(r, this.transport.backoff(resumes)));
      }
    }
    const d = 'sha256:' + hash.digest('hex');
    if (d !== digest) {
      throw new RegistryError('digest', `${this.what}: ${label} does not match its digest ${digest}: its bytes hash to ${d}`);
    }
  }
}

/** A part of a blob read with a Range request: its bytes, or `ignored` when the registry sent it whole. */
export type RangeRead = { bytes: Buffer } | { ignored: true };

function createDigest(buf: Buffer): string {
  return 'sha256:' + createHash('sha256').update(buf).digest('hex');
}
