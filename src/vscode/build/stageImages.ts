// Stage images: sizes for the lines of the stages a Dockerfile's image does not contain (the earlier
// stages of a multi-stage build). "Layer Lens: Build Stage Images" (and the lens on such a stage's
// FROM line) builds each of those stages as its own target through the engine, tagged
// `layerlens/<name>:stage-<stage>`, and remembers per (Dockerfile, stage) which image it made
// (workspace state). The CodeLens maps each stage's lines to its image's history (core/dockerfile/mapping with
// the stage) and clicking one explains that image's layer. With layerLens.build.stageImages set
// to afterBuild, Build Image runs this after every build of a multi-stage file.
import { readFile } from 'node:fs/promises';
import * as vscode from 'vscode';
import { runBuild } from '../../engine/build';
import { parseDockerfile, targetStageIndex } from '../../core/dockerfile/dockerfile';
import { findStage, stageBuildInput, stageImageTag, stageKey, stageLabel, stagesOutside } from '../../core/dockerfile/stageImages';
import { EngineError } from '../../engine/types';
import { packContext } from '../../sources/contextManifest';
import type { Contribution } from '../commands';
import type { LayerLensContext } from '../context';
import { buildContextOf, prepareLocalBuild, tagRepository } from './buildImage';
import { currentBuildArgs, currentTarget } from './records';

interface BuildStagesOptions {
  /** Only this stage (a key, name or index); default every stage the target's image does not contain. */
  stage?: string;
}

async function buildStageImages(ll: LayerLensContext, arg?: unknown, stageArg?: unknown): Promise<number> {
  if (!vscode.workspace.isTrusted) {
    void vscode.window.showErrorMessage('Layer Lens: building runs the Dockerfile\'s RUN steps on your engine, so Build Stage Images is disabled in untrusted workspaces. Trust this workspace (Manage Workspace Trust) to build.');
    return 0;
  }
  const opts: BuildStagesOptions = typeof stageArg === 'string' ? { stage: stageArg } : {};
  const ed = vscode.window.activeTextEditor?.document;
  const uri = arg instanceof vscode.Uri ? arg : ed?.languageId === 'dockerfile' ? ed.uri : undefined;
  if (!uri) {
    void vscode.window.showErrorMessage('Layer Lens: open a multi-stage Dockerfile to build its stage images.');
    return 0;
  }
  const engine = await prepareLocalBuild(ll, uri);
  if (!engine) return 0;
  const text = (await readFile(uri.fsPath)).toString('utf8');
  const record = ll.builds.lastBuild(uri);
  const buildArgs = currentBuildArgs(uri, record);
  const model = parseDockerfile(text, { buildArgs });
  let stages: number[];
  if (opts.stage !== undefined) {
    const s = findStage(model, opts.stage);
    if (s < 0) {
      void vscode.window.showErrorMessage(`Layer Lens: ${vscode.workspace.asRelativePath(uri)} has no stage ${opts.stage} any more.`);
      return 0;
    }
    stages = [s];
  } else {
    // The stages the image does not contain: the last build's image holds its target's chain
    // (layerLens.build.target applies to the next build).
    stages = stagesOutside(model, targetStageIndex(model, record ? record.target : currentTarget(uri)));
  }
  if (stages.length === 0) {
    void vscode.window.showInformationMessage(`Layer Lens: every stage of ${vscode.workspace.asRelativePath(uri)} is in the image Build Image makes: there is no other stage to build.`);
    return 0;
  }
  const { contextDir, dockerfileRel } = await buildContextOf(uri, model);
  const repo = tagRepository(contextDir, uri.fsPath);
  let built = 0;
  await vscode.window.withProgress({
    location: vscode.ProgressLocation.Notification, title: 'Layer Lens: building stage images', cancellable: true,
  }, async (progress, token) => {
    const ac = new AbortController();
    const sub = token.onCancellationRequested(() => ac.abort());
    try {
      for (const [n, s] of stages.entries()) {
        const st = model.stages[s];
        const input = stageBuildInput(text, model, s);
        if (!input) continue;
        const tag = stageImageTag(repo, st);
        const label = `${stageLabel(st)} (${n + 1}/${stages.length})`;
        progress.report({ message: label, increment: n === 0 ? 0 : 100 / stages.length });
        ll.log(`build stage ${stageLabel(st)} as ${tag}: ${uri.fsPath} (context ${contextDir}, target ${input.target})`);
        const bytes = Buffer.from(input.dockerfileText, 'utf8');
        const t0 = Date.now();
        const outcome = await runBuild({
          engine,
          pack: () => packContext(contextDir, { keep: [dockerfileRel], overrides: new Map([[dockerfileRel, bytes]]), signal: ac.signal }),
          dockerfileRel, dockerfileText: input.dockerfileText, tag, buildArgs, target: input.target,
          networkmode: ll.engine.withoutBridge.has(engine.endpoint.url) ? 'host' : undefined,
          log: ll.log, signal: ac.signal,
          onMessage: (msg) => {
            if (typeof msg.stream === 'string' && msg.stream.trim()) ll.log(`  ${msg.stream.trimEnd()}`);
          },
          onStep: (step) => progress.report({ message: `${label}: ${step.length > 70 ? step.slice(0, 69) + '…' : step}` }),
        });
        if (outcome.networkmode === 'host') ll.engine.withoutBridge.add(engine.endpoint.url);
        if (outcome.failed) {
          ll.log(`stage ${stageLabel(st)} failed${outcome.errorLine ? ` at line ${outcome.errorLine}` : ''}: ${outcome.error}`);
          void vscode.window.showErrorMessage(`Layer Lens: building stage ${stageLabel(st)} failed${outcome.errorLine ? ` at line ${outcome.errorLine}` : ''}: ${outcome.error}`);
          return;
        }
        const cached = Object.values(outcome.record.lines).filter((l) => l.cache === 'cached').length;
        ll.log(`built stage ${stageLabel(st)} as ${tag} in ${Date.now() - t0} ms (${cached}/${Object.keys(outcome.record.lines).length} steps cached), image ${outcome.record.imageId ?? '?'}`);
        await ll.stageStore.remember(uri, stageKey(st), { source: tag, imageId: outcome.record.imageId, builtAt: Date.now() });
        built++;
      }
    } finally {
      sub.dispose();
    }
  }).then(undefined, (e: unknown) => {
    if (e instanceof EngineError && e.code === 'aborted') {
      ll.log('stage image builds cancelled');
      return;
    }
    ll.log(`stage image build failed: ${(e as Error).message}`);
    void vscode.window.showErrorMessage(`Layer Lens: building stage images failed: ${(e as Error).message}`);
  });
  if (built > 0) ll.invalidateDockerfiles();
  return built;
}

export function registerStageImages(ll: LayerLensContext): Contribution<'buildStageImages'> {
  return {
    disposables: [],
    commands: { buildStageImages: (arg?: unknown, stage?: unknown) => buildStageImages(ll, arg, stage) },
  };
}
