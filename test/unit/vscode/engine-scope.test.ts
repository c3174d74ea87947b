// The engine scope (src/vscode/engineScope.ts) under the vscode stub, with a fake engine: it
// follows the engine's event stream from the moment it is made (an image event drops the
// Dockerfile → image resolutions and refreshes the build records' base image ids), reads the
// newest images' histories a moment later, and disposing it ends the stream and the pending
// prefetch as one unit.
import '../support/vscode-stub';
import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import { EngineScope, type EngineScopeDeps } from '../../../src/vscode/engineScope';
import { HistoryCache } from '../../../src/sources/historyCache';
import type { EngineClient, EngineEvent, EventStreamOptions } from '../../../src/engine/types';

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

function fakeEngine() {
  const pending: EngineEvent[] = [];
  let wake: (() => void) | undefined;
  const calls = { events: 0, listImages: 0, aborted: 0 };
  const client = {
    endpoint: { kind: 'unix', url: 'unix:///fake.sock', origin: 'test' },
    async *events(signal: AbortSignal, opts: EventStreamOptions = {}): AsyncGenerator<EngineEvent> {
      calls.events++;
      signal.addEventListener('abort', () => { calls.aborted++; wake?.(); });
      opts.onState?.('connected');
      while (!signal.aborted) {
        const next = pending.shift();
        if (!next) { await new Promise<void>((r) => { wake = r; }); continue; }
        yield next;
      }
    },
    async listImages(): Promise<never[]> { calls.listImages++; return []; },
  } as unknown as EngineClient;
  return { client, calls, push(e: EngineEvent): void { pending.push(e); wake?.(); } };
}

function scopeWith(engine: ReturnType<typeof fakeEngine>) {
  const seen = { changed: 0, baseRefreshes: 0 };
  const listeners: Array<() => void> = [];
  const deps = {
    engine: { get: () => engine.client },
    images: {},
    builds: { refreshBaseImages: () => { seen.baseRefreshes++; }, lastBuild: () => undefined },
    stageStore: {},
    histories: new HistoryCache(undefined),
    log: () => undefined,
    changed: () => { seen.changed++; for (const l of listeners) l(); },
    onDidChangeDockerfiles: (l: () => void) => { listeners.push(l); return { dispose: () => listeners.splice(listeners.indexOf(l), 1) }; },
  } as unknown as EngineScopeDeps;
  return { scope: new EngineScope(deps), seen, listeners };
}

test('the engine scope follows the engine from its start; an image event drops the resolutions and refreshes base image ids', async () => {
  const engine = fakeEngine();
  const { scope, seen } = scopeWith(engine);
  try {
    await sleep(20);
    assert.equal(engine.calls.events, 1, 'the stream starts with the scope');
    engine.push({ type: 'image', action: 'tag', id: 'sha256:' + 'a'.repeat(64), name: 'app:dev', time: 1 });
    await sleep(600);
    assert.equal(seen.changed, 1, 'the resolutions were dropped once');
    assert.equal(seen.baseRefreshes, 1, 'the base image ids are looked up again');
  } finally {
    scope.dispose();
  }
});

test('disposing the engine scope ends its stream and its pending history prefetch', async () => {
  const engine = fakeEngine();
  const { scope, listeners } = scopeWith(engine);
  await sleep(20);
  scope.dispose();
  await sleep(20);
  assert.equal(engine.calls.aborted, 1, 'the stream is aborted');
  assert.equal(listeners.length, 0, 'no listener left behind');
  await sleep(1700);
  assert.equal(engine.calls.listImages, 0, 'no prefetch after dispose');
});

test('a started engine scope reads the newest histories a moment after it starts', async () => {
  const engine = fakeEngine();
  const { scope } = scopeWith(engine);
  try {
    await sleep(1700);
    assert.equal(engine.calls.listImages, 1);
  } finally {
    scope.dispose();
  }
});
