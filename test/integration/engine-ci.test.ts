// Integration tests of `layerlens ci` (dive's three CI rules) against a real engine: a wasteful
// fixture fails a strict efficiency rule (exit 1, with a report) and passes loose thresholds
// (exit 0); --baseline compares engine images in the engine's sizes and an engine image with a
// file in regular-file bytes, exactly. Thresholds use dive's units: efficiency and user-wasted "percent" as ratios 0..1,
// wasted bytes in bytes. Fails (never skips) without an engine.
import { describe, it, before } from 'node:test';
import assert from 'node:assert/strict';
import * as E from '../support/engine';

describe('layerlens ci', () => {
  let tag = '';
  before(async () => {
    await E.requireEngine();
    tag = (await E.buildFixture('wasteful', { builder: 'buildkit' })).tag;
  });

  it('the wasteful fixture really wastes bytes (analyze)', async () => {
    const a = await E.analyzeJson(`docker://${tag}`);
    assert.ok(a.efficiency < 0.99, `efficiency ${a.efficiency}`);
    assert.ok(a.wastedBytes >= 8 * 1024 * 1024, `wastedBytes ${a.wastedBytes}`);
    assert.equal(a.hiddenBytes, 6291456 + 2097152, 'hidden: the deleted 6 MiB and the overwritten 2 MiB copy');
  });

  it('--lowest-efficiency 0.99 fails with exit 1 and a report', async () => {
    const r = await E.cli(['ci', `docker://${tag}`, '--lowest-efficiency', '0.99']);
    assert.equal(r.code, 1, `exit ${r.code}; stdout: ${r.stdout.slice(0, 1000)} stderr: ${r.stderr.slice(0, 1000)}`);
    const out = r.stdout + r.stderr;
    assert.match(out, /efficiency/i, `the report should name the failing rule:\n${out}`);
    assert.doesNotMatch(out, /^\s+at .+[:(]/m, 'stack trace in the report');
  });

  it('--highest-wasted-bytes 1000 fails with exit 1', async () => {
    const r = await E.cli(['ci', `docker://${tag}`, '--lowest-efficiency', '0', '--highest-wasted-bytes', '1000', '--highest-user-wasted-percent', '0.95']);
    assert.equal(r.code, 1, `exit ${r.code}; ${r.stdout.slice(0, 500)} ${r.stderr.slice(0, 500)}`);
    assert.match(r.stdout + r.stderr, /wasted/i);
  });

  it('loose thresholds pass with exit 0', async () => {
    const r = await E.cli(['ci', `docker://${tag}`, '--lowest-efficiency', '0.1', '--highest-wasted-bytes', '1000000000', '--highest-user-wasted-percent', '0.95']);
    assert.equal(r.code, 0, `exit ${r.code}; stdout: ${r.stdout.slice(0, 1000)} stderr: ${r.stderr.slice(0, 1000)}`);
  });

  it('--baseline: exact growth over another engine image or its saved analysis; an archive against the engine in file bytes', async () => {
    const other = (await E.buildFixture('fs-changes', { builder: 'buildkit' })).tag;
    const sum = (x: E.AnalyzeJson): number => x.layers.reduce((t, l) => t + l.size, 0);
    const [a, b] = [await E.analyzeJson(`docker://${tag}`), await E.analyzeJson(`docker://${other}`)];
    // The smaller image is the baseline, so that the growth is positive.
    const [img, base] = sum(a) >= sum(b) ? [tag, other] : [other, tag];
    const growth = Math.abs(sum(a) - sum(b));
    assert.ok(growth > 0);
    const dir = await E.tempDir('ci-baseline');
    try {
      const saved = `${dir}/base.json`;
      await import('node:fs/promises').then(async (fs) => fs.writeFile(saved, (await E.cliJson(['analyze', `docker://${base}`, '--json'])).stdout));
      const noDive = ['--lowest-efficiency', 'off', '--highest-user-wasted-percent', 'off'];
      for (const baseline of [`docker://${base}`, saved]) {
        const ok = await E.cli(['ci', `docker://${img}`, '--baseline', baseline, '--highest-size-growth', String(growth), '--json', ...noDive]);
        assert.equal(ok.code, 0, ok.stderr);
        const g = (JSON.parse(ok.stdout) as { baseline: { sizeDefinition: string; growth: number; status: string } }).baseline;
        assert.deepEqual([g.sizeDefinition, g.growth, g.status], ['engine-history', growth, 'pass']);
        const over = await E.cli(['ci', `docker://${img}`, '--baseline', baseline, '--highest-size-growth', String(growth - 1), ...noDive]);
        assert.equal(over.code, 1, over.stderr);
        assert.match(over.stdout, /FAIL: highestSizeGrowth: .*\+[\d,]+ B/);
      }
      // The engine image against its own archive, and the archive against the engine image's saved
      // analysis (engine sizes, and fileBytes): both in regular-file bytes, no growth.
      const arc = await E.saveArchive(img, `${dir}/image.tar`);
      const imgSaved = `${dir}/img.json`;
      await import('node:fs/promises').then(async (fs) => fs.writeFile(imgSaved, (await E.cliJson(['analyze', `docker://${img}`, '--json'])).stdout));
      for (const [src, baseline] of [[`docker://${img}`, arc], [arc, imgSaved]]) {
        const r = await E.cli(['ci', src, '--baseline', baseline, '--highest-size-growth', '0', '--json', ...noDive]);
        assert.equal(r.code, 0, r.stderr);
        const g = (JSON.parse(r.stdout) as { baseline: { sizeDefinition: string; growth: number; lines: unknown[] } }).baseline;
        assert.deepEqual([g.sizeDefinition, g.growth, g.lines], ['tar-file-bytes', 0, []], `${src} against ${baseline}`);
      }
    } finally {
      await import('node:fs/promises').then((fs) => fs.rm(dir, { recursive: true, force: true }));
    }
  });

  it('works on a saved archive too', async () => {
    const dir = await E.tempDir('ci');
    try {
      const arc = await E.saveArchive(tag, `${dir}/image.tar`);
      const strict = await E.cli(['ci', `docker-archive:${arc}`, '--lowest-efficiency', '0.99']);
      assert.equal(strict.code, 1, `exit ${strict.code}: ${strict.stderr.slice(0, 500)}`);
      const loose = await E.cli(['ci', arc, '--lowest-efficiency', '0.1', '--highest-wasted-bytes', '1000000000', '--highest-user-wasted-percent', '0.95']);
      assert.equal(loose.code, 0, `exit ${loose.code}: ${loose.stdout.slice(0, 500)} ${loose.stderr.slice(0, 500)}`);
    } finally {
      await import('node:fs/promises').then((fs) => fs.rm(dir, { recursive: true, force: true }));
    }
  });
});
