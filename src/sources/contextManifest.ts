// The build context: the files under the context directory that a build sends, after .dockerignore
// (the docker CLI's rules: moby/patternmatcher patterns, `!` exceptions, the Dockerfile and
// .dockerignore always sent), with sizes and sha256 of their contents. The same walk makes the tar
// the engine receives, so what the cache prediction compares is exactly what was sent.
//
// Streaming: files are read once, hashed while they are packed; nothing is held in memory. No
// vscode import (usable from tests and the CLI).
import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { lstat, readdir, readFile, readlink } from 'node:fs/promises';
import * as path from 'node:path';
import { PassThrough, Transform, type Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import * as tar from 'tar-stream';
import type { ContextFileInfo, ContextManifest } from '../core/dockerfile/cachePredict';

// ---------------------------------------------------------------------------------------------
// .dockerignore

export interface IgnorePattern {
  /** The cleaned pattern (no leading `/`, no `!`). */
  pattern: string;
  exclusion: boolean;
  regexp: RegExp;
}

/** Parse .dockerignore text as the docker CLI does (moby/patternmatcher ReadAll + NewPatternMatcher). */
export function parseDockerignore(text: string): IgnorePattern[] {
  const out: IgnorePattern[] = [];
  const lines = text.replace(/^\uFEFF/, '').split(/\r?\n/);
  for (const raw of lines) {
    if (raw.startsWith('#')) continue;
    let p = raw.trim();
    if (p === '') continue;
    let exclusion = false;
    if (p.startsWith('!')) {
      exclusion = true;
      p = p.slice(1).trim();
    }
    if (p.length > 0) {
      p = cleanPath(p);
      if (p.length > 1 && p.startsWith('/')) p = p.slice(1);
    }
    if (p === '') continue;
    out.push({ pattern: p, exclusion, regexp: patternRegExp(p) });
  }
  return out;
}

/** Go's path.Clean for slash paths. */
function cleanPath(p: string): string {
  if (p === '') return '.';
  const rooted = p.startsWith('/');
  const parts: string[] = [];
  for (const seg of p.split('/')) {
    if (seg === '' || seg === '.') continue;
    if (seg === '..') {
      if (parts.length > 0 && parts[parts.length - 1] !== '..') parts.pop();
      else if (!rooted) parts.push('..');
    } else {
      parts.push(seg);
    }
  }
  const joined = parts.join('/');
  if (rooted) return '/' + joined;
  return joined === '' ? '.' : joined;
}

function patternRegExp(pattern: string): RegExp {
  let re = '^';
  const n = pattern.length;
  for (let i = 0; i < n; i++) {
    const ch = pattern[i];
    if (ch === '*') {
      if (pattern[i + 1] === '*') {
        i++;
        if (pattern[i + 1] === '/') i++;
        if (i + 1 >= n) re += '.*';
        else re += '(.*/)?';
      } else {
        re += '[^/]*';
      }
    } else if (ch === '?') {
      re += '[^/]';
    } else if ('.+()|{}$^'.includes(ch)) {
      re += '\\' + ch;
    } else if (ch === '\\') {
      if (i + 1 < n) re += '\\' + pattern[++i];
      else re += '\\\\';
    } else if (ch === '[' || ch === ']') {
      re += ch;
    } else {
      re += ch;
    }
  }
  re += '$';
  try {
    return new RegExp(re);
  } catch {
    // An invalid class: match nothing rather than fail the build (the CLI would report it).
    return /(?!)/;
  }
}

export class DockerignoreMatcher {
  readonly patterns: IgnorePattern[];
  readonly hasExceptions: boolean;
  private readonly keep: Set<string>;

  /** `keep`: context-relative paths always sent (the Dockerfile, .dockerignore). */
  constructor(text: string | null, keep: readonly string[] = []) {
    this.patterns = text ? parseDockerignore(text) : [];
    this.hasExceptions = this.patterns.some((p) => p.exclusion);
    this.keep = new Set(keep.map((k) => cleanPath(k)));
  }

  /** Is this context-relative path left out of the context? */
  ignores(rel: string): boolean {
    if (this.keep.has(rel)) return false;
    let matched = false;
    const parent = path.posix.dirname(rel);
    const parentDirs = parent === '.' ? [] : parent.split('/');
    for (const p of this.patterns) {
      // Only patterns that could change the answer are tried.
      if (p.exclusion !== matched) continue;
      let m = p.regexp.test(rel);
      for (let i = 0; !m && i < parentDirs.length; i++) {
        m = p.regexp.test(parentDirs.slice(0, i + 1).join('/'));
      }
      if (m) matched = !p.exclusion;
    }
    return matched;
  }

  /** An ignored directory can be skipped whole unless an exception could bring something back. */
  canSkipDir(rel: string): boolean {
    if (!this.ignores(rel)) return false;
    if (!this.hasExceptions) return ![...this.keep].some((k) => k.startsWith(rel + '/'));
    return false;
  }
}

// ---------------------------------------------------------------------------------------------
// The walk

export interface ContextEntry {
  /** Context-relative POSIX path. */
  rel: string;
  abs: string;
  type: 'file' | 'dir' | 'symlink';
  size: number;
  mode: number;
  mtimeMs: number;
  linkname?: string;
}

export interface WalkOptions {
  /** Paths always included (context-relative): the Dockerfile and .dockerignore. */
  keep?: readonly string[];
  signal?: AbortSignal;
}

function aborted(signal?: AbortSignal): void {
  if (signal?.aborted) {
    const e = new Error('Cancelled');
    e.name = 'AbortError';
    throw e;
  }
}

/** Every entry of the context the build sends, sorted by path (directories before their contents). */
export async function* walkContext(root: string, opts: WalkOptions = {}): AsyncGenerator<ContextEntry> {
  let ignoreText: string | null = null;
  try {
    ignoreText = await readFile(path.join(root, '.dockerignore'), 'utf8');
  } catch {
    ignoreText = null;
  }
  const matcher = new DockerignoreMatcher(ignoreText, [...(opts.keep ?? []), '.dockerignore']);
  yield* walkDir(root, '', matcher, opts.signal);
}

async function* walkDir(root: string, relDir: string, matcher: DockerignoreMatcher, signal?: AbortSignal): AsyncGenerator<ContextEntry> {
  aborted(signal);
  const absDir = relDir ? path.join(root, ...relDir.split('/')) : root;
  const names = (await readdir(absDir)).sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
  for (const name of names) {
    const rel = relDir ? `${relDir}/${name}` : name;
    const abs = path.join(absDir, name);
    let st;
    try {
      st = await lstat(abs);
    } catch {
      continue; // vanished while walking
    }
    if (st.isDirectory()) {
      if (matcher.canSkipDir(rel)) continue;
      if (!matcher.ignores(rel)) yield { rel, abs, type: 'dir', size: 0, mode: st.mode & 0o7777, mtimeMs: st.mtimeMs };
      yield* walkDir(root, rel, matcher, signal);
    } else if (st.isFile()) {
      if (matcher.ignores(rel)) continue;
      yield { rel, abs, type: 'file', size: st.size, mode: st.mode & 0o7777, mtimeMs: st.mtimeMs };
    } else if (st.isSymbolicLink()) {
      if (matcher.ignores(rel)) continue;
      const linkname = await readlink(abs);
      yield { rel, abs, type: 'symlink', size: Buffer.byteLength(linkname), mode: st.mode & 0o7777, mtimeMs: st.mtimeMs, linkname };
    }
    // sockets, fifos, devices: not sent (as the docker CLI)
  }
}

function sha256(data: string | Buffer): string {
  return createHash('sha256').update(data).digest('hex');
}

function info(e: ContextEntry, hash: string): ContextFileInfo {
  const i: ContextFileInfo = { size: e.size, sha256: hash, mode: e.mode };
  if (e.type !== 'file') i.type = e.type;
  return i;
}

export interface ManifestOptions extends WalkOptions {
  /**
   * A manifest from before with mtimes (see `mtimes`): a file with the same size and mtime is taken
   * to have the same hash (no read). Size differs: changed, no read either.
   */
  previous?: { manifest: ContextManifest; mtimes: Record<string, number> } | null;
  onProgress?: (files: number, bytes: number) => void;
}

export interface ManifestResult {
  manifest: ContextManifest;
  /** mtime (ms) per file, for the next call's `previous`. */
  mtimes: Record<string, number>;
  files: number;
  bytesHashed: number;
}

/** The manifest of a context directory (sizes, then hashes), reading as little as it can. */
export async function contextManifest(root: string, opts: ManifestOptions = {}): Promise<ManifestResult> {
  const files: Record<string, ContextFileInfo> = {};
  const mtimes: Record<string, number> = {};
  let n = 0;
  let bytes = 0;
  const prev = opts.previous;
  for await (const e of walkContext(root, opts)) {
    aborted(opts.signal);
    n++;
    mtimes[e.rel] = e.mtimeMs;
    if (e.type === 'dir') {
      files[e.rel] = info(e, '');
      continue;
    }
    if (e.type === 'symlink') {
      files[e.rel] = info(e, sha256(e.linkname ?? ''));
      continue;
    }
    const was = prev?.manifest.files[e.rel];
    if (was && !was.unknown && (was.type ?? 'file') === 'file' && was.size === e.size && prev!.mtimes[e.rel] === e.mtimeMs) {
      files[e.rel] = info(e, was.sha256);
      continue;
    }
    if (was && was.size !== e.size) {
      // Changed for sure: the hash is only needed to compare with the next build, compute it anyway
      // for small files, mark big ones as unknown.
      files[e.rel] = info(e, e.size <= 1 << 20 ? await hashFile(e.abs, opts.signal) : `size:${e.size}`);
      bytes += e.size <= 1 << 20 ? e.size : 0;
      continue;
    }
    files[e.rel] = info(e, await hashFile(e.abs, opts.signal));
    bytes += e.size;
    opts.onProgress?.(n, bytes);
  }
  return { manifest: { files }, mtimes, files: n, bytesHashed: bytes };
}

async function hashFile(abs: string, signal?: AbortSignal): Promise<string> {
  const h = createHash('sha256');
  await pipeline(createReadStream(abs, { highWaterMark: 1 << 20 }), new Transform({
    transform(chunk: Buffer, _enc, cb) {
      h.update(chunk);
      cb();
    },
  }), ...(signal ? [{ signal }] as const : []));
  return h.digest('hex');
}

// ---------------------------------------------------------------------------------------------
// The tar

type TarHeader = Parameters<tar.Pack['entry']>[0];

export interface PackOptions extends WalkOptions {
  /** Content to send instead of the file on disk (context-relative path → bytes), e.g. the Dockerfile as read. */
  overrides?: ReadonlyMap<string, Buffer>;
  onProgress?: (files: number, bytes: number) => void;
}

export interface PackedContext {
  /** The tar stream for POST /build. */
  tar: Readable;
  /** Resolves when the tar is complete, with the manifest of what it holds; rejects on a read error. */
  manifest: Promise<ManifestResult>;
}

/**
 * Pack the context into a tar (uid/gid 0, as the docker CLI sends it), hashing every file on the
 * way. The tar is produced as fast as the reader takes it.
 */
export function packContext(root: string, opts: PackOptions = {}): PackedContext {
  const pack = tar.pack();
  const out = new PassThrough({ highWaterMark: 1 << 20 });
  // Failures reach the caller through `manifest` (and the reader through the stream's own
  // listeners): an unread stream that fails must not become an uncaught exception.
  out.on('error', () => undefined);
  pack.on('error', () => undefined);
  pack.pipe(out);
  const manifest = (async (): Promise<ManifestResult> => {
    const files: Record<string, ContextFileInfo> = {};
    const mtimes: Record<string, number> = {};
    let n = 0;
    let bytes = 0;
    try {
      for await (const e of walkContext(root, opts)) {
        aborted(opts.signal);
        n++;
        mtimes[e.rel] = e.mtimeMs;
        const header: TarHeader = { name: e.rel, mode: e.mode, mtime: new Date(Math.floor(e.mtimeMs / 1000) * 1000), uid: 0, gid: 0, uname: '', gname: '' };
        if (e.type === 'dir') {
          await entry(pack, { ...header, name: e.rel + '/', type: 'directory' });
          files[e.rel] = info(e, '');
        } else if (e.type === 'symlink') {
          await entry(pack, { ...header, type: 'symlink', linkname: e.linkname ?? '' });
          files[e.rel] = info(e, sha256(e.linkname ?? ''));
        } else {
          const override = opts.overrides?.get(e.rel);
          if (override) {
            await entry(pack, { ...header, type: 'file', size: override.length }, override);
            files[e.rel] = { ...info(e, sha256(override)), size: override.length };
            bytes += override.length;
          } else {
            const h = createHash('sha256');
            let entryDone!: Promise<void>;
            const w = await new Promise<ReturnType<tar.Pack['entry']>>((resolveSink) => {
              entryDone = new Promise<void>((resolve, reject) => {
                resolveSink(pack.entry({ ...header, type: 'file', size: e.size }, (err) => (err ? reject(err) : resolve())));
              });
            });
            try {
              for await (const chunk of createReadStream(e.abs, { highWaterMark: 1 << 20, signal: opts.signal }) as AsyncIterable<Buffer>) {
                h.update(chunk);
                if (!w.write(chunk)) await new Promise<void>((resolve) => w.once('drain', () => resolve()));
              }
              w.end(undefined);
              await entryDone;
            } catch (err) {
              const m = (err as Error).message;
              throw new Error(`${e.rel}: ${/size mismatch|written/i.test(m) ? 'the file changed while it was being sent' : m}`);
            }
            files[e.rel] = info(e, h.digest('hex'));
            bytes += e.size;
          }
        }
        opts.onProgress?.(n, bytes);
      }
      pack.finalize();
      return { manifest: { files }, mtimes, files: n, bytesHashed: bytes };
    } catch (err) {
      out.destroy(err as Error);
      pack.destroy(err as Error);
      throw err;
    }
  })();
  // The caller may not await the manifest before the tar fails: keep the rejection handled.
  manifest.catch(() => undefined);
  return { tar: out, manifest };
}

function entry(pack: tar.Pack, header: TarHeader, body?: Buffer): Promise<void> {
  return new Promise((resolve, reject) => {
    const cb = (err?: Error | null): void => (err ? reject(err) : resolve());
    if (body) pack.entry(header, body, cb);
    else pack.entry(header, cb);
  });
}

/**
 * Where the build context is: the Dockerfile's directory, unless its COPY/ADD sources are not there
 * but are under `workspaceRoot` (a Dockerfile in a subdirectory built from the project root).
 */
export async function chooseContextDir(dockerfileDir: string, workspaceRoot: string | undefined, sources: readonly string[]): Promise<string> {
  if (!workspaceRoot || path.resolve(workspaceRoot) === path.resolve(dockerfileDir)) return dockerfileDir;
  const rel = path.relative(workspaceRoot, dockerfileDir);
  if (rel.startsWith('..') || path.isAbsolute(rel)) return dockerfileDir;
  const plain = sources.filter((s) => s !== '' && !/[*?[]/.test(s));
  if (plain.length === 0) return dockerfileDir;
  const exists = async (dir: string, s: string): Promise<boolean> => {
    try {
      await lstat(path.join(dir, ...s.split('/')));
      return true;
    } catch {
      return false;
    }
  };
  let here = 0;
  let atRoot = 0;
  for (const s of plain) {
    if (await exists(dockerfileDir, s)) here++;
    if (await exists(workspaceRoot, s)) atRoot++;
  }
  return atRoot > here ? workspaceRoot : dockerfileDir;
}
