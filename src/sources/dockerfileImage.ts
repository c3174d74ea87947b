// Finding the image a Dockerfile built, and its history with sizes, as fast as the source allows:
// from an engine, `inspect` + `history` only (no layer is read); from an archive or layout, the
// analysis (exact config history).
import type { Analysis } from '../core/analysis';
import type { DockerfileModel } from '../core/dockerfile';
import { bestStageMapping, mapHistory } from '../core/mapping';
import { quickImageFromHistory, type QuickImage } from '../core/quickImage';
import type { EngineClient } from '../engine/types';

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
  /** The stage whose image it is (the one asked for, else the one that matches best). */
  stage: number;
}

/**
 * The local image whose history best matches a stage of the Dockerfile, looking at the `limit`
 * newest images: with `stage`, that stage only; without, each image with the stage that matches it
 * best (core/mapping bestStageMapping: an image built with `--target` holds that stage's chain).
 * Among the images that score at least `minScore` (0..1), the one whose matched lines weigh most
 * (the sum of their similarities: the final image beats the image of one small stage that matches
 * as well), then the higher score, then the newest. Histories are cached by image id in `cache`.
 */
export async function findBestImage(
  engine: EngineClient, model: DockerfileModel,
  opts: { limit?: number; minScore?: number; stage?: number | string; cache?: Map<string, QuickImage>; signal?: AbortSignal } = {},
): Promise<ImageMatch | null> {
  const images = (await engine.listImages(opts.signal)).sort((a, b) => b.created - a.created).slice(0, opts.limit ?? 40);
  const minScore = opts.minScore ?? 0.5;
  let best: (ImageMatch & { weight: number }) | null = null;
  for (const img of images) {
    let q = opts.cache?.get(img.id);
    if (!q) {
      try { q = await quickImageFromEngine(engine, img.id, opts.signal); } catch { continue; }
      opts.cache?.set(img.id, q);
    }
    const m = opts.stage !== undefined
      ? mapHistory(model, q.history, { stage: opts.stage, entrySizes: entrySizes(q) })
      : bestStageMapping(model, q.history, { entrySizes: entrySizes(q) });
    if (m.stage < 0 || m.score < minScore) continue;
    const weight = m.pairs.reduce((t, p) => t + p.similarity, 0);
    if (best === null || weight > best.weight + 1e-9 || (Math.abs(weight - best.weight) <= 1e-9 && m.score > best.score)) {
      const tag = img.repoTags.find((t) => t !== '<none>:<none>');
      best = { image: q, name: tag ?? img.id.slice(7, 19), score: m.score, stage: m.stage, weight };
    }
  }
  if (!best) return null;
  return { image: best.image, name: best.name, score: best.score, stage: best.stage };
}
