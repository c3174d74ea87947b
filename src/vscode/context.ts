// The extension's context: its services, built once per activation in the order they need each
// other and handed to each other through their constructors. Every contribution gets this object.
//
// Two disposal scopes: the extension's (this object: the services and every contribution's
// disposables, disposed with the extension) and, inside it, the engine scope (engineScope.ts: the
// engine's event stream, the Dockerfile → image resolutions, the history prefetch). Engine work
// starts lazily: the engine scope is created with the first Dockerfile opened or the first Layers
// view shown (or the first use of `dockerfiles`), not at activation, and is disposed and created
// again as one unit when `layerLens.engine.*` changes.
import * as vscode from 'vscode';
import { BuildStore } from '../sources/buildStore';
import { HistoryCache } from '../sources/historyCache';
import { cliCacheRoot } from '../sources/indexCache';
import { BuildRecords } from './build/records';
import { StageImageStore } from './build/stageStore';
import type { DockerfileImages } from './dockerfileImages';
import { EngineConnection } from './engine';
import { EngineScope } from './engineScope';
import { ImageReaders, ImageService } from './imageService';

export class LayerLensContext implements vscode.Disposable {
  readonly output: vscode.OutputChannel;
  readonly log: (line: string) => void;
  readonly engine: EngineConnection;
  /** Every image reader the extension opens, with the same options (cache, engine, registry, verify). */
  readonly readers: ImageReaders;
  /** The image the views show, and its analysis. */
  readonly images: ImageService;
  /** The builds of each Dockerfile, and what the next build will do (the build store, shared with the CLI). */
  readonly builds: BuildRecords;
  /** The images built for single stages of each Dockerfile (workspace state). */
  readonly stageStore: StageImageStore;
  /** Image histories by id, in global storage (engine-independent: an id's history never changes). */
  private readonly histories: HistoryCache;
  private readonly dockerfilesChanged = new vscode.EventEmitter<void>();
  /** The Dockerfile → image resolutions were dropped: lenses, the status bar and views recompute. */
  readonly onDidChangeDockerfiles = this.dockerfilesChanged.event;
  /** What is disposed with the extension, in reverse order: the services, then what contributions add. */
  private readonly subscriptions: vscode.Disposable[] = [];
  private engineScope: EngineScope | undefined;
  private waitForDockerfile: vscode.Disposable | undefined;

  constructor(extension: vscode.ExtensionContext) {
    this.output = vscode.window.createOutputChannel('Layer Lens');
    this.log = (line) => this.output.appendLine(`[${new Date().toISOString().slice(11, 23)}] ${line}`);
    // LAYERLENS_DEBUG: every stall of this thread's event loop over 30 ms, logged as it ends (whoever
    // caused it: Layer Lens, another extension, garbage collection, the machine).
    if (process.env.LAYERLENS_DEBUG) {
      let last = performance.now();
      const timer = setInterval(() => {
        const now = performance.now();
        if (now - last > 30) this.log(`event loop blocked for ${Math.round(now - last)} ms`);
        last = now;
      }, 5);
      this.subscriptions.push({ dispose: () => clearInterval(timer) });
    }
    this.engine = new EngineConnection(this.log);
    // Layer indexes are cached in global storage, for the analysis and every file read alike.
    this.readers = new ImageReaders(this.engine, vscode.Uri.joinPath(extension.globalStorageUri, 'layer-index-cache').fsPath, this.log);
    // Analysis runs in a worker thread (dist/worker.js).
    this.images = new ImageService(this.engine, this.log, extension.workspaceState, {
      workerFile: vscode.Uri.joinPath(extension.extensionUri, 'dist', 'worker.js').fsPath,
      readers: this.readers,
    });
    // Build records live in the CLI's cache directory (~/.cache/layerlens…), so that `layerlens
    // build` and `layerlens lines` in a terminal and the lenses share them; global storage when
    // LAYERLENS_CACHE turns that directory off.
    this.builds = new BuildRecords(new BuildStore(cliCacheRoot(process.env) ?? extension.globalStorageUri.fsPath, this.log), this.log, () => this.engine.get());
    this.stageStore = new StageImageStore(extension.workspaceState);
    this.histories = new HistoryCache(vscode.Uri.joinPath(extension.globalStorageUri, 'image-history-cache').fsPath, { log: this.log });
    this.subscriptions.push(
      this.output, this.engine, this.images, this.builds, this.dockerfilesChanged,
      vscode.workspace.onDidChangeConfiguration((e) => {
        if (e.affectsConfiguration('layerLens.engine')) this.restartEngine();
        else if (e.affectsConfiguration('layerLens')) this.invalidateDockerfiles();
      }),
    );
    const isDockerfile = (d: vscode.TextDocument): boolean => d.languageId === 'dockerfile';
    if (vscode.workspace.textDocuments.some(isDockerfile)) this.start();
    else this.waitForDockerfile = vscode.workspace.onDidOpenTextDocument((d) => { if (isDockerfile(d)) this.start(); });
  }

  /** Which image each Dockerfile built, with its lines' sizes and cache status (starts the engine scope). */
  get dockerfiles(): DockerfileImages {
    return this.start().dockerfiles;
  }

  /** Starts engine work (the event stream, the history prefetch) unless it runs already. */
  start(): EngineScope {
    this.waitForDockerfile?.dispose();
    this.waitForDockerfile = undefined;
    this.engineScope ??= new EngineScope({
      engine: this.engine, images: this.images, readers: this.readers, builds: this.builds, stageStore: this.stageStore,
      histories: this.histories, log: this.log,
      changed: () => this.dockerfilesChanged.fire(),
      onDidChangeDockerfiles: this.onDidChangeDockerfiles,
    });
    return this.engineScope;
  }

  /** Drops the Dockerfile → image resolutions (when engine work runs) and tells lenses and views. */
  invalidateDockerfiles(): void {
    if (this.engineScope) this.engineScope.dockerfiles.invalidate();
    else this.dockerfilesChanged.fire();
  }

  /** Another engine: a new client, and a new engine scope when one ran. */
  restartEngine(): void {
    const running = this.engineScope !== undefined;
    this.engineScope?.dispose();
    this.engineScope = undefined;
    this.engine.reset();
    // The base image ids known were the previous engine's.
    this.builds.refreshBaseImages();
    if (running) this.start();
    this.dockerfilesChanged.fire();
  }

  /** Disposed with the extension (after the engine scope), last added first. */
  own(...disposables: vscode.Disposable[]): void {
    this.subscriptions.push(...disposables);
  }

  dispose(): void {
    this.waitForDockerfile?.dispose();
    this.engineScope?.dispose();
    this.engineScope = undefined;
    for (const d of this.subscriptions.splice(0).reverse()) {
      try {
        d.dispose();
      } catch (e) {
        this.log(`dispose: ${(e as Error)?.message ?? String(e)}`);
      }
    }
  }
}
