// An image's size against a baseline: the exact growth (Σ layer sizes of the image minus the
// baseline's, in one size definition), the Dockerfile lines that grew (history entries of the two
// images aligned by their text), and the largest files the grown lines' layers ship. The baseline
// is another analysis, or the figures of a saved `analyze --json` (the same shape, AnalyzeJson).
import type { Analysis } from '../image/analysis';
import { KINDS } from '../image/index/imageIndex';
import { formatBytes, parseBytes, shortCreatedBy } from './format';

export type SizeDefinition = 'engine-history' | 'tar-file-bytes';

/** What a comparison needs of the baseline. */
export interface BaselineFacts {
  /** How the user named it (a source string or the path of a saved analyze --json). */
  label: string;
  sizeDefinition: SizeDefinition;
  /** Per layer, bottom first: sizes by sizeDefinition, and regular-file tar bytes when known. */
  layerSizes: number[];
  fileBytes?: number[];
  /** Per layer: the created_by of the history entry that made it ('' when none). */
  layerCreatedBy: string[];
}

export function baselineOfAnalysis(a: Analysis, label: string): BaselineFacts {
  return {
    label,
    sizeDefinition: a.sizeDefinition,
    layerSizes: [...a.layerSizes],
    fileBytes: a.image.layers.map((l) => l.tarFileBytes),
    layerCreatedBy: a.layerHistory.map((h) => h?.createdBy ?? ''),
  };
}

const isCount = (x: unknown): x is number => typeof x === 'number' && Number.isFinite(x) && x >= 0;

/** The baseline in a saved `analyze --json` (schemaVersion 1); throws one clear message when it is not one. */
export function baselineOfAnalyzeJson(doc: unknown, label: string): BaselineFacts {
  const d = doc as { schemaVersion?: unknown; image?: { sizeDefinition?: unknown }; layers?: unknown } | null;
  if (!d || typeof d !== 'object' || d.schemaVersion === undefined || !Array.isArray(d.layers)) {
    throw new Error(`${label} is JSON but not the output of \`layerlens analyze --json\``);
  }
  if (d.schemaVersion !== 1) throw new Error(`${label} has schemaVersion ${String(d.schemaVersion)}; this layerlens reads schemaVersion 1`);
  const def = d.image?.sizeDefinition;
  if (def !== 'engine-history' && def !== 'tar-file-bytes') throw new Error(`${label}: image.sizeDefinition must be "engine-history" or "tar-file-bytes"`);
  const layers = d.layers as Array<{ size?: unknown; fileBytes?: unknown; createdBy?: unknown }>;
  const layerSizes: number[] = [];
  const fileBytes: number[] = [];
  const layerCreatedBy: string[] = [];
  layers.forEach((l, i) => {
    if (!l || !isCount(l.size)) throw new Error(`${label}: layers[${i}].size must be a number of bytes`);
    layerSizes.push(l.size);
    if (isCount(l.fileBytes)) fileBytes.push(l.fileBytes);
    layerCreatedBy.push(typeof l.createdBy === 'string' ? l.createdBy : '');
  });
  const out: BaselineFacts = { label, sizeDefinition: def, layerSizes, layerCreatedBy };
  if (fileBytes.length === layers.length) out.fileBytes = fileBytes;
  return out;
}

export type GrowthLimit = { bytes: number } | { percent: number };

/** `--highest-size-growth`: a size (`5MB`, `1234`, `2MiB`) or a percentage of the baseline (`3%`); "disabled" and the like: none. */
export function parseGrowthLimit(raw: unknown): GrowthLimit | null {
  if (raw === null || raw === undefined) return null;
  const s = String(raw).trim();
  if (['', 'disabled', 'off', 'false'].includes(s.toLowerCase())) return null;
  const pct = /^([0-9]*\.?[0-9]+)\s*%$/.exec(s);
  if (pct) return { percent: parseFloat(pct[1]) };
  try {
    return { bytes: parseBytes(s) };
  } catch {
    throw new Error(`highestSizeGrowth must be a size (e.g. 5MB, 1234) or a percentage of the baseline (e.g. 2%), got '${s}'`);
  }
}

export function formatGrowthLimit(l: GrowthLimit): string {
  return 'percent' in l ? `${l.percent} %` : formatBytes(l.bytes);
}

/** One history entry that made a layer, in either image, and what its layer weighs in each. */
export interface GrowthLine {
  /** The history entry's created_by, shortened to Dockerfile-like text. */
  line: string;
  layerIndex: number | null;
  baseLayerIndex: number | null;
  size: number;
  baseSize: number;
  growth: number;
}

export interface GrowthReport {
  baseline: string;
  sizeDefinition: SizeDefinition;
  baseSize: number;
  size: number;
  /** size − baseSize, exactly. */
  growth: number;
  /** growth / baseSize (null when the baseline is empty). */
  growthRatio: number | null;
  limit: GrowthLimit | null;
  /** The limit in bytes (a percentage taken of baseSize); null when there is none. */
  limitBytes: number | null;
  status: 'pass' | 'fail' | 'skip';
  /** Every aligned entry whose layer changed size (new and removed lines included), largest growth first. */
  lines: GrowthLine[];
  /** The largest files the layers of the lines that grew add or modify, largest first. */
  largestAdded: Array<{ path: string; bytes: number; layer: number; change: 'added' | 'modified' }>;
}

/**
 * The text a history entry is aligned by: its Dockerfile-like form, with the content hashes the
 * classic builder writes into ADD and COPY (`file:<sha>`, `dir:<sha>`, `multi:<sha>`) blanked, so
 * that a COPY whose files changed still aligns with itself.
 */
export function alignmentKey(createdBy: string): string {
  return shortCreatedBy(createdBy).replace(/\b(file|dir|multi):[0-9a-f]{64}\b/g, '$1:');
}

/** Longest common subsequence of two key lists: the matched index pairs, in order. */
function align(a: readonly string[], b: readonly string[]): Array<[number, number]> {
  const n = a.length;
  const m = b.length;
  const w = m + 1;
  const len = new Uint32Array((n + 1) * w);
  for (let i = n - 1; i >= 0; i--) {
    for (let j = m - 1; j >= 0; j--) {
      len[i * w + j] = a[i] === b[j] ? len[(i + 1) * w + j + 1] + 1 : Math.max(len[(i + 1) * w + j], len[i * w + j + 1]);
    }
  }
  const pairs: Array<[number, number]> = [];
  for (let i = 0, j = 0; i < n && j < m;) {
    if (a[i] === b[j]) { pairs.push([i, j]); i++; j++; } else if (len[(i + 1) * w + j] >= len[i * w + j + 1]) i++; else j++;
  }
  return pairs;
}

const MAX_LARGEST = 10;

/**
 * The image against its baseline. Sizes are taken in the image's own size definition when the
 * baseline has it; otherwise (an engine image against a file) both in regular-file tar bytes, which
 * every source has. Throws when the baseline has neither (an engine baseline saved as JSON by a
 * layerlens that did not record fileBytes, against a file).
 */
export function compareWithBaseline(a: Analysis, base: BaselineFacts, limit: GrowthLimit | null): GrowthReport {
  let def: SizeDefinition = a.sizeDefinition;
  let sizes = a.layerSizes;
  let baseSizes = base.layerSizes;
  if (base.sizeDefinition !== def) {
    const baseFiles = base.sizeDefinition === 'tar-file-bytes' ? base.layerSizes : base.fileBytes;
    if (!baseFiles) {
      throw new Error(`the baseline ${base.label} has the engine's layer sizes and no regular-file bytes, the image has only regular-file bytes: save the baseline's analyze --json with this layerlens, or read both from the same kind of source`);
    }
    def = 'tar-file-bytes';
    sizes = a.image.layers.map((l) => l.tarFileBytes);
    baseSizes = baseFiles;
  }
  const sum = (xs: readonly number[]): number => xs.reduce((t, x) => t + x, 0);
  const size = sum(sizes);
  const baseSize = sum(baseSizes);
  const growth = size - baseSize;

  // A layer without a history entry or with an empty created_by (an imported base) has the key ''.
  const createdBy = a.layerHistory.map((h) => h?.createdBy ?? '');
  const keys = createdBy.map(alignmentKey);
  const baseKeys = base.layerCreatedBy.map(alignmentKey);
  const shown = (c: string, i: number): string => shortCreatedBy(c) || `(layer ${i}: no created_by)`;
  const pairs = align(keys, baseKeys);
  const matchOf = new Int32Array(keys.length).fill(-1);
  const baseMatched = new Uint8Array(baseKeys.length);
  for (const [i, j] of pairs) { matchOf[i] = j; baseMatched[j] = 1; }
  const lines: GrowthLine[] = [];
  for (let i = 0; i < keys.length; i++) {
    const j = matchOf[i];
    const bs = j >= 0 ? baseSizes[j] : 0;
    if (sizes[i] !== bs || j < 0) lines.push({ line: shown(createdBy[i], i), layerIndex: i, baseLayerIndex: j >= 0 ? j : null, size: sizes[i], baseSize: bs, growth: sizes[i] - bs });
  }
  for (let j = 0; j < baseKeys.length; j++) {
    if (!baseMatched[j]) lines.push({ line: shown(base.layerCreatedBy[j], j), layerIndex: null, baseLayerIndex: j, size: 0, baseSize: baseSizes[j], growth: -baseSizes[j] });
  }
  const changed = lines.filter((l) => l.growth !== 0 || l.layerIndex === null || l.baseLayerIndex === null);
  changed.sort((x, y) => y.growth - x.growth);

  // The files the grown lines' layers ship, from the image index.
  const grownLayers = new Set(changed.filter((l) => l.growth > 0 && l.layerIndex !== null).map((l) => l.layerIndex as number));
  const found: Array<{ node: number; bytes: number; layer: number; change: 'added' | 'modified' }> = [];
  for (const li of grownLayers) {
    const c = a.index.layers[li].changes;
    for (let k = 0; k < c.length; k++) {
      const kind = KINDS[c.kind[k]];
      if (kind !== 'deleted' && c.bytes[k] > 0) found.push({ node: c.node[k], bytes: c.bytes[k], layer: li, change: kind });
    }
  }
  found.sort((x, y) => y.bytes - x.bytes || x.layer - y.layer);
  const largestAdded = found.slice(0, MAX_LARGEST).map(({ node, ...r }) => ({ path: a.index.pathOf(node), ...r }));

  const limitBytes = limit === null ? null : 'bytes' in limit ? limit.bytes : baseSize * limit.percent / 100;
  return {
    baseline: base.label,
    sizeDefinition: def,
    baseSize,
    size,
    growth,
    growthRatio: baseSize > 0 ? growth / baseSize : null,
    limit,
    limitBytes,
    status: limitBytes === null ? 'skip' : growth > limitBytes ? 'fail' : 'pass',
    lines: changed,
    largestAdded,
  };
}

/** `+12,345 B (12.3 kB)`: the exact byte count with its sign, and its short form. */
export function signedBytes(n: number): string {
  const sign = n > 0 ? '+' : n < 0 ? '−' : '±';
  return `${sign}${Math.abs(n).toLocaleString('en-US')} B${Math.abs(n) >= 1000 ? ` (${formatBytes(Math.abs(n))})` : ''}`;
}

function signedPercent(r: number | null): string {
  if (r === null) return 'n/a';
  return `${r > 0 ? '+' : r < 0 ? '−' : '±'}${Math.abs(r * 100).toFixed(2)} %`;
}

export function growthSummary(g: GrowthReport): string {
  return `${formatBytes(g.baseSize)} → ${formatBytes(g.size)}: ${signedBytes(g.growth)}, ${signedPercent(g.growthRatio)}`;
}

const DEFINITION_TEXT: Record<SizeDefinition, string> = {
  'engine-history': 'the engine\'s layer sizes',
  'tar-file-bytes': 'regular-file bytes of the layer tars',
};

/** The text form, for `ci` without --format. */
export function growthText(g: GrowthReport): string[] {
  const out: string[] = [];
  const verdict = g.status === 'skip' ? 'INFO' : g.status === 'pass' ? 'PASS' : 'FAIL';
  const lim = g.limit === null ? 'no limit' : `${g.status === 'fail' ? 'more than' : 'within'} ${formatGrowthLimit(g.limit)}${'percent' in g.limit ? ` (${Math.floor(g.limitBytes!).toLocaleString('en-US')} B)` : ''}`;
  out.push(`  ${verdict}: highestSizeGrowth: ${growthSummary(g)} against ${g.baseline} (${lim})`);
  out.push(`    sizes: ${DEFINITION_TEXT[g.sizeDefinition]}`);
  const grew = g.lines.filter((l) => l.growth > 0);
  const shrank = g.lines.filter((l) => l.growth < 0);
  if (grew.length) {
    out.push('    Lines that grew:');
    for (const l of grew) out.push(`      ${signedBytes(l.growth).padEnd(24)} ${l.baseLayerIndex === null ? '(new) ' : ''}${l.line}`);
  }
  if (shrank.length) out.push(`    Lines that shrank or went: ${shrank.length}, ${signedBytes(shrank.reduce((t, l) => t + l.growth, 0))}`);
  if (g.largestAdded.length) {
    out.push('    Largest files of the lines that grew:');
    for (const p of g.largestAdded) out.push(`      ${formatBytes(p.bytes).padStart(9)}  L${p.layer}  ${p.path}${p.change === 'modified' ? '  (modified)' : ''}`);
  }
  return out;
}

/** A Markdown table cell: one line, pipes escaped, code in a code span. */
export function mdCell(s: string, code = false): string {
  const t = s.replace(/\s+/g, ' ').replace(/\|/g, '\\|');
  if (!code) return t;
  const fence = t.includes('`') ? '``' : '`';
  return `${fence}${fence.length > 1 ? ' ' : ''}${t}${fence.length > 1 ? ' ' : ''}${fence}`;
}

/** The Markdown form: a summary line and tables, for a pull-request comment or $GITHUB_STEP_SUMMARY. */
export function growthMarkdown(g: GrowthReport): string[] {
  const out: string[] = [];
  out.push(`**Size against the baseline** ${mdCell(g.baseline, true)}: ${growthSummary(g)} (${DEFINITION_TEXT[g.sizeDefinition]})`);
  out.push('');
  const shown = g.lines.filter((l) => l.growth !== 0).slice(0, 30);
  if (shown.length) {
    out.push('| Dockerfile line | Baseline | Now | Growth |');
    out.push('| --- | ---: | ---: | ---: |');
    for (const l of shown) {
      out.push(`| ${mdCell(l.line, true)}${l.baseLayerIndex === null ? ' (new)' : l.layerIndex === null ? ' (gone)' : ''} | ${formatBytes(l.baseSize)} | ${formatBytes(l.size)} | ${signedBytes(l.growth)} |`);
    }
    if (g.lines.filter((l) => l.growth !== 0).length > shown.length) out.push(`| … ${g.lines.filter((l) => l.growth !== 0).length - shown.length} more lines | | | |`);
    out.push('');
  }
  if (g.largestAdded.length) {
    out.push('| Largest files of the lines that grew | Size | Layer |');
    out.push('| --- | ---: | ---: |');
    for (const p of g.largestAdded) out.push(`| ${mdCell(p.path, true)}${p.change === 'modified' ? ' (modified)' : ''} | ${formatBytes(p.bytes)} | ${p.layer} |`);
    out.push('');
  }
  return out;
}
