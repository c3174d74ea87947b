// The figures an analysis derives from its stack of layers — each layer's merge figures (added,
// modified, deleted, hidden bytes…), the merge's warnings and dive's figures — kept as one small
// document, so that re-analyzing a stack whose every layer index is a known cache record costs no
// merge and no dive walk. The document is keyed by the stack itself: the digests of the layer
// records in order (each record is the exact index, facts included: src/core/image/indexCodec.ts) and
// the build of this code, so a summary is never used for other layers or by other code.
// Image-level facts (id, tags, config, history, layer sizes, the image's own warnings) are not
// in it: they are read from the source every time.
import { createHash } from 'node:crypto';
import type { Analysis, LayerFigures } from './analysis';
import type { DiveEfficiency } from './efficiency';

export const SUMMARY_FORMAT = 1;

export interface AnalysisSummary {
  layerStats: LayerFigures[];
  treeWarnings: string[];
  dive: DiveEfficiency;
}

/**
 * The key of a stack of layer records (sha256 hex of each record, bottom first) for this build of
 * the code (`build` names it: any change to the analysis code must change it).
 */
export function summaryKey(recordDigests: string[], build: string): string {
  return createHash('sha256').update(JSON.stringify({ format: SUMMARY_FORMAT, build, layers: recordDigests })).digest('hex');
}

/** The summary of a finished analysis (its dive's figures are computed here if they were lazy). */
export function summarize(a: Analysis): AnalysisSummary {
  return {
    layerStats: a.layerStats.map((s) => ({
      index: s.index, entries: s.entries, added: s.added, modified: s.modified, deleted: s.deleted, addedBytes: s.addedBytes,
      modifiedBytes: s.modifiedBytes, deletedBytes: s.deletedBytes, hiddenBytes: s.hiddenBytes, fileBytes: s.fileBytes, opaqueDirs: s.opaqueDirs,
    })),
    treeWarnings: a.treeWarnings,
    dive: a.dive,
  };
}

/** The stored form: the key it was made for, then the summary. */
export function encodeSummary(key: string, s: AnalysisSummary): Buffer {
  return Buffer.from(JSON.stringify({ format: SUMMARY_FORMAT, key, ...s }));
}

const isCount = (x: unknown): x is number => typeof x === 'number' && Number.isSafeInteger(x) && x >= 0;
const isStrings = (x: unknown): x is string[] => Array.isArray(x) && x.every((s) => typeof s === 'string');
const isRatio = (x: unknown): x is number => typeof x === 'number' && Number.isFinite(x);

/**
 * Reads a stored summary for `key` and a stack of `layers` layers; throws (with the reason) on
 * anything else: another key, another format, a missing or ill-typed field, a wrong layer count.
 */
export function decodeSummary(buf: Buffer, key: string, layers: number): AnalysisSummary {
  const fail = (why: string): never => { throw new Error(`analysis summary: ${why}`); };
  let doc: Record<string, unknown>;
  try {
    doc = JSON.parse(buf.toString('utf8')) as Record<string, unknown>;
  } catch {
    return fail('not JSON');
  }
  if (!doc || typeof doc !== 'object') fail('not an object');
  if (doc.format !== SUMMARY_FORMAT) fail(`format ${String(doc.format)}, expected ${SUMMARY_FORMAT}`);
  if (doc.key !== key) fail('made for another stack of layers');
  const stats = doc.layerStats;
  if (!Array.isArray(stats) || stats.length !== layers) fail(`layer count ${Array.isArray(stats) ? stats.length : '?'}, expected ${layers}`);
  const layerStats = (stats as unknown[]).map((x, i): LayerFigures => {
    const s = x as Record<string, unknown>;
    const counts = ['entries', 'added', 'modified', 'deleted', 'addedBytes', 'modifiedBytes', 'deletedBytes', 'hiddenBytes', 'fileBytes'] as const;
    if (!s || typeof s !== 'object' || s.index !== i || counts.some((k) => !isCount(s[k])) || !isStrings(s.opaqueDirs)) fail(`layer ${i} is malformed`);
    return {
      index: i, entries: s.entries as number, added: s.added as number, modified: s.modified as number, deleted: s.deleted as number,
      addedBytes: s.addedBytes as number, modifiedBytes: s.modifiedBytes as number, deletedBytes: s.deletedBytes as number,
      hiddenBytes: s.hiddenBytes as number, fileBytes: s.fileBytes as number, opaqueDirs: s.opaqueDirs as string[],
    };
  });
  if (!isStrings(doc.treeWarnings)) fail('treeWarnings is malformed');
  const d = doc.dive as Record<string, unknown>;
  if (!d || typeof d !== 'object' || !isRatio(d.efficiency) || !isCount(d.wastedBytes) || !isRatio(d.userWastedPercent)
    || !isCount(d.sizeBytes) || !isCount(d.userSizeBytes) || !Array.isArray(d.inefficiencies)) fail('dive is malformed');
  const inefficiencies = (d.inefficiencies as unknown[]).map((x) => {
    const e = x as Record<string, unknown>;
    if (!e || typeof e.path !== 'string' || !isCount(e.cumulative) || !isCount(e.count)) fail('an inefficiency is malformed');
    return { path: e.path as string, cumulative: e.cumulative as number, count: e.count as number };
  });
  return {
    layerStats,
    treeWarnings: doc.treeWarnings as string[],
    dive: {
      efficiency: d.efficiency as number, wastedBytes: d.wastedBytes as number, userWastedPercent: d.userWastedPercent as number,
      sizeBytes: d.sizeBytes as number, userSizeBytes: d.userSizeBytes as number, inefficiencies,
    },
  };
}
