// The Explain This Layer report as Markdown, for the golden files of the explain tests: the same
// blocks the webview (HTML) and the CLI (plain text) render.
import type { Analysis } from '../../../src/core/image/analysis';
import { explainLayer, inlineMarkdown, reportBlocks, textBars, type Block, type ExplainOptions } from '../../../src/core/present/explain';
import { mdEscape } from '../../../src/core/present/format';

function renderMarkdown(blocks: Block[]): string {
  const out: string[] = [];
  for (const b of blocks) {
    switch (b.kind) {
      case 'heading': out.push(`${'#'.repeat(b.level)} ${inlineMarkdown(b.text)}`); break;
      case 'para': out.push(inlineMarkdown(b.text)); break;
      case 'list': out.push(b.items.map((i) => `- ${inlineMarkdown(i)}`).join('\n')); break;
      case 'table': {
        const row = (cells: string[]): string => `| ${cells.map((c) => inlineMarkdown(c)).join(' | ')} |`;
        out.push([row(b.head), `|${b.align.map((al) => (al === 'right' ? ' ---: ' : ' --- ')).join('|')}|`, ...b.rows.map(row)].join('\n'));
        break;
      }
      case 'bars': out.push(`## ${mdEscape(b.title)}\n\n\`\`\`text\n${textBars(b)}\n\`\`\``); break;
    }
  }
  return out.join('\n\n') + '\n';
}

export function explainMarkdown(a: Analysis, layer: number, opts: ExplainOptions & { dockerfile?: string } = {}): string {
  return renderMarkdown(reportBlocks(a, explainLayer(a, layer, opts), opts));
}
