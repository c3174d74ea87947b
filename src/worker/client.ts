// Analysis through the worker thread, for a thread that must stay responsive (the extension host;
// the benchmark measures its event-loop delay through this same API). The worker (through the
// analysis process it starts: src/worker/analyzerChild.ts) reads, parses and merges; this side takes each layer's record (RecordIndex: the layer's table columns as views of
// the transferred buffer) and the image index the worker hands over (its columns transferred, not
// copied), so nothing is merged or decoded on this thread: the views make objects only for the rows
// they show. Partial analyses (the bottom
// layers read so far, merged by the worker) arrive while an archive file or OCI layout is read;
// an engine export tells its order only at its end.
// Plain Node: no vscode import.
import * as fs from 'node:fs';
import { Worker } from 'node:worker_threads';
import { analysisFromIndex, type Analysis } from '../core/image/analysis';
import { indexFromParts, type IndexParts } from '../core/image/index/transfer';
import type { LayerTable } from '../core/image/index/layerTable';
import { EMPTY_DIVE, type DiveEfficiency } from '../core/image/efficiency';
import { CancelledError, ImageFormatError, type FormatErrorCode } from '../core/image/errors';
import { RecordIndex } from '../core/image/indexCodec';
import type { PlatformWanted } from '../core/image/oci';
import type { ImageData } from '../core/image/types';
import { EngineError, type EngineEndpoint } from '../engine/types';
import type { RegistryOptions } from '../sources/registry/transport';
import type { DoneMessage, FromWorker, ToWorker } from './protocol';

export interface AnalysisProgress {
  /** Source bytes read so far, and the total when known. */
  bytes: number;
  total?: number;
  /** 0..1 when the total is known. */
  fraction?: number;
  layersRead: number;
  layersMerged: number;
  /** Known once the stack order is (archive files and layouts at once; engines at the end). */
  layersTotal?: number;
}

export interface WorkerAnalyzeOptions {
  endpoint?: EngineEndpoint;
  cacheDir?: string;
  platform?: PlatformWanted;
  /** How registry sources are reached (insecure hosts). */
  registry?: RegistryOptions;
  signal?: AbortSignal;
  onProgress?: (p: AnalysisProgress) => void;
  /** An analysis of the layers merged so far (dive's figures are zero until the end). */
  onPartial?: (a: Analysis, layersMerged: number, layersTotal: number) => void;
  /** Longest stretch of work on this thread before yielding to its event loop (default 8 ms). */
  sliceMs?: number;
  /** Least time between two partial analyses (default 400 ms). */
  partialEveryMs?: number;
  /** No partial analysis once this share of the source is read (default 0.8; 1: never skipped). */
  partialUntil?: number;
  /** Lines for the log: how the analysis runs (in the analysis process, or why in the worker thread). */
  onLog?: (line: string) => void;
}

export interface WorkerAnalysisStats {
  readMs: number;
  cacheHits: number;
  /** Time spent on this thread decoding and merging (sum of slices), and the longest slice. */
  mainThreadMs: number;
  longestSliceMs: number;
  /** Where the image was read and merged, with the analysis process's peak resident memory (KiB). */
  analyzer: DoneMessage['analyzer'];
}

/** Time slicing: run until the budget is used, then let the event loop turn. */
class Slicer {
  private start = performance.now();
  busyMs = 0;
  /** The longest stretch between two yields (ms). */
  longestMs = 0;
  constructor(private readonly budgetMs: number, private readonly signal?: AbortSignal) {}
  async maybeYield(): Promise<void> {
    const now = performance.now();
    if (now - this.start < this.budgetMs) return;
    this.busyMs += now - this.start;
    if (now - this.start > this.longestMs) this.longestMs = now - this.start;
    await new Promise<void>((r) => setImmediate(r));
    if (this.signal?.aborted) throw new CancelledError();
    this.start = performance.now();
  }
  idle(): void {
    const ran = performance.now() - this.start;
    this.busyMs += ran;
    if (ran > this.longestMs) this.longestMs = ran;
  }
  resume(): void {
    this.start = performance.now();
  }
}

function errorFrom(m: { name: string; message: string; code?: string }): Error {
  if (m.name === 'CancelledError') return new CancelledError();
  if (m.name === 'ImageFormatError') return new ImageFormatError((m.code ?? 'corrupt') as FormatErrorCode, m.message);
  if (m.name === 'EngineError') return new EngineError((m.code ?? 'unavailable') as EngineError['code'], m.message);
  const e = new Error(m.message);
  e.name = m.name;
  return e;
}

/**
 * `s.split('\0')` for a string of `count` parts (none when count is 0), a few thousand at a time
 * with the slicer's yields between: a big image's names are too many to split in one go on the
 * extension's thread. Null when the parts are not `count`.
 */
async function splitSliced(s: string, count: number, slicer: Slicer): Promise<string[] | null> {
  const out: string[] = [];
  if (count === 0) return s === '' ? out : null;
  let from = 0;
  for (;;) {
    const to = s.indexOf('\0', from);
    if (to < 0) { out.push(s.slice(from)); break; }
    out.push(s.slice(from, to));
    from = to + 1;
    if ((out.length & 4095) === 0) await slicer.maybeYield();
  }
  return out.length === count ? out : null;
}

/** The index's names and link targets as arrays, split in slices and counted (indexFromParts takes arrays as they are). */
async function splitParts(p: IndexParts, slicer: Slicer): Promise<IndexParts> {
  const names = typeof p.names === 'string' ? await splitSliced(p.names, p.nameCount, slicer) : p.names;
  const links = typeof p.links === 'string' ? await splitSliced(p.links, p.linkCount, slicer) : p.links;
  if (!names || !links) throw new Error('the analysis worker sent an image index whose strings do not match their counts');
  return { ...p, names, links };
}

async function unpackDive(m: DoneMessage, slicer: Slicer): Promise<DiveEfficiency> {
  if (m.ineffCount.length === 0) return m.dive;
  const paths = await splitSliced(m.ineffPaths, m.ineffCount.length, slicer);
  if (!paths) return m.dive;
  const inefficiencies: DiveEfficiency['inefficiencies'] = new Array(paths.length);
  for (let i = 0; i < paths.length; i++) {
    inefficiencies[i] = { path: paths[i], cumulative: m.ineffCumulative[i], count: m.ineffCount[i] };
    if ((i & 4095) === 4095) await slicer.maybeYield();
  }
  return { ...m.dive, inefficiencies };
}

export class AnalysisWorkerClient {
  private worker: Worker | undefined;
  private nextId = 1;
  private readonly listeners = new Map<number, (m: FromWorker | Error) => void>();

  /** `workerFile`: the bundled worker (dist/worker.js) or its compiled module. */
  constructor(private readonly workerFile: string) {}

  private ensure(): Worker {
    if (this.worker) return this.worker;
    // libuv starts its thread pool on the first request, from the requesting thread, and Linux
    // gives new threads that thread's nice value: ask first from here, so that the pool (file
    // system, zlib and crypto work for the whole process) never inherits the worker's lower priority.
    fs.stat(this.workerFile, () => undefined);
    const w = new Worker(this.workerFile);
    w.on('message', (m: FromWorker) => this.listeners.get(m.id)?.(m));
    const fail = (e: Error): void => {
      if (this.worker === w) this.worker = undefined;
      for (const l of [...this.listeners.values()]) l(e);
    };
    w.on('error', fail);
    w.on('exit', (code) => fail(new Error(`the analysis worker exited (code ${code})`)));
    this.worker = w;
    return w;
  }

  private send(m: ToWorker): void {
    this.ensure().postMessage(m);
  }

  analyze(source: string, opts: WorkerAnalyzeOptions = {}): Promise<Analysis> {
    return this.analyzeWithStats(source, opts).then((r) => r.analysis);
  }

  async analyzeWithStats(source: string, opts: WorkerAnalyzeOptions = {}): Promise<{ analysis: Analysis; stats: WorkerAnalysisStats }> {
    const id = this.nextId++;
    const signal = opts.signal;
    if (signal?.aborted) throw new CancelledError();
    const slicer = new Slicer(opts.sliceMs ?? 8, signal);
    let plan: { image: ImageData; keys: string[] } | undefined;
    let done: DoneMessage | undefined;
    let merged = 0;
    const inbox: FromWorker[] = [];
    let failure: Error | undefined;
    let wake: (() => void) | undefined;
    this.listeners.set(id, (m) => {
      if (m instanceof Error) failure = m;
      else if (m.type === 'progress') {
        opts.onProgress?.({
          bytes: m.bytes, total: m.total, fraction: m.total ? Math.min(0.99, m.bytes / m.total) : undefined,
          layersRead: m.layersRead, layersMerged: merged, layersTotal: keys()?.length,
        });
        return;
      } else if (m.type === 'log') {
        opts.onLog?.(m.line);
        return;
      } else inbox.push(m);
      const w = wake;
      wake = undefined;
      w?.();
    });
    const onAbort = (): void => {
      this.worker?.postMessage({ type: 'cancel', id } satisfies ToWorker);
      const w = wake;
      wake = undefined;
      w?.();
    };
    signal?.addEventListener('abort', onAbort, { once: true });

    const keys = (): string[] | undefined => done?.keys ?? plan?.keys;
    const meta = (): ImageData | undefined => done?.image ?? plan?.image;
    // Records as they came (kept encoded: RecordIndex), and the image index the worker merged.
    const records = new Map<string, RecordIndex | LayerTable>();
    const stack: Array<RecordIndex | LayerTable> = [];
    /** The index at stack position i, with its diffID as assembleArchive gives it. */
    const layerAt = (i: number): RecordIndex | LayerTable | undefined => {
      if (stack[i]) return stack[i];
      const l = records.get(keys()![i]);
      const diffId = meta()!.diffIds[i];
      if (!l) return undefined;
      const out = l.diffId === '' || l.diffId === diffId ? Object.assign(l, { diffId }) : l.with({ diffId });
      stack[i] = out;
      return out;
    };

    try {
      this.send({ type: 'analyze', id, source, endpoint: opts.endpoint, cacheDir: opts.cacheDir, platform: opts.platform, registry: opts.registry, partialEveryMs: opts.onPartial ? (opts.partialEveryMs ?? 400) : undefined, partialUntil: opts.partialUntil });
      this.worker?.ref();
      for (;;) {
        if (failure) throw failure;
        if (signal?.aborted) throw new CancelledError();
        const m = inbox.shift();
        if (!m) {
          slicer.idle();
          await new Promise<void>((r) => { wake = r; });
          slicer.resume();
          continue;
        }
        if (m.type === 'error') throw errorFrom(m);
        if (m.type === 'plan') plan = { image: m.image, keys: m.keys };
        else if (m.type === 'layer') records.set(m.key, new RecordIndex(Buffer.from(m.record), undefined, { trusted: true }));
        else if (m.type === 'partial' && !done && plan) {
          merged = m.layers;
          const layers = Array.from({ length: m.layers }, (_, i) => layerAt(i));
          if (layers.every((l) => l)) {
            const image: ImageData = { ...meta()!, layers: layers as Array<RecordIndex | LayerTable> };
            opts.onPartial?.(analysisFromIndex(image, indexFromParts(await splitParts(m.index, slicer)), EMPTY_DIVE), m.layers, plan.keys.length);
          }
        } else if (m.type === 'done') {
          done = m;
          break;
        }
        await slicer.maybeYield();
      }
      const fin = done as DoneMessage;
      const layers = fin.keys.map((_, i) => layerAt(i));
      const missing = layers.findIndex((l) => !l);
      if (missing >= 0) throw new Error(`the analysis worker sent no index for layer ${missing}`);
      const image: ImageData = { ...fin.image, layers: layers as Array<RecordIndex | LayerTable> };
      const index = indexFromParts(await splitParts(fin.index, slicer));
      const analysis = analysisFromIndex(image, index, await unpackDive(fin, slicer));
      merged = fin.keys.length;
      slicer.idle();
      return { analysis, stats: { readMs: fin.readMs, cacheHits: fin.cacheHits, analyzer: fin.analyzer, mainThreadMs: slicer.busyMs, longestSliceMs: slicer.longestMs } };
    } catch (e) {
      if (signal?.aborted) {
        onAbort();
        throw new CancelledError();
      }
      throw e;
    } finally {
      signal?.removeEventListener('abort', onAbort);
      this.listeners.delete(id);
      // An idle worker does not keep the process alive.
      if (this.listeners.size === 0) this.worker?.unref();
    }
  }

  dispose(): void {
    const w = this.worker;
    this.worker = undefined;
    void w?.terminate();
  }
}
