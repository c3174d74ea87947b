// The recorded builds of one Dockerfile, oldest first: the rows `layerlens history --json` prints
// (docs/cli.md) and the extension's Build History page renders: a bar per build for the image's
// size (the trend at a glance), a table of the builds (time, size and its change, duration, lines
// built and cached, build args) and, per Dockerfile line, each build's result and duration.
import type { BuildRecord } from '../dockerfile/cachePredict';
import { htmlEscape } from './explain/markup';
import { formatBytes, seconds } from './format';

/** A build as the store keeps it: its record and, once its lines were shown, its sizes by instruction. */
export interface HistoryInput {
  record: BuildRecord;
  sizes?: Record<string, number>;
}

export interface HistoryLine {
  line: number;
  instruction: string;
  cache: 'cached' | 'built' | 'failed';
  durationMs: number;
}

/** One build, as `history --json` prints it. */
export interface HistoryRow {
  imageId: string | null;
  tag: string;
  origin: 'layerlens' | 'engine';
  builder: string;
  finishedAt: string;
  durationMs: number | null;
  failed: boolean;
  /** Bytes of the image's layers above the base, when known. */
  size: number | null;
  unknownFiles: number;
  /** The build args it was given (a build seen through the engine: those its history shows). */
  buildArgs: Record<string, string>;
  /** A build seen through the engine: ARGs whose values its history does not show. */
  buildArgsUnknown: string[];
  lines: HistoryLine[];
}

export function historyRows(builds: readonly HistoryInput[]): HistoryRow[] {
  return builds.map((b) => {
    const sizes = b.sizes ? Object.values(b.sizes) : undefined;
    const lines = Object.entries(b.record.lines)
      .map(([line, l]): HistoryLine => ({ line: Number(line), instruction: l.keyword, cache: l.failed ? 'failed' : l.cache, durationMs: l.durationMs }))
      .sort((x, y) => x.line - y.line);
    return {
      imageId: b.record.imageId, tag: b.record.tag, origin: b.record.origin ?? 'layerlens', builder: b.record.builder,
      finishedAt: new Date(b.record.finishedAt).toISOString(), durationMs: b.record.origin === 'engine' ? null : b.record.durationMs,
      failed: b.record.failed === true, size: sizes ? sizes.reduce((t, x) => t + x, 0) : null,
      unknownFiles: Object.values(b.record.context?.files ?? {}).filter((f) => f.unknown).length,
      buildArgs: { ...b.record.buildArgs }, buildArgsUnknown: [...(b.record.buildArgsUnknown ?? [])], lines,
    };
  });
}

/** `+3.2 MB`, `-120 B`, `±0 B`. */
export function signedBytes(n: number): string {
  return n > 0 ? `+${formatBytes(n)}` : n < 0 ? formatBytes(n) : '±0 B';
}

/** Per row, its size's change from the last earlier row with a known size (null when either is unknown). */
export function sizeDeltas(rows: readonly HistoryRow[]): Array<number | null> {
  let prev: number | null = null;
  return rows.map((r) => {
    const d = r.size !== null && prev !== null ? r.size - prev : null;
    if (r.size !== null) prev = r.size;
    return d;
  });
}

const time = (iso: string): string => iso.replace('T', ' ').replace(/\.\d+Z$/, 'Z');

function how(r: HistoryRow): string {
  if (r.origin === 'engine') return 'seen through the engine';
  const built = r.lines.filter((l) => l.cache === 'built').length;
  const cached = r.lines.filter((l) => l.cache === 'cached').length;
  return `${r.builder}, ${built} built, ${cached} cached`;
}

/** The size chart: one bar per build, oldest on the left, labelled with its size. */
export function historyChartSvg(rows: readonly HistoryRow[]): string {
  const barW = 34, gap = 14, chartH = 120, top = 18, bottom = 34;
  const max = Math.max(1, ...rows.map((r) => r.size ?? 0));
  const width = Math.max(1, rows.length) * (barW + gap) + gap;
  const bars = rows.map((r, i) => {
    const x = gap + i * (barW + gap);
    const h = r.size === null ? 0 : Math.max(2, Math.round((r.size / max) * chartH));
    const y = top + chartH - h;
    const label = r.size === null ? '?' : formatBytes(r.size);
    const title = `${time(r.finishedAt)} · ${r.tag} · ${r.size === null ? 'size not known yet' : formatBytes(r.size)}${r.failed ? ' · failed' : ''}`;
    return `<g data-build="${i}"><title>${htmlEscape(title)}</title>`
      + (r.size === null ? '' : `<rect class="bar${i === rows.length - 1 ? ' current' : ''}${r.failed ? ' failed' : ''}" x="${x}" y="${y}" width="${barW}" height="${h}"></rect>`)
      + `<text class="value" x="${x + barW / 2}" y="${y - 4}" text-anchor="middle">${htmlEscape(label)}</text>`
      + `<text x="${x + barW / 2}" y="${top + chartH + 14}" text-anchor="middle">#${i + 1}</text></g>`;
  }).join('');
  return `<svg role="img" aria-label="Image size per build" width="${width}" height="${top + chartH + bottom}" viewBox="0 0 ${width} ${top + chartH + bottom}">${bars}</svg>`;
}

/** The page's body: the chart, the builds, and each line's result per build. */
export function historyHtmlBody(rows: readonly HistoryRow[], dockerfileName: string): string {
  if (rows.length === 0) return `<p>No build of ${htmlEscape(dockerfileName)} is recorded yet: build it (Layer Lens: Build Image, <code>layerlens build</code>, or any <code>docker build</code> whose image the editor then sees).</p>`;
  const deltas = sizeDeltas(rows);
  const out: string[] = [];
  out.push(`<figure class="bars"><figcaption>Image size per build (layers above the base)</figcaption>${historyChartSvg(rows)}</figure>`);
  out.push('<h2>Builds</h2><table class="builds"><thead><tr><th>#</th><th>finished</th><th>image</th><th class="num">size</th><th class="num">change</th><th class="num">duration</th><th>how</th><th>build args</th></tr></thead><tbody>');
  rows.forEach((r, i) => {
    const args = Object.entries(r.buildArgs).map(([k, v]) => `${k}=${v}`).join(' ');
    const unknownArgs = r.buildArgsUnknown.length > 0 ? `${args ? ' · ' : ''}not in the history: ${r.buildArgsUnknown.join(', ')}` : '';
    const d = deltas[i];
    out.push(`<tr data-row="${i}"><td>${i + 1}</td><td>${htmlEscape(time(r.finishedAt))}</td><td>${htmlEscape(r.tag)}${r.failed ? ' <strong>failed</strong>' : ''}</td>`
      + `<td class="num">${r.size === null ? '?' : htmlEscape(formatBytes(r.size))}</td><td class="num">${d === null ? '' : htmlEscape(signedBytes(d))}</td>`
      + `<td class="num">${r.durationMs === null ? '' : htmlEscape(seconds(r.durationMs))}</td><td>${htmlEscape(how(r))}${r.unknownFiles ? ` · ${r.unknownFiles} context file(s) unknown` : ''}</td>`
      + `<td>${htmlEscape(args + unknownArgs)}</td></tr>`);
  });
  out.push('</tbody></table>');
  // Lines: the union of every build's reported lines, by line number and instruction.
  const keys = new Map<string, { line: number; instruction: string }>();
  for (const r of rows) for (const l of r.lines) keys.set(`${l.line} ${l.instruction}`, { line: l.line, instruction: l.instruction });
  const lines = [...keys.values()].sort((a, b) => a.line - b.line || a.instruction.localeCompare(b.instruction));
  if (lines.length > 0) {
    out.push('<h2>Each line, per build</h2><table class="lines"><thead><tr><th>line</th>' + rows.map((_, i) => `<th class="num">#${i + 1}</th>`).join('') + '</tr></thead><tbody>');
    for (const k of lines) {
      const cells = rows.map((r) => {
        if (r.origin === 'engine') return '<td class="num" title="seen through the engine: no trace">·</td>';
        const l = r.lines.find((x) => x.line === k.line && x.instruction === k.instruction);
        if (!l) return '<td class="num"></td>';
        const text = l.cache === 'cached' ? 'cached' : l.cache === 'failed' ? `failed ${seconds(l.durationMs)}` : seconds(l.durationMs);
        return `<td class="num ${l.cache}">${htmlEscape(text)}</td>`;
      }).join('');
      out.push(`<tr><td><a href="#" data-line="${k.line}">${k.line}</a> ${htmlEscape(k.instruction)}</td>${cells}</tr>`);
    }
    out.push('</tbody></table>');
  }
  return out.join('\n');
}
