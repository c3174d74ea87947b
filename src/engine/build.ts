// Running a build through the engine and making its record (src/core/dockerfile/cachePredict.ts
// defines the record): the context is packed and sent, BuildKit's trace (or the legacy builder's
// log) is followed step by step, a missing BuildKit falls back to the legacy builder, an engine
// without a bridge network gets the build again with networkmode host, and the base images' ids are
// looked up for the record. The engine and the context packer are passed in.
import { createHash } from 'node:crypto';
import { BuildProgress, normalizeImageRef, type BuilderKind, type StepResult } from '../core/dockerfile/buildTrace';
import { recordLines, stagesToBuild, type BuildRecord, type ContextManifest } from '../core/dockerfile/cachePredict';
import { parseDockerfile } from '../core/dockerfile/dockerfile';
import type { BuildStreamMessage } from '../core/dockerfile/traceWire';

/** One JSON message of a /build response (structurally the engine adapter's BuildMessage). */
type StreamMessage = BuildStreamMessage;

/** The engine calls a build needs (structurally the engine adapter's EngineClient). */
export interface BuildEngine<Tar> {
  build(contextTar: Tar, opts: {
    dockerfile: string; tag: string; buildargs?: Record<string, string>; target?: string;
    version: '1' | '2'; networkmode?: string;
  }, signal?: AbortSignal): AsyncIterable<StreamMessage>;
  inspectImage(name: string, signal?: AbortSignal): Promise<{ id: string }>;
}

/** A packed context: the tar to send, and the manifest of what it held once it is all sent. */
export interface PackedContextLike<Tar> {
  tar: Tar;
  manifest: Promise<{ manifest: ContextManifest; mtimes: Record<string, number> }>;
}

export interface RunBuildInput<Tar> {
  engine: BuildEngine<Tar>;
  /** Makes a fresh tar of the context (called again when the build is retried). */
  pack: () => PackedContextLike<Tar>;
  /** The Dockerfile's path inside the context (POSIX) and its text (as packed, unless `sent` says otherwise). */
  dockerfileRel: string;
  dockerfileText: string;
  tag: string;
  buildArgs: Record<string, string>;
  /** The target stage (a name, or `#<index>`: see findStage), null for the last stage. */
  target: string | null;
  /**
   * What the engine gets when it differs from `dockerfileText` and `target` (an unnamed target
   * stage named at the end of its FROM line: core/dockerfile/stageImages targetBuildInput; same lines). `pack`
   * must pack this text. The record keeps `dockerfileText` and `target`: it maps to the user's file.
   */
  sent?: { dockerfileText: string; target: string | null };
  /** Default: BuildKit ('2'), falling back to '1' when the engine cannot do BuildKit. */
  version?: '1' | '2';
  /** Default: the engine's; 'host' is tried when the engine has no bridge network. */
  networkmode?: string;
  log?: (line: string) => void;
  /** Called with the running step (throttled by the caller if needed). */
  onStep?: (text: string, done: number, total: number) => void;
  /** Every message as it arrives (raw), e.g. to record a trace. */
  onMessage?: (msg: StreamMessage) => void;
  signal?: AbortSignal;
  now?: () => number;
}

export interface BuildOutcome {
  record: BuildRecord;
  /** Per-instruction results (every state, including failed). */
  results: StepResult[];
  failed: boolean;
  error?: string;
  /** 1-based line of the failing instruction, when known. */
  errorLine?: number | null;
  /** mtime per context file as packed. */
  mtimes: Record<string, number>;
  /** The version and network mode the build finally used. */
  version: '1' | '2';
  networkmode?: string;
}

/** Messages that mean the engine cannot do BuildKit builds. */
export function buildkitUnavailable(message: string): boolean {
  return /buildkit|builder version|version 2|not supported|unsupported.*version|session/i.test(message) && !/cancel/i.test(message);
}

/** The engine has no bridge network (dockerd --bridge=none): RUN steps need networkmode host or none. */
export function noBridgeNetwork(message: string | null): boolean {
  return message !== null && /network bridge not found|failed to create endpoint .*bridge/i.test(message);
}

/**
 * The manifest of a build that sent another Dockerfile text than the user's (`sent`), with the
 * user's file in it: the next prediction compares it with the file on disk, and the next build of
 * the same target sends the same text again (a `COPY . .` stays cached while the file does not change).
 */
function userDockerfileIn(manifest: ContextManifest, input: { dockerfileRel: string; dockerfileText: string }, sentText: string): ContextManifest {
  const entry = manifest.files[input.dockerfileRel];
  if (!entry || sentText === input.dockerfileText) return manifest;
  const bytes = Buffer.from(input.dockerfileText, 'utf8');
  return { files: { ...manifest.files, [input.dockerfileRel]: { ...entry, size: bytes.length, sha256: createHash('sha256').update(bytes).digest('hex') } } };
}

/**
 * Build once and make the record: BuildKit first (the engine's trace gives each step's cached flag
 * and duration), the legacy builder when the engine refuses BuildKit; a daemon without a bridge
 * network gets the build again with networkmode host. Engine errors (unreachable, cancelled) are
 * thrown; a failing step is an outcome with `failed`.
 */
export async function runBuild<Tar>(input: RunBuildInput<Tar>): Promise<BuildOutcome> {
  const now = input.now ?? Date.now;
  const log = input.log ?? (() => undefined);
  let version: '1' | '2' = input.version ?? '2';
  let networkmode = input.networkmode;
  let progress: BuildProgress | undefined;
  let manifest: ContextManifest | null = null;
  let mtimes: Record<string, number> = {};
  let started = now();
  const sent = input.sent ?? { dockerfileText: input.dockerfileText, target: input.target };
  for (let tries = 0; tries < 3; tries++) {
    const packed = input.pack();
    progress = new BuildProgress();
    started = now();
    let gotMessage = false;
    try {
      for await (const msg of input.engine.build(packed.tar, {
        dockerfile: input.dockerfileRel, tag: input.tag, buildargs: input.buildArgs,
        target: sent.target ?? undefined, version, networkmode,
      }, input.signal)) {
        gotMessage = true;
        input.onMessage?.(msg);
        progress.feed(msg, now());
        if (input.onStep) {
          const step = progress.currentStep();
          if (step) {
            const c = progress.counts();
            input.onStep(step, c.done, c.total);
          }
        }
      }
    } catch (e) {
      const m = (e as Error).message ?? String(e);
      if (!gotMessage && version === '2' && input.version === undefined && buildkitUnavailable(m)) {
        log(`BuildKit is not available (${m}); using the legacy builder`);
        version = '1';
        continue;
      }
      throw e;
    }
    progress.end(now());
    try {
      const m = await packed.manifest;
      manifest = userDockerfileIn(m.manifest, input, sent.dockerfileText);
      mtimes = m.mtimes;
    } catch (e) {
      manifest = null;
      if (!progress.error) progress.error = `Cannot send the build context: ${(e as Error).message}`;
    }
    if (progress.error && noBridgeNetwork(progress.error) && networkmode === undefined) {
      log(`the engine has no bridge network (${progress.error}); building again with networkmode=host`);
      networkmode = 'host';
      continue;
    }
    break;
  }
  const p = progress!;
  // The trace names the stages as sent (an added stage name): read it with the text sent. Its
  // instructions and lines are the user's (only a FROM line got ` AS <name>` at its end).
  const sentModel = parseDockerfile(sent.dockerfileText, { buildArgs: input.buildArgs });
  const model = sent.dockerfileText === input.dockerfileText ? sentModel : parseDockerfile(input.dockerfileText, { buildArgs: input.buildArgs });
  const builder: BuilderKind = p.builder ?? (version === '2' ? 'buildkit' : 'legacy');
  const stages = stagesToBuild(model, builder, input.target);
  const results = p.results(sentModel, stages);
  const record: BuildRecord = {
    version: 1,
    builder,
    dockerfileText: input.dockerfileText,
    buildArgs: { ...input.buildArgs },
    target: input.target,
    stages,
    lines: recordLines(results),
    context: manifest,
    tag: input.tag,
    imageId: p.imageId,
    finishedAt: now(),
    durationMs: Math.max(0, now() - started),
  };
  const out: BuildOutcome = { record, results, failed: false, mtimes, version };
  if (networkmode !== undefined) out.networkmode = networkmode;
  const failure = p.failure(sentModel);
  if (failure) {
    record.failed = true;
    out.failed = true;
    out.error = failure.message;
    out.errorLine = failure.line;
    return out;
  }
  const bases: Record<string, string> = {};
  for (const st of model.stages) {
    if (st.baseStage !== null || !st.baseImage || st.baseImage.toLowerCase() === 'scratch') continue;
    try {
      bases[normalizeImageRef(st.baseImage)] = (await input.engine.inspectImage(st.baseImage, input.signal)).id;
    } catch {
      // not a local image any more: nothing to compare later
    }
  }
  record.baseImages = bases;
  return out;
}
