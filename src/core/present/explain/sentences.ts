// Sentences about a layer's explanation, shared by the hover and the report.
import type { PackageRow } from '../../contents/packages';
import { formatBytes, plural } from '../format';
import { CopyUp, LayerExplanation, WriteHeavy, isRun, shortInstruction } from './model';
import { bold, code } from './markup';

// ---------------------------------------------------------------------------------------------
// Sentences (shared by the hover and the report)

export function layerRef(x: LayerExplanation, layer: number): string {
  const ins = x.instructions[layer];
  const line = ins?.line !== undefined ? `, line ${ins.line}` : '';
  return `layer ${layer}${line} (${code(shortInstruction(ins, 40))})`;
}

export function signedBytes(n: number): string {
  return n >= 0 ? `+${n.toLocaleString('en-US')} B` : `−${(-n).toLocaleString('en-US')} B`;
}

export function copyUpSentence(x: LayerExplanation): string | undefined {
  if (x.copyUps.length === 0) return undefined;
  const lower = x.copyUps.reduce((s, c) => s + c.lowerBytes, 0);
  const verb = isRun(x.instruction) ? 'changed' : 'replaced';
  let s = `${bold('Copy-up:')} ${plural(x.copyUps.length, 'file')} that existed in lower layers ${x.copyUps.length === 1 ? 'was' : 'were'} ${verb} here and stored again in full: ${formatBytes(x.copyUpBytes)}. A layer holds whole files, so even one appended byte or a chmod/chown ships the entire file; the lower ${x.copyUps.length === 1 ? 'copy' : 'copies'} (${formatBytes(lower)}) still ${x.copyUps.length === 1 ? 'ships' : 'ship'} too.`;
  if (x.metadataOnlyCount > 0) {
    s += ` ${plural(x.metadataOnlyCount, 'file')} kept ${x.metadataOnlyCount === 1 ? 'its' : 'their'} size and only changed mode or owner (what chmod/chown do): ${formatBytes(x.metadataOnlyBytes)} re-shipped for that.`;
  }
  return s;
}

export function bigWriteSentence(c: CopyUp): string {
  if (c.metadataOnly) {
    return `${bold('Big file:')} ${code(c.path)} (${formatBytes(c.bytes)}) only changed mode or owner, and all ${formatBytes(c.bytes)} were stored again in this layer.`;
  }
  const delta = c.bytes - c.lowerBytes;
  const change = delta === 0 ? 'kept its size' : `changed by ${signedBytes(delta)}`;
  return `${bold('Big file:')} ${code(c.path)} (${formatBytes(c.lowerBytes)} in layer ${c.lowerLayer}) ${change}, and all ${formatBytes(c.bytes)} were stored again in this layer.`;
}

export function deletedShippedSentence(x: LayerExplanation): string | undefined {
  const total = x.deletedShipped.reduce((s, d) => s + d.bytes, 0);
  if (total === 0) return undefined;
  const parts = x.deletedShipped.map((d) => `${formatBytes(d.bytes)} still ${d.bytes === 1 ? 'ships' : 'ship'} in ${layerRef(x, d.layer)}`);
  return `${bold('Deleted but still shipped:')} this layer hides ${formatBytes(total)} of files but cannot remove them from the image: ${parts.join('; ')}. Deleting files in the same RUN that creates them keeps them out of every layer.`;
}

export function hiddenLaterSentence(x: LayerExplanation): string | undefined {
  if (x.hiddenBytes === 0) return undefined;
  const parts = x.hiddenLater.map((h) => `${formatBytes(h.bytes)} ${h.how === 'deleted' ? 'deleted' : 'overwritten'} by ${layerRef(x, h.byLayer)}`);
  return `${bold('Hidden later:')} ${formatBytes(x.hiddenBytes)} of this layer are invisible in the final image but still shipped: ${parts.join('; ')}.`;
}

export function writeHeavySentence(h: WriteHeavy): string {
  const what = `${plural(h.files, 'file')}, ${formatBytes(h.bytes)}`;
  switch (h.category) {
    case 'database':
    case 'log':
      return `${bold('Write-heavy path:')} ${code(h.dir)} (${h.what}: ${what}) is in the image. At run time the first write to any image file copies the whole file up into the container's writable layer, which is deleted with the container; a volume bypasses the storage driver.`;
    case 'package-log':
      return `${bold('Package manager logs:')} ${code(h.dir)} (${what}) ships in this layer.`;
    case 'apt-lists':
      return `${bold('Package lists:')} ${code(h.dir)} (${what}) ships in this layer; it is only needed while installing.`;
    case 'cache':
      return `${bold('Cache:')} ${code(h.dir)} (${h.what}: ${what}) ships in this layer.`;
    case 'temp':
      return `${bold('Temporary files:')} ${code(h.dir)} (${what}) ships in this layer.`;
  }
}

export function emptySentence(x: LayerExplanation): string | undefined {
  if (!x.empty) return undefined;
  const kw = x.instruction?.keyword;
  const why = kw === 'WORKDIR' ? 'WORKDIR made a layer of its own for its directory' : 'the step changed no file content';
  return `${bold('Empty layer:')} 0 B of file content (${plural(x.entries, 'tar entry', 'tar entries')}: directories, links or metadata only). ${why[0].toUpperCase()}${why.slice(1)}: the image still carries one more layer for it.`;
}

/** The packages a layer installed, by bytes: `162 MB in 87 packages: libpython3.11-stdlib 18 MB, …` (undefined: none). */
export function packagesSentence(rows: readonly PackageRow[], layer: number, max = 5): string | undefined {
  const mine = rows.filter((r) => r.layer === layer).sort((a, b) => b.bytes - a.bytes || (a.name < b.name ? -1 : 1));
  if (!mine.length) return undefined;
  const total = mine.reduce((n, r) => n + r.bytes, 0);
  const named = mine.slice(0, max).map((r) => `${r.name} ${formatBytes(r.bytes)}`).join(', ');
  return `${formatBytes(total)} in ${plural(mine.length, 'package')}: ${named}${mine.length > max ? ', …' : ''}`;
}
