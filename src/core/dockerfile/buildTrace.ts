// What a build did, step by step, from what the engine streams back while it builds.
//
// - BuildKit through the Engine API (POST /build?version=2) streams JSON messages; progress comes as
//   {"id":"moby.buildkit.trace","aux":"<base64>"} where the base64 is a protobuf `StatusResponse`
//   (moby/buildkit api/services/control/control.proto): vertexes {digest, inputs, name, cached,
//   started, completed, error}, statuses, logs, warnings. The same vertex is sent again whenever it
//   changes (started, then completed); `BuildTrace` merges the updates.
// - Vertex names carry the Dockerfile step: `[stage-1 3/5] RUN make`, `[2/4] COPY . /app`,
//   `[build 1/4] FROM docker.io/library/x` (the count covers FROM-from-an-image, RUN, COPY, ADD and
//   WORKDIR; ONBUILD triggers of the base image take the numbers right after FROM).
//   `mapTraceToDockerfile` maps them back to instructions of the Dockerfile model.
// - The legacy builder (version=1) streams text: `Step N/M : RUN ...`, ` ---> Using cache`,
//   ` ---> Running in <id>`, ` ---> <id>`; Podman's compat API `STEP N/M: ...` and
//   `--> Using cache <id>`. `LegacyBuildLog` turns them into steps with the same per-step result.
//
// Pure: no I/O. The wire format of the trace is decoded in traceWire.ts.
import type { DockerfileInstruction, DockerfileModel } from './dockerfile';
import { decodeTraceAux, utf8, type BuildStreamMessage, type StatusResponse, type TraceTime, type TraceVertexWarning } from './traceWire';

// ---------------------------------------------------------------------------------------------
// Accumulating a trace

/** A vertex after every update the trace sent for it. */
export interface VertexResult {
  digest: string;
  inputs: string[];
  name: string;
  /** The last update's flag. */
  cached: boolean;
  /** First start seen (ms since the epoch), or null if it never started. */
  started: TraceTime | null;
  /** Last completion seen, or null while running / never run. */
  completed: TraceTime | null;
  /** The last non-empty error. */
  error: string;
  /** Time spent running: the union of its [started, completed] intervals (a vertex may run twice). */
  durationMs: number | null;
  /** Progress rows (layer downloads, context transfers) the engine reported for it. */
  statusCount: number;
  /** The end of its output (stdout and stderr), at most LOG_TAIL_CHARS characters. */
  logTail: string;
  /** Order of first appearance. */
  order: number;
}

const LOG_TAIL_CHARS = 4000;

interface VertexState extends VertexResult {
  intervals: Map<number, number | null>;
}

/** Merges the StatusResponses of one build. */
export class BuildTrace {
  private readonly byDigest = new Map<string, VertexState>();
  private readonly warningsSeen: TraceVertexWarning[] = [];
  /** Digest of the vertex that started most recently (for progress display). */
  private lastStarted: string | null = null;

  /** Add one decoded StatusResponse. */
  add(status: StatusResponse): void {
    for (const v of status.vertexes) {
      if (!v.digest) continue;
      let s = this.byDigest.get(v.digest);
      if (!s) {
        s = {
          digest: v.digest, inputs: [], name: '', cached: false, started: null, completed: null, error: '',
          durationMs: null, statusCount: 0, logTail: '', order: this.byDigest.size, intervals: new Map(),
        };
        this.byDigest.set(v.digest, s);
      }
      if (v.name) s.name = v.name;
      if (v.inputs.length > 0) s.inputs = [...v.inputs];
      s.cached = v.cached;
      if (v.error) s.error = v.error;
      if (v.started !== null) {
        if (s.started === null || v.started < s.started) s.started = v.started;
        const had = s.intervals.get(v.started);
        if (had === undefined) this.lastStarted = v.digest;
        if (had === undefined || had === null) s.intervals.set(v.started, v.completed);
        s.completed = v.completed;
      }
      s.durationMs = unionDuration(s.intervals);
    }
    for (const st of status.statuses) {
      const s = this.byDigest.get(st.vertex);
      if (s) s.statusCount++;
    }
    for (const l of status.logs) {
      const s = this.byDigest.get(l.vertex);
      if (!s) continue;
      s.logTail = (s.logTail + utf8(l.msg)).slice(-LOG_TAIL_CHARS);
    }
    this.warningsSeen.push(...status.warnings);
  }

  /** Decode and add the `aux` of a `moby.buildkit.trace` message. */
  addAux(aux: string): void {
    this.add(decodeTraceAux(aux));
  }

  get vertices(): VertexResult[] {
    return [...this.byDigest.values()].sort((a, b) => a.order - b.order).map(publicVertex);
  }

  vertex(digest: string): VertexResult | undefined {
    const s = this.byDigest.get(digest);
    return s ? publicVertex(s) : undefined;
  }

  get warnings(): TraceVertexWarning[] {
    return [...this.warningsSeen];
  }

  /** Vertices started and not completed, oldest first. */
  running(): VertexResult[] {
    return this.vertices.filter((v) => v.started !== null && v.completed === null);
  }

  /** The vertex that started last (running or not), or null. */
  latest(): VertexResult | null {
    return this.lastStarted ? this.vertex(this.lastStarted) ?? null : null;
  }

  /** The first vertex with an error, or null. */
  failed(): VertexResult | null {
    return this.vertices.find((v) => v.error !== '') ?? null;
  }
}

function publicVertex(s: VertexState): VertexResult {
  const { intervals: _i, ...rest } = s;
  return { ...rest, inputs: [...s.inputs] };
}

function unionDuration(intervals: Map<number, number | null>): number | null {
  const done = [...intervals.entries()].filter((e): e is [number, number] => e[1] !== null).sort((a, b) => a[0] - b[0]);
  if (done.length === 0) return null;
  let total = 0;
  let curS = done[0][0];
  let curE = done[0][1];
  for (const [s, e] of done.slice(1)) {
    if (s > curE) {
      total += curE - curS;
      curS = s;
      curE = e;
    } else if (e > curE) {
      curE = e;
    }
  }
  total += curE - curS;
  return Math.max(0, total);
}

// ---------------------------------------------------------------------------------------------
// Vertex names ↔ Dockerfile steps

/** What the step prefix of a vertex name says: `[linux/amd64 build 3/5] RUN make`. */
export interface VertexStep {
  /** The stage as BuildKit names it (its name lower-cased, or `stage-N`); null in one-stage files. */
  stage: string | null;
  platform: string | null;
  /** 1-based position among the stage's steps; ONBUILD triggers of the base come right after FROM. */
  index: number;
  /** Number of steps BuildKit counted for the stage (FROM-from-an-image, RUN, COPY, ADD, WORKDIR). */
  total: number;
  /** The instruction as BuildKit shows it (keyword upper-cased, variables substituted). */
  text: string;
  /** Its first word, upper-cased. */
  keyword: string;
}

const STEP_NAME = /^\[(?:([^\s\]]+\/[^\s\]]+) +)?(?:([^\s\]/]+) +)? *(\d+)\/(\d+)\] ([\s\S]*)$/;

/** Parse a vertex name with a step prefix; null for `[internal] ...`, `exporting to image`, etc. */
export function parseVertexName(name: string): VertexStep | null {
  const m = STEP_NAME.exec(name);
  if (!m) return null;
  const text = m[5].trim();
  return {
    platform: m[1] ?? null,
    stage: m[2] ?? null,
    index: Number(m[3]),
    total: Number(m[4]),
    text,
    keyword: (/^\S+/.exec(text)?.[0] ?? '').toUpperCase(),
  };
}

/** `busybox` → `docker.io/library/busybox:latest`, as BuildKit names a FROM vertex. */
export function normalizeImageRef(ref: string): string {
  let r = ref.trim();
  if (r === '' || r === 'scratch') return r;
  const slash = r.indexOf('/');
  const first = slash >= 0 ? r.slice(0, slash) : '';
  const hasDomain = slash >= 0 && (first.includes('.') || first.includes(':') || first === 'localhost');
  if (!hasDomain) r = (slash >= 0 ? 'docker.io/' : 'docker.io/library/') + r;
  const lastSeg = r.slice(r.lastIndexOf('/') + 1);
  if (!lastSeg.includes(':') && !r.includes('@')) r += ':latest';
  return r;
}

/** What happened to one Dockerfile instruction in a build. */
export type StepState = 'cached' | 'built' | 'failed' | 'running' | 'pending';

export interface StepResult {
  /** Index in DockerfileModel.instructions. */
  instruction: number;
  /** 1-based lines of the instruction. */
  line: number;
  endLine: number;
  stage: number;
  keyword: string;
  state: StepState;
  /** Time the step ran (0 for cache hits); for FROM, ONBUILD triggers of the base image included. */
  durationMs: number;
  error?: string;
  /** BuildKit vertex digests (FROM: also its ONBUILD trigger vertices), or the legacy step number. */
  vertices?: string[];
  step?: number;
  /** FROM: ONBUILD triggers of the base image that ran for this stage. */
  triggers?: number;
}

/** The instructions of a stage that BuildKit numbers (in order), as BuildKit v0.8+ does. */
export function buildkitSteps(model: DockerfileModel, stageIndex: number): DockerfileInstruction[] {
  const st = model.stages[stageIndex];
  if (!st) return [];
  const out: DockerfileInstruction[] = [];
  for (const ins of st.instructions) {
    if (ins.keyword === 'FROM') {
      if (st.baseStage === null && (st.baseImage ?? '').toLowerCase() !== 'scratch' && st.baseImage) out.push(ins);
    } else if (ins.keyword === 'RUN' || ins.keyword === 'COPY' || ins.keyword === 'ADD') {
      out.push(ins);
    } else if (ins.keyword === 'WORKDIR') {
      // `WORKDIR /` is counted in the total but makes no vertex and takes no number.
      if (ins.workdir !== '/') out.push(ins);
    }
  }
  return out;
}

function stageByBuildkitName(model: DockerfileModel, name: string | null): number {
  if (name === null) return model.stages.length === 1 ? 0 : -1;
  const lower = name.toLowerCase();
  const byName = model.stages.findIndex((s) => s.name !== null && s.name.toLowerCase() === lower);
  if (byName >= 0) return byName;
  const m = /^stage-(\d+)$/.exec(lower);
  if (m && Number(m[1]) < model.stages.length) return Number(m[1]);
  return -1;
}

/** Whitespace-collapsed, quote-free, lower-cased text for loose comparisons. */
function loose(s: string): string {
  return s.replace(/["'\\]/g, '').replace(/\s+/g, ' ').trim().toLowerCase();
}

function textMatches(ins: DockerfileInstruction, step: VertexStep): boolean {
  if (ins.keyword !== step.keyword) return false;
  const body = step.text.replace(/^\S+\s*/, '');
  const candidates = [ins.expanded, ins.args, ins.raw.replace(/^\s*\S+\s*/, '')];
  const lb = loose(body);
  return candidates.some((c) => {
    const lc = loose(c);
    return lc === lb || lb.endsWith(lc) || lc.endsWith(lb);
  });
}

function stateOf(v: VertexResult): StepState {
  if (v.error) return 'failed';
  if (v.started === null) return 'pending';
  if (v.completed === null) return 'running';
  return v.cached ? 'cached' : 'built';
}

/** Combine several vertices' states into one for a line (FROM + triggers). */
function combineStates(states: StepState[]): StepState {
  for (const s of ['failed', 'running', 'pending', 'built'] as StepState[]) if (states.includes(s)) return s;
  return 'cached';
}

/**
 * Map a BuildKit trace to Dockerfile instructions. Each instruction with a vertex gets one result;
 * instructions without one (ENV, LABEL, ... and stages the target does not need) get none.
 * FROM of an image: `cached` unless the engine had to download it (progress rows on its vertex).
 */
export function mapTraceToDockerfile(model: DockerfileModel, vertices: readonly VertexResult[]): StepResult[] {
  const parsed = vertices.map((v) => ({ v, step: parseVertexName(v.name) }));
  // Per stage: the vertices whose name points into it.
  const perStage = new Map<number, Array<{ v: VertexResult; step: VertexStep }>>();
  for (const p of parsed) {
    if (!p.step) continue;
    const s = stageByBuildkitName(model, p.step.stage);
    if (s < 0) continue;
    let arr = perStage.get(s);
    if (!arr) perStage.set(s, (arr = []));
    arr.push({ v: p.v, step: p.step });
  }
  const assigned = new Map<number, VertexResult[]>(); // instruction index → vertices
  const triggerCount = new Map<number, number>();
  const usedDigests = new Set<string>();
  const assign = (ins: DockerfileInstruction, v: VertexResult): void => {
    const arr = assigned.get(ins.index) ?? [];
    if (!arr.some((x) => x.digest === v.digest)) arr.push(v);
    assigned.set(ins.index, arr);
    usedDigests.add(v.digest);
  };

  for (const [stageIdx, items] of perStage) {
    const steps = buildkitSteps(model, stageIdx);
    const maxIndex = Math.max(...items.map((i) => i.step.index));
    const hasFrom = steps.length > 0 && steps[0].keyword === 'FROM';
    // ONBUILD triggers take the numbers after FROM: the highest number exceeds the count by their number.
    const shift = hasFrom ? Math.max(0, maxIndex - steps.length) : 0;
    for (const { v, step } of items) {
      if (hasFrom && shift > 0 && step.index >= 2 && step.index <= shift + 1) {
        assign(steps[0], v);
        triggerCount.set(steps[0].index, (triggerCount.get(steps[0].index) ?? 0) + 1);
        continue;
      }
      const pos = step.index - 1 - (hasFrom && step.index > 1 ? shift : 0);
      let ins: DockerfileInstruction | undefined = steps[pos];
      if (!ins || ins.keyword !== step.keyword) {
        // The model and BuildKit disagree on the numbering: fall back to the text.
        ins = steps.find((c) => !assigned.has(c.index) && textMatches(c, step));
      }
      if (ins) assign(ins, v);
    }
  }

  // FROM vertices are shared by every stage with the same base (one vertex, named after one stage).
  for (const p of parsed) {
    if (!p.step || p.step.keyword !== 'FROM') continue;
    const ref = normalizeImageRef(p.step.text.replace(/^FROM\s+/i, ''));
    for (const st of model.stages) {
      if (st.baseStage !== null || !st.baseImage) continue;
      if (normalizeImageRef(st.baseImage) === ref && !assigned.has(st.instructions[0].index)) assign(st.instructions[0], p.v);
    }
  }

  // Identical chains in two stages share vertices too: walk each stage's chain by inputs.
  const byParent = new Map<string, VertexResult[]>();
  for (const p of parsed) {
    const parent = p.v.inputs[0];
    if (!parent) continue;
    const arr = byParent.get(parent) ?? [];
    arr.push(p.v);
    byParent.set(parent, arr);
  }
  const lastOfStage = new Map<number, string>();
  for (const st of model.stages) {
    let prev: string | null = null;
    if (st.baseStage !== null) prev = lastOfStage.get(st.baseStage) ?? null;
    for (const ins of st.instructions) {
      const mine = assigned.get(ins.index);
      if (mine && mine.length > 0) {
        prev = mine[mine.length - 1].digest;
        continue;
      }
      if (!(['RUN', 'COPY', 'ADD', 'WORKDIR'].includes(ins.keyword)) || prev === null) continue;
      if (ins.keyword === 'WORKDIR' && ins.workdir === '/') continue;
      const cands = (byParent.get(prev) ?? []).filter((v) => {
        const step = parseVertexName(v.name);
        return step !== null && textMatches(ins, step);
      });
      if (cands.length === 1) {
        assign(ins, cands[0]);
        prev = cands[0].digest;
      } else {
        prev = null;
      }
    }
    if (prev !== null) lastOfStage.set(st.index, prev);
  }

  const out: StepResult[] = [];
  for (const ins of model.instructions) {
    const vs = assigned.get(ins.index);
    if (!vs || vs.length === 0) continue;
    let states = vs.map(stateOf);
    if (ins.keyword === 'FROM') {
      // A FROM vertex reports cached=false when it only loads a local image; only a download builds it.
      states = vs.map((v, i) => (i === 0 && states[0] === 'built' && v.statusCount === 0 ? 'cached' : states[i]));
    }
    const state = combineStates(states);
    const r: StepResult = {
      instruction: ins.index, line: ins.line, endLine: ins.endLine, stage: ins.stage, keyword: ins.keyword, state,
      durationMs: Math.round(vs.reduce((a, v) => a + (v.cached ? 0 : v.durationMs ?? 0), 0)),
      vertices: vs.map((v) => v.digest),
    };
    const err = vs.find((v) => v.error)?.error;
    if (err) r.error = err;
    const t = triggerCount.get(ins.index);
    if (t) r.triggers = t;
    out.push(r);
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
// The legacy builder's text output

export interface LegacyStep {
  /** 1-based step number as printed (`Step 3/13`). */
  step: number;
  total: number;
  /** The instruction text as printed after `Step N/M : `. */
  text: string;
  keyword: string;
  /** ` ---> Using cache` was printed for it. */
  cached: boolean;
  /** A container ran for it (` ---> Running in ...`). */
  ran: boolean;
  /** `# Executing N build triggers` (FROM of an image with ONBUILD). */
  triggers: number;
  /** A download happened (`Pulling from`, `Pull complete`): a FROM that was not local. */
  pulled: boolean;
  startedMs: number;
  endedMs: number | null;
  /** The image the step produced (` ---> 3f2a...`). */
  imageId: string | null;
  error: string | null;
  /** The end of its output (RUN stdout/stderr), at most LOG_TAIL_CHARS characters. */
  output: string;
}

const LEGACY_STEP = /^(?:Step|STEP) (\d+)\/(\d+) ?: ?(.*)$/;
const LEGACY_CACHE = /^\s*-+> Using cache\b/;
const LEGACY_RUNNING = /^\s*-+> Running in\b/;
const LEGACY_IMAGE = /^\s*-+> ([0-9a-f]{12,64})\s*$/;
const LEGACY_TRIGGERS = /^# Executing (\d+) build triggers?/;
const LEGACY_DONE = /^Successfully built ([0-9a-f]+)|^COMMIT\b|^Successfully tagged /;

/**
 * Reads the legacy builder's stream text (`{"stream": ...}` messages, split anywhere) into steps.
 * Also reads Podman's compat output (`STEP 1/3: FROM x`, `--> Using cache <id>`).
 */
export class LegacyBuildLog {
  private buf = '';
  private readonly list: LegacyStep[] = [];
  private finished = false;

  /** Add stream text that arrived at `nowMs`. */
  feed(text: string, nowMs: number): void {
    this.buf += text;
    let i: number;
    while ((i = this.buf.indexOf('\n')) >= 0) {
      const line = this.buf.slice(0, i).replace(/\r$/, '');
      this.buf = this.buf.slice(i + 1);
      this.line(line, nowMs);
    }
    // A `Step N/M : ...` line arrives without its newline first: take it as soon as it is whole.
    if (LEGACY_STEP.test(this.buf)) {
      this.line(this.buf, nowMs);
      this.buf = '';
      this.pendingStepEcho = true;
    }
  }

  private pendingStepEcho = false;

  /** The build ended at `nowMs` (with an error message, if it failed). */
  end(nowMs: number, error?: string): void {
    if (this.buf.trim() !== '') this.line(this.buf, nowMs);
    this.buf = '';
    const cur = this.current();
    if (cur && cur.endedMs === null) {
      cur.endedMs = nowMs;
      if (error) cur.error = error;
    }
    this.finished = true;
  }

  get steps(): LegacyStep[] {
    return this.list.map((s) => ({ ...s }));
  }

  /** The step being worked on (the last one started), or undefined. */
  current(): LegacyStep | undefined {
    return this.list[this.list.length - 1];
  }

  get done(): boolean {
    return this.finished;
  }

  private line(line: string, nowMs: number): void {
    if (this.pendingStepEcho && line === '') {
      this.pendingStepEcho = false;
      return;
    }
    this.pendingStepEcho = false;
    const cur = this.current();
    const step = LEGACY_STEP.exec(line);
    if (step) {
      if (cur && cur.endedMs === null) cur.endedMs = nowMs;
      const text = step[3].trim();
      this.list.push({
        step: Number(step[1]), total: Number(step[2]), text, keyword: (/^\S+/.exec(text)?.[0] ?? '').toUpperCase(),
        cached: false, ran: false, triggers: 0, pulled: false, startedMs: nowMs, endedMs: null, imageId: null, error: null, output: '',
      });
      return;
    }
    if (!cur) return;
    if (LEGACY_CACHE.test(line)) {
      cur.cached = true;
      const id = /Using cache\s+([0-9a-f]{12,64})/.exec(line);
      if (id) cur.imageId = id[1];
      return;
    }
    if (LEGACY_RUNNING.test(line)) {
      cur.ran = true;
      return;
    }
    const img = LEGACY_IMAGE.exec(line);
    if (img) {
      cur.imageId = img[1];
      return;
    }
    const trig = LEGACY_TRIGGERS.exec(line);
    if (trig) {
      cur.triggers = Number(trig[1]);
      return;
    }
    if (/^(?:[0-9a-f]{12}: )?Pull(?:ing from| complete)|^Trying to pull /.test(line)) {
      cur.pulled = true;
      return;
    }
    if (LEGACY_DONE.test(line)) {
      if (cur.endedMs === null) cur.endedMs = nowMs;
      return;
    }
    if (/^Removing intermediate container /.test(line)) return;
    cur.output = (cur.output + line + '\n').slice(-LOG_TAIL_CHARS);
  }
}

/**
 * Map legacy steps to instructions: step N is the N-th instruction of the file (global ARGs
 * included), up to the end of the target stage.
 */
export function mapLegacyToDockerfile(model: DockerfileModel, steps: readonly LegacyStep[]): StepResult[] {
  const out: StepResult[] = [];
  const seq = model.instructions;
  for (const s of steps) {
    let ins: DockerfileInstruction | undefined = seq[s.step - 1];
    if (!ins || ins.keyword !== s.keyword) ins = seq.find((c) => c.keyword === s.keyword && loose(c.args) === loose(s.text.replace(/^\S+\s*/, '')));
    if (!ins || ins.stage < 0) continue;
    // `FROM <stage>` only names the image an earlier step made: no step of its own (as with BuildKit).
    if (ins.keyword === 'FROM' && model.stages[ins.stage]?.baseStage !== null) continue;
    let state: StepState;
    if (s.error) state = 'failed';
    else if (s.endedMs === null) state = 'running';
    else if (ins.keyword === 'FROM') state = s.pulled || (s.triggers > 0 && s.ran) ? 'built' : 'cached';
    else state = s.cached ? 'cached' : 'built';
    const r: StepResult = {
      instruction: ins.index, line: ins.line, endLine: ins.endLine, stage: ins.stage, keyword: ins.keyword, state,
      durationMs: state === 'cached' ? 0 : Math.max(0, Math.round((s.endedMs ?? s.startedMs) - s.startedMs)),
      step: s.step,
    };
    if (s.error) r.error = s.error;
    if (s.triggers) r.triggers = s.triggers;
    out.push(r);
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
// One build's messages, whichever builder answered

export type BuilderKind = 'buildkit' | 'legacy';

/** Reads every message of one /build response: BuildKit trace, legacy text, result id, errors. */
export class BuildProgress {
  readonly trace = new BuildTrace();
  readonly legacy = new LegacyBuildLog();
  /** `moby.image.id` (BuildKit) or the last `{"aux":{"ID":...}}` (legacy), when sent. */
  imageId: string | null = null;
  /** The engine's error message, if the build failed. */
  error: string | null = null;
  /** Which builder the messages came from (null until one says). */
  builder: BuilderKind | null = null;
  /** Trace messages that could not be decoded (kept going). */
  undecodable = 0;
  /** Plain output lines that are not steps (BuildKit sends a few: `Successfully tagged`). */
  private readonly otherLines: string[] = [];

  feed(msg: BuildStreamMessage, nowMs: number = Date.now()): void {
    if (msg.id === 'moby.buildkit.trace' && typeof msg.aux === 'string') {
      this.builder = 'buildkit';
      try {
        this.trace.addAux(msg.aux);
      } catch {
        this.undecodable++;
      }
      return;
    }
    if (msg.aux && typeof msg.aux === 'object' && typeof (msg.aux as { ID?: unknown }).ID === 'string') {
      this.imageId = (msg.aux as { ID: string }).ID;
      return;
    }
    if (typeof msg.error === 'string' || (msg.errorDetail && typeof msg.errorDetail.message === 'string')) {
      this.error = (msg.errorDetail?.message || msg.error || 'build failed').trim();
      this.legacy.end(nowMs, this.error);
      return;
    }
    if (typeof msg.stream === 'string') {
      if (this.builder === null && /^(?:Step|STEP) \d+\/\d+ ?:/m.test(msg.stream)) this.builder = 'legacy';
      if (this.builder !== 'buildkit') this.legacy.feed(msg.stream, nowMs);
      else if (msg.stream.trim()) this.otherLines.push(msg.stream.trim());
    }
  }

  /** The build is over (the stream ended). */
  end(nowMs: number = Date.now()): void {
    if (!this.legacy.done) this.legacy.end(nowMs, this.error ?? undefined);
  }

  /** One line for a progress display: the step running now, e.g. `[build 3/4] COPY hello.txt .`. */
  currentStep(): string | null {
    if (this.builder === 'legacy') {
      const c = this.legacy.current();
      return c ? `Step ${c.step}/${c.total} : ${c.text}${c.cached ? ' (cached)' : ''}` : null;
    }
    const running = this.trace.running().filter((v) => parseVertexName(v.name) !== null);
    if (running.length > 0) return running[running.length - 1].name + (running.length > 1 ? ` (+${running.length - 1} more)` : '');
    const latest = this.trace.latest();
    return latest ? latest.name : null;
  }

  /** Steps done and known so far (BuildKit: step vertices completed / sent; legacy: Step N-1 of M). */
  counts(): { done: number; total: number } {
    if (this.builder === 'legacy') {
      const c = this.legacy.current();
      return { done: c ? c.step - 1 : 0, total: c ? c.total : 0 };
    }
    const steps = this.trace.vertices.filter((v) => parseVertexName(v.name) !== null);
    return { done: steps.filter((v) => v.completed !== null).length, total: steps.length };
  }

  /**
   * Per-instruction results of this build. `stages`: the stages the build ran, when known (a
   * target's): BuildKit shares one FROM vertex among the stages with the same base, named after
   * one of them, so without it a later stage's FROM can get a result the build never ran.
   */
  results(model: DockerfileModel, stages?: readonly number[]): StepResult[] {
    const all = this.builder === 'legacy' ? mapLegacyToDockerfile(model, this.legacy.steps) : mapTraceToDockerfile(model, this.trace.vertices);
    if (!stages) return all;
    const ran = new Set(stages);
    return all.filter((r) => ran.has(r.stage) || r.keyword !== 'FROM');
  }

  /** The failing step's line (1-based) and message, when the build failed on one. */
  failure(model: DockerfileModel): { line: number | null; message: string } | null {
    if (this.error === null && !this.trace.failed()) return null;
    const failed = this.results(model).find((r) => r.state === 'failed');
    const message = this.error ?? failed?.error ?? 'build failed';
    let line = failed ? failed.line : null;
    // Parse errors name the line themselves: `dockerfile parse error line 3: unknown instruction`.
    const m = line === null ? /(?:parse error|error).*?\bline (\d+)\b/i.exec(message) : null;
    if (m) line = Number(m[1]);
    return { line, message };
  }
}
