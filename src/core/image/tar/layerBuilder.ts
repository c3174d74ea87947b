// Turns a layer tar's headers, one at a time, into a layer's index (a LayerTable): the one place where entry names
// become paths, whiteout and opaque markers are recognised and entry types mapped. Every reader
// (streaming, seeking, cached) goes through it, so all of them build the same index.
import { ImageFormatError } from '../errors';
import { AUFS_META_PREFIX, OPAQUE_MARKER, WHITEOUT_PREFIX, joinPath, normalizeEntryPath, parentPath } from './paths';
import type { Compression } from './decompress';
import type { EntryType } from '../types';
import { LayerTableBuilder, T_BLOCK, T_CHAR, T_DIR, T_FIFO, T_FILE, T_HARDLINK, T_SYMLINK, type LayerTable } from '../index/layerTable';
import { headerNumber, isUstar, latin1String, type RawHeaderSink } from './tarWalk';

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
export class LayerIndexBuilder implements RawHeaderSink {
  private readonly table: LayerTableBuilder;
  /** A raw header's path, prefix and name joined (ustar: at most 155 + 1 + 100 bytes). */
  private readonly path = new Uint8Array(512);

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
        else if (!name.startsWith(AUFS_META_PREFIX)) {
          const type = entryType(h.type) ?? 'file';
          const link = type === 'symlink' ? h.linkname ?? '' : type === 'hardlink' ? normalizeEntryPath(h.linkname ?? '').path : undefined;
          this.table.addWhiteout(joinPath(dir, name.slice(WHITEOUT_PREFIX.length)), {
            type, mode: (h.mode ?? 0) & 0o7777, uid: h.uid ?? 0, gid: h.gid ?? 0, size: type === 'file' ? (h.size ?? 0) : 0, ...(link !== undefined ? { linkname: link } : {}),
          });
        }
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

  /**
   * A plain header (checked, no long name or PAX record pending) read from its bytes: taken when
   * its type is a plain one and its name is ASCII and ordinary (no leading '/' or '.', no empty,
   * '.' or '..' part, no part starting with '.': so no marker); otherwise false, and the caller
   * hands the decoded header to add(). The index is the same either way.
   */
  raw(buf: Buffer, off: number): boolean {
    let type: number;
    switch (buf[off + 156]) {
      case 0: case 48: case 55: type = T_FILE; break;
      case 49: type = T_HARDLINK; break;
      case 50: type = T_SYMLINK; break;
      case 51: type = T_CHAR; break;
      case 52: type = T_BLOCK; break;
      case 53: type = T_DIR; break;
      case 54: type = T_FIFO; break;
      default: return false;
    }
    const p = this.path;
    let len = 0;
    let high = 0;
    if (buf[off + 345] !== 0 && isUstar(buf, off)) {
      for (let i = off + 345, e = off + 500, c: number; i < e && (c = buf[i]) !== 0; i++) { p[len++] = c; high |= c; }
      p[len++] = 47;
    }
    for (let i = off, e = off + 100, c: number; i < e && (c = buf[i]) !== 0; i++) { p[len++] = c; high |= c; }
    if (high >= 0x80 || len === 0 || p[0] === 47 || p[0] === 46) return false;
    for (let i = 0; i < len - 1; i++) if (p[i] === 47 && (p[i + 1] === 46 || p[i + 1] === 47)) return false;
    if (p[len - 1] === 47) len--;
    if (++this.table.tarEntries > this.maxEntries) {
      throw new ImageFormatError('limit', `${this.label} has more than ${this.maxEntries} entries`);
    }
    const mtime = headerNumber(buf, off + 136, 12);
    const linkname = type === T_SYMLINK ? latin1OrUtf8(buf, off + 157) : type === T_HARDLINK ? normalizeEntryPath(latin1OrUtf8(buf, off + 157)).path : undefined;
    this.table.addRaw(p, len, type, type === T_FILE ? headerNumber(buf, off + 124, 12) : 0, headerNumber(buf, off + 100, 8) & 0o7777,
      headerNumber(buf, off + 108, 8), headerNumber(buf, off + 116, 8), Number.isFinite(mtime) ? Math.floor(mtime) : 0, linkname);
    return true;
  }

  private tooLong(path: string): never {
    throw new ImageFormatError('limit', `${this.label} has an entry name of ${path.length} characters (the limit is ${MAX_PATH_BYTES})`);
  }

  finish(meta: { diffId: string; tarBytes: number; compression: Compression }): LayerTable {
    return this.table.finish(meta);
  }
}

/** A header's NUL-terminated link name field (100 bytes) as decodeHeader reads it. */
function latin1OrUtf8(buf: Buffer, off: number): string {
  let end = off;
  let high = 0;
  for (let c: number; end < off + 100 && (c = buf[end]) !== 0; end++) high |= c;
  return high < 0x80 ? latin1String(buf, off, end) : buf.toString('utf8', off, end);
}
