// An analysed image: the merged tree, per-layer statistics, waste by both definitions, and the
// layer sizes by the definition that fits the source. Everything the CLI, the tree, hovers and
// reports show comes from here.
import { EMPTY_DIVE, diveEfficiency, type DiveEfficiency } from './efficiency';
import { RecordIndex } from './indexCodec';
import { MergedTree, type LayerStats } from './merge';
import type { HistoryEntry, ImageData, LayerIndex } from './types';

/** A layer's figures from the merge, without its list of changes (which point into the tree). */
export type LayerFigures = Omit<LayerStats, 'changes'>;

export interface Analysis {
  image: ImageData;
  tree: MergedTree;
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
 * The merged tree and everything derived from it. `dive: 'lazy'` (for callers that seldom read
 * dive's figures: the CLI's `files`, `explain`, `lines`) computes them on first access of
 * `analysis.dive` instead of up front.
 */
export function analyze(image: ImageData, opts: { dive?: 'eager' | 'lazy' } = {}): Analysis {
  plainLayers(image);
  // dive's figures first: their working set (a second path tree) is garbage before the merged
  // tree is built, so peak memory is the larger of the two, not their sum.
  const dive = opts.dive === 'lazy' ? undefined : diveEfficiency(image.layers);
  const { tree, warnings } = mergeLayers(image.layers);
  if (dive) return analysisOf(image, tree, warnings, dive);
  const a = analysisOf(image, tree, warnings, EMPTY_DIVE);
  let computed: DiveEfficiency | undefined;
  Object.defineProperty(a, 'dive', { enumerable: true, get: () => (computed ??= diveEfficiency(image.layers)) });
  return a;
}

/** The layers merged, bottom first, and finished. */
function mergeLayers(layers: LayerIndex[]): { tree: MergedTree; warnings: string[] } {
  const tree = new MergedTree();
  for (const l of layers) tree.addLayer(l);
  return { tree, warnings: tree.finish().warnings };
}

/**
 * Replaces, in place, every layer of the image that is a cache record (RecordIndex: entries
 * decoded on each read) by a plain index whose entries are decoded once, for the passes that read
 * every entry (dive's, the merge's).
 */
export function plainLayers(image: ImageData): void {
  image.layers.forEach((l, i) => {
    if (l instanceof RecordIndex) image.layers[i] = l.toPlain();
  });
}

/**
 * The Analysis of an image whose merged figures and dive's are known (a cached summary of the
 * same stack of layer records: src/core/image/summary.ts). The merged tree itself is built only if
 * something reads `tree`.
 */
export function analysisFromFigures(image: ImageData, figures: { layerStats: LayerFigures[]; treeWarnings: string[]; dive: DiveEfficiency }): Analysis {
  let tree: MergedTree | undefined;
  return Object.defineProperty(figuresOf(image, figures.layerStats, figures.treeWarnings, figures.dive), 'tree', {
    enumerable: true,
    get: (): MergedTree => {
      if (tree) return tree;
      plainLayers(image);
      return (tree = mergeLayers(image.layers).tree);
    },
  }) as Analysis;
}

/**
 * The Analysis from parts computed elsewhere (the extension merges in slices on its own thread
 * and gets dive's figures from the analysis worker). `tree` holds image.layers, bottom first.
 */
export function analysisOf(image: ImageData, tree: MergedTree, treeWarnings: string[], dive: DiveEfficiency): Analysis {
  return { ...figuresOf(image, tree.layers, treeWarnings, dive), tree };
}

/** Everything but the tree. */
function figuresOf(image: ImageData, layerStats: LayerFigures[], treeWarnings: string[], dive: DiveEfficiency): Omit<Analysis, 'tree'> {
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
