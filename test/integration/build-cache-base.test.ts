// A rebuilt base image, on the real test engine: build a Dockerfile FROM a locally tagged base,
// rebuild the base with other content under the same tag, then the prediction (with the base
// image ids the extension looks up: BaseImageIds) says the lines after FROM will rebuild because
// the base image changed — and a real rebuild agrees, line by line. Without the current ids the
// prediction would claim "cached" (checked too: that is what the wiring changes). A base tag that
// was not touched keeps its lines cached, and the next build agrees with that as well.
// No engine = failure (requireEngine in before()), never a skip.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import * as os from 'node:os';
import * as path from 'node:path';
import * as E from '../support/engine';
import { createEngineClient } from '../../src/engine/docker';
import { resolveEndpointFromProcess } from '../../src/engine/endpoint';
import type { EngineClient } from '../../src/engine/types';
import { contextManifest, packContext } from '../../src/sources/contextManifest';
import { predict, type LinePrediction } from '../../src/core/dockerfile/cachePredict';
import { runBuild, type BuildOutcome } from '../../src/engine/build';
import { normalizeImageRef } from '../../src/core/dockerfile/buildTrace';
import { BaseImageIds } from '../../src/sources/baseImages';

const NONCE = `${process.pid}-${Date.now()}`;
const BASE_TAG = `layerlens-test/rebuilt-base:${NONCE}`;
let engine: EngineClient;
let work = '';
let serial = 0;
const made: string[] = [];

async function buildBase(content: string): Promise<string> {
  const dir = await mkdtemp(path.join(work, 'base-'));
  await writeFile(path.join(dir, 'Dockerfile'), `FROM ${E.BASE_IMAGE}\nRUN echo '${content}' > /base.txt\n`);
  await E.docker(['build', '--network=none', '-q', '-t', BASE_TAG, dir], { env: { DOCKER_BUILDKIT: '1' } });
  return E.imageId(BASE_TAG);
}

async function build(dir: string, version: '1' | '2'): Promise<BuildOutcome> {
  const bytes = await readFile(path.join(dir, 'Dockerfile'));
  const tag = `layerlens-test/build-rebased:${NONCE}-${++serial}`;
  made.push(tag);
  const o = await runBuild({
    engine,
    pack: () => packContext(dir, { keep: ['Dockerfile'], overrides: new Map([['Dockerfile', bytes]]) }),
    dockerfileRel: 'Dockerfile', dockerfileText: bytes.toString('utf8'), tag,
    buildArgs: {}, target: null, version, networkmode: 'none',
  });
  assert.equal(o.failed, false, `build failed: ${o.error}`);
  return o;
}

function summary(pred: LinePrediction[]): Record<number, string> {
  const out: Record<number, string> = {};
  for (const p of pred) out[p.line] = p.cache === 'cached' ? 'cached' : `will-rebuild: ${p.reason}`;
  return out;
}

function states(o: BuildOutcome): Record<number, string> {
  const out: Record<number, string> = {};
  for (const r of o.results) out[r.line] = r.state;
  return out;
}

/** Every line after FROM that the builder reports (at least `lines`): predicted and built agree. */
function agree(pred: LinePrediction[], after: BuildOutcome, lines: number[]): void {
  const reported = after.results.map((r) => r.line).filter((l) => l > 1);
  for (const l of lines) assert.ok(reported.includes(l), `line ${l} not reported by the builder: ${JSON.stringify(states(after))}`);
  for (const line of reported) {
    const p = pred.find((x) => x.line === line);
    const r = after.results.find((x) => x.line === line);
    assert.ok(p && r, `line ${line}: predicted ${JSON.stringify(p)}, built ${JSON.stringify(r)}`);
    assert.equal(r.state === 'cached' ? 'cached' : 'will-rebuild', p.cache, `line ${line}: predicted ${JSON.stringify(summary(pred))}, builder ${JSON.stringify(states(after))}`);
  }
}

before(async () => {
  await E.requireEngine();
  await E.ensureBaseImage();
  engine = createEngineClient(resolveEndpointFromProcess());
  work = await mkdtemp(path.join(os.tmpdir(), 'layerlens-rebase-'));
});

after(async () => {
  for (const t of [...made, BASE_TAG]) await E.run(E.DOCKER, ['rmi', t]).catch(() => undefined);
  if (work) await rm(work, { recursive: true, force: true });
});

describe('base image rebuilt under the same tag', () => {
  for (const version of ['2', '1'] as const) {
    it(`${version === '2' ? 'BuildKit' : 'legacy'}: predicted "base image changed" from FROM on, and the rebuild agrees`, async () => {
      const first = await buildBase(`one ${NONCE} ${version}`);
      const dir = await mkdtemp(path.join(work, 'app-'));
      const text = `FROM ${BASE_TAG}\nRUN cat /base.txt > /copy.txt\nENV APP=1\nCOPY a.txt /a.txt\nRUN echo done\n`;
      await writeFile(path.join(dir, 'Dockerfile'), text);
      await writeFile(path.join(dir, 'a.txt'), 'a\n');
      const one = await build(dir, version);
      const ref = normalizeImageRef(BASE_TAG);
      assert.deepEqual(one.record.baseImages, { [ref]: first }, 'the record keeps the base image id');

      // The extension's lookup, on the real engine: the ids known now, refreshed in the background.
      let changes = 0;
      const bases = new BaseImageIds(() => engine, () => { changes++; });
      bases.set(one.record.baseImages!);
      assert.deepEqual(bases.get([ref]), { [ref]: first });

      // Untouched base: everything predicted cached, and the builder agrees.
      const manifest = (await contextManifest(dir, { keep: ['Dockerfile'] })).manifest;
      const same = predict(one.record, text, manifest, {}, { baseImageIds: bases.get([ref]) });
      assert.ok(same.every((p) => p.cache === 'cached'), JSON.stringify(summary(same)));
      const two = await build(dir, version);
      agree(same, two, [2, 4, 5]);

      // Rebuild the base under the same tag, other content: a new id.
      const second = await buildBase(`two ${NONCE} ${version}`);
      assert.notEqual(second, first);
      bases.refresh();
      await bases.settled();
      assert.equal(changes, 1, 'the refresh noticed the new id');
      const ids = bases.get([ref]);
      assert.deepEqual(ids, { [ref]: second });

      const pred = predict(two.record, text, manifest, {}, { baseImageIds: ids });
      const from = pred.find((p) => p.line === 1)!;
      assert.equal(from.cache, 'will-rebuild');
      assert.equal(from.reason, 'base image changed');
      for (const line of [2, 4, 5]) {
        const p = pred.find((x) => x.line === line)!;
        assert.equal(p.cache, 'will-rebuild', `line ${line}: ${JSON.stringify(summary(pred))}`);
        assert.equal(p.reason, 'base image changed', `line ${line}`);
      }
      // Without the current ids nothing tells the base changed: every line predicts cached, which
      // this rebuilt base proves wrong.
      assert.ok(predict(two.record, text, manifest, {}).every((p) => p.cache === 'cached'));

      const three = await build(dir, version);
      agree(pred, three, [2, 4, 5]);
      assert.equal(three.results.find((r) => r.line === 2)?.state, 'built', 'the RUN after FROM really ran again');
      assert.deepEqual(three.record.baseImages, { [ref]: second });
    });
  }
});
