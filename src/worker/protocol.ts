// Messages between the extension host (src/worker/client.ts) and the analysis worker thread
// (src/worker/analysisWorker.ts, bundled as dist/worker.js). Everything here is structured-clone
// data; layer indexes travel as index records (src/core/image/indexCodec.ts) and the image index
// as its columns (src/core/image/index/transfer.ts), in transferred buffers.
import type { DiveEfficiency } from '../core/image/efficiency';
import type { IndexParts } from '../core/image/index/transfer';
import type { PlatformWanted } from '../core/image/oci';
import type { ImageData } from '../core/image/types';
import type { EngineEndpoint } from '../engine/types';
import type { RegistryOptions } from '../sources/registry/transport';

export interface AnalyzeRequest {
  type: 'analyze';
  id: number;
  /** A source string as loadImage's parseSource reads it. */
  source: string;
  /** The engine to use for engine sources (resolved on the extension side). */
  endpoint?: EngineEndpoint;
  /** The persistent layer index cache's directory; none: no cache. */
  cacheDir?: string;
  platform?: PlatformWanted;
  /** How registry sources are reached (insecure hosts). */
  registry?: RegistryOptions;
  /** Send the index of the layers read so far, bottom first, at most this often (ms); none: never. */
  partialEveryMs?: number;
}

export interface CancelRequest {
  type: 'cancel';
  id: number;
}

export type ToWorker = AnalyzeRequest | CancelRequest;

/** The image without layers, and the key each layer (bottom first) arrives under. */
export interface PlanMessage {
  type: 'plan';
  id: number;
  image: ImageData;
  keys: string[];
}

export interface LayerMessage {
  type: 'layer';
  id: number;
  key: string;
  /** The layer's record (encodeIndex: its table's columns) in its own ArrayBuffer, transferred. */
  record: ArrayBuffer;
}

/** The image index of the bottom `layers` layers (their records went out before), transferred. */
export interface PartialMessage {
  type: 'partial';
  id: number;
  layers: number;
  index: IndexParts;
}

export interface ProgressMessage {
  type: 'progress';
  id: number;
  bytes: number;
  total?: number;
  layersRead: number;
}

export interface DoneMessage {
  type: 'done';
  id: number;
  image: ImageData;
  keys: string[];
  /** dive's figures without `inefficiencies` (they travel packed below: one string, two arrays). */
  dive: DiveEfficiency;
  ineffPaths: string;
  ineffCumulative: Float64Array;
  ineffCount: Uint32Array;
  /** The image index of every layer, transferred. */
  index: IndexParts;
  /** Milliseconds spent reading in the worker, and layers taken from the cache. */
  readMs: number;
  cacheHits: number;
}

export interface ErrorMessage {
  type: 'error';
  id: number;
  name: string;
  message: string;
  code?: string;
}

export type FromWorker = PlanMessage | LayerMessage | PartialMessage | ProgressMessage | DoneMessage | ErrorMessage;
