// Packages per layer: what the package managers' own databases say an image holds, with each
// package's bytes from the image index and the layer that installed it.
//
// - dpkg: /var/lib/dpkg/status (installed packages, versions, Depends and Pre-Depends) and
//   info/<name>[:<arch>].list (each package's files); apt's extended_states says which packages
//   were installed only as dependencies.
// - apk: /lib/apk/db/installed (P:, V:, D:, F: and R: records).
// - pip: */*.dist-info (METADATA, RECORD, REQUESTED) and */*.egg-info (PKG-INFO,
//   installed-files.txt).
// - npm: every node_modules/<name>/package.json (and @scope/<name>): a package is its directory,
//   nested node_modules excluded.
// - rpm is not read: its database (rpmdb.sqlite, or Berkeley DB) needs a reader this module does
//   not have.
//
// A package's `bytes` are the regular files its own list names that the final image holds, each
// file once (a hardlink counts its target once; directory symlinks such as Debian's /bin → usr/bin
// are followed). Its `layer` is the first layer whose database lists it (dpkg, apk: the first copy
// of the database that does; pip, npm: the first layer that ships its metadata file). Where the
// manager records dependencies (dpkg, pip), a package installed only as a dependency is credited
// to the top-level package that pulled it in.
import type { ImageIndex } from '../image/index/imageIndex';
import { ENTRY_TYPES, T_DIR, T_FILE, T_HARDLINK } from '../image/index/layerTable';
import type { ReadLayerFiles } from './secrets';

export type PackageManager = 'dpkg' | 'apk' | 'pip' | 'npm';

export interface PackageRow {
  manager: PackageManager;
  name: string;
  version: string;
  /** The first layer whose database lists it. */
  layer: number;
  /** Bytes of the regular files its list names that the final image holds, each once. */
  bytes: number;
  /** How many such files. */
  files: number;
  /** The top-level package that pulled it in (null: it is top-level, or the manager records no dependencies). */
  pulledInBy: string | null;
  /** Its bytes and those of every package credited to it. */
  bytesWithDeps: number;
}

const T_SYMLINK = ENTRY_TYPES.indexOf('symlink');
const DPKG_STATUS = '/var/lib/dpkg/status';
const DPKG_INFO = '/var/lib/dpkg/info';
const APT_STATES = '/var/lib/apt/extended_states';
const APK_DB = '/lib/apk/db/installed';
/** Database files are read up to this size. */
export const DB_MAX_BYTES = 64 * 1024 * 1024;

/** What to read: per layer, the database files of that layer's copy. */
interface Plan {
  want: Map<number, Set<string>>;
  /** Layers shipping a copy of the dpkg status / apk database, bottom first. */
  statusLayers: number[];
  apkLayers: number[];
  /** Visible files and the layer shipping each (lists, RECORDs, package.jsons, …). */
  visible: Map<string, number>;
  /** pip: each metadata directory and whether it holds REQUESTED. */
  pipDirs: Array<{ dir: string; kind: 'dist-info' | 'egg-info'; requested: boolean; firstLayer: number }>;
  npmDirs: Array<{ dir: string; firstLayer: number }>;
}

function copyLayers(ix: ImageIndex, n: number): number[] {
  const out: number[] = [];
  for (let i = ix.copyStart[n]; i < ix.copyStart[n + 1]; i++) if (ix.copyType[i] === T_FILE && !out.includes(ix.copyLayer[i])) out.push(ix.copyLayer[i]);
  return out;
}

function plan(ix: ImageIndex): Plan {
  const want = new Map<number, Set<string>>();
  const add = (L: number, p: string): void => {
    let s = want.get(L);
    if (!s) want.set(L, (s = new Set()));
    s.add(p);
  };
  const visible = new Map<string, number>();
  const addVisible = (n: number, p: string): void => {
    if (!ix.live[n] || ix.type[n] !== T_FILE) return;
    visible.set(p, ix.layer[n]);
    add(ix.layer[n], p);
  };
  const layersOf = (p: string): number[] => {
    const n = ix.lookup(p);
    if (n < 0) return [];
    const ls = copyLayers(ix, n);
    for (const L of ls) add(L, p);
    return ls;
  };
  const statusLayers = layersOf(DPKG_STATUS);
  const apkLayers = layersOf(APK_DB);
  const states = ix.lookup(APT_STATES);
  if (states >= 0) addVisible(states, APT_STATES);
  const info = ix.lookup(DPKG_INFO);
  if (info >= 0) {
    for (let k = ix.childStart[info]; k < ix.childStart[info + 1]; k++) {
      const c = ix.childList[k];
      if (ix.nameOf(c).endsWith('.list')) addVisible(c, `${DPKG_INFO}/${ix.nameOf(c)}`);
    }
  }
  const pipDirs: Plan['pipDirs'] = [];
  const npmDirs: Plan['npmDirs'] = [];
  for (let n = 1; n < ix.nodeCount; n++) {
    if (!ix.exists[n] || !ix.live[n]) continue;
    const name = ix.nameOf(n);
    if (name !== 'RECORD' && name !== 'installed-files.txt' && name !== 'package.json') continue;
    const parent = ix.nodeParent[n];
    const pname = ix.nameOf(parent);
    if (name === 'RECORD' && pname.endsWith('.dist-info')) {
      const dir = ix.pathOf(parent);
      const child = (s: string): number => { const id = ix.names.indexOf(s); return id < 0 ? -1 : ix.childByName(parent, id); };
      const req = child('REQUESTED');
      addVisible(n, `${dir}/RECORD`);
      const meta = child('METADATA');
      if (meta >= 0) addVisible(meta, `${dir}/METADATA`);
      pipDirs.push({ dir, kind: 'dist-info', requested: req >= 0 && ix.live[req] === 1, firstLayer: Math.min(...copyLayers(ix, n)) });
    } else if (name === 'installed-files.txt' && pname.endsWith('.egg-info')) {
      const dir = ix.pathOf(parent);
      addVisible(n, `${dir}/installed-files.txt`);
      const id = ix.names.indexOf('PKG-INFO');
      const meta = id < 0 ? -1 : ix.childByName(parent, id);
      if (meta >= 0) addVisible(meta, `${dir}/PKG-INFO`);
      pipDirs.push({ dir, kind: 'egg-info', requested: false, firstLayer: Math.min(...copyLayers(ix, n)) });
    } else if (name === 'package.json') {
      const gp = ix.nodeParent[parent];
      const isPkg = ix.nameOf(gp) === 'node_modules' || (ix.nameOf(gp).startsWith('@') && ix.nameOf(ix.nodeParent[gp]) === 'node_modules');
      if (!isPkg || pname === 'node_modules') continue;
      const dir = ix.pathOf(parent);
      addVisible(n, `${dir}/package.json`);
      npmDirs.push({ dir, firstLayer: Math.min(...copyLayers(ix, n)) });
    }
  }
  return { want, statusLayers, apkLayers, visible, pipDirs, npmDirs };
}

/** The final image's regular file at `path` (directory symlinks followed, a hardlink as its target), or -1. */
export function finalFile(ix: ImageIndex, path: string): number {
  let parts = path.split('/').filter((s) => s !== '' && s !== '.');
  let hops = 0;
  for (;;) {
    let n = 0;
    let i = 0;
    let restarted = false;
    for (; i < parts.length; i++) {
      if (parts[i] === '..') { n = n === 0 ? 0 : ix.nodeParent[n]; continue; }
      const id = nameId(ix, parts[i]);
      const c = id < 0 ? -1 : ix.childByName(n, id);
      if (c < 0 || !ix.live[c]) return -1;
      const last = i === parts.length - 1;
      if (ix.type[c] === T_SYMLINK && !last) {
        if (++hops > 40) return -1;
        const target = ix.linkOf(c) ?? '';
        const base = target.startsWith('/') ? [] : ix.pathOf(n).split('/').filter(Boolean);
        parts = [...base, ...target.split('/').filter((s) => s !== '' && s !== '.'), ...parts.slice(i + 1)];
        restarted = true;
        break;
      }
      n = c;
    }
    if (restarted) continue;
    if (ix.type[n] === T_FILE) return n;
    if (ix.type[n] === T_HARDLINK) {
      if (++hops > 40) return -1;
      parts = (ix.linkOf(n) ?? '').split('/').filter(Boolean);
      continue;
    }
    return -1;
  }
}

const nameIdCache = new WeakMap<ImageIndex, Map<string, number>>();
function nameId(ix: ImageIndex, s: string): number {
  let m = nameIdCache.get(ix);
  if (!m) nameIdCache.set(ix, (m = new Map(ix.names.map((x, i) => [x, i]))));
  return m.get(s) ?? -1;
}

/** Bytes and count of the distinct final regular files among `paths`. */
export function filesBytes(ix: ImageIndex, paths: Iterable<string>): { bytes: number; files: number } {
  const seen = new Set<number>();
  let bytes = 0;
  for (const p of paths) {
    const n = finalFile(ix, p);
    if (n < 0 || seen.has(n)) continue;
    seen.add(n);
    bytes += ix.size[n];
  }
  return { bytes, files: seen.size };
}

/** RFC 822-like stanzas (dpkg status, PKG-INFO, METADATA headers). */
export function stanzas(text: string): Array<Map<string, string>> {
  const out: Array<Map<string, string>> = [];
  let cur = new Map<string, string>();
  let key = '';
  for (const line of text.split('\n')) {
    if (line.trim() === '') {
      if (cur.size) out.push(cur);
      cur = new Map();
      key = '';
      continue;
    }
    if (/^\s/.test(line) && key) { cur.set(key, cur.get(key) + '\n' + line.trim()); continue; }
    const i = line.indexOf(':');
    if (i <= 0) continue;
    key = line.slice(0, i);
    const v = line.slice(i + 1).trim();
    // Repeated headers (Requires-Dist) are kept one per line.
    cur.set(key, cur.has(key) ? cur.get(key) + '\n' + v : v);
  }
  if (cur.size) out.push(cur);
  return out;
}

/** Package names a dpkg Depends/Pre-Depends field names (every alternative). */
export function dpkgDepends(field: string | undefined): string[] {
  if (!field) return [];
  return field.split(/[,|]/).map((d) => d.trim().split(/[\s(:]/)[0]).filter(Boolean);
}

/** PEP 503 normalized name. */
export function pipName(name: string): string {
  return name.toLowerCase().replace(/[-_.]+/g, '-');
}

/** Resolves `rel` against the directory `dir` (absolute, POSIX). */
function resolvePath(dir: string, rel: string): string {
  const parts = rel.startsWith('/') ? [] : dir.split('/').filter(Boolean);
  for (const s of rel.split('/')) {
    if (s === '' || s === '.') continue;
    if (s === '..') parts.pop(); else parts.push(s);
  }
  return '/' + parts.join('/');
}

interface Pkg { row: PackageRow; deps: string[]; topLevel: boolean | null }

/** Every package the databases in the image list, in layer order then by manager and name. */
export async function readPackages(ix: ImageIndex, read: ReadLayerFiles): Promise<PackageRow[]> {
  const p = plan(ix);
  const content = new Map<number, Map<string, string>>();
  for (const [L, paths] of [...p.want].sort((x, y) => x[0] - y[0])) {
    const files = await read(L, (path) => paths.has(path), DB_MAX_BYTES);
    content.set(L, new Map(files.map((f) => [f.path, Buffer.from(f.data.buffer, f.data.byteOffset, f.data.byteLength).toString('utf8')])));
  }
  const text = (L: number | undefined, path: string): string | undefined => (L === undefined ? undefined : content.get(L)?.get(path));
  const vis = (path: string): string | undefined => text(p.visible.get(path), path);
  const pkgs: Pkg[] = [];

  // dpkg
  const statusCopies = p.statusLayers.map((L) => ({ L, installed: installedDpkg(text(L, DPKG_STATUS) ?? '') }));
  const finalStatus = statusCopies.at(-1);
  if (finalStatus) {
    const auto = new Set<string>();
    for (const st of stanzas(vis(APT_STATES) ?? '')) if (st.get('Auto-Installed') === '1' && st.get('Package')) auto.add(st.get('Package')!);
    for (const [name, st] of finalStatus.installed) {
      const arch = st.get('Architecture');
      const list = vis(`${DPKG_INFO}/${name}:${arch}.list`) ?? vis(`${DPKG_INFO}/${name}.list`) ?? '';
      const { bytes, files } = filesBytes(ix, list.split('\n').filter((l) => l.startsWith('/')));
      const layer = statusCopies.find((c) => c.installed.has(name))!.L;
      pkgs.push({
        row: { manager: 'dpkg', name, version: st.get('Version') ?? '', layer, bytes, files, pulledInBy: null, bytesWithDeps: bytes },
        deps: [...dpkgDepends(st.get('Depends')), ...dpkgDepends(st.get('Pre-Depends'))],
        topLevel: auto.has(name) ? false : null,
      });
    }
  }

  // apk
  const apkCopies = p.apkLayers.map((L) => ({ L, pkgs: apkPackages(text(L, APK_DB) ?? '') }));
  const finalApk = apkCopies.at(-1);
  if (finalApk) {
    for (const [name, a] of finalApk.pkgs) {
      const { bytes, files } = filesBytes(ix, a.files);
      pkgs.push({ row: { manager: 'apk', name, version: a.version, layer: apkCopies.find((c) => c.pkgs.has(name))!.L, bytes, files, pulledInBy: null, bytesWithDeps: bytes }, deps: [], topLevel: null });
    }
  }

  // pip
  for (const d of p.pipDirs) {
    const site = d.dir.slice(0, d.dir.lastIndexOf('/')) || '/';
    let paths: string[];
    let meta: Map<string, string> | undefined;
    if (d.kind === 'dist-info') {
      paths = (vis(`${d.dir}/RECORD`) ?? '').split('\n').map((l) => recordPath(l)).filter((x): x is string => !!x).map((r) => resolvePath(site, r));
      meta = stanzas((vis(`${d.dir}/METADATA`) ?? '').split('\n\n')[0])[0];
    } else {
      paths = (vis(`${d.dir}/installed-files.txt`) ?? '').split('\n').filter(Boolean).map((r) => resolvePath(d.dir, r));
      paths.push(`${d.dir}/installed-files.txt`);
      meta = stanzas((vis(`${d.dir}/PKG-INFO`) ?? '').split('\n\n')[0])[0];
    }
    const base = d.dir.slice(d.dir.lastIndexOf('/') + 1).replace(/\.(dist|egg)-info$/, '');
    const name = meta?.get('Name') ?? base.split('-')[0];
    const version = meta?.get('Version') ?? base.split('-')[1] ?? '';
    const deps = (meta?.get('Requires-Dist') ?? '').split('\n').filter(Boolean)
      // A requirement only for an extra is not installed with the package.
      .filter((r) => !/;\s*.*extra\s*==/.test(r)).map((r) => pipName(r.split(/[\s;<>=!~[(]/)[0]));
    const { bytes, files } = filesBytes(ix, paths);
    pkgs.push({ row: { manager: 'pip', name, version, layer: d.firstLayer, bytes, files, pulledInBy: null, bytesWithDeps: bytes }, deps, topLevel: d.kind === 'dist-info' && d.requested ? true : null });
  }

  // npm
  for (const d of p.npmDirs) {
    let doc: { name?: unknown; version?: unknown } = {};
    try { doc = JSON.parse(vis(`${d.dir}/package.json`) ?? '{}') as typeof doc; } catch { /* an unreadable package.json: its directory still counts */ }
    const { bytes, files } = npmBytes(ix, d.dir);
    const name = typeof doc.name === 'string' ? doc.name : d.dir.slice(d.dir.lastIndexOf('node_modules/') + 13);
    pkgs.push({ row: { manager: 'npm', name, version: typeof doc.version === 'string' ? doc.version : '', layer: d.firstLayer, bytes, files, pulledInBy: null, bytesWithDeps: bytes }, deps: [], topLevel: null });
  }

  credit(pkgs.filter((x) => x.row.manager === 'dpkg'), (n) => n);
  credit(pkgs.filter((x) => x.row.manager === 'pip'), pipName);
  const order: Record<PackageManager, number> = { dpkg: 0, apk: 1, pip: 2, npm: 3 };
  return pkgs.map((x) => x.row).sort((a, b) => a.layer - b.layer || order[a.manager] - order[b.manager] || (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
}

function installedDpkg(status: string): Map<string, Map<string, string>> {
  const out = new Map<string, Map<string, string>>();
  for (const st of stanzas(status)) {
    const name = st.get('Package');
    if (name && /\binstalled$/.test(st.get('Status') ?? '')) out.set(name, st);
  }
  return out;
}

function apkPackages(db: string): Map<string, { version: string; files: string[] }> {
  const out = new Map<string, { version: string; files: string[] }>();
  for (const block of db.split(/\n\n+/)) {
    let name = '', version = '', dir = '';
    const files: string[] = [];
    for (const line of block.split('\n')) {
      const k = line.slice(0, 2), v = line.slice(2);
      if (k === 'P:') name = v;
      else if (k === 'V:') version = v;
      else if (k === 'F:') dir = v;
      else if (k === 'R:') files.push('/' + (dir ? `${dir}/${v}` : v));
    }
    if (name) out.set(name, { version, files });
  }
  return out;
}

/** The path of a RECORD line (CSV: path,hash,size; a path with a comma is quoted). */
function recordPath(line: string): string | undefined {
  if (!line.trim()) return undefined;
  if (line.startsWith('"')) {
    const end = line.indexOf('",');
    return end > 0 ? line.slice(1, end).replace(/""/g, '"') : undefined;
  }
  const i = line.indexOf(',');
  return i < 0 ? line : line.slice(0, i);
}

/** An npm package's files: its directory without nested node_modules. */
function npmBytes(ix: ImageIndex, dir: string): { bytes: number; files: number } {
  const root = ix.lookup(dir);
  if (root < 0) return { bytes: 0, files: 0 };
  let bytes = 0, files = 0;
  const stack = [root];
  while (stack.length) {
    const n = stack.pop()!;
    for (let k = ix.childStart[n]; k < ix.childStart[n + 1]; k++) {
      const c = ix.childList[k];
      if (!ix.live[c]) continue;
      if (ix.type[c] === T_FILE) { bytes += ix.size[c]; files++; }
      else if (ix.nameOf(c) !== 'node_modules' && ix.type[c] === T_DIR) stack.push(c);
    }
  }
  return { bytes, files };
}

/**
 * Credits each dependency-only package to the top-level package that pulled it in: the first (by
 * layer, then name) top-level package whose dependencies reach it. Top-level: what pip says was
 * asked for (REQUESTED); not what apt's extended_states marks as installed automatically; else
 * what no other installed package needs.
 */
function credit(pkgs: Pkg[], norm: (n: string) => string): void {
  const by = new Map(pkgs.map((x) => [norm(x.row.name), x]));
  const needed = new Set(pkgs.flatMap((x) => x.deps.map(norm)));
  const top = (x: Pkg): boolean => x.topLevel ?? !needed.has(norm(x.row.name));
  const roots = pkgs.filter(top).sort((a, b) => a.row.layer - b.row.layer || (a.row.name < b.row.name ? -1 : 1));
  for (const r of roots) {
    const stack = [...r.deps];
    const seen = new Set<string>();
    while (stack.length) {
      const d = norm(stack.pop()!);
      if (seen.has(d)) continue;
      seen.add(d);
      const x = by.get(d);
      if (!x || x === r || top(x) || x.row.pulledInBy !== null) continue;
      x.row.pulledInBy = r.row.name;
      r.row.bytesWithDeps += x.row.bytes;
      stack.push(...x.deps);
    }
  }
}
