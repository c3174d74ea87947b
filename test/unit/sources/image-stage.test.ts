// Which stage an image of a Dockerfile is, and building an unnamed stage as the target (issue #3).
// With the histories recorded from real builds of the multistage fixture for every target
// (test/fixtures/histories/multistage*.json) and the traces of Build Image with the unnamed target
// `#0` recorded by test/integration/build-cache.test.ts (test/fixtures/traces/unnamed-target-*).
import { test, describe } from 'node:test';
import * as assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { readFileSync, readdirSync } from 'node:fs';
import * as path from 'node:path';
import { findStage, parseDockerfile, targetStageIndex } from '../../../src/core/dockerfile/dockerfile';
import { bestStageMapping, mapHistory, mapImageHistory } from '../../../src/core/dockerfile/mapping';
import { historyFromConfig } from '../../support/history';
import { lineInfos } from '../../../src/core/present/lines';
import { targetBuildInput } from '../../../src/core/dockerfile/stageImages';
import { runBuild, type BuildEngine } from '../../../src/engine/build';
import type { BuildStreamMessage } from '../../../src/core/dockerfile/traceWire';
import { findBestImage } from '../../../src/sources/dockerfileImage';
import type { EngineClient } from '../../../src/engine/types';
import { repoRoot } from '../../support/repo';

const root = repoRoot();
const histDir = path.join(root, 'test/fixtures/histories');
const traceDir = path.join(root, 'test/fixtures/traces');

interface Recording {
  fixture: string; dockerfile: string; builder: string; target: string | null; buildArgs: Record<string, string>;
  history: Array<{ created_by?: string; empty_layer?: boolean; comment?: string }>; sizes: number[]; diffIds: string[];
}

const recordings = readdirSync(histDir).filter((f) => f.endsWith('.json')).sort()
  .map((file) => ({ file, rec: JSON.parse(readFileSync(path.join(histDir, file), 'utf8')) as Recording }));
const multistage = recordings.filter((r) => r.rec.fixture.startsWith('multistage'));
const msText = readFileSync(path.join(root, 'test/fixtures/dockerfiles/multistage/Dockerfile'), 'utf8');
const ms = parseDockerfile(msText);

describe('the stage an image is', () => {
  test('the multistage fixture built for every target: each image maps with the stage it was built for, found by score', () => {
    assert.ok(multistage.length >= 8, `${multistage.length} recordings`);
    const targets = new Set(multistage.map((r) => r.rec.target));
    assert.deepEqual([...targets].sort(), [null, 'build', 'test', 'tools'].sort());
    for (const { file, rec } of multistage) {
      const history = historyFromConfig(rec.history);
      const want = targetStageIndex(ms, rec.target);
      const best = mapImageHistory(ms, history, { entrySizes: rec.sizes });
      assert.equal(best.stage, want, `${file}: best stage ${best.stage}, built for ${rec.target ?? 'the last stage'}`);
      assert.ok(best.score > 0.999, `${file}: ${best.score}`);
      // The build record's target gives the same mapping.
      const known = mapImageHistory(ms, history, { target: rec.target, entrySizes: rec.sizes });
      assert.deepEqual(known, best, file);
      // A target that no longer names a stage (renamed since): the best stage again.
      assert.deepEqual(mapImageHistory(ms, history, { target: 'renamed', entrySizes: rec.sizes }), best, file);
      if (rec.target === null) continue;
      // Before: mapped as the last stage, a target's image matched nothing of its own stage.
      const asLast = mapHistory(ms, history, { entrySizes: rec.sizes });
      assert.ok(asLast.score < 0.5, `${file}: as the last stage ${asLast.score}`);
      const own = ms.stages[want].instructions.filter((i) => i.keyword === 'RUN' || i.keyword === 'COPY');
      const sized = (infos: ReturnType<typeof lineInfos>): number[] => infos.filter((i) => i.size !== null && i.size > 0).map((i) => i.line);
      for (const ins of own) {
        assert.ok(sized(lineInfos(best, rec.sizes)).includes(ins.line), `${file}: line ${ins.line} has its size`);
        assert.ok(!sized(lineInfos(asLast, rec.sizes)).includes(ins.line), `${file}: line ${ins.line} had no size as the last stage`);
      }
    }
  });

  test('every single-stage recording maps as before (the last stage is the best)', () => {
    for (const { file, rec } of recordings) {
      const model = parseDockerfile(readFileSync(path.join(root, rec.dockerfile), 'utf8'), { buildArgs: rec.buildArgs });
      const history = historyFromConfig(rec.history);
      if (model.stages.length !== 1) continue;
      assert.deepEqual(bestStageMapping(model, history, { entrySizes: rec.sizes }), mapHistory(model, history, { entrySizes: rec.sizes }), file);
    }
  });

  test('a tie goes to the later stage (a stage that adds no history entry has its base stage\'s history)', () => {
    const model = parseDockerfile('FROM llbase:1 AS build\nRUN echo hi\n\nFROM build AS final\n');
    const history = historyFromConfig([{ created_by: '', comment: 'Imported from -' }, { created_by: 'RUN /bin/sh -c echo hi # buildkit' }]);
    assert.equal(mapHistory(model, history, { stage: 0 }).score, mapHistory(model, history, { stage: 1 }).score);
    assert.equal(bestStageMapping(model, history).stage, 1);
  });
});

describe('findBestImage over every stage', () => {
  const byTarget = (builder: string, target: string | null): Recording =>
    multistage.find((r) => r.rec.builder === builder && r.rec.target === target && r.file.includes('engine20'))!.rec;
  /** An engine whose images are these recordings (newest first). */
  function engineOf(images: Array<[string, Recording]>): EngineClient {
    const byId = new Map(images.map(([tag, rec], i) => [`sha256:${String(i).padStart(64, '0')}`, { tag, rec }]));
    const ids = [...byId.keys()];
    return {
      endpoint: { kind: 'unix', url: 'unix:///fake.sock', origin: 'test' },
      listImages: async () => ids.map((id, i) => ({ id, repoTags: [byId.get(id)!.tag], created: 1000 - i, size: 0 })),
      inspectImage: async (name: string) => {
        const [id, v] = [...byId].find(([k, x]) => k === name || x.tag === name)!;
        return { id, repoTags: [v.tag], size: 0, os: 'linux', architecture: 'amd64', diffIds: v.rec.diffIds };
      },
      history: async (name: string) => {
        const v = byId.get(name)!;
        return v.rec.history.map((h, i) => ({ id: '', created: 0, createdBy: h.created_by ?? '', size: v.rec.sizes[i] ?? 0, comment: h.comment ?? '', tags: [] })).reverse();
      },
    } as unknown as EngineClient;
  }

  for (const builder of ['buildkit', 'legacy']) {
    test(`${builder}: an image built with --target is found, with its stage; the final image beats a newer image of one small stage`, async () => {
      const only = await findBestImage(engineOf([['x:build', byTarget(builder, 'build')]]), ms);
      assert.equal(only?.name, 'x:build');
      assert.equal(only?.stage, findStage(ms, 'build'));
      // Stage images are newer than the final image and match their stage fully.
      const all = await findBestImage(engineOf([['x:stage-tools', byTarget(builder, 'tools')], ['x:stage-build', byTarget(builder, 'build')], ['x:dev', byTarget(builder, null)]]), ms);
      assert.equal(all?.name, 'x:dev');
      assert.equal(all?.stage, ms.stages.length - 1);
      // Asked for a stage: that stage only.
      const test = await findBestImage(engineOf([['x:dev', byTarget(builder, null)], ['x:test', byTarget(builder, 'test')]]), ms, { stage: 'test' });
      assert.equal(test?.name, 'x:test');
      assert.equal(test?.stage, findStage(ms, 'test'));
    });
  }
});

describe('Build Image with an unnamed target stage', () => {
  test('targetBuildInput: named stages as they are, an unnamed one named at the end of its FROM, unknown targets refused', () => {
    const text = 'FROM llbase:1\nRUN echo a > /a\n\nFROM llbase:1 AS named\nRUN true\n\nFROM llbase:1\nCOPY --from=0 /a /a\n';
    const model = parseDockerfile(text);
    assert.deepEqual(targetBuildInput(text, model, null), { dockerfileText: text, target: null });
    assert.deepEqual(targetBuildInput(text, model, 'NAMED'), { dockerfileText: text, target: 'named' });
    assert.deepEqual(targetBuildInput(text, model, '#1'), { dockerfileText: text, target: 'named' });
    const zero = targetBuildInput(text, model, '#0')!;
    assert.equal(zero.target, 'layerlens-stage-0');
    assert.equal(zero.dockerfileText, text.replace('FROM llbase:1\n', 'FROM llbase:1 AS layerlens-stage-0\n'));
    assert.deepEqual(targetBuildInput(text, model, '0'), zero);
    // The last stage, unnamed: the default build.
    assert.deepEqual(targetBuildInput(text, model, '#2'), { dockerfileText: text, target: null });
    assert.equal(targetBuildInput(text, model, '#3'), null);
    assert.equal(targetBuildInput(text, model, 'nope'), null);
    assert.equal(targetStageIndex(model, '#0'), 0);
    assert.equal(targetStageIndex(model, 'nope'), 2);
  });

  for (const builder of ['buildkit', 'legacy']) {
    test(`${builder}: the recorded build of target #0 maps to the user's lines; the record keeps the user's text, target and Dockerfile hash`, async () => {
      const meta = JSON.parse(readFileSync(path.join(traceDir, `unnamed-target-${builder}-1.engine20.json`), 'utf8')) as { dockerfile: string; target: string; sent: string };
      const messages = readFileSync(path.join(traceDir, `unnamed-target-${builder}-1.engine20.ndjson`), 'utf8').split('\n').filter(Boolean).map((l) => JSON.parse(l) as BuildStreamMessage);
      const text = meta.dockerfile;
      assert.equal(meta.target, '#0');
      const sent = targetBuildInput(text, parseDockerfile(text), '#0')!;
      assert.equal(sent.target, 'layerlens-stage-0');
      assert.equal(sent.dockerfileText, meta.sent, 'what the recorded build sent');
      const asked: Array<string | undefined> = [];
      const engine: BuildEngine<string> = {
        build(_tar, opts) {
          asked.push(opts.target);
          return (async function* () { for (const m of messages) yield m; })();
        },
        inspectImage: async (name) => ({ id: `sha256:id-of-${name}` }),
      };
      const sentHash = createHash('sha256').update(sent.dockerfileText).digest('hex');
      const pack = (): { tar: string; manifest: Promise<{ manifest: { files: Record<string, { size: number; sha256: string }> }; mtimes: Record<string, number> }> } => ({
        tar: 't', manifest: Promise.resolve({ manifest: { files: { Dockerfile: { size: sent.dockerfileText.length, sha256: sentHash } } }, mtimes: {} }),
      });
      const o = await runBuild({ engine, pack, dockerfileRel: 'Dockerfile', dockerfileText: text, tag: 'x:1', buildArgs: {}, target: '#0', sent, version: builder === 'legacy' ? '1' : '2' });
      assert.deepEqual(asked, ['layerlens-stage-0'], 'the engine got the stage name');
      assert.equal(o.failed, false, o.error);
      assert.equal(o.record.builder, builder);
      assert.equal(o.record.dockerfileText, text);
      assert.equal(o.record.target, '#0');
      assert.deepEqual(o.record.stages, [0]);
      assert.deepEqual(Object.keys(o.record.lines).map(Number), [1, 2, 3, 4], 'stage 0\'s lines only (not the later FROM sharing its base vertex)');
      assert.equal(o.record.context?.files.Dockerfile.sha256, createHash('sha256').update(text).digest('hex'));
    });
  }
});
