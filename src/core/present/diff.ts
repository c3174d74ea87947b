// `layerlens diff OLD NEW`: the public shape of two images compared (documented in docs/cli.md),
// and its text rendering. Layers are aligned by what made them (the same diffID, or the same
// history `created_by`), in order: a longest common subsequence of the two stacks.
import type { Analysis } from '../image/analysis';
import type { FileDiff } from '../image/index/diff';
import { formatBytes, shortCreatedBy } from './format';
import { SCHEMA_VERSION } from './report';

export interface DiffJson {
  schemaVersion: number;
  old: { id: string; size: number };
  new: { id: string; size: number };
  sizeDelta: number;
  layers: Array<{ oldLayer: number | null; newLayer: number | null; createdBy: string; oldSize: number | null; newSize: number | null }>;
  files: FileDiff[];
}

export interface LayerPair { old: number | null; neu: number | null }

/** The layers of two images aligned bottom first: pairs made by the same layer or the same instruction. */
export function alignLayers(a: Pick<Analysis, 'image' | 'layerHistory'>, b: Pick<Analysis, 'image' | 'layerHistory'>): LayerPair[] {
  const n = a.image.diffIds.length, m = b.image.diffIds.length;
  const cb = (x: Pick<Analysis, 'layerHistory'>, i: number): string => x.layerHistory[i]?.createdBy ?? '';
  const same = (i: number, j: number): boolean => a.image.diffIds[i] === b.image.diffIds[j] || (cb(a, i) !== '' && cb(a, i) === cb(b, j));
  // lcs[i][j]: the longest alignment of a's layers from i and b's from j.
  const lcs: Uint32Array[] = Array.from({ length: n + 1 }, () => new Uint32Array(m + 1));
  for (let i = n - 1; i >= 0; i--) {
    for (let j = m - 1; j >= 0; j--) lcs[i][j] = same(i, j) ? lcs[i + 1][j + 1] + 1 : Math.max(lcs[i + 1][j], lcs[i][j + 1]);
  }
  const out: LayerPair[] = [];
  let i = 0, j = 0;
  while (i < n || j < m) {
    if (i < n && j < m && same(i, j)) out.push({ old: i++, neu: j++ });
    else if (j >= m || (i < n && lcs[i + 1][j] >= lcs[i][j + 1])) out.push({ old: i++, neu: null });
    else out.push({ old: null, neu: j++ });
  }
  return out;
}

export function diffJson(a: Analysis, b: Analysis, files: FileDiff[]): DiffJson {
  return {
    schemaVersion: SCHEMA_VERSION,
    old: { id: a.image.id, size: a.totalSize },
    new: { id: b.image.id, size: b.totalSize },
    sizeDelta: b.totalSize - a.totalSize,
    layers: alignLayers(a, b).map((p) => ({
      oldLayer: p.old,
      newLayer: p.neu,
      createdBy: (p.neu !== null ? b.layerHistory[p.neu]?.createdBy : undefined) ?? (p.old !== null ? a.layerHistory[p.old]?.createdBy : undefined) ?? '',
      oldSize: p.old !== null ? a.layerSizes[p.old] : null,
      newSize: p.neu !== null ? b.layerSizes[p.neu] : null,
    })),
    files,
  };
}

function signed(n: number): string {
  return n > 0 ? `+${formatBytes(n)}` : n < 0 ? formatBytes(n) : '±0 B';
}

/** `layerlens diff` without --json. */
export function diffText(j: DiffJson, names: { old: string; new: string }, width = 120): string {
  const lines: string[] = [];
  lines.push(`old ${names.old} (${j.old.id.slice(0, 19)}) ${formatBytes(j.old.size)}`);
  lines.push(`new ${names.new} (${j.new.id.slice(0, 19)}) ${formatBytes(j.new.size)}  ${signed(j.sizeDelta)}`);
  lines.push('');
  lines.push(`${'OLD'.padStart(4)} ${'NEW'.padStart(4)}  ${'OLD SIZE'.padStart(9)}  ${'NEW SIZE'.padStart(9)}  CREATED BY`);
  const cbWidth = Math.max(20, width - 36);
  for (const l of j.layers) {
    const cb = shortCreatedBy(l.createdBy);
    lines.push(`${(l.oldLayer === null ? '-' : String(l.oldLayer)).padStart(4)} ${(l.newLayer === null ? '-' : String(l.newLayer)).padStart(4)}  ${(l.oldSize === null ? '' : formatBytes(l.oldSize)).padStart(9)}  ${(l.newSize === null ? '' : formatBytes(l.newSize)).padStart(9)}  ${cb.length > cbWidth ? cb.slice(0, cbWidth - 1) + '…' : cb}`);
  }
  lines.push('');
  if (j.files.length === 0) lines.push('no file differs');
  for (const f of j.files) {
    const size = f.change === 'added' ? formatBytes(f.newSize ?? 0) : f.change === 'removed' ? formatBytes(f.oldSize ?? 0) : `${formatBytes(f.oldSize ?? 0)} → ${formatBytes(f.newSize ?? 0)}`;
    lines.push(`${f.change.padEnd(8)}  ${size.padStart(9)}  L${String(f.layer).padEnd(3)} ${f.path}`);
  }
  return lines.join('\n') + '\n';
}
