// The engine scope: everything that holds on to the engine Layer Lens talks to. It follows the
// engine's event stream, keeps the Dockerfile → image resolutions (DockerfileImages) and reads the
// newest images' histories in the background a moment after it starts and after image changes.
// The context (context.ts) creates it on first need (a Dockerfile opened, the Layers view shown)
// and, when `layerLens.engine.*` changes, disposes it and creates it again as one unit.
import type * as vscode from 'vscode';
import { DockerfileImages, type DockerfileImagesDeps } from './dockerfileImages';
import { watchEngineEvents } from './events';

export interface EngineScopeDeps extends DockerfileImagesDeps {
  /** Fires when the resolutions were dropped (whoever dropped them): the prefetch runs again. */
  onDidChangeDockerfiles: vscode.Event<void>;
}

/** Milliseconds from the scope's start, and from an image change, to the history prefetch. */
const PREFETCH_AFTER_START_MS = 1500;
const PREFETCH_AFTER_CHANGE_MS = 3000;

export class EngineScope implements vscode.Disposable {
  readonly dockerfiles: DockerfileImages;
  private readonly subscriptions: vscode.Disposable[] = [];
  private readonly prefetchAbort = new AbortController();
  private prefetchTimer: NodeJS.Timeout | undefined;

  constructor(deps: EngineScopeDeps) {
    this.dockerfiles = new DockerfileImages(deps);
    this.subscriptions.push(
      watchEngineEvents({
        client: () => deps.engine.get(),
        log: deps.log,
        onStale: () => {
          this.dockerfiles.invalidate();
          // A FROM tag may name another image now: cache predictions compare base image ids.
          deps.builds.refreshBaseImages();
        },
      }),
      deps.onDidChangeDockerfiles(() => this.schedulePrefetch(PREFETCH_AFTER_CHANGE_MS)),
    );
    this.schedulePrefetch(PREFETCH_AFTER_START_MS);
  }

  /** Histories of the newest images, debounced: the first open of a Dockerfile then scores from the cache. */
  private schedulePrefetch(ms: number): void {
    if (this.prefetchAbort.signal.aborted) return;
    if (this.prefetchTimer) clearTimeout(this.prefetchTimer);
    this.prefetchTimer = setTimeout(() => void this.dockerfiles.prefetch(this.prefetchAbort.signal), ms);
  }

  dispose(): void {
    this.prefetchAbort.abort();
    if (this.prefetchTimer) clearTimeout(this.prefetchTimer);
    for (const s of this.subscriptions.splice(0)) s.dispose();
  }
}
