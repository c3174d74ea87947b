// Finding the image a Dockerfile built, and its history with sizes, as fast as the source allows:
// from an engine, `inspect` + `history` only (no layer is read); from an archive or layout, the
// analysis (exact config history).
import type { Analysis } from '../core/image/analysis';
import type { DockerfileModel } from '../core/dockerfile/dockerfile';
import { bestStageMapping, mapHistory } from '../core/dockerfile/mapping';
import { quickImageFromHistory, type QuickImage } from '../core/image/quickImage';
import type { EngineClient, EngineImageSummary } from '../engine/types';
import { HistoryCache, type CachedHistory } from './historyCache';

/** An image's history rows as the engine gives them, newest first (what HistoryCache keeps). */
async function historyRows(engine: EngineClient, id: string, signal?: AbortSignal): Promise<CachedHistory['rows']> {
  return (await engine.history(id, signal)).map((h) => ({ createdBy: h.createdBy, size: h.size, comment: h.comment, created: h.created }));
}

/** The `limit` newest local images, newest first. */
async function newestImages(engine: EngineClient, limit: number, signal?: AbortSignal): Promise<EngineImageSummary[]> {
  return (await engine.listImages(signal)).sort((a, b) => b.created - a.created).slice(0, limit);
}

/** Runs task(0) … task(n - 1) in order of index, `concurrency` at a time. */
async function eachLimited(n: number, concurrency: number, task: (i: number) => Promise<void>): Promise<void> {
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < n) await task(next++);
  };
  await Promise.all(Array.from({ length: Math.max(1, Math.min(concurrency, n)) }, worker));
}

export async function quickImageFromEngine(engine: EngineClient, name: string, signal?: AbortSignal): Promise<QuickImage> {
  const inspect = await engine.inspectImage(name, signal);
  return quickImageFromHistory(inspect.id, inspect.repoTags, await historyRows(engine, inspect.id, signal), inspect.diffIds.length);
}

export function quickImageFromAnalysis(a: Analysis): QuickImage {
  return { id: a.image.id, repoTags: a.image.repoTags, history: a.image.history, layerSizes: a.layerSizes, alignment: 'analyzed' };
}

/** Size of each history entry (0 for entries without a layer). */
export function entrySizes(q: QuickImage): number[] {
  return q.history.map((h) => (h.layerIndex === null ? 0 : q.layerSizes[h.layerIndex] ?? 0));
}

export interface ImageMatch {
  image: QuickImage;
  /** The name to show: a tag when the image has one, else the short id. */
  name: string;
  score: number;
  /** The stage whose image it is (the one asked for, else the one that matches best). */
  stage: number;
}

/** Options of findBestImage. */
export interface FindBestImageOptions {
  /** How many of the newest images to look at (default 40). */
  limit?: number;
  /** Best scores below this are no match (default 0.5). */
  minScore?: number;
  stage?: number | string;
  /** Histories by image id (kept across calls, and on disk when it has a directory). */
  cache?: HistoryCache;
  /** Histories fetched at once (default 16). */
  concurrency?: number;
  signal?: AbortSignal;
}

/**
 * The local image whose history best matches a stage of the Dockerfile, looking at the `limit`
 * newest images: with `stage`, that stage only; without, each image with the stage that matches it
 * best (core/dockerfile/mapping bestStageMapping: an image built with `--target` holds that stage's chain).
 * Among the images that score at least `minScore` (0..1), the one whose matched lines weigh most
 * (the sum of their similarities: the final image beats the image of one small stage that matches
 * as well), then the higher score, then the newest — the image a scan of every candidate one by
 * one finds, but faster:
 * - a mapping depends only on the rows' `created_by`, so candidates need `history` alone; only the
 *   winner is inspected (for its layer count);
 * - histories come from `cache` when known (an image id's history never changes), else from the
 *   engine, `concurrency` at a time (default 16), newest first;
 * - every candidate is scored (no early stop: a score of 1 does not make a match the heaviest —
 *   optional lines such as a WORKDIR's empty layer add weight without changing the score).
 * An image whose history or inspect fails is skipped, as if it were not listed.
 */
export async function findBestImage(engine: EngineClient, model: DockerfileModel, opts: FindBestImageOptions = {}): Promise<ImageMatch | null> {
  const images = await newestImages(engine, opts.limit ?? 40, opts.signal);
  const cache = opts.cache ?? new HistoryCache(undefined);
  const endpoint = engine.endpoint.url;
  const n = images.length;
  const minScore = opts.minScore ?? 0.5;
  interface Scored { score: number; weight: number; stage: number }
  // null: skipped (history or inspect failed, or below minScore).
  const scores: Array<Scored | null> = new Array<Scored | null>(n).fill(null);
  const better = (x: Scored, y: Scored | null): boolean => y === null || x.weight > y.weight + 1e-9
    || (Math.abs(x.weight - y.weight) <= 1e-9 && x.score > y.score);
  const entries: Array<CachedHistory | undefined> = new Array<CachedHistory | undefined>(n).fill(undefined);

  // Every candidate is scored, newest first.
  await eachLimited(n, opts.concurrency ?? 16, async (i) => {
    const img = images[i];
    try {
      let e = await cache.get(img.id);
      if (!e) {
        e = { id: img.id, endpoint, rows: await historyRows(engine, img.id, opts.signal) };
        cache.put(e);
      }
      entries[i] = e;
      // The layer count does not change created_by (the only thing scored).
      const q = quickImageFromHistory(img.id, img.repoTags, e.rows, e.layerCount ?? e.rows.length);
      const m = opts.stage !== undefined
        ? mapHistory(model, q.history, { stage: opts.stage, entrySizes: entrySizes(q) })
        : bestStageMapping(model, q.history, { entrySizes: entrySizes(q) });
      if (m.stage >= 0 && m.score >= minScore) scores[i] = { score: m.score, weight: m.pairs.reduce((t, p) => t + p.similarity, 0), stage: m.stage };
    } catch (err) {
      if (opts.signal?.aborted) throw err;
    }
  });

  for (;;) {
    // The best one (the newest among equals), if any.
    let w = -1;
    for (let i = 0; i < n; i++) {
      const s = scores[i];
      if (s !== null && better(s, w >= 0 ? scores[w] : null)) w = i;
    }
    if (w < 0) return null;
    const won = scores[w]!;
    const img = images[w];
    const e = entries[w]!;
    let q: QuickImage;
    try {
      if (e.layerCount !== undefined && e.endpoint === endpoint) {
        q = quickImageFromHistory(img.id, img.repoTags, e.rows, e.layerCount);
      } else {
        const inspect = await engine.inspectImage(img.id, opts.signal);
        // Sizes only from this engine: rows cached from another one are fetched again.
        const rows = e.endpoint === endpoint ? e.rows : await historyRows(engine, img.id, opts.signal);
        cache.put({ id: img.id, endpoint, rows, layerCount: inspect.diffIds.length });
        q = quickImageFromHistory(inspect.id, inspect.repoTags, rows, inspect.diffIds.length);
      }
    } catch (err) {
      if (opts.signal?.aborted) throw err;
      // Gone since the list (or unreadable): as if it had not been listed; the next best.
      scores[w] = null;
      continue;
    }
    return { image: q, name: img.repoTags.find((t) => t !== '<none>:<none>') ?? img.id.slice(7, 19), score: won.score, stage: won.stage };
  }
}

/**
 * Fills `cache` with the histories of the `limit` newest images it does not know yet (`concurrency`
 * at a time, default 4: a background task, not a race), so that the first open of a Dockerfile
 * whose image is not remembered scores from memory instead of asking the engine for each history.
 * Returns how many histories were fetched. Failures are skipped; only cancellation throws.
 */
export async function prefetchHistories(engine: EngineClient, cache: HistoryCache,
  opts: { limit?: number; concurrency?: number; signal?: AbortSignal } = {}): Promise<number> {
  const images = await newestImages(engine, opts.limit ?? 40, opts.signal);
  const endpoint = engine.endpoint.url;
  let fetched = 0;
  await eachLimited(images.length, opts.concurrency ?? 4, async (i) => {
    if (opts.signal?.aborted) throw new Error('cancelled');
    const img = images[i];
    if (await cache.get(img.id)) return;
    try {
      cache.put({ id: img.id, endpoint, rows: await historyRows(engine, img.id, opts.signal) });
      fetched++;
    } catch (err) {
      if (opts.signal?.aborted) throw err;
    }
  });
  await cache.flush();
  return fetched;
}
