// Compressed OCI layouts read on worker threads (src/sources/blobPool.ts): the same image as the
// in-process reader, the reader's errors with their codes, the cache filled, cancellation.
import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { CancelledError, ImageFormatError } from '../../../src/core/image/errors';
import { plainIndex } from '../../../src/core/image/indexCodec';
import type { ImageData } from '../../../src/core/image/types';
import { BlobIndexPool, blobWorkerCount, blobWorkerScript } from '../../../src/sources/blobPool';
import { LayerIndexCache } from '../../../src/sources/indexCache';
import { loadImage } from '../../../src/sources/load';
import { makeTar, ociLayout, writeLayout, type ImageSpec } from '../support/tars';
import { member, pax, rawTar } from '../support/rawtar';

async function spec(): Promise<ImageSpec> {
  const names = Array.from({ length: 400 }, (_, i) => ({ name: `usr/lib/d${i % 9}/f-${i}.so`, size: (i * 53) % 3000 }));
  const l0 = await makeTar([{ name: 'usr/', type: 'directory' }, ...names, { name: 'bin/sh', type: 'symlink', linkname: '/bin/busybox' }, { name: 'bin/busybox', size: 90_000 }]);
  const l1 = rawTar(pax({ path: 'deep/'.repeat(50) + 'leaf' }), member({ name: 'renamed-by-pax' }), member({ name: 'usr/lib/.wh.d4' }), member({ name: 'usr/.wh..wh..opq' }), member({ name: 'x' }, 'data'));
  const l2 = await makeTar([{ name: 'bin/ls', type: 'link', linkname: 'bin/busybox' }, { name: 'big', size: 300_000 }, { name: 'ünï/cødé', body: 'y' }]);
  return { layers: [l0, l1, await makeTar([]), l2], tag: 'pool:1' };
}

// Cache hits are records (RecordIndex): compare their decoded form.
const plain = (img: ImageData): unknown => img.layers.map(plainIndex);

async function withWorkers<T>(n: string, f: () => Promise<T>): Promise<T> {
  const before = process.env.LAYERLENS_BLOB_WORKERS;
  process.env.LAYERLENS_BLOB_WORKERS = n;
  try {
    return await f();
  } finally {
    if (before === undefined) delete process.env.LAYERLENS_BLOB_WORKERS;
    else process.env.LAYERLENS_BLOB_WORKERS = before;
  }
}

test('blob workers: the worker script is found and the count follows the layout', () => {
  assert.ok(blobWorkerScript(), 'the compiled blob worker is next to the pool');
  assert.equal(blobWorkerCount(1, 1e9, {}), 0, 'one blob: in-process');
  assert.equal(blobWorkerCount(5, 1024, {}), 0, 'a small layout: in-process');
  assert.equal(blobWorkerCount(5, 1e9, {}), Math.min(5, os.availableParallelism(), 8));
  assert.equal(blobWorkerCount(5, 1024, { LAYERLENS_BLOB_WORKERS: '3' }), 3);
  assert.equal(blobWorkerCount(2, 1e9, { LAYERLENS_BLOB_WORKERS: '9' }), 2, 'never more workers than blobs');
  assert.equal(blobWorkerCount(5, 1e9, { LAYERLENS_BLOB_WORKERS: '0' }), 0);
});

test('blob workers: gzip and zstd layouts give the same image as the in-process reader, and fill the cache', async () => {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'layerlens-pool-'));
  try {
    for (const kind of ['gzip', 'zstd'] as const) {
      const layout = path.join(dir, kind);
      writeLayout(layout, ociLayout(await spec(), kind));
      const inProcess = await withWorkers('0', () => loadImage({ kind: 'oci', dir: layout }));
      const cache = new LayerIndexCache(path.join(dir, 'cache-' + kind));
      const progress: number[] = [];
      const order: string[] = [];
      const pooled = await withWorkers('2', () => loadImage({ kind: 'oci', dir: layout }, {
        cache, onProgress: (b) => progress.push(b), onLayer: (p) => order.push(p),
      }));
      assert.deepEqual(plain(pooled), plain(inProcess), kind);
      assert.ok(pooled.layers.every((l) => l.compression === kind), kind);
      assert.equal(pooled.layers[0].entries.length, inProcess.layers[0].entries.length);
      assert.ok(pooled.layers[1].whiteouts.length === 1 && pooled.layers[1].opaqueDirs.length === 1, 'markers survive the trip');
      assert.deepEqual(progress, [...progress].sort((a, b) => a - b), 'progress only grows');
      assert.equal(order.length, 4, 'every layer reported, bottom first');
      // The cache got every layer: the second read takes all four from it, with no worker.
      const hits = cache.stats.hits;
      const warm = await withWorkers('2', () => loadImage({ kind: 'oci', dir: layout }, { cache }));
      assert.equal(cache.stats.hits - hits, 4, kind);
      assert.deepEqual(plain(warm), plain(inProcess), kind);
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('blob workers: a corrupt blob fails with the reader\'s error and code; the others are not lost', async () => {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'layerlens-pool-'));
  try {
    const files = ociLayout(await spec(), 'gzip');
    writeLayout(dir, files);
    // Damage the deflate data of the biggest layer (not its digest: the reader does not re-hash).
    const [rel, b] = [...files].filter(([r]) => r.startsWith('blobs/')).sort((x, y) => y[1].length - x[1].length)[0];
    const bad = Buffer.from(b);
    for (let i = 200; i < 260; i++) bad[i] ^= 0x5a;
    writeFileSync(path.join(dir, rel), bad);
    const err = await withWorkers('2', () => loadImage({ kind: 'oci', dir })).then(() => null, (e: unknown) => e);
    assert.ok(err instanceof ImageFormatError, `an ImageFormatError, got ${String(err)}`);
    assert.equal((err as ImageFormatError).code, 'corrupt');
    const local = await withWorkers('0', () => loadImage({ kind: 'oci', dir })).then(() => null, (e: unknown) => e);
    assert.equal((err as Error).message, (local as Error).message, 'same message as in-process');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('blob workers: an abort rejects queued and running jobs with CancelledError and stops the workers', async () => {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'layerlens-pool-'));
  try {
    const files = ociLayout(await spec(), 'zstd');
    writeLayout(dir, files);
    const blob = [...files.keys()].filter((r) => r.startsWith('blobs/')).map((r) => path.join(dir, r))[0];
    const ac = new AbortController();
    const pool = new BlobIndexPool(1, blobWorkerScript()!, ac.signal);
    const jobs = [1, 2, 3].map(() => pool.index(blob, { label: 'l', diffId: 'sha256:x' }).then(() => 'ok', (e: unknown) => e));
    ac.abort();
    for (const r of await Promise.all(jobs)) assert.ok(r instanceof CancelledError, String(r));
    await assert.rejects(pool.index(blob, { label: 'l', diffId: 'sha256:x' }), CancelledError, 'a closed pool takes no work');
    // Cancelling loadImage: a quiet CancelledError.
    const ac2 = new AbortController();
    const p = withWorkers('2', () => loadImage({ kind: 'oci', dir }, { signal: ac2.signal }));
    ac2.abort();
    await assert.rejects(p, CancelledError);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
