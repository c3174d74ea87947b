// Sizes since the last build (src/core/present/lines.ts): layer lines keyed by their instruction
// (stage, keyword, text, occurrence), compared with the previous build's sizes; an edited or new
// line has no counterpart; the lens says `21 MB (+3.2 MB since last build)`.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseDockerfile } from '../../../../src/core/dockerfile/dockerfile';
import { lensLabel, sizesByInstruction, withSizeDeltas, type LineInfo } from '../../../../src/core/present/lines';

const info = (line: number, instruction: string, size: number | null, kind: LineInfo['kind']): LineInfo => ({
  line, endLine: line, instruction, stage: 0, historyIndex: line, layerIndex: kind === 'layer' ? line : null, size, kind, cache: 'unknown',
});

test('size deltas: by instruction, not by line number; edited lines and config lines get none', () => {
  const before = parseDockerfile('FROM b\nRUN echo a\nCOPY . /app\nENV X=1\nRUN echo a\n');
  const old = sizesByInstruction([info(1, 'FROM', 100, 'base'), info(2, 'RUN', 10, 'layer'), info(3, 'COPY', 21_000_000, 'layer'), info(4, 'ENV', 0, 'config'), info(5, 'RUN', 30, 'layer')], before);
  assert.equal(Object.keys(old).length, 3, 'layer lines only; the second `RUN echo a` is its own key');
  // A line inserted above: the same instructions on other lines still compare.
  const after = parseDockerfile('FROM b\nLABEL new=1\nRUN echo a\nCOPY . /app\nENV X=1\nRUN echo a\nRUN echo new\n');
  const infos = withSizeDeltas([info(1, 'FROM', 100, 'base'), info(2, 'LABEL', 0, 'config'), info(3, 'RUN', 10, 'layer'), info(4, 'COPY', 24_200_000, 'layer'),
    info(5, 'ENV', 0, 'config'), info(6, 'RUN', 25, 'layer'), info(7, 'RUN', 5, 'layer')], after, old);
  assert.deepEqual(infos.map((i) => i.sizeDelta), [undefined, undefined, 0, 3_200_000, undefined, -5, undefined]);
  assert.equal(lensLabel(infos[3]), '24.2 MB (+3.2 MB since last build)');
  assert.equal(lensLabel(infos[5]), '25 B (-5 B since last build)');
  assert.equal(lensLabel(infos[2]), '10 B', 'no change: nothing said');
});
