// findBestImage (concurrent, cached, stopping early) must pick the same image, with the same
// score and the same QuickImage, as an exhaustive one-by-one scan (the reference below), on a
// fake engine holding the recorded histories of test/fixtures/histories and
// variants of them (truncated, duplicated under other ids, equal creation times, failing calls).
import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { parseDockerfile, type DockerfileModel } from '../../../src/core/dockerfile/dockerfile';
import { bestStageMapping, mapHistory } from '../../../src/core/dockerfile/mapping';
import { entrySizes, findBestImage, prefetchHistories, quickImageFromEngine, type ImageMatch } from '../../../src/sources/dockerfileImage';
import { HistoryCache } from '../../../src/sources/historyCache';
import type { EngineClient, EngineHistoryItem, EngineImageSummary } from '../../../src/engine/types';
import { repoRoot } from '../../support/repo';

const root = repoRoot();
const histDir = path.join(root, 'test/fixtures/histories');

/**
 * The reference: every candidate, newest first, inspect + history each, each image with the
 * stage asked for or its best-matching stage; the heaviest match (sum of line similarities), then
 * the higher score, then the newest.
 */
async function exhaustive(engine: EngineClient, model: DockerfileModel, opts: { limit?: number; minScore?: number; stage?: number | string } = {}): Promise<ImageMatch | null> {
  const images = (await engine.listImages()).sort((a, b) => b.created - a.created).slice(0, opts.limit ?? 40);
  let best: (ImageMatch & { weight: number }) | null = null;
  for (const img of images) {
    let q;
    try { q = await quickImageFromEngine(engine, img.id); } catch { continue; }
    const m = opts.stage !== undefined
      ? mapHistory(model, q.history, { stage: opts.stage, entrySizes: entrySizes(q) })
      : bestStageMapping(model, q.history, { entrySizes: entrySizes(q) });
    if (m.stage < 0 || m.score < (opts.minScore ?? 0.5)) continue;
    const weight = m.pairs.reduce((t, p) => t + p.similarity, 0);
    if (best === null || weight > best.weight + 1e-9 || (Math.abs(weight - best.weight) <= 1e-9 && m.score > best.score)) {
      const tag = img.repoTags.find((t) => t !== '<none>:<none>');
      best = { image: q, name: tag ?? img.id.slice(7, 19), score: m.score, stage: m.stage, weight };
    }
  }
  return best && { image: best.image, name: best.name, score: best.score, stage: best.stage };
}

interface FakeImage { id: string; tags: string[]; created: number; rows: EngineHistoryItem[]; layers: number; failHistory?: boolean; failInspect?: boolean }

interface Recorded { dockerfile: string; buildArgs: Record<string, string>; target: string | null; history: Array<{ created_by?: string; empty_layer?: boolean; comment?: string }>; sizes: number[] }

function rng(seed: number): () => number {
  let s = seed >>> 0;
  return () => { s = (s * 1664525 + 1013904223) >>> 0; return s / 2 ** 32; };
}

const idOf = (s: string): string => 'sha256:' + createHash('sha256').update(s).digest('hex');

function fakeImages(seed: number): { images: FakeImage[]; cases: Array<{ name: string; model: DockerfileModel; stage?: string }> } {
  const r = rng(seed);
  const images: FakeImage[] = [];
  const cases: Array<{ name: string; model: DockerfileModel; stage?: string }> = [];
  const files = readdirSync(histDir).filter((f) => f.endsWith('.json')).sort();
  for (const f of files) {
    const rec = JSON.parse(readFileSync(path.join(histDir, f), 'utf8')) as Recorded;
    const text = readFileSync(path.join(root, rec.dockerfile), 'utf8');
    cases.push({ name: f, model: parseDockerfile(text, { buildArgs: rec.buildArgs }), stage: rec.target ?? undefined });
    const rows = (h: Recorded['history'], sizes: number[]): EngineHistoryItem[] => h.map((e, i) => ({
      id: '<missing>', created: 1_700_000_000 + i, createdBy: e.created_by ?? '', size: sizes[i] ?? 0, comment: e.comment ?? '', tags: [],
    })).reverse();
    const add = (key: string, h: Recorded['history'], sizes: number[], extra: Partial<FakeImage> = {}): void => {
      images.push({
        id: idOf(`${seed}:${key}`), tags: r() < 0.3 ? [] : [`fake/${key.replace(/[^a-z0-9.-]+/gi, '-').toLowerCase()}:1`],
        created: 1_700_000_000 + Math.floor(r() * 40), rows: rows(h, sizes), layers: h.filter((e) => !e.empty_layer).length, ...extra,
      });
    };
    add(f, rec.history, rec.sizes);
    // Variants: the same history under another id (a tie: the newer must win), a truncated one
    // (a partial match), sometimes failing calls.
    if (r() < 0.5) add(`${f}#dup`, rec.history, rec.sizes);
    if (rec.history.length > 3) add(`${f}#cut`, rec.history.slice(0, rec.history.length - 1 - Math.floor(r() * 2)), rec.sizes);
    if (r() < 0.15) add(`${f}#histfail`, rec.history, rec.sizes, { failHistory: true });
    if (r() < 0.15) add(`${f}#inspectfail`, rec.history, rec.sizes, { failInspect: true });
  }
  return { images, cases };
}

function fakeEngine(images: FakeImage[], seed: number, calls = { list: 0, history: 0, inspect: 0 }): { engine: EngineClient; calls: typeof calls } {
  const r = rng(seed);
  const byId = new Map(images.map((i) => [i.id, i]));
  // Answers arrive after 0-3 turns of the event loop: out of order under concurrency.
  const later = <T>(f: () => T): Promise<T> => new Promise((resolve, reject) => {
    let hops = Math.floor(r() * 4);
    const step = (): void => { if (hops-- > 0) { setImmediate(step); return; } try { resolve(f()); } catch (e) { reject(e); } };
    step();
  });
  const engine = {
    endpoint: { kind: 'unix', url: 'unix:///fake.sock', origin: 'test' },
    ping: async () => undefined,
    listImages: async (): Promise<EngineImageSummary[]> => { calls.list++; return images.map((i) => ({ id: i.id, repoTags: i.tags.length ? i.tags : ['<none>:<none>'], created: i.created, size: 1 })); },
    history: (name: string) => later(() => {
      calls.history++;
      const i = byId.get(name);
      if (!i || i.failHistory) throw new Error(`no such image ${name}`);
      return i.rows.map((x) => ({ ...x }));
    }),
    inspectImage: (name: string) => later(() => {
      calls.inspect++;
      const i = byId.get(name);
      if (!i || i.failInspect) throw new Error(`no such image ${name}`);
      return { id: i.id, repoTags: i.tags.length ? i.tags : ['<none>:<none>'], size: 1, os: 'linux', architecture: 'amd64', diffIds: Array.from({ length: i.layers }, (_, k) => idOf(`${i.id}/${k}`)) };
    }),
  } as unknown as EngineClient;
  return { engine, calls };
}

function same(got: ImageMatch | null, want: ImageMatch | null, what: string): void {
  assert.equal(got?.image.id ?? null, want?.image.id ?? null, `${what}: image`);
  assert.equal(got?.name ?? null, want?.name ?? null, `${what}: name`);
  assert.equal(got?.score ?? null, want?.score ?? null, `${what}: score`);
  assert.equal(got?.stage ?? null, want?.stage ?? null, `${what}: stage`);
  assert.deepEqual(got?.image ?? null, want?.image ?? null, `${what}: QuickImage`);
}

test('the best match equals the exhaustive scan: cold, warm, any concurrency, limits, failing images', async () => {
  let compared = 0;
  let matched = 0;
  for (const seed of [1, 2]) {
    const { images, cases } = fakeImages(seed);
    for (const limit of seed === 1 ? [40, 1000] : [40]) {
      const warm = new HistoryCache(undefined);
      // Every case once (seed 1, limit 40); a third of them in the other configurations (time).
      for (const c of cases.filter((_, k) => (seed === 1 && limit === 40) || k % 3 === seed % 3)) {
        const opts = { stage: c.stage, limit };
        const want = await exhaustive(fakeEngine(images, seed).engine, c.model, opts);
        for (const concurrency of [1, 8]) {
          same(await findBestImage(fakeEngine(images, seed + concurrency).engine, c.model, { ...opts, concurrency }), want, `${c.name} seed ${seed} limit ${limit} cold c=${concurrency}`);
        }
        same(await findBestImage(fakeEngine(images, seed).engine, c.model, { ...opts, cache: warm }), want, `${c.name} seed ${seed} limit ${limit} warm`);
        if (!want) same(await findBestImage(fakeEngine(images, seed).engine, c.model, { ...opts, cache: warm, minScore: 0 }), await exhaustive(fakeEngine(images, seed).engine, c.model, { ...opts, minScore: 0 }), `${c.name} minScore 0`);
        compared++;
        if (want) matched++;
      }
    }
  }
  // The comparison covered real matches, not only "no match" answers.
  assert.ok(matched > compared / 2, `${matched} of ${compared} cases matched an image`);
});

test('ties: the newest of equal scores wins, and equal creation times keep the list order', async () => {
  const rec = JSON.parse(readFileSync(path.join(histDir, 'basic.buildkit.json'), 'utf8')) as Recorded;
  const model = parseDockerfile(readFileSync(path.join(root, rec.dockerfile), 'utf8'));
  const rows: EngineHistoryItem[] = rec.history.map((e, i) => ({ id: '', created: i, createdBy: e.created_by ?? '', size: rec.sizes[i] ?? 0, comment: '', tags: [] })).reverse();
  const layers = rec.history.filter((e) => !e.empty_layer).length;
  const mk = (k: string, created: number): FakeImage => ({ id: idOf(k), tags: [`t/${k}:1`], created, rows, layers });
  for (const images of [[mk('a', 5), mk('b', 9), mk('c', 7)], [mk('a', 5), mk('b', 5), mk('c', 5)], [mk('c', 5), mk('b', 5), mk('a', 5)]]) {
    const want = await exhaustive(fakeEngine(images, 1).engine, model);
    assert.ok(want && want.score === 1);
    for (const concurrency of [1, 2, 8]) same(await findBestImage(fakeEngine(images, concurrency).engine, model, { concurrency }), want, `tie c=${concurrency}`);
  }
});

test('histories only: the winner alone is inspected; no match reads every candidate once', async () => {
  const { images, cases } = fakeImages(7);
  const c = cases.find((x) => x.name === 'basic.buildkit.json')!;
  const target = images.find((i) => i.id === idOf('7:basic.buildkit.json'))!;
  target.created = 2_000_000_000;
  const e = fakeEngine(images, 7);
  const got = await findBestImage(e.engine, c.model, { concurrency: 4 });
  assert.equal(got?.image.id, target.id);
  assert.equal(got?.score, 1);
  assert.equal(e.calls.history, Math.min(40, images.length), `${e.calls.history} history calls`);
  assert.equal(e.calls.inspect, 1);
  const other = parseDockerfile('FROM x\nRUN echo nothing-matches-this\n');
  const e2 = fakeEngine(images, 7);
  assert.equal(await findBestImage(e2.engine, other), null);
  assert.equal(e2.calls.history, Math.min(40, images.length));
  assert.equal(e2.calls.inspect, 0);
});

test('persistent history cache: a new process reuses it (no history or inspect call), damaged files are ignored', async () => {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'layerlens-hist-'));
  try {
    const { images, cases } = fakeImages(11);
    const c = cases.find((x) => x.name === 'chain.legacy.json')!;
    const want = await exhaustive(fakeEngine(images, 11).engine, c.model, { stage: c.stage });
    assert.ok(want);
    const first = new HistoryCache(dir);
    same(await findBestImage(fakeEngine(images, 11).engine, c.model, { stage: c.stage, cache: first }), want, 'cold');
    await first.flush();
    assert.ok(first.stats.writes > 0);
    const e = fakeEngine(images, 12);
    const second = new HistoryCache(dir);
    same(await findBestImage(e.engine, c.model, { stage: c.stage, cache: second }), want, 'warm from disk');
    assert.equal(e.calls.inspect, 0);
    // Only images that failed before are asked again.
    assert.equal(e.calls.history, images.slice().sort((a, b) => b.created - a.created).slice(0, 40).filter((i) => i.failHistory).length);
    assert.ok(second.stats.diskHits > 0);
    // Another engine's cached rows are scored but the winner's sizes are fetched from this one.
    const e3 = fakeEngine(images, 13);
    (e3.engine as { endpoint: unknown }).endpoint = { kind: 'unix', url: 'unix:///other.sock', origin: 'test' };
    same(await findBestImage(e3.engine, c.model, { stage: c.stage, cache: new HistoryCache(dir) }), want, 'other endpoint');
    assert.equal(e3.calls.inspect, 1);
    // A damaged entry is ignored (and removed), not trusted.
    const f = path.join(dir, 'histories-v1', want.image.id.slice(7) + '.json');
    writeFileSync(f, '{"id":"sha256:00","rows":[]}');
    const e4 = fakeEngine(images, 14);
    const fourth = new HistoryCache(dir);
    same(await findBestImage(e4.engine, c.model, { stage: c.stage, cache: fourth }), want, 'damaged entry');
    assert.equal(fourth.stats.rejected, 1);
    assert.equal(e4.calls.inspect, 1);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('prefetchHistories: after a background prefetch the search asks the engine for no history', async () => {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'layerlens-prefetch-'));
  try {
    const { images, cases } = fakeImages(21);
    const c = cases.find((x) => x.name === 'basic.buildkit.json')!;
    const want = await exhaustive(fakeEngine(images, 21).engine, c.model, { stage: c.stage });
    const pre = fakeEngine(images, 21);
    const fetched = await prefetchHistories(pre.engine, new HistoryCache(dir));
    const newest = images.slice().sort((a, b) => b.created - a.created).slice(0, 40);
    assert.equal(fetched, newest.filter((i) => !i.failHistory).length);
    assert.equal(pre.calls.history, newest.length);
    // A second prefetch only asks for what it could not read before.
    const again = fakeEngine(images, 21);
    assert.equal(await prefetchHistories(again.engine, new HistoryCache(dir)), 0);
    assert.equal(again.calls.history, newest.filter((i) => i.failHistory).length);
    const e = fakeEngine(images, 22);
    same(await findBestImage(e.engine, c.model, { stage: c.stage, cache: new HistoryCache(dir) }), want, 'after prefetch');
    const failing = newest.filter((i) => i.failHistory).length;
    assert.ok(e.calls.history <= failing, `${e.calls.history} history calls after the prefetch; only the ${failing} that failed may be asked again`);
    const cold = fakeEngine(images, 22);
    same(await findBestImage(cold.engine, c.model, { stage: c.stage, cache: new HistoryCache(undefined) }), want, 'without prefetch');
    assert.ok(cold.calls.history > failing, `without the prefetch the search asks for ${cold.calls.history} histories`);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
