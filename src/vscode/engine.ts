// The engine connection for the extension: resolved like the docker CLI (DOCKER_HOST, contexts,
// Podman), overridden only by the machine-scoped setting `layerLens.engine.host`, so a workspace
// can never redirect Layer Lens to another engine.
import * as vscode from 'vscode';
import { createEngineClient } from '../engine/docker';
import { describeEndpoint, resolveEndpointFromProcess } from '../engine/endpoint';
import type { EngineClient } from '../engine/types';

export class EngineConnection implements vscode.Disposable {
  private client: EngineClient | undefined;
  private readonly sub: vscode.Disposable;

  constructor(private readonly log: (line: string) => void) {
    this.sub = vscode.workspace.onDidChangeConfiguration((e) => {
      if (e.affectsConfiguration('layerLens.engine')) this.client = undefined;
    });
  }

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

  dispose(): void {
    this.sub.dispose();
  }
}
