import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import { readFileSync, readdirSync } from 'node:fs';
import * as path from 'node:path';
import { parseDockerfile, type DockerfileModel } from '../../../../src/core/dockerfile/dockerfile';
import { mapHistory } from '../../../../src/core/dockerfile/mapping';
import { historyFromConfig } from '../../../support/history';
import type { HistoryEntry } from '../../../../src/core/image/types';
import { repoRoot } from '../../../support/repo';

// A Dockerfile being typed is any prefix of a valid one, or a valid one with pieces missing or
// stray characters: the model and the mapping must never throw and must stay consistent.

const root = path.join(repoRoot(), 'test/fixtures');
const names = readdirSync(path.join(root, 'dockerfiles')).filter((d) => !d.startsWith('.')).sort();
const sources = names.map((n) => ({ name: n, text: readFileSync(path.join(root, 'dockerfiles', n, 'Dockerfile'), 'utf8') }));
const histories: HistoryEntry[][] = readdirSync(path.join(root, 'histories'))
  .filter((f) => f.endsWith('.buildkit.json') || f.endsWith('.legacy.json'))
  .map((f) => historyFromConfig((JSON.parse(readFileSync(path.join(root, 'histories', f), 'utf8')) as { history: [] }).history));

function checkModel(m: DockerfileModel, text: string, label: string): void {
  const lineCount = text.split('\n').length;
  let prev = 0;
  for (const i of m.instructions) {
    assert.ok(i.line >= 1 && i.line <= i.endLine && i.endLine <= lineCount, `${label}: lines ${i.line}-${i.endLine} of ${lineCount}`);
    assert.ok(i.line >= prev, `${label}: instructions in order`);
    prev = i.line;
    assert.ok(i.stage >= -1 && i.stage < m.stages.length, `${label}: stage index`);
    assert.equal(typeof i.args, 'string');
  }
  for (const s of m.stages) {
    assert.equal(s.instructions[0].keyword, 'FROM', label);
    for (const d of s.dependsOn) assert.ok(d >= 0 && d < s.index, `${label}: dependency on an earlier stage`);
    if (s.baseStage !== null) assert.ok(s.baseStage < s.index, label);
  }
}

function exercise(text: string, label: string, history: HistoryEntry[]): void {
  let m: DockerfileModel;
  try {
    m = parseDockerfile(text, { buildArgs: { VERSION: '9' } });
  } catch (err) {
    assert.fail(`${label}: parseDockerfile threw ${(err as Error).stack}`);
  }
  checkModel(m, text, label);
  try {
    const r = mapHistory(m, history);
    assert.ok(r.score >= 0 && r.score <= 1, label);
    for (const l of r.lines) if (l.historyIndex !== null) assert.ok(l.historyIndex < history.length, label);
  } catch (err) {
    assert.fail(`${label}: mapHistory threw ${(err as Error).stack}`);
  }
}

test('every prefix of every fixture Dockerfile (cut at each character) parses and maps without throwing', () => {
  let n = 0;
  for (const [k, { name, text }] of sources.entries()) {
    const history = histories[k % histories.length];
    for (let cut = 0; cut <= text.length; cut++) {
      exercise(text.slice(0, cut), `${name} cut at ${cut}`, history);
      n++;
    }
  }
  assert.ok(n > 1000, `${n} prefixes`);
});

test('random deletions and stray characters never throw (seeded)', () => {
  let seed = 0x2545f491;
  const rnd = (k: number): number => {
    seed ^= seed << 13;
    seed ^= seed >>> 17;
    seed ^= seed << 5;
    return (seed >>> 0) % k;
  };
  const junk = ['\\', '`', '\n', '"', "'", '$', '${', '}', '<<', '<<-', 'EOF', '[', ']', '--', '=', ' ', '\t', '#', '\r\n', 'FROM ', 'AS ', 'RUN ', 'COPY --from=', '{', ':-'];
  for (const [k, { name, text }] of sources.entries()) {
    const history = histories[(k + 3) % histories.length];
    for (let round = 0; round < 150; round++) {
      let t = text;
      const edits = 1 + rnd(4);
      for (let e = 0; e < edits; e++) {
        const at = rnd(t.length + 1);
        if (rnd(2) === 0) t = t.slice(0, at) + t.slice(at + 1 + rnd(12));
        else t = t.slice(0, at) + junk[rnd(junk.length)] + t.slice(at);
      }
      exercise(t, `${name} round ${round}`, history);
    }
  }
});

test('pathological inputs', () => {
  const cases = [
    '', '\n\n\n', '\\', '#', '# escape=`\n', '# escape=`\nFROM x\nRUN a `', 'FROM x\nRUN a \\', 'FROM x\nRUN a \\\n',
    'FROM x\nRUN <<', 'FROM x\nRUN <<EOF', 'FROM x\nCOPY <<A <<B', 'FROM x\nCOPY <<A <<B /d\nA\n', 'FROM ${', 'ARG A=${\nFROM $A',
    'FROM x\nENV', 'FROM x\nENV A', 'FROM x\nENV A="', "FROM x\nLABEL 'a", 'FROM x\nARG =', 'FROM x AS\nFROM AS AS AS',
    'FROM x\nCOPY --from= a b', 'FROM x\nRUN --mount=from= x', 'FROM x\nSHELL []', 'FROM x\nSHELL ["', 'FROM x\nCMD [', 'FROM x\nCMD ["a", 1]',
    'FROM x\nWORKDIR ../..', 'FROM x\nEXPOSE 1-999999', 'FROM x\nHEALTHCHECK', 'FROM x\nHEALTHCHECK CMD', 'FROM x\nONBUILD', 'FROM x\nONBUILD ONBUILD RUN x',
    'FROM x\nHEALTHCHECK --interval=zz CMD ["a"]', 'FROM x\nRUN ${A:-${B:-${C', '\u0000\uFFFF', 'FROM x\n' + 'RUN a \\\n'.repeat(500) + 'b',
  ];
  for (const c of cases) exercise(c, JSON.stringify(c.slice(0, 40)), histories[0]);
});
