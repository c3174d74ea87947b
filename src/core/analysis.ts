// An analysed image: the merged tree, per-layer statistics, waste by both definitions, and the
// layer sizes by the definition that fits the source. Everything the CLI, the tree, hovers and
// reports show comes from here.
import { EMPTY_DIVE, diveEfficiency, type DiveEfficiency } from './efficiency';
import { MergedTree } from './merge';
import type { HistoryEntry, ImageData } from './types';

export interface Analysis {
  image: ImageData;
  tree: MergedTree;
  dive: DiveEfficiency;
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
  // dive's figures first: their working set (a second path tree) is garbage before the merged
  // tree is built, so peak memory is the larger of the two, not their sum.
  const dive = opts.dive === 'lazy' ? undefined : diveEfficiency(image.layers);
  const tree = new MergedTree();
  for (const l of image.layers) tree.addLayer(l);
  const { warnings } = tree.finish();
  if (dive) return analysisOf(image, tree, warnings, dive);
  const a = analysisOf(image, tree, warnings, EMPTY_DIVE);
  let computed: DiveEfficiency | undefined;
  Object.defineProperty(a, 'dive', { enumerable: true, get: () => (computed ??= diveEfficiency(image.layers)) });
  return a;
}

/**
 * The Analysis from parts computed elsewhere (the extension merges in slices on its own thread
 * and gets dive's figures from the analysis worker). `tree` holds image.layers, bottom first.
 */
export function analysisOf(image: ImageData, tree: MergedTree, treeWarnings: string[], dive: DiveEfficiency): Analysis {
  const warnings = treeWarnings;
  const engine = image.engineLayerSizes;
  const layerSizes = engine ?? image.layers.map((l) => l.tarFileBytes);
  const layerHistory = image.layers.map((_, i) => image.history.find((h) => h.layerIndex === i));
  return {
    image,
    tree,
    dive,
    layerSizes,
    sizeDefinition: engine ? 'engine-history' : 'tar-file-bytes',
    layerHistory,
    hiddenBytes: tree.hiddenBytes,
    totalSize: layerSizes.reduce((a, b) => a + b, 0),
    warnings: [...image.warnings, ...image.layers.flatMap((l) => l.warnings), ...warnings],
  };
}
