// Compare with Previous Build's grouping (src/core/present/buildChanges.ts): two images' file
// differences by the Dockerfile line whose layer holds each change, both images mapped onto the
// same text, so that an extra layer in the base or a new line does not shift the alignment.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseDockerfile } from '../../../../src/core/dockerfile/dockerfile';
import { mapHistory } from '../../../../src/core/dockerfile/mapping';
import type { FileDiff } from '../../../../src/core/image/index/diff';
import { changesByLine, fileChangeText, layerLines } from '../../../../src/core/present/buildChanges';
import { formatBytes } from '../../../../src/core/present/format';
import type { HistoryEntry } from '../../../../src/core/image/types';

const TEXT = 'FROM base:1\nRUN apk add \\\n    curl\nCOPY app/ /app/\nCMD ["/app/run"]\n';

function history(baseLayers: number, withRun = true): HistoryEntry[] {
  const h: HistoryEntry[] = [];
  for (let i = 0; i < baseLayers; i++) h.push({ index: h.length, createdBy: `/bin/sh -c #(nop) ADD file:${i} in / `, emptyLayer: false, layerIndex: i });
  let layer = baseLayers;
  if (withRun) h.push({ index: h.length, createdBy: 'RUN /bin/sh -c apk add     curl # buildkit', emptyLayer: false, layerIndex: layer++ });
  h.push({ index: h.length, createdBy: 'COPY app/ /app/ # buildkit', emptyLayer: false, layerIndex: layer++ });
  h.push({ index: h.length, createdBy: 'CMD ["/app/run"]', emptyLayer: true, layerIndex: null });
  return h;
}

test('layerLines: base layers belong to FROM, each other layer to the line that made it (written on one line)', () => {
  const model = parseDockerfile(TEXT);
  const lines = layerLines(model, mapHistory(model, history(2)), 4);
  assert.deepEqual(lines, [
    { line: 1, text: 'FROM base:1' }, { line: 1, text: 'FROM base:1' },
    { line: 2, text: 'RUN apk add curl' }, { line: 4, text: 'COPY app/ /app/' },
  ]);
});

test('changesByLine: aligned by Dockerfile line, not layer index; removed paths go to the old image\'s line', () => {
  const model = parseDockerfile(TEXT);
  // The old image's base had one layer, the new one's two: layer indexes shift by one.
  const oldLines = layerLines(model, mapHistory(model, history(1)), 3);
  const newLines = layerLines(model, mapHistory(model, history(2)), 4);
  const files: FileDiff[] = [
    { path: '/app/new.txt', change: 'added', oldSize: null, newSize: 1200, layer: 3 },
    { path: '/app/gone.txt', change: 'removed', oldSize: 50, newSize: null, layer: 2 },
    { path: '/app/main.py', change: 'modified', oldSize: 10, newSize: 12, layer: 3 },
    { path: '/etc/os-release', change: 'modified', oldSize: 100, newSize: 101, layer: 1 },
  ];
  const groups = changesByLine(files,
    { lines: oldLines, layerSizes: [1000, 500, 60], diffIds: ['b0', 'run', 'copy-old'] },
    { lines: newLines, layerSizes: [1000, 300, 500, 1212], diffIds: ['b0', 'b1', 'run', 'copy-new'] });
  assert.deepEqual(groups.map((g) => [g.line, g.text, g.oldSize, g.newSize, g.added, g.removed, g.modified, g.files.map((f) => f.path)]), [
    [1, 'FROM base:1', 1000, 1300, 0, 0, 1, ['/etc/os-release']],
    [4, 'COPY app/ /app/', 60, 1212, 1, 1, 1, ['/app/gone.txt', '/app/main.py', '/app/new.txt']],
  ]);
  // The RUN line's layer is the same one in both images (same diffID): not listed.
  assert.ok(!groups.some((g) => g.line === 2));
});

test('changesByLine: a rebuilt layer with byte-identical files is listed with its sizes and no path; a new line has no old size', () => {
  const model = parseDockerfile(TEXT);
  const oldLines = layerLines(model, mapHistory(model, history(1, false)), 2);
  const newLines = layerLines(model, mapHistory(model, history(1)), 3);
  const groups = changesByLine([],
    { lines: oldLines, layerSizes: [1000, 60], diffIds: ['b0', 'copy-a'] },
    { lines: newLines, layerSizes: [1000, 500, 60], diffIds: ['b0', 'run', 'copy-b'] });
  assert.deepEqual(groups.map((g) => [g.line, g.oldSize, g.newSize, g.files.length]), [[2, null, 500, 0], [4, 60, 60, 0]]);
});

test('fileChangeText', () => {
  assert.equal(fileChangeText({ path: '/a', change: 'added', oldSize: null, newSize: 1200, layer: 1 }, formatBytes), 'added 1.2 kB');
  assert.equal(fileChangeText({ path: '/a', change: 'removed', oldSize: 5, newSize: null, layer: 1 }, formatBytes), 'removed 5 B');
  assert.equal(fileChangeText({ path: '/a', change: 'modified', oldSize: 10, newSize: 12, layer: 1 }, formatBytes), 'modified 10 B → 12 B');
});
