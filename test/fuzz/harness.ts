// Runs fuzz cases in a worker thread with a per-case timeout and counts outcomes. A case that throws
// anything but ImageFormatError / CancelledError (or lets an exception escape) is a crash; a case
// that does not answer within its timeout is a hang (the worker is terminated and replaced). Both
// must stay at 0. Each failure carries what is needed to replay it: kind, seed, case seed, edits.
import { Worker } from 'node:worker_threads';
import * as path from 'node:path';
import { buildCorpus, dockerfileCorpus, type Seed } from './corpus';
import type { CaseRequest, CaseResult } from './worker';

export interface FuzzOptions {
  /** Archive cases (mutated images through the full read → analyze path). */
  archiveCases: number;
  /** Dockerfile cases (edited Dockerfiles through parse → map → lines → lens labels). */
  dockerfileCases: number;
  /** File-version reader cases (a mutated archive as a file and as an engine stream, one path read). */
  readerCases?: number;
  /** Global seed: the same seed runs the same cases. */
  seed?: number;
  /** Include the whole 76 MB example archive as a seed (slow: about a second per case). */
  fullExample?: boolean;
  /** Lower bound of the per-case timeout in ms (default 10000); the bound is also 25× the seed's own time. */
  minTimeoutMs?: number;
  /** Stop after this many ms even if cases remain (default: no limit). */
  budgetMs?: number;
  onProgress?: (done: number, total: number, stats: FuzzStats) => void;
  /** Also run three probe cases (a crash, a synchronous hang, an escaped error) to prove detection. */
  probes?: boolean;
}

export interface Failure {
  kind: 'archive' | 'reader' | 'dockerfile' | 'probe';
  seed: string;
  seedIndex: number;
  caseSeed: number;
  what: string[];
  detail: string;
  stack?: string;
}

export interface FuzzStats {
  cases: number;
  archiveCases: number;
  dockerfileCases: number;
  readerCases: number;
  ok: number;
  typed: Record<string, number>;
  crashes: Failure[];
  hangs: Failure[];
  ms: number;
  seeds: string[];
  /** The slowest case that answered, in ms. */
  slowestMs: number;
}

function caseSeedOf(global: number, id: number): number {
  let x = (global ^ Math.imul(id + 1, 0x9e3779b1)) >>> 0;
  x ^= x >>> 16; x = Math.imul(x, 0x85ebca6b) >>> 0; x ^= x >>> 13;
  return (x >>> 0) || 1;
}

class Runner {
  private worker!: Worker;
  private pending: { resolve: (r: CaseResult | { escaped: true; detail: string; stack?: string }) => void } | undefined;
  private escapedFor = new Map<number, { detail: string; stack?: string }>();

  constructor(private readonly data: unknown) {}

  async start(): Promise<void> {
    const w = new Worker(path.join(__dirname, 'worker.js'), { workerData: this.data, resourceLimits: { maxOldGenerationSizeMb: 3072 } });
    this.worker = w;
    await new Promise<void>((resolve, reject) => {
      const onMsg = (m: { ready?: boolean }): void => { if (m.ready) { w.off('message', onMsg); w.off('error', reject); resolve(); } };
      w.on('message', onMsg);
      w.once('error', reject);
    });
    // Events of a worker already replaced (its exit after terminate) must not touch the new one's case.
    w.on('message', (m: CaseResult & { escaped?: boolean; detail?: string }) => {
      if (w !== this.worker) return;
      if (m.escaped) {
        if (typeof m.id === 'number') this.escapedFor.set(m.id, { detail: m.detail ?? '', stack: m.stack });
        return;
      }
      const p = this.pending;
      this.pending = undefined;
      p?.resolve(m);
    });
    w.on('error', (e) => {
      if (w !== this.worker) return;
      const p = this.pending;
      this.pending = undefined;
      p?.resolve({ escaped: true, detail: `worker died: ${e.name}: ${e.message}`, stack: e.stack });
    });
    w.on('exit', () => {
      if (w !== this.worker) return;
      const p = this.pending;
      this.pending = undefined;
      p?.resolve({ escaped: true, detail: 'worker exited' });
    });
  }

  /** The case's result, 'hang' on timeout (the worker is then replaced), or an escaped error. */
  async run(req: CaseRequest, timeoutMs: number): Promise<CaseResult | 'hang' | { escaped: true; detail: string; stack?: string }> {
    let timer: NodeJS.Timeout | undefined;
    const answer = new Promise<CaseResult | { escaped: true; detail: string; stack?: string }>((resolve) => { this.pending = { resolve }; });
    const timeout = new Promise<'hang'>((resolve) => { timer = setTimeout(() => resolve('hang'), timeoutMs); });
    const r = await Promise.race([answer, timeout]);
    clearTimeout(timer);
    if (r === 'hang' || 'escaped' in r) {
      this.pending = undefined;
      await this.worker.terminate().catch(() => undefined);
      await this.start();
      return r;
    }
    const esc = this.escapedFor.get(req.id);
    if (esc) { this.escapedFor.delete(req.id); return { escaped: true, ...esc }; }
    return r;
  }

  send(req: CaseRequest): void { this.worker.postMessage(req); }

  async stop(): Promise<void> { await this.worker.terminate(); }
}

export async function runFuzz(opts: FuzzOptions): Promise<FuzzStats> {
  const t0 = Date.now();
  const global = opts.seed ?? 0x5eed;
  const seeds: Seed[] = await buildCorpus({ fullExample: opts.fullExample });
  const dc = dockerfileCorpus();
  const runner = new Runner({
    seeds: seeds.map((s) => ({ name: s.name, buf: new Uint8Array(s.buf.buffer, s.buf.byteOffset, s.buf.byteLength), gzipAfter: s.gzipAfter })),
    dockerfiles: dc.dockerfiles, histories: dc.histories,
  });
  await runner.start();
  const stats: FuzzStats = { cases: 0, archiveCases: 0, dockerfileCases: 0, readerCases: 0, ok: 0, typed: {}, crashes: [], hangs: [], ms: 0, seeds: seeds.map((s) => s.name), slowestMs: 0 };
  const minTimeout = opts.minTimeoutMs ?? 10_000;
  // Baselines: each seed unmutated must read; its time scales that seed's timeout.
  const timeouts: number[] = [];
  for (const [i, s] of seeds.entries()) {
    const req: CaseRequest = { id: -1 - i, kind: 'archive', seedIndex: i, caseSeed: 0 };
    runner.send(req);
    const r = await runner.run(req, 10 * 60_000);
    if (r === 'hang' || 'escaped' in r || r.outcome !== 'ok') {
      await runner.stop();
      throw new Error(`seed ${s.name} does not read unmutated: ${JSON.stringify(r).slice(0, 300)}`);
    }
    timeouts.push(Math.max(minTimeout, 25 * r.ms));
  }
  // Seeds are drawn round-robin; the whole example (if present) gets one case in 20.
  const archiveSeedOrder: number[] = [];
  for (const [i, s] of seeds.entries()) for (let k = 0; k < (s.name === 'example' ? 1 : 3); k++) archiveSeedOrder.push(i);
  // Reader cases skip the whole example and the gzip-after seed (the reader reads files as they are).
  const readerSeeds = seeds.map((s, i) => [s, i] as const).filter(([s]) => s.name !== 'example' && !s.gzipAfter).map(([, i]) => i);
  const readerSeed = (kind: 'archive' | 'reader', caseSeed: number): number =>
    kind === 'reader' ? readerSeeds[caseSeed % readerSeeds.length] : archiveSeedOrder[caseSeed % archiveSeedOrder.length];
  const total = opts.archiveCases + opts.dockerfileCases + (opts.readerCases ?? 0);
  const base: Array<'archive' | 'dockerfile'> = [];
  for (let i = 0, a = 0, d = 0; i < opts.archiveCases + opts.dockerfileCases; i++) {
    // Interleave the two kinds in proportion.
    if (d >= opts.dockerfileCases || (a < opts.archiveCases && a * opts.dockerfileCases <= d * opts.archiveCases)) { base.push('archive'); a++; } else { base.push('dockerfile'); d++; }
  }
  // Reader cases are spread evenly through the run.
  const readers = opts.readerCases ?? 0;
  const order: Array<'archive' | 'reader' | 'dockerfile' | 'probe'> = [];
  for (let i = 0, r = 0; i <= base.length; i++) {
    while (r < readers && Math.floor(((r + 1) * base.length) / (readers + 1)) <= i) { order.push('reader'); r++; }
    if (i < base.length) order.push(base[i]);
  }
  if (opts.probes) order.push('probe', 'probe', 'probe');
  let probe = 0;
  try {
    for (let id = 0; id < order.length; id++) {
      if (opts.budgetMs !== undefined && Date.now() - t0 > opts.budgetMs) break;
      const kind = order[id];
      const caseSeed = caseSeedOf(global, id);
      const seedIndex = kind === 'archive' || kind === 'reader' ? readerSeed(kind, caseSeed) : kind === 'probe' ? probe++ : caseSeed % dc.dockerfiles.length;
      const req: CaseRequest = { id, kind, seedIndex, caseSeed };
      const seedName = kind === 'archive' || kind === 'reader' ? seeds[seedIndex].name : kind === 'probe' ? 'probe' : dc.dockerfiles[seedIndex].name;
      runner.send(req);
      const timeout = kind === 'archive' || kind === 'reader' ? timeouts[seedIndex] : kind === 'probe' ? 2000 : minTimeout;
      const r = await runner.run(req, timeout);
      stats.cases++;
      if (kind === 'archive') stats.archiveCases++; else if (kind === 'reader') stats.readerCases++; else if (kind === 'dockerfile') stats.dockerfileCases++;
      const failure = (detail: string, what: string[] = [], stack?: string): Failure => ({ kind, seed: seedName, seedIndex, caseSeed, what, detail, stack });
      if (r === 'hang') stats.hangs.push(failure(`no answer within ${timeout} ms`));
      else if ('escaped' in r) stats.crashes.push(failure(`escaped: ${r.detail}`, [], r.stack));
      else {
        stats.slowestMs = Math.max(stats.slowestMs, r.ms);
        if (r.outcome === 'ok') stats.ok++;
        else if (r.outcome === 'typed') stats.typed[r.detail ?? '?'] = (stats.typed[r.detail ?? '?'] ?? 0) + 1;
        else stats.crashes.push(failure(r.detail ?? '', r.what, r.stack));
      }
      opts.onProgress?.(stats.cases, total, stats);
    }
  } finally {
    await runner.stop();
  }
  stats.ms = Date.now() - t0;
  return stats;
}

/** One line per failure, for test messages and the CLI. */
export function describeFailures(s: FuzzStats): string {
  return [...s.crashes.map((f) => ['CRASH', f] as const), ...s.hangs.map((f) => ['HANG', f] as const)]
    .map(([k, f]) => `${k} ${f.kind} seed=${f.seed}#${f.seedIndex} case=${f.caseSeed} [${f.what.join(', ')}] ${f.detail}${f.stack ? '\n    ' + f.stack.split('\n').slice(1, 5).join('\n    ') : ''}`)
    .join('\n');
}
