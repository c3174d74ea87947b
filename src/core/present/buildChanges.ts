// Compare with Previous Build: the per-file differences of two images (core/image/index/diff, the
// same comparison `layerlens diff` makes) grouped by the Dockerfile line whose layer holds each
// change, not by layer index. Both images' histories are mapped onto the same Dockerfile text, so
// a line that moved, a layer that appeared below it or a base image with another layer count still
// line up. An added or modified path belongs to the line of its layer in the new image, a removed
// one to the line of its layer in the old image; each line carries both images' layer sizes.
import type { DockerfileModel } from '../dockerfile/dockerfile';
import type { MappingResult } from '../dockerfile/mapping';
import type { FileDiff } from '../image/index/diff';

/** The Dockerfile line a layer belongs to: an instruction's first line, or the FROM line for base image layers. */
export interface LayerLine {
  line: number;
  /** The instruction as written on one line (`COPY app /app`). */
  text: string;
}

function oneLine(raw: string): string {
  return raw.split('\n').map((l) => l.trim()).filter((l) => l !== '' && !l.startsWith('#')).join(' ').replace(/\\ /g, ' ').replace(/\s+/g, ' ').trim();
}

/** Per layer index of an image, its Dockerfile line by the image's history mapping (null: no line made it). */
export function layerLines(model: DockerfileModel, mapping: MappingResult, layerCount: number): Array<LayerLine | null> {
  const out: Array<LayerLine | null> = new Array<LayerLine | null>(layerCount).fill(null);
  const textOf = (line: number): string => oneLine(model.instructions.find((i) => i.line === line)?.raw ?? '');
  for (const m of mapping.lines) {
    if (m.base) {
      // The chain root's FROM: the base image's layers, bottom first.
      for (let i = 0; i < m.base.layerCount && i < layerCount; i++) out[i] ??= { line: m.line, text: textOf(m.line) };
    } else if (m.layerIndex !== null && m.layerIndex < layerCount) {
      out[m.layerIndex] = { line: m.line, text: textOf(m.line) };
    }
  }
  return out;
}

export interface LineChanges {
  /** The Dockerfile line, or null for layers no line of the file made. */
  line: number | null;
  text: string;
  /** Layers of each image that belong to this line, and their total sizes (null: none in that image). */
  oldLayers: number[];
  newLayers: number[];
  oldSize: number | null;
  newSize: number | null;
  /** The paths that differ, sorted by path. */
  files: FileDiff[];
  added: number;
  removed: number;
  modified: number;
}

export interface CompareSide {
  lines: ReadonlyArray<LayerLine | null>;
  layerSizes: readonly number[];
  /** The image's diffIDs, bottom first (a line whose layers are the same ones in both images is unchanged). */
  diffIds: readonly string[];
}

/**
 * The changes of two images by Dockerfile line, in line order (layers of no line last). A line is
 * listed when a path of its layers differs or when its layers differ (a rebuilt layer with
 * byte-identical files lists no path, with both sizes).
 */
export function changesByLine(files: readonly FileDiff[], old: CompareSide, neu: CompareSide): LineChanges[] {
  const groups = new Map<string, LineChanges>();
  const group = (ref: LayerLine | null): LineChanges => {
    const key = ref ? String(ref.line) : '-';
    let g = groups.get(key);
    if (!g) {
      g = { line: ref?.line ?? null, text: ref?.text ?? '(layers no line of the Dockerfile made)', oldLayers: [], newLayers: [], oldSize: null, newSize: null, files: [], added: 0, removed: 0, modified: 0 };
      groups.set(key, g);
    }
    return g;
  };
  old.layerSizes.forEach((size, i) => {
    const g = group(old.lines[i] ?? null);
    g.oldLayers.push(i);
    g.oldSize = (g.oldSize ?? 0) + size;
  });
  neu.layerSizes.forEach((size, i) => {
    const g = group(neu.lines[i] ?? null);
    g.newLayers.push(i);
    g.newSize = (g.newSize ?? 0) + size;
  });
  for (const f of files) {
    const g = group((f.change === 'removed' ? old.lines[f.layer] : neu.lines[f.layer]) ?? null);
    g.files.push(f);
    g[f.change]++;
  }
  const sameLayers = (g: LineChanges): boolean => g.oldLayers.length === g.newLayers.length
    && g.oldLayers.every((l, i) => old.diffIds[l] === neu.diffIds[g.newLayers[i]]);
  return [...groups.values()]
    .filter((g) => g.files.length > 0 || !sameLayers(g))
    .map((g) => ({ ...g, files: [...g.files].sort((p, q) => (p.path < q.path ? -1 : p.path > q.path ? 1 : 0)) }))
    .sort((a, b) => (a.line ?? Infinity) - (b.line ?? Infinity));
}

/** One file's change as the view words it: `added 1.2 kB`, `removed 3 MB`, `modified 10 B → 12 B`. */
export function fileChangeText(f: FileDiff, format: (n: number) => string): string {
  if (f.change === 'added') return `added ${format(f.newSize ?? 0)}`;
  if (f.change === 'removed') return `removed ${format(f.oldSize ?? 0)}`;
  return `modified ${format(f.oldSize ?? 0)} → ${format(f.newSize ?? 0)}`;
}
