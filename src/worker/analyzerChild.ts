// The analysis worker thread's side of the analysis process (src/worker/analyzerProcess.ts): it
// starts the process for one analysis, reads the files the process names (each layer's record,
// partial image indexes, the image index, dive's figures) as they come, and posts them to the
// extension host as the worker thread's own analysis would (buffers transferred, not copied). The
// host's process then holds only what it receives; the analysis's peak is the analysis process's.
// The process runs with the worker thread's environment (ELECTRON_RUN_AS_NODE: under desktop VS
// Code, process.execPath is Electron's binary, which then runs as Node) and ends with its analysis.
import { fork, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, unlinkSync } from 'node:fs';
import * as os from 'node:os';
import * as nodePath from 'node:path';
import { CancelledError } from '../core/image/errors';
import type { DiveEfficiency } from '../core/image/efficiency';
import { imageIndexPartsOfRecord } from '../core/image/index/indexRecord';
import type { IndexParts } from '../core/image/index/transfer';
import type { ImageData } from '../core/image/types';
import type { AnalyzeRequest, AnalyzerRequest, FromAnalyzer, FromWorker, IndexFile } from './protocol';

export type Post = (m: FromWorker, transfer?: ArrayBuffer[]) => void;

export interface Finished {
  image: ImageData;
  keys: string[];
  /** The image index as the parts to post, and the buffers to transfer with them. */
  index: { parts: IndexParts; transfer: ArrayBuffer[] };
  dive: DiveEfficiency;
  readMs: number;
  cacheHits: number;
  peakRssKiB: number;
}

/**
 * The analysis process's script: LAYERLENS_ANALYZER when set ('off': none), else the one next to
 * this module (the bundle's dist/analyzer.js, or tsc's analyzerProcess.js). `why` says why there is
 * none.
 */
export function analyzerScript(dir: string, env: NodeJS.ProcessEnv = process.env): { file: string } | { why: string } {
  const forced = env.LAYERLENS_ANALYZER;
  if (forced !== undefined && forced !== '') {
    if (/^(off|0|false|no)$/i.test(forced)) return { why: 'LAYERLENS_ANALYZER is off' };
    return existsSync(forced) ? { file: forced } : { why: `${forced} (LAYERLENS_ANALYZER) does not exist` };
  }
  const candidates = [nodePath.join(dir, 'analyzer.js'), nodePath.join(dir, 'analyzerProcess.js')];
  const file = candidates.find((f) => existsSync(f));
  return file ? { file } : { why: `${candidates[0]} does not exist` };
}

/** A buffer's bytes in an ArrayBuffer of their own (to transfer). */
function ownBuffer(b: Buffer): ArrayBuffer {
  if (b.byteOffset === 0 && b.byteLength === b.buffer.byteLength) return b.buffer as ArrayBuffer;
  return b.buffer.slice(b.byteOffset, b.byteOffset + b.byteLength) as ArrayBuffer;
}

/** A spool file's bytes; the file goes once read (files of the cache stay). */
function take(file: string, spool: string): Buffer {
  const buf = readFileSync(file);
  if (nodePath.dirname(file) === spool) {
    try { unlinkSync(file); } catch { /* the spool goes whole at the end */ }
  }
  return buf;
}

/** An index file's record as the parts to post: checked, its columns views of the file's bytes, its names one string. */
const readIndex = (f: IndexFile, spool: string): { parts: IndexParts; transfer: ArrayBuffer[] } => imageIndexPartsOfRecord(take(f.file, spool), f.key);

/** The last lines a process wrote to stderr (at most `max` characters), to say why it ended. */
function tail(child: ChildProcess, max = 2000): () => string {
  let text = '';
  child.stderr?.setEncoding('utf8');
  child.stderr?.on('data', (s: string) => { text = (text + s).slice(-max); });
  return () => {
    // Its error lines (an uncaught error, V8's out-of-memory report) rather than a stack's frames.
    const lines = text.split('\n').map((l) => l.trim()).filter((l) => l && !/^at |^Node\.js v|^\^+$/.test(l));
    const errors = lines.filter((l) => /error|fatal|out of memory/i.test(l));
    return (errors.length > 0 ? errors : lines).slice(-2).join(' | ');
  };
}

/**
 * Runs `req` in an analysis process: plan, layers, partials and progress are posted as they come;
 * resolves with what the process finished with (the caller posts it), or 'unavailable' with the
 * reason when the process could not be started (nothing was posted: the caller analyses in its own
 * thread). Rejects with CancelledError once `signal` aborts (the process is killed), and with one
 * error when the process fails or ends without finishing.
 */
export async function analyzeInProcess(req: AnalyzeRequest, signal: AbortSignal, script: string, post: Post, nice?: number): Promise<Finished | { unavailable: string }> {
  const spool = mkdtempSync(nodePath.join(os.tmpdir(), 'layerlens-analysis-'));
  let child: ChildProcess;
  try {
    child = fork(script, [], {
      execArgv: [],
      env: { ...process.env, ELECTRON_RUN_AS_NODE: '1', ...(nice === undefined ? {} : { LAYERLENS_ANALYZER_NICE: String(nice) }) },
      stdio: ['ignore', 'ignore', 'pipe', 'ipc'],
      serialization: 'json',
    });
  } catch (e) {
    rmSync(spool, { recursive: true, force: true });
    return { unavailable: `the analysis process could not be started (${(e as Error).message})` };
  }
  const stderr = tail(child);
  let heard = false;
  let finalHeard = false;
  let settled = false;
  try {
    return await new Promise<Finished | { unavailable: string }>((resolve, reject) => {
      const finish = (f: () => void): void => {
        if (settled) return;
        settled = true;
        signal.removeEventListener('abort', onAbort);
        f();
      };
      const onAbort = (): void => {
        child.kill('SIGKILL');
      };
      signal.addEventListener('abort', onAbort, { once: true });
      if (signal.aborted) onAbort();
      child.on('error', (e) => {
        // A process that never started (spawn failed); errors of a running one end in 'close'.
        if (child.pid === undefined && !heard) finish(() => resolve({ unavailable: `the analysis process could not be started (${e.message})` }));
      });
      child.on('message', (m: FromAnalyzer) => {
        heard = true;
        if (m.type === 'done' || m.type === 'error') finalHeard = true;
        if (settled || signal.aborted) return;
        try {
          if (m.type === 'plan') post({ type: 'plan', id: req.id, image: m.image, keys: m.keys });
          else if (m.type === 'progress') post({ type: 'progress', id: req.id, bytes: m.bytes, total: m.total, layersRead: m.layersRead });
          else if (m.type === 'log') post({ type: 'log', id: req.id, line: m.line });
          else if (m.type === 'layer') {
            const record = ownBuffer(take(m.file, spool));
            post({ type: 'layer', id: req.id, key: m.key, record }, [record]);
          } else if (m.type === 'partial') {
            const { parts, transfer } = readIndex(m, spool);
            post({ type: 'partial', id: req.id, layers: m.layers, index: parts }, transfer);
          } else if (m.type === 'done') {
            const index = readIndex(m.index, spool);
            const dive = JSON.parse(take(m.diveFile, spool).toString('utf8')) as DiveEfficiency;
            finish(() => resolve({ image: m.image, keys: m.keys, index, dive, readMs: m.readMs, cacheHits: m.cacheHits, peakRssKiB: m.peakRssKiB }));
          } else if (m.type === 'error') {
            const e = new Error(m.message) as Error & { code?: string };
            e.name = m.name;
            if (m.code !== undefined) e.code = m.code;
            finish(() => reject(e));
          }
        } catch (e) {
          child.kill('SIGKILL');
          finish(() => reject(new Error(`the analysis process's results could not be read: ${(e as Error).message}`)));
        }
      });
      if (child.pid !== undefined) child.send({ type: 'analyze', request: req, spool } satisfies AnalyzerRequest);
      child.on('close', (code, sig) => {
        if (signal.aborted) return finish(() => reject(new CancelledError()));
        // A script that does not load (a broken install) ends before it says anything: the caller analyses in its thread.
        if (!heard && sig === null && code !== 0) return finish(() => resolve({ unavailable: `the analysis process exited (code ${code}) before it started: ${stderr() || 'no message'}` }));
        const how = sig ? `was killed (${sig}${sig === 'SIGKILL' ? ': out of memory, or stopped by another program' : ''})` : `exited (code ${code})`;
        const why = stderr();
        finish(() => reject(new Error(`the analysis process ${how} before it finished${why ? `: ${why}` : ''}`)));
      });
    });
  } finally {
    // The process ends by itself once its last message is out (or is being killed). After its
    // last message (done or its error) it writes nothing more: the spool goes at once.
    if (child.exitCode === null && child.signalCode === null && !finalHeard) {
      // The spool goes once the process that writes into it has ended.
      child.once('close', () => rmSync(spool, { recursive: true, force: true }));
    } else rmSync(spool, { recursive: true, force: true });
  }
}
