// Re-analysis of engine images with the persistent cache, against the real engine:
// - an image the cache knows whole (its config by image id, every layer by diffID) is not
//   exported again, and gives the same analysis, byte for byte, as a read without the cache;
// - an image with known layers but a new config (same rootfs, another LABEL) is exported once,
//   and its layers come from the cache.
// No engine = failure (requireEngine in before()), never a skip.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdir, readdir, rm, writeFile } from 'node:fs/promises';
import * as path from 'node:path';
import { createEngineClient } from '../../src/engine/docker';
import { resolveEndpointFromProcess } from '../../src/engine/endpoint';
import type { EngineClient } from '../../src/engine/types';
import { analyze } from '../../src/core/image/analysis';
import { plainIndex } from '../../src/core/image/indexCodec';
import { analyzeJson, fileRecords } from '../../src/core/present/report';
import type { ImageData } from '../../src/core/image/types';
import { analyzeWithCache } from '../../src/sources/analysisCache';
import { LayerIndexCache } from '../../src/sources/indexCache';
import { loadImage } from '../../src/sources/load';
import { AnalysisWorkerClient } from '../../src/worker/client';
import * as E from '../support/engine';

/** The layers as plain indexes (cache hits are records, fresh layers tables). */
const decoded = (img: ImageData): unknown => img.layers.map(plainIndex);

describe('engine re-analysis with the cache', () => {
  let work = '';
  const A = 'layerlens-test/cache-whole:a';
  const B = 'layerlens-test/cache-whole:b';

  /** The real engine, with every export counted. */
  function counting(): { client: EngineClient; exports: () => number } {
    const real = createEngineClient(resolveEndpointFromProcess({ host: E.engineHost(), hostOrigin: 'test', env: {} }));
    let n = 0;
    const client: EngineClient = { ...real, exportImage: async (name, signal) => { n++; return real.exportImage(name, signal); } };
    return { client, exports: () => n };
  }

  before(async () => {
    await E.requireEngine();
    work = await E.tempDir('engine-cache');
    // A rootfs of its own (unique content: a new diffID on every run), imported twice: the same
    // layer under two configs.
    const root = path.join(work, 'root');
    await mkdir(path.join(root, 'etc'), { recursive: true });
    await writeFile(path.join(root, 'etc', 'unique'), `cache test ${Date.now()} ${Math.random()}\n`);
    await writeFile(path.join(root, 'big.bin'), Buffer.alloc(300_000, 7));
    const tar = path.join(work, 'root.tar');
    await E.runOk('tar', ['--numeric-owner', '--owner=0', '--group=0', '-C', root, '-cf', tar, '.']);
    await E.docker(['import', tar, A]);
    await E.docker(['import', '--change', 'LABEL layerlens.test=relabelled', tar, B]);
  });
  after(async () => {
    await E.docker(['rmi', '-f', A, B]).catch(() => undefined);
    if (work) await rm(work, { recursive: true, force: true });
  });

  it('an image known whole is not exported again; the CLI prints the same analysis as without the cache', async () => {
    const cacheRoot = path.join(work, 'cache-cli');
    const env = { ...process.env, LAYERLENS_CACHE_DIR: cacheRoot, LAYERLENS_CACHE: 'on' };
    const first = await E.cli(['analyze', `docker://${A}`, '--json'], { env });
    assert.equal(first.code, 0, first.stderr);
    const id = await E.imageId(A);
    assert.deepEqual(await readdir(path.join(cacheRoot, 'docs-v1')), [id.slice(7) + '.json']);
    const summaries = await readdir(path.join(cacheRoot, 'analyses-v1'));
    assert.equal(summaries.length, 1, 'the analysis summary is stored');
    const second = await E.cli(['analyze', `docker://${A}`, '--json'], { env });
    const uncached = await E.cli(['analyze', `docker://${A}`, '--json'], { env: { ...process.env, LAYERLENS_CACHE: 'off' } });
    assert.equal(second.code, 0, second.stderr);
    assert.equal(second.stdout, first.stdout);
    assert.equal(second.stdout, uncached.stdout);
    assert.deepEqual(await readdir(path.join(cacheRoot, 'analyses-v1')), summaries, 'and answers the second analysis (none added)');
    // --no-cache: the cache is neither read nor filled.
    const noCacheRoot = path.join(work, 'cache-cli-unused');
    const bypass = await E.cli(['analyze', `docker://${A}`, '--json', '--no-cache'], { env: { ...env, LAYERLENS_CACHE_DIR: noCacheRoot } });
    assert.equal(bypass.code, 0, bypass.stderr);
    assert.equal(bypass.stdout, uncached.stdout);
    await assert.rejects(readdir(noCacheRoot), /ENOENT/, '--no-cache wrote a cache');
    for (const cmd of ['files', 'ci']) {
      const cached = await E.cli([cmd, `docker://${A}`, '--json'], { env });
      const plain = await E.cli([cmd, `docker://${A}`, '--json'], { env: { ...process.env, LAYERLENS_CACHE: 'off' } });
      assert.equal(cached.stdout, plain.stdout, cmd);
    }
  });

  it('counted: one export for the first read, none after; a new config over known layers: one export, layers from the cache', async () => {
    const cache = new LayerIndexCache(path.join(work, 'cache-lib'));
    const { client, exports } = counting();
    const load = (name: string): ReturnType<typeof loadImage> => loadImage({ kind: 'engine', name }, { cache, engine: async () => client });
    const cold = await load(A);
    assert.equal(exports(), 1);
    const warm = await load(A);
    assert.equal(exports(), 1, 'known whole: no export');
    assert.equal(warm.id, cold.id);
    assert.deepEqual(decoded(warm), decoded(cold));
    assert.deepEqual(warm.history, cold.history);
    assert.deepEqual(warm.engineLayerSizes, cold.engineLayerSizes);
    const inspectB = await client.inspectImage(B);
    assert.deepEqual(inspectB.diffIds, cold.diffIds, 'precondition: the second import has the same layer');
    assert.notEqual(inspectB.id, cold.id);
    const writesBefore = cache.stats.writes;
    const relabelled = await load(B);
    assert.equal(exports(), 2, 'a config the cache does not know: exported');
    // A layer parsed from the stream would be stored (a write); one taken from the cache is not.
    assert.equal(cache.stats.writes, writesBefore, 'its layer came from the cache');
    assert.equal(relabelled.config.labels?.['layerlens.test'], 'relabelled');
    await load(B);
    assert.equal(exports(), 2, 'and known whole from then on');
    // Analysis summaries: the cold analysis stores one for its stack of layer records; the warm
    // image is answered by it, and so is B (the same layer records under another config), whose
    // image-level facts still come from B.
    const full = analyzeJson(analyze(await loadImage({ kind: 'engine', name: A }, { engine: async () => client })));
    const a1 = analyzeWithCache(cold, cache);
    assert.equal(cache.stats.summaries, 0);
    const a2 = analyzeWithCache(warm, cache);
    assert.equal(cache.stats.summaries, 1, 'answered by the summary');
    assert.deepEqual(analyzeJson(a1), full);
    assert.deepEqual(analyzeJson(a2), full);
    const b = analyzeWithCache(relabelled, cache);
    assert.equal(cache.stats.summaries, 2, 'B: the same layer records, the same summary');
    assert.deepEqual(analyzeJson(b), analyzeJson(analyze(await loadImage({ kind: 'engine', name: B }, { engine: async () => client }))));
    assert.equal(analyzeJson(b).image.id, inspectB.id);
  });

  it('the extension\'s path (analysis worker, its cache directory): the second analysis takes every layer from the cache and equals the first', async () => {
    const client = new AnalysisWorkerClient(path.join(E.repoRoot(), 'dist', 'worker.js'));
    try {
      const opts = { cacheDir: path.join(work, 'cache-worker'), endpoint: resolveEndpointFromProcess({ host: E.engineHost(), hostOrigin: 'test', env: {} }) };
      const first = await client.analyzeWithStats(`docker://${A}`, opts);
      const second = await client.analyzeWithStats(`docker://${A}`, opts);
      assert.equal(first.stats.cacheHits, 0);
      assert.equal(second.stats.cacheHits, second.analysis.image.layers.length, 'every layer from the cache (getForEngine counts one hit per layer)');
      assert.deepEqual(await readdir(path.join(opts.cacheDir, 'docs-v1')), [(await E.imageId(A)).slice(7) + '.json']);
      assert.deepEqual(analyzeJson(second.analysis), analyzeJson(first.analysis));
      assert.deepEqual([...fileRecords(second.analysis)], [...fileRecords(first.analysis)]);
      assert.deepEqual(second.analysis.dive, first.analysis.dive);
    } finally {
      client.dispose();
    }
  });
});
