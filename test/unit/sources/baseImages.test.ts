// BaseImageIds (src/sources/baseImages.ts): the current ids of build records' base images for cache
// predictions. `get` answers at once with what is known and looks the rest up in the background,
// telling onChange only when an answer changed; refresh looks again (engine events, saves); a
// reference the engine does not know has no id; an engine that cannot be reached claims nothing.
import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import { BaseImageIds, currentBaseImageIds } from '../../../src/sources/baseImages';
import { EngineError, type EngineClient } from '../../../src/engine/types';

function fakeEngine(ids: Map<string, string>): { engine: EngineClient; inspected: string[] } {
  const inspected: string[] = [];
  const engine = {
    endpoint: { kind: 'unix', url: 'unix:///fake.sock', origin: 'test' },
    inspectImage: async (name: string) => {
      inspected.push(name);
      await new Promise((r) => setImmediate(r));
      const id = ids.get(name);
      if (!id) throw new EngineError('not-found', `No such image: ${name}`);
      return { id, repoTags: [name], size: 1, os: 'linux', architecture: 'amd64', diffIds: [] };
    },
  } as unknown as EngineClient;
  return { engine, inspected };
}

const A = 'docker.io/library/a:1';
const B = 'docker.io/library/b:1';

test('currentBaseImageIds: one inspect per reference, unknown ones left out', async () => {
  const f = fakeEngine(new Map([[A, 'sha256:a1']]));
  assert.deepEqual(await currentBaseImageIds(f.engine, [A, B, A]), { [A]: 'sha256:a1' });
  assert.deepEqual(f.inspected.sort(), [A, B]);
});

test('get answers with what is known, looks up in the background, refresh notices a rebuilt base', async () => {
  const ids = new Map([[A, 'sha256:a1']]);
  const f = fakeEngine(ids);
  let changes = 0;
  const b = new BaseImageIds(() => f.engine, () => { changes++; });
  assert.deepEqual(b.get([A, B]), {}, 'nothing known before the lookup');
  await b.settled();
  assert.equal(changes, 1);
  assert.deepEqual(b.get([A, B]), { [A]: 'sha256:a1' });
  await b.settled();
  assert.equal(f.inspected.length, 2, 'known answers are not asked again');
  // The base is rebuilt under the same tag: nothing changes until a refresh.
  ids.set(A, 'sha256:a2');
  assert.deepEqual(b.get([A]), { [A]: 'sha256:a1' });
  b.refresh();
  await b.settled();
  assert.equal(changes, 2);
  assert.deepEqual(b.get([A, B]), { [A]: 'sha256:a2' });
  // A refresh that finds the same ids does not signal a change.
  b.refresh();
  await b.settled();
  assert.equal(changes, 2);
  // Removed: no id, a change.
  ids.delete(A);
  b.refresh();
  await b.settled();
  assert.equal(changes, 3);
  assert.deepEqual(b.get([A]), {});
  // Ids a build just recorded are taken as current.
  b.set({ [B]: 'sha256:b9' });
  assert.deepEqual(b.get([B]), { [B]: 'sha256:b9' });
});

test('no engine: nothing is claimed and nothing throws', async () => {
  const logs: string[] = [];
  let changes = 0;
  const b = new BaseImageIds(() => { throw new EngineError('unavailable', 'Cannot reach the Docker engine'); }, () => { changes++; }, (l) => logs.push(l));
  assert.deepEqual(b.get([A]), {});
  await b.settled();
  assert.deepEqual(b.get([A]), {});
  assert.equal(changes, 0);
  assert.match(logs.join('\n'), /Cannot reach/);
});
