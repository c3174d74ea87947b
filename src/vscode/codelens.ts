// CodeLens above every Dockerfile instruction: the size of the layer the line built and its cache
// status. Sizes come from the engine's history (inspect + history only, never layer contents), or
// from the analysis for archives. Recomputed on save, on image changes and on engine events,
// debounced; a half-typed file never raises a popup (errors go to the output channel and lenses).
import * as vscode from 'vscode';
import { parseDockerfile } from '../core/dockerfile/dockerfile';
import { formatBytes } from '../core/present/format';
import { lensLabel, lineInfos, type LineCache, type LineInfo, type StageImageLines } from '../core/present/lines';
import { mapImageHistory, type MappingResult } from '../core/dockerfile/mapping';
import type { DockerfileModel } from '../core/dockerfile/dockerfile';
import type { QuickImage } from '../core/image/quickImage';
import { parseSource } from '../sources/load';
import { globToRegExp } from '../core/image/tar/paths';
import { entrySizes, findBestImage, prefetchHistories, quickImageFromAnalysis, quickImageFromEngine } from '../sources/dockerfileImage';
import { HistoryCache } from '../sources/historyCache';
import { lastBuild } from './build';
import type { LayerLens } from './context';

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

/** Cache-status facts per Dockerfile (set by the build command). */
export type CacheFacts = (doc: vscode.TextDocument) => ReadonlyMap<number, LineCache> | undefined;

/** A stage the image does not contain, without a usable image of its own (a lens offers to build it). */
export interface StageWithoutImage {
  stage: number;
  key: string;
  /** none: never built; stale: its image no longer matches the stage; unavailable: the image is gone. */
  why: 'none' | 'stale' | 'unavailable';
}

/** Images of the stages the image does not contain (set by src/vscode/stageImages.ts). */
export type StageImagesOf = (doc: vscode.TextDocument, model: DockerfileModel, mapping: MappingResult) =>
  Promise<{ images: StageImageLines[]; missing: StageWithoutImage[] }>;

export class DockerfileImages {
  private readonly byDoc = new Map<string, Promise<DocImage | null>>();
  /**
   * Histories by image id for the best-match search, kept on disk in global storage: an id's
   * history never changes, so neither invalidate() nor engine events clear it.
   */
  private readonly histories: HistoryCache;
  /** Why the last resolution of a document found no image (engine down, archive unreadable…). */
  private readonly errors = new Map<string, string>();
  private readonly emitter = new vscode.EventEmitter<void>();
  readonly onDidChange = this.emitter.event;
  cacheFacts: CacheFacts = () => undefined;
  stageImages: StageImagesOf = async () => ({ images: [], missing: [] });

  constructor(private readonly ll: LayerLens) {
    this.histories = new HistoryCache(vscode.Uri.joinPath(ll.context.globalStorageUri, 'image-history-cache').fsPath, { log: ll.log });
  }

  /**
   * Reads the histories of the newest images the cache does not know yet, in the background (after
   * activation and after engine image events), so a Dockerfile opened later finds its image
   * without asking the engine for every history. Never throws.
   */
  async prefetch(signal?: AbortSignal): Promise<void> {
    try {
      const n = await prefetchHistories(this.ll.engine.get(), this.histories, { signal });
      if (n > 0) this.ll.log(`history cache: read ${n} new image histor${n === 1 ? 'y' : 'ies'} in the background`);
    } catch (e) {
      if (!signal?.aborted) this.ll.log(`history prefetch skipped: ${(e as Error).message}`);
    }
  }

  invalidate(): void {
    this.byDoc.clear();
    this.errors.clear();
    this.emitter.fire();
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
    if (spec.kind === 'engine') return quickImageFromEngine(this.ll.engine.get(), spec.name);
    const shown = await this.ll.images.show(source);
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
        this.ll.log(`no image for ${vscode.workspace.asRelativePath(doc.uri)}: ${(e as Error).message}`);
        this.errors.set(key, (e as Error)?.message ?? String(e));
        return null;
      });
      this.byDoc.set(key, p);
    }
    return p;
  }

  private async resolve(doc: vscode.TextDocument): Promise<DocImage | null> {
    const remembered = this.ll.images.rememberedFor(doc.uri);
    const candidates: Array<[string, string]> = [];
    if (remembered) candidates.push([remembered, 'last built or shown']);
    for (const s of this.configured(doc)) candidates.push([s, 'setting layerLens.imageForDockerfile']);
    const record = lastBuild(doc.uri);
    // The image of the last build was built for that build's target (whatever the setting says now).
    const withTarget = (d: DocImage): DocImage => (record?.imageId && record.imageId === d.image.id ? { ...d, target: record.target } : d);
    for (const [source, matchedBy] of candidates) {
      try {
        return withTarget({ source, matchedBy, image: await this.quick(source) });
      } catch (e) {
        this.ll.log(`image ${source} for ${vscode.workspace.asRelativePath(doc.uri)} unavailable: ${(e as Error).message}`);
      }
    }
    const model = parseDockerfile(doc.getText());
    const best = await findBestImage(this.ll.engine.get(), model, { cache: this.histories });
    if (!best) return null;
    const st = model.stages[best.stage];
    const of = best.stage === model.stages.length - 1 || !st ? '' : ` (stage ${st.name ?? best.stage})`;
    return withTarget({ source: best.name, matchedBy: `history matches ${Math.round(best.score * 100)} %${of}`, image: best.image });
  }

  /** The error that kept the last resolution of `doc` from finding an image, if any. */
  errorFor(doc: vscode.TextDocument): string | undefined {
    return this.errors.get(doc.uri.toString());
  }

  /** Lines with sizes and cache status for the document as it is now. */
  async lines(doc: vscode.TextDocument): Promise<{ img: DocImage; model: DockerfileModel; infos: LineInfo[]; missingStages: StageWithoutImage[] } | null> {
    const img = await this.imageFor(doc);
    if (!img) return null;
    const model = parseDockerfile(doc.getText());
    const sizes = entrySizes(img.image);
    const mapping = mapDocImage(model, img, sizes);
    const stages = await this.stageImages(doc, model, mapping).catch((e: unknown) => {
      this.ll.log(`stage images of ${vscode.workspace.asRelativePath(doc.uri)}: ${(e as Error).message}`);
      return { images: [], missing: [] };
    });
    return { img, model, infos: lineInfos(mapping, sizes, this.cacheFacts(doc), model, stages.images), missingStages: stages.missing };
  }

  dispose(): void {
    this.emitter.dispose();
  }
}

/** On the FROM line of each stage without a usable image (and no sizes from a derived stage's): build it. */
function stageBuildLenses(missing: readonly StageWithoutImage[], doc: vscode.TextDocument, model: DockerfileModel, sized: ReadonlySet<number>): vscode.CodeLens[] {
  const out: vscode.CodeLens[] = [];
  for (const m of missing) {
    const st = model.stages[m.stage];
    if (!st || sized.has(st.line) || st.line - 1 >= doc.lineCount) continue;
    const title = m.why === 'stale' ? 'stage image out of date · build stage to see sizes'
      : m.why === 'unavailable' ? 'stage image gone · build stage to see sizes' : 'build stage to see sizes';
    out.push(new vscode.CodeLens(new vscode.Range(st.line - 1, 0, st.line - 1, 0), {
      title, command: 'layerLens.buildStageImages', arguments: [doc.uri, m.key],
      tooltip: `Build stage ${st.name ?? st.index} as its own target (cached steps are reused) so that its lines get sizes`,
    }));
  }
  return out;
}

class LayerCodeLensProvider implements vscode.CodeLensProvider {
  private readonly emitter = new vscode.EventEmitter<void>();
  readonly onDidChangeCodeLenses = this.emitter.event;

  constructor(private readonly images: DockerfileImages) {}

  refresh(): void {
    this.emitter.fire();
  }

  async provideCodeLenses(doc: vscode.TextDocument, token: vscode.CancellationToken): Promise<vscode.CodeLens[]> {
    if (!vscode.workspace.getConfiguration('layerLens', doc.uri).get<boolean>('codeLens.enabled', true)) return [];
    let res: Awaited<ReturnType<DockerfileImages['lines']>>;
    try {
      res = await this.images.lines(doc);
    } catch {
      return [];
    }
    if (token.isCancellationRequested) return [];
    const first = new vscode.Range(0, 0, 0, 0);
    if (!res) {
      return [new vscode.CodeLens(first, { title: 'Layer Lens: no image built from this file yet — Build Image', command: 'layerLens.buildImage', arguments: [doc.uri] })];
    }
    const lenses: vscode.CodeLens[] = [];
    for (const info of res.infos) {
      if (info.line - 1 >= doc.lineCount) continue;
      const range = new vscode.Range(info.line - 1, 0, info.line - 1, 0);
      const title = lensLabel(info);
      // Lines of other stages mapped from their stage's image explain that image's layer.
      const stageArg = info.stageImage !== undefined ? [{ stage: info.stage, source: info.stageImage }] : [];
      const cmd: vscode.Command = info.layerIndex !== null
        ? { title, command: 'layerLens.showLensLayer', arguments: [info.layerIndex, doc.uri, ...stageArg], tooltip: `Layer ${info.layerIndex} of ${info.stageImage ?? res.img.source} — click to select it in the Layers view and explain it` }
        : { title, command: '', tooltip: info.kind === 'config' ? 'This instruction only changes the image config: no layer, 0 bytes.' : '' };
      lenses.push(new vscode.CodeLens(range, cmd));
    }
    const sized = new Set(res.infos.filter((i) => i.stageImage !== undefined).map((i) => i.line));
    for (const m of stageBuildLenses(res.missingStages, doc, res.model, sized)) lenses.push(m);
    return lenses;
  }
}

export function registerCodeLens(ll: LayerLens): vscode.Disposable[] {
  const images = ll.dockerfiles;
  const provider = new LayerCodeLensProvider(images);
  const status = vscode.window.createStatusBarItem('layerLens.image', vscode.StatusBarAlignment.Left, 50);
  status.name = 'Layer Lens image';
  status.command = 'layerLens.openImage';
  let timer: NodeJS.Timeout | undefined;
  const refresh = (): void => {
    if (timer) clearTimeout(timer);
    timer = setTimeout(() => { provider.refresh(); void updateStatus(); }, 250);
  };
  const updateStatus = async (): Promise<void> => {
    const doc = vscode.window.activeTextEditor?.document;
    if (!doc || doc.languageId !== 'dockerfile') { status.hide(); return; }
    const res = await images.lines(doc).catch(() => null);
    const error = res ? undefined : images.errorFor(doc);
    if (!res && error) {
      // The engine (or the configured archive) failed: say so here, not in a popup.
      status.text = '$(warning) Layer Lens: no engine';
      status.tooltip = `Layer Lens: ${error} (details in the Layer Lens output channel)`;
    } else if (!res) {
      status.text = '$(layers) no image';
      status.tooltip = 'Layer Lens: no image built from this Dockerfile was found';
    } else {
      const total = res.img.image.layerSizes.reduce((a, b) => a + b, 0);
      const shortName = res.img.source.replace(/^(docker-archive:|oci:)(.*\/)?/, '');
      status.text = `$(layers) ${shortName} · ${formatBytes(total)}`;
      status.tooltip = `Layer Lens: ${res.img.source} (${res.img.matchedBy}), ${res.img.image.layerSizes.length} layers`;
      // The Layers view follows the active Dockerfile's image (or one of its stage images, opened from a lens).
      const cur = ll.images.current;
      const ownStage = cur?.stage !== undefined && cur.dockerfile?.toString() === doc.uri.toString();
      if (cur?.analysis.image.id !== res.img.image.id && !ownStage) {
        void ll.images.show(res.img.source, { dockerfile: doc.uri }).catch((e: unknown) => ll.log(`cannot show ${res.img.source}: ${(e as Error).message}`));
      }
    }
    status.show();
  };
  void updateStatus();
  // Histories of the newest images, read in the background a moment after activation and after
  // image changes (debounced): the first open of a Dockerfile then scores from the cache.
  const prefetchAbort = new AbortController();
  let prefetchTimer: NodeJS.Timeout | undefined;
  const schedulePrefetch = (ms: number): void => {
    if (prefetchTimer) clearTimeout(prefetchTimer);
    prefetchTimer = setTimeout(() => void images.prefetch(prefetchAbort.signal), ms);
  };
  schedulePrefetch(1500);
  return [
    images.onDidChange(() => schedulePrefetch(3000)),
    { dispose: () => { prefetchAbort.abort(); if (prefetchTimer) clearTimeout(prefetchTimer); } },
    status,
    vscode.languages.registerCodeLensProvider(DOCKERFILE_SELECTOR, provider),
    images.onDidChange(refresh),
    ll.images.onDidChange(refresh),
    vscode.workspace.onDidSaveTextDocument((d) => { if (d.languageId === 'dockerfile') refresh(); }),
    // While typing: cache predictions follow the text (the refresh is debounced).
    vscode.workspace.onDidChangeTextDocument((e) => { if (e.document.languageId === 'dockerfile' && e.contentChanges.length) refresh(); }),
    vscode.window.onDidChangeActiveTextEditor(() => void updateStatus()),
    vscode.workspace.onDidChangeConfiguration((e) => { if (e.affectsConfiguration('layerLens')) images.invalidate(); }),
    { dispose: () => { if (timer) clearTimeout(timer); } },
  ];
}
