// Indexes compressed layer blobs on worker threads (src/worker/blobWorker.ts), a few at a time. One
// zlib or zstd stream keeps one core busy; a compressed OCI layout has several layers, so reading
// them side by side uses every core, and each worker's heap holds only the layer it is reading
// (the analyzing thread is not slowed by the garbage of 1 GB of decompressed chunks). Results come
// back as indexCodec records and are checked on decoding like a cache entry. The same workers hash
// layers beside the caller's own reading (src/sources/digests.ts): a layer's digests are checked
// while its headers are walked, not after.
import { existsSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import * as nodePath from 'node:path';
import { Worker } from 'node:worker_threads';
import { CancelledError, ImageFormatError, type FormatErrorCode } from '../core/image/errors';
import { decodeIndex } from '../core/image/indexCodec';
import type { LayerDigests } from '../core/image/tar/layerRead';
import type { LayerIndex } from '../core/image/types';

/**
 * One job for a layer-blob worker (src/worker/blobWorker.ts), and its answer: index a blob file
 * (and, with `digests`, hash it as it is read), or hash a byte range of a file (a layer blob
 * there: its digests as stored and, decompressed, as a tar).
 */
export type BlobJob =
  | { kind: 'index'; id: number; path: string; label: string; diffId: string; maxEntries?: number; digests?: boolean }
  | { kind: 'digest'; id: number; path: string; label: string; offset: number; size: number };
export type BlobResult =
  | { id: number; ok: true; record?: ArrayBuffer; digests?: LayerDigests }
  | { id: number; ok: false; message: string; code?: string };

/** The worker script: next to the bundle (dist/blobworker.js), or the tsc output's layout (out/src/worker). */
export function blobWorkerScript(): string | undefined {
  for (const p of [nodePath.join(__dirname, 'blobworker.js'), nodePath.join(__dirname, '..', 'worker', 'blobWorker.js')]) {
    if (existsSync(p)) return p;
  }
  return undefined;
}

/**
 * How many workers to start for `blobs` compressed blobs not in the cache, of `bytes` in all: none
 * (read in-process) for one blob or a small layout, else one per core, at most one per blob.
 * LAYERLENS_BLOB_WORKERS overrides the count (0: always in-process).
 */
export function blobWorkerCount(blobs: number, bytes: number, env: NodeJS.ProcessEnv = process.env): number {
  const forced = env.LAYERLENS_BLOB_WORKERS;
  if (forced !== undefined && forced !== '' && Number.isInteger(Number(forced))) return Math.max(0, Math.min(Number(forced), blobs));
  if (blobs < 2 || bytes < 16 * 1024 * 1024) return 0;
  return Math.min(blobs, Math.max(1, Math.min(availableParallelism(), 8)));
}

type Done = Extract<BlobResult, { ok: true }>;
interface Pending { job: BlobJob; resolve: (r: Done) => void; reject: (e: Error) => void }
type JobOf<K extends BlobJob['kind']> = Omit<Extract<BlobJob, { kind: K }>, 'id' | 'kind'>;

export class BlobIndexPool {
  private readonly idle: Worker[] = [];
  private readonly all: Worker[] = [];
  private readonly queue: Pending[] = [];
  private readonly running = new Map<Worker, Pending>();
  private nextId = 1;
  private closed: Error | null = null;

  constructor(size: number, script: string, private readonly signal?: AbortSignal) {
    for (let i = 0; i < size; i++) {
      const w = new Worker(script);
      w.on('message', (r: BlobResult) => this.done(w, r));
      w.on('error', (e) => this.crashed(w, e));
      w.on('exit', (code) => { if (!this.closed) this.crashed(w, new Error(`the layer worker exited (code ${code})`)); });
      // An idle worker does not keep the process alive.
      w.unref();
      this.all.push(w);
      this.idle.push(w);
    }
    signal?.addEventListener('abort', this.onAbort, { once: true });
  }

  private readonly onAbort = (): void => this.close(new CancelledError());

  /** Indexes a blob file on a worker; the promise settles with the index or the reader's error. */
  async index(path: string, opts: { label: string; diffId: string; maxEntries?: number }): Promise<LayerIndex> {
    return (await this.indexHashed(path, opts)).layer;
  }

  /** index(), and with `digests` the blob's digests, computed as it is read (compressed blobs only). */
  async indexHashed(path: string, opts: Omit<JobOf<'index'>, 'path'>): Promise<{ layer: LayerIndex; digests?: LayerDigests }> {
    const r = await this.submit({ kind: 'index', id: 0, path, ...opts });
    if (!r.record) throw new Error(`${opts.label}: the layer worker sent no index`);
    return { layer: decodeIndex(Buffer.from(r.record), opts.diffId).index, digests: r.digests };
  }

  /** The digests of the layer blob in [offset, offset+size) of a file, hashed on a worker. */
  async digest(job: JobOf<'digest'>): Promise<LayerDigests> {
    const r = await this.submit({ kind: 'digest', id: 0, ...job });
    if (!r.digests) throw new Error(`${job.label}: the layer worker sent no digests`);
    return r.digests;
  }

  private submit(job: BlobJob): Promise<Done> {
    if (this.closed) return Promise.reject(this.closed);
    return new Promise<Done>((resolve, reject) => {
      this.queue.push({ job: { ...job, id: this.nextId++ }, resolve, reject });
      this.pump();
    });
  }

  private pump(): void {
    while (this.idle.length && this.queue.length) {
      const w = this.idle.pop()!;
      const p = this.queue.shift()!;
      this.running.set(w, p);
      w.ref();
      w.postMessage(p.job);
    }
  }

  private done(w: Worker, r: BlobResult): void {
    const p = this.running.get(w);
    if (!p || p.job.id !== r.id) return;
    this.running.delete(w);
    w.unref();
    this.idle.push(w);
    if (r.ok) {
      p.resolve(r);
    } else {
      p.reject(r.code ? new ImageFormatError(r.code as FormatErrorCode, r.message) : new Error(r.message));
    }
    this.pump();
  }

  private crashed(w: Worker, e: Error): void {
    const p = this.running.get(w);
    this.running.delete(w);
    const i = this.idle.indexOf(w);
    if (i >= 0) this.idle.splice(i, 1);
    const k = this.all.indexOf(w);
    if (k >= 0) this.all.splice(k, 1);
    p?.reject(new Error(`${p.job.label}: the layer worker failed: ${e.message}`));
    if (this.all.length === 0) this.close(new Error(`the layer workers failed: ${e.message}`));
  }

  /** Stops every worker; queued and running jobs reject with `reason`. */
  close(reason: Error = new Error('the layer worker pool was closed')): void {
    if (this.closed) return;
    this.closed = reason;
    this.signal?.removeEventListener('abort', this.onAbort);
    for (const p of [...this.running.values(), ...this.queue]) p.reject(reason);
    this.running.clear();
    this.queue.length = 0;
    for (const w of this.all) void w.terminate();
  }
}
