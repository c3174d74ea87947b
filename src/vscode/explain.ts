// "Layer Lens: Explain This Layer": a report on one layer's copy-on-write costs in a webview, and
// the resolution that hovers and quick fixes share (Dockerfile → its image's analysis → the layer
// each line made).
//
//   layerLens.explainLayer                from the palette: the layer of the line under the cursor,
//                                         else a quick pick of the shown image's layers
//   layerLens.explainLayer N [uri] [opts]  from a CodeLens (layer index and the Dockerfile);
//                                         opts {preserveFocus: true} keeps focus in the editor;
//                                         opts {stage, source}: a CodeLens of a stage the image
//                                         does not contain: layer N of that stage's own image
//   layerLens.explainLayer {layer: N}     from the Layers view's context menu
//
// The webview has a strict CSP (nothing but its own nonce'd style and script, no remote content),
// follows the theme through VS Code's CSS variables, and draws the layer-size bars as inline SVG.
import { randomBytes } from 'node:crypto';
import * as vscode from 'vscode';
import type { Analysis } from '../core/image/analysis';
import { instructionAtLine, parseDockerfile, type DockerfileInstruction, type DockerfileModel } from '../core/dockerfile/dockerfile';
import {
  DEFAULT_BIG_FILE_THRESHOLD, explainLayer, historyInstruction, instructionRefOf, instructionsByLayer, renderHtml, reportBlocks,
  shortInstruction, type InstructionRef, type LayerExplanation,
} from '../core/present/explain';
import { formatBytes } from '../core/present/format';
import { escapeAttr, escapeHtmlText, webviewPage } from '../core/present/webviewPage';
import { mapHistory, mapImageHistory, type LineMapping, type MappingResult } from '../core/dockerfile/mapping';
import { stageKey } from '../core/dockerfile/stageImages';
import { readPackages, type PackageRow } from '../core/contents/packages';
import { parseSource } from '../sources/load';
import { COMMANDS, type Contribution } from './commands';
import type { LayerLensContext } from './context';

export const EXPLAIN_COMMAND = COMMANDS.explainLayer;
export const EXPLAIN_VIEW_TYPE = 'layerLens.explain';

// ---------------------------------------------------------------------------------------------
// Dockerfile ↔ analyzed image

/** A Dockerfile with the analysis of its image and the line ↔ layer mapping. */
export interface DocLayers {
  doc: vscode.TextDocument;
  source: string;
  analysis: Analysis;
  model: DockerfileModel;
  mapping: MappingResult;
  /** The Dockerfile instruction that made a layer (undefined: base image or unmapped). */
  instructionOf(layer: number): InstructionRef | undefined;
  /** The instruction whose lines contain the 1-based `line`, with its mapping. */
  at(line: number): { ins: DockerfileInstruction; map: LineMapping | undefined } | undefined;
}

const docCache = new WeakMap<Analysis, Map<string, { version: number; dl: DocLayers }>>();

/** The instruction as written, on one line (flags kept, continuation lines joined). */
export const instructionRef = instructionRefOf;

/** Which stage an image is: a stage image's index, else the Dockerfile's image's build target (DocImage.target). */
type ImageStage = { stage: number } | { target: string | null | undefined };

function buildDocLayers(doc: vscode.TextDocument, source: string, analysis: Analysis, which: ImageStage): DocLayers {
  const model = parseDockerfile(doc.getText());
  const sizes = analysis.image.history.map((h) => (h.layerIndex === null ? 0 : analysis.layerSizes[h.layerIndex] ?? 0));
  // The Dockerfile's image: the stage it was built for (as the CodeLens maps it), not the next build's target.
  const mapping = 'stage' in which
    ? mapHistory(model, analysis.image.history, { stage: which.stage, entrySizes: sizes })
    : mapImageHistory(model, analysis.image.history, { target: which.target, entrySizes: sizes });
  const byLayer = instructionsByLayer(model, mapping);
  return {
    doc, source, analysis, model, mapping,
    instructionOf: (layer) => byLayer.get(layer) ?? historyInstruction(analysis.layerHistory[layer]),
    at: (line) => {
      const ins = instructionAtLine(model, line);
      if (!ins) return undefined;
      return { ins, map: mapping.lines.find((m) => m.line === ins.line) };
    },
  };
}

/**
 * The analyzed image of a Dockerfile and its mapping. With `analyze`, reads the image when it is
 * known but not analyzed yet (the shown image becomes that one); without, answers only from the
 * analysis already shown. Null when no image belongs to the file.
 */
export async function docLayers(ll: LayerLensContext, doc: vscode.TextDocument, opts: { analyze: boolean; stage?: StageRef }): Promise<DocLayers | null> {
  if (opts.stage) return stageDocLayers(ll, doc, opts.stage);
  const img = await ll.dockerfiles.imageFor(doc);
  if (!img) return null;
  let shown = ll.images.current;
  if (!shown || shown.analysis.image.id !== img.image.id) {
    if (!opts.analyze) return null;
    shown = await ll.images.show(img.source, { dockerfile: doc.uri });
    if (!shown || shown.analysis.image.id !== img.image.id) return null;
  }
  return cachedDocLayers(doc, img.source, shown.analysis, { target: img.target });
}

/** A stage image of a Dockerfile (a CodeLens of a stage the image does not contain). */
export interface StageRef {
  stage: number;
  source: string;
}

export function stageRefArg(arg: unknown): StageRef | undefined {
  const x = arg as { stage?: unknown; source?: unknown } | undefined;
  return x && typeof x === 'object' && typeof x.stage === 'number' && typeof x.source === 'string' ? { stage: x.stage, source: x.source } : undefined;
}

/** Shows the stage image (the Layers view follows) and maps it with that stage. */
async function stageDocLayers(ll: LayerLensContext, doc: vscode.TextDocument, ref: StageRef): Promise<DocLayers | null> {
  const st = parseDockerfile(doc.getText()).stages[ref.stage];
  if (!st) return null;
  let shown = ll.images.current;
  if (!shown || shown.source !== ref.source || shown.stage?.index !== ref.stage || shown.dockerfile?.toString() !== doc.uri.toString()) {
    shown = await ll.images.show(ref.source, { dockerfile: doc.uri, stage: { index: ref.stage, key: stageKey(st) } });
    if (!shown) return null;
  }
  return cachedDocLayers(doc, ref.source, shown.analysis, { stage: ref.stage });
}

function cachedDocLayers(doc: vscode.TextDocument, source: string, analysis: Analysis, which: ImageStage): DocLayers {
  let perDoc = docCache.get(analysis);
  if (!perDoc) docCache.set(analysis, (perDoc = new Map()));
  const key = `${doc.uri.toString()}|${'stage' in which ? which.stage : `target:${String(which.target)}`}`;
  const hit = perDoc.get(key);
  if (hit && hit.version === doc.version) return hit.dl;
  const dl = buildDocLayers(doc, source, analysis, which);
  perDoc.set(key, { version: doc.version, dl });
  return dl;
}

export function bigFileThreshold(uri?: vscode.Uri): number {
  const v = vscode.workspace.getConfiguration('layerLens', uri).get<number>('hover.bigFileThreshold', DEFAULT_BIG_FILE_THRESHOLD);
  return typeof v === 'number' && Number.isFinite(v) && v > 0 ? v : DEFAULT_BIG_FILE_THRESHOLD;
}

const explainCache = new WeakMap<Analysis, Map<string, LayerExplanation>>();

/** explainLayer, cached per analysis, Dockerfile version and threshold. */
export function explainCached(analysis: Analysis, layer: number, dl: DocLayers | undefined, threshold: number): LayerExplanation {
  let m = explainCache.get(analysis);
  if (!m) explainCache.set(analysis, (m = new Map()));
  const key = `${layer}|${threshold}|${dl ? `${dl.doc.uri.toString()}@${dl.doc.version}` : ''}`;
  let x = m.get(key);
  if (!x) {
    x = explainLayer(analysis, layer, { instructionOf: dl?.instructionOf, bigFileThreshold: threshold });
    if (m.size > 64) m.clear();
    m.set(key, x);
  }
  return x;
}

// ---------------------------------------------------------------------------------------------
// The webview

function nonce(): string {
  return randomBytes(18).toString('base64');
}

const STYLE = `
body { font-family: var(--vscode-font-family); font-size: var(--vscode-font-size); color: var(--vscode-foreground);
  background: var(--vscode-editor-background); padding: 0 20px 24px; line-height: 1.45; max-width: 980px; }
h1 { font-size: 1.35em; font-weight: 600; margin: 18px 0 8px; word-break: break-word; }
h2 { font-size: 1.05em; font-weight: 600; margin: 20px 0 6px; padding-bottom: 3px; border-bottom: 1px solid var(--vscode-panel-border, var(--vscode-widget-border, transparent)); }
code { font-family: var(--vscode-editor-font-family); font-size: 0.95em; background: var(--vscode-textCodeBlock-background); padding: 0 3px; border-radius: 3px; word-break: break-all; }
ul { padding-left: 20px; margin: 4px 0; } li { margin: 3px 0; }
table { border-collapse: collapse; margin: 6px 0; }
th, td { text-align: left; padding: 2px 12px 2px 0; border-bottom: 1px solid var(--vscode-editorWidget-border, transparent); vertical-align: top; }
th { font-weight: 600; } .num { text-align: right; font-variant-numeric: tabular-nums; }
nav { display: flex; gap: 8px; flex-wrap: wrap; margin-top: 14px; }
button { font-family: inherit; font-size: inherit; color: var(--vscode-button-secondaryForeground); background: var(--vscode-button-secondaryBackground);
  border: 1px solid var(--vscode-button-border, transparent); padding: 3px 10px; border-radius: 2px; cursor: pointer; }
button:hover { background: var(--vscode-button-secondaryHoverBackground); }
button:disabled { opacity: 0.5; cursor: default; }
button:focus-visible { outline: 1px solid var(--vscode-focusBorder); outline-offset: 1px; }
.subtitle { color: var(--vscode-descriptionForeground); margin: 2px 0 0; }
figure.bars { margin: 20px 0 0; } figcaption { font-size: 1.05em; font-weight: 600; margin-bottom: 6px; padding-bottom: 3px; border-bottom: 1px solid var(--vscode-panel-border, var(--vscode-widget-border, transparent)); }
svg text { fill: var(--vscode-foreground); font-family: var(--vscode-font-family); font-size: 11px; }
svg text.value { fill: var(--vscode-descriptionForeground); }
svg rect.bar { fill: var(--vscode-charts-blue, var(--vscode-textLink-foreground)); opacity: 0.45; }
svg rect.bar.current { opacity: 1; fill: var(--vscode-charts-orange, var(--vscode-textLink-activeForeground)); }
svg g[data-layer] { cursor: pointer; } svg g[data-layer]:hover rect.bar { opacity: 0.8; }
`;

const SCRIPT = `
const vscode = acquireVsCodeApi();
for (const el of document.querySelectorAll('[data-layer]')) {
  el.addEventListener('click', () => vscode.postMessage({ type: 'explain', layer: Number(el.getAttribute('data-layer')) }));
}
for (const el of document.querySelectorAll('[data-line]')) {
  el.addEventListener('click', () => vscode.postMessage({ type: 'reveal', line: Number(el.getAttribute('data-line')) }));
}
`;

export function reportHtml(x: LayerExplanation, body: string, opts: { dockerfileName?: string; source: string }): string {
  const n = nonce();
  const ins = x.instruction;
  const buttons: string[] = [];
  if (ins?.line !== undefined && opts.dockerfileName) {
    buttons.push(`<button data-line="${ins.line}">Go to ${escapeAttr(opts.dockerfileName)} line ${ins.line}</button>`);
  }
  buttons.push(`<button data-layer="${x.layer - 1}"${x.layer === 0 ? ' disabled' : ''}>◀ Layer ${Math.max(0, x.layer - 1)}</button>`);
  buttons.push(`<button data-layer="${x.layer + 1}"${x.layer + 1 >= x.layerCount ? ' disabled' : ''}>Layer ${Math.min(x.layerCount - 1, x.layer + 1)} ▶</button>`);
  return webviewPage({
    nonce: n, title: `Explain Layer ${x.layer}`, style: STYLE, script: SCRIPT,
    body: `<nav>${buttons.join('')}</nav>
<p class="subtitle">Image ${escapeHtmlText(opts.source)} · ${escapeHtmlText(formatBytes(x.imageSize))} in ${x.layerCount} layers</p>
<main>
${body}
</main>`,
  });
}

/** What one report shows: an analysis, a layer, and (when known) the Dockerfile. */
// The packages of each analysis, read once: by the first hover on a layer's line or by Explain,
// whichever comes first; both list them.
const packageReads = new WeakMap<Analysis, { rows?: PackageRow[]; done: Promise<PackageRow[] | undefined> }>();

/** The image's packages if they have been read; undefined otherwise (nothing is read). */
export function packagesIfRead(analysis: Analysis): PackageRow[] | undefined {
  return packageReads.get(analysis)?.rows;
}

/** Reads the image's package databases once per analysis (undefined when the read fails, logged). */
export function readImagePackages(ll: Pick<LayerLensContext, 'log' | 'readers'>, source: string, analysis: Analysis): Promise<PackageRow[] | undefined> {
  let r = packageReads.get(analysis);
  if (!r) {
    const entry: { rows?: PackageRow[]; done: Promise<PackageRow[] | undefined> } = { done: Promise.resolve(undefined) };
    entry.done = (async () => {
      const reader = ll.readers.open(await parseSource(source));
      const rows = await readPackages(analysis.index, (layer, want, maxBytes) =>
        reader.readFiles(analysis.image.diffIds[layer], want, { maxBytes, tarBytes: analysis.image.layers[layer].tarBytes }));
      entry.rows = rows;
      return rows;
    })().catch((e: unknown) => { ll.log(`packages of ${source}: ${(e as Error).message}`); return undefined; });
    packageReads.set(analysis, (r = entry));
  }
  return r.done;
}

/** How long a hover waits for the first read of the packages before it shows without them. */
export const HOVER_PACKAGES_WAIT_MS = 2500;

/**
 * The packages for a hover on a layer's line: read once per analysis (the first such hover starts
 * the read, later hovers and Explain share it), waited for at most `waitMs` and not after the
 * hover is cancelled. Undefined while the read runs past that, and when it failed (logged: a
 * hover never pops anything up).
 */
export async function packagesForHover(ll: Pick<LayerLensContext, 'log' | 'readers'>, source: string, analysis: Analysis, cancelled?: Promise<unknown>, waitMs = HOVER_PACKAGES_WAIT_MS): Promise<PackageRow[] | undefined> {
  const read = packagesIfRead(analysis);
  if (read) return read;
  let timer: NodeJS.Timeout | undefined;
  const waited = new Promise<undefined>((resolve) => { timer = setTimeout(() => resolve(undefined), waitMs); });
  try {
    return await Promise.race([readImagePackages(ll, source, analysis), waited, ...(cancelled ? [cancelled.then(() => undefined)] : [])]);
  } finally {
    clearTimeout(timer);
  }
}

interface Target {
  analysis: Analysis;
  source: string;
  layer: number;
  dl?: DocLayers;
}

class ExplainPanel {
  private panel: vscode.WebviewPanel | undefined;
  private target: Target | undefined;
  private readonly subs: vscode.Disposable[] = [];

  constructor(private readonly ll: LayerLensContext) {}

  show(t: Target, preserveFocus = false): vscode.WebviewPanel {
    this.target = t;
    if (!this.panel) {
      this.panel = vscode.window.createWebviewPanel(EXPLAIN_VIEW_TYPE, this.title(t), { viewColumn: vscode.ViewColumn.Beside, preserveFocus }, {
        enableScripts: true, enableCommandUris: false, localResourceRoots: [], retainContextWhenHidden: false,
      });
      this.subs.push(
        this.panel.onDidDispose(() => { this.panel = undefined; for (const s of this.subs.splice(0)) s.dispose(); }),
        this.panel.webview.onDidReceiveMessage((m: unknown) => void this.onMessage(m)),
      );
    } else {
      this.panel.reveal(undefined, preserveFocus);
    }
    this.render();
    return this.panel;
  }

  private title(t: Target): string {
    return `Explain Layer ${t.layer}`;
  }

  private render(): void {
    const p = this.panel;
    const t = this.target;
    if (!p || !t) return;
    const x = explainCached(t.analysis, t.layer, t.dl, bigFileThreshold(t.dl?.doc.uri));
    const dockerfileName = t.dl ? vscode.workspace.asRelativePath(t.dl.doc.uri, false) : undefined;
    const packages = packagesIfRead(t.analysis);
    if (!packages) {
      // Listed once read: the report is drawn again then (if it still shows this image).
      void readImagePackages(this.ll, t.source, t.analysis).then((rows) => { if (rows && this.target?.analysis === t.analysis) this.render(); });
    }
    const body = renderHtml(reportBlocks(t.analysis, x, { dockerfile: dockerfileName, packages }));
    p.title = this.title(t);
    p.webview.html = reportHtml(x, body, { dockerfileName, source: t.source });
  }

  private async onMessage(m: unknown): Promise<void> {
    const t = this.target;
    if (!t || !m || typeof m !== 'object') return;
    const msg = m as { type?: unknown; layer?: unknown; line?: unknown };
    if (msg.type === 'explain' && typeof msg.layer === 'number' && Number.isInteger(msg.layer) && msg.layer >= 0 && msg.layer < t.analysis.tree.layers.length) {
      this.target = { ...t, layer: msg.layer };
      this.render();
    } else if (msg.type === 'reveal' && typeof msg.line === 'number' && t.dl) {
      const line = Math.max(0, Math.min(t.dl.doc.lineCount - 1, Math.floor(msg.line) - 1));
      const pos = new vscode.Position(line, 0);
      await vscode.window.showTextDocument(t.dl.doc, { selection: new vscode.Range(pos, pos), viewColumn: vscode.ViewColumn.One });
    }
  }

  dispose(): void {
    this.panel?.dispose();
  }
}

// ---------------------------------------------------------------------------------------------
// The command

/** A command's layer argument: a layer index, or a tree row or lens argument carrying `layer`. */
export function layerArg(arg: unknown): number | undefined {
  if (typeof arg === 'number' && Number.isInteger(arg)) return arg;
  if (arg && typeof arg === 'object' && typeof (arg as { layer?: unknown }).layer === 'number') return (arg as { layer: number }).layer;
  return undefined;
}

async function pickLayer(analysis: Analysis, dl: DocLayers | undefined, placeHolder: string): Promise<number | undefined> {
  type Item = vscode.QuickPickItem & { layer: number };
  const items: Item[] = [];
  for (let i = analysis.tree.layers.length - 1; i >= 0; i--) {
    const ins = dl?.instructionOf(i) ?? historyInstruction(analysis.layerHistory[i]);
    const s = analysis.tree.layers[i];
    items.push({
      label: `Layer ${i} · ${formatBytes(analysis.layerSizes[i] ?? s.fileBytes)}`,
      description: shortInstruction(ins, 80),
      detail: ins?.line !== undefined ? `line ${ins.line}${s.hiddenBytes ? ` · ${formatBytes(s.hiddenBytes)} hidden later` : ''}` : (s.hiddenBytes ? `${formatBytes(s.hiddenBytes)} hidden later` : undefined),
      layer: i,
    });
  }
  const picked = await vscode.window.showQuickPick(items, { placeHolder, matchOnDescription: true, matchOnDetail: true });
  return picked?.layer;
}

async function openDoc(uri: vscode.Uri): Promise<vscode.TextDocument | undefined> {
  try {
    return await vscode.workspace.openTextDocument(uri);
  } catch {
    return undefined;
  }
}

export function registerExplain(ll: LayerLensContext): Contribution<'explainLayer'> {
  const panel = new ExplainPanel(ll);

  const run = async (arg?: unknown, uriArg?: unknown, optsArg?: unknown): Promise<vscode.WebviewPanel | undefined> => {
    const preserveFocus = !!optsArg && typeof optsArg === 'object' && (optsArg as { preserveFocus?: unknown }).preserveFocus === true;
    let layer = layerArg(arg);
    const uri = uriArg instanceof vscode.Uri ? uriArg : undefined;
    const stage = stageRefArg(optsArg);
    let dl: DocLayers | null = null;
    let analysis: Analysis | undefined;
    let source = '';

    if (uri) {
      // From a CodeLens: the layer of that Dockerfile's image.
      const doc = await openDoc(uri);
      dl = doc ? await docLayers(ll, doc, { analyze: true, stage }) : null;
    } else if (layer === undefined) {
      // From the palette: the line under the cursor.
      const editor = vscode.window.activeTextEditor;
      if (editor && editor.document.languageId === 'dockerfile') {
        dl = await docLayers(ll, editor.document, { analyze: true });
        if (!dl && !ll.images.current) {
          void vscode.window.showInformationMessage('Layer Lens: no image for this Dockerfile yet. Build it (Layer Lens: Build Image) or open its image first.', 'Build Image', 'Open Image…')
            .then((a) => { if (a) void vscode.commands.executeCommand(a === 'Build Image' ? COMMANDS.buildImage : COMMANDS.openImage); });
          return undefined;
        }
        const at = dl?.at(editor.selection.active.line + 1);
        if (at?.map && at.map.layerIndex !== null) layer = at.map.layerIndex;
      }
    } else {
      // From the Layers view: the shown image, with its Dockerfile when known.
      const cur = ll.images.current;
      const doc = cur?.dockerfile ? await openDoc(cur.dockerfile) : undefined;
      if (doc) {
        const stageOfShown = cur?.stage ? { stage: cur.stage.index, source: cur.source } : undefined;
        const d = await docLayers(ll, doc, { analyze: false, stage: stageOfShown });
        if (d && d.analysis === cur?.analysis) dl = d;
      }
    }

    if (dl) {
      analysis = dl.analysis;
      source = dl.source;
    } else if (ll.images.current) {
      analysis = ll.images.current.analysis;
      source = ll.images.current.source;
    }
    if (!analysis) {
      const a = await vscode.window.showInformationMessage('Layer Lens: no image is shown. Open a Dockerfile whose image exists, or open an image.', 'Open Image…');
      if (a) void vscode.commands.executeCommand(COMMANDS.openImage);
      return undefined;
    }
    if (layer === undefined) {
      const editor = vscode.window.activeTextEditor;
      const at = dl && editor?.document === dl.doc ? dl.at(editor.selection.active.line + 1) : undefined;
      const why = at ? `Line ${at.ins.line} (${at.ins.keyword}) made no layer of its own. ` : '';
      layer = await pickLayer(analysis, dl ?? undefined, `${why}Explain which layer of ${source}?`);
      if (layer === undefined) return undefined;
    }
    if (layer < 0 || layer >= analysis.tree.layers.length) {
      void vscode.window.showWarningMessage(`Layer Lens: ${source} has no layer ${layer} (it has ${analysis.tree.layers.length}).`);
      return undefined;
    }
    return panel.show({ analysis, source, layer, dl: dl ?? undefined }, preserveFocus);
  };

  return {
    disposables: [panel],
    commands: {
      explainLayer: async (arg?: unknown, uri?: unknown, opts?: unknown) => {
        try {
          return await run(arg, uri, opts);
        } catch (e) {
          ll.log(`explain: ${(e as Error).stack ?? String(e)}`);
          void vscode.window.showErrorMessage(`Layer Lens: cannot explain the layer: ${(e as Error).message}`);
          return undefined;
        }
      },
    },
  };
}
