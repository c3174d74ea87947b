// Image histories by image id, in memory and (optionally) on disk. An image id is the digest of
// the image config, and the config holds the history and the layers' diff_ids: the `created_by`
// rows of an id never change, so they are kept across engine events and restarts and never
// invalidated. Row sizes come from the engine's layer store; they are trusted only from the same
// engine endpoint (another engine's rows still serve for scoring, which reads only created_by).
// One JSON file per id under <dir>/histories-v1/, written atomically (temp file + rename); a
// damaged or foreign file is ignored and removed. At most `maxEntries` files are kept (oldest
// written first out, checked once per process). The cache never makes a lookup fail.
// CLI: the layer index cache's root (LAYERLENS_CACHE_DIR…, LAYERLENS_CACHE=off disables it);
// extension: its global storage.
import { mkdir, readFile, readdir, rename, stat, unlink, writeFile } from 'node:fs/promises';
import * as nodePath from 'node:path';
import { isDigest } from '../core/image/oci';
import type { ApiHistoryRow } from '../core/image/quickImage';

export interface CachedHistory {
  id: string;
  /** `docker history` rows, newest first (as the API returns them). */
  rows: ApiHistoryRow[];
  /** The engine endpoint (URL) the rows (their sizes) came from. */
  endpoint: string;
  /** Number of layers (rootfs diff_ids), once the image was inspected. */
  layerCount?: number;
}

export interface HistoryCacheStats { memoryHits: number; diskHits: number; misses: number; writes: number; rejected: number }

function validRows(x: unknown): x is ApiHistoryRow[] {
  return Array.isArray(x) && x.every((r) => typeof r === 'object' && r !== null
    && typeof (r as ApiHistoryRow).createdBy === 'string' && typeof (r as ApiHistoryRow).size === 'number'
    && ((r as ApiHistoryRow).comment === undefined || typeof (r as ApiHistoryRow).comment === 'string')
    && ((r as ApiHistoryRow).created === undefined || typeof (r as ApiHistoryRow).created === 'number'));
}

export class HistoryCache {
  readonly dir: string | undefined;
  readonly stats: HistoryCacheStats = { memoryHits: 0, diskHits: 0, misses: 0, writes: 0, rejected: 0 };
  private readonly mem = new Map<string, CachedHistory>();
  /** The ids with a file, listed once (one readdir instead of a failed read per unknown id). */
  private onDisk: Promise<Set<string>> | null = null;
  private pruned = false;

  /** `root` undefined: memory only. */
  constructor(root: string | undefined, private readonly opts: { maxEntries?: number; log?: (line: string) => void } = {}) {
    this.dir = root === undefined ? undefined : nodePath.join(root, 'histories-v1');
  }

  private file(id: string): string | undefined {
    return this.dir !== undefined && isDigest(id) ? nodePath.join(this.dir, id.slice(7) + '.json') : undefined;
  }

  /** The entry for `id` (memory, else disk), or undefined. Never throws. */
  async get(id: string): Promise<CachedHistory | undefined> {
    const m = this.mem.get(id);
    if (m) { this.stats.memoryHits++; return m; }
    const f = this.file(id);
    if (!f || !(await this.listed()).has(id.slice(7))) { this.stats.misses++; return undefined; }
    let text: string;
    try {
      text = await readFile(f, 'utf8');
    } catch {
      this.stats.misses++;
      return undefined;
    }
    try {
      const e = JSON.parse(text) as CachedHistory;
      if (e.id !== id || typeof e.endpoint !== 'string' || !validRows(e.rows)
        || (e.layerCount !== undefined && (!Number.isInteger(e.layerCount) || e.layerCount < 0))) throw new Error('not a history entry for this id');
      const entry: CachedHistory = { id, rows: e.rows, endpoint: e.endpoint };
      if (e.layerCount !== undefined) entry.layerCount = e.layerCount;
      this.mem.set(id, entry);
      this.stats.diskHits++;
      return entry;
    } catch (err) {
      this.stats.rejected++;
      this.opts.log?.(`history cache: ignoring ${f}: ${(err as Error).message}`);
      await unlink(f).catch(() => undefined);
      return undefined;
    }
  }

  private listed(): Promise<Set<string>> {
    this.onDisk ??= readdir(this.dir!).then(
      (names) => new Set(names.filter((n) => n.endsWith('.json')).map((n) => n.slice(0, -5))),
      () => new Set<string>(),
    );
    return this.onDisk;
  }

  /** Stores an entry in memory now and on disk in the background (never throws). */
  put(entry: CachedHistory): void {
    this.mem.set(entry.id, entry);
    const f = this.file(entry.id);
    if (!f) return;
    this.pending = this.pending.then(() => this.write(f, entry));
  }

  private pending: Promise<void> = Promise.resolve();

  /** Resolves when every put so far is on disk (or failed). */
  flush(): Promise<void> {
    return this.pending;
  }

  private async write(f: string, entry: CachedHistory): Promise<void> {
    try {
      await mkdir(this.dir!, { recursive: true });
      const tmp = `${f}.${process.pid}.${Math.random().toString(36).slice(2)}.tmp`;
      await writeFile(tmp, JSON.stringify(entry));
      await rename(tmp, f);
      this.stats.writes++;
      await this.prune();
    } catch (e) {
      this.opts.log?.(`history cache: cannot write ${f}: ${(e as Error).message}`);
    }
  }

  /** Keeps at most maxEntries (default 2000) files, oldest first out; stale temp files go too. Once per process. */
  private async prune(): Promise<void> {
    if (this.pruned || this.dir === undefined) return;
    this.pruned = true;
    const max = this.opts.maxEntries ?? 2000;
    try {
      const names = await readdir(this.dir);
      const now = Date.now();
      const files: Array<{ p: string; t: number }> = [];
      for (const name of names) {
        const p = nodePath.join(this.dir, name);
        const st = await stat(p).catch(() => undefined);
        if (!st) continue;
        if (name.endsWith('.tmp')) { if (now - st.mtimeMs > 3600_000) await unlink(p).catch(() => undefined); continue; }
        files.push({ p, t: st.mtimeMs });
      }
      files.sort((a, b) => a.t - b.t);
      for (let i = 0; i < files.length - max; i++) await unlink(files[i].p).catch(() => undefined);
    } catch {
      // Pruning is best effort.
    }
  }
}
