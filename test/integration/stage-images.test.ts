// Stage images on the real engine: the multistage fixture is built (its last stage), then every
// other stage is built as its own target the way Layer Lens: Build Stage Images does it (same
// Dockerfile text, or an unnamed stage named at the end of its FROM; tags from stageImageTag).
// Each stage's lines then carry sizes, and every size equals the engine's own history Size of that
// stage's image (read through dockerode, not through Layer Lens' engine client); FROM lines carry
// the sum of the entries below the stage. With BuildKit and with the legacy builder; the CLI's
// `lines --stage-image` gives the same numbers. No engine = failure, never a skip.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { cp, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import * as os from 'node:os';
import * as path from 'node:path';
import * as E from '../support/engine';
import { createEngineClient } from '../../src/engine/docker';
import { resolveEndpointFromProcess } from '../../src/engine/endpoint';
import type { EngineClient } from '../../src/engine/types';
import { packContext } from '../../src/sources/contextManifest';
import { runBuild, type BuildOutcome } from '../../src/engine/build';
import { parseDockerfile, type DockerfileModel } from '../../src/core/dockerfile/dockerfile';
import { mapHistory } from '../../src/core/dockerfile/mapping';
import { lineInfos, type LineInfo, type StageImageLines } from '../../src/core/present/lines';
import { stageBuildInput, stageImageMatches, stageImageTag, stageLabel, stagesOutside } from '../../src/core/dockerfile/stageImages';
import { entrySizes, quickImageFromEngine } from '../../src/sources/dockerfileImage';

const NONCE = `${process.pid}-${Date.now()}`;
let engine: EngineClient;
let work = '';
const created: string[] = [];

async function build(dir: string, text: string, tag: string, target: string | null, version: '1' | '2'): Promise<{ outcome: BuildOutcome; ms: number }> {
  const bytes = Buffer.from(text, 'utf8');
  const t0 = Date.now();
  const outcome = await runBuild({
    engine,
    pack: () => packContext(dir, { keep: ['Dockerfile'], overrides: new Map([['Dockerfile', bytes]]) }),
    dockerfileRel: 'Dockerfile', dockerfileText: text, tag, buildArgs: {}, target, version, networkmode: 'none',
  });
  created.push(tag);
  assert.equal(outcome.failed, false, `build of ${tag} failed: ${outcome.error}`);
  return { outcome, ms: Date.now() - t0 };
}

/** The engine's history of an image, bottom first (dockerode: independent of our engine client). */
async function apiHistory(tag: string): Promise<Array<{ CreatedBy: string; Size: number }>> {
  const rows = await E.api().getImage(tag).history() as Array<{ CreatedBy: string; Size: number }>;
  return [...rows].reverse();
}

/**
 * Builds the final image and every other stage as a target; returns the lines with the stage
 * images applied, and per stage its tag and the engine's history.
 */
async function buildAll(dir: string, model: DockerfileModel, text: string, repo: string, version: '1' | '2', log: (s: string) => void): Promise<{
  infos: LineInfo[]; stageTags: Map<number, string>; histories: Map<string, Array<{ CreatedBy: string; Size: number }>>; finalTag: string;
}> {
  const finalTag = `${repo}:final`;
  const first = await build(dir, text, finalTag, null, version);
  log(`final image (${first.outcome.record.builder}): ${first.ms} ms`);
  const main = await quickImageFromEngine(engine, finalTag);
  const mapping = mapHistory(model, main.history, { entrySizes: entrySizes(main) });
  const stageTags = new Map<number, string>();
  const histories = new Map([[finalTag, await apiHistory(finalTag)]]);
  const stages: StageImageLines[] = [];
  for (const s of stagesOutside(model, mapping.stage)) {
    const st = model.stages[s];
    const input = stageBuildInput(text, model, s);
    assert.ok(input, `stage ${s} can be built`);
    const tag = stageImageTag(repo, st);
    const b = await build(dir, input.dockerfileText, tag, input.target, version);
    const lines = Object.entries(b.outcome.record.lines);
    const cached = lines.filter(([, l]) => l.cache === 'cached').length;
    log(`stage ${stageLabel(st)} as ${tag} (target ${input.target}): ${b.ms} ms, ${cached}/${lines.length} steps cached`);
    // Right after the full build, nothing of the stage runs again.
    assert.ok(lines.length > 0, `the ${b.outcome.record.builder} build of ${tag} reported its steps`);
    assert.deepEqual(lines.filter(([, l]) => l.cache !== 'cached').map(([line]) => line), [], `every step of ${stageLabel(st)} was cached`);
    const q = await quickImageFromEngine(engine, tag);
    const m = mapHistory(model, q.history, { stage: s, entrySizes: entrySizes(q) });
    assert.ok(stageImageMatches(m), `${tag} matches stage ${stageLabel(st)} (score ${m.score})`);
    stages.push({ source: tag, mapping: m, entrySizes: entrySizes(q) });
    stageTags.set(s, tag);
    histories.set(tag, await apiHistory(tag));
  }
  return { infos: lineInfos(mapping, entrySizes(main), undefined, model, stages), stageTags, histories, finalTag };
}

/** Every line of every stage: its size is the engine's history Size in the image it names. */
function checkSizes(model: DockerfileModel, r: Awaited<ReturnType<typeof buildAll>>): number {
  const byLine = new Map(r.infos.map((i) => [i.line, i]));
  let checked = 0;
  for (const ins of model.instructions) {
    if (ins.stage < 0) continue;
    const i = byLine.get(ins.line);
    assert.ok(i, `line ${ins.line} (${ins.keyword}) has a lens`);
    const tag = r.stageTags.get(ins.stage);
    // A stage's lines come from the stage image of their own stage when it was built, else the final image.
    assert.equal(i.stageImage, tag, `line ${ins.line}: from ${tag ?? 'the final image'}`);
    const hist = r.histories.get(tag ?? r.finalTag)!;
    assert.notEqual(i.size, null, `line ${ins.line} has a size`);
    if (ins.keyword === 'FROM') {
      assert.equal(i.kind, 'base');
      // The entries below the stage's own: the stage image's history without the stage's lines.
      const own = r.infos.filter((x) => x.stage === ins.stage && x.historyIndex !== null).map((x) => x.historyIndex!);
      const below = own.length > 0 ? Math.min(...own) : hist.length;
      assert.equal(i.size, hist.slice(0, below).reduce((a, h) => a + h.Size, 0), `FROM line ${ins.line}: base total`);
    } else {
      assert.notEqual(i.historyIndex, null, `line ${ins.line} (${ins.keyword}) mapped`);
      const row = hist[i.historyIndex!];
      assert.equal(i.size, i.layerIndex === null ? 0 : row.Size, `line ${ins.line} (${ins.keyword}): engine history Size of ${tag ?? r.finalTag}`);
      if (ins.keyword === 'RUN') assert.ok(row.CreatedBy.includes(ins.args), `line ${ins.line}: ${row.CreatedBy}`);
      else assert.ok(row.CreatedBy.includes(ins.keyword), `line ${ins.line}: ${row.CreatedBy}`);
    }
    checked++;
  }
  return checked;
}

before(async () => {
  await E.requireEngine();
  await E.ensureBaseImage();
  await E.docker(['tag', E.BASE_IMAGE, 'llbase:1']);
  engine = createEngineClient(resolveEndpointFromProcess());
  work = await mkdtemp(path.join(os.tmpdir(), 'layerlens-stages-'));
});

after(async () => {
  // Only the tags this file made.
  for (const t of [...new Set(created)]) await E.run(E.DOCKER, ['rmi', t]);
  if (work) await rm(work, { recursive: true, force: true });
});

for (const [version, name] of [['2', 'buildkit'], ['1', 'legacy']] as const) {
  describe(`stage images (${name})`, () => {
    it('the multistage fixture: every stage built as a target; every line\'s size is its stage image\'s engine history Size', async (t) => {
      const dir = await mkdtemp(path.join(work, `ms-${name}-`));
      await cp(path.join(E.repoRoot(), 'test', 'fixtures', 'dockerfiles', 'multistage'), dir, { recursive: true });
      await writeFile(path.join(dir, 'hello.txt'), `hello ${NONCE}\n`);
      const text = await readFile(path.join(dir, 'Dockerfile'), 'utf8');
      const model = parseDockerfile(text);
      const repo = `layerlens-test/stage-images-${name}`;
      const r = await buildAll(dir, model, text, repo, version, (s) => t.diagnostic(s));
      assert.deepEqual([...r.stageTags.values()], [`${repo}:stage-build`, `${repo}:stage-tools`, `${repo}:stage-test`]);
      assert.equal(checkSizes(model, r), model.instructions.length);
      // Layers with bytes in each stage (RUN 4 and COPY 3 of build, RUN 7 of tools, RUN 10 of test).
      const at = (line: number): LineInfo => r.infos.find((i) => i.line === line)!;
      for (const l of [3, 4, 7, 10]) assert.ok(at(l).size! > 0, `line ${l}: ${at(l).size}`);
      assert.ok(at(9).size! > at(1).size!, 'FROM build AS test: the base image plus the build stage');

      // The CLI, given the same stage images, prints the same sizes (and names the image each layerIndex counts in).
      const args = ['lines', path.join(dir, 'Dockerfile'), '--image', r.finalTag, '--json'];
      for (const [s, tag] of r.stageTags) args.push('--stage-image', `${model.stages[s].name}=${tag}`);
      const cli = await E.cli(args, { env: { DOCKER_HOST: E.engineHost() } });
      assert.equal(cli.code, 0, cli.stderr);
      const rows = JSON.parse(cli.stdout) as Array<{ line: number; size: number | null; layerIndex: number | null; image: string; stage: number; kind: string }>;
      assert.deepEqual(rows.map((x) => [x.line, x.size, x.layerIndex, x.image]), r.infos.map((i) => [i.line, i.size, i.layerIndex, i.stageImage ?? r.finalTag]));
      assert.ok(rows.every((x) => x.size !== null && x.kind !== 'unmapped'), cli.stdout);
    });

    it('an unnamed stage is built through a name added to its FROM line, from the cache', async (t) => {
      const dir = await mkdtemp(path.join(work, `unnamed-${name}-`));
      const text = `FROM llbase:1\nRUN echo unnamed-${NONCE} > /a && mkdir /d && echo more > /d/b\n\nFROM llbase:1\nCOPY --from=0 /a /copied\nCMD ["cat", "/copied"]\n`;
      await writeFile(path.join(dir, 'Dockerfile'), text);
      const model = parseDockerfile(text);
      const repo = `layerlens-test/stage-images-unnamed-${name}`;
      const r = await buildAll(dir, model, text, repo, version, (s) => t.diagnostic(s));
      assert.deepEqual([...r.stageTags.values()], [`${repo}:stage-0`]);
      assert.equal(checkSizes(model, r), model.instructions.length);
      const run = r.infos.find((i) => i.line === 2)!;
      assert.equal(run.stageImage, `${repo}:stage-0`);
      assert.ok(run.size! > 0);
      // The CLI: an unnamed stage is given by its index.
      const cli = await E.cli(['lines', path.join(dir, 'Dockerfile'), '--image', r.finalTag, '--stage-image', `0=${repo}:stage-0`, '--json'], { env: { DOCKER_HOST: E.engineHost() } });
      assert.equal(cli.code, 0, cli.stderr);
      const rows = JSON.parse(cli.stdout) as Array<{ line: number; size: number | null; image: string }>;
      const row = rows.find((x) => x.line === 2);
      assert.equal(row?.size, run.size);
      assert.equal(row?.image, `${repo}:stage-0`);
    });
  });
}

describe('layerlens lines --stage-image: usage errors', () => {
  it('a stage that does not exist, a stage of the image itself, and a malformed value: exit 2, one line', async () => {
    const file = path.join(E.repoRoot(), 'test', 'fixtures', 'dockerfiles', 'multistage', 'Dockerfile');
    const img = E.BASE_IMAGE;
    const cases: Array<[string, RegExp]> = [
      ['nope=x', /has no stage 'nope' \(stages: build, tools, test, 3\)/],
      ['3=x', /stage 3 is in the image's own stage chain/],
      ['build', /--stage-image needs STAGE=SOURCE/],
    ];
    for (const [value, want] of cases) {
      const r = await E.cli(['lines', file, '--image', img, '--stage-image', value, '--json'], { env: { DOCKER_HOST: E.engineHost() } });
      assert.equal(r.code, 2, `${value}: exit ${r.code} ${r.stdout.slice(0, 300)}`);
      assert.match(r.stderr, want, value);
      assert.equal(r.stderr.trim().split('\n').length, 1, r.stderr);
    }
  });
});
