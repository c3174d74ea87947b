// The tree model's rows as indented text, for the golden files of the tree tests: each row's
// label, description, tone, context value and codicon, optionally its tooltip, then its children.
import type { FilesMode, Tone, TreeEl, TreeModel } from '../../../src/core/present/treeModel';

export interface RenderOptions {
  mode?: FilesMode;
  /** Expand at most this deep (default: everything). */
  maxDepth?: number;
  /** Add tooltips under each row. */
  tooltips?: boolean;
}

const TONE_MARK: Record<Tone, string> = { normal: '', deleted: ' [deleted]', added: ' [added]', modified: ' [modified]', hidden: ' [hidden]' };

/** Renders rows and (recursively) their children as indented text. */
export function renderRows(model: TreeModel, roots: TreeEl[], opts: RenderOptions = {}): string {
  const mode = opts.mode ?? { wasteOnly: false };
  const lines: string[] = [];
  const maxDepth = opts.maxDepth ?? Infinity;
  const visit = (el: TreeEl, depth: number): void => {
    const r = model.row(el, mode);
    const mark = r.collapsible === 'none' ? '-' : '>';
    const extras = [r.contextValue ? `{${r.contextValue}}` : '', r.icon !== 'file' && r.icon !== 'folder' ? `$(${r.icon})` : ''].filter(Boolean).join(' ');
    lines.push(`${'  '.repeat(depth)}${mark} ${r.label}${r.description ? `  — ${r.description}` : ''}${TONE_MARK[r.tone]}  ${extras}`.trimEnd());
    if (opts.tooltips) for (const t of r.tooltip().split('\n')) lines.push(`${'  '.repeat(depth + 2)}| ${t}`.trimEnd());
    if (r.collapsible !== 'none' && depth + 1 < maxDepth) for (const c of model.children(el, mode)) visit(c, depth + 1);
  };
  for (const r of roots) visit(r, 0);
  return lines.join('\n') + '\n';
}
