// Which Dockerfile lines the next build will take from the cache, and why the others will rebuild,
// predicted from the record of the last build (its Dockerfile text, build args, context files and
// per-line results). Pure: no I/O.
//
// The model follows the builders' cache keys:
// - BuildKit: FROM-from-an-image, RUN, COPY, ADD and WORKDIR make vertices; each vertex's key covers
//   its operation and its parent's key, so the first vertex of a stage whose operation changed
//   rebuilds, and so does every vertex after it in that stage and in stages built FROM it.
//   A RUN's operation includes its command as written, the shell, the working directory, the user
//   and the environment (ENV values and ARG values in scope): an edited ENV/ARG/USER/SHELL line or a
//   changed build arg rebuilds the RUN lines after it but not the COPY lines (they do not see the
//   environment). COPY/ADD from the context are keyed by the content of the files they copy, so
//   a changed source file rebuilds that line; COPY --from=stage and RUN --mount from=stage are keyed
//   by that stage's content: predicted to rebuild when the stage rebuilds (BuildKit may still find
//   the same bytes there and reuse the cache). ENV, LABEL, CMD, ... make no vertex: they show as
//   rebuilding when their own text changed or a vertex before them rebuilds.
// - Legacy builder: every instruction is a step keyed by its parent image and its text (RUN: with
//   the build args in scope; COPY/ADD: with the content of the files), so the first changed line
//   rebuilds with everything after it.
import {
  parseDockerfile, stageDependencies, targetStageIndex,
  type DockerfileInstruction, type DockerfileModel, type DockerfileStage,
} from './dockerfile';
import { normalizeImageRef, type BuilderKind, type StepResult } from './buildTrace';
import { posixJoin } from '../image/tar/paths';

// ---------------------------------------------------------------------------------------------
// The build record

/** One file (or symlink, or directory) of a build context as sent to the engine. */
export interface ContextFileInfo {
  /** Bytes (symlinks: the target's length; directories: 0). */
  size: number;
  /** Hex sha256 of the content (symlinks: of the target; directories: ''). */
  sha256: string;
  /** Permission bits (mode & 0o7777). */
  mode?: number;
  /** Absent for regular files. */
  type?: 'dir' | 'symlink';
  /**
   * The content the build saw is not known (a build seen through the engine: the file was
   * modified after the image was created, before the context was snapshotted); sha256 is ''.
   */
  unknown?: true;
}

/** The build context after .dockerignore: context-relative POSIX paths (no `./`, no trailing `/`). */
export interface ContextManifest {
  files: Record<string, ContextFileInfo>;
}

export type RecordedCache = 'cached' | 'built';

/** What one instruction did in the recorded build. */
export interface RecordedLine {
  cache: RecordedCache;
  durationMs: number;
  endLine: number;
  stage: number;
  keyword: string;
  /** The step failed (the build stopped there). */
  failed?: boolean;
}

/** Everything the prediction needs from one build; plain JSON (kept in the build store: src/sources/buildStore.ts). */
export interface BuildRecord {
  version: 1;
  builder: BuilderKind;
  /** The Dockerfile text the build used. */
  dockerfileText: string;
  /** Build args given to the build (`--build-arg`). */
  buildArgs: Record<string, string>;
  /**
   * A build seen through the engine: the declared ARGs whose values its image's history does not
   * show (`buildArgs` then holds only the values the history shows; core/dockerfile/buildArgs).
   */
  buildArgsUnknown?: string[];
  /** `--target`, or null for the last stage. */
  target: string | null;
  /** Stages the build covered (BuildKit: the target and its dependencies; legacy: up to the target). */
  stages: number[];
  /** Per instruction, keyed by its 1-based first line in `dockerfileText`. */
  lines: Record<number, RecordedLine>;
  /** The context as sent, or null when it was not recorded. */
  context: ContextManifest | null;
  /** Base images of FROM lines (normalized reference) → image id at build time, when known. */
  baseImages?: Record<string, string>;
  tag: string;
  imageId: string | null;
  /** ms since the epoch. */
  finishedAt: number;
  durationMs: number;
  /** The build failed; lines after the failing one were not built. */
  failed?: boolean;
  /**
   * `engine`: a build seen through the engine (an image whose history matches the Dockerfile),
   * recorded without the builder's trace: `lines` is empty and unknown context files are marked.
   * Absent: a Layer Lens build.
   */
  origin?: 'layerlens' | 'engine';
}

/** The stages a build of `target` runs. */
export function stagesToBuild(model: DockerfileModel, builder: BuilderKind, target: string | null | undefined): number[] {
  const t = targetStageIndex(model, target);
  if (t < 0) return [];
  if (builder === 'legacy') return model.stages.slice(0, t + 1).map((s) => s.index);
  return [...stageDependencies(model, t), t];
}

/** The `lines` of a record from a build's per-instruction results. */
export function recordLines(results: readonly StepResult[]): Record<number, RecordedLine> {
  const out: Record<number, RecordedLine> = {};
  for (const r of results) {
    if (r.state === 'pending' || r.state === 'running') continue;
    const line: RecordedLine = {
      cache: r.state === 'cached' ? 'cached' : 'built',
      durationMs: r.durationMs, endLine: r.endLine, stage: r.stage, keyword: r.keyword,
    };
    if (r.state === 'failed') line.failed = true;
    out[r.line] = line;
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
// Predictions

/** `unknown`: the line reads context files whose content at the last build is not known (and nothing before it rebuilds). */
export type PredictedCache = 'cached' | 'will-rebuild' | 'unknown';

export interface LinePrediction {
  /** 1-based lines of the instruction in the current text. */
  line: number;
  endLine: number;
  stage: number;
  keyword: string;
  cache: PredictedCache;
  /** Why it will rebuild: `line 7 changed`, `2 files changed: a, b`, `build arg V changed`, ... */
  reason: string | null;
  /** COPY/ADD: context files that changed since the build (added, modified or removed). */
  changedFiles?: string[];
}

export interface PredictOptions {
  /** The target of the next build (default: the record's). */
  target?: string | null;
  /** Current image ids of base images (normalized reference → id), to notice a re-pulled base. */
  baseImageIds?: Record<string, string>;
}

/**
 * Predict the cache status of every instruction the next build runs (stages the target needs).
 * `manifest` null: context files are not compared (COPY/ADD predicted from their text only).
 */
export function predict(
  record: BuildRecord,
  currentDockerfileText: string,
  currentContextManifest: ContextManifest | null,
  buildArgs: Record<string, string>,
  options: PredictOptions = {},
): LinePrediction[] {
  const oldModel = parseDockerfile(record.dockerfileText, { buildArgs: record.buildArgs });
  const newModel = parseDockerfile(currentDockerfileText, { buildArgs });
  const target = options.target !== undefined ? options.target : record.target;
  const p = new Predictor(record, oldModel, newModel, currentContextManifest, buildArgs, options);
  return p.run(stagesToBuild(newModel, record.builder, target));
}

/** What the CodeLens shows for cache status (same shape as core/present/lines LineCache). */
export interface LineCacheFact {
  cache: 'cached' | 'built' | 'will-rebuild' | 'unknown';
  reason?: string;
  durationMs?: number;
}

/**
 * Cache facts per line for the Dockerfile as it is now: the recorded results when the text, the
 * build args and the context are as they were at the build; otherwise the prediction (lines
 * predicted cached keep their recorded duration out: they will take no time).
 */
export function cacheFacts(
  record: BuildRecord,
  currentDockerfileText: string,
  currentContextManifest: ContextManifest | null,
  buildArgs: Record<string, string>,
  options: PredictOptions = {},
): Map<number, LineCacheFact> {
  const out = new Map<number, LineCacheFact>();
  const preds = predict(record, currentDockerfileText, currentContextManifest, buildArgs, options);
  // A record with per-line results (a Layer Lens build) shows them while nothing changed.
  const unchanged = currentDockerfileText === record.dockerfileText && preds.every((p) => p.cache === 'cached');
  if (unchanged && Object.keys(record.lines).length > 0) {
    for (const [line, r] of Object.entries(record.lines)) {
      out.set(Number(line), { cache: r.cache, durationMs: r.durationMs });
    }
    return out;
  }
  for (const p of preds) {
    const f: LineCacheFact = { cache: p.cache };
    if (p.reason) f.reason = p.reason;
    out.set(p.line, f);
  }
  return out;
}

// ---------------------------------------------------------------------------------------------

const VERTEX_KEYWORDS = new Set(['RUN', 'COPY', 'ADD', 'WORKDIR']);

interface Cause {
  reason: string;
  /** 1-based line of the instruction the cause is on (for downstream lines' reasons). */
  line: number;
  /** The reason downstream lines show. */
  downstream: string;
}

interface StageOutcome {
  /** The stage's result will differ from the last build (null: same). */
  cause: Cause | null;
  /** Whether it differs is not known (context files of unknown content), when not `cause`. */
  uncertain: Cause | null;
  user: string;
  workdir: string;
}

class Predictor {
  private readonly out: LinePrediction[] = [];
  private readonly outcomes = new Map<number, StageOutcome>();
  private readonly stageMatch: Array<number | null>;
  private readonly changedArgs: Set<string>;

  constructor(
    private readonly record: BuildRecord,
    private readonly oldModel: DockerfileModel,
    private readonly newModel: DockerfileModel,
    private readonly manifest: ContextManifest | null,
    buildArgs: Record<string, string>,
    private readonly options: PredictOptions,
  ) {
    this.stageMatch = matchStages(oldModel, newModel);
    this.changedArgs = new Set<string>();
    const keys = new Set([...Object.keys(record.buildArgs), ...Object.keys(buildArgs)]);
    for (const k of keys) if (record.buildArgs[k] !== buildArgs[k]) this.changedArgs.add(k);
  }

  run(stages: number[]): LinePrediction[] {
    const wanted = new Set(stages);
    // Stages only refer to earlier stages: index order is dependency order.
    for (const st of this.newModel.stages) {
      this.stage(st, wanted.has(st.index));
    }
    return this.out.sort((a, b) => a.line - b.line);
  }

  private push(ins: DockerfileInstruction, cause: Cause | null, changedFiles?: string[], uncertain: Cause | null = null): void {
    const why = cause ?? uncertain;
    const p: LinePrediction = {
      line: ins.line, endLine: ins.endLine, stage: ins.stage, keyword: ins.keyword,
      cache: cause ? 'will-rebuild' : uncertain ? 'unknown' : 'cached', reason: why ? (why.line === ins.line ? why.reason : why.downstream) : null,
    };
    if (changedFiles && changedFiles.length > 0) p.changedFiles = changedFiles;
    this.out.push(p);
  }

  private stageLabel(i: number): string {
    const s = this.newModel.stages[i];
    return s?.name ?? String(i);
  }

  /** Walk one stage of the new model; `emit` false: only compute its outcome (a stage not built). */
  private stage(st: DockerfileStage, emit: boolean): void {
    const legacy = this.record.builder === 'legacy';
    const oldIndex = this.stageMatch[st.index];
    const oldSt = oldIndex === null ? undefined : this.oldModel.stages[oldIndex];
    const wasBuilt = oldSt !== undefined && this.record.stages.includes(oldSt.index);
    const base = st.baseStage !== null ? this.outcomes.get(st.baseStage) : undefined;
    let user = base?.user ?? '';
    let workdir = base?.workdir ?? '/';
    let oldUser = user;
    let oldWorkdir = workdir;
    if (oldSt && oldSt.baseStage !== null) {
      const ob = this.oldFinal(oldSt.baseStage);
      oldUser = ob.user;
      oldWorkdir = ob.workdir;
    }

    let broken: Cause | null = null;
    // Set once a line reads context files of unknown content: later lines are unknown too, unless a known cause comes first.
    let uncertain: Cause | null = null;
    const from = st.instructions[0];
    if (!wasBuilt) {
      const reason = oldSt ? `stage ${this.stageLabel(st.index)} was not built last time` : `stage ${this.stageLabel(st.index)} is new`;
      broken = { reason, line: from.line, downstream: reason };
    } else if (st.baseStage !== null) {
      const oldBaseMatch = oldSt!.baseStage === null ? null : this.stageMatch.indexOf(oldSt!.baseStage);
      if (oldBaseMatch !== st.baseStage) {
        broken = lineChanged(from);
      } else if (base?.cause) {
        const r = `stage ${this.stageLabel(st.baseStage)} rebuilds`;
        broken = { reason: r, line: from.line, downstream: r };
      } else if (base?.uncertain) {
        const r = `stage ${this.stageLabel(st.baseStage)} may rebuild`;
        uncertain = { reason: r, line: from.line, downstream: r };
      }
    } else if (oldSt!.baseStage !== null || fromKey(from, st) !== fromKey(oldSt!.instructions[0], oldSt!)) {
      broken = this.explainTextChange(from, oldSt!.instructions[0]);
    } else {
      const ref = st.baseImage ? normalizeImageRef(st.baseImage) : '';
      const was = this.record.baseImages?.[ref];
      const now = this.options.baseImageIds?.[ref];
      if (was && now && was !== now) broken = { reason: 'base image changed', line: from.line, downstream: 'base image changed' };
    }
    if (emit) this.push(from, broken, undefined, uncertain);

    // Align the rest with the old stage: BuildKit by vertex position (metadata lines by text),
    // legacy by position over every instruction.
    const newRest = st.instructions.slice(1);
    const oldRest = oldSt && wasBuilt ? oldSt.instructions.slice(1) : [];
    const oldVertices = oldRest.filter((i) => isVertex(i));
    const textAligned = alignByText(oldRest, newRest);
    let vPos = 0;
    let oldUserRun = oldUser;
    let oldWorkdirRun = oldWorkdir;
    const oldStateAt = new Map<number, { user: string; workdir: string }>();
    for (const o of oldRest) {
      oldStateAt.set(o.index, { user: oldUserRun, workdir: oldWorkdirRun });
      if (o.keyword === 'USER') oldUserRun = o.expanded;
      if (o.keyword === 'WORKDIR' && o.workdir) oldWorkdirRun = o.workdir;
    }

    for (let k = 0; k < newRest.length; k++) {
      const ins = newRest[k];
      const state = { user, workdir };
      if (ins.keyword === 'USER') user = ins.expanded;
      if (ins.keyword === 'WORKDIR' && ins.workdir) workdir = ins.workdir;

      if (legacy) {
        const old = oldRest[k];
        if (!broken) {
          if (!old) broken = lineChanged(ins);
          else if (legacyKey(ins) !== legacyKey(old)) broken = this.explainTextChange(ins, old);
        }
        let files: string[] | undefined;
        if (!broken) {
          const c = this.sourcesChanged(ins, old);
          if (c?.cause) {
            broken = c.cause;
            files = c.files;
          } else if (c?.uncertain && !uncertain) {
            uncertain = c.uncertain;
            files = c.files;
          }
        }
        if (!broken) broken = this.dependencyRebuilds(ins);
        if (!broken && !uncertain) uncertain = this.dependencyUncertain(ins);
        if (emit) this.push(ins, broken, files, uncertain);
        continue;
      }

      if (!isVertex(ins)) {
        // No vertex: rebuilding only in the sense that the chain before it does, or its own text changed.
        let cause = broken;
        if (!cause) {
          const old = textAligned.get(ins.index);
          if (!old) cause = lineChanged(ins);
          else if (ins.expanded !== old.expanded) cause = this.explainValueChange(ins, old);
        }
        if (emit) this.push(ins, cause, undefined, uncertain);
        continue;
      }

      const old = oldVertices[vPos++];
      let files: string[] | undefined;
      if (!broken) {
        if (!old) {
          broken = lineChanged(ins);
        } else {
          const os = oldStateAt.get(old.index) ?? { user: oldUser, workdir: oldWorkdir };
          const nk = vertexKey(ins, state);
          const ok = vertexKey(old, os);
          if (nk.own !== ok.own) broken = this.explainTextChange(ins, old);
          else if (nk.context !== ok.context) broken = this.explainContextChange(ins, st, old, nk, ok);
        }
      }
      if (!broken) {
        const c = this.sourcesChanged(ins, old);
        if (c?.cause) {
          broken = c.cause;
          files = c.files;
        } else if (c?.uncertain && !uncertain) {
          uncertain = c.uncertain;
          files = c.files;
        }
      }
      if (!broken) {
        const dep = this.dependencyRebuilds(ins);
        if (dep) broken = dep;
      }
      if (!broken && !uncertain) uncertain = this.dependencyUncertain(ins);
      if (emit) this.push(ins, broken, files, uncertain);
    }
    this.outcomes.set(st.index, { cause: broken, uncertain: broken ? null : uncertain, user, workdir });
  }

  /** Final user and workdir of an old stage (following its FROM chain). */
  private oldFinal(i: number): { user: string; workdir: string } {
    const st = this.oldModel.stages[i];
    if (!st) return { user: '', workdir: '/' };
    let r = st.baseStage !== null ? this.oldFinal(st.baseStage) : { user: '', workdir: '/' };
    for (const ins of st.instructions) {
      if (ins.keyword === 'USER') r = { ...r, user: ins.expanded };
      if (ins.keyword === 'WORKDIR' && ins.workdir) r = { ...r, workdir: ins.workdir };
    }
    return r;
  }

  /** The instruction's own text differs from `old`: which line, or which build arg. */
  private explainTextChange(ins: DockerfileInstruction, old: DockerfileInstruction): Cause {
    if (ownText(ins) === ownText(old)) {
      // Same words; the substituted values differ: a build arg or an ARG/ENV default changed.
      return this.explainValueChange(ins, old);
    }
    return lineChanged(ins);
  }

  /** Same text, different values after substitution. */
  private explainValueChange(ins: DockerfileInstruction, old: DockerfileInstruction): Cause {
    for (const k of this.changedArgs) {
      const declares = ins.keyword === 'ARG' && (ins.keyValues?.some((kv) => kv.key === k) ?? false);
      if (declares || referencesVar(ins.raw, k) || ins.argsInScope.some((a) => a.key === k) || this.globalArgUsed(k, ins)) {
        return buildArgChanged(k, ins);
      }
    }
    const vars = new Set<string>();
    for (const m of ins.raw.matchAll(/\$\{?([A-Za-z_][A-Za-z0-9_]*)/g)) vars.add(m[1]);
    const definer = this.lastChangedDefiner(ins, (d) => d.keyValues?.some((kv) => vars.has(kv.key)) ?? false);
    if (definer) return { reason: `line ${definer.line} changed`, line: definer.line, downstream: `line ${definer.line} changed` };
    void old;
    return lineChanged(ins);
  }

  private globalArgUsed(k: string, ins: DockerfileInstruction): boolean {
    return ins.keyword === 'FROM' && this.newModel.globalArgs.some((a) => a.key === k);
  }

  /** A RUN/WORKDIR/COPY whose operation is the same but whose environment, user or directory is not. */
  private explainContextChange(ins: DockerfileInstruction, st: DockerfileStage, old: DockerfileInstruction, nk: VertexKey, ok: VertexKey): Cause {
    const envKeys = diffKeys(nk.env, ok.env);
    for (const k of envKeys) if (this.changedArgs.has(k)) return buildArgChanged(k, ins);
    const definer = this.lastChangedDefiner(ins, (d) => {
      if (d.keyword === 'ENV' || d.keyword === 'ARG') return d.keyValues?.some((kv) => envKeys.includes(kv.key)) ?? false;
      if (d.keyword === 'USER') return nk.user !== ok.user;
      if (d.keyword === 'WORKDIR') return nk.workdir !== ok.workdir;
      if (d.keyword === 'SHELL') return nk.shell !== ok.shell;
      return false;
    }, st);
    if (definer) return { reason: `line ${definer.line} changed`, line: definer.line, downstream: `line ${definer.line} changed` };
    if (envKeys.length > 0) {
      const r = `${envKeys.slice(0, 3).join(', ')} changed`;
      return { reason: r, line: ins.line, downstream: r };
    }
    void old;
    return lineChanged(ins);
  }

  /**
   * The last instruction before `ins` (in its stage and the stages it derives from) that `pick`
   * accepts and whose text is not what the last build had.
   */
  private lastChangedDefiner(ins: DockerfileInstruction, pick: (d: DockerfileInstruction) => boolean, st?: DockerfileStage): DockerfileInstruction | null {
    const chain: DockerfileStage[] = [];
    let cur: DockerfileStage | undefined = st ?? this.newModel.stages[ins.stage];
    while (cur && !chain.includes(cur)) {
      chain.unshift(cur);
      cur = cur.baseStage !== null ? this.newModel.stages[cur.baseStage] : undefined;
    }
    const before = chain.flatMap((s) => s.instructions).filter((d) => d.index < ins.index);
    const oldTexts = new Set(this.oldModel.instructions.map((o) => o.keyword + ' ' + ownText(o) + ' ' + o.expanded));
    for (let i = before.length - 1; i >= 0; i--) {
      const d = before[i];
      if (!pick(d)) continue;
      if (!oldTexts.has(d.keyword + ' ' + ownText(d) + ' ' + d.expanded)) return d;
    }
    // Global ARGs feed FROM lines and stage ARGs without defaults.
    return null;
  }

  /**
   * COPY/ADD from the context: files under its sources that changed since the build (`cause`), else
   * files under them whose content at the build is not known (`uncertain`).
   */
  private sourcesChanged(ins: DockerfileInstruction, old: DockerfileInstruction | undefined): { cause?: Cause; uncertain?: Cause; files: string[] } | null {
    const before = this.record.context;
    const now = this.manifest;
    if (!before || !now || !old) return null;
    const patterns = contextSources(ins);
    if (patterns.length === 0) return null;
    const changed = changedUnder(before, now, patterns);
    if (changed.length === 0) {
      const unknown = unknownUnder(before, patterns);
      if (unknown.length === 0) return null;
      const u = unknown.length;
      const reason = `${u} file${u === 1 ? '' : 's'} modified after the image was built: ${unknown.slice(0, 3).join(', ')}${u > 3 ? ', …' : ''}`;
      return { uncertain: { reason, line: ins.line, downstream: `line ${ins.line}: ${u} file${u === 1 ? '' : 's'} of unknown content` }, files: unknown };
    }
    const n = changed.length;
    const names = changed.slice(0, 3).join(', ') + (n > 3 ? ', …' : '');
    const reason = `${n} file${n === 1 ? '' : 's'} changed: ${names}`;
    return { cause: { reason, line: ins.line, downstream: `line ${ins.line}: ${n} file${n === 1 ? '' : 's'} changed` }, files: changed };
  }

  /** COPY --from=stage / RUN --mount from=stage when whether that stage rebuilds is not known. */
  private dependencyUncertain(ins: DockerfileInstruction): Cause | null {
    for (const d of this.dependencies(ins)) {
      if (this.outcomes.get(d)?.uncertain) {
        const r = `stage ${this.stageLabel(d)} may rebuild`;
        return { reason: r, line: ins.line, downstream: r };
      }
    }
    return null;
  }

  private dependencies(ins: DockerfileInstruction): number[] {
    const deps: number[] = [];
    if (ins.copy?.fromStage !== null && ins.copy?.fromStage !== undefined) deps.push(ins.copy.fromStage);
    for (const f of ins.mountFrom) {
      const lower = f.toLowerCase();
      const i = this.newModel.stages.findIndex((s, j) => j < ins.stage && ((s.name !== null && s.name.toLowerCase() === lower) || String(j) === f));
      if (i >= 0) deps.push(i);
    }
    return deps;
  }

  /** COPY --from=stage / RUN --mount from=stage when that stage rebuilds. */
  private dependencyRebuilds(ins: DockerfileInstruction): Cause | null {
    for (const d of this.dependencies(ins)) {
      const o = this.outcomes.get(d);
      if (o?.cause) {
        const r = `stage ${this.stageLabel(d)} rebuilds`;
        return { reason: r, line: ins.line, downstream: r };
      }
    }
    return null;
  }
}

function isVertex(ins: DockerfileInstruction): boolean {
  return VERTEX_KEYWORDS.has(ins.keyword) && !(ins.keyword === 'WORKDIR' && ins.workdir === '/');
}

function lineChanged(ins: DockerfileInstruction): Cause {
  const r = `line ${ins.line} changed`;
  return { reason: r, line: ins.line, downstream: r };
}

function buildArgChanged(k: string, ins: DockerfileInstruction): Cause {
  const r = `build arg ${k} changed`;
  return { reason: r, line: ins.line, downstream: r };
}

/** The instruction as written (keyword, flags, arguments, heredoc bodies), whitespace-normalized. */
function ownText(ins: DockerfileInstruction): string {
  const flags = ins.flags.map((f) => `--${f.name}${f.value === null ? '' : '=' + f.value}`).join(' ');
  const heredocs = ins.heredocs.map((h) => h.content).join('\u0000');
  return `${ins.keyword} ${flags} ${ins.args.replace(/\s+/g, ' ').trim()} ${heredocs}`;
}

function fromKey(from: DockerfileInstruction, st: DockerfileStage): string {
  void from;
  return `${normalizeImageRef(st.baseImage ?? '')} ${st.platform ?? ''}`;
}

function legacyKey(ins: DockerfileInstruction): string {
  const parts = [ins.keyword, ins.keyword === 'ARG' ? ins.args : ins.expanded];
  if (ins.keyword === 'RUN') parts.push(JSON.stringify(ins.argsInScope.filter((a) => a.value !== null).map((a) => [a.key, a.value])));
  if (ins.keyword === 'COPY' || ins.keyword === 'ADD') parts.push(JSON.stringify(ins.flags), ins.heredocs.map((h) => h.content).join('\u0000'));
  return parts.join('\u0001');
}

interface VertexKey {
  /** The instruction's own operation (command, sources, destination, flags). */
  own: string;
  /** What it inherits (environment, user, directory, shell), as one string. */
  context: string;
  env: Record<string, string>;
  user: string;
  workdir: string;
  shell: string;
}

function runEnv(ins: DockerfileInstruction): Record<string, string> {
  const env: Record<string, string> = {};
  for (const a of ins.argsInScope) if (a.value !== null) env[a.key] = a.value;
  for (const [k, v] of Object.entries(ins.envInScope)) env[k] = v;
  return env;
}


/** BuildKit's operation for a vertex instruction, split into its own part and the inherited part. */
function vertexKey(ins: DockerfileInstruction, state: { user: string; workdir: string }): VertexKey {
  const shell = JSON.stringify(ins.shell);
  switch (ins.keyword) {
    case 'RUN': {
      const env = runEnv(ins);
      const own = JSON.stringify([ins.form, ins.execArgs ?? ins.args, ins.flags.map((f) => [f.name, f.value]), ins.heredocs.map((h) => h.content)]);
      return {
        own, env, user: state.user, workdir: state.workdir, shell: ins.form === 'exec' ? '' : shell,
        context: JSON.stringify([Object.entries(env).sort(), state.user, state.workdir, ins.form === 'exec' ? '' : shell]),
      };
    }
    case 'COPY':
    case 'ADD': {
      const c = ins.copy;
      const dest = c ? posixJoin(state.workdir, c.dest, true) : '';
      const own = JSON.stringify([
        ins.keyword, c?.sources ?? [], c?.heredocSources ?? [], ins.heredocs.map((h) => h.content), dest,
        c?.chown ?? null, c?.chmod ?? null, c?.link ?? false, c?.parents ?? false,
        c?.fromStage !== null && c?.fromStage !== undefined ? 'stage' : c?.from ?? null,
        ins.flags.filter((f) => !['from', 'chown', 'chmod', 'link', 'parents'].includes(f.name.toLowerCase())).map((f) => [f.name, f.value]),
      ]);
      return { own, env: {}, user: '', workdir: '', shell: '', context: '' };
    }
    case 'WORKDIR':
      return {
        own: JSON.stringify([ins.workdir]), env: {}, user: state.user, workdir: '', shell: '',
        context: JSON.stringify([state.user]),
      };
    default:
      return { own: ins.keyword + ' ' + ins.expanded, env: {}, user: '', workdir: '', shell: '', context: '' };
  }
}

function diffKeys(a: Record<string, string>, b: Record<string, string>): string[] {
  const keys = new Set([...Object.keys(a), ...Object.keys(b)]);
  return [...keys].filter((k) => a[k] !== b[k]).sort();
}

function referencesVar(text: string, name: string): boolean {
  return new RegExp('\\$\\{?' + name.replace(/[^A-Za-z0-9_]/g, '') + '(?![A-Za-z0-9_])').test(text);
}

/** Match old stages to new ones: by name, else by position. */
function matchStages(oldModel: DockerfileModel, newModel: DockerfileModel): Array<number | null> {
  const used = new Set<number>();
  const out: Array<number | null> = newModel.stages.map(() => null);
  newModel.stages.forEach((s, i) => {
    if (s.name === null) return;
    const j = oldModel.stages.findIndex((o) => o.name !== null && o.name.toLowerCase() === s.name!.toLowerCase());
    if (j >= 0 && !used.has(j)) {
      out[i] = j;
      used.add(j);
    }
  });
  newModel.stages.forEach((s, i) => {
    if (out[i] !== null) return;
    if (i < oldModel.stages.length && !used.has(i)) {
      const o = oldModel.stages[i];
      // A renamed stage keeps its place; a named old stage that a new name replaced still matches.
      if (s.name === null || o.name === null || !newModel.stages.some((n) => n.name !== null && o.name !== null && n.name.toLowerCase() === o.name.toLowerCase())) {
        out[i] = i;
        used.add(i);
      }
    }
  });
  return out;
}

/**
 * Align two instruction lists by their written text (longest common subsequence); returns
 * new instruction index → the old instruction it corresponds to.
 */
function alignByText(oldList: readonly DockerfileInstruction[], newList: readonly DockerfileInstruction[]): Map<number, DockerfileInstruction> {
  const a = oldList.map(ownText);
  const b = newList.map(ownText);
  const n = a.length;
  const m = b.length;
  const dp: number[][] = Array.from({ length: n + 1 }, () => new Array<number>(m + 1).fill(0));
  for (let i = n - 1; i >= 0; i--) {
    for (let j = m - 1; j >= 0; j--) {
      dp[i][j] = a[i] === b[j] ? dp[i + 1][j + 1] + 1 : Math.max(dp[i + 1][j], dp[i][j + 1]);
    }
  }
  const out = new Map<number, DockerfileInstruction>();
  let i = 0;
  let j = 0;
  while (i < n && j < m) {
    if (a[i] === b[j]) {
      out.set(newList[j].index, oldList[i]);
      i++;
      j++;
    } else if (dp[i + 1][j] >= dp[i][j + 1]) {
      i++;
    } else {
      j++;
    }
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
// Context sources

/** Context-relative source patterns of a COPY/ADD (or RUN --mount=type=bind) reading the context. */
export function contextSources(ins: DockerfileInstruction): string[] {
  if (ins.keyword === 'COPY' || ins.keyword === 'ADD') {
    const c = ins.copy;
    if (!c || c.from !== null) return [];
    return c.sources.filter((s) => !/^(https?:\/\/|git@)/.test(s)).map(cleanContextPath);
  }
  if (ins.keyword === 'RUN') {
    const out: string[] = [];
    for (const f of ins.flags) {
      if (f.name.toLowerCase() !== 'mount' || f.value === null) continue;
      const opts = new Map<string, string>();
      for (const part of f.value.split(',')) {
        const [k, ...v] = part.split('=');
        opts.set(k.trim().toLowerCase(), v.join('=').trim());
      }
      const type = opts.get('type') ?? 'bind';
      if (type !== 'bind' || opts.has('from')) continue;
      out.push(cleanContextPath(opts.get('source') ?? opts.get('src') ?? '.'));
    }
    return out;
  }
  return [];
}

/** `./a/../b/` → `b`; `/` or `.` → '' (the whole context). */
export function cleanContextPath(p: string): string {
  const parts: string[] = [];
  for (const seg of p.split('/')) {
    if (seg === '' || seg === '.') continue;
    if (seg === '..') parts.pop();
    else parts.push(seg);
  }
  return parts.join('/');
}

const patternCache = new Map<string, RegExp | null>();

/** Go's filepath.Match for one pattern against one path (no `/` crossing for `*` and `?`). */
export function pathMatch(pattern: string, name: string): boolean {
  let re = patternCache.get(pattern);
  if (re === undefined) {
    re = compilePathPattern(pattern);
    if (patternCache.size > 500) patternCache.clear();
    patternCache.set(pattern, re);
  }
  return re === null ? pattern === name : re.test(name);
}

function compilePathPattern(pattern: string): RegExp | null {
  let re = '^';
  for (let i = 0; i < pattern.length; i++) {
    const ch = pattern[i];
    if (ch === '*') re += '[^/]*';
    else if (ch === '?') re += '[^/]';
    else if (ch === '[') {
      const end = pattern.indexOf(']', i + 2);
      if (end < 0) return null;
      let cls = pattern.slice(i + 1, end);
      if (cls.startsWith('^')) cls = '!' + cls.slice(1);
      re += '[' + (cls.startsWith('!') ? '^' + cls.slice(1) : cls).replace(/\\/g, '\\\\') + ']';
      i = end;
    } else if (ch === '\\' && i + 1 < pattern.length) {
      re += pattern[++i].replace(/[.*+?^${}()|[\]\\/]/g, '\\$&');
    } else {
      re += ch.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&');
    }
  }
  try {
    return new RegExp(re + '$');
  } catch {
    return null;
  }
}

/** Is `path` copied by a source pattern (the path itself, something under it, or a wildcard match)? */
export function coveredBy(pattern: string, path: string): boolean {
  if (pattern === '') return true;
  if (path === pattern || path.startsWith(pattern + '/')) return true;
  if (!/[*?[\\]/.test(pattern)) return false;
  const depth = pattern.split('/').length;
  const segs = path.split('/');
  if (segs.length < depth) return false;
  return pathMatch(pattern, segs.slice(0, depth).join('/'));
}

function sameFile(a: ContextFileInfo, b: ContextFileInfo): boolean {
  return a.size === b.size && a.sha256 === b.sha256 && (a.type ?? 'file') === (b.type ?? 'file')
    && (a.mode === undefined || b.mode === undefined || a.mode === b.mode);
}

const diffCache = new WeakMap<ContextManifest, WeakMap<ContextManifest, string[]>>();

/** Every path added, removed or modified between two manifests (sorted); memoized per pair. */
export function changedPaths(before: ContextManifest, now: ContextManifest): string[] {
  let inner = diffCache.get(now);
  if (!inner) diffCache.set(now, (inner = new WeakMap()));
  const hit = inner.get(before);
  if (hit) return hit;
  const out: string[] = [];
  const b = before.files;
  const n = now.files;
  const nowKeys = Object.keys(n);
  let kept = 0;
  for (let i = 0; i < nowKeys.length; i++) {
    const p = nowKeys[i];
    const was = b[p];
    if (was === undefined) out.push(p);
    else {
      kept++;
      // A file of unknown content at the build is neither changed nor the same (unknownUnder).
      if (!was.unknown && !sameFile(was, n[p])) out.push(p);
    }
  }
  // Something was removed only if `before` has more paths than the ones still there.
  const beforeKeys = Object.keys(b);
  if (beforeKeys.length !== kept) for (const p of beforeKeys) if (n[p] === undefined && !b[p].unknown) out.push(p);
  out.sort();
  inner.set(before, out);
  return out;
}

/** Paths under the patterns whose content at the build is not known (sorted). */
export function unknownUnder(before: ContextManifest, patterns: readonly string[]): string[] {
  const out: string[] = [];
  for (const [p, f] of Object.entries(before.files)) if (f.unknown && patterns.some((pat) => coveredBy(pat, p))) out.push(p);
  return out.sort();
}

/** Paths under the patterns that were added, removed or modified (sorted). Directories only count when added or removed. */
export function changedUnder(before: ContextManifest, now: ContextManifest, patterns: readonly string[]): string[] {
  return changedPaths(before, now).filter((p) => patterns.some((pat) => coveredBy(pat, p)));
}
