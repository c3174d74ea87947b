// Stage images remembered per Dockerfile: which image each stage build made (workspace state),
// and, for the stages a Dockerfile's image does not contain, the lines those images give sizes to
// (each mapped with its own stage) or why a stage has none (never built, image gone, image no
// longer matching its stage).
import type * as vscode from 'vscode';
import type { DockerfileModel } from '../../core/dockerfile/dockerfile';
import type { StageImageLines } from '../../core/present/lines';
import { mapHistory, type MappingResult } from '../../core/dockerfile/mapping';
import type { QuickImage } from '../../core/image/quickImage';
import { stageImageMatches, stageKey, stageLabel, stagesOutside } from '../../core/dockerfile/stageImages';
import { entrySizes } from '../../sources/dockerfileImage';

/** A stage the image does not contain, without a usable image of its own (a lens offers to build it). */
export interface StageWithoutImage {
  stage: number;
  key: string;
  /** none: never built; stale: its image no longer matches the stage; unavailable: the image is gone. */
  why: 'none' | 'stale' | 'unavailable';
}

/** One remembered stage image. */
export interface RememberedStageImage {
  /** What the stage build tagged (the source the lenses read). */
  source: string;
  imageId: string | null;
  /** ms since the epoch. */
  builtAt: number;
}

/** Stage images per Dockerfile, in workspace state (key `stageImages:<uri>`, stage key → image). */
export class StageImageStore {
  constructor(private readonly state: vscode.Memento) {}

  private key(uri: vscode.Uri): string {
    return `stageImages:${uri.toString()}`;
  }

  all(uri: vscode.Uri): Record<string, RememberedStageImage> {
    const v = this.state.get<Record<string, RememberedStageImage>>(this.key(uri));
    return v && typeof v === 'object' ? v : {};
  }

  async remember(uri: vscode.Uri, stage: string, image: RememberedStageImage): Promise<void> {
    await this.state.update(this.key(uri), { ...this.all(uri), [stage]: image });
  }
}

/**
 * The stage images of the stages `mapping`'s image does not contain, mapped with their stage; the
 * others (never built, gone, or no longer matching their stage) as `missing`.
 */
export async function resolveStageImages(
  store: StageImageStore, quick: (source: string) => Promise<QuickImage>, log: (line: string) => void,
  doc: vscode.TextDocument, model: DockerfileModel, mapping: MappingResult,
): Promise<{ images: StageImageLines[]; missing: StageWithoutImage[] }> {
  const images: StageImageLines[] = [];
  const missing: StageWithoutImage[] = [];
  if (mapping.stage < 0 || model.stages.length < 2) return { images, missing };
  const remembered = store.all(doc.uri);
  for (const s of stagesOutside(model, mapping.stage)) {
    const st = model.stages[s];
    const key = stageKey(st);
    const r = remembered[key];
    if (!r) {
      missing.push({ stage: s, key, why: 'none' });
      continue;
    }
    let q: QuickImage;
    try {
      q = await quick(r.source);
    } catch (e) {
      log(`stage image ${r.source} (${stageLabel(st)}) unavailable: ${(e as Error).message}`);
      missing.push({ stage: s, key, why: 'unavailable' });
      continue;
    }
    const sizes = entrySizes(q);
    const m = mapHistory(model, q.history, { stage: s, entrySizes: sizes });
    if (!stageImageMatches(m)) {
      missing.push({ stage: s, key, why: 'stale' });
      continue;
    }
    images.push({ source: r.source, mapping: m, entrySizes: sizes });
  }
  return { images, missing };
}
