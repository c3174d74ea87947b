// Engine events: when an image is tagged, untagged, deleted, loaded, imported or pulled (a build
// that tags its result is a `tag`), what was resolved against the engine is stale: `onStale` runs,
// debounced, so the Dockerfile → image resolutions and the build records' base image ids are
// looked up again. The stream reconnects by itself with backoff; connection changes go to the
// output channel only (never a notification), and the first event after a reconnect counts too
// (the engine may have changed while we were away). The engine scope (engineScope.ts) owns one
// stream; disposing it ends the stream.
import type * as vscode from 'vscode';
import type { EngineClient, EngineEvent } from '../engine/types';

const ACTIONS = new Set(['tag', 'untag', 'delete', 'load', 'import', 'pull']);

export function invalidatingEvent(ev: EngineEvent): boolean {
  return ev.type === 'image' && ACTIONS.has(ev.action);
}

export interface EngineEventsOptions {
  /** The engine to follow (asked once, when the stream starts). */
  client: () => EngineClient;
  log: (line: string) => void;
  /** Images changed on the engine (or it came back after a drop). */
  onStale: () => void;
  debounceMs?: number;
}

/** Follows the engine's event stream until disposed. */
export function watchEngineEvents(opts: EngineEventsOptions): vscode.Disposable {
  const { log, debounceMs = 400 } = opts;
  const ac = new AbortController();
  let timer: NodeJS.Timeout | undefined;
  const stale = (why: string): void => {
    if (timer) clearTimeout(timer);
    timer = setTimeout(() => {
      timer = undefined;
      if (ac.signal.aborted) return;
      log(`engine events: ${why}; refreshing images`);
      opts.onStale();
    }, debounceMs);
  };

  let wasDown = false;
  void (async () => {
    const client = opts.client();
    for await (const ev of client.events(ac.signal, {
      onState: (state, error) => {
        if (state === 'connected') {
          log(`engine events: connected to ${client.endpoint.url}`);
          if (wasDown) stale('engine back');
          wasDown = false;
        } else {
          if (!wasDown) log(`engine events: ${error?.message ?? 'disconnected'} (reconnecting)`);
          wasDown = true;
        }
      },
    })) {
      if (invalidatingEvent(ev)) stale(`image ${ev.action} ${ev.name ?? ev.id.slice(0, 19)}`);
    }
  })().catch((e: unknown) => log(`engine events: ${(e as Error)?.message ?? String(e)}`));

  return { dispose: () => { ac.abort(); if (timer) clearTimeout(timer); } };
}
