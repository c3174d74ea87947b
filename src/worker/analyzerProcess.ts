// The analysis process (bundled as dist/analyzer.js): the analysis worker thread starts one per
// analysis (src/worker/analyzerChild.ts), so that what an analysis needs at its peak (the layer
// tables, the merge, dive's walk, the reader's buffers) is this process's memory, returned to the
// system when it exits, and never the extension host's. It runs the analysis the worker thread
// would run (src/worker/analysisJob.ts) and writes what it hands on to files: each layer's record
// and each partial image index into the spool directory the worker thread made, the image index
// and the summary into the cache (or the spool when there is none), and tells the worker thread
// over IPC which file holds what. Nothing big travels over the IPC channel.
import { randomBytes } from 'node:crypto';
import { closeSync, existsSync, openSync, readFileSync, rmSync, writeFileSync, writeSync } from 'node:fs';
import * as os from 'node:os';
import * as nodePath from 'node:path';
import { imageIndexRecordParts } from '../core/image/index/indexRecord';
import type { ImageIndex } from '../core/image/index/imageIndex';
import { transferableIndex } from '../core/image/indexCodec';
import { LayerIndexCache } from '../sources/indexCache';
import { errorMessage, runAnalysis } from './analysisJob';
import type { AnalyzerRequest, FromAnalyzer, IndexFile } from './protocol';

// The worker thread names the nice value this process runs at (the extension host's, plus 5): on
// Linux the process starts with the worker thread's own, elsewhere it is lowered here, the whole
// process being the analysis's.
const nice = Number(process.env.LAYERLENS_ANALYZER_NICE);
if (Number.isInteger(nice)) {
  try {
    if (os.getPriority(0) < nice) os.setPriority(0, Math.min(19, nice));
  } catch {
    // Not permitted (some sandboxes): the analysis runs at the priority it started with.
  }
}

function send(m: FromAnalyzer): void {
  process.send?.(m);
}

/** Sends the last message, then ends the process once it is written (its memory goes back to the system). */
function sendLast(m: FromAnalyzer): void {
  if (!process.send) process.exit(0);
  process.send(m, undefined, undefined, () => process.exit(0));
}

/**
 * This process's peak resident memory (KiB). On Linux from /proc (VmHWM): getrusage's maxRSS of a
 * started process counts the memory of the process it was forked from (the extension host).
 */
function peakRssKiB(): number {
  try {
    const m = /^VmHWM:\s+(\d+) kB$/m.exec(readFileSync('/proc/self/status', 'utf8'));
    if (m) return Number(m[1]);
  } catch {
    // not Linux
  }
  return process.resourceUsage().maxRSS;
}

function writeParts(file: string, parts: readonly Uint8Array[]): void {
  const fd = openSync(file, 'wx', 0o600);
  try {
    for (const p of parts) for (let at = 0; at < p.length;) at += writeSync(fd, p, at);
  } finally {
    closeSync(fd);
  }
}

async function analyze(m: AnalyzerRequest): Promise<void> {
  const { request: req, spool } = m;
  let n = 0;
  const spoolFile = (ext: string): string => nodePath.join(spool, `${n++}${ext}`);
  /** Writes an image index record to the spool, for a key of its own (no stack key is needed to read it back). */
  const spoolIndex = (ix: ImageIndex, key = randomBytes(32).toString('hex')): IndexFile => {
    const file = spoolFile('.llii');
    writeParts(file, imageIndexRecordParts(ix, key));
    return { file, key };
  };
  const r = await runAnalysis(req, new AbortController().signal, {
    plan: (image, keys) => send({ type: 'plan', image, keys }),
    layer: (key, layer) => {
      const file = spoolFile('.llix');
      writeFileSync(file, new Uint8Array(transferableIndex(layer)), { mode: 0o600, flag: 'wx' });
      send({ type: 'layer', key, file });
    },
    partial: (layers, index) => send({ type: 'partial', layers, ...spoolIndex(index) }),
    progress: (bytes, total, layersRead) => send({ type: 'progress', bytes, total, layersRead }),
  }, (line) => send({ type: 'log', line }));
  // The cache's own record of the image index when it holds one (stored or read by this analysis),
  // else a spool copy.
  const cached = r.indexKey && req.cacheDir ? nodePath.join(new LayerIndexCache(req.cacheDir).imageIndexDir, `${r.indexKey}.llii`) : undefined;
  const index = cached && r.indexKey && existsSync(cached) ? { file: cached, key: r.indexKey } : spoolIndex(r.index);
  const diveFile = spoolFile('.json');
  writeFileSync(diveFile, JSON.stringify(r.dive), { mode: 0o600, flag: 'wx' });
  sendLast({
    type: 'done', image: { ...r.image, layers: [] }, keys: r.keys, index, diveFile, readMs: r.readMs, cacheHits: r.cacheHits,
    peakRssKiB: peakRssKiB(),
  });
}

process.once('message', (m: AnalyzerRequest) => {
  // The worker thread gone (the extension host closing, the client disposed): nobody will read
  // what this analysis writes; its spool goes and the process ends.
  process.once('disconnect', () => {
    rmSync(m.spool, { recursive: true, force: true });
    process.exit(0);
  });
  analyze(m).catch((e: unknown) => {
    const { name, message, code } = errorMessage(0, e, false);
    sendLast({ type: 'error', name, message, code });
  });
});
