import type * as vscode from 'vscode';
import { LayerLensContext } from './vscode/context';
import { registerCommands, type CommandHandlers } from './vscode/commands';
import { registerCodeLens } from './vscode/codelens';
import { registerLayersSidebar } from './vscode/tree';
import { registerExplain } from './vscode/explain';
import { registerHover } from './vscode/hover';
import { registerQuickFixes } from './vscode/quickFixes';
import { registerBuild } from './vscode/build/buildImage';
import { registerStageImages } from './vscode/build/stageImages';
import { registerCompareBuilds } from './vscode/build/compareBuilds';
import { registerBuildHistory } from './vscode/build/buildHistory';
import { registerLensClick } from './vscode/lensClick';
import { registerRegistryBase } from './vscode/registryBase';
import { registerSecrets } from './vscode/secrets';

// Thin activation: the context builds the services, each contribution registers itself with them
// and hands back the handlers of its commands, and the command table is registered once. The
// context owns every registration and is disposed with the extension. Engine work waits for a
// Dockerfile or the Layers view (src/vscode/context.ts).
export function activate(context: vscode.ExtensionContext): LayerLensContext {
  const ll = new LayerLensContext(context);
  context.subscriptions.push(ll);
  // One file per contribution; each exports register(ll) => { disposables, commands }.
  const codeLens = registerCodeLens(ll);
  const sidebar = registerLayersSidebar(ll);
  const explain = registerExplain(ll);
  const hover = registerHover(ll);
  const quickFixes = registerQuickFixes(ll);
  const build = registerBuild(ll);
  const stageImages = registerStageImages(ll);
  const compareBuilds = registerCompareBuilds(ll);
  const buildHistory = registerBuildHistory(ll);
  const lensClick = registerLensClick(ll);
  const registryBase = registerRegistryBase(ll);
  const secrets = registerSecrets(ll);
  for (const c of [codeLens, sidebar, explain, hover, quickFixes, build, stageImages, compareBuilds, buildHistory, lensClick, registryBase, secrets]) ll.own(...c.disposables);
  const commands: CommandHandlers = {
    ...sidebar.commands, ...explain.commands, ...build.commands, ...stageImages.commands, ...compareBuilds.commands, ...buildHistory.commands,
    ...lensClick.commands, ...secrets.commands,
  };
  ll.own(...registerCommands(commands));
  ll.log('Layer Lens activated');
  return ll;
}

export function deactivate(): void {
  // Everything is disposed through context.subscriptions.
}
