// `layerlens ci SOURCE --baseline BASE`: the exact growth (Σ layer sizes of SOURCE − Σ of BASE),
// exit 1 past --highest-size-growth and 0 at it, in bytes and in percent; BASE as an archive or as
// a saved `analyze --json`; the Dockerfile lines that grew aligned by their text (a classic COPY's
// content hash ignored), the largest files they ship; --format json and markdown; bad input exit 2.
import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { CLI_BUNDLE } from '../../support/repo';
import { runCli, type CliRun } from '../../support/cliRun';
import { dockerSave, makeTar } from '../support/tars';

const CLI = CLI_BUNDLE;
const DIR = fs.mkdtempSync(path.join(os.tmpdir(), 'layerlens-baseline-'));
const ENV = { LAYERLENS_CACHE: 'off' };
const cli = (args: string[]): Promise<CliRun> => runCli(CLI, args, ENV, DIR);
/** dive's rules off: these tests are about the size rule. */
const NO_DIVE = ['--lowest-efficiency', 'off', '--highest-user-wasted-percent', 'off'];

const sha = (c: string): string => c.repeat(64);

async function images(): Promise<{ base: string; grown: string; growth: number; baseSize: number }> {
  const baseLayers = [
    await makeTar([{ name: 'bin/', type: 'directory' }, { name: 'bin/sh', size: 50_000 }]),
    await makeTar([{ name: 'app/', type: 'directory' }, { name: 'app/main.js', size: 10_000 }]),
    await makeTar([{ name: 'app/node_modules/', type: 'directory' }, { name: 'app/node_modules/a.js', size: 30_000 }]),
    await makeTar([{ name: 'etc/', type: 'directory' }, { name: 'etc/old.conf', size: 700 }]),
  ];
  const base = {
    layers: baseLayers,
    history: [
      { created_by: '' }, // an imported base: no created_by
      { created_by: '/bin/sh -c #(nop)  ENV A=1', empty_layer: true },
      { created_by: '/bin/sh -c #(nop) COPY file:' + sha('b') + ' in /app ' },
      { created_by: '/bin/sh -c npm ci' },
      { created_by: '/bin/sh -c echo old > /etc/old.conf' },
    ],
    tag: 'app:base',
  };
  const grownLayers = [
    baseLayers[0],
    await makeTar([{ name: 'app/', type: 'directory' }, { name: 'app/main.js', size: 12_345 }]),
    await makeTar([{ name: 'app/node_modules/', type: 'directory' }, { name: 'app/node_modules/a.js', size: 30_000 }, { name: 'app/node_modules/big.bin', size: 400_000 }, { name: 'app/node_modules/b.js', size: 5_000 }]),
    await makeTar([{ name: 'srv/', type: 'directory' }, { name: 'srv/data', size: 20_000 }]),
  ];
  const grown = {
    layers: grownLayers,
    history: [
      { created_by: '' }, // an imported base: no created_by
      { created_by: '/bin/sh -c #(nop)  ENV A=1', empty_layer: true },
      { created_by: '/bin/sh -c #(nop) COPY file:' + sha('c') + ' in /app ' },
      { created_by: '/bin/sh -c npm ci' },
      { created_by: '/bin/sh -c make data' },
    ],
    tag: 'app:pr',
  };
  fs.writeFileSync(path.join(DIR, 'base.tar'), await dockerSave(base));
  fs.writeFileSync(path.join(DIR, 'pr.tar'), await dockerSave(grown));
  const baseSize = 50_000 + 10_000 + 30_000 + 700;
  const size = 50_000 + 12_345 + 435_000 + 20_000;
  return { base: path.join(DIR, 'base.tar'), grown: path.join(DIR, 'pr.tar'), growth: size - baseSize, baseSize };
}

interface Growth {
  baseline: string; sizeDefinition: string; baseSize: number; size: number; growth: number; growthRatio: number; limitBytes: number | null; status: string;
  lines: Array<{ line: string; layerIndex: number | null; baseLayerIndex: number | null; size: number; baseSize: number; growth: number }>;
  largestAdded: Array<{ path: string; bytes: number; layer: number; change: string }>;
}

test('ci --baseline: exact growth, exit 1 past the limit and 0 at it (bytes and percent), from an archive or a saved analyze --json', async () => {
  const { base, grown, growth, baseSize } = await images();
  assert.equal(growth, 426_645);
  const saved = path.join(DIR, 'base.json');
  const an = await cli(['analyze', base, '--json']);
  assert.equal(an.code, 0, an.stderr);
  fs.writeFileSync(saved, an.stdout);

  for (const b of [base, saved]) {
    const run = await cli(['ci', grown, '--baseline', b, '--json', ...NO_DIVE]);
    assert.equal(run.code, 0, run.stderr);
    const doc = JSON.parse(run.stdout.toString()) as { schemaVersion: number; pass: boolean; rules: Array<{ rule: string; status: string; actual: number; limit: number | null }>; baseline: Growth };
    assert.equal(doc.schemaVersion, 1);
    const g = doc.baseline;
    assert.equal(g.baseline, b);
    assert.equal(g.sizeDefinition, 'tar-file-bytes');
    assert.deepEqual([g.baseSize, g.size, g.growth], [baseSize, baseSize + growth, growth]);
    assert.equal(g.growthRatio, growth / baseSize);
    assert.equal(g.status, 'skip');
    assert.deepEqual(doc.rules[3], { rule: 'highestSizeGrowth', status: 'skip', actual: growth, limit: null });
    // Lines aligned by text: the COPY with another content hash is the same line; `make data`
    // is new, `echo old` gone. Largest growth first; the sum of the lines is the growth.
    assert.deepEqual(g.lines.map((l) => [l.line, l.layerIndex, l.baseLayerIndex, l.growth]), [
      ['RUN npm ci', 2, 2, 405_000],
      ['RUN make data', 3, null, 20_000],
      ['COPY file:' + sha('c') + ' in /app', 1, 1, 2_345],
      ['RUN echo old > /etc/old.conf', null, 3, -700],
    ]);
    assert.equal(g.lines.reduce((t, l) => t + l.growth, 0), growth);
    assert.deepEqual(g.largestAdded.map((p) => [p.path, p.bytes, p.layer]).slice(0, 4), [
      ['/app/node_modules/big.bin', 400_000, 2], ['/app/node_modules/a.js', 30_000, 2], ['/srv/data', 20_000, 3], ['/app/main.js', 12_345, 1],
    ]);

    for (const [limit, code] of [[String(growth), 0], [String(growth - 1), 1], ['427kB', 0], ['426kB', 1]] as const) {
      const r = await cli(['ci', grown, '--baseline', b, '--highest-size-growth', limit, '--json', ...NO_DIVE]);
      assert.equal(r.code, code, `limit ${limit}: ${r.stderr}`);
      const d = JSON.parse(r.stdout.toString()) as { pass: boolean; baseline: Growth };
      assert.equal(d.pass, code === 0);
      assert.equal(d.baseline.status, code === 0 ? 'pass' : 'fail');
    }
    // growth / baseSize = 470.39 %: 471% passes, 470% fails.
    for (const [limit, code] of [['471%', 0], ['470%', 1]] as const) {
      const r = await cli(['ci', grown, '--baseline', b, '--highest-size-growth', limit, ...NO_DIVE]);
      assert.equal(r.code, code, `limit ${limit}: ${r.stderr}`);
      assert.match(r.stdout.toString(), new RegExp(`${code ? 'FAIL' : 'PASS'}: highestSizeGrowth: 90\\.7 kB → 517 kB: \\+426,645 B \\(427 kB\\), \\+470\\.39 %`));
    }
  }
  // The image against itself: no growth, no line.
  const same = await cli(['ci', grown, '--baseline', grown, '--highest-size-growth', '0', '--json', ...NO_DIVE]);
  assert.equal(same.code, 0, same.stderr);
  const d = JSON.parse(same.stdout.toString()) as { baseline: Growth };
  assert.deepEqual([d.baseline.growth, d.baseline.lines, d.baseline.largestAdded], [0, [], []]);
});

test('ci --format markdown: a rules table and the growth tables; the text form names the lines that grew', async () => {
  const { base, grown } = await images();
  const run = await cli(['ci', grown, '--baseline', base, '--highest-size-growth', '100kB', '--format', 'markdown', ...NO_DIVE]);
  assert.equal(run.code, 1, run.stderr);
  const md = run.stdout.toString();
  assert.match(md, /^### Layer Lens CI: `app:pr` ❌ FAIL\n/);
  assert.match(md, /^\| Rule \| Status \| Image \| Limit \|\n\| --- \| --- \| ---: \| ---: \|\n/m);
  assert.match(md, /^\| highestSizeGrowth \| ❌ fail \| \+426,645 B \(427 kB\) \| 100 kB \|$/m);
  assert.match(md, /^\| `RUN npm ci` \| 30 kB \| 435 kB \| \+405,000 B \(405 kB\) \|$/m);
  assert.match(md, /^\| `RUN make data` \(new\) \| 0 B \| 20 kB \| \+20,000 B \(20 kB\) \|$/m);
  assert.match(md, /^\| `\/app\/node_modules\/big\.bin` \| 400 kB \| 2 \|$/m);
  // Every table row has as many cells as its header.
  for (const table of md.split('\n\n').filter((b) => b.startsWith('|'))) {
    const rows = table.trim().split('\n');
    const cells = (r: string): number => r.replace(/\\\|/g, '').split('|').length;
    for (const r of rows) assert.equal(cells(r), cells(rows[0]), r);
  }
  const text = (await cli(['ci', grown, '--baseline', base, ...NO_DIVE])).stdout.toString();
  assert.match(text, /INFO: highestSizeGrowth: 90\.7 kB → 517 kB: \+426,645 B \(427 kB\)/);
  assert.match(text, /\+405,000 B \(405 kB\) +RUN npm ci/);
  assert.match(text, /\+20,000 B \(20 kB\) +\(new\) RUN make data/);
  assert.match(text, /400 kB +L2 +\/app\/node_modules\/big\.bin/);
});

test('ci --baseline: bad input is one line and exit 2', async () => {
  const { grown } = await images();
  const notAnalyze = path.join(DIR, 'other.json');
  fs.writeFileSync(notAnalyze, '{"hello": 1}');
  const future = path.join(DIR, 'future.json');
  fs.writeFileSync(future, JSON.stringify({ schemaVersion: 2, image: { sizeDefinition: 'tar-file-bytes' }, layers: [] }));
  const broken = path.join(DIR, 'broken.json');
  fs.writeFileSync(broken, '{"schemaVersion": 1,');
  const cases: Array<[string[], RegExp]> = [
    [['--baseline', notAnalyze], /is JSON but not the output of `layerlens analyze --json`/],
    [['--baseline', future], /has schemaVersion 2; this layerlens reads schemaVersion 1/],
    [['--baseline', broken], /not valid JSON/],
    [['--baseline', path.join(DIR, 'missing.tar')], /no such file/],
    [['--highest-size-growth', '5%'], /--highest-size-growth needs --baseline/],
    [['--baseline', grown, '--highest-size-growth', 'lots'], /--highest-size-growth: highestSizeGrowth must be a size/],
    [['--baseline', grown, '--format', 'yaml'], /--format must be text, json or markdown/],
  ];
  for (const [args, re] of cases) {
    const run = await cli(['ci', grown, ...args]);
    assert.equal(run.code, 2, `${args.join(' ')}: ${run.stderr}`);
    assert.equal(run.stderr.trim().split('\n').length, 1, run.stderr);
    assert.match(run.stderr, re);
    assert.equal(run.stdout.length, 0);
  }
});
