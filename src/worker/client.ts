// Analysis through the worker thread, for a thread that must stay responsive (the extension host;
// the benchmark measures its event-loop delay through this same API). The worker reads and parses;
// this side keeps each layer's index record encoded (RecordIndex) and merges its entries into the
// MergedTree as it decodes them, one slice of a few milliseconds per turn of the event loop, in
// stack order as soon as the order is known (archive files and OCI layouts tell it up front; an
// engine export only at its end), reporting progress and partial analyses. Only the merged tree
// stays on this thread's heap: its garbage collections are what can still pause it.
// Plain Node: no vscode import.
import * as fs from 'node:fs';
import { Worker } from 'node:worker_threads';
import { analysisOf, type Analysis } from '../core/image/analysis';
import { EMPTY_DIVE, type DiveEfficiency } from '../core/image/efficiency';
import { CancelledError, ImageFormatError, type FormatErrorCode } from '../core/image/errors';
import { RecordIndex } from '../core/image/indexCodec';
import { MergedTree } from '../core/image/merge';
import type { PlatformWanted } from '../core/image/oci';
import type { ImageData } from '../core/image/types';
import { EngineError, type EngineEndpoint } from '../engine/types';
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
  signal?: AbortSignal;
  onProgress?: (p: AnalysisProgress) => void;
  /** An analysis of the layers merged so far (dive's figures are zero until the end). */
  onPartial?: (a: Analysis, layersMerged: number, layersTotal: number) => void;
  /** Longest stretch of work on this thread before yielding to its event loop (default 8 ms). */
  sliceMs?: number;
  /** Least time between two partial analyses (default 400 ms). */
  partialEveryMs?: number;
}

export interface WorkerAnalysisStats {
  readMs: number;
  cacheHits: number;
  /** Time spent on this thread decoding and merging (sum of slices), and the longest slice. */
  mainThreadMs: number;
  longestSliceMs: number;
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
  /** Runs a step generator in slices. */
  async run<T>(g: Generator<void, T>): Promise<T> {
    for (;;) {
      const r = g.next();
      if (r.done) return r.value;
      await this.maybeYield();
    }
  }
  idle(): void {
    this.busyMs += performance.now() - this.start;
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

function unpackDive(m: DoneMessage): DiveEfficiency {
  if (m.ineffCount.length === 0) return m.dive;
  const paths = m.ineffPaths.split('\0');
  if (paths.length !== m.ineffCount.length) return m.dive;
  return { ...m.dive, inefficiencies: paths.map((path, i) => ({ path, cumulative: m.ineffCumulative[i], count: m.ineffCount[i] })) };
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
    // Records as they came: the merge decodes each layer's entries one at a time, and the analysis
    // keeps them encoded (RecordIndex), so this thread's heap holds the merged tree and little else.
    const records = new Map<string, RecordIndex>();
    const stack: RecordIndex[] = [];
    const tree = new MergedTree();
    let lastPartial = 0;
    /** The index at stack position i, with its diffID as assembleArchive gives it. */
    const layerAt = (i: number): RecordIndex | undefined => {
      if (stack[i]) return stack[i];
      const l = records.get(keys()![i]);
      const diffId = meta()!.diffIds[i];
      if (!l) return undefined;
      const out = l.diffId === '' || l.diffId === diffId ? Object.assign(l, { diffId }) : l.with({ diffId });
      stack[i] = out;
      return out;
    };

    try {
      this.send({ type: 'analyze', id, source, endpoint: opts.endpoint, cacheDir: opts.cacheDir, platform: opts.platform });
      this.worker?.ref();
      for (;;) {
        if (failure) throw failure;
        if (signal?.aborted) throw new CancelledError();
        const m = inbox.shift();
        if (m) {
          if (m.type === 'error') throw errorFrom(m);
          if (m.type === 'plan') plan = { image: m.image, keys: m.keys };
          else if (m.type === 'done') done = m;
          else if (m.type === 'layer') records.set(m.key, new RecordIndex(Buffer.from(m.record)));
          await slicer.maybeYield();
          continue;
        }
        const ks = keys();
        if (ks && merged < ks.length) {
          const layer = layerAt(merged);
          if (layer) {
            await slicer.run(tree.addLayerSteps(layer, 32, layer.iterEntries()));
            merged++;
            const now = performance.now();
            if (opts.onPartial && !done && merged < ks.length && now - lastPartial >= (opts.partialEveryMs ?? 400)) {
              await slicer.run(tree.refreshSteps(512));
              const image: ImageData = { ...meta()!, layers: stack.slice(0, merged) };
              opts.onPartial(analysisOf(image, tree, [], EMPTY_DIVE), merged, ks.length);
              lastPartial = performance.now();
            }
            continue;
          }
          if (done) throw new Error(`the analysis worker sent no index for layer ${merged}`);
        } else if (done && ks && merged === ks.length) {
          break;
        }
        slicer.idle();
        await new Promise<void>((r) => { wake = r; });
        // A message wakes this loop from the poll phase; a slice begun there would be followed by
        // another in the same turn's check phase (setImmediate), with no timer run in between.
        // Starting from the check phase keeps it to one slice per turn of the event loop.
        await new Promise<void>((r) => setImmediate(r));
        slicer.resume();
      }
      const fin = done as DoneMessage;
      const { warnings } = await slicer.run(tree.finishSteps(512));
      const image: ImageData = { ...fin.image, layers: fin.keys.map((_, i) => layerAt(i)!) };
      const analysis = analysisOf(image, tree, warnings, unpackDive(fin));
      slicer.idle();
      return { analysis, stats: { readMs: fin.readMs, cacheHits: fin.cacheHits, mainThreadMs: slicer.busyMs, longestSliceMs: slicer.longestMs } };
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
