// The current image ids of base images (FROM references), for cache predictions: a build record
// keeps the ids its base images had (BuildRecord.baseImages); when a tag now names another image
// (re-pulled, rebuilt), the next build rebuilds from that FROM on ("base image changed").
// Lookups are engine inspects, done in the background: `get` answers at once with what is known
// and calls `onChange` when a lookup changed an answer. Answers are kept until `refresh` (engine
// image events, a saved Dockerfile) looks again; a reference the engine does not know has no id
// (nothing is claimed about it).
import type { EngineClient } from '../engine/types';

/** Inspects each reference; references the engine cannot resolve are left out. */
export async function currentBaseImageIds(engine: EngineClient, refs: Iterable<string>, signal?: AbortSignal): Promise<Record<string, string>> {
  const out: Record<string, string> = {};
  await Promise.all([...new Set(refs)].map(async (ref) => {
    try {
      out[ref] = (await engine.inspectImage(ref, signal)).id;
    } catch {
      // Not a local image (any more): nothing to compare.
    }
  }));
  return out;
}

export class BaseImageIds {
  /** ref → id, or null when the engine did not know it (or could not be asked). */
  private readonly known = new Map<string, string | null>();
  /** Refs whose answer may be out of date (or was never asked). */
  private readonly stale = new Set<string>();
  private running: Promise<void> | null = null;
  private again = false;

  constructor(
    private readonly engine: () => EngineClient,
    private readonly onChange: () => void,
    private readonly log?: (line: string) => void,
  ) {}

  /** The ids known now for `refs`; refs never looked up (or stale) are looked up in the background. */
  get(refs: Iterable<string>): Record<string, string> {
    const out: Record<string, string> = {};
    let ask = false;
    for (const ref of refs) {
      if (!this.known.has(ref)) { this.stale.add(ref); ask = true; } else if (this.stale.has(ref)) ask = true;
      const id = this.known.get(ref);
      if (id) out[ref] = id;
    }
    if (ask) this.lookup();
    return out;
  }

  /** Every known reference may have changed (an engine image event, a save): look again. */
  refresh(): void {
    if (this.known.size === 0) return;
    for (const ref of this.known.keys()) this.stale.add(ref);
    this.lookup();
  }

  /** Ids known to be current (a build just inspected them). */
  set(ids: Record<string, string>): void {
    for (const [ref, id] of Object.entries(ids)) {
      this.known.set(ref, id);
      this.stale.delete(ref);
    }
  }

  /** Resolves when no lookup is running (tests). */
  async settled(): Promise<void> {
    while (this.running) await this.running;
  }

  private lookup(): void {
    if (this.running) { this.again = true; return; }
    this.running = (async () => {
      // First let `running` be assigned: the end of this function clears it.
      await Promise.resolve();
      let changed = false;
      do {
        this.again = false;
        const refs = [...this.stale];
        this.stale.clear();
        let engine: EngineClient;
        try {
          engine = this.engine();
        } catch (e) {
          this.log?.(`base images: ${(e as Error).message}`);
          for (const ref of refs) if (!this.known.has(ref)) this.known.set(ref, null);
          break;
        }
        const ids = await currentBaseImageIds(engine, refs);
        for (const ref of refs) {
          const id = ids[ref] ?? null;
          if ((this.known.get(ref) ?? null) !== id) changed = true;
          this.known.set(ref, id);
        }
      } while (this.again || this.stale.size > 0);
      this.running = null;
      if (changed) this.onChange();
    })();
  }
}
