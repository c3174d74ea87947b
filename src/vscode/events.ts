// Engine events: when an image is tagged, untagged, deleted, loaded, imported or pulled (a build
// that tags its result is a `tag`), the Dockerfile → image resolutions are stale: invalidate them,
// debounced, so lenses, hovers and the status bar recompute; the ids of build records' base images
// are looked up again (a rebuilt or re-pulled base: "will rebuild · base image changed"). The
// stream reconnects by itself with backoff; connection changes go to the output channel only
// (never a notification), and the first event after a reconnect invalidates too (the engine may
// have changed while we were away).
import * as vscode from 'vscode';
import type { EngineEvent } from '../engine/types';
import { buildRecords } from './build/buildImage';
import type { LayerLens } from './context';

const ACTIONS = new Set(['tag', 'untag', 'delete', 'load', 'import', 'pull']);

export function invalidatingEvent(ev: EngineEvent): boolean {
  return ev.type === 'image' && ACTIONS.has(ev.action);
}

export function registerEngineEvents(ll: LayerLens, debounceMs = 400): vscode.Disposable[] {
  let ac: AbortController | undefined;
  let timer: NodeJS.Timeout | undefined;
  let disposed = false;
  const invalidate = (why: string): void => {
    if (timer) clearTimeout(timer);
    timer = setTimeout(() => {
      timer = undefined;
      ll.log(`engine events: ${why}; refreshing images`);
      ll.dockerfiles.invalidate();
      // A FROM tag may name another image now: cache predictions compare base image ids.
      buildRecords()?.refreshBaseImages();
    }, debounceMs);
  };

  const start = (): void => {
    ac?.abort();
    if (disposed) return;
    const mine = new AbortController();
    ac = mine;
    let wasDown = false;
    void (async () => {
      const client = ll.engine.get();
      for await (const ev of client.events(mine.signal, {
        onState: (state, error) => {
          if (state === 'connected') {
            ll.log(`engine events: connected to ${client.endpoint.url}`);
            if (wasDown) invalidate('engine back');
            wasDown = false;
          } else {
            if (!wasDown) ll.log(`engine events: ${error?.message ?? 'disconnected'} (reconnecting)`);
            wasDown = true;
          }
        },
      })) {
        if (invalidatingEvent(ev)) invalidate(`image ${ev.action} ${ev.name ?? ev.id.slice(0, 19)}`);
      }
    })().catch((e: unknown) => ll.log(`engine events: ${(e as Error)?.message ?? String(e)}`));
  };

  start();
  return [
    // A new engine host: follow the new engine.
    vscode.workspace.onDidChangeConfiguration((e) => { if (e.affectsConfiguration('layerLens.engine')) setImmediate(start); }),
    { dispose: () => { disposed = true; ac?.abort(); if (timer) clearTimeout(timer); } },
  ];
}
