// Image history for tests and benchmarks: the `history` of an image config (or of a recorded
// engine history) as the HistoryEntry[] the mapping reads.
import type { HistoryEntry } from '../../src/core/image/types';

/** Build `HistoryEntry[]` from an image config's `history` (layer indexes from empty_layer). */
export function historyFromConfig(history: ReadonlyArray<{ created_by?: string; empty_layer?: boolean; created?: string; comment?: string }>): HistoryEntry[] {
  let layer = 0;
  return history.map((h, index) => {
    const emptyLayer = h.empty_layer === true;
    const e: HistoryEntry = { index, createdBy: h.created_by ?? '', emptyLayer, layerIndex: emptyLayer ? null : layer++ };
    if (h.created !== undefined) e.created = h.created;
    if (h.comment !== undefined) e.comment = h.comment;
    return e;
  });
}
