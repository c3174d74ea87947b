// The full read → analyze path the CLI and the extension run on an image archive, as one function
// the hostile-input tests and the fuzzer share: readArchiveStream (outer tar, optional gzip/zstd), every
// layer through indexLayer, assembleArchive (docker-save manifest or OCI index), analyze (merged
// tree, dive efficiency), the CLI's reports, the Layers-view tree model and the per-layer explain.
// Bounded: tree walks and per-layer work stop after a fixed number of rows so a case costs at most
// a few hundred milliseconds beyond reading.
import { analyze, type Analysis } from '../../src/core/image/analysis';
import { assembleArchive } from '../../src/core/image/tar/archive';
import { readArchiveStream } from '../../src/core/image/tar/archiveStream';
import { CancelledError, ImageFormatError } from '../../src/core/image/errors';
import { explainLayer, explainText } from '../../src/core/present/explain';
import type { ByteSource } from '../../src/core/image/tar/decompress';
import { analyzeJson, analyzeText, fileLine, fileRecords, layerChangeRecords } from '../../src/core/present/report';
import { TreeModel, type TreeEl } from '../../src/core/present/treeModel';

export interface PipelineResult {
  analysis: Analysis;
  /** Lines of `files` output produced (bounded by maxRows). */
  fileLines: number;
  /** Tree rows rendered (bounded by maxRows). */
  treeRows: number;
}

export interface PipelineOptions {
  signal?: AbortSignal;
  /** Stop each walk after this many rows (default 5000). */
  maxRows?: number;
  /** Explain at most this many layers (default 8). */
  maxExplain?: number;
}

/** Reads and analyzes an archive exactly as `layerlens analyze/files/explain` and the views would. */
export async function runPipeline(source: ByteSource, opts: PipelineOptions = {}): Promise<PipelineResult> {
  const maxRows = opts.maxRows ?? 5000;
  const contents = await readArchiveStream(source, { signal: opts.signal });
  const image = await assembleArchive(contents, { kind: 'docker-archive', ref: 'fuzz' });
  const analysis = analyze(image);
  JSON.stringify(analyzeJson(analysis));
  analyzeText(analysis, 100);
  let fileLines = 0;
  for (const r of fileRecords(analysis)) {
    fileLine(r);
    JSON.stringify(r);
    if (++fileLines >= maxRows) break;
  }
  const layers = analysis.tree.layers.length;
  for (let l = 0; l < layers; l++) {
    let n = 0;
    for (const r of layerChangeRecords(analysis, l)) { JSON.stringify(r); if (++n >= maxRows) break; }
  }
  for (let l = 0; l < Math.min(layers, opts.maxExplain ?? 8); l++) {
    explainLayer(analysis, l);
    explainText(analysis, l);
  }
  // The Layers view: layer rows, then the merged filesystem and each layer's changes, breadth-first.
  const model = new TreeModel(analysis);
  let treeRows = 0;
  const walk = (roots: TreeEl[], mode: { layer?: number; wasteOnly: boolean }): void => {
    const queue = [...roots];
    for (let head = 0; head < queue.length && treeRows < maxRows; head++) {
      const el = queue[head];
      const row = model.row(el, mode);
      row.tooltip();
      treeRows++;
      if (row.collapsible !== 'none') for (const c of model.children(el, mode)) queue.push(c);
    }
  };
  walk(model.layerRoots(), { wasteOnly: false });
  walk(model.fileRoots({ wasteOnly: false }), { wasteOnly: false });
  walk(model.fileRoots({ wasteOnly: true }), { wasteOnly: true });
  for (let l = 0; l < Math.min(layers, 4); l++) walk(model.fileRoots({ layer: l, wasteOnly: false }), { layer: l, wasteOnly: false });
  for (const _ of model.paths()) { if (++treeRows >= 2 * maxRows) break; }
  return { analysis, fileLines, treeRows };
}

/** What the product promises for bad input: a typed error, or a result. Anything else is a crash. */
export function isExpectedError(e: unknown): boolean {
  return e instanceof ImageFormatError || e instanceof CancelledError;
}
