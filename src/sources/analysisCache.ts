// Analysis with the cache's summaries (src/core/image/summary.ts) and image indexes
// (src/core/image/index/indexRecord.ts): an image whose every layer index is a cache record (read
// from the cache, or written to it by this analysis) is keyed by the stack of record digests; a
// stored summary for that key stands for the merge's figures and dive's, and a stored image index
// for the merge itself, loaded only if something reads it. Otherwise the image is analyzed and the
// summary (and, when asked, the index) stored for next time.
import { readFileSync, readdirSync, type Dirent } from 'node:fs';
import * as nodePath from 'node:path';
import { createHash } from 'node:crypto';
import { analysisFromFigures, analysisFromIndex, analyze, type Analysis } from '../core/image/analysis';
import { buildImageIndex, type ImageIndex } from '../core/image/index/imageIndex';
import { layerTableOf } from '../core/image/index/layerTable';
import { summarize, summaryKey } from '../core/image/summary';
import type { ImageData } from '../core/image/types';
import type { LayerIndexCache } from './indexCache';

// Set by the bundler (scripts/build.mjs): the sha256 of src/core and the package version.
declare const LAYERLENS_BUILD: string | undefined;

let unbundledBuild: string | undefined;

/**
 * What names this build of the analysis code. Bundled: set at build time. Unbundled (tsc's out/,
 * the tests): the sha256 of the compiled core modules (src/core and its folders, by relative path), so that a summary made by
 * other code is never read.
 */
export function buildId(): string {
  if (typeof LAYERLENS_BUILD === 'string') return LAYERLENS_BUILD;
  if (unbundledBuild === undefined) {
    const dir = nodePath.join(__dirname, '..', 'core');
    const h = createHash('sha256');
    for (const f of filesBelow(dir).filter((n) => n.endsWith('.js'))) h.update(f).update(readFileSync(nodePath.join(dir, f)));
    unbundledBuild = 'dev-' + h.digest('hex');
  }
  return unbundledBuild;
}

/** Every file below dir, recursively, as sorted '/'-separated paths relative to it. */
export function filesBelow(dir: string): string[] {
  return (readdirSync(dir, { recursive: true, withFileTypes: true }) as Dirent[])
    .filter((e) => e.isFile())
    .map((e) => nodePath.relative(dir, nodePath.join(e.parentPath ?? e.path, e.name)).split(nodePath.sep).join('/'))
    .sort();
}

/** The stack key of an image, if every layer index is a record the cache holds as it is. */
export function stackKey(image: ImageData, cache: LayerIndexCache): string | undefined {
  const records: string[] = [];
  for (const l of image.layers) {
    const d = cache.recordDigestOf(l);
    if (d === undefined) return undefined;
    records.push(d);
  }
  return summaryKey(records, buildId());
}

/**
 * analyze(), with the cache's summary and image index when it has them for this stack of layers
 * (counted in cache.stats.summaries and .indexes). Stores a summary when it had none, unless dive's
 * figures are lazy (they may never be computed); `index: 'keep'` (commands that read the merged
 * tree) stores the image index too.
 */
export function analyzeWithCache(image: ImageData, cache: LayerIndexCache | undefined, opts: { dive?: 'eager' | 'lazy'; index?: 'keep' } = {}): Analysis {
  const key = cache && image.layers.length > 0 ? stackKey(image, cache) : undefined;
  if (!cache || !key) return analyze(image, opts);
  const stored = (): ImageIndex | undefined => {
    const ix = cache.getIndex(key);
    if (ix) cache.stats.indexes++;
    return ix;
  };
  const s = cache.getSummary(key, image.layers.length);
  if (s) {
    cache.stats.summaries++;
    return analysisFromFigures(image, s, () => {
      const ix = stored();
      if (ix) return ix;
      const built = buildImageIndex(image.layers.map(layerTableOf));
      if (opts.index === 'keep') cache.putIndex(key, built);
      return built;
    });
  }
  const ix = stored();
  if (ix) {
    const a = analysisFromIndex(image, ix, 'lazy');
    if (opts.dive !== 'lazy') {
      void a.dive;
      cache.putSummary(key, summarize(a));
    }
    return a;
  }
  const a = analyze(image, opts);
  if (opts.dive !== 'lazy') cache.putSummary(key, summarize(a));
  if (opts.index === 'keep') cache.putIndex(key, a.index);
  return a;
}
