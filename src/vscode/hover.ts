// Hovers on Dockerfile instructions: what the line costs under copy-on-write, with the numbers of
// the layer it made in the analyzed image (src/core/present/explain.ts writes the text). While no image
// belongs to the file, one line says so and how to get one.
import * as vscode from 'vscode';
import {
  baseHoverMarkdown, configOnlyHoverMarkdown, hoverMarkdown, notInImageHoverMarkdown, unknownImageHoverMarkdown, unmappedHoverMarkdown,
} from '../core/present/explain';
import { instructionAtLine, parseDockerfile, stageChain } from '../core/dockerfile/dockerfile';
import type { Contribution } from './commands';
import type { LayerLensContext } from './context';
import { DOCKERFILE_SELECTOR } from './dockerfileImages';
import { EXPLAIN_COMMAND, bigFileThreshold, docLayers, explainCached, instructionRef, packagesForHover } from './explain';

function markdown(text: string, trusted = false): vscode.MarkdownString {
  const md = new vscode.MarkdownString(text);
  // Only our own command may run from the hover's link; no HTML.
  if (trusted) md.isTrusted = { enabledCommands: [EXPLAIN_COMMAND] };
  md.supportHtml = false;
  return md;
}

export class LayerHoverProvider implements vscode.HoverProvider {
  constructor(private readonly ll: LayerLensContext) {}

  async provideHover(doc: vscode.TextDocument, pos: vscode.Position, token: vscode.CancellationToken): Promise<vscode.Hover | undefined> {
    // A Dockerfile being typed is often not one yet: whatever goes wrong, no hover, a line in the log.
    try {
      return await this.hover(doc, pos, token);
    } catch (e) {
      this.ll.log(`hover: ${(e as Error).message}`);
      return undefined;
    }
  }

  private async hover(doc: vscode.TextDocument, pos: vscode.Position, token: vscode.CancellationToken): Promise<vscode.Hover | undefined> {
    const line = pos.line + 1;
    // Only instruction lines get a hover (not comments, blank lines or heredoc bodies' neighbours).
    const model = parseDockerfile(doc.getText());
    const quick = instructionAtLine(model, line);
    if (!quick || quick.stage < 0) return undefined;
    // A stage image of this file is shown (opened from a lens of its stage): lines of that stage's
    // chain are answered from it.
    const cur = this.ll.images.current;
    const shownStage = cur?.stage && cur.dockerfile?.toString() === doc.uri.toString() && stageChain(model, cur.stage.index).includes(quick.stage)
      ? { stage: cur.stage.index, source: cur.source } : undefined;
    let dl;
    try {
      dl = await docLayers(this.ll, doc, { analyze: true, stage: shownStage });
    } catch (e) {
      this.ll.log(`hover: ${(e as Error).message}`);
      dl = null;
    }
    if (token.isCancellationRequested) return undefined;
    const range = new vscode.Range(quick.line - 1, 0, quick.line - 1, doc.lineAt(quick.line - 1).text.length);
    if (!dl) return new vscode.Hover(markdown(unknownImageHoverMarkdown()), range);
    const at = dl.at(line);
    if (!at) return undefined;
    const { ins, map } = at;
    if (!map) {
      if (!dl.mapping.chain.includes(ins.stage)) return new vscode.Hover(markdown(notInImageHoverMarkdown(dl.model.stages[ins.stage]?.name ?? null)), range);
      return new vscode.Hover(markdown(unmappedHoverMarkdown()), range);
    }
    if (map.base) {
      const layers = Array.from({ length: Math.min(map.base.layerCount, dl.analysis.tree.layers.length) }, (_, i) => i);
      return new vscode.Hover(markdown(baseHoverMarkdown(dl.analysis, layers)), range);
    }
    if (map.historyIndex === null) {
      if (ins.keyword === 'FROM') return undefined; // FROM <stage> of a derived stage: nothing of its own
      return new vscode.Hover(markdown(unmappedHoverMarkdown()), range);
    }
    if (map.layerIndex === null) return new vscode.Hover(markdown(configOnlyHoverMarkdown(instructionRef(ins, dl.model))), range);
    const x = explainCached(dl.analysis, map.layerIndex, dl, bigFileThreshold(doc.uri));
    // The packages the layer installed: read on the first such hover, kept for the analysis.
    let sub: vscode.Disposable | undefined;
    const cancelled = new Promise<void>((resolve) => { sub = token.onCancellationRequested(() => resolve()); });
    const packages = await packagesForHover(this.ll, dl.source, dl.analysis, cancelled).finally(() => sub?.dispose());
    if (token.isCancellationRequested) return undefined;
    return new vscode.Hover(markdown(hoverMarkdown(x, { explainCommand: EXPLAIN_COMMAND, packages }), true), range);
  }
}

export function registerHover(ll: LayerLensContext): Contribution {
  return { disposables: [vscode.languages.registerHoverProvider(DOCKERFILE_SELECTOR, new LayerHoverProvider(ll))], commands: {} };
}
