// The extension's engine event stream (src/vscode/events.ts) under the vscode stub, with a fake
// engine whose event stream the test drives: image tag/delete/load events make what was resolved
// stale once per burst (debounced), other events do not, a reconnect after a drop does, connection
// trouble is logged once (never a popup), and dispose ends the stream.
import '../support/vscode-stub';
import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import { stub } from '../support/vscode-stub';
import { watchEngineEvents, invalidatingEvent } from '../../../src/vscode/events';
import { EngineError, type EngineClient, type EngineEvent, type EventStreamOptions } from '../../../src/engine/types';

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** A fake engine: `push` delivers an event, `drop` ends the connection (onState disconnected, then connected again). */
function fakeEngine() {
  const queue: Array<EngineEvent | 'drop'> = [];
  let wake: (() => void) | undefined;
  let aborted = false;
  const client = {
    endpoint: { kind: 'unix', url: 'unix:///fake.sock', origin: 'test' },
    async *events(signal: AbortSignal, opts: EventStreamOptions = {}): AsyncGenerator<EngineEvent> {
      signal.addEventListener('abort', () => { aborted = true; wake?.(); });
      opts.onState?.('connected');
      while (!signal.aborted) {
        const next = queue.shift();
        if (!next) { await new Promise<void>((r) => { wake = r; }); continue; }
        if (next === 'drop') {
          opts.onState?.('disconnected', new EngineError('unavailable', 'The connection to the Docker engine was dropped'));
          opts.onState?.('disconnected', new EngineError('unavailable', 'Cannot reach the Docker engine'));
          opts.onState?.('connected');
          continue;
        }
        yield next;
      }
    },
  } as unknown as EngineClient;
  return {
    client,
    push(e: EngineEvent | 'drop'): void { queue.push(e); wake?.(); },
    get aborted() { return aborted; },
  };
}

const ev = (action: string, name = 'app:dev', type = 'image'): EngineEvent => ({ type, action, id: 'sha256:' + 'a'.repeat(64), name, time: 1 });

test('image events invalidate once per burst; other events do not; a reconnect refreshes; dispose ends the stream', async () => {
  const engine = fakeEngine();
  const logs: string[] = [];
  let invalidations = 0;
  stub.messages.length = 0;
  const stream = watchEngineEvents({ client: () => engine.client, log: (l) => logs.push(l), onStale: () => { invalidations++; }, debounceMs: 30 });
  await sleep(20);
  for (const a of ['tag', 'untag', 'delete']) engine.push(ev(a));
  await sleep(120);
  assert.equal(invalidations, 1, 'one invalidation for a burst of three');
  engine.push(ev('push'));
  engine.push(ev('start', 'c1', 'container'));
  await sleep(120);
  assert.equal(invalidations, 1, 'push and container events change nothing shown');
  engine.push(ev('load'));
  await sleep(120);
  assert.equal(invalidations, 2);
  engine.push('drop');
  await sleep(120);
  assert.equal(invalidations, 3, 'the engine came back: refresh');
  assert.equal(logs.filter((l) => /reconnecting/.test(l)).length, 1, `one log line per outage: ${logs.join(' | ')}`);
  assert.deepEqual(stub.messages, [], 'no notification');
  stream.dispose();
  await sleep(20);
  assert.ok(engine.aborted, 'the stream is aborted on dispose');
});

test('which events count', () => {
  assert.ok(invalidatingEvent(ev('tag')));
  assert.ok(invalidatingEvent(ev('import')));
  assert.ok(invalidatingEvent(ev('pull')));
  assert.ok(!invalidatingEvent(ev('save')));
  assert.ok(!invalidatingEvent(ev('tag', 'x', 'container')));
});
