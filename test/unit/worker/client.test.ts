// Analysis through the worker thread gives what analyze() gives on the same image, reports
// progress and partial analyses in stack order, maps errors to the same types, and cancels.
import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { analyze } from '../../../src/core/image/analysis';
import { CancelledError, ImageFormatError } from '../../../src/core/image/errors';
import { analyzeJson, fileRecords } from '../../../src/core/present/report';
import type { LayerIndex } from '../../../src/core/image/types';
import { loadImage } from '../../../src/sources/load';
import { AnalysisWorkerClient } from '../../../src/worker/client';
import { INDEX_RECORD_VERSION, decodeImageIndex, encodeImageIndex } from '../../../src/core/image/index/indexRecord';
import { dockerSave, makeTar, ociLayout, writeLayout, type ImageSpec } from '../support/tars';
import { repoRoot, OUT_ROOT } from '../../support/repo';

const WORKER = path.join(OUT_ROOT, 'src', 'worker', 'analysisWorker.js');

async function spec(): Promise<ImageSpec> {
  const layers: Buffer[] = [];
  for (let l = 0; l < 6; l++) {
    layers.push(await makeTar([
      { name: `d${l}/`, type: 'directory' },
      ...Array.from({ length: 400 }, (_, i) => ({ name: `d${l}/f${i}`, size: (i * 13 + l) % 900 })),
      { name: 'shared/file', size: 100 * (l + 1) },
      ...(l > 0 ? [{ name: `d${l - 1}/.wh.f7` }] : []),
    ]));
  }
  return { layers, tag: 'worker:test' };
}

function same(a: ReturnType<typeof analyze>, b: ReturnType<typeof analyze>): void {
  assert.deepEqual(analyzeJson(a), analyzeJson(b));
  assert.deepEqual([...fileRecords(a)], [...fileRecords(b)]);
  assert.deepEqual(a.dive, b.dive);
  // The extension's side keeps entries encoded (RecordIndex): compare what a LayerIndex says.
  const plain = (l: LayerIndex): LayerIndex => ({
    diffId: l.diffId, entries: [...l.entries], whiteouts: l.whiteouts, opaqueDirs: l.opaqueDirs, tarFileBytes: l.tarFileBytes,
    tarEntries: l.tarEntries, tarBytes: l.tarBytes, compression: l.compression, warnings: l.warnings,
  });
  assert.deepEqual(a.image.layers.map(plain), b.image.layers.map(plain));
}

test('no partial analysis once most of the source is read: a bottom layer of nearly all the bytes gives none, unless partialUntil says 1', async () => {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'layerlens-worker-'));
  const client = new AnalysisWorkerClient(WORKER);
  try {
    // The bottom layer holds about 95 % of the archive's bytes; the two above are small.
    const layers = [
      await makeTar(Array.from({ length: 200 }, (_, i) => ({ name: `big/f${i}`, size: 8000 }))),
      await makeTar([{ name: 'small/a', size: 10 }]),
      await makeTar([{ name: 'small/b', size: 10 }]),
    ];
    const file = path.join(dir, 'img.tar');
    writeFileSync(file, await dockerSave({ layers, tag: 'partial:test' }));
    const partialsWith = async (opts: { partialUntil?: number }): Promise<number[]> => {
      const got: number[] = [];
      const a = await client.analyze(file, { partialEveryMs: 0, onPartial: (_a, merged) => { got.push(merged); }, ...opts });
      assert.equal(a.image.layers.length, 3);
      return got;
    };
    assert.deepEqual(await partialsWith({}), [], 'the rest came soon: no partial');
    assert.deepEqual(await partialsWith({ partialUntil: 1 }), [1, 2], 'never skipped: one after each layer but the last');
  } finally {
    client.dispose();
    rmSync(dir, { recursive: true, force: true });
  }
});

test('worker analysis equals analyze() (archive file and OCI layout), with progress and ordered partial results', async () => {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'layerlens-worker-'));
  const client = new AnalysisWorkerClient(WORKER);
  try {
    const s = await spec();
    const file = path.join(dir, 'img.tar');
    writeFileSync(file, await dockerSave(s));
    const layout = path.join(dir, 'oci');
    writeLayout(layout, ociLayout(s, 'gzip'));
    for (const [source, sp] of [[file, { kind: 'docker-archive', path: file }], [`oci:${layout}`, { kind: 'oci', dir: layout }]] as const) {
      const direct = analyze(await loadImage(sp));
      const partials: number[] = [];
      let progress = 0;
      const viaWorker = await client.analyze(source, {
        partialEveryMs: 0,
        partialUntil: 1,
        onPartial: (a, merged, total) => {
          partials.push(merged);
          assert.equal(total, 6);
          assert.equal(a.tree.layers.length, merged);
          assert.equal(a.image.layers.length, merged);
        },
        onProgress: () => { progress++; },
      });
      same(viaWorker, direct);
      assert.ok(partials.length >= 1, `${source}: partial results`);
      assert.deepEqual(partials, [...partials].sort((x, y) => x - y), 'in stack order');
      assert.ok(progress >= 0);
    }
    // The cache in the worker: a second read takes the layers from it and gives the same analysis.
    const cacheDir = path.join(dir, 'cache');
    const cold = await client.analyzeWithStats(file, { cacheDir });
    const warm = await client.analyzeWithStats(file, { cacheDir });
    assert.equal(cold.stats.cacheHits, 0);
    assert.equal(warm.stats.cacheHits, 6);
    same(warm.analysis, cold.analysis);
    // ...and the image index and dive's figures as the cold analysis stored them (no merge): a
    // stored index altered on disk (re-signed) is what the warm analysis shows.
    const [ixFile] = readdirSync(path.join(cacheDir, `indexes-v${INDEX_RECORD_VERSION}`));
    assert.ok(ixFile, 'the cold analysis stored its image index');
    assert.equal(readdirSync(path.join(cacheDir, 'analyses-v1')).length, 1, 'and its summary');
    const key = ixFile.replace(/\.llii$/, '');
    const stored = decodeImageIndex(readFileSync(path.join(cacheDir, `indexes-v${INDEX_RECORD_VERSION}`, ixFile)), key);
    const n = stored.lookup('/shared/file');
    assert.ok(n > 0);
    stored.size[n] += 1;
    writeFileSync(path.join(cacheDir, `indexes-v${INDEX_RECORD_VERSION}`, ixFile), encodeImageIndex(stored, key));
    const again = await client.analyzeWithStats(file, { cacheDir });
    assert.equal(again.analysis.index.size[again.analysis.index.lookup('/shared/file')], 601, 'the size the stored index holds');
  } finally {
    client.dispose();
    rmSync(dir, { recursive: true, force: true });
  }
});

test('worker errors keep their type; a cancelled analysis rejects with CancelledError', async () => {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'layerlens-worker-'));
  const client = new AnalysisWorkerClient(WORKER);
  try {
    const bad = path.join(dir, 'bad.tar');
    writeFileSync(bad, Buffer.from('not a tar at all, just text'.repeat(40)));
    await assert.rejects(client.analyze(bad), (e: unknown) => e instanceof ImageFormatError);
    const file = path.join(dir, 'img.tar');
    writeFileSync(file, await dockerSave(await spec()));
    const ac = new AbortController();
    ac.abort();
    await assert.rejects(client.analyze(file, { signal: ac.signal }), (e: unknown) => e instanceof CancelledError);
    const ac2 = new AbortController();
    const p = client.analyze(file, { signal: ac2.signal, onProgress: () => ac2.abort() });
    setImmediate(() => ac2.abort());
    await assert.rejects(p, (e: unknown) => e instanceof CancelledError);
    // The worker is still usable afterwards.
    const ok = await client.analyze(file);
    assert.equal(ok.image.layers.length, 6);
  } finally {
    client.dispose();
    rmSync(dir, { recursive: true, force: true });
  }
});

test('worker analysis of compressed OCI layouts through the blob workers it starts (compiled and bundled worker)', async () => {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'layerlens-worker-'));
  const bundled = path.join(repoRoot(), 'dist', 'worker.js');
  assert.ok(existsSync(bundled), `${bundled} is missing: run npm run build first`);
  const before = process.env.LAYERLENS_BLOB_WORKERS;
  // The analysis worker inherits this environment: its layouts go to 2 blob workers whatever their size.
  process.env.LAYERLENS_BLOB_WORKERS = '2';
  const clients = [new AnalysisWorkerClient(WORKER), new AnalysisWorkerClient(bundled)];
  try {
    const s = await spec();
    for (const kind of ['gzip', 'zstd'] as const) {
      const layout = path.join(dir, kind);
      writeLayout(layout, ociLayout(s, kind));
      process.env.LAYERLENS_BLOB_WORKERS = '0';
      const direct = analyze(await loadImage({ kind: 'oci', dir: layout }));
      process.env.LAYERLENS_BLOB_WORKERS = '2';
      for (const c of clients) same(await c.analyze(`oci:${layout}`), direct);
    }
  } finally {
    for (const c of clients) c.dispose();
    if (before === undefined) delete process.env.LAYERLENS_BLOB_WORKERS;
    else process.env.LAYERLENS_BLOB_WORKERS = before;
    rmSync(dir, { recursive: true, force: true });
  }
});

test('the analysis worker lowers its own thread\'s priority on Linux, and only its own (not the thread pool it may be first to use)', { skip: process.platform !== 'linux' && 'per-thread nice values are a Linux feature' }, async () => {
  // A fresh process (its libuv thread pool not started yet) analyzes an archive through the worker,
  // sampling the nice value of each of its threads (/proc/PID/task/TID/stat, field 19, counted
  // after the ")" that ends the thread's name) while the worker runs.
  const dir = mkdtempSync(path.join(os.tmpdir(), 'layerlens-worker-'));
  try {
    const file = path.join(dir, 'img.tar');
    writeFileSync(file, await dockerSave(await spec()));
    const script = `
      const fs = require('fs');
      const { AnalysisWorkerClient } = require(${JSON.stringify(path.join(OUT_ROOT, 'src', 'worker', 'client.js'))});
      const nices = () => fs.readdirSync('/proc/' + process.pid + '/task').flatMap((t) => {
        try { const s = fs.readFileSync('/proc/' + process.pid + '/task/' + t + '/stat', 'utf8'); return [Number(s.slice(s.lastIndexOf(')') + 2).split(' ')[16])]; }
        catch { return []; }
      });
      const base = require('os').getPriority(0);
      let most = 0;
      const c = new AnalysisWorkerClient(${JSON.stringify(WORKER)});
      const t = setInterval(() => { most = Math.max(most, nices().filter((n) => n === Math.min(19, base + 5)).length); }, 2);
      c.analyze(${JSON.stringify(file)}).then(() => {
        most = Math.max(most, nices().filter((n) => n === Math.min(19, base + 5)).length);
        clearInterval(t); c.dispose();
        console.log(JSON.stringify({ most, base, after: require('os').getPriority(0) }));
      });`;
    const out = await new Promise<string>((resolve, reject) => {
      execFile(process.execPath, ['-e', script], { env: { ...process.env } }, (err, stdout, stderr) => (err ? reject(new Error(stderr || err.message)) : resolve(stdout)));
    });
    const r = JSON.parse(out.trim().split('\n').pop()!) as { most: number; base: number; after: number };
    assert.equal(r.after, r.base, 'the main thread keeps its priority');
    assert.equal(r.most, 1, 'exactly one thread (the worker) runs at the lower priority');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
