// The last build of each Dockerfile (the build store in the cache directory, shared with the CLI:
// Layer Lens builds, and builds seen through the engine), and what the next build of it will do:
// per line, the recorded results while the file and its build context are unchanged, else
// predictions (core/dockerfile/cachePredict) from the current text, the context's file manifest
// (kept fresh by file watchers and rechecks) and the current ids of the base images.
import { readFile } from 'node:fs/promises';
import * as path from 'node:path';
import * as vscode from 'vscode';
import {
  cacheFacts, changedPaths, predict,
  type BuildRecord, type ContextManifest, type LineCacheFact, type LinePrediction,
} from '../../core/dockerfile/cachePredict';
import type { DockerfileModel } from '../../core/dockerfile/dockerfile';
import type { EngineClient } from '../../engine/types';
import { BaseImageIds } from '../../sources/baseImages';
import { builtFrom, recordSeenBuild, type BuildStore, type StoredBuild } from '../../sources/buildStore';
import { chooseContextDir, contextManifest } from '../../sources/contextManifest';
import type { ImageMatch } from '../../sources/dockerfileImage';

export type { StoredBuild };

// ---------------------------------------------------------------------------------------------
// Records


interface LiveContext {
  manifest: ContextManifest | null;
  mtimes: Record<string, number>;
  computing: Promise<void> | null;
  stale: boolean;
  /** When the manifest was last computed (ms), and how long the walk took. */
  checkedAt: number;
  walkMs: number;
  contextDir: string;
  watcher: vscode.FileSystemWatcher;
  timer?: NodeJS.Timeout;
}

/**
 * The last successful build of each Dockerfile, and the predictions made from it. The CodeLens
 * reads `cacheFacts(doc)` (synchronous: it uses the latest context manifest and refreshes it in the
 * background, firing onDidChange when it changed).
 */
export class BuildRecords implements vscode.Disposable {
  private readonly emitter = new vscode.EventEmitter<vscode.Uri>();
  /** A Dockerfile's record changed (a build finished) or its predictions may have (context files changed). */
  readonly onDidChange = this.emitter.event;
  private readonly live = new Map<string, LiveContext>();
  /** Current ids of the records' base images (looked up in the background, refreshed on engine image events and saves). */
  private readonly bases: BaseImageIds;

  constructor(private readonly store: BuildStore, private readonly log: (line: string) => void, private readonly engine: () => EngineClient) {
    this.bases = new BaseImageIds(engine, () => {
      // A base image now has another id (or none): predictions of every open record may change.
      for (const key of this.live.keys()) this.emitter.fire(vscode.Uri.parse(key));
    }, log);
  }

  /** Base images may have changed (engine image events, a saved Dockerfile): look their ids up again. */
  refreshBaseImages(): void {
    this.bases.refresh();
  }

  /** The current ids of a record's base images, as far as known now (the rest is looked up in the background). */
  private baseImageIds(record: BuildRecord): Record<string, string> {
    return this.bases.get(Object.keys(record.baseImages ?? {}));
  }

  /** Resolves when no base image lookup is running (tests). */
  baseImagesSettled(): Promise<void> {
    return this.bases.settled();
  }

  private stored(uri: vscode.Uri): StoredBuild | undefined {
    return uri.scheme === 'file' ? this.store.last(uri.fsPath) : undefined;
  }

  /** The record of the last successful build of this Dockerfile (Layer Lens's, or one seen through the engine). */
  lastBuild(uri: vscode.Uri): BuildRecord | undefined {
    return this.stored(uri)?.record;
  }

  /**
   * Keeps the sizes of `imageId`'s lines with its record (when it has one) and returns those of
   * the build before it: what each lens compares with (`+3.2 MB since last build`).
   */
  sizesSinceLastBuild(uri: vscode.Uri, imageId: string, sizes: () => Record<string, number>): Record<string, number> | undefined {
    if (uri.scheme !== 'file') return undefined;
    const b = this.store.byImage(uri.fsPath, imageId);
    if (!b) return undefined;
    if (!b.sizes) this.store.setSizes(uri.fsPath, imageId, sizes());
    return this.store.previousSizes(uri.fsPath, imageId);
  }

  /** The recorded build before the one that made `imageId` (sources/buildStore previousBuild). */
  previousBuild(uri: vscode.Uri, imageId: string): StoredBuild | undefined {
    return uri.scheme === 'file' ? this.store.previousBuild(uri.fsPath, imageId) : undefined;
  }

  /** Every stored build of this Dockerfile, oldest first. */
  history(uri: vscode.Uri): StoredBuild[] {
    return uri.scheme === 'file' ? this.store.history(uri.fsPath) : [];
  }

  /**
   * An engine image whose history matches the Dockerfile on disk fully (`match`, from the image
   * search; checked again with sources/buildStore builtFrom against the text on disk) and that no record knows: a build made elsewhere (a terminal, compose, a task). It is
   * recorded with a snapshot of its context taken now (files modified after the image was created
   * are unknown). Never throws.
   */
  async recordSeen(uri: vscode.Uri, model: DockerfileModel, match: ImageMatch): Promise<void> {
    if (uri.scheme !== 'file' || this.store.byImage(uri.fsPath, match.image.id)) return;
    try {
      const engine = this.engine();
      const text = await readFile(uri.fsPath, 'utf8');
      if (!builtFrom(text, match.image.history, match.stage, match.score)) return;
      const folder = vscode.workspace.getWorkspaceFolder(uri);
      const sources = model.instructions.flatMap((i) => (i.copy && i.copy.from === null ? i.copy.sources : []));
      const root = folder?.uri.fsPath;
      const contextDir = await chooseContextDir(path.dirname(uri.fsPath), typeof root === 'string' ? root : undefined, sources);
      const inspect = await engine.inspectImage(match.image.id);
      const r = await recordSeenBuild(this.store, {
        dockerfile: uri.fsPath, dockerfileText: text, model, stage: match.stage, contextDir, engine,
        image: { id: match.image.id, name: match.name, createdMs: inspect.created ? Date.parse(inspect.created) : NaN, history: match.image.history },
      });
      if (r.skipped) {
        this.log(`not recording ${match.name} as a build of ${path.basename(uri.fsPath)}: ${r.skipped}`);
        return;
      }
      const unknown = Object.values(r.stored?.record.context?.files ?? {}).filter((f) => f.unknown).length;
      this.log(`recorded ${match.name} as a build of ${uri.fsPath} seen through the engine${unknown ? ` (${unknown} context file(s) modified after it was created: unknown)` : ''}`);
      const l = this.live.get(uri.toString());
      if (l && r.stored) {
        l.watcher.dispose();
        if (l.timer) clearTimeout(l.timer);
        this.live.delete(uri.toString());
      }
      this.emitter.fire(uri);
    } catch (e) {
      this.log(`cannot record ${match.name} as a build of ${uri.fsPath}: ${(e as Error).message}`);
    }
  }

  async save(uri: vscode.Uri, s: StoredBuild): Promise<void> {
    // The build just inspected its base images: their ids are current.
    if (s.record.baseImages) this.bases.set(s.record.baseImages);
    if (uri.scheme === 'file') this.store.add(uri.fsPath, { ...s, record: { ...s.record, origin: 'layerlens' } });
    let l = this.live.get(uri.toString());
    if (l && l.contextDir !== s.contextDir) {
      l.watcher.dispose();
      if (l.timer) clearTimeout(l.timer);
      this.live.delete(uri.toString());
      l = undefined;
    }
    if (l) {
      l.manifest = s.record.context;
      l.mtimes = s.mtimes;
      l.stale = false;
      l.checkedAt = Date.now();
    }
    this.emitter.fire(uri);
  }

  /** Per-line cache facts for the document as it is now (recorded results, else predictions). */
  cacheFacts(doc: vscode.TextDocument): Map<number, LineCacheFact> | undefined {
    const s = this.stored(doc.uri);
    if (!s) return undefined;
    const live = this.ensureLive(doc.uri, s);
    this.recheckIfOld(doc.uri, s, live);
    try {
      return cacheFacts(s.record, doc.getText(), live.manifest, currentBuildArgs(doc.uri, s.record), {
        target: currentTarget(doc.uri, s.record), baseImageIds: this.baseImageIds(s.record),
      });
    } catch (e) {
      this.log(`cache prediction failed for ${doc.uri.fsPath}: ${(e as Error).message}`);
      return undefined;
    }
  }

  /** The prediction alone (no recorded results), or undefined without a record. */
  predictions(doc: vscode.TextDocument): LinePrediction[] | undefined {
    const s = this.stored(doc.uri);
    if (!s) return undefined;
    const live = this.ensureLive(doc.uri, s);
    return predict(s.record, doc.getText(), live.manifest, currentBuildArgs(doc.uri, s.record), {
      target: currentTarget(doc.uri, s.record), baseImageIds: this.baseImageIds(s.record),
    });
  }

  /** Recompute the context manifest now (tests and the build command use it). */
  async refreshContext(uri: vscode.Uri): Promise<ContextManifest | null> {
    const s = this.stored(uri);
    if (!s) return null;
    const live = this.ensureLive(uri, s);
    live.stale = true;
    await this.recompute(uri, s, live);
    return live.manifest;
  }

  /**
   * File watchers miss changes outside the workspace (and on some file systems): a manifest older
   * than a few seconds is checked again when someone asks (cheap: unchanged files are only stat'ed).
   */
  private recheckIfOld(uri: vscode.Uri, s: StoredBuild, live: LiveContext): void {
    // Big contexts take longer to walk: check them less often (at most ~5 % of the time walking).
    if (live.computing || Date.now() - live.checkedAt < Math.max(RECHECK_MS, 20 * live.walkMs)) return;
    live.stale = true;
    void this.recompute(uri, s, live);
  }

  private ensureLive(uri: vscode.Uri, s: StoredBuild): LiveContext {
    let l = this.live.get(uri.toString());
    if (l) return l;
    const watcher = vscode.workspace.createFileSystemWatcher(new vscode.RelativePattern(vscode.Uri.file(s.contextDir), '**/*'));
    l = { manifest: s.record.context, mtimes: s.mtimes, computing: null, stale: true, watcher, checkedAt: 0, walkMs: 0, contextDir: s.contextDir };
    const live = l;
    const touched = (): void => {
      live.stale = true;
      if (live.timer) clearTimeout(live.timer);
      live.timer = setTimeout(() => void this.recompute(uri, s, live), 500);
    };
    watcher.onDidChange(touched);
    watcher.onDidCreate(touched);
    watcher.onDidDelete(touched);
    this.live.set(uri.toString(), l);
    // The files may have changed since the build (while the editor was closed): check once now.
    touched();
    return l;
  }

  private async recompute(uri: vscode.Uri, s: StoredBuild, live: LiveContext): Promise<void> {
    if (live.computing) {
      await live.computing;
      if (!live.stale) return;
    }
    live.stale = false;
    const before = live.manifest;
    let changed = false;
    live.computing = (async () => {
      try {
        const t0 = Date.now();
        const r = await contextManifest(s.contextDir, {
          keep: [s.dockerfileRel],
          previous: live.manifest ? { manifest: live.manifest, mtimes: live.mtimes } : null,
        });
        // Keep the same object when nothing changed: predictions memoize the comparison per pair.
        changed = before === null || changedPaths(before, r.manifest).length > 0;
        if (changed) live.manifest = r.manifest;
        live.mtimes = r.mtimes;
        live.checkedAt = Date.now();
        live.walkMs = live.checkedAt - t0;
        if (r.bytesHashed > 0) this.log(`context of ${path.basename(uri.fsPath)}: ${r.files} entries, ${r.bytesHashed} bytes hashed in ${Date.now() - t0} ms`);
      } catch (e) {
        live.checkedAt = Date.now();
        this.log(`cannot read the build context ${s.contextDir}: ${(e as Error).message}`);
      }
    })();
    await live.computing;
    live.computing = null;
    if (changed) this.emitter.fire(uri);
  }

  dispose(): void {
    for (const l of this.live.values()) {
      if (l.timer) clearTimeout(l.timer);
      l.watcher.dispose();
    }
    this.live.clear();
    this.emitter.dispose();
  }
}

const RECHECK_MS = 2000;

// ---------------------------------------------------------------------------------------------
// Settings

/** `layerLens.build.args` when the user set it (any level), else undefined. */
export function settingBuildArgs(uri: vscode.Uri): Record<string, string> | undefined {
  const info = vscode.workspace.getConfiguration('layerLens', uri).inspect<Record<string, unknown>>('build.args');
  const set = info && [info.globalValue, info.workspaceValue, info.workspaceFolderValue].some((v) => v !== undefined);
  if (!set) return undefined;
  const raw = vscode.workspace.getConfiguration('layerLens', uri).get<Record<string, unknown>>('build.args') ?? {};
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(raw)) {
    if (v === null || v === undefined) continue;
    out[k] = typeof v === 'string' ? v : String(v);
  }
  return out;
}

/** The build args the next build uses: the setting if set, else those of the last build, else none. */
export function currentBuildArgs(uri: vscode.Uri, record?: BuildRecord): Record<string, string> {
  return settingBuildArgs(uri) ?? (record ? { ...record.buildArgs } : {});
}

function settingTarget(uri: vscode.Uri): string | null {
  const t = vscode.workspace.getConfiguration('layerLens', uri).get<string>('build.target') ?? '';
  return t.trim() === '' ? null : t.trim();
}

/** The target the next build uses: the setting if set, else that of the last build. */
export function currentTarget(uri: vscode.Uri, record?: BuildRecord): string | null {
  return settingTarget(uri) ?? record?.target ?? null;
}
