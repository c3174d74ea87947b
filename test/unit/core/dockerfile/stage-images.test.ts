// Sizes for the lines of stages the image does not contain: each such stage's own image (the stage
// built as a target), mapped with its stage. Recorded histories of the multistage fixture built
// for every target (scripts/record-histories.sh), golden margins under test/unit/golden/lenses/
// multistage-all-stages.*.txt (UPDATE_GOLDEN=1 regenerates them; review the diff).
import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { parseDockerfile } from '../../../../src/core/dockerfile/dockerfile';
import { mapHistory, type MappingResult } from '../../../../src/core/dockerfile/mapping';
import { historyFromConfig } from '../../../support/history';
import { lensLabel, lineInfos, linesMargin, type StageImageLines } from '../../../../src/core/present/lines';
import {
  findStage, stageBuildInput, stageImageMatches, stageImageTag, stageKey, stageLabel, stagesOutside,
} from '../../../../src/core/dockerfile/stageImages';
import { repoRoot } from '../../../support/repo';

const root = repoRoot();
const recDir = path.join(root, 'test/fixtures/histories');
const goldenDir = path.join(root, 'test/unit/golden/lenses');

interface Recording {
  dockerfile: string; target: string | null;
  history: Array<{ created_by?: string; empty_layer?: boolean; comment?: string }>; sizes: number[];
}

function load(name: string): { rec: Recording; history: ReturnType<typeof historyFromConfig>; sizes: number[] } {
  const rec = JSON.parse(fs.readFileSync(path.join(recDir, name), 'utf8')) as Recording;
  const history = historyFromConfig(rec.history);
  return { rec, history, sizes: history.map((_, i) => rec.sizes[i] ?? 0) };
}

const text = fs.readFileSync(path.join(root, 'test/fixtures/dockerfiles/multistage/Dockerfile'), 'utf8');
const model = parseDockerfile(text);
const stageOf = (name: string): number => findStage(model, name);

function stageImage(file: string, stage: string, source: string): StageImageLines & { sizesByEntry: number[] } {
  const { history, sizes } = load(file);
  return { source, mapping: mapHistory(model, history, { stage: stageOf(stage), entrySizes: sizes }), entrySizes: sizes, sizesByEntry: sizes };
}

function mainMapping(file: string): { mapping: MappingResult; sizes: number[] } {
  const { history, sizes } = load(file);
  return { mapping: mapHistory(model, history, { entrySizes: sizes }), sizes };
}

for (const suffix of ['buildkit-engine20', 'legacy-engine20']) {
  test(`every line of every stage gets a size from its stage image (${suffix})`, () => {
    const main = mainMapping(`multistage.${suffix}.json`);
    const build = stageImage(`multistage-target-build.${suffix}.json`, 'build', 'layerlens/multistage:stage-build');
    const tools = stageImage(`multistage-target-tools.${suffix}.json`, 'tools', 'layerlens/multistage:stage-tools');
    const testImg = stageImage(`multistage-target-test.${suffix}.json`, 'test', 'layerlens/multistage:stage-test');
    for (const s of [build, tools, testImg]) assert.ok(stageImageMatches(s.mapping), `${s.source} matches its stage (score ${s.mapping.score})`);
    const infos = lineInfos(main.mapping, main.sizes, undefined, model, [build, tools, testImg]);

    // Every instruction has a lens, and none is without a size.
    assert.deepEqual(infos.map((i) => i.line), model.instructions.map((i) => i.line));
    for (const i of infos) {
      assert.notEqual(i.kind, 'unmapped', `line ${i.line}: ${lensLabel(i)}`);
      assert.notEqual(i.kind, 'other-stage', `line ${i.line}: ${lensLabel(i)}`);
      assert.notEqual(i.size, null, `line ${i.line} has a size`);
    }
    // Each stage's lines come from its own image, with that image's layer index and history Size.
    const expect = [[build, 'build'], [tools, 'tools'], [testImg, 'test']] as const;
    for (const [img, name] of expect) {
      for (const i of infos.filter((x) => x.stage === stageOf(name))) {
        assert.equal(i.stageImage, img.source, `line ${i.line} from ${img.source}`);
        assert.equal(i.stageName, name);
        if (i.kind === 'base') {
          const m = img.mapping.lines.find((l) => l.line === i.line)!;
          const want = img.sizesByEntry.slice(0, m.base!.entryCount).reduce((a, b) => a + b, 0);
          assert.equal(i.size, want, `FROM line ${i.line}: the stage image's entries below the stage`);
        } else {
          assert.notEqual(i.historyIndex, null, `line ${i.line} mapped`);
          assert.equal(i.size, img.sizesByEntry[i.historyIndex!], `line ${i.line}: the stage image's history Size`);
        }
      }
    }
    // The final stage's lines stay with the final image.
    for (const i of infos.filter((x) => x.stage === model.stages.length - 1)) assert.equal(i.stageImage, undefined);
    // The numbers themselves (the recordings': busybox 1985512 B, 17 B hello.txt, 23 B /out, 5 B tool, 6 B tested.txt).
    const byLine = new Map(infos.map((i) => [i.line, i]));
    assert.equal(byLine.get(4)!.size, 23);
    assert.equal(byLine.get(7)!.size, 5);
    assert.equal(byLine.get(10)!.size, 6);
    assert.equal(lensLabel(byLine.get(9)!), 'base 1.99 MB in 4 layers', 'FROM build AS test: the build stage below it');

    const got = linesMargin(text.replace(/\n$/, ''), infos) + '\n';
    const file = path.join(goldenDir, `multistage-all-stages.${suffix}.txt`);
    if (process.env.UPDATE_GOLDEN) fs.writeFileSync(file, got);
    assert.ok(fs.existsSync(file), `golden ${file} missing: run with UPDATE_GOLDEN=1 and review it`);
    assert.equal(got, fs.readFileSync(file, 'utf8'));
  });
}

test('a stage without its own image takes its sizes from a stage built on it; its own image wins when given', () => {
  const main = mainMapping('multistage.buildkit-engine20.json');
  const build = stageImage('multistage-target-build.buildkit-engine20.json', 'build', 'b');
  const testImg = stageImage('multistage-target-test.buildkit-engine20.json', 'test', 't');
  const only = lineInfos(main.mapping, main.sizes, undefined, model, [testImg]);
  const runLine = (infos: typeof only) => infos.find((i) => i.line === 4)!;
  assert.equal(runLine(only).stageImage, 't', 'from the test image (it holds the build stage)');
  assert.equal(runLine(only).size, 23);
  assert.equal(only.some((i) => i.stage === stageOf('tools')), false, 'no image, no trace: no lens for tools');
  // Order of the list does not matter: the stage's own image first.
  for (const list of [[testImg, build], [build, testImg]]) {
    const infos = lineInfos(main.mapping, main.sizes, undefined, model, list);
    assert.equal(runLine(infos).stageImage, 'b');
    assert.equal(infos.find((i) => i.line === 10)!.stageImage, 't');
    assert.equal(runLine(infos).layerIndex, build.mapping.lines.find((l) => l.line === 4)!.layerIndex);
  }
});

test('stage image lines carry the build trace\'s cache status; stages without an image keep the trace alone', () => {
  const main = mainMapping('multistage.buildkit-engine20.json');
  const build = stageImage('multistage-target-build.buildkit-engine20.json', 'build', 'b');
  const cache = new Map([
    [4, { cache: 'built' as const, durationMs: 1200 }],
    [7, { cache: 'cached' as const }],
    [3, { cache: 'will-rebuild' as const, reason: 'hello.txt changed' }],
  ]);
  const infos = lineInfos(main.mapping, main.sizes, cache, model, [build]);
  const at = (l: number): string => lensLabel(infos.find((i) => i.line === l)!);
  assert.equal(at(4), '23 B · rebuilt in 1.2 s');
  assert.equal(at(3), 'will rebuild · hello.txt changed');
  assert.equal(at(7), 'stage tools · cached', 'tools has no image: the trace only');
});

test('an edited stage line the stage image does not hold says so', () => {
  const edited = text.replace('WORKDIR /src', 'WORKDIR /src\nRUN echo new-line > /new');
  const m2 = parseDockerfile(edited);
  const { history, sizes } = load('multistage-target-build.buildkit-engine20.json');
  const mapping = mapHistory(m2, history, { stage: 0, entrySizes: sizes });
  assert.ok(stageImageMatches(mapping), `one new line: still the stage's image (score ${mapping.score})`);
  const main = load('multistage.buildkit-engine20.json');
  const infos = lineInfos(mapHistory(m2, main.history, { entrySizes: main.sizes }), main.sizes, undefined, m2, [{ source: 'b', mapping, entrySizes: sizes }]);
  assert.equal(lensLabel(infos.find((i) => i.line === 3)!), 'not in the stage image');
  assert.equal(lensLabel(infos.find((i) => i.line === 4)!), '17 B', 'the lines below keep their sizes');
});

test('stageImageMatches: another stage\'s image does not pass for this one', () => {
  const tools = load('multistage-target-tools.buildkit-engine20.json');
  const asBuild = mapHistory(model, tools.history, { stage: stageOf('build'), entrySizes: tools.sizes });
  assert.equal(stageImageMatches(asBuild), false, `score ${asBuild.score}`);
  const build = load('multistage-target-build.buildkit-engine20.json');
  assert.equal(stageImageMatches(mapHistory(model, build.history, { stage: stageOf('tools') })), false);
  // A stage that is just FROM: nothing to tell apart, accepted.
  const fromOnly = parseDockerfile('FROM llbase:1 AS base\n\nFROM base\nRUN echo hi\n');
  assert.equal(stageImageMatches(mapHistory(fromOnly, historyFromConfig([{ created_by: '', comment: 'Imported from -' }]), { stage: 0 })), true);
});

test('stage keys, lookups, labels and tags', () => {
  const m = parseDockerfile('FROM a AS Build\nRUN x\nFROM b\nRUN y\nFROM c AS Weird_Name.2\nCOPY --from=0 / /\n');
  assert.deepEqual(m.stages.map(stageKey), ['build', '#1', 'weird_name.2']);
  assert.deepEqual(m.stages.map(stageLabel), ['Build', 'stage 1', 'Weird_Name.2']);
  assert.equal(findStage(m, 'BUILD'), 0);
  assert.equal(findStage(m, '#1'), 1);
  assert.equal(findStage(m, '1'), 1);
  assert.equal(findStage(m, '3'), -1);
  assert.equal(findStage(m, 'nope'), -1);
  assert.deepEqual(m.stages.map((s) => stageImageTag('layerlens/app', s)), ['layerlens/app:stage-build', 'layerlens/app:stage-1', 'layerlens/app:stage-weird_name.2']);
  assert.deepEqual(stagesOutside(model, model.stages.length - 1), [0, 1, 2]);
  assert.deepEqual(stagesOutside(model, stageOf('test')), [1, 3]);
  assert.deepEqual(stagesOutside(model, -1), [0, 1, 2, 3]);
});

test('stageBuildInput: named stages as they are; an unnamed stage gets a name at the end of its FROM, lines unchanged', () => {
  assert.deepEqual(stageBuildInput(text, model, 1), { dockerfileText: text, target: 'tools' });
  const src = 'ARG V=1\nFROM --platform=linux/amd64 \\\n  llbase:$V\nRUN echo a > /a\r\nFROM llbase:1 AS layerlens-stage-2\nFROM llbase:1\r\nCOPY --from=0 /a /b\n';
  const m = parseDockerfile(src);
  const first = stageBuildInput(src, m, 0)!;
  assert.equal(first.target, 'layerlens-stage-0');
  const m0 = parseDockerfile(first.dockerfileText);
  assert.equal(m0.stages[0].name, 'layerlens-stage-0');
  assert.equal(m0.stages[0].baseImage, 'llbase:1');
  assert.equal(m0.stages[0].platform, 'linux/amd64');
  assert.deepEqual(m0.instructions.map((i) => [i.line, i.endLine, i.keyword]), m.instructions.map((i) => [i.line, i.endLine, i.keyword]));
  // A name already taken is not reused; CRLF line endings are kept.
  const third = stageBuildInput(src, m, 2)!;
  assert.equal(third.target, 'layerlens-stage-2x');
  assert.match(third.dockerfileText, /FROM llbase:1 AS layerlens-stage-2x\r\nCOPY/);
  assert.equal(parseDockerfile(third.dockerfileText).stages[2].name, 'layerlens-stage-2x');
  assert.equal(stageBuildInput(src, m, 9), null);
});
