// Finding the image a Dockerfile built, and its history with sizes, as fast as the source allows:
// from an engine, `inspect` + `history` only (no layer is read); from an archive or layout, the
// analysis (exact config history).
import type { Analysis } from '../core/analysis';
import type { DockerfileModel } from '../core/dockerfile';
import { scoreHistory } from '../core/mapping';
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
}

/**
 * The local image whose history best matches the Dockerfile's target stage (scored 0..1), looking
 * at the `limit` newest images. Histories are cached by image id in `cache`.
 */
export async function findBestImage(
  engine: EngineClient, model: DockerfileModel,
  opts: { limit?: number; minScore?: number; stage?: number | string; cache?: Map<string, QuickImage>; signal?: AbortSignal } = {},
): Promise<ImageMatch | null> {
  const images = (await engine.listImages(opts.signal)).sort((a, b) => b.created - a.created).slice(0, opts.limit ?? 40);
  let best: ImageMatch | null = null;
  for (const img of images) {
    let q = opts.cache?.get(img.id);
    if (!q) {
      try { q = await quickImageFromEngine(engine, img.id, opts.signal); } catch { continue; }
      opts.cache?.set(img.id, q);
    }
    const { score } = scoreHistory(model, q.history, { stage: opts.stage, entrySizes: entrySizes(q) });
    if (score > (best?.score ?? 0)) {
      const tag = img.repoTags.find((t) => t !== '<none>:<none>');
      best = { image: q, name: tag ?? img.id.slice(7, 19), score };
    }
  }
  return best && best.score >= (opts.minScore ?? 0.5) ? best : null;
}
