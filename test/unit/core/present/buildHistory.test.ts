// The build history's rows and page (src/core/present/buildHistory.ts): `layerlens history --json`
// and the extension's Build History share the rows; the page shows a bar per build scaled to the
// largest size, each build's change in size, and each line's result per build.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { BuildRecord } from '../../../../src/core/dockerfile/cachePredict';
import { historyChartSvg, historyHtmlBody, historyRows, sizeDeltas } from '../../../../src/core/present/buildHistory';

function rec(over: Partial<BuildRecord>): BuildRecord {
  return {
    version: 1, builder: 'buildkit', dockerfileText: 'FROM a\nRUN x\nCOPY . /\n', buildArgs: {}, target: null, stages: [0], lines: {},
    context: null, tag: 'app:dev', imageId: 'sha256:1', finishedAt: Date.UTC(2026, 11, 7, 10), durationMs: 3200, ...over,
  };
}

const builds = [
  { record: rec({ lines: { 2: { cache: 'built', durationMs: 2100, endLine: 2, stage: 0, keyword: 'RUN' }, 3: { cache: 'built', durationMs: 40, endLine: 3, stage: 0, keyword: 'COPY' } } }), sizes: { '2': 1_000_000, '3': 200_000 } },
  { record: rec({ imageId: 'sha256:2', origin: 'engine', tag: 'app:term', buildArgs: { V: '2' }, buildArgsUnknown: ['LATE'], finishedAt: Date.UTC(2026, 11, 7, 11) }) },
  { record: rec({ imageId: 'sha256:3', origin: 'layerlens', durationMs: 900, lines: { 2: { cache: 'cached', durationMs: 0, endLine: 2, stage: 0, keyword: 'RUN' }, 3: { cache: 'built', durationMs: 55, endLine: 3, stage: 0, keyword: 'COPY' } } }), sizes: { '2': 1_000_000, '3': 3_400_000 } },
];

test('historyRows: the CLI\'s JSON rows; sizes summed; engine builds have no duration', () => {
  const rows = historyRows(builds);
  assert.deepEqual(rows.map((r) => [r.origin, r.size, r.durationMs, r.lines.length]), [['layerlens', 1_200_000, 3200, 2], ['engine', null, null, 0], ['layerlens', 4_400_000, 900, 2]]);
  assert.deepEqual(rows[1].buildArgs, { V: '2' });
  assert.deepEqual(rows[1].buildArgsUnknown, ['LATE']);
  assert.equal(rows[0].finishedAt, '2026-12-07T10:00:00.000Z');
  // A build with an unknown size is skipped when the next one's change is computed.
  assert.deepEqual(sizeDeltas(rows), [null, null, 3_200_000]);
});

test('the chart: one bar per known size, scaled to the largest, the last one marked current', () => {
  const svg = historyChartSvg(historyRows(builds));
  const heights = [...svg.matchAll(/<rect class="bar([^"]*)"[^>]* height="(\d+)"/g)].map((m) => [m[1], Number(m[2])]);
  assert.deepEqual(heights, [['', Math.round((1.2 / 4.4) * 120)], [' current', 120]]);
  assert.match(svg, />4\.4 MB</);
  assert.match(svg, />\?</);
});

test('the page: builds with size change, duration, how, build args; each line per build', () => {
  const html = historyHtmlBody(historyRows(builds), 'Dockerfile');
  assert.match(html, /<td class="num">\+3\.2 MB<\/td>/);
  assert.match(html, /seen through the engine/);
  assert.match(html, /V=2 · not in the history: LATE/);
  assert.match(html, /buildkit, 1 built, 1 cached/);
  const run = /<tr><td><a href="#" data-line="2">2<\/a> RUN<\/td>(.*?)<\/tr>/.exec(html);
  assert.ok(run, html);
  assert.deepEqual([...run[1].matchAll(/<td[^>]*>([^<]*)<\/td>/g)].map((m) => m[1]), ['2.1 s', '·', 'cached']);
  assert.match(historyHtmlBody([], 'Dockerfile'), /No build of Dockerfile is recorded yet/);
});

test('the page escapes what the records hold', () => {
  const html = historyHtmlBody(historyRows([{ record: rec({ tag: '<img src=x>' }) }]), 'a<b');
  assert.ok(!html.includes('<img'));
  assert.match(html, /&lt;img src=x&gt;/);
});
