import * as vscode from 'vscode';
import { EngineConnection } from './vscode/engine';
import { ImageService } from './vscode/imageService';
import { registerCodeLens } from './vscode/codelens';
import { DockerfileImages } from './vscode/dockerfileImages';
import type { LayerLens } from './vscode/context';
import { registerLayersSidebar } from './vscode/tree';
import { registerExplain } from './vscode/explain';
import { registerHover } from './vscode/hover';
import { registerQuickFixes } from './vscode/quickFixes';
import { registerEngineEvents } from './vscode/events';
import { registerBuild } from './vscode/build/buildImage';
import { registerStageImages } from './vscode/build/stageImages';
import { registerLensClick } from './vscode/lensClick';

// Thin activation: build the shared services, then let each contribution register itself. Every
// registration goes into context.subscriptions, so deactivation disposes everything.
export function activate(context: vscode.ExtensionContext): LayerLens {
  const output = vscode.window.createOutputChannel('Layer Lens');
  const log = (line: string): void => output.appendLine(`[${new Date().toISOString().slice(11, 23)}] ${line}`);
  const engine = new EngineConnection(log);
  // Analysis runs in a worker thread (dist/worker.js); layer indexes are cached in global storage.
  const images = new ImageService(engine, log, context.workspaceState, {
    workerFile: vscode.Uri.joinPath(context.extensionUri, 'dist', 'worker.js').fsPath,
    cacheDir: vscode.Uri.joinPath(context.globalStorageUri, 'layer-index-cache').fsPath,
  });
  const ll = { context, output, log, engine, images } as LayerLens;
  ll.dockerfiles = new DockerfileImages(ll);
  context.subscriptions.push(output, engine, images, ll.dockerfiles);
  for (const register of contributions) context.subscriptions.push(...register(ll));
  log('Layer Lens activated');
  return ll;
}

export function deactivate(): void {
  // Everything is disposed through context.subscriptions.
}

// One file per contribution; each exports register(ll) => Disposable[].
const contributions: Array<(ll: LayerLens) => vscode.Disposable[]> = [
  registerCodeLens,
  registerLayersSidebar,
  registerExplain,
  registerHover,
  registerQuickFixes,
  registerEngineEvents,
  registerBuild,
  registerStageImages,
  registerLensClick,
];
