// Which image each Dockerfile built, and its lines with sizes and cache status: the remembered
// build or shown image, the setting layerLens.imageForDockerfile, else the local image whose
// history matches the file best. Resolutions are kept per document until invalidated (saves,
// image changes, engine events, settings); they belong to the engine scope (engineScope.ts), so a
// new engine starts with none.
import * as vscode from 'vscode';
import { parseDockerfile } from '../core/dockerfile/dockerfile';
import { lineInfos, sizesByInstruction, withSizeDeltas, type LineInfo } from '../core/present/lines';
import { mapImageHistory, type MappingResult } from '../core/dockerfile/mapping';
import type { DockerfileModel } from '../core/dockerfile/dockerfile';
import type { QuickImage } from '../core/image/quickImage';
import { parseSource } from '../sources/load';
import { globToRegExp } from '../core/image/tar/paths';
import { entrySizes, findBestImage, prefetchHistories, quickImageFromAnalysis, quickImageFromEngine, type ImageMatch } from '../sources/dockerfileImage';
import type { HistoryCache } from '../sources/historyCache';
import { builtFrom } from '../sources/buildStore';
import type { BuildRecords } from './build/records';
import { resolveStageImages, type StageImageStore, type StageWithoutImage } from './build/stageStore';
import type { EngineConnection } from './engine';
import type { ImageReaders, ImageService } from './imageService';

export const DOCKERFILE_SELECTOR: vscode.DocumentSelector = [{ language: 'dockerfile' }];

export interface DocImage {
  /** The source string shown (tag, id, or archive path). */
  source: string;
  matchedBy: string;
  image: QuickImage;
  /**
   * The target the image was built for, when the last Layer Lens build of this file made it (null:
   * the last stage). Undefined: unknown; the image is mapped with the stage that matches it best.
   * Not layerLens.build.target: that is the next build's, not this image's.
   */
  target?: string | null;
}

/** The mapping of a Dockerfile's image: with the target it was built for, else the best stage. */
export function mapDocImage(model: DockerfileModel, img: DocImage, sizes: readonly number[]): MappingResult {
  return mapImageHistory(model, img.image.history, { target: img.target, entrySizes: sizes });
}

export interface DockerfileImagesDeps {
  engine: EngineConnection;
  images: ImageService;
  /** How image readers are made (the extension's one factory). */
  readers: ImageReaders;
  /** Cache status per line (the last build of each Dockerfile, and predictions from it). */
  builds: BuildRecords;
  /** The images of the stages a Dockerfile's image does not contain. */
  stageStore: StageImageStore;
  /**
   * Histories by image id for the best-match search, kept on disk in global storage: an id's
   * history never changes, so neither invalidate() nor engine events clear it.
   */
  histories: HistoryCache;
  log: (line: string) => void;
  /** Called by invalidate(): lenses, hovers and views recompute. */
  changed: () => void;
}

export class DockerfileImages {
  private readonly byDoc = new Map<string, Promise<DocImage | null>>();
  /** Why the last resolution of a document found no image (engine down, archive unreadable…). */
  private readonly errors = new Map<string, string>();
  /** Stage images' quick images, by source, until the next invalidate(). */
  private readonly stageQuicks = new Map<string, Promise<QuickImage>>();

  constructor(private readonly deps: DockerfileImagesDeps) {}

  /**
   * Reads the histories of the newest images the cache does not know yet, in the background (after
   * the engine scope starts and after image changes), so a Dockerfile opened later finds its image
   * without asking the engine for every history. Never throws.
   */
  async prefetch(signal?: AbortSignal): Promise<void> {
    try {
      const n = await prefetchHistories(this.deps.engine.get(), this.deps.histories, { signal });
      if (n > 0) this.deps.log(`history cache: read ${n} new image histor${n === 1 ? 'y' : 'ies'} in the background`);
    } catch (e) {
      if (!signal?.aborted) this.deps.log(`history prefetch skipped: ${(e as Error).message}`);
    }
  }

  invalidate(): void {
    this.byDoc.clear();
    this.errors.clear();
    this.stageQuicks.clear();
    this.deps.changed();
  }

  /** Candidate sources from the setting layerLens.imageForDockerfile (relative archive paths resolved). */
  private configured(doc: vscode.TextDocument): string[] {
    const folder = vscode.workspace.getWorkspaceFolder(doc.uri);
    const map = vscode.workspace.getConfiguration('layerLens', doc.uri).get<Record<string, string | string[]>>('imageForDockerfile') ?? {};
    const rel = folder ? vscode.workspace.asRelativePath(doc.uri, false) : doc.uri.fsPath;
    for (const [pattern, value] of Object.entries(map)) {
      const glob = globToRegExp(pattern);
      if (!glob.test(rel)) continue;
      const list = Array.isArray(value) ? value : [value];
      return list.map((s) => {
        const m = /^(docker-archive:|oci:)(.*)$/.exec(s);
        if (m && folder && !m[2].startsWith('/')) return m[1] + vscode.Uri.joinPath(folder.uri, m[2]).fsPath;
        return s;
      });
    }
    return [];
  }

  async quick(source: string): Promise<QuickImage> {
    const spec = await parseSource(source);
    if (spec.kind === 'engine') return quickImageFromEngine(this.deps.engine.get(), spec.name);
    // A registry image: its manifest and config only (compressed sizes); layers wait for the Layers view.
    const reader = this.deps.readers.open(spec);
    if (reader.quickImage) return reader.quickImage();
    const shown = await this.deps.images.show(source);
    if (!shown) throw new Error('cancelled');
    return quickImageFromAnalysis(shown.analysis);
  }

  /** The image this Dockerfile built: remembered build, setting, else best history match. */
  imageFor(doc: vscode.TextDocument): Promise<DocImage | null> {
    const key = doc.uri.toString();
    let p = this.byDoc.get(key);
    if (!p) {
      this.errors.delete(key);
      p = this.resolve(doc).catch((e: unknown) => {
        this.deps.log(`no image for ${vscode.workspace.asRelativePath(doc.uri)}: ${(e as Error).message}`);
        this.errors.set(key, (e as Error)?.message ?? String(e));
        return null;
      });
      this.byDoc.set(key, p);
    }
    return p;
  }

  private async resolve(doc: vscode.TextDocument): Promise<DocImage | null> {
    const remembered = this.deps.images.rememberedFor(doc.uri);
    const candidates: Array<[string, string]> = [];
    if (remembered) candidates.push([remembered, 'last built or shown']);
    for (const s of this.configured(doc)) candidates.push([s, 'setting layerLens.imageForDockerfile']);
    const record = this.deps.builds.lastBuild(doc.uri);
    // The image of the last build was built for that build's target (whatever the setting says now).
    const withTarget = (d: DocImage): DocImage => (record?.imageId && record.imageId === d.image.id ? { ...d, target: record.target } : d);
    const model = parseDockerfile(doc.getText());
    for (const [source, matchedBy] of candidates) {
      try {
        const found = withTarget({ source, matchedBy, image: await this.quick(source) });
        // The image shown is the remembered or configured one; a newer build made elsewhere is still recorded.
        void this.noticeBuild(doc, model);
        return found;
      } catch (e) {
        this.deps.log(`image ${source} for ${vscode.workspace.asRelativePath(doc.uri)} unavailable: ${(e as Error).message}`);
      }
    }
    const best = await findBestImage(this.deps.engine.get(), model, { cache: this.deps.histories });
    if (!best) return null;
    void this.noticeBuild(doc, model, best);
    const st = model.stages[best.stage];
    const of = best.stage === model.stages.length - 1 || !st ? '' : ` (stage ${st.name ?? best.stage})`;
    return withTarget({ source: best.name, matchedBy: `history matches ${Math.round(best.score * 100)} %${of}`, image: best.image });
  }

  /**
   * Builds made anywhere (a terminal, compose, a task): the engine image whose history matches the
   * saved Dockerfile fully, when no record knows it, is recorded as a build seen through the engine
   * (resolutions run again on the engine's image events, so a new image is noticed as it appears).
   */
  private async noticeBuild(doc: vscode.TextDocument, model: DockerfileModel, best?: ImageMatch | null): Promise<void> {
    if (doc.uri.scheme !== 'file' || doc.isDirty) return;
    try {
      const match = best ?? await findBestImage(this.deps.engine.get(), model, { cache: this.deps.histories });
      if (match && builtFrom(doc.getText(), match.image.history, match.stage, match.score)) await this.deps.builds.recordSeen(doc.uri, model, match);
    } catch (e) {
      this.deps.log(`looking for builds of ${vscode.workspace.asRelativePath(doc.uri)}: ${(e as Error).message}`);
    }
  }

  /** The error that kept the last resolution of `doc` from finding an image, if any. */
  errorFor(doc: vscode.TextDocument): string | undefined {
    return this.errors.get(doc.uri.toString());
  }

  /** A stage image's quick image, read once until the next invalidate(). */
  private stageQuick(source: string): Promise<QuickImage> {
    let p = this.stageQuicks.get(source);
    if (!p) {
      p = this.quick(source);
      p.catch(() => this.stageQuicks.delete(source));
      this.stageQuicks.set(source, p);
    }
    return p;
  }

  /** Lines with sizes and cache status for the document as it is now. */
  async lines(doc: vscode.TextDocument): Promise<{ img: DocImage; model: DockerfileModel; infos: LineInfo[]; missingStages: StageWithoutImage[] } | null> {
    const img = await this.imageFor(doc);
    if (!img) return null;
    const model = parseDockerfile(doc.getText());
    const sizes = entrySizes(img.image);
    const mapping = mapDocImage(model, img, sizes);
    const stages = await resolveStageImages(this.deps.stageStore, (s) => this.stageQuick(s), this.deps.log, doc, model, mapping).catch((e: unknown) => {
      this.deps.log(`stage images of ${vscode.workspace.asRelativePath(doc.uri)}: ${(e as Error).message}`);
      return { images: [], missing: [] };
    });
    const infos = lineInfos(mapping, sizes, this.deps.builds.cacheFacts(doc), model, stages.images);
    // Each layer line against the same instruction's layer in the previous build of the file.
    const previous = this.deps.builds.sizesSinceLastBuild(doc.uri, img.image.id, () => sizesByInstruction(infos, model));
    if (previous) withSizeDeltas(infos, model, previous);
    return { img, model, infos, missingStages: stages.missing };
  }
}
