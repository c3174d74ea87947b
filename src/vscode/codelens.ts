// CodeLens above every Dockerfile instruction: the size of the layer the line built and its cache
// status. Sizes come from the engine's history (inspect + history only, never layer contents), or
// from the analysis for archives. Recomputed on save, on image changes and on engine events,
// debounced; a half-typed file never raises a popup (errors go to the output channel and lenses).
import * as vscode from 'vscode';
import { formatBytes } from '../core/present/format';
import { lensLabel, withDeletions } from '../core/present/lines';
import { explainLayer } from '../core/present/explain';
import type { DockerfileModel } from '../core/dockerfile/dockerfile';
import type { StageWithoutImage } from './build/stageStore';
import { COMMANDS, type Contribution } from './commands';
import type { LayerLensContext } from './context';
import { DOCKERFILE_SELECTOR, type DockerfileImages } from './dockerfileImages';

/** On the FROM line of each stage without a usable image (and no sizes from a derived stage's): build it. */
function stageBuildLenses(missing: readonly StageWithoutImage[], doc: vscode.TextDocument, model: DockerfileModel, sized: ReadonlySet<number>): vscode.CodeLens[] {
  const out: vscode.CodeLens[] = [];
  for (const m of missing) {
    const st = model.stages[m.stage];
    if (!st || sized.has(st.line) || st.line - 1 >= doc.lineCount) continue;
    const title = m.why === 'stale' ? 'stage image out of date · build stage to see sizes'
      : m.why === 'unavailable' ? 'stage image gone · build stage to see sizes' : 'build stage to see sizes';
    out.push(new vscode.CodeLens(new vscode.Range(st.line - 1, 0, st.line - 1, 0), {
      title, command: COMMANDS.buildStageImages, arguments: [doc.uri, m.key],
      tooltip: `Build stage ${st.name ?? st.index} as its own target (cached steps are reused) so that its lines get sizes`,
    }));
  }
  return out;
}

class LayerCodeLensProvider implements vscode.CodeLensProvider {
  private readonly emitter = new vscode.EventEmitter<void>();
  readonly onDidChangeCodeLenses = this.emitter.event;

  constructor(private readonly ll: LayerLensContext) {}

  refresh(): void {
    this.emitter.fire();
  }

  async provideCodeLenses(doc: vscode.TextDocument, token: vscode.CancellationToken): Promise<vscode.CodeLens[]> {
    if (!vscode.workspace.getConfiguration('layerLens', doc.uri).get<boolean>('codeLens.enabled', true)) return [];
    let res: Awaited<ReturnType<DockerfileImages['lines']>>;
    try {
      res = await this.ll.dockerfiles.lines(doc);
    } catch {
      return [];
    }
    if (token.isCancellationRequested) return [];
    const first = new vscode.Range(0, 0, 0, 0);
    if (!res) {
      return [new vscode.CodeLens(first, { title: 'Layer Lens: no image built from this file yet — Build Image', command: COMMANDS.buildImage, arguments: [doc.uri] })];
    }
    const lenses: vscode.CodeLens[] = [];
    // With the image's analysis shown, a line that only deletes says what it failed to save.
    const shown = this.ll.images.current;
    const infos = shown && !shown.partial && shown.analysis.image.id === res.img.image.id
      ? withDeletions(res.infos, (layer) => { const x = explainLayer(shown.analysis, layer); return { count: x.deleted.count, shipped: x.deletedShipped }; })
      : res.infos;
    for (const info of infos) {
      if (info.line - 1 >= doc.lineCount) continue;
      const range = new vscode.Range(info.line - 1, 0, info.line - 1, 0);
      const title = lensLabel(info);
      // Lines of other stages mapped from their stage's image explain that image's layer.
      const stageArg = info.stageImage !== undefined ? [{ stage: info.stage, source: info.stageImage }] : [];
      const cmd: vscode.Command = info.layerIndex !== null
        ? { title, command: COMMANDS.showLensLayer, arguments: [info.layerIndex, doc.uri, ...stageArg], tooltip: `Layer ${info.layerIndex} of ${info.stageImage ?? res.img.source} — click to select it in the Layers view and explain it` }
        : { title, command: '', tooltip: info.kind === 'config' ? 'This instruction only changes the image config: no layer, 0 bytes.' : '' };
      lenses.push(new vscode.CodeLens(range, cmd));
    }
    const sized = new Set(res.infos.filter((i) => i.stageImage !== undefined).map((i) => i.line));
    for (const m of stageBuildLenses(res.missingStages, doc, res.model, sized)) lenses.push(m);
    return lenses;
  }
}

export function registerCodeLens(ll: LayerLensContext): Contribution {
  const provider = new LayerCodeLensProvider(ll);
  const status = vscode.window.createStatusBarItem('layerLens.image', vscode.StatusBarAlignment.Left, 50);
  status.name = 'Layer Lens image';
  status.command = COMMANDS.openImage;
  let timer: NodeJS.Timeout | undefined;
  const refresh = (): void => {
    if (timer) clearTimeout(timer);
    timer = setTimeout(() => { provider.refresh(); void updateStatus(); }, 250);
  };
  const updateStatus = async (): Promise<void> => {
    const doc = vscode.window.activeTextEditor?.document;
    if (!doc || doc.languageId !== 'dockerfile') { status.hide(); return; }
    const images = ll.dockerfiles;
    const res = await images.lines(doc).catch(() => null);
    const error = res ? undefined : images.errorFor(doc);
    if (!res && error) {
      // The engine (or the configured archive) failed: say so here, not in a popup.
      status.text = '$(warning) Layer Lens: no engine';
      status.tooltip = `Layer Lens: ${error} (details in the Layer Lens output channel)`;
    } else if (!res) {
      status.text = '$(layers) no image';
      status.tooltip = 'Layer Lens: no image built from this Dockerfile was found';
    } else {
      const total = res.img.image.layerSizes.reduce((a, b) => a + b, 0);
      const shortName = res.img.source.replace(/^(docker-archive:|oci:)(.*\/)?/, '');
      status.text = `$(layers) ${shortName} · ${formatBytes(total)}`;
      status.tooltip = `Layer Lens: ${res.img.source} (${res.img.matchedBy}), ${res.img.image.layerSizes.length} layers`;
      // The Layers view follows the active Dockerfile's image (or one of its stage images, opened from a lens).
      const cur = ll.images.current;
      const ownStage = cur?.stage !== undefined && cur.dockerfile?.toString() === doc.uri.toString();
      // A registry image's layers are downloaded only when asked for (a lens click, Open Image…).
      if (cur?.analysis.image.id !== res.img.image.id && !ownStage && !res.img.source.startsWith('registry://')) {
        void ll.images.show(res.img.source, { dockerfile: doc.uri }).catch((e: unknown) => ll.log(`cannot show ${res.img.source}: ${(e as Error).message}`));
      }
    }
    status.show();
  };
  void updateStatus();
  return {
    disposables: [
      status,
      vscode.languages.registerCodeLensProvider(DOCKERFILE_SELECTOR, provider),
      ll.onDidChangeDockerfiles(refresh),
      ll.images.onDidChange(refresh),
      vscode.workspace.onDidSaveTextDocument((d) => { if (d.languageId === 'dockerfile') refresh(); }),
      // While typing: cache predictions follow the text (the refresh is debounced).
      vscode.workspace.onDidChangeTextDocument((e) => { if (e.document.languageId === 'dockerfile' && e.contentChanges.length) refresh(); }),
      vscode.window.onDidChangeActiveTextEditor(() => void updateStatus()),
      { dispose: () => { if (timer) clearTimeout(timer); } },
    ],
    commands: {},
  };
}
