// Two images compared as two image indexes: their merged trees walked side by side (children are
// sorted by name in both), every path either image shows classified as added, removed, modified or
// unchanged. A path whose visible copy comes from the same layer (the same diffID) in both images
// is unchanged without reading anything; otherwise type, mode, owner, size and link target are
// compared, and a regular file equal in all of them becomes a content check: the caller streams
// both layers, hashes the two copies (tarContentDigests) and settles it with settleDiff().
// A hardlink counts as the file it links to (a container sees a regular file either way).
import type { ImageIndex } from './imageIndex';
import { ENTRY_TYPES, T_DIR, T_FILE, T_HARDLINK } from './layerTable';

const T_SYMLINK = ENTRY_TYPES.indexOf('symlink');

export type FileChange = 'added' | 'removed' | 'modified';

export interface FileDiff {
  path: string;
  change: FileChange;
  /** Bytes in the old image (a hardlink: its target's); null when absent there. */
  oldSize: number | null;
  newSize: number | null;
  /** The layer that provides the path: in the new image (added, modified), in the old one (removed). */
  layer: number;
}

/** A regular file equal in metadata and size in both images, shipped by different layers: compare contents. */
export interface ContentCheck {
  path: string;
  size: number;
  /** The layer of each image that ships the visible copy, and the path of the entry holding its bytes there (a hardlink's target). */
  oldLayer: number;
  oldEntry: string;
  newLayer: number;
  newEntry: string;
}

export interface IndexDiff {
  /** Changes known from the indexes alone, sorted by path. */
  files: FileDiff[];
  /** Files whose contents decide. */
  checks: ContentCheck[];
  /** Paths found unchanged because the same layer provides them in both images (nothing read). */
  sameLayer: number;
}

export interface DiffSide {
  index: ImageIndex;
  /** The image's diffIDs, bottom first. */
  diffIds: readonly string[];
}

/** The type a container sees: a hardlink is a regular file. */
function kindOf(ix: ImageIndex, n: number): number {
  const t = ix.type[n];
  return t === T_HARDLINK ? T_FILE : t;
}

/**
 * A path's size: a hardlink's is that of the file it links to in its own layer (the index resolves
 * a hardlink's size against the final tree, where a later layer may have replaced the target).
 */
function sizeOf(ix: ImageIndex, n: number): number {
  if (ix.type[n] !== T_HARDLINK) return ix.size[n];
  const to = ix.linkOf(n);
  const t = to === undefined ? -1 : ix.lookup(to);
  if (t < 0) return ix.size[n];
  for (let i = ix.copyStart[t + 1] - 1; i >= ix.copyStart[t]; i--) {
    if (ix.copyLayer[i] === ix.layer[n] && ix.copyType[i] === T_FILE) return ix.copyBytes[i];
  }
  return ix.size[n];
}

/** The entry holding a file's bytes in its layer: its own path, or a hardlink's target. */
function entryPath(ix: ImageIndex, n: number, path: string): string {
  return ix.type[n] === T_HARDLINK ? ix.linkOf(n) ?? path : path;
}

/** Compares the merged trees of two images. Nothing is read: content checks are returned. */
export function compareIndexes(old: DiffSide, neu: DiffSide): IndexDiff {
  const a = old.index, b = neu.index;
  const files: FileDiff[] = [];
  const checks: ContentCheck[] = [];
  let sameLayer = 0;
  const liveA = (n: number): boolean => a.live[n] === 1;
  const liveB = (n: number): boolean => b.live[n] === 1;

  const subtree = (ix: ImageIndex, n: number, path: string, change: 'added' | 'removed'): void => {
    files.push(change === 'added'
      ? { path, change, oldSize: null, newSize: sizeOf(ix, n), layer: ix.layer[n] }
      : { path, change, oldSize: sizeOf(ix, n), newSize: null, layer: ix.layer[n] });
    if (ix.type[n] !== T_DIR) return;
    for (let i = ix.childStart[n]; i < ix.childStart[n + 1]; i++) {
      const c = ix.childList[i];
      if (ix.live[c]) subtree(ix, c, path + '/' + ix.nameOf(c), change);
    }
  };

  const pair = (x: number, y: number, path: string): void => {
    const la = a.layer[x], lb = b.layer[y];
    const same = la >= 0 && lb >= 0 && old.diffIds[la] === neu.diffIds[lb];
    const ka = kindOf(a, x), kb = kindOf(b, y);
    if (same) sameLayer++;
    else {
      const sa = sizeOf(a, x), sb = sizeOf(b, y);
      const differs = ka !== kb || a.mode[x] !== b.mode[y] || a.uid[x] !== b.uid[y] || a.gid[x] !== b.gid[y]
        || sa !== sb || (ka === T_SYMLINK && a.linkOf(x) !== b.linkOf(y));
      if (differs) files.push({ path, change: 'modified', oldSize: sa, newSize: sb, layer: lb });
      else if (ka === T_FILE && sa > 0) {
        checks.push({ path, size: sa, oldLayer: la, oldEntry: entryPath(a, x, path), newLayer: lb, newEntry: entryPath(b, y, path) });
      }
    }
    const dirA = a.type[x] === T_DIR, dirB = b.type[y] === T_DIR;
    if (dirA && dirB) children(x, y, path);
    else if (dirA) removedChildren(x, path);
    else if (dirB) addedChildren(y, path);
  };
  const removedChildren = (x: number, path: string): void => {
    for (let i = a.childStart[x]; i < a.childStart[x + 1]; i++) {
      const c = a.childList[i];
      if (liveA(c)) subtree(a, c, path + '/' + a.nameOf(c), 'removed');
    }
  };
  const addedChildren = (y: number, path: string): void => {
    for (let i = b.childStart[y]; i < b.childStart[y + 1]; i++) {
      const c = b.childList[i];
      if (liveB(c)) subtree(b, c, path + '/' + b.nameOf(c), 'added');
    }
  };
  // Both children lists are sorted by name (the same `<` order): a merge join.
  const children = (x: number, y: number, path: string): void => {
    const base = path === '/' ? '' : path;
    let i = a.childStart[x];
    let j = b.childStart[y];
    const iEnd = a.childStart[x + 1], jEnd = b.childStart[y + 1];
    while (i < iEnd || j < jEnd) {
      const ca = i < iEnd ? a.childList[i] : -1;
      const cb = j < jEnd ? b.childList[j] : -1;
      if (ca >= 0 && !liveA(ca)) { i++; continue; }
      if (cb >= 0 && !liveB(cb)) { j++; continue; }
      const na = ca >= 0 ? a.nameOf(ca) : undefined;
      const nb = cb >= 0 ? b.nameOf(cb) : undefined;
      if (nb === undefined || (na !== undefined && na < nb)) {
        subtree(a, ca, base + '/' + na, 'removed');
        i++;
      } else if (na === undefined || nb < na) {
        subtree(b, cb, base + '/' + nb, 'added');
        j++;
      } else {
        pair(ca, cb, base + '/' + na);
        i++;
        j++;
      }
    }
  };
  children(0, 0, '/');
  files.sort((p, q) => (p.path < q.path ? -1 : p.path > q.path ? 1 : 0));
  return { files, checks, sameLayer };
}

/**
 * The differences once content checks are answered: `digest(side, layer, entryPath)` gives the
 * content digest of that entry (undefined when the layer did not hold it as a regular file, which
 * counts as a difference). Sorted by path.
 */
export function settleDiff(d: IndexDiff, digest: (side: 'old' | 'new', layer: number, entry: string) => string | undefined): FileDiff[] {
  const out = [...d.files];
  for (const c of d.checks) {
    const x = digest('old', c.oldLayer, c.oldEntry);
    const y = digest('new', c.newLayer, c.newEntry);
    if (x === undefined || y === undefined || x !== y) out.push({ path: c.path, change: 'modified', oldSize: c.size, newSize: c.size, layer: c.newLayer });
  }
  return out.sort((p, q) => (p.path < q.path ? -1 : p.path > q.path ? 1 : 0));
}

/** Per layer of one side, the entries whose contents must be hashed. */
export function entriesToHash(d: IndexDiff, side: 'old' | 'new'): Map<number, Set<string>> {
  const m = new Map<number, Set<string>>();
  for (const c of d.checks) {
    const layer = side === 'old' ? c.oldLayer : c.newLayer;
    const entry = side === 'old' ? c.oldEntry : c.newEntry;
    let s = m.get(layer);
    if (!s) m.set(layer, (s = new Set()));
    s.add(entry);
  }
  return m;
}
