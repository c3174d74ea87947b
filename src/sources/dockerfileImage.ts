// Finding the image a Dockerfile built, and its history with sizes, as fast as the source allows:
// from an engine, `inspect` + `history` only (no layer is read); from an archive or layout, the
// analysis (exact config history).
import type { Analysis } from '../core/analysis';
import type { DockerfileModel } from '../core/dockerfile';
import { scoreHistory } from '../core/mapping';
import { quickImageFromHistory, type QuickImage } from '../core/quickImage';
import type { EngineClient } from '../engine/types';
import { HistoryCache, type CachedHistory } from './historyCache';

export async function quickImageFromEngine(engine: EngineClient, name: string, signal?: AbortSignal): Promise<QuickImage> {
  const inspect = await engine.inspectImage(name, signal);
  const hist = await engine.history(inspect.id, signal);
  return quickImageFromHistory(inspect.id, inspect.repoTags,
    hist.map((h) => ({ createdBy: h.createdBy, size: h.size, comment: h.comment, created: h.created })), inspect.diffIds.length);
}

export function quickImageFromAnalysis(a: Analysis): QuickImage {
  return { id: a.image.id, repoTags: a.image.repoTags, history: a.image.history, layerSizes: a.layerSizes, alignment: 'analysed' };
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
 * The local image whose history best matches the Dockerfile's target stage (scored 0..1 by
 * scoreHistory), looking at the `limit` newest images: the highest score, the newest image among
 * equal scores — the same image a scan of every candidate one by one finds, but faster:
 * - a score depends only on the rows' `created_by`, so candidates need `history` alone; only the
 *   winner is inspected (for its layer count);
 * - histories come from `cache` when known (an image id's history never changes), else from the
 *   engine, `concurrency` at a time (default 16), newest first;
 * - once every image newer than one that scores 1 (the maximum) is scored, nothing older can win:
 *   the scan stops there.
 * An image whose history or inspect fails is skipped, as if it were not listed.
 */
export async function findBestImage(engine: EngineClient, model: DockerfileModel, opts: FindBestImageOptions = {}): Promise<ImageMatch | null> {
  const images = (await engine.listImages(opts.signal)).sort((a, b) => b.created - a.created).slice(0, opts.limit ?? 40);
  const cache = opts.cache ?? new HistoryCache(undefined);
  const endpoint = engine.endpoint.url;
  const n = images.length;
  // undefined: not scored yet; null: skipped (history or inspect failed).
  const scores: Array<number | null | undefined> = new Array<number | null | undefined>(n).fill(undefined);
  const entries: Array<CachedHistory | undefined> = new Array<CachedHistory | undefined>(n).fill(undefined);
  let next = 0;

  /** The index of the winner if it is already certain, else -1. */
  const decided = (): number => {
    let best = -1;
    let bestScore = 0;
    for (let i = 0; i < n; i++) {
      const s = scores[i];
      if (s === undefined) return bestScore >= 1 ? best : -1;
      if (s !== null && s > bestScore) { best = i; bestScore = s; }
    }
    return best;
  };

  const score = async (i: number): Promise<void> => {
    const img = images[i];
    try {
      let e = await cache.get(img.id);
      if (!e) {
        const hist = await engine.history(img.id, opts.signal);
        e = { id: img.id, endpoint, rows: hist.map((h) => ({ createdBy: h.createdBy, size: h.size, comment: h.comment, created: h.created })) };
        cache.put(e);
      }
      entries[i] = e;
      // The layer count does not change created_by (the only thing scored).
      const q = quickImageFromHistory(img.id, img.repoTags, e.rows, e.layerCount ?? e.rows.length);
      scores[i] = scoreHistory(model, q.history, { stage: opts.stage, entrySizes: entrySizes(q) }).score;
    } catch (err) {
      if (opts.signal?.aborted) throw err;
      scores[i] = null;
    }
  };

  /** Scores candidates, newest first, until the winner is certain or all are scored. */
  const scan = async (): Promise<void> => {
    const worker = async (): Promise<void> => {
      while (next < n && decided() < 0) {
        const i = next++;
        if (scores[i] === undefined) await score(i);
      }
    };
    await Promise.all(Array.from({ length: Math.max(1, Math.min(opts.concurrency ?? 16, n)) }, worker));
  };

  for (;;) {
    await scan();
    let w = decided();
    if (w < 0) {
      // Every candidate is scored (or skipped): the first best one.
      let bestScore = 0;
      for (let i = 0; i < n; i++) { const s = scores[i]; if (s != null && s > bestScore) { w = i; bestScore = s; } }
    }
    // Below minScore: no match (had its inspect failed, the next best would score no higher).
    if (w < 0 || scores[w]! < (opts.minScore ?? 0.5)) return null;
    const img = images[w];
    const e = entries[w]!;
    let q: QuickImage;
    try {
      if (e.layerCount !== undefined && e.endpoint === endpoint) {
        q = quickImageFromHistory(img.id, img.repoTags, e.rows, e.layerCount);
      } else {
        const inspect = await engine.inspectImage(img.id, opts.signal);
        // Sizes only from this engine: rows cached from another one are fetched again.
        const rows = e.endpoint === endpoint ? e.rows
          : (await engine.history(img.id, opts.signal)).map((h) => ({ createdBy: h.createdBy, size: h.size, comment: h.comment, created: h.created }));
        cache.put({ id: img.id, endpoint, rows, layerCount: inspect.diffIds.length });
        q = quickImageFromHistory(inspect.id, inspect.repoTags, rows, inspect.diffIds.length);
      }
    } catch (err) {
      if (opts.signal?.aborted) throw err;
      // Gone since the list (or unreadable): as if it had not been listed; look again.
      scores[w] = null;
      next = 0;
      continue;
    }
    return { image: q, name: img.repoTags.find((t) => t !== '<none>:<none>') ?? img.id.slice(7, 19), score: scores[w]! };
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
  const images = (await engine.listImages(opts.signal)).sort((a, b) => b.created - a.created).slice(0, opts.limit ?? 40);
  const endpoint = engine.endpoint.url;
  let next = 0;
  let fetched = 0;
  const worker = async (): Promise<void> => {
    while (next < images.length) {
      if (opts.signal?.aborted) throw new Error('cancelled');
      const img = images[next++];
      if (await cache.get(img.id)) continue;
      try {
        const hist = await engine.history(img.id, opts.signal);
        cache.put({ id: img.id, endpoint, rows: hist.map((h) => ({ createdBy: h.createdBy, size: h.size, comment: h.comment, created: h.created })) });
        fetched++;
      } catch (err) {
        if (opts.signal?.aborted) throw err;
      }
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, Math.min(opts.concurrency ?? 4, images.length)) }, worker));
  await cache.flush();
  return fetched;
}
