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
  /**
   * No partial index once this share of the source's bytes is read (default 0.8; 1: never
   * skipped): the rest comes soon, and a partial of nearly every layer would cost a merge of
   * them and, until the final index replaces it, its memory twice over.
   */
  partialUntil?: number;
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
  /** Where the image was read and merged: the analysis process, with its peak resident memory (KiB), or the worker thread. */
  analyzer: { kind: 'process'; peakRssKiB: number } | { kind: 'thread' };
}

export interface ErrorMessage {
  type: 'error';
  id: number;
  name: string;
  message: string;
  code?: string;
}

/** A line for the extension's log (how the analysis runs, when that is worth knowing). */
export interface LogMessage {
  type: 'log';
  id: number;
  line: string;
}

export type FromWorker = PlanMessage | LayerMessage | PartialMessage | ProgressMessage | DoneMessage | ErrorMessage | LogMessage;

// Between the analysis worker thread and the analysis process it starts (src/worker/analyzerProcess.ts,
// bundled as dist/analyzer.js) over the process's IPC channel: small messages only. What is big (a
// layer's record, an image index, dive's figures) is written to a file of the spool directory (or
// the cache) and named here; the worker thread reads it from there.

/** The one analysis a process runs; its files go to `spool` (a private directory the worker thread made). */
export interface AnalyzerRequest {
  type: 'analyze';
  request: AnalyzeRequest;
  spool: string;
}

/** An image index record (src/core/image/index/indexRecord.ts) made for `key`, in `file`. */
export interface IndexFile {
  file: string;
  key: string;
}

export interface AnalyzerLayer {
  type: 'layer';
  key: string;
  /** The layer's record (transferableIndex's bytes). */
  file: string;
}

export interface AnalyzerPartial extends IndexFile {
  type: 'partial';
  layers: number;
}

export interface AnalyzerDone {
  type: 'done';
  image: ImageData;
  keys: string[];
  /** The image index: a file of the spool, or the cache's own record of it. */
  index: IndexFile;
  /** dive's figures as JSON. */
  diveFile: string;
  readMs: number;
  cacheHits: number;
  /** The process's peak resident memory (KiB). */
  peakRssKiB: number;
}

export type FromAnalyzer =
  | Omit<PlanMessage, 'id'> | AnalyzerLayer | AnalyzerPartial | Omit<ProgressMessage, 'id'> | AnalyzerDone
  | Omit<ErrorMessage, 'id'> | Omit<LogMessage, 'id'>;
