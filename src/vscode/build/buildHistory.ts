// Show Build History (layerLens.showBuildHistory): the recorded builds of a Dockerfile (the build
// store, shared with `layerlens history`) in a webview beside the editor: a bar per build for the
// image's size, so that its trend is visible at a glance, the builds with time, size and its
// change, duration, lines built and cached and build args, and each line's result and duration per
// build (core/present/buildHistory). The page follows new builds while it is open; a click on a
// line number goes to that line.
import { randomBytes } from 'node:crypto';
import * as path from 'node:path';
import * as vscode from 'vscode';
import { historyHtmlBody, historyRows } from '../../core/present/buildHistory';
import { escapeHtmlText, webviewPage } from '../../core/present/webviewPage';
import type { Contribution } from '../commands';
import type { LayerLensContext } from '../context';
import { pickDockerfile } from './buildImage';

export const HISTORY_VIEW_TYPE = 'layerLens.buildHistory';

const STYLE = `
body { font-family: var(--vscode-font-family); font-size: var(--vscode-font-size); color: var(--vscode-foreground);
  background: var(--vscode-editor-background); padding: 0 20px 24px; line-height: 1.45; }
h1 { font-size: 1.35em; font-weight: 600; margin: 18px 0 8px; }
h2 { font-size: 1.05em; font-weight: 600; margin: 20px 0 6px; padding-bottom: 3px; border-bottom: 1px solid var(--vscode-panel-border, var(--vscode-widget-border, transparent)); }
table { border-collapse: collapse; margin: 6px 0; }
th, td { text-align: left; padding: 2px 12px 2px 0; border-bottom: 1px solid var(--vscode-editorWidget-border, transparent); vertical-align: top; }
th { font-weight: 600; } .num { text-align: right; font-variant-numeric: tabular-nums; }
td.cached { color: var(--vscode-descriptionForeground); } td.failed { color: var(--vscode-errorForeground); }
a { color: var(--vscode-textLink-foreground); text-decoration: none; cursor: pointer; }
figure.bars { margin: 16px 0 0; } figcaption { font-weight: 600; margin-bottom: 6px; }
svg text { fill: var(--vscode-foreground); font-family: var(--vscode-font-family); font-size: 11px; }
svg text.value { fill: var(--vscode-descriptionForeground); }
svg rect.bar { fill: var(--vscode-charts-blue, var(--vscode-textLink-foreground)); opacity: 0.55; }
svg rect.bar.current { opacity: 1; fill: var(--vscode-charts-orange, var(--vscode-textLink-activeForeground)); }
svg rect.bar.failed { fill: var(--vscode-charts-red, var(--vscode-errorForeground)); }
`;

const SCRIPT = `
const vscode = acquireVsCodeApi();
for (const el of document.querySelectorAll('[data-line]')) {
  el.addEventListener('click', (e) => { e.preventDefault(); vscode.postMessage({ type: 'reveal', line: Number(el.getAttribute('data-line')) }); });
}
`;

function pageHtml(body: string, title: string): string {
  return webviewPage({ nonce: randomBytes(18).toString('base64'), title, style: STYLE, script: SCRIPT, body: `<h1>${escapeHtmlText(title)}</h1>\n${body}` });
}

export function registerBuildHistory(ll: LayerLensContext): Contribution<'showBuildHistory'> {
  const panels = new Map<string, vscode.WebviewPanel>();

  const render = (uri: vscode.Uri, panel: vscode.WebviewPanel): void => {
    const name = vscode.workspace.asRelativePath(uri);
    panel.webview.html = pageHtml(historyHtmlBody(historyRows(ll.builds.history(uri)), name), `Build History · ${name}`);
  };

  const show = async (arg?: unknown): Promise<void> => {
    const uri = arg instanceof vscode.Uri ? arg : await pickDockerfile('show the build history of');
    if (!uri) return;
    const key = uri.toString();
    const open = panels.get(key);
    if (open) {
      render(uri, open);
      open.reveal(vscode.ViewColumn.Beside, true);
      return;
    }
    const panel = vscode.window.createWebviewPanel(HISTORY_VIEW_TYPE, `Build History · ${path.basename(uri.fsPath)}`, { viewColumn: vscode.ViewColumn.Beside, preserveFocus: true }, {
      enableScripts: true, enableCommandUris: false, localResourceRoots: [], retainContextWhenHidden: false,
    });
    panels.set(key, panel);
    const subs = [
      // A new build of this file (or one seen through the engine): the page follows.
      ll.builds.onDidChange((u) => { if (u.toString() === key) render(uri, panel); }),
      panel.webview.onDidReceiveMessage(async (m: { type?: unknown; line?: unknown }) => {
        if (m?.type !== 'reveal' || typeof m.line !== 'number' || !Number.isInteger(m.line) || m.line < 1) return;
        const line = m.line - 1;
        await vscode.window.showTextDocument(uri, { viewColumn: vscode.ViewColumn.One, selection: new vscode.Range(line, 0, line, 0) });
      }),
    ];
    panel.onDidDispose(() => {
      panels.delete(key);
      for (const s of subs) s.dispose();
    });
    render(uri, panel);
  };

  return {
    disposables: [{ dispose: () => { for (const p of [...panels.values()]) p.dispose(); } }],
    commands: { showBuildHistory: show },
  };
}
