// The engine connection for the extension: resolved like the docker CLI (DOCKER_HOST, contexts,
// Podman), overridden only by the machine-scoped setting `layerLens.engine.host`, so a workspace
// can never redirect Layer Lens to another engine. The client is made on first use and dropped by
// reset() (the context does so when `layerLens.engine.*` changes, with the rest of the engine scope).
import * as vscode from 'vscode';
import { createEngineClient } from '../engine/docker';
import { describeEndpoint, resolveEndpointFromProcess } from '../engine/endpoint';
import type { EngineClient } from '../engine/types';

export class EngineConnection implements vscode.Disposable {
  private client: EngineClient | undefined;
  /** Endpoints (URLs) found without a bridge network since the extension started: their builds use networkmode host. */
  readonly withoutBridge = new Set<string>();

  constructor(private readonly log: (line: string) => void) {}

  /** The client (created on first use); throws EngineError when the endpoint cannot be resolved. */
  get(): EngineClient {
    if (this.client) return this.client;
    // inspect() so that only the machine/user value counts, never a workspace value.
    const info = vscode.workspace.getConfiguration('layerLens').inspect<string>('engine.host');
    const host = info?.globalValue || undefined;
    const endpoint = resolveEndpointFromProcess(host ? { host, hostOrigin: 'setting layerLens.engine.host' } : {});
    this.log(`engine: ${describeEndpoint(endpoint)}`);
    this.client = createEngineClient(endpoint);
    return this.client;
  }

  /** The next get() resolves the endpoint again (the settings changed). */
  reset(): void {
    this.client = undefined;
  }

  dispose(): void {
    this.reset();
  }
}
