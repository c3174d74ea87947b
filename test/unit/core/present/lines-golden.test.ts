// Golden CodeLens labels (the `layerlens lines` margin) for every recorded build of both builders:
// the fixture Dockerfile, the image's config history and the engine's per-entry sizes, mapped and
// rendered exactly as the editor shows them. Regenerate with UPDATE_GOLDEN=1 and review the diff.
import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { parseDockerfile } from '../../../../src/core/dockerfile/dockerfile';
import { mapHistory } from '../../../../src/core/dockerfile/mapping';
import { historyFromConfig } from '../../../support/history';
import { lensLabel, lineInfos, linesMargin } from '../../../../src/core/present/lines';
import { repoRoot } from '../../../support/repo';

const root = repoRoot();
const recDir = path.join(root, 'test/fixtures/histories');
const goldenDir = path.join(root, 'test/unit/golden/lenses');

interface Recording {
  dockerfile: string; buildArgs?: Record<string, string>; target?: string | null;
  history: Array<{ created_by?: string; empty_layer?: boolean; comment?: string }>; sizes: number[];
}

const files = fs.readdirSync(recDir).filter((f) => f.endsWith('.json')).sort();

test('recordings exist for both builders', () => {
  assert.ok(files.some((f) => f.includes('.buildkit')) && files.some((f) => f.includes('.legacy')));
});

for (const f of files) {
  test(`lens labels for ${f}`, () => {
    const rec = JSON.parse(fs.readFileSync(path.join(recDir, f), 'utf8')) as Recording;
    const text = fs.readFileSync(path.join(root, rec.dockerfile), 'utf8');
    const model = parseDockerfile(text, { buildArgs: rec.buildArgs ?? {} });
    const history = historyFromConfig(rec.history);
    const sizes = history.map((_, i) => rec.sizes[i] ?? 0);
    const mapping = mapHistory(model, history, { stage: rec.target ?? undefined, entrySizes: sizes });
    const infos = lineInfos(mapping, sizes);
    // Every instruction of the mapped chain has a label, and every layer-making line is mapped.
    for (const i of infos) assert.ok(lensLabel(i).length > 0);
    const got = linesMargin(text.replace(/\n$/, ''), infos) + '\n';
    const file = path.join(goldenDir, f.replace(/\.json$/, '.txt'));
    if (process.env.UPDATE_GOLDEN) fs.writeFileSync(file, got);
    assert.ok(fs.existsSync(file), `golden ${file} missing: run with UPDATE_GOLDEN=1 and review it`);
    assert.equal(got, fs.readFileSync(file, 'utf8'));
  });
}

test('lines of stages the image does not contain show the build trace\'s cache status', () => {
  const rec = JSON.parse(fs.readFileSync(path.join(recDir, 'multistage.buildkit.json'), 'utf8')) as Recording;
  const text = fs.readFileSync(path.join(root, rec.dockerfile), 'utf8');
  const model = parseDockerfile(text);
  const history = historyFromConfig(rec.history);
  const sizes = history.map((_, i) => rec.sizes[i] ?? 0);
  const mapping = mapHistory(model, history, { entrySizes: sizes });
  const build = model.stages.find((s) => s.name === 'build')!;
  const run = build.instructions.find((i) => i.keyword === 'RUN')!;
  const copy = build.instructions.find((i) => i.keyword === 'COPY')!;
  const cache = new Map([[run.line, { cache: 'built' as const, durationMs: 1200 }], [copy.line, { cache: 'cached' as const }]]);
  const infos = lineInfos(mapping, sizes, cache, model);
  const byLine = new Map(infos.map((i) => [i.line, i]));
  assert.equal(lensLabel(byLine.get(run.line)!), 'stage build · rebuilt in 1.2 s');
  assert.equal(lensLabel(byLine.get(copy.line)!), 'stage build · cached');
  assert.deepEqual(infos.map((i) => i.line), [...infos.map((i) => i.line)].sort((a, b) => a - b), 'sorted by line');
  // Without the model, only the image's own chain is listed (as before).
  assert.equal(lineInfos(mapping, sizes, cache).some((i) => i.line === run.line), false);
});
