// The fast path for lenses: an engine image's history rows (`docker history`, newest first) and
// its layer count, turned into aligned history entries with layer indexes and sizes — without
// reading any layer. The API does not say which rows are empty_layer, so it is inferred from the
// instruction (config-only keywords make no layer) and checked against the real layer count;
// when the two disagree, rows with bytes are trusted first.
import type { HistoryEntry } from './types';

export interface QuickImage {
  id: string;
  repoTags: string[];
  history: HistoryEntry[];
  /** Bytes per layer, bottom first (the engine's history Size). */
  layerSizes: number[];
  /**
   * 'exact': every row was unambiguous; 'by-size': some 0-byte rows had to be guessed (row sizes
   * are still exact; a layer index may be off until the image is analyzed); 'analyzed': from the
   * image config itself.
   */
  alignment: 'exact' | 'by-size' | 'analyzed';
}

const CONFIG_ONLY = new Set(['ENV', 'LABEL', 'CMD', 'ENTRYPOINT', 'EXPOSE', 'USER', 'ARG', 'STOPSIGNAL',
  'HEALTHCHECK', 'SHELL', 'VOLUME', 'ONBUILD', 'MAINTAINER']);

/** The Dockerfile keyword a history row came from, as far as its created_by tells. */
export function historyKeyword(createdBy: string): string | null {
  let s = createdBy.trim();
  const nop = /^\/bin\/sh -c #\(nop\)\s+(\w+)/.exec(s);
  if (nop) return nop[1].toUpperCase();
  s = s.replace(/^\|\d+(\s+\S+=\S*)*\s+/, '');
  const kw = /^([A-Z]+)\b/.exec(s);
  if (kw) return kw[1];
  return s.length > 0 ? 'RUN' : null;
}

export interface ApiHistoryRow { createdBy: string; size: number; comment?: string; created?: number }

export function quickImageFromHistory(id: string, repoTags: string[], newestFirst: ApiHistoryRow[], layerCount: number): QuickImage {
  const rows = [...newestFirst].reverse();
  // Rows with bytes have a layer; config-only keywords have none; a 0-byte RUN/COPY/ADD/WORKDIR
  // is ambiguous (BuildKit keeps an empty layer, the legacy builder marks an empty diff
  // empty_layer, and a WORKDIR that creates its directory makes a 0-byte layer with either).
  const kind = rows.map((r): 'layer' | 'config' | 'ambiguous' => {
    if (r.size > 0) return 'layer';
    const kw = historyKeyword(r.createdBy);
    if (kw !== null && CONFIG_ONLY.has(kw)) return 'config';
    return 'ambiguous';
  });
  const hasLayer = kind.map((k) => k !== 'config');
  let n = hasLayer.filter(Boolean).length;
  const alignment: QuickImage['alignment'] = kind.includes('ambiguous') ? 'by-size' : 'exact';
  // Too many: drop ambiguous rows, WORKDIRs first (most often a no-op), bottom first.
  const order = rows.map((_, i) => i).filter((i) => kind[i] === 'ambiguous')
    .sort((a, b) => Number(historyKeyword(rows[b].createdBy) === 'WORKDIR') - Number(historyKeyword(rows[a].createdBy) === 'WORKDIR') || a - b);
  for (const i of order) { if (n <= layerCount) break; hasLayer[i] = false; n--; }
  const history: HistoryEntry[] = [];
  const layerSizes: number[] = [];
  rows.forEach((r, i) => {
    const layerIndex = hasLayer[i] && layerSizes.length < layerCount ? layerSizes.length : null;
    if (layerIndex !== null) layerSizes.push(r.size);
    history.push({ index: i, createdBy: r.createdBy, comment: r.comment, emptyLayer: layerIndex === null, layerIndex });
  });
  return { id, repoTags, history, layerSizes, alignment };
}
