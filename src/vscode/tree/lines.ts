// The small interface through which the Dockerfile ↔ layer mapping reaches the Layers sidebar.
//
// Whoever maps an image's layers to Dockerfile lines (src/core/dockerfile/mapping.ts, wired by the CodeLens
// contribution) puts these optional members on the ShownImage it shows, or on the object
// ImageService.current returns, and fires ImageService.onDidChange when they change:
//
//   lineForLayer(layer: number): number | undefined   1-based line of the instruction that made it
//   baseLayerCount: number                             bottom layers that come from FROM
//
// The tree then labels layers "L5 · line 12 · RUN …", groups the base image's layers, adds
// "mapped" to row context values (the Go to Dockerfile Line menu), and clicking a layer row opens
// ShownImage.dockerfile at that line. Without them the tree still works, from history alone.
import type { ShownImage } from '../imageService';

export interface LayerLines {
  lineForLayer?: (layer: number) => number | undefined;
  baseLayerCount?: number;
}

export function layerLinesOf(shown: ShownImage | undefined): LayerLines {
  if (!shown) return {};
  const x = shown as ShownImage & { lineForLayer?: unknown; baseLayerCount?: unknown };
  const out: LayerLines = {};
  if (typeof x.lineForLayer === 'function') {
    const f = x.lineForLayer as (layer: number) => unknown;
    out.lineForLayer = (layer) => {
      const v = f.call(shown, layer);
      return typeof v === 'number' && Number.isInteger(v) && v > 0 ? v : undefined;
    };
  }
  if (typeof x.baseLayerCount === 'number' && x.baseLayerCount > 0) out.baseLayerCount = x.baseLayerCount;
  return out;
}
