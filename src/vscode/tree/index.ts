// The "Layers" sidebar: both tree views, their commands, and the `layerlens:` file system.
//
// Commands (package.json contributes them):
//   layerLens.openImage [source]      show an image: a source string, else a quick pick of engine
//                                     images + Open Archive… + Open OCI Layout… (or type a source)
//   layerLens.refresh                 re-read the shown image
//   layerLens.findFile [path]         quick pick over every path (fuzzy, on name and folder); reveals it
//   layerLens.chooseLayer [layer]     the Merged Filesystem view shows one layer's changes (or all)
//   layerLens.toggleWasteFilter       only rows that carry hidden (shipped but invisible) bytes
//   layerLens.revealLayer [layer]     select a layer in the Layers view (a number, or {layer}; with
//                                     {layer, focus: false, expand: false}: without taking focus,
//                                     without expanding the row)
//   layerLens.revealLine [row]        open the Dockerfile at the line that made a row's layer
//   layerLens.openFileVersion [row]   open one version read-only (layerlens: URI)
//   layerLens.compareWithVisible [row] diff a hidden copy against the visible version
import * as path from 'node:path';
import * as vscode from 'vscode';
import { formatBytes } from '../../core/present/format';
import { TreeModel, layerLinesFromDockerfile, type FilesMode, type TreeEl } from '../../core/present/treeModel';
import { COMMANDS, type Contribution } from '../commands';
import type { LayerLensContext } from '../context';
import { layerArg } from '../explain';
import type { ShownImage } from '../imageService';
import { compareWithVisible, openFileVersion, registerLayerFs, type VersionTarget } from '../layerFs';
import { layerLinesOf, type LayerLines } from './lines';
import { FilesProvider, LayersProvider, RowDecorations } from './providers';

export const LAYERS_VIEW = 'layerLens.layers';
export const FILES_VIEW = 'layerLens.files';

function message(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}

/** Shows `source`; errors become one notification (a cancel is silent). */
async function showImage(ll: LayerLensContext, source: string, opts: { force?: boolean; dockerfile?: vscode.Uri } = {}): Promise<boolean> {
  try {
    return (await ll.images.show(source, opts)) !== undefined;
  } catch (e) {
    if (e instanceof Error && e.name === 'CancelledError') return false;
    ll.log(`open ${source}: ${message(e)}`);
    void vscode.window.showErrorMessage(`Layer Lens: cannot open ${source}: ${message(e)}`);
    return false;
  }
}

interface SourcePick extends vscode.QuickPickItem {
  source?: string;
  action?: 'archive' | 'oci';
}

function age(seconds: number): string {
  const d = Date.now() / 1000 - seconds;
  if (d < 3600) return `${Math.max(1, Math.round(d / 60))} min ago`;
  if (d < 86400 * 2) return `${Math.round(d / 3600)} h ago`;
  return `${Math.round(d / 86400)} days ago`;
}

/** Quick pick of engine images + Open Archive… + Open OCI Layout…; a typed value (a registry:// reference too) is taken as a source. */
async function pickSource(ll: LayerLensContext): Promise<string | undefined> {
  const qp = vscode.window.createQuickPick<SourcePick>();
  qp.title = 'Layer Lens: Open Image';
  qp.placeholder = 'Pick an image, or type a name, docker-archive:PATH, oci:DIR or registry://HOST/REPO:TAG';
  qp.matchOnDescription = true;
  const fixed: SourcePick[] = [
    { label: '$(file-zip) Open Archive…', detail: 'A `docker save` tar (or an OCI layout packed in a tar)', action: 'archive', alwaysShow: true },
    { label: '$(folder) Open OCI Layout…', detail: 'A directory holding index.json', action: 'oci', alwaysShow: true },
  ];
  let listed: SourcePick[] = [];
  // What the user types is a source too: offered first, so Enter opens it.
  const typed = (): SourcePick[] => {
    const v = qp.value.trim();
    if (!v || listed.some((i) => i.source === v)) return [];
    return [{ label: `$(arrow-right) ${v}`, description: 'open this source', source: v, alwaysShow: true }];
  };
  const render = (): void => {
    qp.items = [...typed(), ...listed, ...(listed.length ? [{ label: '', kind: vscode.QuickPickItemKind.Separator }] : []), ...fixed];
  };
  qp.onDidChangeValue(render);
  render();
  qp.busy = true;
  const list = (async () => {
    try {
      const images = await ll.engine.get().listImages();
      const items: SourcePick[] = [];
      for (const img of images.sort((a, b) => b.created - a.created)) {
        const tags = img.repoTags.filter((t) => t !== '<none>:<none>');
        const desc = `${img.id.slice(7, 19)} · ${formatBytes(img.size)} · ${age(img.created)}`;
        if (tags.length === 0) items.push({ label: `$(package) ${img.id.slice(7, 19)}`, description: `<none> · ${desc}`, source: img.id });
        for (const t of tags) items.push({ label: `$(package) ${t}`, description: desc, source: t });
      }
      return [{ label: 'Engine images', kind: vscode.QuickPickItemKind.Separator }, ...items];
    } catch (e) {
      return [{ label: '$(warning) No engine', description: message(e), alwaysShow: true } as SourcePick];
    }
  })();
  void list.then((engineItems) => {
    listed = engineItems;
    render();
    qp.busy = false;
  });
  const choice = await new Promise<SourcePick | string | undefined>((resolve) => {
    qp.onDidAccept(() => {
      const sel = qp.selectedItems[0];
      if (sel && (sel.source || sel.action)) resolve(sel);
      else if (!sel && qp.value.trim()) resolve(qp.value.trim());
    });
    qp.onDidHide(() => resolve(undefined));
    qp.show();
  });
  qp.dispose();
  if (choice === undefined || typeof choice === 'string') return choice;
  if (choice.source) return choice.source;
  if (choice.action === 'archive') {
    const uris = await vscode.window.showOpenDialog({
      canSelectFiles: true, canSelectFolders: false, canSelectMany: false, title: 'Open Image Archive',
      filters: { 'Image archives': ['tar', 'tgz', 'gz'], 'All files': ['*'] },
    });
    return uris?.[0] ? `docker-archive:${uris[0].fsPath}` : undefined;
  }
  const uris = await vscode.window.showOpenDialog({ canSelectFiles: false, canSelectFolders: true, canSelectMany: false, title: 'Open OCI Image Layout' });
  return uris?.[0] ? `oci:${uris[0].fsPath}` : undefined;
}

/** Resolves what a command got (a tree row, {path, layer}, or nothing) to a version. */
function versionOf(model: TreeModel | undefined, arg: unknown, mode: FilesMode): VersionTarget | undefined {
  if (!arg || typeof arg !== 'object') return undefined;
  const a = arg as Partial<TreeEl> & Partial<VersionTarget>;
  if (model && typeof a.kind === 'string') {
    const row = model.row(arg as TreeEl, mode);
    return row.path !== undefined && row.layer !== undefined ? { path: row.path, layer: row.layer } : undefined;
  }
  if (typeof a.path === 'string' && typeof a.layer === 'number') return { path: a.path, layer: a.layer };
  return undefined;
}

type SidebarCommands = 'openImage' | 'refresh' | 'findFile' | 'chooseLayer' | 'toggleWasteFilter' | 'revealLayer' | 'revealLine' | 'openFileVersion' | 'compareWithVisible' | 'showMore';

export function registerLayersSidebar(ll: LayerLensContext): Contribution<SidebarCommands> {
  const layers = new LayersProvider();
  const files = new FilesProvider();
  const layersView = vscode.window.createTreeView(LAYERS_VIEW, { treeDataProvider: layers, showCollapseAll: true });
  const filesView = vscode.window.createTreeView(FILES_VIEW, { treeDataProvider: files, showCollapseAll: true });
  let model: TreeModel | undefined;

  const describeFiles = (): void => {
    const m = files.filesMode;
    const parts: string[] = [];
    if (m.layer !== undefined) parts.push(`L${m.layer} changes`);
    if (m.wasteOnly) parts.push('hidden bytes only');
    filesView.description = parts.join(' · ') || undefined;
    filesView.message = model && m.layer !== undefined
      ? `Changes of ${model.layerRef(m.layer)}. Show One Layer's Changes… to go back to the merged filesystem.`
      : undefined;
  };

  /** Explicit lines on the ShownImage win; else the Dockerfile it came from is mapped here. */
  const linesFor = async (cur: ShownImage | undefined): Promise<LayerLines> => {
    const explicit = layerLinesOf(cur);
    if (explicit.lineForLayer || !cur) return explicit;
    try {
      const doc = cur.dockerfile ? await vscode.workspace.openTextDocument(cur.dockerfile) : await openDockerfileOf(cur);
      if (!doc) return explicit;
      // A stage image (opened from a lens of a stage the image does not contain) maps with its stage.
      // The Dockerfile's image: the target it was built for when known (the next build's target,
      // layerLens.build.target, says nothing about this image); else the stage that matches best.
      let target: string | number | undefined = cur.stage?.index;
      if (target === undefined) {
        const img = await ll.dockerfiles.imageFor(doc).catch(() => null);
        if (img && img.image.id === cur.analysis.image.id && typeof img.target === 'string') target = img.target;
      }
      const mapped = layerLinesFromDockerfile(doc.getText(), cur.analysis.image.history, { stage: target });
      if (!mapped) return explicit;
      return { lineForLayer: (l) => mapped.lines.get(l), baseLayerCount: explicit.baseLayerCount ?? mapped.baseLayerCount };
    } catch (e) {
      ll.log(`tree: cannot map ${cur.dockerfile?.toString() ?? "an open Dockerfile"} to ${cur.source}: ${message(e)}`);
      return explicit;
    }
  };

  /** A Dockerfile open in an editor whose image (as the CodeLens resolved it) is the shown one. */
  const openDockerfileOf = async (cur: ShownImage): Promise<vscode.TextDocument | undefined> => {
    const editors = [vscode.window.activeTextEditor, ...vscode.window.visibleTextEditors];
    for (const ed of editors) {
      const doc = ed?.document;
      if (!doc || doc.languageId !== 'dockerfile') continue;
      const img = await ll.dockerfiles.imageFor(doc).catch(() => null);
      if (img && img.image.id === cur.analysis.image.id) {
        dockerfileOfShown = doc.uri;
        return doc;
      }
    }
    return undefined;
  };
  /** The Dockerfile the current tree was mapped from, when it did not come with the ShownImage. */
  let dockerfileOfShown: vscode.Uri | undefined;

  let generation = 0;
  /** The latest rebuild: commands that need the tree of the image just shown wait for it. */
  let latest: Promise<void> = Promise.resolve();
  const rebuild = (): Promise<void> => (latest = rebuildTree());
  /** Resolves once no rebuild is pending (a rebuild may start while another is awaited). */
  const settled = async (): Promise<void> => {
    for (let p = latest; ; p = latest) {
      await p.catch(() => undefined);
      if (p === latest) return;
    }
  };
  const rebuildTree = async (): Promise<void> => {
    const gen = ++generation;
    const cur = ll.images.current;
    dockerfileOfShown = undefined;
    const lines = await linesFor(cur);
    if (gen !== generation) return;
    model = cur ? new TreeModel(cur.analysis, lines) : undefined;
    const ctx = { dockerfile: cur?.dockerfile ?? dockerfileOfShown };
    if (model && files.filesMode.layer !== undefined && files.filesMode.layer >= model.tree.layers.length) {
      files.filesMode = { wasteOnly: files.filesMode.wasteOnly };
    }
    layers.setModel(model, ctx);
    files.setModel(model, ctx);
    layersView.description = model?.imageSummary();
    describeFiles();
    void vscode.commands.executeCommand('setContext', 'layerLens.imageShown', !!model);
  };
  void rebuild();

  const setMode = (mode: FilesMode): void => {
    files.setMode(mode);
    describeFiles();
  };

  const revealPath = async (p: string): Promise<boolean> => {
    if (!model) return false;
    const node = model.tree.lookup(p);
    if (!node || node === model.tree.root) return false;
    // The path must be in the view: back to the merged filesystem without the filter.
    if (files.filesMode.layer !== undefined || files.filesMode.wasteOnly) setMode({ wasteOnly: false });
    const el = model.entryEl(node);
    // Directories list a page of children at a time: each one on the way lists pages up to it.
    for (const owner of model.showEntry(el)) files.refresh(owner);
    await filesView.reveal(el, { select: true, focus: true, expand: node.type === 'dir' });
    return true;
  };

  const needImage = (): boolean => {
    if (model) return true;
    void vscode.window.showInformationMessage('Layer Lens: no image is shown yet.', 'Open Image…').then((a) => {
      if (a) void vscode.commands.executeCommand(COMMANDS.openImage);
    });
    return false;
  };

  const pickLayer = async (title: string, withAll: boolean): Promise<number | 'all' | undefined> => {
    if (!model) return undefined;
    const m = model;
    type P = vscode.QuickPickItem & { layer: number | 'all' };
    const items: P[] = [];
    if (withAll) items.push({ label: '$(files) All layers', description: 'the merged filesystem', layer: 'all' });
    for (let i = m.tree.layers.length - 1; i >= 0; i--) {
      const s = m.tree.layers[i];
      const line = m.line(i);
      items.push({
        label: `L${i}${line !== undefined ? ` · line ${line}` : ''}`,
        description: `${formatBytes(m.analysis.layerSizes[i] ?? s.fileBytes)} · ${m.instruction(i)}`,
        detail: `${s.added} added · ${s.modified} modified · ${s.deleted} deleted${s.hiddenBytes ? ` · ${formatBytes(s.hiddenBytes)} hidden later` : ''}`,
        layer: i,
        picked: files.filesMode.layer === i,
      });
    }
    const pick = await vscode.window.showQuickPick(items, { title, matchOnDescription: true, matchOnDetail: false, placeHolder: 'Pick a layer (top first)' });
    return pick?.layer;
  };

  const commands: Contribution<SidebarCommands>['commands'] = {
    openImage: async (arg?: unknown) => {
      if (typeof arg === 'string' && arg.trim()) return showImage(ll, arg.trim());
      if (arg instanceof vscode.Uri) return showImage(ll, arg.fsPath);
      const source = await pickSource(ll);
      if (!source) return false;
      const ok = await showImage(ll, source);
      if (ok) void vscode.commands.executeCommand(`${LAYERS_VIEW}.focus`);
      return ok;
    },
    refresh: async () => {
      const cur = ll.images.current;
      if (!cur) return vscode.commands.executeCommand(COMMANDS.openImage);
      return showImage(ll, cur.source, { force: true, dockerfile: cur.dockerfile });
    },
    findFile: async (arg?: unknown) => {
      if (!needImage() || !model) return;
      if (typeof arg === 'string') return revealPath(arg);
      const m = model;
      type P = vscode.QuickPickItem & { path: string };
      const items: P[] = [];
      for (const { path: p, node } of m.paths()) {
        const dir = path.posix.dirname(p);
        const what = !node.live ? `deleted by L${node.deletedBy ?? '?'}` : node.type === 'dir' ? 'dir' : `L${node.layer}`;
        items.push({
          label: `${node.type === 'dir' ? '$(folder)' : '$(file)'} ${node.name}`,
          description: `${dir === '/' ? '/' : dir + '/'} · ${what}`,
          path: p,
        });
      }
      const pick = await vscode.window.showQuickPick(items, {
        title: `Find File in ${m.imageSummary()}`, placeHolder: `${items.length.toLocaleString('en-US')} paths: type part of a name or folder`,
        matchOnDescription: true,
      });
      if (pick) await revealPath(pick.path);
    },
    chooseLayer: async (arg?: unknown) => {
      if (!needImage() || !model) return;
      const direct = layerArg(arg);
      const pick = direct ?? (arg === 'all' ? 'all' : await pickLayer("Show One Layer's Changes", true));
      if (pick === undefined) return;
      if (pick !== 'all' && (pick < 0 || pick >= model.tree.layers.length)) return;
      setMode({ wasteOnly: files.filesMode.wasteOnly, layer: pick === 'all' ? undefined : pick });
      void vscode.commands.executeCommand(`${FILES_VIEW}.focus`);
    },
    toggleWasteFilter: () => {
      setMode({ ...files.filesMode, wasteOnly: !files.filesMode.wasteOnly });
    },
    revealLayer: async (arg?: unknown) => {
      // An image shown a moment ago (a CodeLens click shows its Dockerfile's image first) gets its
      // tree built asynchronously: reveal in that tree, not the previous one.
      await settled();
      if (!needImage() || !model) return;
      const direct = layerArg(arg);
      const pick = direct ?? await pickLayer('Reveal Layer', false);
      if (typeof pick !== 'number') return;
      const el = model.layerEl(pick);
      if (!el) return;
      // {focus: false}: opens the view and selects the row, keyboard focus stays where it was;
      // {expand: false}: the row is not expanded to its changes.
      const opts = arg && typeof arg === 'object' ? arg as { focus?: unknown; expand?: unknown } : {};
      await layersView.reveal(el, { select: true, focus: opts.focus !== false, expand: opts.expand !== false });
    },
    revealLine: async (arg?: unknown) => {
      // From a row's context menu (a layer, a file, a copy, a change), or {layer} / a layer index.
      if (!model) return;
      const el = arg && typeof arg === 'object' && typeof (arg as { kind?: unknown }).kind === 'string' ? arg as TreeEl : undefined;
      const layer = el ? model.row(el).layer : layerArg(arg);
      const line = layer !== undefined ? model.line(layer) : undefined;
      const dockerfile = ll.images.current?.dockerfile ?? dockerfileOfShown;
      if (layer === undefined || line === undefined || !dockerfile) {
        void vscode.window.showInformationMessage(layer === undefined
          ? 'Layer Lens: pick a layer or file row to go to its Dockerfile line.'
          : `Layer Lens: L${layer} is not mapped to a line of an open Dockerfile.`);
        return;
      }
      const pos = new vscode.Position(line - 1, 0);
      await vscode.window.showTextDocument(dockerfile, { selection: new vscode.Range(pos, pos), preview: true });
    },
    openFileVersion: (arg?: unknown) => openFileVersion(ll, versionOf(model, arg, files.filesMode) ?? (filesView.selection[0] ? versionOf(model, filesView.selection[0], files.filesMode) : undefined)),
    showMore: (arg?: unknown) => {
      const el = arg as TreeEl | undefined;
      if (!model || el?.kind !== 'more') return;
      // A "more" row of a layer's changes may be in either view.
      const owner = model.showMore(el);
      layers.refresh(owner);
      files.refresh(owner);
    },
    compareWithVisible: (arg?: unknown) => compareWithVisible(ll, versionOf(model, arg, files.filesMode) ?? (filesView.selection[0] ? versionOf(model, filesView.selection[0], files.filesMode) : undefined)),
  };

  return {
    disposables: [
      layers, files, layersView, filesView,
      vscode.window.registerFileDecorationProvider(new RowDecorations()),
      ll.images.onDidChange(() => void rebuild()),
      vscode.workspace.onDidSaveTextDocument((d) => {
        const df = ll.images.current?.dockerfile ?? dockerfileOfShown;
        if (df?.toString() === d.uri.toString()) void rebuild();
      }),
      // An image shown without its Dockerfile gets lines once a Dockerfile that built it is opened.
      vscode.window.onDidChangeActiveTextEditor((ed) => {
        const cur = ll.images.current;
        if (cur && !cur.dockerfile && !dockerfileOfShown && ed?.document.languageId === 'dockerfile') void rebuild();
      }),
      ll.onDidChangeDockerfiles(() => {
        const cur = ll.images.current;
        if (cur && !cur.dockerfile && !dockerfileOfShown) void rebuild();
      }),
      // Engine work (the event stream, the history prefetch) starts once the views are shown.
      ...[layersView, filesView].map((view) => {
        if (view.visible) ll.start();
        return view.onDidChangeVisibility((e) => { if (e.visible) ll.start(); });
      }),
      ...registerLayerFs(ll),
    ],
    commands,
  };
}
