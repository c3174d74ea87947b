import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import { mkdirSync, readFileSync, readdirSync, writeFileSync, existsSync } from 'node:fs';
import * as path from 'node:path';
import { parseDockerfile } from '../../../../src/core/dockerfile/dockerfile';
import { mapHistory } from '../../../../src/core/dockerfile/mapping';
import { historyFromConfig } from '../../../support/history';
import { repoRoot } from '../../../support/repo';

// Golden per-line mappings of every recorded build: line, instruction, stage, history entry,
// layer, the entry's size as the engine reported it, and for FROM lines the base totals.
// Regenerate after an intended change with:  UPDATE_GOLDEN=1 node --test out/test/unit/core/dockerfile/mapping-golden.test.js

const root = repoRoot();
const histDir = path.join(root, 'test/fixtures/histories');
const goldenDir = path.join(histDir, 'golden');

test('per-line mappings equal the golden files', () => {
  const files = readdirSync(histDir).filter((f) => f.endsWith('.json')).sort();
  const update = process.env.UPDATE_GOLDEN === '1';
  if (update) mkdirSync(goldenDir, { recursive: true });
  for (const f of files) {
    const rec = JSON.parse(readFileSync(path.join(histDir, f), 'utf8')) as {
      dockerfile: string; buildArgs: Record<string, string>; target: string | null; history: []; sizes: number[]; builder: string; engine: string;
    };
    const model = parseDockerfile(readFileSync(path.join(root, rec.dockerfile), 'utf8'), { buildArgs: rec.buildArgs });
    const r = mapHistory(model, historyFromConfig(rec.history), { stage: rec.target ?? undefined, entrySizes: rec.sizes });
    const got = {
      dockerfile: rec.dockerfile,
      builder: rec.builder,
      engine: rec.engine,
      detectedBuilder: r.builder,
      score: r.score,
      lines: r.lines.map((l) => ({ ...l, size: l.historyIndex === null ? null : rec.sizes[l.historyIndex] })),
    };
    const file = path.join(goldenDir, f);
    if (update || !existsSync(file)) {
      if (!update) assert.fail(`missing golden file ${file} (run with UPDATE_GOLDEN=1)`);
      writeFileSync(file, JSON.stringify(got, null, 1) + '\n');
      continue;
    }
    assert.deepEqual(got, JSON.parse(readFileSync(file, 'utf8')), f);
  }
});
