// Formatting shared by the CLI, hovers, lenses, the report and the tree: sizes, percentages,
// modes, durations, counted nouns and Markdown text. Sizes use decimal units as `docker history`
// and `docker images` do (1 kB = 1000 B).

export function formatBytes(n: number): string {
  if (!Number.isFinite(n)) return '?';
  const sign = n < 0 ? '-' : '';
  let v = Math.abs(n);
  if (v < 1000) return `${sign}${v} B`;
  const units = ['kB', 'MB', 'GB', 'TB', 'PB'];
  let u = -1;
  while (v >= 1000 && u < units.length - 1) { v /= 1000; u++; }
  const digits = v >= 100 ? 0 : v >= 10 ? 1 : 2;
  return `${sign}${v.toFixed(digits).replace(/\.0+$|(\.\d*[1-9])0+$/, '$1')} ${units[u]}`;
}

export function formatPercent(f: number, digits = 1): string {
  return `${(f * 100).toFixed(digits)} %`;
}

export function formatMode(mode: number): string {
  return mode.toString(8).padStart(4, '0');
}

/** A duration: `350 ms` under a second, else `3.2 s` (a short step never reads as 0). */
export function seconds(ms: number): string {
  return ms < 1000 ? `${ms} ms` : `${(ms / 1000).toFixed(1)} s`;
}

/** `1 file`, `1,234 files`: the count with thousands separators and the noun it takes. */
export function plural(n: number, one: string, many = one + 's'): string {
  return `${n.toLocaleString('en-US')} ${n === 1 ? one : many}`;
}

/**
 * Plain text for Markdown (hovers, tooltips, the report): backslash-escapes the punctuation that
 * Markdown reads as emphasis, code, links, images, HTML or table cells, or as a list, heading or
 * thematic-break marker at the start of a line (`-`, `+`, `1.`, `#`).
 */
export function mdEscape(s: string): string {
  return s.replace(/[\\`*_{}[\]<>()#+\-.!|]/g, (c) => '\\' + c);
}

/** Parses sizes as dive's CI file writes them: "20MB" (1000-based), "20MiB" (1024-based), "1234". */
export function parseBytes(s: string): number {
  const m = /^\s*([0-9]*\.?[0-9]+)\s*([kmgtp]?)(i?)b?\s*$/i.exec(s);
  if (!m) throw new Error(`'${s}' is not a size (e.g. 20MB, 1.5GiB, 1234)`);
  const power = ' kmgtp'.indexOf(m[2].toLowerCase() || ' ');
  const base = m[3] ? 1024 : 1000;
  return Math.round(parseFloat(m[1]) * base ** power);
}

/** A Dockerfile-ish rendering of a history `created_by` (strips `/bin/sh -c #(nop) ` and `# buildkit`). */
export function shortCreatedBy(createdBy: string): string {
  let s = createdBy.trim();
  s = s.replace(/^\|\d+(\s+\S+=\S*)*\s+/, '');
  s = s.replace(/^\/bin\/sh -c #\(nop\)\s+/, '');
  s = s.replace(/^\/bin\/sh -c /, 'RUN ');
  s = s.replace(/\s*# buildkit$/, '');
  return s.replace(/\s+/g, ' ');
}
