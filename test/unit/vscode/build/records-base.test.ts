// The extension's BuildRecords (src/vscode/build/records.ts) under the vscode stub, with a fake engine:
// cache facts compare the record's base image ids with the current ones, looked up in the
// background (the first answer knows nothing yet; onDidChange fires when the lookup finds another
// id), refreshed by refreshBaseImages (engine image events, saves); a build that records new ids
// makes them current without asking the engine.
import '../../support/vscode-stub';
import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as vscode from 'vscode';
import { BuildRecords } from '../../../../src/vscode/build/records';
import { BuildStore } from '../../../../src/sources/buildStore';
import { parseDockerfile } from '../../../../src/core/dockerfile/dockerfile';
import { stagesToBuild, type BuildRecord } from '../../../../src/core/dockerfile/cachePredict';
import { EngineError, type EngineClient } from '../../../../src/engine/types';

const REF = 'docker.io/library/llbase:1';
const TEXT = 'FROM llbase:1\nRUN echo hi\n';

test('cache facts say "base image changed" once the lookup finds another id; refresh and saves keep it current', async () => {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'layerlens-records-'));
  const subs: Array<{ dispose(): void }> = [];
  try {
    writeFileSync(path.join(dir, 'Dockerfile'), TEXT);
    const ids = new Map([[REF, 'sha256:old']]);
    let inspects = 0;
    const engine = {
      endpoint: { kind: 'unix', url: 'unix:///fake.sock', origin: 'test' },
      inspectImage: async (name: string) => {
        inspects++;
        const id = ids.get(name);
        if (!id) throw new EngineError('not-found', `No such image: ${name}`);
        return { id, repoTags: [name], size: 1, os: 'linux', architecture: 'amd64', diffIds: [] };
      },
    } as unknown as EngineClient;
    const store = new BuildStore(path.join(dir, 'cache'));
    const records = new BuildRecords(store, () => undefined, () => engine);
    subs.push(records);
    let changes = 0;
    subs.push(records.onDidChange(() => { changes++; }));
    const uri = vscode.Uri.file(path.join(dir, 'Dockerfile'));
    const record: BuildRecord = {
      version: 1, builder: 'buildkit', dockerfileText: TEXT, buildArgs: {}, target: null,
      stages: stagesToBuild(parseDockerfile(TEXT), 'buildkit', null),
      lines: { 1: { cache: 'cached', durationMs: 0, endLine: 1, stage: 0, keyword: 'FROM' }, 2: { cache: 'built', durationMs: 5, endLine: 2, stage: 0, keyword: 'RUN' } },
      context: { files: { Dockerfile: { size: TEXT.length, sha256: 'x', mode: 0o644 } } },
      baseImages: { [REF]: 'sha256:old' }, tag: 'app:dev', imageId: 'sha256:img', finishedAt: 1, durationMs: 5,
    };
    const doc = { uri, getText: () => TEXT } as unknown as vscode.TextDocument;
    await records.save(uri, { record, contextDir: dir, dockerfileRel: 'Dockerfile', mtimes: {} });
    changes = 0;

    // The build's own ids are current: the recorded results, no engine call.
    assert.equal(records.cacheFacts(doc)?.get(2)?.cache, 'built');
    await records.baseImagesSettled();
    assert.equal(inspects, 0);

    // The base is rebuilt: after a refresh the facts predict a rebuild from FROM on.
    ids.set(REF, 'sha256:new');
    records.refreshBaseImages();
    await records.baseImagesSettled();
    assert.equal(inspects, 1);
    assert.ok(changes >= 1, 'onDidChange fired for the new id');
    const facts = records.cacheFacts(doc)!;
    assert.deepEqual([facts.get(1), facts.get(2)], [
      { cache: 'will-rebuild', reason: 'base image changed' }, { cache: 'will-rebuild', reason: 'base image changed' },
    ]);
    assert.equal(records.predictions(doc)?.find((p) => p.line === 2)?.reason, 'base image changed');

    // Rebuilt from the new base: the new record's ids are current again.
    await records.save(uri, { record: { ...record, baseImages: { [REF]: 'sha256:new' } }, contextDir: dir, dockerfileRel: 'Dockerfile', mtimes: {} });
    assert.equal(records.cacheFacts(doc)?.get(2)?.cache, 'built');

    // A fresh start (no ids known): the first facts claim nothing, the lookup then tells.
    ids.set(REF, 'sha256:newer');
    const fresh = new BuildRecords(new BuildStore(path.join(dir, 'cache')), () => undefined, () => engine);
    subs.push(fresh);
    let freshChanges = 0;
    subs.push(fresh.onDidChange(() => { freshChanges++; }));
    assert.equal(fresh.cacheFacts(doc)?.get(2)?.cache, 'built');
    await fresh.baseImagesSettled();
    assert.ok(freshChanges >= 1);
    assert.equal(fresh.cacheFacts(doc)?.get(2)?.reason, 'base image changed');
  } finally {
    for (const s of subs) s.dispose();
    rmSync(dir, { recursive: true, force: true });
  }
});
