// Turns a layer tar's headers, one at a time, into a layer's index (a LayerTable): the one place where entry names
// become paths, whiteout and opaque markers are recognised and entry types mapped. Every reader
// (streaming, seeking, cached) goes through it, so all of them build the same index.
import { ImageFormatError } from '../errors';
import { AUFS_META_PREFIX, OPAQUE_MARKER, WHITEOUT_PREFIX, joinPath, normalizeEntryPath, parentPath } from './paths';
import type { Compression } from './decompress';
import type { EntryType } from '../types';
import { LayerTableBuilder, type LayerTable } from '../index/layerTable';

const AUFS_META_DIR = '/' + AUFS_META_PREFIX;
/** No Linux file system holds a longer path (PATH_MAX); deeper trees only cost time. */
export const MAX_PATH_BYTES = 4096;

/** The header fields the index needs (tar-stream's header and ours both fit, mtime in seconds). */
export interface HeaderFields {
  name: string;
  type: string | null;
  size: number;
  mode: number;
  uid: number;
  gid: number;
  mtime: number;
  linkname: string | null;
}

export function entryType(t: string | null | undefined): EntryType | null {
  switch (t) {
    case 'file': case 'contiguous-file': return 'file';
    case 'directory': return 'dir';
    case 'symlink': return 'symlink';
    case 'link': return 'hardlink';
    case 'character-device': return 'char';
    case 'block-device': return 'block';
    case 'fifo': return 'fifo';
    default: return null;
  }
}

/**
 * The tar header walk's side of the index: names become normalized paths, markers become
 * whiteouts and opaque directories, types are mapped, and the rest goes into the layer's columns
 * (LayerTableBuilder): no object per entry is kept.
 */
export class LayerIndexBuilder {
  private readonly table: LayerTableBuilder;

  /** `expected`: about how many entries the layer holds, if known (sizes the tables). */
  constructor(private readonly label = 'layer', private readonly maxEntries = 10_000_000, expected?: number) {
    this.table = new LayerTableBuilder(expected);
  }

  get tarEntries(): number {
    return this.table.tarEntries;
  }

  add(h: HeaderFields): void {
    if (++this.table.tarEntries > this.maxEntries) {
      throw new ImageFormatError('limit', `${this.label} has more than ${this.maxEntries} entries`);
    }
    const n = h.name;
    const c = n.charCodeAt(0);
    let path: string;
    // The common name (`a/b/c`, `a/b/`: no leading `/` or `.`, no `/.`, no `//`) without
    // normalizeEntryPath's split and join; no part of it starts with '.', so it is no marker.
    if (c !== 47 && c !== 46 && n.length > 0 && n.indexOf('/.') === -1 && n.indexOf('//') === -1) {
      path = '/' + (n.charCodeAt(n.length - 1) === 47 ? n.slice(0, n.length - 1) : n);
      if (path.length > MAX_PATH_BYTES) this.tooLong(path);
    } else {
      const norm = normalizeEntryPath(n);
      path = norm.path;
      if (norm.escaped) this.table.warn(`entry name '${n}' climbs above the root; read as ${path}`);
      if (path.length > MAX_PATH_BYTES) this.tooLong(path);
      if (path === '/') return; // the root directory's own entry
      const cut = path.lastIndexOf('/');
      if (path.startsWith(WHITEOUT_PREFIX, cut + 1)) {
        const name = path.slice(cut + 1);
        const dir = parentPath(path);
        if (name === OPAQUE_MARKER) this.table.addOpaque(dir);
        else if (!name.startsWith(AUFS_META_PREFIX)) this.table.addWhiteout(joinPath(dir, name.slice(WHITEOUT_PREFIX.length)));
        return;
      }
      if (path.includes(AUFS_META_DIR)) return; // contents of AUFS metadata dirs
    }
    const type = entryType(h.type);
    if (type === null) { this.table.warn(`entry ${path} has unsupported type '${h.type}'; skipped`); return; }
    const linkname = type === 'symlink' ? h.linkname ?? '' : type === 'hardlink' ? normalizeEntryPath(h.linkname ?? '').path : undefined;
    this.table.addEntry(path, type, type === 'file' ? (h.size ?? 0) : 0, (h.mode ?? 0) & 0o7777, h.uid ?? 0, h.gid ?? 0,
      Number.isFinite(h.mtime) ? Math.floor(h.mtime) : 0, linkname);
  }

  private tooLong(path: string): never {
    throw new ImageFormatError('limit', `${this.label} has an entry name of ${path.length} characters (the limit is ${MAX_PATH_BYTES})`);
  }

  finish(meta: { diffId: string; tarBytes: number; compression: Compression }): LayerTable {
    return this.table.finish(meta);
  }
}
