// The extension's BuildRecords (src/vscode/build/records.ts) under the vscode stub: an engine image
// whose history matches the Dockerfile, built elsewhere, is recorded as a build seen through the
// engine in the build store the CLI reads too; the lenses' cache facts then come from it (an edit
// of a COPY source: will rebuild from that line), and a record the CLI wrote is read as is.
import '../../support/vscode-stub';
import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import { mkdtempSync, mkdirSync, rmSync, utimesSync, writeFileSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as vscode from 'vscode';
import { BuildRecords } from '../../../../src/vscode/build/records';
import { BuildStore } from '../../../../src/sources/buildStore';
import { parseDockerfile } from '../../../../src/core/dockerfile/dockerfile';
import type { EngineClient } from '../../../../src/engine/types';
import type { ImageMatch } from '../../../../src/sources/dockerfileImage';

const TEXT = 'FROM llbase:1\nRUN echo one\nCOPY app/ /app/\nRUN echo two\n';

test('a build seen through the engine is recorded in the shared store; lenses predict from it', async () => {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'layerlens-seen-ext-'));
  const subs: Array<{ dispose(): void }> = [];
  try {
    const ctx = path.join(dir, 'ctx');
    mkdirSync(path.join(ctx, 'app'), { recursive: true });
    writeFileSync(path.join(ctx, 'Dockerfile'), TEXT);
    writeFileSync(path.join(ctx, 'app', 'a.txt'), 'a');
    const past = new Date(Date.now() - 3600_000);
    for (const f of ['Dockerfile', 'app/a.txt', 'app']) utimesSync(path.join(ctx, f), past, past);
    const created = new Date(Date.now() - 60_000).toISOString();
    const engine = {
      endpoint: { kind: 'unix', url: 'unix:///fake.sock', origin: 'test' },
      inspectImage: async (name: string) => ({ id: name === 'llbase:1' || name === 'docker.io/library/llbase:1' ? 'sha256:base' : 'sha256:img', repoTags: [], size: 1, os: 'linux', architecture: 'amd64', diffIds: [], created }),
    } as unknown as EngineClient;
    const cache = path.join(dir, 'cache');
    const records = new BuildRecords(new BuildStore(cache), () => undefined, () => engine);
    subs.push(records);
    let changes = 0;
    subs.push(records.onDidChange(() => { changes++; }));
    const uri = vscode.Uri.file(path.join(ctx, 'Dockerfile'));
    const doc = { uri, getText: () => TEXT } as unknown as vscode.TextDocument;
    assert.equal(records.cacheFacts(doc), undefined, 'no record yet');

    const model = parseDockerfile(TEXT);
    const match = { name: 'app:term', score: 1, stage: 0, image: { id: 'sha256:img', repoTags: ['app:term'], history: [], layerSizes: [], alignment: 'exact' } } as ImageMatch;
    // A partial match is not a build of this text.
    await records.recordSeen(uri, model, { ...match, score: 0.8 });
    assert.equal(records.lastBuild(uri), undefined);
    await records.recordSeen(uri, model, match);
    assert.equal(changes, 1);
    assert.equal(records.lastBuild(uri)?.origin, 'engine');
    // The CLI's store in the same directory reads the same record.
    assert.equal(new BuildStore(cache).byImage(uri.fsPath, 'sha256:img')?.record.tag, 'app:term');
    await records.refreshContext(uri);
    assert.deepEqual([...records.cacheFacts(doc)!.values()].map((f) => f.cache), ['cached', 'cached', 'cached', 'cached']);

    writeFileSync(path.join(ctx, 'app', 'a.txt'), 'edited');
    await records.refreshContext(uri);
    const facts = records.cacheFacts(doc)!;
    assert.deepEqual([1, 2, 3, 4].map((l) => facts.get(l)?.cache), ['cached', 'cached', 'will-rebuild', 'will-rebuild']);
    assert.equal(facts.get(3)?.reason, '1 file changed: app/a.txt');
    // Seen again (the next engine event): nothing new.
    await records.recordSeen(uri, model, match);
    assert.equal(records.history(uri).length, 1);
  } finally {
    for (const s of subs) s.dispose();
    rmSync(dir, { recursive: true, force: true });
  }
});
