// Which image the editor is showing, and its analysis. One instance per activation; views,
// lenses and hovers read from it and listen to onDidChange.
import * as vscode from 'vscode';
import { analyze, type Analysis } from '../core/analysis';
import { CancelledError } from '../core/errors';
import { loadImage, parseSource, type SourceSpec } from '../sources/load';
import type { EngineConnection } from './engine';

export interface ShownImage {
  /** The source string as the user or a build gave it (e.g. "myapp:dev", "oci:/x"). */
  source: string;
  analysis: Analysis;
  /** The Dockerfile this image was built from or matched to, when known. */
  dockerfile?: vscode.Uri;
}

export class ImageService implements vscode.Disposable {
  private readonly emitter = new vscode.EventEmitter<ShownImage | undefined>();
  readonly onDidChange = this.emitter.event;
  private shown: ShownImage | undefined;
  private readonly cache = new Map<string, Analysis>();
  private inflight: vscode.CancellationTokenSource | undefined;

  constructor(
    private readonly engine: EngineConnection,
    private readonly log: (line: string) => void,
    private readonly state: vscode.Memento,
  ) {}

  get current(): ShownImage | undefined {
    return this.shown;
  }

  /** Loads (or reuses) the analysis of `source` and makes it the shown image. */
  async show(source: string, opts: { dockerfile?: vscode.Uri; force?: boolean } = {}): Promise<ShownImage | undefined> {
    this.inflight?.cancel();
    const cts = new vscode.CancellationTokenSource();
    this.inflight = cts;
    try {
      const analysis = await this.analyse(source, cts.token, opts.force);
      if (cts.token.isCancellationRequested) return undefined;
      this.shown = { source, analysis, dockerfile: opts.dockerfile };
      if (opts.dockerfile) await this.state.update(`image:${opts.dockerfile.toString()}`, source);
      this.emitter.fire(this.shown);
      return this.shown;
    } finally {
      if (this.inflight === cts) this.inflight = undefined;
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

  private async analyse(source: string, token: vscode.CancellationToken, force?: boolean): Promise<Analysis> {
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
            const image = await loadImage(spec, {
              signal: ac.signal,
              engine: async () => engine!,
              onLayer: () => { layers++; progress.report({ message: `${layers} layer(s) read` }); },
            });
            const a = analyze(image);
            this.log(`analysed ${source}: ${a.image.layers.length} layers in ${Date.now() - t0} ms`);
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
    this.emitter.dispose();
  }
}
