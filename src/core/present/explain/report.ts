// The "Explain This Layer" report as blocks (headings, paragraphs, lists, bars), for any renderer.
import type { Analysis } from '../../image/analysis';
import type { PackageRow } from '../../contents/packages';
import { formatBytes, plural } from '../format';
import { LayerExplanation, shortInstruction } from './model';
import { bold, code } from './markup';
import { bigWriteSentence, copyUpSentence, deletedShippedSentence, emptySentence, hiddenLaterSentence, layerRef, packagesSentence, signedBytes, writeHeavySentence } from './sentences';
import { sizeLine } from './hover';

// ---------------------------------------------------------------------------------------------
// The report, as blocks

export type Block =
  | { kind: 'heading'; level: 1 | 2; text: string }
  | { kind: 'para'; text: string }
  | { kind: 'list'; items: string[] }
  | { kind: 'table'; head: string[]; rows: string[][]; align: Array<'left' | 'right'> }
  | { kind: 'bars'; title: string; bars: Array<{ layer: number; label: string; value: number; display: string; current: boolean; hint: string }> };

export function reportBlocks(a: Analysis, x: LayerExplanation, opts: { dockerfile?: string; maxItems?: number; packages?: readonly PackageRow[] } = {}): Block[] {
  const b: Block[] = [];
  const ins = x.instruction;
  b.push({ kind: 'heading', level: 1, text: `Layer ${x.layer} of ${x.layerCount}: ${code(shortInstruction(ins, 100))}` });
  const facts: string[] = [];
  if (ins?.line !== undefined) {
    const lines = ins.endLine !== undefined && ins.endLine !== ins.line ? `lines ${ins.line}–${ins.endLine}` : `line ${ins.line}`;
    facts.push(`${bold('Dockerfile:')} ${opts.dockerfile ? `${code(opts.dockerfile)} ` : ''}${lines}`);
  } else if (ins) {
    facts.push(`${bold('Instruction:')} from the image history (no Dockerfile given)`);
  }
  if (x.diffId) facts.push(`${bold('Diff ID:')} ${code(x.diffId)} (digest of the uncompressed layer tar)`);
  const def = x.sizeDefinition === 'engine-history' ? 'as the engine reports it' : 'regular-file bytes in the layer tar';
  facts.push(`${bold('Size:')} ${sizeLine(x)}, ${def}; ${plural(x.entries, 'tar entry', 'tar entries')}`);
  b.push({ kind: 'list', items: facts });

  b.push({ kind: 'heading', level: 2, text: 'Changes' });
  b.push({
    kind: 'table', head: ['', 'Paths', 'Bytes'], align: ['left', 'right', 'right'],
    rows: [
      ['Added', String(x.added.count), formatBytes(x.added.bytes)],
      ['Modified', String(x.modified.count), formatBytes(x.modified.bytes)],
      ['Deleted', String(x.deleted.count), `${formatBytes(x.deleted.bytes)} hidden`],
    ],
  });
  const e = emptySentence(x);
  if (e) b.push({ kind: 'para', text: e });
  const current = x.layer;
  b.push({
    kind: 'bars', title: 'Layer sizes',
    bars: a.layerSizes.map((v, i) => ({
      layer: i, label: `${i}`, value: v, display: formatBytes(v), current: i === current,
      hint: shortInstruction(x.instructions[i], 60),
    })),
  });

  const pk = opts.packages ? packagesSentence(opts.packages, x.layer, 3) : undefined;
  if (pk) {
    // Every package the layer installed, by bytes (the database's own file lists; `layerlens packages`).
    b.push({ kind: 'heading', level: 2, text: 'Packages installed' });
    b.push({ kind: 'para', text: pk });
    const mine = opts.packages!.filter((r) => r.layer === x.layer).sort((p, q) => q.bytes - p.bytes || (p.name < q.name ? -1 : 1));
    b.push({
      kind: 'table', head: ['Package', 'Manager', 'Version', 'Files', 'Bytes'], align: ['left', 'left', 'left', 'right', 'right'],
      rows: mine.map((r) => [code(r.name), r.manager, code(r.version), String(r.files), formatBytes(r.bytes)]),
    });
  }

  if (x.largest.length > 0) {
    b.push({ kind: 'heading', level: 2, text: 'Largest files' });
    b.push({ kind: 'table', head: ['Path', 'Bytes'], align: ['left', 'right'], rows: x.largest.map((p) => [code(p.path), formatBytes(p.bytes)]) });
  }

  if (x.copyUps.length > 0) {
    b.push({ kind: 'heading', level: 2, text: 'Copy-up cost' });
    b.push({ kind: 'para', text: copyUpSentence(x)! });
    const items = x.bigWrites.map(bigWriteSentence);
    if (items.length) b.push({ kind: 'list', items });
    b.push({
      kind: 'table', head: ['Path', 'Stored here', 'Lower copy', 'Change'], align: ['left', 'right', 'right', 'left'],
      rows: x.copyUps.slice(0, opts.maxItems ?? 10).map((c) => [
        code(c.path), formatBytes(c.bytes), `${formatBytes(c.lowerBytes)} in layer ${c.lowerLayer}`,
        c.metadataOnly ? 'mode/owner only' : c.bytes === c.lowerBytes ? 'content, same size' : signedBytes(c.bytes - c.lowerBytes),
      ]),
    });
  }

  b.push({ kind: 'heading', level: 2, text: 'What this layer hides' });
  const hides: string[] = [];
  const ds = deletedShippedSentence(x);
  if (ds) hides.push(ds);
  for (const d of x.deletions.slice(0, opts.maxItems ?? 10)) {
    const how = d.how === 'opaque' ? 'emptied directory (opaque)' : d.how === 'replaced' ? 'replaced' : 'deleted';
    hides.push(`${code(d.path)}: ${how}, ${formatBytes(d.bytes)} hidden`);
  }
  if (x.deletedUnattributed > 0) hides.push(`${formatBytes(x.deletedUnattributed)} of the hidden bytes belong to paths a later layer recreated.`);
  for (const o of x.overwrittenBelow) {
    hides.push(`Overwrites ${plural(o.files, 'file')} of ${layerRef(x, o.layer)}, whose ${formatBytes(o.bytes)} still ship there.`);
  }
  b.push(hides.length ? { kind: 'list', items: hides } : { kind: 'para', text: 'Nothing: this layer neither deletes nor overwrites lower files.' });

  b.push({ kind: 'heading', level: 2, text: 'What hides it later' });
  const hl = hiddenLaterSentence(x);
  if (hl) {
    b.push({ kind: 'para', text: hl });
    const items = x.hiddenLater.flatMap((h) => h.paths.slice(0, 5).map((p) => `${code(p.path)} (${formatBytes(p.bytes)}) ${h.how} by layer ${h.byLayer}`));
    if (items.length) b.push({ kind: 'list', items });
  } else {
    b.push({ kind: 'para', text: 'Nothing: every byte of this layer is visible in the final image.' });
  }

  if (x.writeHeavy.length > 0) {
    b.push({ kind: 'heading', level: 2, text: 'Paths that deserve a second look' });
    b.push({ kind: 'list', items: x.writeHeavy.map(writeHeavySentence) });
  }

  b.push({ kind: 'heading', level: 2, text: 'Waste' });
  const waste: string[] = [];
  waste.push(`${formatBytes(x.hiddenBytes)} of this layer ${x.hiddenBytes === x.fileBytes && x.fileBytes > 0 ? '(all of it) ' : ''}is shipped but invisible in the final image.`);
  if (x.copyUpBytes > 0) waste.push(`${formatBytes(x.copyUpBytes)} re-ships files that lower layers already hold.`);
  const cacheBytes = x.writeHeavy.filter((h) => h.category !== 'database' && h.category !== 'log').reduce((s, h) => s + h.bytes, 0);
  if (cacheBytes > 0) waste.push(`${formatBytes(cacheBytes)} are caches, package lists or temporary files.`);
  b.push({ kind: 'list', items: waste });

  b.push({ kind: 'heading', level: 2, text: 'Suggestions' });
  if (x.suggestions.length) b.push({ kind: 'list', items: x.suggestions.map((s) => s.text) });
  else b.push({ kind: 'para', text: 'None: nothing in this layer\'s data points to a cheaper way to write it.' });

  return b;
}
