// Path rules for layer tars: every entry name becomes an absolute, normalized path. Names that try
// to leave the root (`../x`, `/../x`) are clamped at the root, as a union filesystem would see them,
// and reported, never followed: nothing from a layer is ever written to disk.

export interface NormalizedPath {
  /** "/a/b" form; "/" for the root itself. */
  path: string;
  /** True when the name had `..` components that reached above the root. */
  escaped: boolean;
}

export function normalizeEntryPath(name: string): NormalizedPath {
  const out: string[] = [];
  let escaped = false;
  for (const part of name.split('/')) {
    if (part === '' || part === '.') continue;
    if (part === '..') {
      if (out.length === 0) escaped = true;
      else out.pop();
      continue;
    }
    out.push(part);
  }
  return { path: '/' + out.join('/'), escaped };
}

/** An archive member's name as a path relative to the archive root (`./a/../b` → `b`). */
export function archiveRel(name: string): string {
  return normalizeEntryPath(name).path.slice(1);
}

export function parentPath(path: string): string {
  const i = path.lastIndexOf('/');
  return i <= 0 ? '/' : path.slice(0, i);
}

export function joinPath(dir: string, name: string): string {
  return dir === '/' ? '/' + name : dir + '/' + name;
}

export const WHITEOUT_PREFIX = '.wh.';
export const OPAQUE_MARKER = '.wh..wh..opq';
/** AUFS metadata names (`.wh..wh.plnk`, `.wh..wh.aufs`) that are neither whiteouts nor files. */
export const AUFS_META_PREFIX = '.wh..wh.';

/** `**` any path, `*` any name part, `?` one character; everything else literal. */
export function globToRegExp(pattern: string): RegExp {
  let re = '';
  for (let i = 0; i < pattern.length; i++) {
    const c = pattern[i];
    if (c === '*' && pattern[i + 1] === '*') { re += '.*'; i++; }
    else if (c === '*') re += '[^/]*';
    else if (c === '?') re += '[^/]';
    else re += c.replace(/[.+^${}()|[\]\\]/g, '\\$&');
  }
  return new RegExp('^' + re + '$');
}

/**
 * Joins a POSIX path onto a directory and normalizes it (`..` stops at the root). With
 * `keepTrailingSlash`, a trailing `/` (or `.`) of `p` is kept, as COPY destinations need.
 */
export function posixJoin(base: string, p: string, keepTrailingSlash = false): string {
  const joined = p.startsWith('/') ? p : (base.endsWith('/') ? base : base + '/') + p;
  const parts: string[] = [];
  for (const seg of joined.split('/')) {
    if (seg === '' || seg === '.') continue;
    if (seg === '..') parts.pop();
    else parts.push(seg);
  }
  return '/' + parts.join('/') + (keepTrailingSlash && (p.endsWith('/') || p === '.') ? '/' : '');
}
