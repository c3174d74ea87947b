// The analysis worker thread (bundled as dist/worker.js): runs each analysis in an analysis process
// of its own (src/worker/analyzerChild.ts, dist/analyzer.js), or here when that process cannot be
// started, and posts what it gives to the extension host: each layer's index as soon as it is read,
// partial image indexes, the image index and dive's figures (buffers transferred, not copied): the
// caller's thread merges nothing (src/worker/client.ts). Nothing here ever blocks the extension
// host: parsing, hashing, decompression, the merge and cache I/O run here or in the process.
import * as os from 'node:os';
import { parentPort } from 'node:worker_threads';
import { indexParts } from '../core/image/index/transfer';
import { transferableIndex } from '../core/image/indexCodec';
import { errorMessage, runAnalysis } from './analysisJob';
import { analyzeInProcess, analyzerScript, type Finished } from './analyzerChild';
import type { AnalyzeRequest, DoneMessage, FromWorker, ToWorker } from './protocol';

const port = parentPort;
// Linux keeps a nice value per thread: lower this one's, so that when the cores are busy (this
// thread, the analysis process, the engine, the blob workers) the scheduler prefers the extension's
// thread. Elsewhere setpriority would lower the whole process, the extension host included: left
// alone there. The analysis process runs at the lowered value everywhere (it is a process of its own).
let analyzerNice: number | undefined;
if (process.env.LAYERLENS_WORKER_NICE !== '0') {
  try {
    analyzerNice = Math.min(19, os.getPriority(0) + 5);
    if (process.platform === 'linux') os.setPriority(0, analyzerNice);
  } catch {
    // Not permitted (some sandboxes): the worker runs at the host's priority.
  }
}
const jobs = new Map<number, AbortController>();

function post(m: FromWorker, transfer: ArrayBuffer[] = []): void {
  port?.postMessage(m, transfer);
}

/** The finished analysis to the host: the index's columns transferred, dive's paths packed. */
function postDone(id: number, r: Finished | (Omit<Finished, 'peakRssKiB'> & { peakRssKiB?: undefined })): void {
  // A long list of paths clones slowly on the receiving thread: pack it into one string and two
  // typed arrays (NUL never appears in a tar name; the client checks the count anyway).
  const dive = r.dive;
  const packable = !dive.inefficiencies.some((x) => x.path.includes('\0'));
  const ineff = packable ? dive.inefficiencies : [];
  const ineffCumulative = Float64Array.from(ineff, (x) => x.cumulative);
  const ineffCount = Uint32Array.from(ineff, (x) => x.count);
  const { parts, transfer } = r.index;
  const analyzer: DoneMessage['analyzer'] = r.peakRssKiB === undefined ? { kind: 'thread' } : { kind: 'process', peakRssKiB: r.peakRssKiB };
  post({
    type: 'done', id, image: { ...r.image, layers: [] }, keys: r.keys, dive: packable ? { ...dive, inefficiencies: [] } : dive,
    ineffPaths: ineff.map((x) => x.path).join('\0'), ineffCumulative, ineffCount, index: parts,
    readMs: r.readMs, cacheHits: r.cacheHits, analyzer,
  }, [ineffCumulative.buffer as ArrayBuffer, ineffCount.buffer as ArrayBuffer, ...transfer]);
}

/** The analysis in this thread. */
async function runHere(req: AnalyzeRequest, signal: AbortSignal): Promise<void> {
  const r = await runAnalysis(req, signal, {
    plan: (image, keys) => post({ type: 'plan', id: req.id, image, keys }),
    layer: (key, layer) => {
      // A record (a table's columns in one buffer of their own: encodeIndex) is transferred, not copied.
      const ab = transferableIndex(layer);
      post({ type: 'layer', id: req.id, key, record: ab }, [ab]);
    },
    partial: (layers, index) => {
      const { parts, transfer } = indexParts(index);
      post({ type: 'partial', id: req.id, layers, index: parts }, transfer);
    },
    progress: (bytes, total, layersRead) => post({ type: 'progress', id: req.id, bytes, total, layersRead }),
  }, (line) => post({ type: 'log', id: req.id, line }));
  postDone(req.id, { ...r, index: indexParts(r.index), peakRssKiB: undefined });
}

async function run(req: AnalyzeRequest): Promise<void> {
  const ac = new AbortController();
  jobs.set(req.id, ac);
  try {
    const script = analyzerScript(__dirname);
    const r = 'file' in script ? await analyzeInProcess(req, ac.signal, script.file, post, analyzerNice) : { unavailable: script.why };
    if ('unavailable' in r) {
      post({ type: 'log', id: req.id, line: `analysing in the worker thread: ${r.unavailable}` });
      await runHere(req, ac.signal);
    } else postDone(req.id, r);
  } catch (e) {
    post(errorMessage(req.id, e, ac.signal.aborted));
  } finally {
    jobs.delete(req.id);
  }
}

port?.on('message', (m: ToWorker) => {
  if (m.type === 'cancel') jobs.get(m.id)?.abort();
  else if (m.type === 'analyze') void run(m);
});
