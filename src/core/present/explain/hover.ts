// The hover: a concise markdown explanation of the layer a Dockerfile line made.
import type { Analysis } from '../../image/analysis';
import type { PackageRow } from '../../contents/packages';
import { formatBytes, formatPercent, plural } from '../format';
import { InstructionRef, LayerExplanation } from './model';
import { bold, code, inlineMarkdown } from './markup';
import { bigWriteSentence, copyUpSentence, deletedShippedSentence, emptySentence, hiddenLaterSentence, layerRef, packagesSentence, writeHeavySentence } from './sentences';

// ---------------------------------------------------------------------------------------------
// Hover (concise markdown)

export interface HoverOptions {
  /** Appends a link that runs this command with the layer index (e.g. layerLens.explainLayer). */
  explainCommand?: string;
  /** The image's packages, when read: the hover names the ones this layer installed. */
  packages?: readonly PackageRow[];
}

function countsLine(x: LayerExplanation): string {
  return `${x.added.count} added (${formatBytes(x.added.bytes)}) · ${x.modified.count} modified (${formatBytes(x.modified.bytes)}) · ${x.deleted.count} deleted (${formatBytes(x.deleted.bytes)} hidden)`;
}

export function sizeLine(x: LayerExplanation): string {
  const share = x.imageSize > 0 && x.size > 0 ? ` (${formatPercent(x.size / x.imageSize)} of ${formatBytes(x.imageSize)})` : '';
  return `${formatBytes(x.size)}${share}`;
}

export function hoverMarkdown(x: LayerExplanation, opts: HoverOptions = {}): string {
  const lines: string[] = [];
  lines.push(inlineMarkdown(`${bold(`Layer ${x.layer}`)} of ${x.layerCount} · ${sizeLine(x)}`));
  lines.push('');
  lines.push(inlineMarkdown(countsLine(x)));
  const bullets: string[] = [];
  const pk = opts.packages ? packagesSentence(opts.packages, x.layer) : undefined;
  if (pk) bullets.push(`${bold('Packages:')} ${pk} (Explain lists them all)`);
  const e = emptySentence(x);
  if (e) bullets.push(e);
  for (const b of x.bigWrites.slice(0, 3)) bullets.push(bigWriteSentence(b));
  const cu = copyUpSentence(x);
  if (cu && !(x.copyUps.length === 1 && x.bigWrites.length === 1)) bullets.push(cu);
  else if (cu && x.copyUps[0].lowerBytes > 0) bullets.push(`The lower copy (${formatBytes(x.copyUps[0].lowerBytes)}) still ships in ${layerRef(x, x.copyUps[0].lowerLayer)}: a layer holds whole files.`);
  const ds = deletedShippedSentence(x);
  if (ds) bullets.push(ds);
  const hl = hiddenLaterSentence(x);
  if (hl) bullets.push(hl);
  const covered = new Set(x.suggestions.flatMap((s) => (s.id === 'dockerignore' ? [] : s.paths ?? [])));
  for (const h of x.writeHeavy.filter((w) => w.category !== 'package-log' && !(covered.has(w.dir) && w.category !== 'database' && w.category !== 'log')).slice(0, 3)) {
    bullets.push(writeHeavySentence(h));
  }
  for (const s of x.suggestions.slice(0, 3)) bullets.push(`${bold('Suggestion:')} ${s.text}`);
  if (bullets.length) {
    lines.push('');
    for (const b of bullets) lines.push(`- ${inlineMarkdown(b)}`);
  }
  if (opts.explainCommand) {
    lines.push('');
    lines.push(`[Explain this layer](command:${opts.explainCommand}?${encodeURIComponent(JSON.stringify([x.layer]))})`);
  }
  return lines.join('\n') + '\n';
}

/** Hover for an instruction that only changed the image config (history entry without a layer). */
export function configOnlyHoverMarkdown(ins: InstructionRef): string {
  const kw = ins.keyword || 'This instruction';
  if (kw === 'RUN' || kw === 'COPY' || kw === 'ADD' || kw === 'WORKDIR') {
    return inlineMarkdown(`${bold('0 B · no layer')}: the image history records this ${code(kw)} step without a layer (the builder found no filesystem change to commit).`) + '\n';
  }
  const lines = [
    inlineMarkdown(`${bold('0 B · no layer')}: ${code(kw)} only changes the image configuration (a few bytes of JSON), so the build adds a history entry and no filesystem layer.`),
  ];
  if (kw === 'ARG') lines.push('', inlineMarkdown(`A build argument is not set in the container's environment, but its value is recorded in the image history (${code('docker history')} shows it with the RUN steps that use it): never pass secrets this way.`));
  return lines.join('\n') + '\n';
}

/** Hover for FROM: the base image's layers. */
export function baseHoverMarkdown(a: Analysis, layers: number[]): string {
  const bytes = layers.reduce((s, l) => s + (a.layerSizes[l] ?? 0), 0);
  const share = a.totalSize > 0 ? ` (${formatPercent(bytes / a.totalSize)} of ${formatBytes(a.totalSize)})` : '';
  const hidden = layers.reduce((s, l) => s + (a.tree.layers[l]?.hiddenBytes ?? 0), 0);
  const lines = [inlineMarkdown(`${bold('Base image')}: ${plural(layers.length, 'layer')}${layers.length ? ` (${layers.length === 1 ? `layer ${layers[0]}` : `layers ${layers[0]}–${layers[layers.length - 1]}`})` : ''} · ${formatBytes(bytes)}${share}`)];
  if (hidden > 0) {
    lines.push('', inlineMarkdown(`${formatBytes(hidden)} of it is hidden by later layers but still shipped: deleting base-image files in this Dockerfile never makes the image smaller.`));
  }
  return lines.join('\n') + '\n';
}

/** Hover for a line the mapping could not find in the image's history. */
export function unmappedHoverMarkdown(): string {
  return inlineMarkdown('Layer Lens cannot match this line to the image\'s history: the Dockerfile may have changed since the image was built. Rebuild to see what it costs.') + '\n';
}

/** Hover for an instruction of a stage that is not part of the shown image. */
export function notInImageHoverMarkdown(stage: string | null): string {
  const name = stage ? ` ${code(stage)}` : '';
  return inlineMarkdown(`This stage${name} is not part of the shown image: only the final stage's layers ship, and this stage's files reach the image only through ${code('COPY --from')}.`) + '\n';
}

/** The one line shown while no analyzed image belongs to the Dockerfile. */
export function unknownImageHoverMarkdown(): string {
  return inlineMarkdown(`Layer Lens: no image for this Dockerfile yet — run ${bold('Layer Lens: Build Image')} (or ${code('docker build -t NAME .')} then ${bold('Layer Lens: Open Image…')}) to see what each line costs.`) + '\n';
}
