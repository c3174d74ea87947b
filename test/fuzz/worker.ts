// Fuzz worker thread: receives the corpus once, then case requests; regenerates each case from its
// seed, runs it, and answers with the outcome. The main thread (harness.ts) times every case and
// terminates this worker when one does not answer in time (a hang, even a synchronous loop).
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { Readable } from 'node:stream';
import { parentPort, workerData } from 'node:worker_threads';
import { gzipSync } from 'node:zlib';
import { assembleArchive } from '../../src/core/image/tar/archive';
import { readArchiveStream } from '../../src/core/image/tar/archiveStream';
import type { EngineClient } from '../../src/engine/types';
import { openImageSource } from '../../src/sources/load';
import { parseDockerfile, instructionAtLine } from '../../src/core/dockerfile/dockerfile';
import { mapHistory } from '../../src/core/dockerfile/mapping';
import { historyFromConfig } from '../support/history';
import { lensLabel, lineInfos, linesMargin } from '../../src/core/present/lines';
import { layerLinesFromDockerfile } from '../../src/core/present/treeModel';
import { Rng, mutateArchive, mutateDockerfile } from './mutate';
import { isExpectedError, runPipeline } from './pipeline';
import type { Seed } from './corpus';
import type { HistoryEntry } from '../../src/core/image/types';

export interface CaseRequest { id: number; kind: 'archive' | 'reader' | 'dockerfile' | 'probe'; seedIndex: number; caseSeed: number }
export interface CaseResult {
  id: number;
  outcome: 'ok' | 'typed' | 'crash';
  /** Typed error code, or the crash's error name and message. */
  detail?: string;
  stack?: string;
  what: string[];
  ms: number;
}

interface Data {
  seeds: Array<{ name: string; buf: Uint8Array; gzipAfter?: boolean }>;
  dockerfiles: Array<{ name: string; text: string }>;
  histories: Array<{ name: string; history: unknown[] }>;
}

const data = workerData as Data;
const seeds: Seed[] = data.seeds.map((s) => ({ name: s.name, buf: Buffer.from(s.buf.buffer, s.buf.byteOffset, s.buf.byteLength), gzipAfter: s.gzipAfter }));
const histories: HistoryEntry[][] = data.histories.map((h) => historyFromConfig(h.history as []));
let current: CaseRequest | undefined;

function* chunked(b: Buffer, size: number): Generator<Buffer> {
  for (let i = 0; i < b.length; i += size) yield b.subarray(i, i + size);
}

async function runArchive(req: CaseRequest): Promise<Omit<CaseResult, 'id' | 'ms'>> {
  const seed = seeds[req.seedIndex];
  const r = new Rng(req.caseSeed);
  const m = req.caseSeed === 0 ? { buf: seed.buf, what: ['unmutated'] } : mutateArchive(seed.buf, r);
  const input = seed.gzipAfter ? gzipSync(m.buf, { level: 1 }) : m.buf;
  const what = [seed.name, ...m.what];
  try {
    await runPipeline(chunked(input, 1 + (req.caseSeed % 3) * 40_000 + 1000), { maxRows: 2000 });
    return { outcome: 'ok', what };
  } catch (e) {
    if (isExpectedError(e)) return { outcome: 'typed', detail: (e as { code?: string }).code ?? (e as Error).name, what };
    const err = e as Error;
    return { outcome: 'crash', detail: `${err?.name}: ${err?.message}`, stack: err?.stack, what };
  }
}

// The file-version reader (layerlens: documents): a mutated archive as a file on disk and as an
// engine export stream, asked for a path that the unmutated seed holds.
const readerDir = mkdtempSync(path.join(os.tmpdir(), 'll-fuzz-'));
process.on('exit', () => rmSync(readerDir, { recursive: true, force: true }));
const targets = new Map<number, Array<{ diffId: string; path: string; tarBytes: number }>>();

async function targetsOf(seedIndex: number): Promise<Array<{ diffId: string; path: string; tarBytes: number }>> {
  let t = targets.get(seedIndex);
  if (!t) {
    const seed = seeds[seedIndex];
    const img = await assembleArchive(await readArchiveStream([seed.buf]), { kind: 'docker-archive', ref: 'seed' });
    t = img.layers.flatMap((l) => l.entries.filter((e) => e.type !== 'dir').slice(0, 3).map((e) => ({ diffId: l.diffId, path: e.path, tarBytes: l.tarBytes })));
    if (t.length === 0) t = [{ diffId: img.diffIds[0] ?? 'sha256:' + '0'.repeat(64), path: '/x', tarBytes: 0 }];
    targets.set(seedIndex, t);
  }
  return t;
}

const READER_OK = new Set(['ImageFormatError', 'EntryNotFoundError', 'CancelledError']);

async function runReader(req: CaseRequest): Promise<Omit<CaseResult, 'id' | 'ms'>> {
  const seed = seeds[req.seedIndex];
  const r = new Rng(req.caseSeed);
  const m = mutateArchive(seed.buf, r);
  const t = r.pick(await targetsOf(req.seedIndex));
  const what = [seed.name, ...m.what, `read ${t.path}`];
  const file = path.join(readerDir, 'case.tar');
  writeFileSync(file, m.buf);
  const fake = { exportImage: async () => Readable.from([m.buf]) } as unknown as EngineClient;
  const entryReq = { diffId: t.diffId, path: t.path, tarBytes: r.chance(0.5) ? t.tarBytes : undefined, maxBytes: 1 << 20 };
  try {
    for (const spec of [{ kind: 'docker-archive' as const, path: file }, { kind: 'engine' as const, name: 'fuzz' }]) {
      try {
        await openImageSource(spec, { engine: async () => fake }).readFile(entryReq.diffId, entryReq.path, entryReq);
      } catch (e) {
        if (!READER_OK.has((e as Error)?.name)) throw e;
      }
    }
    return { outcome: 'ok', what };
  } catch (e) {
    const err = e as Error;
    return { outcome: 'crash', detail: `${err?.name}: ${err?.message}`, stack: err?.stack, what };
  }
}

function runDockerfile(req: CaseRequest): Omit<CaseResult, 'id' | 'ms'> {
  const src = data.dockerfiles[req.seedIndex % data.dockerfiles.length];
  const r = new Rng(req.caseSeed);
  const { text, what } = mutateDockerfile(src.text, r);
  const history = histories[r.int(histories.length)];
  const sizes = history.map(() => r.int(3) === 0 ? 0 : r.int(50_000_000));
  const label = [src.name, ...what];
  try {
    const model = parseDockerfile(text, { buildArgs: r.chance(0.3) ? { VERSION: '1' } : undefined });
    const stage = r.chance(0.2) ? r.pick([0, 1, 'build', 'missing', -1, 99]) : undefined;
    const mapping = mapHistory(model, history, { entrySizes: sizes, stage });
    const cache = new Map(mapping.lines.map((l) => [l.line, { cache: r.pick(['cached', 'built', 'will-rebuild', 'unknown'] as const), reason: r.chance(0.5) ? 'line 3 changed' : undefined, durationMs: r.int(100_000) }]));
    const infos = lineInfos(mapping, sizes, r.chance(0.5) ? cache : undefined);
    for (const i of infos) lensLabel(i);
    linesMargin(text, infos);
    const lines = text.split('\n').length;
    for (let l = 0; l <= lines + 1; l++) instructionAtLine(model, l);
    layerLinesFromDockerfile(text, history);
    return { outcome: 'ok', what: label };
  } catch (e) {
    const err = e as Error;
    return { outcome: 'crash', detail: `${err?.name}: ${err?.message}`, stack: err?.stack, what: label };
  }
}

// An exception that escapes a case (a stream error event nobody listens to, a rejected promise
// nobody awaits) is a crash of that case.
const escaped = (e: unknown): void => {
  const err = e as Error;
  parentPort!.postMessage({ escaped: true, id: current?.id, detail: `${err?.name}: ${err?.message}`, stack: err?.stack });
};
process.on('uncaughtException', escaped);
process.on('unhandledRejection', escaped);

/** The harness's own check: a crash, a synchronous hang and an escaped async error must be seen. */
async function runProbe(req: CaseRequest): Promise<Omit<CaseResult, 'id' | 'ms'>> {
  if (req.seedIndex === 0) return { outcome: 'crash', detail: 'TypeError: probe', what: ['probe crash'] };
  if (req.seedIndex === 1) for (;;) { /* a synchronous loop: only terminating the worker ends it */ }
  setTimeout(() => { throw new RangeError('probe escaped'); }, 0);
  await new Promise((r) => setTimeout(r, 20));
  return { outcome: 'ok', what: ['probe escaped'] };
}

parentPort!.on('message', (req: CaseRequest) => {
  current = req;
  const t0 = Date.now();
  const p = req.kind === 'archive' ? runArchive(req) : req.kind === 'reader' ? runReader(req) : req.kind === 'probe' ? runProbe(req) : Promise.resolve(runDockerfile(req));
  void p.then((res) => {
    // Let stray errors of this case (emitted after it settled) surface before the next one starts.
    setImmediate(() => parentPort!.postMessage({ ...res, id: req.id, ms: Date.now() - t0 } satisfies CaseResult));
  });
});
parentPort!.postMessage({ ready: true });
