// Cached analysis summaries (src/core/image/summary.ts, src/sources/analysisCache.ts): a re-analysis of a
// stack of known layer records is answered without merging, and gives exactly what a full analysis
// gives; a summary is used only for the stack (record digests, in order) and the build it was made
// for, and a damaged one is removed and recomputed.
import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync, utimesSync } from 'node:fs';
import { createHash } from 'node:crypto';
import * as os from 'node:os';
import * as path from 'node:path';
import { analyze, type Analysis } from '../../../src/core/image/analysis';
import { plainIndex } from '../../../src/core/image/indexCodec';
import { DIVE_DEFAULT_RULES, evaluateCi } from '../../../src/core/present/ci';
import { digestOf } from '../../../src/core/image/oci';
import { analyzeJson, fileJsonLines, fileRecords, layerChangeRecords } from '../../../src/core/present/report';
import { SUMMARY_FORMAT, decodeSummary, encodeSummary, summarize, summaryKey } from '../../../src/core/image/summary';
import { analyzeWithCache, buildId, stackKey } from '../../../src/sources/analysisCache';
import { decodeImageIndex, encodeImageIndex } from '../../../src/core/image/index/indexRecord';
import { LayerIndexCache } from '../../../src/sources/indexCache';
import { loadImage, type SourceSpec } from '../../../src/sources/load';
import { dockerSave, ociLayout, writeLayout } from '../support/tars';
import { member, rawTar } from '../support/rawtar';

function tmpdir(): string {
  return mkdtempSync(path.join(os.tmpdir(), 'layerlens-summary-'));
}

/** Random layer tars over a small name space: files, directories, re-added paths, whiteouts, opaque dirs. */
function randomLayers(seed: number): Buffer[] {
  let s = seed;
  const rnd = (n: number): number => {
    s = (s * 1103515245 + 12345) & 0x7fffffff;
    return (s >>> 16) % n; // the high bits: the low ones of this generator have short periods
  };
  const names = ['a', 'b', 'c', 'd'];
  const randomPath = (): string => Array.from({ length: 1 + rnd(3) }, () => names[rnd(names.length)]).join('/');
  const layers: Buffer[] = [];
  const n = 1 + rnd(5);
  for (let l = 0; l < n; l++) {
    const parts: Buffer[] = [];
    for (let i = rnd(12); i > 0; i--) {
      const p = randomPath();
      const kind = rnd(8);
      if (kind < 2) parts.push(member({ name: p + '/', type: '5', mode: 0o755 }));
      // Hardlinks to a path that may or may not exist: the merge warns about missing targets.
      else if (kind === 2) parts.push(member({ name: p, type: '1', linkname: randomPath() }));
      // A name that climbs above the root: read as if rooted, with a layer warning.
      else if (kind === 3 && rnd(3) === 0) parts.push(member({ name: '../' + p }, 'y'));
      else parts.push(member({ name: p }, 'x'.repeat(rnd(5) * 100)));
    }
    if (l > 0) {
      for (let i = rnd(3); i > 0; i--) {
        const p = randomPath().split('/');
        p[p.length - 1] = '.wh.' + p[p.length - 1];
        parts.push(member({ name: p.join('/') }));
      }
      if (rnd(5) === 0) parts.push(member({ name: names[rnd(names.length)] + '/.wh..wh..opq' }));
    }
    layers.push(rawTar(...parts));
  }
  return layers;
}

/** Everything the CLI prints from an analysis: analyze's JSON, ci's verdict, files, each layer's changes. */
function outputs(a: Analysis): unknown {
  return {
    analyze: analyzeJson(a),
    ci: evaluateCi(a, DIVE_DEFAULT_RULES),
    dive: a.dive,
    files: [...fileRecords(a)],
    changes: a.image.layers.map((_, i) => [...layerChangeRecords(a, i)]),
  };
}

async function writeSave(dir: string, name: string, layers: Buffer[]): Promise<string> {
  const file = path.join(dir, name);
  writeFileSync(file, await dockerSave({ layers, tag: 'summary:1' }));
  return file;
}

/** A docker-save file of randomLayers(seed), and an empty cache, in a temp dir removed afterwards. */
async function withArchive(seed: number, fn: (spec: SourceSpec, cache: LayerIndexCache) => Promise<void>): Promise<void> {
  const dir = tmpdir();
  try {
    const file = await writeSave(dir, 'img.tar', randomLayers(seed));
    await fn({ kind: 'docker-archive', path: file }, new LayerIndexCache(path.join(dir, 'cache')));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

test('analysis summary: re-analyzing a docker-save file is answered by the summary, with every output equal to a full analysis (random stacks)', async () => {
  const dir = tmpdir();
  try {
    let warned = 0;
    let layerWarned = 0;
    for (let c = 0; c < 60; c++) {
      const file = await writeSave(dir, `img-${c}.tar`, randomLayers(20261127 + c));
      const spec: SourceSpec = { kind: 'docker-archive', path: file };
      const cache = new LayerIndexCache(path.join(dir, `cache-${c}`));
      const reference = outputs(analyze(await loadImage(spec, {})));
      const cold = analyzeWithCache(await loadImage(spec, { cache }), cache);
      assert.equal(cache.stats.summaries, 0, `case ${c}: nothing to answer from yet`);
      assert.equal(readdirSync(cache.summaryDir).length, 1, `case ${c}: the cold analysis stores its summary`);
      const warm = analyzeWithCache(await loadImage(spec, { cache }), cache);
      assert.equal(cache.stats.summaries, 1, `case ${c}: the re-analysis is answered by the summary`);
      assert.deepEqual(outputs(cold), reference, `case ${c}: cold`);
      assert.deepEqual([...fileJsonLines(cold)], [...fileRecords(cold)].map((r) => JSON.stringify(r)), `case ${c}: files --json lines`);
      assert.deepEqual(outputs(warm), reference, `case ${c}: from the summary (the tree built when read)`);
      if (warm.treeWarnings.length) warned++;
      if (warm.image.layers.some((l) => l.warnings.length)) layerWarned++;
    }
    assert.ok(warned >= 5, `the merge's warnings are part of the summary (${warned} stacks had some)`);
    assert.ok(layerWarned >= 5, `layer warnings (from the records) are reported as before (${layerWarned} stacks had some)`);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('analysis summary: the merge does not run until the tree is read', () => withArchive(7, async (spec, cache) => {
  analyzeWithCache(await loadImage(spec, { cache }), cache);
  const warm = analyzeWithCache(await loadImage(spec, { cache }), cache);
  assert.equal(cache.stats.summaries, 1);
  const d = Object.getOwnPropertyDescriptor(warm, 'tree');
  assert.ok(d?.get, 'tree is computed on demand');
  assert.ok(warm.tree === warm.tree, 'once');
}));

test('analysis summary: keyed by the stack of layer records — another order, another layer, a changed file or another build: not used', async () => {
  const dir = tmpdir();
  try {
    const [a, b, c] = [rawTar(member({ name: 'f' }, 'one')), rawTar(member({ name: 'f' }, 'two!')), rawTar(member({ name: '.wh.f' }))];
    const cache = new LayerIndexCache(path.join(dir, 'cache'));
    const run = async (file: string): Promise<Analysis> => analyzeWithCache(await loadImage({ kind: 'docker-archive', path: file }, { cache }), cache);
    const ab = await writeSave(dir, 'ab.tar', [a, b, c]);
    const ba = await writeSave(dir, 'ba.tar', [b, a, c]);
    const one = await run(ab);
    assert.equal((await run(ab)).layerStats[1].modified, 1);
    assert.equal(cache.stats.summaries, 1);
    // The same layers in another order (other record origins too): a new summary, the right figures.
    const other = await run(ba);
    assert.equal(cache.stats.summaries, 1);
    assert.deepEqual(analyzeJson(other), analyzeJson(analyze(await loadImage({ kind: 'docker-archive', path: ba }, {}))));
    assert.notDeepEqual(other.layerStats.map((s) => s.hiddenBytes), one.layerStats.map((s) => s.hiddenBytes));
    // The file changes (touched): its layer records are read again under a new origin, so the old
    // stack key no longer applies.
    utimesSync(ab, new Date(), new Date(Date.now() + 5000));
    await run(ab);
    assert.equal(cache.stats.summaries, 1, 'a changed file is analyzed again');
    assert.equal(readdirSync(cache.summaryDir).length, 3);
    // The key names the records in order and the build.
    const image = await loadImage({ kind: 'docker-archive', path: ab }, { cache });
    const key = stackKey(image, cache)!;
    const digests = image.layers.map((l) => cache.recordDigestOf(l)!);
    assert.equal(key, summaryKey(digests, buildId()));
    assert.notEqual(summaryKey([...digests].reverse(), buildId()), key);
    assert.notEqual(summaryKey(digests, buildId() + 'x'), key);
    assert.match(buildId(), /^dev-[0-9a-f]{64}$/, 'unbundled: named by the compiled core modules');
    // Indexes the cache does not hold as they are (decoded copies of its records): no key.
    image.layers = image.layers.map(plainIndex);
    assert.equal(stackKey(image, cache), undefined);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('analysis summary: OCI layouts (plain, gzip, zstd) are answered by the summary too, with equal outputs', async () => {
  const dir = tmpdir();
  try {
    for (const kind of ['none', 'gzip', 'zstd'] as const) {
      const layout = path.join(dir, 'oci-' + kind);
      writeLayout(layout, ociLayout({ layers: randomLayers(99), tag: 'summary:1' }, kind));
      const spec: SourceSpec = { kind: 'oci', dir: layout };
      const cache = new LayerIndexCache(path.join(dir, 'cache-' + kind));
      const reference = outputs(analyze(await loadImage(spec, {})));
      analyzeWithCache(await loadImage(spec, { cache }), cache);
      const warm = analyzeWithCache(await loadImage(spec, { cache }), cache);
      assert.equal(cache.stats.summaries, 1, kind);
      assert.deepEqual(outputs(warm), reference, kind);
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('analysis summary: a damaged, foreign or ill-typed summary is refused, removed, and the image analyzed in full', () => withArchive(3, async (spec, cache) => {
  const reference = outputs(analyzeWithCache(await loadImage(spec, { cache }), cache));
  const [name] = readdirSync(cache.summaryDir);
  const f = path.join(cache.summaryDir, name);
  const key = name.slice(0, -5);
  const image = await loadImage(spec, { cache });
  const good = encodeSummary(key, summarize(analyze(await loadImage(spec, {}))));
  const doc = JSON.parse(good.toString()) as Record<string, unknown>;
  const bad: Array<[string, Buffer]> = [
    ['not JSON', Buffer.from('{"format":1,')],
    ['another key', encodeSummary('0'.repeat(64), summarize(analyze(await loadImage(spec, {}))))],
    ['another format', Buffer.from(JSON.stringify({ ...doc, format: SUMMARY_FORMAT + 1 }))],
    ['a layer too few', Buffer.from(JSON.stringify({ ...doc, layerStats: (doc.layerStats as unknown[]).slice(1) }))],
    ['a negative count', Buffer.from(JSON.stringify({ ...doc, layerStats: (doc.layerStats as Array<Record<string, unknown>>).map((s, i) => (i === 0 ? { ...s, added: -1 } : s)) }))],
    ['dive without figures', Buffer.from(JSON.stringify({ ...doc, dive: { efficiency: 1 } }))],
    ['an inefficiency without a path', Buffer.from(JSON.stringify({ ...doc, dive: { ...(doc.dive as object), inefficiencies: [{ cumulative: 1, count: 2 }] } }))],
  ];
  for (const [label, buf] of bad) {
    assert.throws(() => decodeSummary(buf, key, image.layers.length), /analysis summary/, label);
    writeFileSync(f, buf);
    const before = cache.stats.summaries;
    const a = analyzeWithCache(await loadImage(spec, { cache }), cache);
    assert.equal(cache.stats.summaries, before, `${label}: not used`);
    assert.deepEqual(outputs(a), reference, `${label}: analyzed in full`);
  }
  assert.ok(cache.stats.rejected >= bad.length, 'each counted as rejected');
  // The full analysis stored a good summary again: used next time.
  analyzeWithCache(await loadImage(spec, { cache }), cache);
  assert.equal(cache.stats.summaries, 1);
}));

test('analysis summary: without a cache, or with lazy dive figures, nothing is stored', () => withArchive(5, async (spec, cache) => {
  const a = analyzeWithCache(await loadImage(spec, { cache }), cache, { dive: 'lazy' });
  assert.deepEqual(outputs(a), outputs(analyze(await loadImage(spec, {}))));
  assert.throws(() => readdirSync(cache.summaryDir), /ENOENT/, 'lazy: no summary');
  const b = analyzeWithCache(await loadImage(spec, {}), undefined);
  assert.deepEqual(outputs(b), outputs(a));
}));

test('image index cache: a command that keeps the index is answered without a merge the next time, with every output equal (random stacks)', async () => {
  const dir = tmpdir();
  try {
    for (let c = 0; c < 30; c++) {
      const file = await writeSave(dir, `img-${c}.tar`, randomLayers(20261207 + c));
      const spec: SourceSpec = { kind: 'docker-archive', path: file };
      const cache = new LayerIndexCache(path.join(dir, `cache-${c}`));
      const reference = outputs(analyze(await loadImage(spec, {})));
      // files/explain: lazy dive, index kept; then the same again; then analyze (eager dive, summary).
      const cold = analyzeWithCache(await loadImage(spec, { cache }), cache, { dive: 'lazy', index: 'keep' });
      assert.deepEqual(outputs(cold), reference, `case ${c}: cold`);
      assert.equal(readdirSync(cache.imageIndexDir).length, 1, `case ${c}: the index is stored`);
      const warm = analyzeWithCache(await loadImage(spec, { cache }), cache, { dive: 'lazy', index: 'keep' });
      assert.equal(cache.stats.indexes, 1, `case ${c}: loaded from the cache`);
      assert.deepEqual(outputs(warm), reference, `case ${c}: from the stored index`);
      assert.deepEqual(warm.index, cold.index, `case ${c}: the same index, column for column`);
      const eager = analyzeWithCache(await loadImage(spec, { cache }), cache);
      assert.equal(cache.stats.indexes, 2, `case ${c}: an eager analysis reads the stored index too`);
      assert.deepEqual(outputs(eager), reference, `case ${c}: dive's figures from the stored index`);
      assert.equal(readdirSync(cache.summaryDir).length, 1, `case ${c}: and stores its summary`);
      const fromSummary = analyzeWithCache(await loadImage(spec, { cache }), cache, { dive: 'lazy', index: 'keep' });
      assert.equal(cache.stats.summaries, 1);
      assert.deepEqual(outputs(fromSummary), reference, `case ${c}: summary, then the stored index when the tree is read`);
      assert.equal(cache.stats.indexes, 3, `case ${c}: the tree came from the stored index`);
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('image index cache: a damaged record, or one made for another stack, is refused and removed; the image is merged again', () => withArchive(11, async (spec, cache) => {
  const first = analyzeWithCache(await loadImage(spec, { cache }), cache, { dive: 'lazy', index: 'keep' });
  const [name] = readdirSync(cache.imageIndexDir);
  const file = path.join(cache.imageIndexDir, name);
  const good = readFileSync(file);
  const key = name.replace(/\.llii$/, '');
  assert.deepEqual(decodeImageIndex(good, key), first.index);
  assert.throws(() => decodeImageIndex(good, 'f'.repeat(64)), /another stack/);
  for (let i = 0; i < good.length; i += Math.max(1, Math.floor(good.length / 200))) {
    const bad = Buffer.from(good);
    bad[i] ^= 0x41;
    assert.throws(() => decodeImageIndex(bad, key), /damaged/, `byte ${i} flipped`);
  }
  assert.throws(() => decodeImageIndex(good.subarray(0, good.length - 1), key), /damaged/);
  // Damage behind a valid digest: a node whose parent comes after it.
  const ix = first.index;
  const broken = Buffer.from(encodeImageIndex(ix, key));
  const at = broken.indexOf(Buffer.from(new Int32Array(ix.nodeParent).buffer), 16);
  assert.ok(at > 0);
  broken.writeInt32LE(ix.nodeCount + 5, at + 4);
  createHash('sha256').update(broken.subarray(0, broken.length - 32)).digest().copy(broken, broken.length - 32);
  assert.throws(() => decodeImageIndex(broken, key), /damaged \(node table\)/);
  writeFileSync(file, broken);
  const again = analyzeWithCache(await loadImage(spec, { cache }), cache, { dive: 'lazy', index: 'keep' });
  assert.equal(cache.stats.rejected, 1);
  assert.deepEqual(outputs(again), outputs(first));
  assert.deepEqual(decodeImageIndex(readFileSync(file), key), first.index, 'stored again, sound');
}));

test('cache bounds: layer records by bytes, documents by count, summaries by count and bytes; oldest first, stale temp files too, young ones kept', async () => {
  const dir = tmpdir();
  try {
    const old = (f: string, ageS: number): void => utimesSync(f, new Date(Date.now() - ageS * 1000), new Date(Date.now() - ageS * 1000));
    const fill = (d: string, names: string[], size: number): string[] => {
      mkdirSync(d, { recursive: true });
      return names.map((n, i) => {
        const f = path.join(d, n);
        writeFileSync(f, Buffer.alloc(size, 1));
        old(f, 1000 - i); // the first name is the oldest
        return f;
      });
    };
    const hex = (i: number): string => i.toString(16).padStart(64, '0');
    const cache = new LayerIndexCache(path.join(dir, 'cache'), { maxBytes: 3000, maxDocs: 3, maxSummaryBytes: 2500 });
    // Layer records: 5 × 1000 B against 3000 B (+ the one written below), a stale temp file, a young one.
    fill(cache.dir, [0, 1, 2, 3, 4].map((i) => hex(i) + '.llix'), 1000);
    const [staleTmp, youngTmp] = fill(cache.dir, ['a.llix.1.x.tmp', 'b.llix.2.y.tmp'], 10);
    old(staleTmp, 7200);
    old(youngTmp, 10);
    const file = await writeSave(dir, 'img.tar', [rawTar(member({ name: 'f' }, 'x'))]);
    const image = await loadImage({ kind: 'docker-archive', path: file }, { cache });
    const left = readdirSync(cache.dir).sort();
    const written = image.diffIds[0].slice(7) + '.llix';
    assert.ok(left.includes(written), 'the record just written stays');
    assert.ok(left.includes('b.llix.2.y.tmp') && !left.includes('a.llix.1.x.tmp'), 'stale temp file removed, young one kept');
    assert.deepEqual(left.filter((n) => n.endsWith('.llix') && n !== written), [hex(3) + '.llix', hex(4) + '.llix'], 'the oldest records out until ≤ 3000 B');
    // Documents: 5 against 3 files (+ the one written).
    fill(cache.docDir, [0, 1, 2, 3, 4].map((i) => hex(i) + '.json'), 10);
    const doc = Buffer.from('{"a":1}');
    cache.putDoc(digestOf(doc), doc);
    assert.deepEqual(readdirSync(cache.docDir).sort(), [hex(3) + '.json', hex(4) + '.json', digestOf(doc).slice(7) + '.json'].sort());
    // Summaries: 3 files and 2500 B. Four of 1200 B and the new one: the oldest two go for the count,
    // a third for the bytes.
    fill(cache.summaryDir, [0, 1, 2, 3].map((i) => hex(i) + '.json'), 1200);
    const key = stackKey(image, cache)!;
    cache.putSummary(key, summarize(analyze(image)));
    assert.deepEqual(readdirSync(cache.summaryDir).sort(), [hex(3) + '.json', key + '.json'].sort(), 'oldest out until ≤ 3 files and ≤ 2500 B');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
