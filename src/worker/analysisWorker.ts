// The analysis worker thread (bundled as dist/worker.js): reads images (engine, archive, layout)
// with the persistent layer cache, posts each layer's index as soon as it is read, merges the
// layers into the image index and computes dive's figures, and hands the index over (its columns
// transferred, not copied): the caller's thread merges nothing (src/worker/client.ts). Nothing here
// ever blocks the extension host: parsing, hashing, decompression, the merge and cache I/O all run
// here.
import * as os from 'node:os';
import { parentPort } from 'node:worker_threads';
import { analysisFromIndex } from '../core/image/analysis';
import { buildImageIndex } from '../core/image/index/imageIndex';
import { summarize } from '../core/image/summary';
import { diveOfIndex } from '../core/image/index/dive';
import { LayerTable, layerTableOf } from '../core/image/index/layerTable';
import { indexParts } from '../core/image/index/transfer';
import { ImageFormatError } from '../core/image/errors';
import { transferableIndex } from '../core/image/indexCodec';
import type { LayerIndex } from '../core/image/types';
import { resolveEndpointFromProcess } from '../engine/endpoint';
import { EngineError } from '../engine/types';
import { stackKey } from '../sources/analysisCache';
import { LayerIndexCache } from '../sources/indexCache';
import { loadImage, parseSource } from '../sources/load';
import type { AnalyzeRequest, FromWorker, ToWorker } from './protocol';

const port = parentPort;
// Linux keeps a nice value per thread: lower this one's, so that when the cores are busy (this
// thread, the engine, the blob workers) the scheduler prefers the extension's thread. Elsewhere
// setpriority would lower the whole process, the extension host included: left alone there.
if (process.platform === 'linux' && process.env.LAYERLENS_WORKER_NICE !== '0') {
  try {
    os.setPriority(0, Math.min(19, os.getPriority(0) + 5));
  } catch {
    // Not permitted (some sandboxes): the worker runs at the host's priority.
  }
}
const jobs = new Map<number, AbortController>();

function post(m: FromWorker, transfer: ArrayBuffer[] = []): void {
  port?.postMessage(m, transfer);
}

async function run(req: AnalyzeRequest): Promise<void> {
  const ac = new AbortController();
  jobs.set(req.id, ac);
  const t0 = Date.now();
  try {
    const spec = await parseSource(req.source);
    const cache = req.cacheDir ? new LayerIndexCache(req.cacheDir) : undefined;
    const keyOf = new Map<LayerIndex, string>();
    let extra = 0;
    const send = (key: string, layer: LayerIndex): string => {
      keyOf.set(layer, key);
      // A record (a table's columns in one buffer of their own: encodeIndex) is transferred, not copied.
      const ab = transferableIndex(layer);
      post({ type: 'layer', id: req.id, key, record: ab }, [ab]);
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
    const maybePartial = (): void => {
      if (req.partialEveryMs === undefined || !stackKeys) return;
      let k = 0;
      while (k < stackKeys.length && byKey.has(stackKeys[k])) k++;
      if (k <= partialLayers || k >= stackKeys.length || Date.now() - lastPartial < req.partialEveryMs) return;
      const { parts, transfer } = indexParts(buildImageIndex(stackKeys.slice(0, k).map((key) => table(byKey.get(key)!))));
      post({ type: 'partial', id: req.id, layers: k, index: parts }, transfer);
      partialLayers = k;
      lastPartial = Date.now();
    };
    const image = await loadImage(spec, {
      signal: ac.signal,
      platform: req.platform,
      registry: req.registry,
      cache,
      // The engine client (dockerode: dist/vendor/) is loaded only when an engine source needs it.
      engine: async () => (await import('../engine/docker')).createEngineClient(req.endpoint ?? resolveEndpointFromProcess({})),
      onPlan: (plan) => {
        post({ type: 'plan', id: req.id, image: plan.image, keys: plan.paths });
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
        const now = Date.now();
        if (now - lastProgress < 100) return;
        lastProgress = now;
        post({ type: 'progress', id: req.id, bytes, total, layersRead });
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
    // A long list of paths clones slowly on the receiving thread: pack it into one string and two
    // typed arrays (NUL never appears in a tar name; the client checks the count anyway).
    const packable = !dive.inefficiencies.some((x) => x.path.includes('\0'));
    const ineff = packable ? dive.inefficiencies : [];
    const ineffCumulative = Float64Array.from(ineff, (x) => x.cumulative);
    const ineffCount = Uint32Array.from(ineff, (x) => x.count);
    const { parts, transfer } = indexParts(index);
    post({
      type: 'done', id: req.id, image: { ...image, layers: [] }, keys, dive: packable ? { ...dive, inefficiencies: [] } : dive,
      ineffPaths: ineff.map((x) => x.path).join('\0'), ineffCumulative, ineffCount, index: parts,
      readMs: Date.now() - t0, cacheHits: cache?.stats.hits ?? 0,
    }, [ineffCumulative.buffer as ArrayBuffer, ineffCount.buffer as ArrayBuffer, ...transfer]);
  } catch (e) {
    const err = e as Error & { code?: string };
    const code = e instanceof ImageFormatError || e instanceof EngineError ? String(err.code) : undefined;
    post({ type: 'error', id: req.id, name: ac.signal.aborted ? 'CancelledError' : (err?.name ?? 'Error'), message: err?.message ?? String(e), code });
  } finally {
    jobs.delete(req.id);
  }
}

port?.on('message', (m: ToWorker) => {
  if (m.type === 'cancel') jobs.get(m.id)?.abort();
  else if (m.type === 'analyze') void run(m);
});
