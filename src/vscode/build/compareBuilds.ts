// Compare with Previous Build (layerLens.compareWithPreviousBuild): the Dockerfile's current image
// against the image of the build recorded before it (the build store: Layer Lens builds and builds
// seen through the engine), path by path with the comparison `layerlens diff` makes
// (sources/load diffImages), grouped by the Dockerfile line whose layer holds each change
// (core/present/buildChanges), in the "Since Previous Build" view of the Layers sidebar. A line
// row shows both images' layer sizes; its children are the paths added, removed or modified, with
// their sizes. Without a previous build, or when its image is gone from the engine, one message
// says so and nothing else happens.
import * as path from 'node:path';
import * as vscode from 'vscode';
import { parseDockerfile } from '../../core/dockerfile/dockerfile';
import { mapImageHistory } from '../../core/dockerfile/mapping';
import type { Analysis } from '../../core/image/analysis';
import type { FileDiff } from '../../core/image/index/diff';
import { changesByLine, fileChangeText, layerLines, type LineChanges } from '../../core/present/buildChanges';
import { signedBytes } from '../../core/present/buildHistory';
import { formatBytes, plural } from '../../core/present/format';
import { diffImages, parseSource } from '../../sources/load';
import type { Contribution } from '../commands';
import type { LayerLensContext } from '../context';
import { pickDockerfile } from './buildImage';

export const CHANGES_VIEW = 'layerLens.buildChanges';
/** Context key: the view has a comparison to show. */
const SHOWN_KEY = 'layerLens.buildChangesShown';

type Row =
  | { kind: 'summary'; text: string; tooltip: string }
  | { kind: 'line'; g: LineChanges; dockerfile: vscode.Uri }
  | { kind: 'file'; f: FileDiff };

function lineLabel(g: LineChanges): string {
  return g.line === null ? g.text : `${g.line}: ${g.text}`;
}

function lineDescription(g: LineChanges): string {
  const sizes = g.oldSize === null ? `new, ${formatBytes(g.newSize ?? 0)}`
    : g.newSize === null ? `gone, was ${formatBytes(g.oldSize)}`
      : g.oldSize === g.newSize ? formatBytes(g.newSize) : `${formatBytes(g.oldSize)} → ${formatBytes(g.newSize)} (${signedBytes(g.newSize - g.oldSize)})`;
  const counts = [g.added ? `${g.added} added` : '', g.removed ? `${g.removed} removed` : '', g.modified ? `${g.modified} modified` : ''].filter(Boolean).join(', ');
  return `${sizes} · ${counts || 'rebuilt, no file differs'}`;
}

class ChangesProvider implements vscode.TreeDataProvider<Row> {
  private readonly emitter = new vscode.EventEmitter<void>();
  readonly onDidChangeTreeData = this.emitter.event;
  private rows: Row[] = [];

  set(rows: Row[]): void {
    this.rows = rows;
    this.emitter.fire();
  }

  getChildren(el?: Row): Row[] {
    if (!el) return this.rows;
    return el.kind === 'line' ? el.g.files.map((f) => ({ kind: 'file', f })) : [];
  }

  getTreeItem(el: Row): vscode.TreeItem {
    if (el.kind === 'summary') {
      const t = new vscode.TreeItem(el.text, vscode.TreeItemCollapsibleState.None);
      t.tooltip = el.tooltip;
      t.iconPath = new vscode.ThemeIcon('git-compare');
      return t;
    }
    if (el.kind === 'line') {
      const t = new vscode.TreeItem(lineLabel(el.g), el.g.files.length > 0 ? vscode.TreeItemCollapsibleState.Expanded : vscode.TreeItemCollapsibleState.None);
      t.description = lineDescription(el.g);
      t.tooltip = `${lineLabel(el.g)}\n${lineDescription(el.g)}\nlayers: previous ${el.g.oldLayers.map((l) => `L${l}`).join(' ') || 'none'}, current ${el.g.newLayers.map((l) => `L${l}`).join(' ') || 'none'}`;
      t.contextValue = 'buildChangeLine';
      if (el.g.line !== null) {
        const line = el.g.line - 1;
        t.command = { title: 'Go to Dockerfile Line', command: 'vscode.open', arguments: [el.dockerfile, { selection: new vscode.Range(line, 0, line, 0), preserveFocus: true }] };
      }
      return t;
    }
    const t = new vscode.TreeItem(el.f.path, vscode.TreeItemCollapsibleState.None);
    t.description = fileChangeText(el.f, formatBytes);
    t.iconPath = new vscode.ThemeIcon(el.f.change === 'added' ? 'diff-added' : el.f.change === 'removed' ? 'diff-removed' : 'diff-modified');
    t.tooltip = `${el.f.path}: ${fileChangeText(el.f, formatBytes)} (L${el.f.layer} of the ${el.f.change === 'removed' ? 'previous' : 'current'} image)`;
    return t;
  }
}

/** The mapping of an image's history onto the Dockerfile, for the target it was built for when known. */
function linesOf(text: string, a: Analysis, target: string | null | undefined): ReturnType<typeof layerLines> {
  const model = parseDockerfile(text);
  const sizes = a.image.history.map((h) => (h.layerIndex === null ? 0 : a.layerSizes[h.layerIndex] ?? 0));
  return layerLines(model, mapImageHistory(model, a.image.history, { target, entrySizes: sizes }), a.image.layers.length);
}

export function registerCompareBuilds(ll: LayerLensContext): Contribution<'compareWithPreviousBuild'> {
  const provider = new ChangesProvider();
  const view = vscode.window.createTreeView(CHANGES_VIEW, { treeDataProvider: provider, showCollapseAll: true });

  const fail = (message: string): void => {
    ll.log(`compare with previous build: ${message}`);
    void vscode.window.showInformationMessage(`Layer Lens: ${message}`);
  };

  const compare = async (arg?: unknown): Promise<void> => {
    // The Dockerfile given, else the active one, else the shown image's, else one picked.
    let uri = arg instanceof vscode.Uri ? arg : undefined;
    const active = vscode.window.activeTextEditor?.document;
    if (!uri && active?.languageId === 'dockerfile') uri = active.uri;
    uri ??= ll.images.current?.dockerfile ?? await pickDockerfile('compare');
    if (!uri) return;
    const name = path.basename(uri.fsPath);
    const doc = await vscode.workspace.openTextDocument(uri);
    let current;
    try {
      current = await ll.dockerfiles.imageFor(doc);
    } catch (e) {
      fail(`cannot find the image of ${name}: ${(e as Error).message}`);
      return;
    }
    if (!current) {
      fail(`${name} has no image yet: build it (Layer Lens: Build Image) before comparing builds.`);
      return;
    }
    const prev = ll.builds.previousBuild(uri, current.image.id);
    if (!prev || prev.record.imageId === null) {
      fail(`no previous build of ${name} is recorded: the image ${current.source} is the only one. Build it again to compare.`);
      return;
    }
    const prevId = prev.record.imageId;
    const short = prevId.replace(/^sha256:/, '').slice(0, 12);
    try {
      await ll.engine.get().inspectImage(prevId);
    } catch {
      fail(`the previous build's image (${prev.record.tag}, ${short}) is no longer in the engine: nothing to compare ${current.source} with.`);
      return;
    }
    try {
      const old = await ll.images.read(prevId);
      const neu = await ll.images.read(current.source);
      const files = await vscode.window.withProgress(
        { location: vscode.ProgressLocation.Notification, title: `Layer Lens: comparing ${current.source} with the previous build`, cancellable: true },
        async (_p, token) => {
          const ac = new AbortController();
          const sub = token.onCancellationRequested(() => ac.abort());
          try {
            return await diffImages(
              { analysis: old, reader: ll.readers.open(await parseSource(prevId)) },
              { analysis: neu, reader: ll.readers.open(await parseSource(current.source)) }, ac.signal);
          } finally {
            sub.dispose();
          }
        });
      const text = doc.getText();
      const groups = changesByLine(files,
        { lines: linesOf(text, old, prev.record.target), layerSizes: old.layerSizes, diffIds: old.image.diffIds },
        { lines: linesOf(text, neu, current.target), layerSizes: neu.layerSizes, diffIds: neu.image.diffIds });
      const when = new Date(prev.record.finishedAt).toISOString().replace('T', ' ').replace(/\.\d+Z$/, 'Z');
      const summary = `${current.source} vs previous build ${prev.record.tag} (${short}, ${when}): ${signedBytes(neu.totalSize - old.totalSize)}, ${plural(files.length, 'path')} changed`;
      provider.set([
        { kind: 'summary', text: summary, tooltip: `${formatBytes(old.totalSize)} → ${formatBytes(neu.totalSize)}` },
        ...groups.map((g): Row => ({ kind: 'line', g, dockerfile: uri })),
      ]);
      view.message = groups.length === 0 ? 'No file differs from the previous build.' : undefined;
      await vscode.commands.executeCommand('setContext', SHOWN_KEY, true);
      await vscode.commands.executeCommand(`${CHANGES_VIEW}.focus`);
      ll.log(`compared ${current.source} with ${prevId}: ${files.length} path(s) in ${groups.length} line(s)`);
    } catch (e) {
      if ((e as Error).name === 'CancelledError') return;
      fail(`cannot compare with the previous build: ${(e as Error).message}`);
    }
  };

  return { disposables: [view], commands: { compareWithPreviousBuild: compare } };
}
