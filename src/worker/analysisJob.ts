// One analysis as the analysis worker thread and the analysis process both run it: read the image
// with the persistent layer cache, hand each layer's index on as soon as it is read, merge the
// bottom layers read so far into partial indexes, then merge every layer into the image index and
// compute dive's figures (or take both from the cache when it holds them for this stack of layer
// records, and store them for the next analysis when it does not). What becomes of each result
// (posted to a thread, written to a file) is the caller's: the sink below.
import { analysisFromIndex } from '../core/image/analysis';
import type { DiveEfficiency } from '../core/image/efficiency';
import { buildImageIndex, type ImageIndex } from '../core/image/index/imageIndex';
import { diveOfIndex } from '../core/image/index/dive';
import { LayerTable, layerTableOf } from '../core/image/index/layerTable';
import { ImageFormatError } from '../core/image/errors';
import { summarize } from '../core/image/summary';
import type { ImageData, LayerIndex } from '../core/image/types';
import { resolveEndpointFromProcess } from '../engine/endpoint';
import { EngineError } from '../engine/types';
import { stackKey } from '../sources/analysisCache';
import { LayerIndexCache } from '../sources/indexCache';
import { loadImage, parseSource } from '../sources/load';
import type { AnalyzeRequest, ErrorMessage } from './protocol';

export interface AnalysisSink {
  /** The image without its layers, and the key each layer (bottom first) arrives under. */
  plan(image: ImageData, keys: string[]): void;
  /** A layer's index, as soon as it is read. */
  layer(key: string, layer: LayerIndex): void;
  /** The image index of the bottom `layers` layers (all of them went to layer() before). */
  partial(layers: number, index: ImageIndex): void;
  progress(bytes: number, total: number | undefined, layersRead: number): void;
}

export interface AnalysisResult {
  /** The image with its layers. */
  image: ImageData;
  /** The key of each layer, bottom first (layers the source shares or copied get a `#n` key, after layer()). */
  keys: string[];
  index: ImageIndex;
  dive: DiveEfficiency;
  /** The stack key the cache holds this image index under (stored or read), when there is a cache. */
  indexKey?: string;
  readMs: number;
  cacheHits: number;
}

/** Runs one analysis, handing its pieces to `sink` as they come. Throws what the read throws. */
export async function runAnalysis(req: AnalyzeRequest, signal: AbortSignal, sink: AnalysisSink, log?: (line: string) => void): Promise<AnalysisResult> {
  const t0 = Date.now();
  const spec = await parseSource(req.source);
  const cache = req.cacheDir ? new LayerIndexCache(req.cacheDir, { log }) : undefined;
  const keyOf = new Map<LayerIndex, string>();
  let extra = 0;
  const send = (key: string, layer: LayerIndex): string => {
    keyOf.set(layer, key);
    sink.layer(key, layer);
    return key;
  };
  let layersRead = 0;
  let lastProgress = 0;
  // Partial indexes: the bottom layers read so far, merged, at most every partialEveryMs.
  let stackKeys: string[] | undefined;
  const byKey = new Map<string, LayerIndex>();
  const tableOf = new Map<LayerIndex, LayerTable>();
  const table = (l: LayerIndex): LayerTable => {
    let t = tableOf.get(l);
    if (!t) tableOf.set(l, (t = layerTableOf(l)));
    return t;
  };
  let partialLayers = 0;
  let lastPartial = 0;
  // The source's bytes read so far, of its total (when known).
  let readBytes = 0;
  let totalBytes: number | undefined;
  const partialUntil = req.partialUntil ?? 0.8;
  const maybePartial = (): void => {
    if (req.partialEveryMs === undefined || !stackKeys) return;
    if (totalBytes !== undefined && totalBytes > 0 && readBytes >= partialUntil * totalBytes) return;
    let k = 0;
    while (k < stackKeys.length && byKey.has(stackKeys[k])) k++;
    if (k <= partialLayers || k >= stackKeys.length || Date.now() - lastPartial < req.partialEveryMs) return;
    sink.partial(k, buildImageIndex(stackKeys.slice(0, k).map((key) => table(byKey.get(key)!))));
    partialLayers = k;
    lastPartial = Date.now();
  };
  const image = await loadImage(spec, {
    signal,
    platform: req.platform,
    registry: req.registry,
    cache,
    // The engine client (dockerode: dist/vendor/) is loaded only when an engine source needs it.
    engine: async () => (await import('../engine/docker')).createEngineClient(req.endpoint ?? resolveEndpointFromProcess({})),
    onPlan: (plan) => {
      sink.plan(plan.image, plan.paths);
      stackKeys = plan.paths;
      maybePartial();
    },
    onLayer: (path, layer) => {
      layersRead++;
      send(path, layer);
      byKey.set(path, layer);
      maybePartial();
    },
    onProgress: (bytes, total) => {
      readBytes = bytes;
      totalBytes = total;
      const now = Date.now();
      if (now - lastProgress < 100) return;
      lastProgress = now;
      sink.progress(bytes, total, layersRead);
    },
  });
  // Layers the source shares or copied (another diffID for the same blob) go out under a new key.
  const keys = image.layers.map((l) => keyOf.get(l) ?? send(`#${extra++}`, l));
  // The image index and dive's figures: from the cache when it holds them for this stack of layer
  // records (an index as views over its file, the figures from the analysis summary), else
  // merged and computed here, and stored for the next analysis.
  const tables = image.layers.map(table);
  const key = cache && image.layers.length > 0 ? stackKey(image, cache) : undefined;
  let index = key ? cache!.getIndex(key) : undefined;
  if (!index) {
    index = buildImageIndex(tables);
    if (key) cache!.putIndex(key, index);
  }
  const summary = key ? cache!.getSummary(key, image.layers.length) : undefined;
  const dive = summary?.dive ?? diveOfIndex(tables, index);
  if (key && !summary) cache!.putSummary(key, summarize(analysisFromIndex(image, index, dive)));
  tableOf.clear();
  byKey.clear();
  return { image, keys, index, dive, indexKey: key, readMs: Date.now() - t0, cacheHits: cache?.stats.hits ?? 0 };
}

/** An analysis's failure as a message (its type and code survive the trip). */
export function errorMessage(id: number, e: unknown, cancelled: boolean): ErrorMessage {
  const err = e as Error & { code?: string };
  // The code of an error of these types, also when it comes from the analysis process (by name).
  const typed = e instanceof ImageFormatError || e instanceof EngineError || err?.name === 'ImageFormatError' || err?.name === 'EngineError';
  const code = typed && err.code !== undefined ? String(err.code) : undefined;
  return { type: 'error', id, name: cancelled ? 'CancelledError' : (err?.name ?? 'Error'), message: err?.message ?? String(e), code };
}
