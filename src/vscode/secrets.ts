// Secrets that ship, in the Problems panel: **Layer Lens: Check Image for Secrets** reads the
// candidate files of every layer of the active Dockerfile's image (and its history) and puts a
// diagnostic on the Dockerfile line that shipped each secret, values masked
// (src/core/contents/secrets.ts). Quick fixes, where one exists: a `.dockerignore` entry for a
// file a COPY brought from the build context, a secret mount for a build argument
// (src/core/present/edits.ts, the edits the CLI would print).
import { existsSync, readFileSync } from 'node:fs';
import * as path from 'node:path';
import * as vscode from 'vscode';
import { parseDockerfile } from '../core/dockerfile/dockerfile';
import { lineOfMapping, scanSecrets, type SecretFinding } from '../core/contents/secrets';
import { secretlintLinter } from '../core/contents/secretlint';
import { secretFixes, type FileEdit } from '../core/present/edits';
import { parseSource } from '../sources/load';
import type { Contribution } from './commands';
import type { LayerLensContext } from './context';
import { DOCKERFILE_SELECTOR } from './dockerfileImages';
import { docLayers } from './explain';

const SOURCE = 'Layer Lens secrets';

function readText(file: string): string | undefined {
  try { return readFileSync(file, 'utf8'); } catch { return undefined; }
}

function describe(f: SecretFinding): string {
  const where = f.path !== undefined
    ? `${f.path}:${f.at} in layer ${f.layer}${f.deletedBy === null ? '' : ` (deleted in layer ${f.deletedBy}, still ships)`}`
    : `the image's history, entry ${f.history}`;
  return `Secret shipped: ${f.message} (${f.rule}) — ${where}`;
}

export class SecretDiagnostics implements vscode.CodeActionProvider {
  static readonly kinds = [vscode.CodeActionKind.QuickFix];
  readonly collection = vscode.languages.createDiagnosticCollection('layerlens-secrets');
  /** The findings behind each document's diagnostics, by line and message. */
  private readonly findings = new Map<string, Map<string, SecretFinding>>();

  constructor(private readonly ll: LayerLensContext) {}

  async check(doc: vscode.TextDocument | undefined): Promise<void> {
    if (!doc || doc.languageId !== 'dockerfile') {
      void vscode.window.showInformationMessage('Layer Lens: open a Dockerfile to check its image for secrets.');
      return;
    }
    const dl = await docLayers(this.ll, doc, { analyze: true });
    if (!dl) {
      void vscode.window.showInformationMessage('Layer Lens: no image for this Dockerfile yet (build it, or open one).');
      return;
    }
    const a = dl.analysis;
    const reader = this.ll.readers.open(await parseSource(dl.source));
    const scan = await vscode.window.withProgress(
      { location: vscode.ProgressLocation.Notification, title: `Layer Lens: checking ${dl.source} for secrets`, cancellable: true },
      async (_p, token) => {
        const ac = new AbortController();
        const sub = token.onCancellationRequested(() => ac.abort());
        try {
          return await scanSecrets(a.index, a.image.history, (layer, want, maxBytes) =>
            reader.readFiles(a.image.diffIds[layer], want, { maxBytes, tarBytes: a.image.layers[layer].tarBytes, signal: ac.signal }),
          await secretlintLinter(), lineOfMapping(dl.mapping));
        } finally {
          sub.dispose();
        }
      });
    const byKey = new Map<string, SecretFinding>();
    const diags: vscode.Diagnostic[] = [];
    for (const f of scan.findings) {
      // A secret of the base image, or of a line the mapping does not know, goes on line 1.
      const line = Math.max(0, Math.min((f.line ?? 1) - 1, doc.lineCount - 1));
      const d = new vscode.Diagnostic(doc.lineAt(line).range, describe(f), vscode.DiagnosticSeverity.Warning);
      d.source = SOURCE;
      d.code = f.rule;
      diags.push(d);
      byKey.set(`${line}|${d.message}`, f);
    }
    this.findings.set(doc.uri.toString(), byKey);
    this.collection.set(doc.uri, diags);
    this.ll.log(`secrets: ${scan.findings.length} found in ${dl.source} (${scan.filesRead} files read in ${scan.layersRead} layers)`);
    if (!scan.findings.length) void vscode.window.showInformationMessage(`Layer Lens: no secret found in ${dl.source}.`);
  }

  provideCodeActions(doc: vscode.TextDocument, _range: vscode.Range, context: vscode.CodeActionContext): vscode.CodeAction[] {
    if (doc.uri.scheme !== 'file') return [];
    const byKey = this.findings.get(doc.uri.toString());
    if (!byKey) return [];
    const dir = path.dirname(doc.uri.fsPath);
    // BuildKit reads <Dockerfile>.dockerignore next to the Dockerfile instead, when it exists.
    const ignoreFile = existsSync(doc.uri.fsPath + '.dockerignore') ? doc.uri.fsPath + '.dockerignore' : path.join(dir, '.dockerignore');
    const model = parseDockerfile(doc.getText());
    const out: vscode.CodeAction[] = [];
    for (const d of context.diagnostics) {
      if (d.source !== SOURCE) continue;
      const f = byKey.get(`${d.range.start.line}|${d.message}`);
      if (!f) continue;
      for (const fix of secretFixes(f, model, doc.getText(), readText(ignoreFile), path.basename(doc.uri.fsPath))) {
        const action = new vscode.CodeAction(fix.title, vscode.CodeActionKind.QuickFix);
        action.diagnostics = [d];
        action.edit = workspaceEdit(fix.edits, doc, ignoreFile);
        out.push(action);
      }
    }
    return out;
  }

  dispose(): void {
    this.collection.dispose();
  }
}

/**
 * FileEdits (relative to the Dockerfile's directory) as a WorkspaceEdit: the Dockerfile's own edits
 * go to its document (`doc`, any scheme), `.dockerignore` to `ignoreFile`.
 */
export function workspaceEdit(edits: readonly FileEdit[], doc: vscode.TextDocument, ignoreFile?: string): vscode.WorkspaceEdit {
  const we = new vscode.WorkspaceEdit();
  const dir = path.dirname(doc.uri.fsPath);
  const name = path.basename(doc.uri.fsPath);
  for (const e of edits) {
    const range = new vscode.Range(e.range.start.line, e.range.start.character, e.range.end.line, e.range.end.character);
    if (e.file === name) { we.replace(doc.uri, range, e.newText); continue; }
    const file = e.file === '.dockerignore' && ignoreFile ? ignoreFile : path.join(dir, e.file);
    const uri = vscode.Uri.file(file);
    if (!existsSync(file)) we.createFile(uri, { ignoreIfExists: true });
    we.replace(uri, range, e.newText);
  }
  return we;
}

export function registerSecrets(ll: LayerLensContext): Contribution<'checkSecrets'> {
  const s = new SecretDiagnostics(ll);
  return {
    disposables: [s, vscode.languages.registerCodeActionsProvider(DOCKERFILE_SELECTOR, s, { providedCodeActionKinds: SecretDiagnostics.kinds })],
    commands: {
      checkSecrets: async () => {
        try {
          await s.check(vscode.window.activeTextEditor?.document);
        } catch (e) {
          void vscode.window.showErrorMessage(`Layer Lens: checking for secrets failed: ${(e as Error).message}`);
        }
      },
    },
  };
}
