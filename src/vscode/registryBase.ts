// Base image sizes from a registry (setting layerLens.registry.baseImageSizes, off by default):
// while a Dockerfile has no image yet, each FROM whose base image the engine does not have shows
// that image's size from its registry: the compressed layer sizes of its manifest (the manifest
// and config are read, no layer), for the FROM's --platform or this machine's. Results are kept
// for ten minutes per reference; a registry that cannot be read says why in the lens's tooltip.
import * as vscode from 'vscode';
import { parseDockerfile } from '../core/dockerfile/dockerfile';
import { parsePlatform } from '../core/image/oci';
import type { QuickImage } from '../core/image/quickImage';
import { formatBytes } from '../core/present/format';
import { registryRefOfImageName } from '../sources/registry/reference';
import type { Contribution } from './commands';
import type { LayerLensContext } from './context';
import { DOCKERFILE_SELECTOR } from './dockerfileImages';

const KEEP_MS = 10 * 60 * 1000;

class RegistryBaseLensProvider implements vscode.CodeLensProvider {
  private readonly emitter = new vscode.EventEmitter<void>();
  readonly onDidChangeCodeLenses = this.emitter.event;
  private readonly known = new Map<string, { at: number; q: Promise<QuickImage | Error> }>();

  constructor(private readonly ll: LayerLensContext) {}

  refresh(): void {
    this.emitter.fire();
  }

  private enabled(doc: vscode.TextDocument): boolean {
    return vscode.workspace.getConfiguration('layerLens', doc.uri).get<boolean>('registry.baseImageSizes', false)
      && vscode.workspace.getConfiguration('layerLens', doc.uri).get<boolean>('codeLens.enabled', true);
  }

  /** The engine has an image by this name (an unreachable engine has none). */
  private async isLocal(name: string): Promise<boolean> {
    try {
      await this.ll.engine.get().inspectImage(name);
      return true;
    } catch {
      return false;
    }
  }

  private quick(ref: string, platform: string | null): Promise<QuickImage | Error> {
    const key = `${ref} ${platform ?? ''}`;
    const hit = this.known.get(key);
    if (hit && Date.now() - hit.at < KEEP_MS) return hit.q;
    const q = (async (): Promise<QuickImage | Error> => {
      try {
        const reader = this.ll.readers.open({ kind: 'registry', ref }, { platform: platform ? parsePlatform(platform) : undefined });
        return await reader.quickImage!();
      } catch (e) {
        this.ll.log(`base image sizes: ${ref}: ${(e as Error).message}`);
        return e instanceof Error ? e : new Error(String(e));
      }
    })();
    this.known.set(key, { at: Date.now(), q });
    return q;
  }

  async provideCodeLenses(doc: vscode.TextDocument, token: vscode.CancellationToken): Promise<vscode.CodeLens[]> {
    if (!this.enabled(doc)) return [];
    // A Dockerfile with an image has its FROM sizes from that image.
    if (await this.ll.dockerfiles.lines(doc).catch(() => null)) return [];
    const lenses: vscode.CodeLens[] = [];
    for (const st of parseDockerfile(doc.getText()).stages) {
      if (token.isCancellationRequested) return [];
      if (st.baseStage !== null || !st.baseImage || st.line - 1 >= doc.lineCount) continue;
      const ref = registryRefOfImageName(st.baseImage);
      if (!ref || (await this.isLocal(st.baseImage))) continue;
      const q = await this.quick(ref, st.platform);
      const range = new vscode.Range(st.line - 1, 0, st.line - 1, 0);
      if (q instanceof Error) {
        lenses.push(new vscode.CodeLens(range, { title: 'base size not available from the registry', command: '', tooltip: q.message }));
        continue;
      }
      const total = q.layerSizes.reduce((a, b) => a + b, 0);
      const n = q.layerSizes.length;
      lenses.push(new vscode.CodeLens(range, {
        title: `base ${formatBytes(total)} in ${n} layer${n === 1 ? '' : 's'} · registry, compressed`, command: '',
        tooltip: `${ref}: the compressed size of its ${n} layer${n === 1 ? '' : 's'} from the registry's manifest (not pulled; unpacked it is larger)`,
      }));
    }
    return lenses;
  }
}

export function registerRegistryBase(ll: LayerLensContext): Contribution {
  const provider = new RegistryBaseLensProvider(ll);
  return {
    disposables: [
      vscode.languages.registerCodeLensProvider(DOCKERFILE_SELECTOR, provider),
      ll.onDidChangeDockerfiles(() => provider.refresh()),
      vscode.workspace.onDidChangeConfiguration((e) => { if (e.affectsConfiguration('layerLens.registry') || e.affectsConfiguration('layerLens.codeLens')) provider.refresh(); }),
    ],
    commands: {},
  };
}
