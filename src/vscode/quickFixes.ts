// Quick fixes on Dockerfile lines, offered only where the analyzed image shows the cost and the
// change is safe and local (the checks are pure, in src/core/present/explain.ts):
// - "Add … to .dockerignore": on a COPY/ADD whose layer carries large or usually-unneeded
//   build-context files, when no other instruction names those paths and the build context holding
//   them is found (the Dockerfile's folder, else the workspace folder).
// - "Fold this cleanup into the RUN on line N": on a `RUN rm …` whose deletions hide only files that
//   one earlier RUN of the same stage created, with nothing in between that could see them.
// Only the analysis already shown is used: asking for code actions never reads an image.
import { existsSync, readFileSync } from 'node:fs';
import * as path from 'node:path';
import * as vscode from 'vscode';
import { dockerignoreEntries, foldCleanupPlan } from '../core/present/explain';
import type { DockerfileInstruction } from '../core/dockerfile/dockerfile';
import { formatBytes } from '../core/present/format';
import { foldEdits, reshippedBytes } from '../core/present/edits';
import { workspaceEdit } from './secrets';
import type { Contribution } from './commands';
import type { LayerLensContext } from './context';
import { DOCKERFILE_SELECTOR } from './dockerfileImages';
import { bigFileThreshold, docLayers, explainCached, type DocLayers } from './explain';

/** The build context holding all of `paths`: the Dockerfile's folder, else the workspace folder. */
function contextDirFor(doc: vscode.TextDocument, paths: string[]): string | undefined {
  const candidates = [path.dirname(doc.uri.fsPath)];
  const folder = vscode.workspace.getWorkspaceFolder(doc.uri);
  if (folder && folder.uri.scheme === 'file' && !candidates.includes(folder.uri.fsPath)) candidates.push(folder.uri.fsPath);
  return candidates.find((dir) => paths.every((p) => existsSync(path.join(dir, ...p.split('/')))));
}

function readText(file: string): string | undefined {
  try {
    return readFileSync(file, 'utf8');
  } catch {
    return undefined;
  }
}

export function dockerignoreAction(dl: DocLayers, ins: DockerfileInstruction, layer: number, threshold: number): vscode.CodeAction | undefined {
  if (dl.doc.uri.scheme !== 'file') return undefined;
  const x = explainCached(dl.analysis, layer, dl, threshold);
  const candidates = dockerignoreEntries(dl.model, ins, x, '');
  if (candidates.length === 0) return undefined;
  const dir = contextDirFor(dl.doc, candidates);
  if (!dir) return undefined;
  // BuildKit reads <Dockerfile>.dockerignore next to the Dockerfile instead, when it exists.
  const specific = dl.doc.uri.fsPath + '.dockerignore';
  const file = existsSync(specific) ? specific : path.join(dir, '.dockerignore');
  const existing = readText(file);
  const add = dockerignoreEntries(dl.model, ins, x, existing ?? '');
  if (add.length === 0) return undefined;
  const ignored = x.copiedCandidates.filter((c) => c.contextPath !== null && add.includes(c.contextPath));
  const copied = ignored.reduce((n, c) => n + c.bytes, 0);
  // What later chmod/chown layers re-ship of those files is saved too (as `layerlens suggest` counts).
  const later = Array.from({ length: Math.max(0, dl.analysis.tree.layers.length - layer - 1) }, (_, i) => explainCached(dl.analysis, layer + 1 + i, dl, threshold));
  const reshipped = reshippedBytes(layer, ignored.map((c) => c.path), later);
  const figure = copied === 0 ? '' : reshipped > 0
    ? ` (${formatBytes(copied + reshipped)} would not ship: ${formatBytes(copied)} copied by this line, ${formatBytes(reshipped)} shipped again by a later chmod/chown)`
    : ` (${formatBytes(copied)} copied by this line would not ship)`;
  const action = new vscode.CodeAction(`Add ${add.join(', ')} to ${path.basename(file)}${figure}`, vscode.CodeActionKind.QuickFix);
  const uri = vscode.Uri.file(file);
  const edit = new vscode.WorkspaceEdit();
  const text = add.join('\n') + '\n';
  if (existing === undefined) {
    // (createFile's `contents` cannot cross from a remote extension host to a web workbench.)
    edit.createFile(uri, { ignoreIfExists: true });
    edit.insert(uri, new vscode.Position(0, 0), text);
  } else {
    const lines = existing.split('\n');
    const last = lines.length - 1;
    const prefix = existing === '' || existing.endsWith('\n') ? '' : '\n';
    edit.insert(uri, new vscode.Position(last, lines[last].length), prefix + text);
  }
  action.edit = edit;
  return action;
}

export function foldAction(dl: DocLayers, cleanup: DockerfileInstruction, layer: number, threshold: number): vscode.CodeAction | undefined {
  const x = explainCached(dl.analysis, layer, dl, threshold);
  const lines = dl.doc.getText().split('\n');
  const plan = foldCleanupPlan(lines, dl.model, dl.mapping, cleanup, x);
  if (!plan) return undefined;
  // The edits `layerlens suggest` prints for this fold.
  const action = new vscode.CodeAction(`Fold this cleanup into the RUN on line ${plan.creator.line} (${formatBytes(plan.bytes)} would not ship)`, vscode.CodeActionKind.QuickFix);
  action.edit = workspaceEdit(foldEdits(plan, lines, path.basename(dl.doc.uri.fsPath)), dl.doc);
  action.isPreferred = true;
  return action;
}

export class ExplainCodeActions implements vscode.CodeActionProvider {
  static readonly kinds = [vscode.CodeActionKind.QuickFix];

  constructor(private readonly ll: LayerLensContext) {}

  async provideCodeActions(doc: vscode.TextDocument, range: vscode.Range | vscode.Selection): Promise<vscode.CodeAction[]> {
    let dl: DocLayers | null;
    try {
      dl = await docLayers(this.ll, doc, { analyze: false });
    } catch {
      return [];
    }
    if (!dl) return [];
    const at = dl.at(range.start.line + 1);
    if (!at?.map || at.map.layerIndex === null) return [];
    const threshold = bigFileThreshold(doc.uri);
    const out: vscode.CodeAction[] = [];
    if (at.ins.keyword === 'COPY' || at.ins.keyword === 'ADD') {
      const a = dockerignoreAction(dl, at.ins, at.map.layerIndex, threshold);
      if (a) out.push(a);
    }
    if (at.ins.keyword === 'RUN') {
      const a = foldAction(dl, at.ins, at.map.layerIndex, threshold);
      if (a) out.push(a);
    }
    return out;
  }
}

export function registerQuickFixes(ll: LayerLensContext): Contribution {
  return {
    disposables: [vscode.languages.registerCodeActionsProvider(DOCKERFILE_SELECTOR, new ExplainCodeActions(ll), { providedCodeActionKinds: ExplainCodeActions.kinds })],
    commands: {},
  };
}
