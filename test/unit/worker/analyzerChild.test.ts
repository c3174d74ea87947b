// The analysis process: an analysis through it gives what the worker thread's own analysis gives
// (the same index columns, dive's figures, partial analyses), a cancelled one kills it, one killed
// from outside is one error, its spool directory never outlives it, and when it cannot start the
// worker thread analyses itself and says why.
import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import type { Analysis } from '../../../src/core/image/analysis';
import { CancelledError, ImageFormatError } from '../../../src/core/image/errors';
import { INDEX_RECORD_VERSION } from '../../../src/core/image/index/indexRecord';
import { indexParts } from '../../../src/core/image/index/transfer';
import { analyzeJson, fileRecords } from '../../../src/core/present/report';
import { AnalysisWorkerClient, type WorkerAnalyzeOptions } from '../../../src/worker/client';
import { dockerSave, makeTar, ociLayout, writeLayout } from '../support/tars';
import { repoRoot, OUT_ROOT } from '../../support/repo';

const WORKER = path.join(OUT_ROOT, 'src', 'worker', 'analysisWorker.js');
const BUNDLED = path.join(repoRoot(), 'dist', 'worker.js');

/**
 * A client whose worker thread starts with `env` set (a worker thread copies the environment when
 * it starts: the client starts it on its first analysis, here).
 */
async function withEnv<T>(env: Record<string, string | undefined>, f: () => Promise<T>): Promise<T> {
  const saved = Object.fromEntries(Object.keys(env).map((k) => [k, process.env[k]]));
  const set = (vals: Record<string, string | undefined>): void => {
    for (const [k, v] of Object.entries(vals)) {
      if (v === undefined) delete process.env[k];
      else process.env[k] = v;
    }
  };
  set(env);
  try {
    return await f();
  } finally {
    set(saved);
  }
}

interface Run { analysis: Analysis; analyzer: string; partials: Array<{ layers: number; index: unknown; files: unknown }>; logs: string[] }

async function runOn(client: AnalysisWorkerClient, source: string, opts: WorkerAnalyzeOptions = {}): Promise<Run> {
  const partials: Run['partials'] = [];
  const logs: string[] = [];
  const { analysis, stats } = await client.analyzeWithStats(source, {
    partialEveryMs: 0,
    onPartial: (a, merged, total) => {
      assert.equal(a.image.layers.length, merged);
      assert.ok(merged < total);
      partials.push({ layers: merged, index: indexParts(a.index).parts, files: [...fileRecords(a)] });
    },
    onLog: (l) => logs.push(l),
    ...opts,
  });
  return { analysis, analyzer: stats.analyzer.kind, partials, logs };
}

function sameRun(a: Run, b: Run, what: string): void {
  assert.deepEqual(analyzeJson(a.analysis), analyzeJson(b.analysis), what);
  assert.deepEqual([...fileRecords(a.analysis)], [...fileRecords(b.analysis)], what);
  assert.deepEqual(a.analysis.dive, b.analysis.dive, `${what}: dive's figures`);
  assert.deepEqual(indexParts(a.analysis.index).parts, indexParts(b.analysis.index).parts, `${what}: the image index's columns`);
  assert.deepEqual(a.partials.map((p) => p.layers), b.partials.map((p) => p.layers), `${what}: partial analyses`);
  a.partials.forEach((p, i) => {
    assert.deepEqual(p.index, b.partials[i].index, `${what}: partial ${p.layers}'s index`);
    assert.deepEqual(p.files, b.partials[i].files, `${what}: partial ${p.layers}'s files`);
  });
}

/** Node processes that are children of this process and run the analysis process's script. */
function analyzerChildren(): number[] {
  const out: number[] = [];
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    try {
      const stat = readFileSync(`/proc/${name}/stat`, 'utf8');
      const [state, ppid] = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      const cmd = readFileSync(`/proc/${name}/cmdline`, 'utf8');
      if (Number(ppid) === process.pid && state !== 'Z' && /analyzer(Process)?\.js/.test(cmd)) out.push(Number(name));
    } catch {
      // gone meanwhile
    }
  }
  return out;
}

async function until<T>(f: () => T | undefined, ms: number, what: string): Promise<T> {
  const end = Date.now() + ms;
  for (;;) {
    const v = f();
    if (v !== undefined) return v;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 5));
  }
}

const spools = (tmp: string): string[] => readdirSync(tmp).filter((n) => n.startsWith('layerlens-analysis-'));

/** An archive big enough that its analysis takes a while (8 layers of 8,000 files). */
async function bigArchive(file: string): Promise<void> {
  const layers: Buffer[] = [];
  for (let l = 0; l < 8; l++) {
    layers.push(await makeTar([{ name: `d${l}/`, type: 'directory' }, ...Array.from({ length: 8_000 }, (_, i) => ({ name: `d${l}/s${i % 50}/f${i}`, size: i % 300 }))]));
  }
  writeFileSync(file, await dockerSave({ layers, tag: 'big:test' }));
}

test('an analysis through the analysis process equals the worker thread\'s own (example and fixture archives, an OCI layout, a cache)', async () => {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'layerlens-analyzer-'));
  const tmp = path.join(dir, 'tmp');
  mkdirSync(tmp);
  const layout = path.join(dir, 'oci');
  const layers = await Promise.all([0, 1, 2].map((l) => makeTar([
    { name: `d${l}/`, type: 'directory' }, ...Array.from({ length: 300 }, (_, i) => ({ name: `d${l}/f${i}`, size: (i * 7 + l) % 500 })),
    { name: 'shared', size: 10 * (l + 1) }, ...(l > 0 ? [{ name: `d${l - 1}/.wh.f3` }] : []),
  ])));
  writeLayout(layout, ociLayout({ layers, tag: 'x' }, 'gzip'));
  const sources = [
    path.join(repoRoot(), 'example', 'image.tar.gz'),
    path.join(repoRoot(), 'test', 'fixtures', 'dive', 'test-docker-image.tar'),
    path.join(repoRoot(), 'test', 'fixtures', 'dive', 'test-oci-gzip-image.tar'),
    `oci:${layout}`,
  ];
  const viaProcess = await withEnv({ TMPDIR: tmp, LAYERLENS_ANALYZER: undefined }, async () => new AnalysisWorkerClient(WORKER));
  const inThread = await withEnv({ TMPDIR: tmp, LAYERLENS_ANALYZER: 'off' }, async () => new AnalysisWorkerClient(WORKER));
  try {
    for (const source of sources) {
      const p = await withEnv({ TMPDIR: tmp, LAYERLENS_ANALYZER: undefined }, () => runOn(viaProcess, source));
      const t = await withEnv({ TMPDIR: tmp, LAYERLENS_ANALYZER: 'off' }, () => runOn(inThread, source));
      assert.equal(p.analyzer, 'process', source);
      assert.equal(t.analyzer, 'thread', source);
      sameRun(p, t, source);
      // A layout tells its stack order first: partial analyses come while its layers are read.
      if (source.startsWith('oci:')) assert.deepEqual(p.partials.map((x) => x.layers), [1, 2], `${source}: partial analyses through the process`);
    }
    // With a cache: the cold analysis through the process stores the image index and summary, the
    // warm one (through the process, and in the thread) reads them and agrees.
    const cacheDir = path.join(dir, 'cache');
    const cold = await runOn(viaProcess, sources[1], { cacheDir });
    assert.equal(readdirSync(path.join(cacheDir, `indexes-v${INDEX_RECORD_VERSION}`)).length, 1, 'the process stored the image index');
    assert.equal(readdirSync(path.join(cacheDir, 'analyses-v1')).length, 1, 'and the summary');
    const warm = await viaProcess.analyzeWithStats(sources[1], { cacheDir });
    assert.ok(warm.stats.cacheHits > 0);
    const warmThread = await withEnv({ LAYERLENS_ANALYZER: 'off' }, () => runOn(inThread, sources[1], { cacheDir }));
    sameRun({ ...cold, partials: [] }, { analysis: warm.analysis, analyzer: 'process', partials: [], logs: [] }, 'warm through the process');
    sameRun({ ...cold, partials: [] }, { ...warmThread, partials: [] }, 'warm in the thread');
    // Errors keep their type through the process.
    const bad = path.join(dir, 'bad.tar');
    writeFileSync(bad, Buffer.from('not a tar at all, just text'.repeat(40)));
    await assert.rejects(viaProcess.analyze(bad), (e: unknown) => e instanceof ImageFormatError);
    // No spool directory outlives its analysis: each goes before the result (or the error) is posted.
    assert.deepEqual(spools(tmp), []);
  } finally {
    viaProcess.dispose();
    inThread.dispose();
    rmSync(dir, { recursive: true, force: true });
  }
});

test('a cancelled analysis kills its analysis process and leaves no spool directory; one killed from outside is one error', { skip: process.platform !== 'linux' && 'reads /proc' }, async () => {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'layerlens-analyzer-'));
  const tmp = path.join(dir, 'tmp');
  mkdirSync(tmp);
  const file = path.join(dir, 'big.tar');
  await bigArchive(file);
  // The bundled worker thread and analysis process (dist/), as the extension runs them.
  assert.ok(existsSync(BUNDLED), `${BUNDLED} is missing: run node scripts/build.mjs first`);
  const client = await withEnv({ TMPDIR: tmp, LAYERLENS_ANALYZER: undefined }, async () => new AnalysisWorkerClient(BUNDLED));
  try {
    await withEnv({ TMPDIR: tmp }, async () => {
      // Cancelled once the process has said something (its plan or progress).
      const ac = new AbortController();
      let heard = false;
      const p = client.analyze(file, { signal: ac.signal, partialEveryMs: 0, onPartial: () => { heard = true; }, onProgress: () => { heard = true; } });
      const pid = await until(() => analyzerChildren()[0], 20_000, 'the analysis process');
      const [spool] = spools(tmp);
      assert.ok(spool, 'the process has a spool directory');
      assert.equal(statSync(path.join(tmp, spool)).mode & 0o777, 0o700, 'private to its user');
      await until(() => (heard ? true : undefined), 20_000, 'the first message of the analysis process');
      // Stopped, it cannot end by itself: only the cancellation's kill ends it.
      process.kill(pid, 'SIGSTOP');
      ac.abort();
      await assert.rejects(p, (e: unknown) => e instanceof CancelledError);
      await until(() => (existsSync(`/proc/${pid}`) && !analyzerChildren().every((c) => c !== pid) ? undefined : true), 5000, `process ${pid} to end`);
      await until(() => (spools(tmp).length === 0 ? true : undefined), 5000, 'the spool directory to go');

      // Killed from outside (SIGKILL: what the kernel's out-of-memory killer sends) mid-analysis.
      let errors = 0;
      let partials = 0;
      let killed = false;
      const q = client.analyze(file, {
        partialEveryMs: 0,
        onPartial: () => {
          partials++;
          if (!killed) {
            killed = true;
            process.kill(analyzerChildren()[0], 'SIGKILL');
          }
        },
      }).catch((e: Error) => { errors++; throw e; });
      await assert.rejects(q, (e: Error) => /analysis process was killed \(SIGKILL/.test(e.message) && !(e instanceof CancelledError));
      assert.equal(errors, 1);
      assert.ok(killed && partials >= 1);
      await until(() => (spools(tmp).length === 0 ? true : undefined), 5000, 'the spool directory to go');
      // The worker thread is still usable afterwards.
      const ok = await client.analyzeWithStats(file);
      assert.equal(ok.analysis.image.layers.length, 8);
      assert.equal(ok.stats.analyzer.kind, 'process');
      assert.ok(ok.stats.analyzer.kind === 'process' && ok.stats.analyzer.peakRssKiB > 10_000, 'the process reports its peak RSS');
      await until(() => (spools(tmp).length === 0 && analyzerChildren().length === 0 ? true : undefined), 5000, 'the process and its spool to go');
      // The worker thread ended mid-analysis (the client disposed, as when the extension host closes):
      // the process ends and removes its spool.
      const r = client.analyze(file).catch((e: Error) => e);
      await until(() => analyzerChildren()[0], 20_000, 'the analysis process');
      await until(() => (spools(tmp).length === 1 ? true : undefined), 5000, 'its spool');
      client.dispose();
      assert.ok((await r) instanceof Error);
      await until(() => (spools(tmp).length === 0 && analyzerChildren().length === 0 ? true : undefined), 5000, 'the process and its spool to go after the worker thread');
    });
  } finally {
    client.dispose();
    for (const pid of analyzerChildren()) process.kill(pid, 'SIGKILL');
    rmSync(dir, { recursive: true, force: true });
  }
});

test('without an analysis process (none found, or one that fails to start) the worker thread analyses itself and says why', async () => {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'layerlens-analyzer-'));
  const file = path.join(repoRoot(), 'test', 'fixtures', 'dive', 'test-docker-image.tar');
  const broken = path.join(dir, 'broken.js');
  writeFileSync(broken, 'throw new Error("this analysis process does not load");\n');
  const reference = await withEnv({ LAYERLENS_ANALYZER: 'off' }, async () => {
    const c = new AnalysisWorkerClient(WORKER);
    try { return await runOn(c, file); } finally { c.dispose(); }
  });
  try {
    for (const [script, why] of [[path.join(dir, 'missing.js'), /missing\.js \(LAYERLENS_ANALYZER\) does not exist/], [broken, /exited \(code 1\) before it started: .*does not load/]] as const) {
      const r = await withEnv({ LAYERLENS_ANALYZER: script }, async () => {
        const c = new AnalysisWorkerClient(WORKER);
        try { return await runOn(c, file); } finally { c.dispose(); }
      });
      assert.equal(r.analyzer, 'thread', script);
      assert.equal(r.logs.length, 1, script);
      assert.match(r.logs[0], /^analysing in the worker thread: /);
      assert.match(r.logs[0], why);
      sameRun(r, reference, script);
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
