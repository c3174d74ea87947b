import type * as vscode from 'vscode';
import { LayerLensContext } from './vscode/context';
import { registerCodeLens } from './vscode/codelens';
import { registerLayersSidebar } from './vscode/tree';
import { registerExplain } from './vscode/explain';
import { registerHover } from './vscode/hover';
import { registerQuickFixes } from './vscode/quickFixes';
import { registerBuild } from './vscode/build/buildImage';
import { registerStageImages } from './vscode/build/stageImages';
import { registerLensClick } from './vscode/lensClick';

// Thin activation: the context builds the services, then each contribution registers itself with
// them. The context owns every registration, and is disposed with the extension. Engine work
// waits for a Dockerfile or the Layers view (see src/vscode/context.ts).
export function activate(context: vscode.ExtensionContext): LayerLensContext {
  const ll = new LayerLensContext(context);
  context.subscriptions.push(ll);
  for (const register of contributions) ll.own(...register(ll));
  ll.log('Layer Lens activated');
  return ll;
}

export function deactivate(): void {
  // Everything is disposed through context.subscriptions.
}

// One file per contribution; each exports register(ll) => Disposable[].
const contributions: Array<(ll: LayerLensContext) => vscode.Disposable[]> = [
  registerCodeLens,
  registerLayersSidebar,
  registerExplain,
  registerHover,
  registerQuickFixes,
  registerBuild,
  registerStageImages,
  registerLensClick,
];
