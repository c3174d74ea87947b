// Layer Lens: Build Image. Builds a Dockerfile through the engine (BuildKit, else the legacy
// builder), shows the current step in a cancellable notification, then records what every line
// did (cached / built, duration, for every stage) with the build context's file manifest, tags
// the image and shows it. The record feeds the CodeLens cache status: after the build, what
// happened; while the user edits, what the next build will rebuild and why (core/dockerfile/cachePredict).
import * as path from 'node:path';
import { readFile } from 'node:fs/promises';
import * as vscode from 'vscode';
import {
  cacheFacts, changedPaths, predict, runBuild,
  type BuildOutcome, type BuildRecord, type ContextManifest, type LineCacheFact, type LinePrediction,
} from '../../core/dockerfile/cachePredict';
import { parseDockerfile, type DockerfileModel } from '../../core/dockerfile/dockerfile';
import { targetBuildInput } from '../../core/dockerfile/stageImages';
import { EngineError, type EngineClient } from '../../engine/types';
import { BaseImageIds } from '../../sources/baseImages';
import { chooseContextDir, contextManifest, packContext } from '../../sources/contextManifest';
import type { LayerLens } from '../context';

// ---------------------------------------------------------------------------------------------
// Records

/** What workspace state keeps per Dockerfile (key `build:<uri>`). */
interface StoredBuild {
  record: BuildRecord;
  /** Absolute context directory and the Dockerfile's path inside it (POSIX). */
  contextDir: string;
  dockerfileRel: string;
  /** mtime per context file at build time (lets the next manifest skip unchanged files). */
  mtimes: Record<string, number>;
}

interface LiveContext {
  manifest: ContextManifest | null;
  mtimes: Record<string, number>;
  computing: Promise<void> | null;
  stale: boolean;
  /** When the manifest was last computed (ms), and how long the walk took. */
  checkedAt: number;
  walkMs: number;
  contextDir: string;
  watcher: vscode.FileSystemWatcher;
  timer?: NodeJS.Timeout;
}

/**
 * The last successful build of each Dockerfile, and the predictions made from it. The CodeLens
 * reads `cacheFacts(doc)` (synchronous: it uses the latest context manifest and refreshes it in the
 * background, firing onDidChange when it changed).
 */
export class BuildRecords implements vscode.Disposable {
  private readonly emitter = new vscode.EventEmitter<vscode.Uri>();
  /** A Dockerfile's record changed (a build finished) or its predictions may have (context files changed). */
  readonly onDidChange = this.emitter.event;
  private readonly live = new Map<string, LiveContext>();
  /** Current ids of the records' base images (looked up in the background, refreshed on engine image events and saves). */
  private readonly bases: BaseImageIds;

  constructor(private readonly state: vscode.Memento, private readonly log: (line: string) => void, engine: () => EngineClient) {
    this.bases = new BaseImageIds(engine, () => {
      // A base image now has another id (or none): predictions of every open record may change.
      for (const key of this.live.keys()) this.emitter.fire(vscode.Uri.parse(key));
    }, log);
  }

  /** Base images may have changed (engine image events, a saved Dockerfile): look their ids up again. */
  refreshBaseImages(): void {
    this.bases.refresh();
  }

  /** The current ids of a record's base images, as far as known now (the rest is looked up in the background). */
  private baseImageIds(record: BuildRecord): Record<string, string> {
    return this.bases.get(Object.keys(record.baseImages ?? {}));
  }

  /** Resolves when no base image lookup is running (tests). */
  baseImagesSettled(): Promise<void> {
    return this.bases.settled();
  }

  private key(uri: vscode.Uri): string {
    return `build:${uri.toString()}`;
  }

  private stored(uri: vscode.Uri): StoredBuild | undefined {
    const s = this.state.get<StoredBuild>(this.key(uri));
    return s && s.record && s.record.version === 1 ? s : undefined;
  }

  /** The record of the last successful Layer Lens build of this Dockerfile. */
  lastBuild(uri: vscode.Uri): BuildRecord | undefined {
    return this.stored(uri)?.record;
  }

  async save(uri: vscode.Uri, s: StoredBuild): Promise<void> {
    // The build just inspected its base images: their ids are current.
    if (s.record.baseImages) this.bases.set(s.record.baseImages);
    await this.state.update(this.key(uri), s);
    let l = this.live.get(uri.toString());
    if (l && l.contextDir !== s.contextDir) {
      l.watcher.dispose();
      if (l.timer) clearTimeout(l.timer);
      this.live.delete(uri.toString());
      l = undefined;
    }
    if (l) {
      l.manifest = s.record.context;
      l.mtimes = s.mtimes;
      l.stale = false;
      l.checkedAt = Date.now();
    }
    this.emitter.fire(uri);
  }

  /** Per-line cache facts for the document as it is now (recorded results, else predictions). */
  cacheFacts(doc: vscode.TextDocument): Map<number, LineCacheFact> | undefined {
    const s = this.stored(doc.uri);
    if (!s) return undefined;
    const live = this.ensureLive(doc.uri, s);
    this.recheckIfOld(doc.uri, s, live);
    try {
      return cacheFacts(s.record, doc.getText(), live.manifest, currentBuildArgs(doc.uri, s.record), {
        target: currentTarget(doc.uri, s.record), baseImageIds: this.baseImageIds(s.record),
      });
    } catch (e) {
      this.log(`cache prediction failed for ${doc.uri.fsPath}: ${(e as Error).message}`);
      return undefined;
    }
  }

  /** The prediction alone (no recorded results), or undefined without a record. */
  predictions(doc: vscode.TextDocument): LinePrediction[] | undefined {
    const s = this.stored(doc.uri);
    if (!s) return undefined;
    const live = this.ensureLive(doc.uri, s);
    return predict(s.record, doc.getText(), live.manifest, currentBuildArgs(doc.uri, s.record), {
      target: currentTarget(doc.uri, s.record), baseImageIds: this.baseImageIds(s.record),
    });
  }

  /** Recompute the context manifest now (tests and the build command use it). */
  async refreshContext(uri: vscode.Uri): Promise<ContextManifest | null> {
    const s = this.stored(uri);
    if (!s) return null;
    const live = this.ensureLive(uri, s);
    live.stale = true;
    await this.recompute(uri, s, live);
    return live.manifest;
  }

  /**
   * File watchers miss changes outside the workspace (and on some file systems): a manifest older
   * than a few seconds is checked again when someone asks (cheap: unchanged files are only stat'ed).
   */
  private recheckIfOld(uri: vscode.Uri, s: StoredBuild, live: LiveContext): void {
    // Big contexts take longer to walk: check them less often (at most ~5 % of the time walking).
    if (live.computing || Date.now() - live.checkedAt < Math.max(RECHECK_MS, 20 * live.walkMs)) return;
    live.stale = true;
    void this.recompute(uri, s, live);
  }

  private ensureLive(uri: vscode.Uri, s: StoredBuild): LiveContext {
    let l = this.live.get(uri.toString());
    if (l) return l;
    const watcher = vscode.workspace.createFileSystemWatcher(new vscode.RelativePattern(vscode.Uri.file(s.contextDir), '**/*'));
    l = { manifest: s.record.context, mtimes: s.mtimes, computing: null, stale: true, watcher, checkedAt: 0, walkMs: 0, contextDir: s.contextDir };
    const live = l;
    const touched = (): void => {
      live.stale = true;
      if (live.timer) clearTimeout(live.timer);
      live.timer = setTimeout(() => void this.recompute(uri, s, live), 500);
    };
    watcher.onDidChange(touched);
    watcher.onDidCreate(touched);
    watcher.onDidDelete(touched);
    this.live.set(uri.toString(), l);
    // The files may have changed since the build (before this session): check once now.
    touched();
    return l;
  }

  private async recompute(uri: vscode.Uri, s: StoredBuild, live: LiveContext): Promise<void> {
    if (live.computing) {
      await live.computing;
      if (!live.stale) return;
    }
    live.stale = false;
    const before = live.manifest;
    let changed = false;
    live.computing = (async () => {
      try {
        const t0 = Date.now();
        const r = await contextManifest(s.contextDir, {
          keep: [s.dockerfileRel],
          previous: live.manifest ? { manifest: live.manifest, mtimes: live.mtimes } : null,
        });
        // Keep the same object when nothing changed: predictions memoize the comparison per pair.
        changed = before === null || changedPaths(before, r.manifest).length > 0;
        if (changed) live.manifest = r.manifest;
        live.mtimes = r.mtimes;
        live.checkedAt = Date.now();
        live.walkMs = live.checkedAt - t0;
        if (r.bytesHashed > 0) this.log(`context of ${path.basename(uri.fsPath)}: ${r.files} entries, ${r.bytesHashed} bytes hashed in ${Date.now() - t0} ms`);
      } catch (e) {
        live.checkedAt = Date.now();
        this.log(`cannot read the build context ${s.contextDir}: ${(e as Error).message}`);
      }
    })();
    await live.computing;
    live.computing = null;
    if (changed) this.emitter.fire(uri);
  }

  dispose(): void {
    for (const l of this.live.values()) {
      if (l.timer) clearTimeout(l.timer);
      l.watcher.dispose();
    }
    this.live.clear();
    this.emitter.dispose();
  }
}

const RECHECK_MS = 2000;

let current: BuildRecords | undefined;

/** The build records of this activation (undefined before registerBuild ran). */
export function buildRecords(): BuildRecords | undefined {
  return current;
}

/** The last successful Layer Lens build of a Dockerfile. */
export function lastBuild(uri: vscode.Uri): BuildRecord | undefined {
  return current?.lastBuild(uri);
}

// ---------------------------------------------------------------------------------------------
// Settings and prompts

/** `layerLens.build.args` when the user set it (any level), else undefined. */
function settingBuildArgs(uri: vscode.Uri): Record<string, string> | undefined {
  const info = vscode.workspace.getConfiguration('layerLens', uri).inspect<Record<string, unknown>>('build.args');
  const set = info && [info.globalValue, info.workspaceValue, info.workspaceFolderValue].some((v) => v !== undefined);
  if (!set) return undefined;
  const raw = vscode.workspace.getConfiguration('layerLens', uri).get<Record<string, unknown>>('build.args') ?? {};
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(raw)) {
    if (v === null || v === undefined) continue;
    out[k] = typeof v === 'string' ? v : String(v);
  }
  return out;
}

/** The build args the next build uses: the setting if set, else those of the last build, else none. */
export function currentBuildArgs(uri: vscode.Uri, record?: BuildRecord): Record<string, string> {
  return settingBuildArgs(uri) ?? (record ? { ...record.buildArgs } : {});
}

function settingTarget(uri: vscode.Uri): string | null {
  const t = vscode.workspace.getConfiguration('layerLens', uri).get<string>('build.target') ?? '';
  return t.trim() === '' ? null : t.trim();
}

/** The target the next build uses: the setting if set, else that of the last build. */
export function currentTarget(uri: vscode.Uri, record?: BuildRecord): string | null {
  return settingTarget(uri) ?? record?.target ?? null;
}

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

async function pickDockerfile(): Promise<vscode.Uri | undefined> {
  const ed = vscode.window.activeTextEditor?.document;
  if (ed && (ed.languageId === 'dockerfile' || isDockerfileName(ed.uri.fsPath))) return ed.uri;
  const found = await vscode.workspace.findFiles('**/{Dockerfile,Dockerfile.*,*.Dockerfile,Containerfile,Containerfile.*}', '**/node_modules/**', 50);
  if (found.length === 0) {
    void vscode.window.showErrorMessage('Layer Lens: open a Dockerfile to build it (none found in the workspace).');
    return undefined;
  }
  if (found.length === 1) return found[0];
  const pick = await vscode.window.showQuickPick(found.map((u) => ({ label: vscode.workspace.asRelativePath(u), uri: u })), { title: 'Layer Lens: build which Dockerfile?' });
  return pick?.uri;
}

// ---------------------------------------------------------------------------------------------
// The build

/** Engines (endpoint URLs) that turned out to have no bridge network in this session. */
export const noBridgeEngines = new Set<string>();

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
export async function prepareLocalBuild(ll: LayerLens, uri: vscode.Uri): Promise<EngineClient | undefined> {
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

function seconds(ms: number): string {
  return ms < 10_000 ? `${(ms / 1000).toFixed(1)} s` : `${Math.round(ms / 1000)} s`;
}

async function buildCommand(ll: LayerLens, records: BuildRecords, arg?: unknown, opts: BuildCommandOptions = {}): Promise<BuildOutcome | undefined> {
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
  const prev = records.lastBuild(uri);
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
          networkmode: noBridgeEngines.has(engine.endpoint.url) ? 'host' : undefined,
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
  if (outcome.networkmode === 'host') noBridgeEngines.add(engine.endpoint.url);
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
  await records.save(uri, { record: rec, contextDir, dockerfileRel, mtimes: outcome.mtimes });
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
    await vscode.commands.executeCommand('layerLens.buildStageImages', uri);
  }
  return outcome;
}

export function registerBuild(ll: LayerLens): vscode.Disposable[] {
  const records = new BuildRecords(ll.context.workspaceState, ll.log, () => ll.engine.get());
  current = records;
  ll.dockerfiles.cacheFacts = (doc) => records.cacheFacts(doc);
  let timer: NodeJS.Timeout | undefined;
  return [
    records,
    { dispose: () => { if (current === records) current = undefined; if (timer) clearTimeout(timer); } },
    vscode.commands.registerCommand('layerLens.buildImage', (arg?: unknown, opts?: BuildCommandOptions) => buildCommand(ll, records, arg, opts ?? {})),
    // Context files changed: the CodeLens recomputes (debounced).
    records.onDidChange(() => {
      if (timer) clearTimeout(timer);
      timer = setTimeout(() => ll.dockerfiles.invalidate(), 300);
    }),
    vscode.workspace.onDidChangeConfiguration((e) => {
      if (e.affectsConfiguration('layerLens.build')) ll.dockerfiles.invalidate();
    }),
    // A saved Dockerfile: its base images may have been rebuilt or pulled meanwhile (engine events
    // cover that too, but not an engine whose event stream is down).
    vscode.workspace.onDidSaveTextDocument((d) => { if (d.languageId === 'dockerfile') records.refreshBaseImages(); }),
  ];
}
