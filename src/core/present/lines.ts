// Per-line facts for a Dockerfile: its layer, the layer's size, and cache status. The CodeLens
// text and `layerlens lines` both come from here.
import { formatBytes, seconds } from './format';
import type { DockerfileModel } from '../dockerfile/dockerfile';
import type { MappingResult } from '../dockerfile/mapping';

export type CacheState = 'cached' | 'built' | 'will-rebuild' | 'unknown';

export interface LineCache {
  cache: CacheState;
  reason?: string;
  durationMs?: number;
}

export interface LineInfo {
  line: number;
  endLine: number;
  instruction: string;
  stage: number;
  historyIndex: number | null;
  layerIndex: number | null;
  /** Bytes of the layer this line made; 0 for config-only lines; null when not mapped. */
  size: number | null;
  /** `other-stage`: a line of a stage the image does not contain (known from a build's trace). */
  kind: 'layer' | 'empty-layer' | 'config' | 'base' | 'unmapped' | 'other-stage';
  /** other-stage, and lines mapped from a stage image: the stage's name (or its index). */
  stageName?: string;
  /**
   * A line of a stage the image does not contain, mapped from that stage's own image (the stage
   * built as a target): its source. `historyIndex` and `layerIndex` then count in that image.
   */
  stageImage?: string;
  cache: CacheState;
  reason?: string;
  durationMs?: number;
  /** FROM lines: what the base image holds. */
  base?: { size: number | null; layers: number };
  /** Layer lines: bytes more (or fewer) than the same instruction's layer in the previous build of the file. */
  sizeDelta?: number;
  /** A layer that only deletes: what it deleted, and the lower lines that still ship those bytes (withDeletions). */
  deletes?: { paths: number; shipped: Array<{ bytes: number; line: number | null; layer: number }> };
}

/**
 * The key of each instruction for comparing builds of one Dockerfile: its stage's name (or index),
 * keyword and text, and which occurrence of that text it is (edited lines have no counterpart).
 */
export function instructionKeys(model: DockerfileModel): Map<number, string> {
  const seen = new Map<string, number>();
  const out = new Map<number, string>();
  for (const ins of model.instructions) {
    if (ins.stage < 0) continue;
    const st = model.stages[ins.stage];
    const base = `${st?.name ?? ins.stage}\u0000${ins.keyword}\u0000${ins.raw.replace(/\s+/g, ' ').trim()}`;
    const n = seen.get(base) ?? 0;
    seen.set(base, n + 1);
    out.set(ins.line, `${base}\u0000${n}`);
  }
  return out;
}

/** Layer sizes of the image's lines by instruction key (what a build record keeps to compare the next build with). */
export function sizesByInstruction(infos: readonly LineInfo[], model: DockerfileModel): Record<string, number> {
  const keys = instructionKeys(model);
  const out: Record<string, number> = {};
  for (const i of infos) {
    const k = keys.get(i.line);
    if (k !== undefined && i.stageImage === undefined && (i.kind === 'layer' || i.kind === 'empty-layer') && i.size !== null) out[k] = i.size;
  }
  return out;
}

/** Sets `sizeDelta` on the layer lines whose instruction the previous build also had (its sizesByInstruction). */
export function withSizeDeltas(infos: LineInfo[], model: DockerfileModel, previous: Readonly<Record<string, number>>): LineInfo[] {
  const keys = instructionKeys(model);
  for (const i of infos) {
    const k = keys.get(i.line);
    const was = k === undefined ? undefined : previous[k];
    if (was !== undefined && i.stageImage === undefined && (i.kind === 'layer' || i.kind === 'empty-layer') && i.size !== null) i.sizeDelta = i.size - was;
  }
  return infos;
}

/**
 * Adds to each line whose layer only deletes (no bytes of its own) what it failed to save: how many
 * paths it deleted and the bytes lower layers still ship, by the line that made them.
 * `deleted(layer)`: the layer's deleted path count and its deletions' shipping layers
 * (explainLayer's deletedShipped).
 */
export function withDeletions(infos: readonly LineInfo[], deleted: (layer: number) => { count: number; shipped: Array<{ layer: number; bytes: number }> }): LineInfo[] {
  const lineOfLayer = new Map(infos.filter((i) => i.layerIndex !== null && i.kind !== 'base' && i.stageImage === undefined).map((i) => [i.layerIndex!, i.line]));
  return infos.map((i) => {
    if (i.layerIndex === null || i.stageImage !== undefined || (i.kind !== 'empty-layer' && !(i.kind === 'layer' && i.size === 0))) return i;
    const d = deleted(i.layerIndex);
    if (d.count === 0) return i;
    return { ...i, deletes: { paths: d.count, shipped: d.shipped.filter((x) => x.bytes > 0).map((x) => ({ ...x, line: lineOfLayer.get(x.layer) ?? null })) } };
  });
}

/** The image of a stage the main image does not contain (that stage built as a target), mapped. */
export interface StageImageLines {
  /** Its source (tag, id or archive path): what the lines' `layerIndex` refers to. */
  source: string;
  /** `mapHistory(model, history, { stage })` of that image. */
  mapping: MappingResult;
  /** Size per history entry of that image. */
  entrySizes: readonly number[];
}

/**
 * Joins a mapping with per-history-entry sizes and (optionally) cache facts by line.
 * `entrySizes[i]` is history entry i's size (the engine's history Size, or the analyzed layer's).
 * `stageImages`: lines the main image does not contain take their sizes from the image of their
 * own stage when one is given, else from the image of a stage built on theirs (a stage image holds
 * its whole FROM chain); the rest, with `model` and `cache`, get the build trace's status only.
 */
export function lineInfos(
  mapping: MappingResult, entrySizes: readonly number[], cache?: ReadonlyMap<number, LineCache>, model?: DockerfileModel,
  stageImages: readonly StageImageLines[] = [],
): LineInfo[] {
  const infos = mappedInfos(mapping, entrySizes, cache);
  const mapped = new Set(infos.map((i) => i.line));
  // Own stage first, then stages derived from it.
  for (const own of [true, false]) {
    for (const si of stageImages) {
      const extra = mappedInfos(si.mapping, si.entrySizes, cache).filter((i) => !mapped.has(i.line) && (i.stage === si.mapping.stage) === own);
      for (const i of extra) {
        i.stageImage = si.source;
        const st = model?.stages[i.stage];
        i.stageName = st?.name ?? String(i.stage);
        mapped.add(i.line);
        infos.push(i);
      }
    }
  }
  if (!model || !cache) return infos.sort((a, b) => a.line - b.line);
  // Stages the image does not contain (a multi-stage build's earlier stages): their lines have no
  // layer in this image, but the last build's trace knows whether they were cached.
  for (const ins of model.instructions) {
    const c = cache.get(ins.line);
    if (!c || mapped.has(ins.line) || ins.stage < 0) continue;
    const st = model.stages[ins.stage];
    const info: LineInfo = {
      line: ins.line, endLine: ins.endLine, instruction: ins.keyword, stage: ins.stage, historyIndex: null, layerIndex: null,
      size: null, kind: 'other-stage', stageName: st?.name ?? String(ins.stage), cache: c.cache,
    };
    if (c.reason) info.reason = c.reason;
    if (c.durationMs !== undefined) info.durationMs = c.durationMs;
    infos.push(info);
  }
  return infos.sort((a, b) => a.line - b.line);
}

function mappedInfos(mapping: MappingResult, entrySizes: readonly number[], cache?: ReadonlyMap<number, LineCache>): LineInfo[] {
  return mapping.lines.map((m) => {
    const c = cache?.get(m.line);
    const info: LineInfo = {
      line: m.line, endLine: m.endLine, instruction: m.instruction, stage: m.stage,
      historyIndex: m.historyIndex, layerIndex: m.layerIndex, size: null, kind: 'unmapped',
      cache: c?.cache ?? 'unknown',
    };
    if (c?.reason) info.reason = c.reason;
    if (c?.durationMs !== undefined) info.durationMs = c.durationMs;
    if (m.base) {
      info.kind = 'base';
      info.size = m.base.size;
      info.base = { size: m.base.size, layers: m.base.layerCount };
    } else if (m.historyIndex !== null) {
      const size = entrySizes[m.historyIndex] ?? 0;
      info.size = m.layerIndex === null ? 0 : size;
      info.kind = m.layerIndex === null ? 'config' : size === 0 ? 'empty-layer' : 'layer';
      if (m.layerIndex === null && m.emptyLayer && (m.instruction === 'RUN' || m.instruction === 'WORKDIR' || m.instruction === 'COPY' || m.instruction === 'ADD')) {
        info.kind = 'empty-layer';
      }
    }
    return info;
  });
}

/** The CodeLens text: `24.3 MB · cached`, `0 B · config only`, `will rebuild · line 7 changed`. */
export function lensLabel(i: LineInfo): string {
  const parts: string[] = [];
  if (i.cache === 'will-rebuild') {
    return `will rebuild${i.reason ? ' · ' + i.reason : ''}`;
  }
  switch (i.kind) {
    case 'base':
      parts.push(`base ${i.base!.size === null ? '' : formatBytes(i.base!.size) + ' in '}${i.base!.layers} layer${i.base!.layers === 1 ? '' : 's'}`);
      break;
    case 'layer': parts.push(i.deletes ? deletesLabel(i.deletes) : formatBytes(i.size ?? 0) + (i.sizeDelta ? ` (${i.sizeDelta > 0 ? '+' : ''}${formatBytes(i.sizeDelta)} since last build)` : '')); break;
    case 'empty-layer': parts.push(i.deletes ? deletesLabel(i.deletes) : '0 B · empty layer'); break;
    case 'config': parts.push('0 B · config only'); break;
    case 'unmapped': parts.push(i.stageImage !== undefined ? 'not in the stage image' : 'not in the image'); break;
    case 'other-stage': parts.push(`stage ${i.stageName}`); break;
  }
  if (i.cache === 'cached') parts.push('cached');
  else if (i.cache === 'built') parts.push(i.durationMs !== undefined ? `rebuilt in ${seconds(i.durationMs)}` : 'rebuilt');
  // Predicted neither way: files the line reads changed after the image was built, before Layer Lens saw it.
  else if (i.cache === 'unknown' && i.reason) parts.push(`cache unknown · ${i.reason}`);
  return parts.join(' · ');
}

/** `0 B · deletes 2 paths: 46 MB still ship in line 8`. */
function deletesLabel(d: NonNullable<LineInfo['deletes']>): string {
  const head = `0 B · deletes ${d.paths} path${d.paths === 1 ? '' : 's'}`;
  if (!d.shipped.length) return head;
  const total = d.shipped.reduce((n, x) => n + x.bytes, 0);
  const where = d.shipped.map((x) => (x.line !== null ? `line ${x.line}` : `layer ${x.layer}`));
  return `${head}: ${formatBytes(total)} still ship in ${where.length === 1 ? where[0] : where.slice(0, -1).join(', ') + ' and ' + where.at(-1)}`;
}

/** `layerlens lines` without --json: the Dockerfile with a left margin of sizes and cache status. */
export function linesMargin(text: string, infos: readonly LineInfo[], width = 34): string {
  const byLine = new Map(infos.map((i) => [i.line, i]));
  return text.split('\n').map((src, n) => {
    const i = byLine.get(n + 1);
    const margin = i ? lensLabel(i) : '';
    const m = margin.length > width ? margin.slice(0, width - 1) + '…' : margin;
    return `${m.padEnd(width)} │ ${src}`;
  }).join('\n');
}
