// Which image the editor is showing, and its analysis. One instance per activation; views,
// lenses and hovers read from it and listen to onDidChange. And ImageReaders: how every reader
// the extension opens is made (the analysis worker reads with the same cache directory).
import { existsSync } from 'node:fs';
import * as vscode from 'vscode';
import { analyze, type Analysis } from '../core/image/analysis';
import { formatBytes } from '../core/present/format';
import { CancelledError } from '../core/image/errors';
import { LayerIndexCache } from '../sources/indexCache';
import { loadImage, openImageSource, parseSource, type ImageSource, type SourceOptions, type SourceSpec } from '../sources/load';
import { AnalysisWorkerClient } from '../worker/client';
import type { EngineConnection } from './engine';

/**
 * How registry sources are reached: `layerLens.registry.insecureHosts` (machine-scoped, like the
 * engine host: a workspace cannot make Layer Lens use plain http), and `layerLens.registry.fullRead`.
 */
export function registrySettings(): SourceOptions['registry'] {
  const cfg = vscode.workspace.getConfiguration('layerLens');
  const info = cfg.inspect<string[]>('registry.insecureHosts');
  const hosts = info?.globalValue ?? info?.defaultValue ?? [];
  return {
    insecure: Array.isArray(hosts) ? hosts.filter((h): h is string => typeof h === 'string') : [],
    fullRead: cfg.get<boolean>('registry.fullRead') === true,
  };
}

/**
 * The one place the extension's image readers are made: every reader (file versions, secrets,
 * packages, Compare with Previous Build, registry images' quick views, the in-process analysis)
 * gets the same options: the layer index cache in global storage (the directory the analysis
 * worker reads and fills, one LayerIndexCache for this thread), the engine connection, the
 * registry settings as they are now, and digests checked. A file read from an image the analysis
 * read and checked is then not hashed again, while a file changed since (path, size, mtime,
 * inode) is read and checked.
 */
export class ImageReaders {
  /** The cache directory (global storage), for the analysis worker. */
  readonly cacheDir: string;
  private readonly cache: LayerIndexCache;

  constructor(private readonly engine: EngineConnection, cacheDir: string, log?: (line: string) => void) {
    this.cacheDir = cacheDir;
    this.cache = new LayerIndexCache(cacheDir, { log });
  }

  /** The options every reader gets; `platform` picks from an image index (a registry base image's). */
  options(extra: Pick<SourceOptions, 'platform'> = {}): SourceOptions {
    return { engine: async () => this.engine.get(), cache: this.cache, registry: registrySettings(), verify: true, ...extra };
  }

  /** The reader of a source. */
  open(spec: SourceSpec, extra?: Pick<SourceOptions, 'platform'>): ImageSource {
    return openImageSource(spec, this.options(extra));
  }
}

export interface ShownImage {
  /** The source string as the user or a build gave it (e.g. "myapp:dev", "oci:/x"). */
  source: string;
  analysis: Analysis;
  /** The Dockerfile this image was built from or matched to, when known. */
  dockerfile?: vscode.Uri;
  /** Set while the image is still being read: the analysis covers the first layersMerged layers. */
  partial?: { layersMerged: number; layersTotal: number };
  /**
   * The image is the Dockerfile's image of this stage (built as its own target), not the image
   * the Dockerfile built: index and remembered key (core/dockerfile/stageImages stageKey).
   */
  stage?: { index: number; key: string };
}

export interface ImageServiceOptions {
  /** The bundled analysis worker (dist/worker.js): reading and parsing run off the extension host. */
  workerFile?: string;
  /** How readers are made, and the persistent per-layer index cache's directory (global storage). */
  readers: ImageReaders;
}

export class ImageService implements vscode.Disposable {
  private readonly emitter = new vscode.EventEmitter<ShownImage | undefined>();
  readonly onDidChange = this.emitter.event;
  private shown: ShownImage | undefined;
  private readonly cache = new Map<string, Analysis>();
  private inflight: vscode.CancellationTokenSource | undefined;
  private readonly worker: AnalysisWorkerClient | undefined;

  constructor(
    private readonly engine: EngineConnection,
    private readonly log: (line: string) => void,
    private readonly state: vscode.Memento,
    private readonly options: ImageServiceOptions,
  ) {
    this.worker = options.workerFile && existsSync(options.workerFile) ? new AnalysisWorkerClient(options.workerFile) : undefined;
  }

  get current(): ShownImage | undefined {
    return this.shown;
  }

  /** Loads (or reuses) the analysis of `source` and makes it the shown image. */
  async show(source: string, opts: { dockerfile?: vscode.Uri; force?: boolean; stage?: ShownImage['stage'] } = {}): Promise<ShownImage | undefined> {
    this.inflight?.cancel();
    const cts = new vscode.CancellationTokenSource();
    this.inflight = cts;
    const before = this.shown?.partial ? undefined : this.shown;
    // Partial results: the views show the layers merged so far while the rest is read.
    const onPartial = (analysis: Analysis, layersMerged: number, layersTotal: number): void => {
      if (cts.token.isCancellationRequested) return;
      this.shown = { source, analysis, dockerfile: opts.dockerfile, partial: { layersMerged, layersTotal } };
      if (opts.stage) this.shown.stage = opts.stage;
      this.emitter.fire(this.shown);
    };
    let ok = false;
    try {
      const analysis = await this.analyze(source, cts.token, opts.force, onPartial);
      if (cts.token.isCancellationRequested) return undefined;
      ok = true;
      this.shown = { source, analysis, dockerfile: opts.dockerfile };
      if (opts.stage) this.shown.stage = opts.stage;
      // A stage image is remembered by the stage images' store, not as the Dockerfile's image.
      else if (opts.dockerfile) await this.state.update(`image:${opts.dockerfile.toString()}`, source);
      this.emitter.fire(this.shown);
      return this.shown;
    } finally {
      // A read that failed or was cancelled after partial results: show what was shown before.
      if (!ok && this.shown?.partial && this.shown.source === source) {
        this.shown = before;
        this.emitter.fire(this.shown);
      }
      if (this.inflight === cts) this.inflight = undefined;
      cts.dispose();
    }
  }

  /**
   * The analysis of `source` without showing it (cached like shown images; progress in a
   * notification): a second image to compare the shown one with.
   */
  async read(source: string, token?: vscode.CancellationToken): Promise<Analysis> {
    const cts = new vscode.CancellationTokenSource();
    const sub = token?.onCancellationRequested(() => cts.cancel());
    try {
      return await this.analyze(source, cts.token);
    } finally {
      sub?.dispose();
      cts.dispose();
    }
  }

  /** The image last shown or built for a Dockerfile (workspace state). */
  rememberedFor(dockerfile: vscode.Uri): string | undefined {
    return this.state.get<string>(`image:${dockerfile.toString()}`);
  }

  clear(): void {
    this.shown = undefined;
    this.emitter.fire(undefined);
  }

  private async analyze(
    source: string, token: vscode.CancellationToken, force?: boolean,
    onPartial?: (a: Analysis, layersMerged: number, layersTotal: number) => void,
  ): Promise<Analysis> {
    const spec: SourceSpec = await parseSource(source);
    const engine = spec.kind === 'engine' ? this.engine.get() : undefined;
    // Engine images are cached by id (a retag or rebuild changes what a name means).
    const key = engine && spec.kind === 'engine' ? (await engine.inspectImage(spec.name)).id : source;
    const hit = this.cache.get(key);
    if (hit && !force) return hit;
    const ac = new AbortController();
    const sub = token.onCancellationRequested(() => ac.abort());
    try {
      const analysis = await vscode.window.withProgress(
        { location: vscode.ProgressLocation.Notification, title: `Layer Lens: reading ${source}`, cancellable: true },
        async (progress, ptoken) => {
          const psub = ptoken.onCancellationRequested(() => ac.abort());
          let layers = 0;
          try {
            const t0 = Date.now();
            if (this.worker) {
              // Off the extension host's thread: the analysis process (or the worker thread) reads and merges; this thread takes the results in slices of ~8 ms.
              let pct = 0;
              const { analysis: a, stats } = await this.worker.analyzeWithStats(source, {
                signal: ac.signal,
                endpoint: engine?.endpoint,
                cacheDir: this.options.readers.cacheDir,
                registry: registrySettings(),
                onPartial,
                onLog: (line) => this.log(line),
                onProgress: (p) => {
                  const read = `${p.layersRead} layer(s) read`;
                  if (p.fraction === undefined) { progress.report({ message: `${formatBytes(p.bytes)}, ${read}` }); return; }
                  const now = Math.floor(p.fraction * 100);
                  progress.report({ increment: Math.max(0, now - pct), message: `${now} % · ${read}` });
                  pct = Math.max(pct, now);
                },
              });
              this.log(`analyzed ${source}: ${a.image.layers.length} layers in ${Date.now() - t0} ms (worker ${stats.readMs} ms, ${stats.cacheHits} layer(s) from the cache; this thread ${Math.round(stats.mainThreadMs)} ms in slices of at most ${Math.round(stats.longestSliceMs)} ms)${stats.analyzer.kind === 'process' ? `; analysis process peak RSS ${Math.round(stats.analyzer.peakRssKiB / 1024)} MiB` : '; in the worker thread'}`);
              return a;
            }
            const image = await loadImage(spec, {
              ...this.options.readers.options(),
              signal: ac.signal,
              onLayer: () => { layers++; progress.report({ message: `${layers} layer(s) read` }); },
            });
            const a = analyze(image);
            this.log(`analyzed ${source}: ${a.image.layers.length} layers in ${Date.now() - t0} ms`);
            return a;
          } finally {
            psub.dispose();
          }
        });
      this.cache.set(key, analysis);
      if (this.cache.size > 8) this.cache.delete(this.cache.keys().next().value as string);
      return analysis;
    } catch (e) {
      if (ac.signal.aborted) throw new CancelledError();
      throw e;
    } finally {
      sub.dispose();
    }
  }

  dispose(): void {
    this.inflight?.cancel();
    this.worker?.dispose();
    this.emitter.dispose();
  }
}
