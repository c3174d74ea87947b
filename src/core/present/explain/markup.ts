// Inline markup shared by the renderers: code spans and bold, as private-use characters in the
// sentences, turned into markdown, HTML or plain text by each renderer.
import { mdEscape } from '../format';

// ---------------------------------------------------------------------------------------------
// Inline markup shared by the renderers: code spans and bold, as private-use characters so plain
// text (paths, commands) never has to be escaped by the code that writes sentences.

const C0 = '\uE000';
const C1 = '\uE001';
const B0 = '\uE002';
const B1 = '\uE003';
const MARKS = /[\uE000-\uE003]/g;

export function code(s: string): string {
  return C0 + s.replace(MARKS, '') + C1;
}

export function bold(s: string): string {
  return B0 + s + B1;
}

type Seg = { t: 'text' | 'code' | 'bold'; s: string };

function segments(s: string): Seg[] {
  const out: Seg[] = [];
  const re = /\uE000([^\uE001]*)\uE001|\uE002([^\uE003]*)\uE003/g;
  let last = 0;
  for (let m = re.exec(s); m; m = re.exec(s)) {
    if (m.index > last) out.push({ t: 'text', s: s.slice(last, m.index) });
    out.push(m[1] !== undefined ? { t: 'code', s: m[1] } : { t: 'bold', s: m[2] });
    last = re.lastIndex;
  }
  if (last < s.length) out.push({ t: 'text', s: s.slice(last) });
  return out;
}

function mdCode(s: string): string {
  const longest = Math.max(0, ...(s.match(/`+/g) ?? []).map((r) => r.length));
  const fence = '`'.repeat(longest + 1);
  const pad = s.startsWith('`') || s.endsWith('`') ? ' ' : '';
  return `${fence}${pad}${s}${pad}${fence}`;
}

export function inlineMarkdown(s: string): string {
  return segments(s).map((g) => (g.t === 'code' ? mdCode(g.s) : g.t === 'bold' ? `**${inlineMarkdown(g.s)}**` : mdEscape(g.s))).join('');
}

export function inlineText(s: string): string {
  return segments(s).map((g) => (g.t === 'code' ? `\`${g.s}\`` : g.t === 'bold' ? inlineText(g.s) : g.s)).join('');
}

export function htmlEscape(s: string): string {
  return s.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!);
}

export function inlineHtml(s: string): string {
  return segments(s).map((g) => (g.t === 'code' ? `<code>${htmlEscape(g.s)}</code>` : g.t === 'bold' ? `<strong>${inlineHtml(g.s)}</strong>` : htmlEscape(g.s))).join('');
}
