// Layer Lens: Build Image. Builds a Dockerfile through the engine (BuildKit, else the legacy
// builder), shows the current step in a cancellable notification, then records what every line
// did (cached / built, duration, for every stage) with the build context's file manifest, tags
// the image and shows it. The record feeds the CodeLens cache status: after the build, what
// happened; while the user edits, what the next build will rebuild and why (core/dockerfile/cachePredict).
import * as path from 'node:path';
import { readFile } from 'node:fs/promises';
import * as vscode from 'vscode';
import { runBuild, type BuildOutcome } from '../../engine/build';
import { parseDockerfile, type DockerfileModel } from '../../core/dockerfile/dockerfile';
import { targetBuildInput } from '../../core/dockerfile/stageImages';
import { seconds } from '../../core/present/format';
import { EngineError, type EngineClient } from '../../engine/types';
import { chooseContextDir, packContext } from '../../sources/contextManifest';
import { COMMANDS, type Contribution } from '../commands';
import type { LayerLensContext } from '../context';
import { currentTarget, settingBuildArgs } from './records';

// ---------------------------------------------------------------------------------------------
// Prompts

export interface BuildCommandOptions {
  /** Ask for the target stage and every build arg (otherwise only for ARGs without a value, on a first build without the setting). */
  prompt?: boolean;
  /** Override the tag (default: the last one used for this Dockerfile, else layerlens/<dir>:dev). */
  tag?: string;
  /** Override settings (used by tests and other commands). */
  buildArgs?: Record<string, string>;
  target?: string | null;
  /** Do not show the image afterwards. */
  noShow?: boolean;
  /** false: no stage images afterwards, whatever layerLens.build.stageImages says. */
  stageImages?: boolean;
}

/** Build args: settings, plus a prompt for ARGs that have no value (or for all, with `prompt`). */
async function askBuildArgs(model: DockerfileModel, given: Record<string, string>, promptAll: boolean): Promise<Record<string, string> | undefined> {
  const args = { ...given };
  const declared = new Map<string, string | null>();
  for (const a of model.globalArgs) declared.set(a.key, a.value);
  for (const ins of model.instructions) {
    if (ins.keyword !== 'ARG' || ins.stage < 0) continue;
    for (const kv of ins.keyValues ?? []) if (!declared.has(kv.key) || declared.get(kv.key) === null) declared.set(kv.key, kv.value);
  }
  for (const [key, value] of declared) {
    if (key in args) continue;
    if (value !== null && !promptAll) continue;
    const answer = await vscode.window.showInputBox({
      title: `Layer Lens: build arg ${key}`,
      prompt: value === null ? `ARG ${key} has no default. Leave empty to build without it.` : `ARG ${key} (default: ${value})`,
      value: value ?? '',
      ignoreFocusOut: true,
    });
    if (answer === undefined) return undefined;
    if (answer !== '' && answer !== value) args[key] = answer;
  }
  return args;
}

async function askTarget(model: DockerfileModel, current: string | null): Promise<string | null | undefined> {
  if (model.stages.length < 2) return current;
  const items = model.stages.map((s, i) => ({
    label: s.name ?? `stage ${i}`,
    description: `line ${s.line}${i === model.stages.length - 1 ? ' · last stage (default)' : ''}`,
    // An unnamed stage is `#<index>`: the build names it (core/dockerfile/stageImages targetBuildInput).
    target: i === model.stages.length - 1 ? null : s.name ?? `#${i}`,
  }));
  const pick = await vscode.window.showQuickPick(items, { title: 'Layer Lens: build which stage?', placeHolder: current ?? 'the last stage' });
  return pick === undefined ? undefined : pick.target;
}

const cleanTag = (s: string): string => s.toLowerCase().replace(/[^a-z0-9._-]+/g, '-').replace(/^[^a-z0-9]+|[^a-z0-9]+$/g, '') || 'image';

/** `layerlens/<context dir>[-<Dockerfile suffix>]`: the repository of the tags Layer Lens gives. */
export function tagRepository(contextDir: string, dockerfile: string): string {
  let name = cleanTag(path.basename(contextDir));
  const base = path.basename(dockerfile);
  if (!/^(Dockerfile|Containerfile)$/.test(base)) name += '-' + cleanTag(base.replace(/^(Dockerfile|Containerfile)\.|\.(Dockerfile|Containerfile)$/gi, ''));
  return `layerlens/${name}`;
}

function defaultTag(contextDir: string, dockerfile: string, target: string | null): string {
  return `${tagRepository(contextDir, dockerfile)}:${target ? cleanTag(target.replace(/^#(?=\d+$)/, 'stage-')) : 'dev'}`;
}

function isDockerfileName(p: string): boolean {
  const b = path.basename(p);
  return /^(Dockerfile|Containerfile)(\..+)?$/.test(b) || /\.(Dockerfile|Containerfile)$/i.test(b);
}

/** The active Dockerfile, else the workspace's only one, else one the user picks (`verb`: what for). */
export async function pickDockerfile(verb = 'build'): Promise<vscode.Uri | undefined> {
  const ed = vscode.window.activeTextEditor?.document;
  if (ed && (ed.languageId === 'dockerfile' || isDockerfileName(ed.uri.fsPath))) return ed.uri;
  const found = await vscode.workspace.findFiles('**/{Dockerfile,Dockerfile.*,*.Dockerfile,Containerfile,Containerfile.*}', '**/node_modules/**', 50);
  if (found.length === 0) {
    void vscode.window.showErrorMessage(`Layer Lens: open a Dockerfile to ${verb} it (none found in the workspace).`);
    return undefined;
  }
  if (found.length === 1) return found[0];
  const pick = await vscode.window.showQuickPick(found.map((u) => ({ label: vscode.workspace.asRelativePath(u), uri: u })), { title: `Layer Lens: ${verb} which Dockerfile?` });
  return pick?.uri;
}

// ---------------------------------------------------------------------------------------------
// The build

/** The build context of a Dockerfile (its model, parsed with the build args): the directory that holds what its COPY/ADD lines name. */
export async function buildContextOf(uri: vscode.Uri, model: DockerfileModel): Promise<{ contextDir: string; dockerfileRel: string }> {
  const folder = vscode.workspace.getWorkspaceFolder(uri);
  const sources = model.instructions.flatMap((i) => (i.copy && i.copy.from === null ? i.copy.sources : []));
  const contextDir = await chooseContextDir(path.dirname(uri.fsPath), folder?.uri.fsPath, sources);
  const dockerfileRel = path.relative(contextDir, uri.fsPath).split(path.sep).join('/');
  return { contextDir, dockerfileRel };
}

/**
 * What every build from the editor checks first: a file on disk (saved if dirty) and an engine
 * client. Says what is wrong in one error message and returns undefined.
 */
export async function prepareLocalBuild(ll: LayerLensContext, uri: vscode.Uri): Promise<EngineClient | undefined> {
  if (uri.scheme !== 'file') {
    void vscode.window.showErrorMessage(`Layer Lens: cannot build ${uri.toString()}: only Dockerfiles on the local file system can be built.`);
    return undefined;
  }
  const doc = vscode.workspace.textDocuments.find((d) => d.uri.toString() === uri.toString());
  if (doc?.isDirty) await doc.save();
  try {
    return ll.engine.get();
  } catch (e) {
    void vscode.window.showErrorMessage(`Layer Lens: ${(e as Error).message}`);
    return undefined;
  }
}

async function buildCommand(ll: LayerLensContext, arg?: unknown, opts: BuildCommandOptions = {}): Promise<BuildOutcome | undefined> {
  if (!vscode.workspace.isTrusted) {
    void vscode.window.showErrorMessage('Layer Lens: building runs the Dockerfile\'s RUN steps on your engine, so Build Image is disabled in untrusted workspaces. Trust this workspace (Manage Workspace Trust) to build.');
    return undefined;
  }
  const uri = arg instanceof vscode.Uri ? arg : await pickDockerfile();
  if (!uri) return undefined;
  const engine = await prepareLocalBuild(ll, uri);
  if (!engine) return undefined;

  const dockerfileBytes = await readFile(uri.fsPath);
  const dockerfileText = dockerfileBytes.toString('utf8');
  const prev = ll.builds.lastBuild(uri);
  // Args and target: given, else the settings, else the last build's; ARGs without a value are
  // asked for on the first build (and every arg and the target when asked to prompt).
  const knownArgs = opts.buildArgs ?? settingBuildArgs(uri) ?? prev?.buildArgs;
  const probe = parseDockerfile(dockerfileText, { buildArgs: knownArgs ?? {} });
  let target = opts.target !== undefined ? opts.target : currentTarget(uri, prev);
  if (opts.prompt) {
    const t = await askTarget(probe, target);
    if (t === undefined) return undefined;
    target = t;
  }
  const buildArgs = opts.buildArgs
    ?? (knownArgs && !opts.prompt ? { ...knownArgs } : await askBuildArgs(probe, knownArgs ?? {}, opts.prompt ?? false));
  if (!buildArgs) return undefined;

  // Builders take a stage name as the target: an unnamed stage gets one in the text sent.
  const model = parseDockerfile(dockerfileText, { buildArgs });
  const sent = targetBuildInput(dockerfileText, model, target);
  if (!sent) {
    const names = probe.stages.map((s) => s.name ?? `#${s.index}`).join(', ');
    void vscode.window.showErrorMessage(`Layer Lens: ${path.basename(uri.fsPath)} has no stage ${target} to build (stages: ${names}). Check layerLens.build.target.`);
    return undefined;
  }
  const sentBytes = sent.dockerfileText === dockerfileText ? dockerfileBytes : Buffer.from(sent.dockerfileText, 'utf8');

  const { contextDir, dockerfileRel } = await buildContextOf(uri, model);
  const tag = opts.tag ?? (prev && prev.target === target ? prev.tag : defaultTag(contextDir, uri.fsPath, target));

  ll.log(`build ${tag}: ${uri.fsPath} (context ${contextDir}${target ? `, target ${target}` : ''}${Object.keys(buildArgs).length ? `, args ${Object.keys(buildArgs).join(' ')}` : ''})`);
  let outcome: BuildOutcome;
  try {
    outcome = await vscode.window.withProgress({
      location: vscode.ProgressLocation.Notification, title: `Layer Lens: building ${tag}`, cancellable: true,
    }, async (progress, token) => {
      const ac = new AbortController();
      const sub = token.onCancellationRequested(() => ac.abort());
      let lastPct = 0;
      let lastReport = 0;
      let lastText = '';
      try {
        return await runBuild({
          engine,
          pack: () => packContext(contextDir, {
            keep: [dockerfileRel], overrides: new Map([[dockerfileRel, sentBytes]]), signal: ac.signal,
          }),
          dockerfileRel, dockerfileText, tag, buildArgs, target,
          ...(sent.dockerfileText !== dockerfileText || sent.target !== target ? { sent } : {}),
          // An engine found without a bridge network keeps getting networkmode host (no failed first try).
          networkmode: ll.engine.withoutBridge.has(engine.endpoint.url) ? 'host' : undefined,
          log: ll.log, signal: ac.signal,
          onMessage: (msg) => {
            if (typeof msg.stream === 'string' && msg.stream.trim()) ll.log(`  ${msg.stream.trimEnd()}`);
          },
          onStep: (text, done, total) => {
            const t = Date.now();
            if (text === lastText && t - lastReport < 1000) return;
            if (t - lastReport < 150) return;
            lastReport = t;
            lastText = text;
            const pct = total > 0 ? Math.floor((done / total) * 100) : lastPct;
            progress.report({ message: text.length > 90 ? text.slice(0, 89) + '…' : text, increment: Math.max(0, pct - lastPct) });
            lastPct = Math.max(lastPct, pct);
          },
        });
      } finally {
        sub.dispose();
      }
    });
  } catch (e) {
    if (e instanceof EngineError && e.code === 'aborted') {
      ll.log(`build ${tag} cancelled`);
      void vscode.window.showInformationMessage(`Layer Lens: build of ${tag} cancelled.`);
      return undefined;
    }
    ll.log(`build ${tag} failed: ${(e as Error).message}`);
    void vscode.window.showErrorMessage(`Layer Lens: build failed: ${(e as Error).message}`);
    return undefined;
  }
  if (outcome.networkmode === 'host') ll.engine.withoutBridge.add(engine.endpoint.url);
  const rec = outcome.record;
  const built = Object.values(rec.lines).filter((l) => l.cache === 'built').length;
  const cached = Object.values(rec.lines).filter((l) => l.cache === 'cached').length;
  if (outcome.failed) {
    ll.log(`build ${tag} failed${outcome.errorLine ? ` at line ${outcome.errorLine}` : ''}: ${outcome.error}`);
    const go = outcome.errorLine ? 'Go to Line' : undefined;
    void vscode.window.showErrorMessage(`Layer Lens: build failed${outcome.errorLine ? ` at line ${outcome.errorLine}` : ''}: ${outcome.error}`, ...(go ? [go] : [])).then(async (choice) => {
      if (choice && outcome.errorLine) {
        const ed = await vscode.window.showTextDocument(uri);
        const pos = new vscode.Position(outcome.errorLine - 1, 0);
        ed.selection = new vscode.Selection(pos, pos);
        ed.revealRange(new vscode.Range(pos, pos));
      }
    });
    return outcome;
  }
  ll.log(`built ${tag} (${rec.builder}) in ${seconds(rec.durationMs)}: ${built} step(s) built, ${cached} cached, image ${rec.imageId ?? '?'}`);
  for (const [line, l] of Object.entries(rec.lines).sort((x, y) => Number(x[0]) - Number(y[0]))) {
    ll.log(`  line ${line} ${l.keyword}: ${l.cache}${l.cache === 'built' ? ` in ${seconds(l.durationMs)}` : ''}`);
  }
  await ll.builds.save(uri, { record: rec, contextDir, dockerfileRel, mtimes: outcome.mtimes });
  if (!opts.noShow) {
    try {
      await ll.images.show(tag, { dockerfile: uri, force: true });
    } catch (e) {
      ll.log(`cannot show ${tag}: ${(e as Error).message}`);
    }
  }
  // layerLens.build.stageImages = afterBuild: the other stages' images too (cached steps: quick).
  if (opts.stageImages !== false && vscode.workspace.getConfiguration('layerLens', uri).get<string>('build.stageImages') === 'afterBuild'
    && model.stages.length > 1) {
    await vscode.commands.executeCommand(COMMANDS.buildStageImages, uri);
  }
  return outcome;
}

export function registerBuild(ll: LayerLensContext): Contribution<'buildImage'> {
  let timer: NodeJS.Timeout | undefined;
  return {
    disposables: [
      { dispose: () => { if (timer) clearTimeout(timer); } },
      // Context files changed: the CodeLens recomputes (debounced).
      ll.builds.onDidChange(() => {
        if (timer) clearTimeout(timer);
        timer = setTimeout(() => ll.invalidateDockerfiles(), 300);
      }),
      // A saved Dockerfile: its base images may have been rebuilt or pulled meanwhile (engine events
      // cover that too, but not an engine whose event stream is down).
      vscode.workspace.onDidSaveTextDocument((d) => { if (d.languageId === 'dockerfile') ll.builds.refreshBaseImages(); }),
    ],
    commands: { buildImage: (arg?: unknown, opts?: BuildCommandOptions) => buildCommand(ll, arg, opts ?? {}) },
  };
}
