// The report's renderers: plain text (the CLI) and HTML (the webview), with bar charts.
import { htmlEscape, inlineHtml, inlineText } from './markup';
import { Block } from './report';

// ---------------------------------------------------------------------------------------------
// Renderers

/** A size chart as text bars (the plain-text report; the Markdown one in the tests). */
export function textBars(b: Extract<Block, { kind: 'bars' }>, width = 30): string {
  const max = Math.max(1, ...b.bars.map((x) => x.value));
  const lw = Math.max(...b.bars.map((x) => x.label.length));
  const dw = Math.max(...b.bars.map((x) => x.display.length));
  return b.bars.map((x) => {
    const n = x.value > 0 ? Math.max(1, Math.round((x.value / max) * width)) : 0;
    const bar = '█'.repeat(n).padEnd(width);
    return `${x.current ? '▶' : ' '} ${x.label.padStart(lw)} ${bar} ${x.display.padStart(dw)}  ${x.hint}`;
  }).join('\n');
}

function wrap(text: string, width: number, indent: string, first = indent): string {
  const words = text.split(/ +/);
  const lines: string[] = [];
  let cur = first;
  let empty = true;
  for (const w of words) {
    if (!empty && cur.length + 1 + w.length > width) {
      lines.push(cur);
      cur = indent + w;
    } else {
      cur += (empty ? '' : ' ') + w;
    }
    empty = false;
  }
  lines.push(cur);
  return lines.join('\n');
}

export function renderText(blocks: Block[], width = 100): string {
  const out: string[] = [];
  for (const b of blocks) {
    switch (b.kind) {
      case 'heading': {
        const t = inlineText(b.text);
        out.push(b.level === 1 ? `${t}\n${'='.repeat(Math.min(width, t.length))}` : `${t}\n${'-'.repeat(Math.min(width, t.length))}`);
        break;
      }
      case 'para': out.push(wrap(inlineText(b.text), width, '')); break;
      case 'list': out.push(b.items.map((i) => wrap(inlineText(i), width, '  ', '- ')).join('\n')); break;
      case 'table': {
        const rows = [b.head, ...b.rows].map((r) => r.map((c) => inlineText(c).replace(/`/g, '')));
        const widths = b.head.map((_, i) => Math.max(...rows.map((r) => r[i].length)));
        out.push(rows.map((r) => r.map((c, i) => (b.align[i] === 'right' ? c.padStart(widths[i]) : c.padEnd(widths[i]))).join('  ').trimEnd()).join('\n'));
        break;
      }
      case 'bars': out.push(`${b.title}\n${'-'.repeat(b.title.length)}\n\n${textBars(b)}`); break;
    }
  }
  return out.join('\n\n') + '\n';
}

/** The report as an HTML fragment (no scripts, no styles: the webview supplies those). */
export function renderHtml(blocks: Block[]): string {
  const out: string[] = [];
  for (const b of blocks) {
    switch (b.kind) {
      case 'heading': out.push(`<h${b.level}>${inlineHtml(b.text)}</h${b.level}>`); break;
      case 'para': out.push(`<p>${inlineHtml(b.text)}</p>`); break;
      case 'list': out.push(`<ul>${b.items.map((i) => `<li>${inlineHtml(i)}</li>`).join('')}</ul>`); break;
      case 'table': {
        const cell = (tag: string, c: string, i: number): string => `<${tag}${b.align[i] === 'right' ? ' class="num"' : ''}>${inlineHtml(c)}</${tag}>`;
        out.push(`<table><thead><tr>${b.head.map((c, i) => cell('th', c, i)).join('')}</tr></thead><tbody>${b.rows.map((r) => `<tr>${r.map((c, i) => cell('td', c, i)).join('')}</tr>`).join('')}</tbody></table>`);
        break;
      }
      case 'bars': out.push(htmlBars(b)); break;
    }
  }
  return out.join('\n');
}

function htmlBars(b: Extract<Block, { kind: 'bars' }>): string {
  const max = Math.max(1, ...b.bars.map((x) => x.value));
  const rowH = 18;
  const labelW = 40;
  const barW = 360;
  const h = b.bars.length * rowH;
  const rows = b.bars.map((x, i) => {
    const w = x.value > 0 ? Math.max(1, Math.round((x.value / max) * barW)) : 0;
    const y = i * rowH;
    const cls = x.current ? 'bar current' : 'bar';
    return `<g data-layer="${x.layer}"><title>${htmlEscape(`layer ${x.label}: ${x.display} — ${x.hint}`)}</title>`
      + `<text class="label" x="${labelW - 6}" y="${y + 13}" text-anchor="end">${htmlEscape(x.label)}</text>`
      + `<rect class="${cls}" x="${labelW}" y="${y + 3}" width="${w}" height="${rowH - 6}"></rect>`
      + `<text class="value" x="${labelW + w + 6}" y="${y + 13}">${htmlEscape(x.display)}</text></g>`;
  }).join('');
  return `<figure class="bars"><figcaption>${htmlEscape(b.title)}</figcaption>`
    + `<svg role="img" aria-label="${htmlEscape(b.title)}" width="${labelW + barW + 90}" height="${h}" viewBox="0 0 ${labelW + barW + 90} ${h}">${rows}</svg></figure>`;
}
