// An engine image's layer tar (EngineSource.openLayer, what `layerlens cat` reads an engine image
// through) comes from one export of the image, against the real engine: every layer's bytes hash
// to its diffID, with and without the size hint, and exactly one export is made per layer read.
// No engine = failure (requireEngine in before()), never a skip.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { mkdir, rm, writeFile } from 'node:fs/promises';
import * as path from 'node:path';
import { createEngineClient } from '../../src/engine/docker';
import { resolveEndpointFromProcess } from '../../src/engine/endpoint';
import type { EngineClient } from '../../src/engine/types';
import { openImageSource } from '../../src/sources/load';
import * as E from '../support/engine';

/** The real engine, with every export counted. */
function counting(): { client: EngineClient; exports: () => number } {
  const real = createEngineClient(resolveEndpointFromProcess({ host: E.engineHost(), hostOrigin: 'test', env: {} }));
  let n = 0;
  const client: EngineClient = { ...real, exportImage: async (name, signal) => { n++; return real.exportImage(name, signal); } };
  return { client, exports: () => n };
}

describe('engine openLayer: one export per layer', () => {
  let work = '';
  const BASE = 'layerlens-test/openlayer-base:latest';
  const TAG = 'layerlens-test/openlayer:latest';

  before(async () => {
    await E.requireEngine();
    work = await E.tempDir('engine-openlayer');
    // A rootfs of its own (a new diffID on every run), and two COPY layers above it: one past the
    // spool's memory bound, and two of the same content size.
    const root = path.join(work, 'root');
    await mkdir(path.join(root, 'etc'), { recursive: true });
    await writeFile(path.join(root, 'etc', 'unique'), `openLayer test ${Date.now()} ${Math.random()}\n`);
    const tar = path.join(work, 'root.tar');
    await E.runOk('tar', ['--numeric-owner', '--owner=0', '--group=0', '-C', root, '-cf', tar, '.']);
    await E.docker(['import', tar, BASE]);
    const ctx = path.join(work, 'ctx');
    await mkdir(ctx);
    await writeFile(path.join(ctx, 'big.bin'), randomBytes(3 * 1024 * 1024));
    await writeFile(path.join(ctx, 'a.bin'), randomBytes(20_000));
    await writeFile(path.join(ctx, 'b.bin'), randomBytes(20_000));
    await writeFile(path.join(ctx, 'Dockerfile'), `FROM ${BASE}\nCOPY big.bin /big.bin\nCOPY a.bin /x.bin\nCOPY b.bin /x.bin\n`);
    await E.docker(['build', '--network=none', '-q', '-t', TAG, ctx], { env: { ...process.env, DOCKER_BUILDKIT: '1' } });
  });
  after(async () => {
    await E.docker(['rmi', '-f', TAG, BASE]).catch(() => undefined);
    if (work) await rm(work, { recursive: true, force: true });
  });

  it('every layer\'s tar, hashing to its diffID, from one export each', async () => {
    const { client } = counting();
    const { diffIds } = await client.inspectImage(TAG);
    assert.equal(diffIds.length, 4);
    for (const [i, diffId] of diffIds.entries()) {
      for (const hinted of [false, true]) {
        const c = counting();
        const src = openImageSource({ kind: 'engine', name: TAG }, { engine: async () => c.client });
        const h = createHash('sha256');
        let bytes = 0;
        // The tar's size, as the analysis knows it: the hint that skips members of another size.
        const tarBytes = hinted ? (await (async () => { let n = 0; for await (const b of await openImageSource({ kind: 'engine', name: TAG }, { engine: async () => client }).openLayer(diffId)) n += b.length; return n; })()) : undefined;
        for await (const b of await src.openLayer(diffId, { tarBytes })) {
          h.update(b);
          bytes += b.length;
        }
        assert.equal('sha256:' + h.digest('hex'), diffId, `layer ${i}${hinted ? ' (size hint)' : ''}: the layer's bytes`);
        if (tarBytes !== undefined) assert.equal(bytes, tarBytes);
        assert.equal(c.exports(), 1, `layer ${i}${hinted ? ' (size hint)' : ''}: one export`);
      }
    }
  });
});
