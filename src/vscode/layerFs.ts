// The read-only `layerlens:` file system: one version of one file, as one layer of an image ships
// it. URIs name the image source, the layer (by diffID, and its index for people) and the path:
//
//   layerlens:/L3/etc/app.conf?src=myapp%3Adev&diff=sha256%3A…
//
// so an editor restored after a reload can still be read (the source is re-opened; only that
// layer is decompressed, and only the wanted entry is kept). Binary files open as binary: VS Code
// sees the real bytes. Plus the two commands that open versions: Open This Version and Compare
// with Visible Version (VS Code's diff editor).
import * as vscode from 'vscode';
import { CancelledError, ImageFormatError } from '../core/image/errors';
import type { Analysis } from '../core/image/analysis';
import type { LayerEntry, LayerIndex } from '../core/image/types';
import { parseSource } from '../sources/load';
import type { LayerLensContext } from './context';
import { DEFAULT_MAX_BYTES, EntryNotFoundError, type EntryContent } from '../sources/imageSource';

export const LAYER_SCHEME = 'layerlens';

export interface VersionRef {
  /** Image source string, as ImageService.show takes it. */
  source: string;
  /** Layer index (for display; the diffID is authoritative). */
  layer: number;
  diffId: string;
  /** Absolute path in the image. */
  path: string;
}

export function versionUri(v: VersionRef): vscode.Uri {
  const q = new URLSearchParams({ src: v.source, diff: v.diffId });
  return vscode.Uri.from({ scheme: LAYER_SCHEME, path: `/L${v.layer}${v.path}`, query: q.toString() });
}

export function parseVersionUri(uri: vscode.Uri): VersionRef {
  const m = /^\/L(\d+)(\/.*)?$/.exec(uri.path);
  const q = new URLSearchParams(uri.query);
  const source = q.get('src');
  const diffId = q.get('diff');
  if (!m || !source || !diffId) throw vscode.FileSystemError.FileNotFound(uri);
  return { source, layer: Number(m[1]), diffId, path: m[2] ?? '/' };
}

const CACHE_BYTES = 64 * 1024 * 1024;

/**
 * Per-layer entry lists and path → entry maps, built on first use of a layer (WeakMap: dropped with
 * the analysis). The extension's analyses keep each layer as columns (a LayerTable makes entry
 * objects on a read of `entries`), so a layer that is browsed gets its objects once here.
 */
const entryMaps = new WeakMap<LayerIndex, { list: LayerEntry[]; byPath: Map<string, LayerEntry> }>();
function layerEntries(layer: LayerIndex): { list: LayerEntry[]; byPath: Map<string, LayerEntry> } {
  let m = entryMaps.get(layer);
  if (!m) {
    const list = layer.entries;
    m = { list, byPath: new Map() };
    for (const e of list) m.byPath.set(e.path, e);
    entryMaps.set(layer, m);
  }
  return m;
}
function entryMap(layer: LayerIndex): Map<string, LayerEntry> {
  return layerEntries(layer).byPath;
}

export class LayerFileSystem implements vscode.FileSystemProvider, vscode.Disposable {
  private readonly changeEmitter = new vscode.EventEmitter<vscode.FileChangeEvent[]>();
  readonly onDidChangeFile = this.changeEmitter.event;
  /** Analyses of images shown since the extension started, by source (for stat without reading, and size hints). */
  private readonly known = new Map<string, Analysis>();
  private readonly cache = new Map<string, EntryContent>();
  private cacheBytes = 0;
  private readonly inflight = new Map<string, Promise<EntryContent>>();
  private readonly sub: vscode.Disposable;

  constructor(private readonly ll: LayerLensContext) {
    const remember = (): void => {
      const cur = ll.images.current;
      if (!cur) return;
      this.known.delete(cur.source);
      this.known.set(cur.source, cur.analysis);
      while (this.known.size > 8) this.known.delete(this.known.keys().next().value as string);
    };
    remember();
    this.sub = ll.images.onDidChange(remember);
  }

  dispose(): void {
    this.sub.dispose();
    this.changeEmitter.dispose();
  }

  /** The layer index and entry a URI names, when the image was analyzed since the extension started. */
  private lookup(v: VersionRef): { layer: LayerIndex; entry?: LayerEntry } | undefined {
    const a = this.known.get(v.source);
    const i = a?.image.diffIds.indexOf(v.diffId) ?? -1;
    if (!a || i < 0) return undefined;
    const layer = a.image.layers[i];
    return { layer, entry: entryMap(layer).get(v.path) };
  }

  watch(): vscode.Disposable {
    return new vscode.Disposable(() => undefined);
  }

  async stat(uri: vscode.Uri): Promise<vscode.FileStat> {
    const v = parseVersionUri(uri);
    const hit = this.lookup(v);
    if (hit) {
      const e = hit.entry;
      if (!e) {
        // Implicit parent directories are not in the tar.
        const prefix = v.path === '/' ? '/' : v.path + '/';
        if (layerEntries(hit.layer).list.some((x) => x.path.startsWith(prefix))) return { type: vscode.FileType.Directory, ctime: 0, mtime: 0, size: 0 };
        throw vscode.FileSystemError.FileNotFound(uri);
      }
      const mtime = e.mtime * 1000;
      if (e.type === 'dir') return { type: vscode.FileType.Directory, ctime: mtime, mtime, size: 0 };
      let size = e.size;
      if (e.type === 'hardlink' && e.linkname) size = entryMap(hit.layer).get(e.linkname)?.size ?? 0;
      if (e.type === 'symlink') size = Buffer.byteLength(e.linkname ?? '', 'utf8');
      return { type: vscode.FileType.File, ctime: mtime, mtime, size, permissions: vscode.FilePermission.Readonly };
    }
    const c = await this.read(uri, v);
    return { type: vscode.FileType.File, ctime: c.mtime * 1000, mtime: c.mtime * 1000, size: c.data.length, permissions: vscode.FilePermission.Readonly };
  }

  readDirectory(uri: vscode.Uri): [string, vscode.FileType][] {
    const v = parseVersionUri(uri);
    const hit = this.lookup(v);
    if (!hit) return [];
    const prefix = v.path === '/' ? '/' : v.path + '/';
    const out = new Map<string, vscode.FileType>();
    for (const e of layerEntries(hit.layer).list) {
      if (!e.path.startsWith(prefix)) continue;
      const rest = e.path.slice(prefix.length);
      const slash = rest.indexOf('/');
      if (slash >= 0) out.set(rest.slice(0, slash), vscode.FileType.Directory);
      else out.set(rest, e.type === 'dir' ? vscode.FileType.Directory : vscode.FileType.File);
    }
    return [...out];
  }

  async readFile(uri: vscode.Uri): Promise<Uint8Array> {
    return (await this.read(uri, parseVersionUri(uri))).data;
  }

  private read(uri: vscode.Uri, v: VersionRef): Promise<EntryContent> {
    const key = uri.toString();
    const hit = this.cache.get(key);
    if (hit) {
      this.cache.delete(key);
      this.cache.set(key, hit);
      return Promise.resolve(hit);
    }
    let p = this.inflight.get(key);
    if (!p) {
      p = this.load(v).finally(() => this.inflight.delete(key));
      this.inflight.set(key, p);
      void p.then((c) => this.remember(key, c), () => undefined);
    }
    return p.catch((e: unknown) => { throw toFsError(e, uri); });
  }

  private remember(key: string, c: EntryContent): void {
    if (c.data.length > CACHE_BYTES / 4) return;
    this.cache.set(key, c);
    this.cacheBytes += c.data.length;
    while (this.cacheBytes > CACHE_BYTES && this.cache.size > 1) {
      const [k, old] = this.cache.entries().next().value as [string, EntryContent];
      this.cache.delete(k);
      this.cacheBytes -= old.data.length;
    }
  }

  private async load(v: VersionRef): Promise<EntryContent> {
    const spec = await parseSource(v.source);
    const hint = this.lookup(v);
    const ac = new AbortController();
    // The extension's one reader factory: the analysis's cache, so a layer it checked is not hashed again.
    const work = this.ll.readers.open(spec)
      .readFile(v.diffId, v.path, { tarBytes: hint?.layer.tarBytes, maxBytes: DEFAULT_MAX_BYTES, signal: ac.signal });
    // Only show progress when the read is slow (an engine export of a big image can take a while).
    let done = false;
    void work.finally(() => { done = true; }).catch(() => undefined);
    const timer = setTimeout(() => {
      if (done) return;
      void vscode.window.withProgress({
        location: vscode.ProgressLocation.Notification, cancellable: true,
        title: `Layer Lens: reading ${v.path} from L${v.layer} of ${v.source}`,
      }, async (_p, token) => {
        const sub = token.onCancellationRequested(() => ac.abort());
        try { await work.catch(() => undefined); } finally { sub.dispose(); }
      });
    }, 800);
    try {
      const t0 = Date.now();
      const c = await work;
      this.ll.log(`layerlens: read ${v.path} (${c.data.length} B) from L${v.layer} of ${v.source} in ${Date.now() - t0} ms`);
      return c;
    } finally {
      clearTimeout(timer);
    }
  }

  createDirectory(uri: vscode.Uri): void { throw vscode.FileSystemError.NoPermissions(uri); }
  writeFile(uri: vscode.Uri): void { throw vscode.FileSystemError.NoPermissions(uri); }
  delete(uri: vscode.Uri): void { throw vscode.FileSystemError.NoPermissions(uri); }
  rename(uri: vscode.Uri): void { throw vscode.FileSystemError.NoPermissions(uri); }
}

function toFsError(e: unknown, uri: vscode.Uri): Error {
  if (e instanceof vscode.FileSystemError) return e;
  if (e instanceof EntryNotFoundError) return vscode.FileSystemError.FileNotFound(uri);
  if (e instanceof CancelledError) return new vscode.FileSystemError('Cancelled');
  if (e instanceof ImageFormatError) return vscode.FileSystemError.Unavailable(e.message);
  return vscode.FileSystemError.Unavailable(e instanceof Error ? e.message : String(e));
}

// --------------------------------------------------------------------------------------------
// Commands that open versions

/** What a tree row (or a caller) hands the version commands. */
export interface VersionTarget {
  path: string;
  layer: number;
}

/** The URI of `layer`'s version of `path` in the shown image. */
export function uriForShown(ll: LayerLensContext, t: VersionTarget): vscode.Uri | undefined {
  const cur = ll.images.current;
  const diffId = cur?.analysis.image.diffIds[t.layer];
  if (!cur || !diffId) return undefined;
  return versionUri({ source: cur.source, layer: t.layer, diffId, path: t.path });
}

export async function openFileVersion(ll: LayerLensContext, t: VersionTarget | undefined): Promise<void> {
  if (!t) {
    void vscode.window.showInformationMessage('Layer Lens: pick a file in the Merged Filesystem view to open one of its versions.');
    return;
  }
  const uri = uriForShown(ll, t);
  if (!uri) {
    void vscode.window.showWarningMessage('Layer Lens: no image is shown.');
    return;
  }
  await vscode.commands.executeCommand('vscode.open', uri, { preview: true });
}

/** Opens the diff editor: `t`'s version (left) against the version the final image shows (right). */
export async function compareWithVisible(ll: LayerLensContext, t: VersionTarget | undefined): Promise<void> {
  const cur = ll.images.current;
  if (!t || !cur) {
    void vscode.window.showInformationMessage('Layer Lens: pick a hidden copy in the Merged Filesystem view to compare it.');
    return;
  }
  const node = cur.analysis.tree.lookup(t.path);
  if (!node) return;
  // The visible version, or for a deleted path the last version any layer shipped.
  const files = node.copies.filter((c) => c.type !== 'dir');
  const right = node.live ? node.layer : files[files.length - 1]?.layer;
  if (right === undefined || right === t.layer) {
    void vscode.window.showInformationMessage(`Layer Lens: L${t.layer}'s version of ${t.path} is the ${node.live ? 'visible' : 'last shipped'} one; nothing to compare.`);
    return;
  }
  const l = uriForShown(ll, t);
  const r = uriForShown(ll, { path: t.path, layer: right });
  if (!l || !r) return;
  const name = t.path.slice(t.path.lastIndexOf('/') + 1);
  const title = `${name} (L${t.layer} ↔ L${right}${node.live ? ', visible' : ', deleted later'})`;
  await vscode.commands.executeCommand('vscode.diff', l, r, title, { preview: true });
}

export function registerLayerFs(ll: LayerLensContext): vscode.Disposable[] {
  const fsp = new LayerFileSystem(ll);
  return [
    fsp,
    vscode.workspace.registerFileSystemProvider(LAYER_SCHEME, fsp, { isReadonly: true, isCaseSensitive: true }),
  ];
}
