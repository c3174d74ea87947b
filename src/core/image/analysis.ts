// An analyzed image: the merged tree, per-layer statistics, waste by both definitions, and the
// layer sizes by the definition that fits the source. Everything the CLI, the tree, hovers and
// reports show comes from here.
import { EMPTY_DIVE, type DiveEfficiency } from './efficiency';
import type { LayerStats, MergedTreeLike } from './merge';
import { IndexTreeView } from './index/treeView';
import { buildImageIndex, type ImageIndex, type IndexLayer } from './index/imageIndex';
import { diveOfIndex } from './index/dive';
import { layerTableOf } from './index/layerTable';
import type { HistoryEntry, ImageData } from './types';

/** A layer's figures from the merge, without its list of changes (which point into the tree). */
export type LayerFigures = Omit<LayerStats, 'changes'>;

export interface Analysis {
  image: ImageData;
  /** The image index: the merge as columns (src/core/image/index). */
  index: ImageIndex;
  /** The merge as objects: a view of the index whose nodes become objects when reached. */
  tree: MergedTreeLike;
  dive: DiveEfficiency;
  /** Per layer, bottom first: the merge's figures (tree.layers, or a cached summary of them). */
  layerStats: LayerFigures[];
  /** What the merge found odd (also in warnings). */
  treeWarnings: string[];
  /** Per layer: the engine's history Size when the source is an engine, else tar file bytes. */
  layerSizes: number[];
  sizeDefinition: 'engine-history' | 'tar-file-bytes';
  /** History entry that created each layer. */
  layerHistory: Array<HistoryEntry | undefined>;
  hiddenBytes: number;
  totalSize: number;
  warnings: string[];
}

/**
 * The image index and everything derived from it. `dive: 'lazy'` (for callers that seldom read
 * dive's figures: the CLI's `files`, `explain`, `lines`) computes them on first access of
 * `analysis.dive` instead of up front. The object tree (`tree`) is built only if read.
 */
export function analyze(image: ImageData, opts: { dive?: 'eager' | 'lazy' } = {}): Analysis {
  const tables = image.layers.map(layerTableOf);
  const index = buildImageIndex(tables);
  const dive = opts.dive === 'lazy' ? undefined : diveOfIndex(tables, index);
  const a = figuresOf(image, index.layers.map(figuresOfLayer), index.warnings, dive ?? EMPTY_DIVE) as Analysis;
  a.index = index;
  lazyTree(a);
  if (!dive) {
    let computed: DiveEfficiency | undefined;
    Object.defineProperty(a, 'dive', { enumerable: true, get: () => (computed ??= diveOfIndex(tables, index)) });
  }
  return a;
}

/**
 * The Analysis of an image whose index was built elsewhere (the analysis worker hands it over):
 * nothing is merged again.
 */
export function analysisFromIndex(image: ImageData, index: ImageIndex, dive: DiveEfficiency | 'lazy'): Analysis {
  const a = figuresOf(image, index.layers.map(figuresOfLayer), index.warnings, dive === 'lazy' ? EMPTY_DIVE : dive) as Analysis;
  a.index = index;
  lazyTree(a);
  if (dive === 'lazy') {
    let computed: DiveEfficiency | undefined;
    Object.defineProperty(a, 'dive', { enumerable: true, get: () => (computed ??= diveOfIndex(image.layers.map(layerTableOf), index)) });
  }
  return a;
}

/** A layer's merge figures without its changes. */
function figuresOfLayer(l: IndexLayer): LayerFigures {
  const { changes: _changes, ...figures } = l;
  return figures;
}

/** Defines `tree` on the analysis: a view of its index, made on first read. */
function lazyTree(a: Analysis): void {
  let tree: IndexTreeView | undefined;
  Object.defineProperty(a, 'tree', {
    enumerable: true,
    configurable: true,
    get: (): MergedTreeLike => (tree ??= new IndexTreeView(a.index)),
  });
}

/** Defines `index` on the analysis: the image index of its layers (`make`, or merged), on first read. */
function lazyIndex(a: Analysis, image: ImageData, make?: () => ImageIndex): void {
  let index: ImageIndex | undefined;
  Object.defineProperty(a, 'index', {
    enumerable: true,
    configurable: true,
    get: (): ImageIndex => (index ??= make ? make() : buildImageIndex(image.layers.map(layerTableOf))),
  });
}



/**
 * The Analysis of an image whose merged figures and dive's are known (a cached summary of the
 * same stack of layer records: src/core/image/summary.ts). The image index is made (`index`: from a
 * cache, say; else merged) and the tree view of it only if something reads them.
 */
export function analysisFromFigures(
  image: ImageData, figures: { layerStats: LayerFigures[]; treeWarnings: string[]; dive: DiveEfficiency }, index?: () => ImageIndex,
): Analysis {
  const a = figuresOf(image, figures.layerStats, figures.treeWarnings, figures.dive) as Analysis;
  lazyIndex(a, image, index);
  lazyTree(a);
  return a;
}


/** Everything but the tree. */
function figuresOf(image: ImageData, layerStats: LayerFigures[], treeWarnings: string[], dive: DiveEfficiency): Omit<Analysis, 'tree' | 'index'> {
  const engine = image.engineLayerSizes;
  const layerSizes = engine ?? image.layers.map((l) => l.tarFileBytes);
  const layerHistory = image.layers.map((_, i) => image.history.find((h) => h.layerIndex === i));
  return {
    image,
    dive,
    layerStats,
    treeWarnings,
    layerSizes,
    sizeDefinition: engine ? 'engine-history' : 'tar-file-bytes',
    layerHistory,
    hiddenBytes: layerStats.reduce((a, s) => a + s.hiddenBytes, 0),
    totalSize: layerSizes.reduce((a, b) => a + b, 0),
    warnings: [...image.warnings, ...image.layers.flatMap((l) => l.warnings), ...treeWarnings],
  };
}
