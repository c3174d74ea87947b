// DockerfileImages (src/vscode/dockerfileImages.ts) under the vscode stub, with a fake engine: a
// build made in a terminal (a new image whose history matches the saved Dockerfile) is recorded
// when the Dockerfile's image is resolved (resolutions run again on the engine's image events),
// even while the image shown is a remembered one; the lines then carry cache status predicted
// from it. A Dockerfile with unsaved edits records nothing (its text on disk is not what is shown).
import '../support/vscode-stub';
import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import { mkdtempSync, mkdirSync, rmSync, utimesSync, writeFileSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as vscode from 'vscode';
import { DockerfileImages, type DockerfileImagesDeps } from '../../../src/vscode/dockerfileImages';
import { BuildRecords } from '../../../src/vscode/build/records';
import { BuildStore } from '../../../src/sources/buildStore';
import { HistoryCache } from '../../../src/sources/historyCache';
import type { EngineClient, EngineHistoryItem } from '../../../src/engine/types';

const TEXT = 'FROM llbase:1\nRUN echo one\nCOPY app/ /app/\nRUN echo two\n';
const BK = 'buildkit.dockerfile.v0';
const row = (createdBy: string, size: number, comment = BK): EngineHistoryItem => ({ id: '', created: 1, createdBy, size, comment, tags: [] });
// Newest first, as the engine answers.
const ROWS = [
  row('RUN /bin/sh -c echo two # buildkit', 4), row('COPY app/ /app/ # buildkit', 1), row('RUN /bin/sh -c echo one # buildkit', 4),
  row('', 1000, 'base rootfs'),
];

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

test('a terminal build is recorded when the Dockerfile\'s image is resolved; lines predict from it', async () => {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'layerlens-docimages-'));
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
      listImages: async () => [{ id: 'sha256:term', repoTags: ['app:term'], created: 100, size: 1009 }, { id: 'sha256:old', repoTags: ['app:old'], created: 50, size: 1000 }],
      history: async (id: string) => (id === 'sha256:term' ? ROWS : [row('', 1000, 'base rootfs')]),
      inspectImage: async (name: string) => ({
        id: name === 'sha256:term' || name === 'app:term' ? 'sha256:term' : name === 'app:old' ? 'sha256:old' : 'sha256:base',
        repoTags: [], size: 1, os: 'linux', architecture: 'amd64', diffIds: name.includes('term') ? ['a', 'b', 'c', 'd'] : ['a'], created,
      }),
    } as unknown as EngineClient;
    const builds = new BuildRecords(new BuildStore(path.join(dir, 'cache')), () => undefined, () => engine);
    subs.push(builds);
    let remembered: string | undefined;
    const deps = {
      engine: { get: () => engine },
      images: { rememberedFor: () => remembered },
      builds,
      stageStore: { get: () => undefined, forDockerfile: () => [] },
      histories: new HistoryCache(undefined),
      log: () => undefined,
      changed: () => undefined,
    } as unknown as DockerfileImagesDeps;
    const uri = vscode.Uri.file(path.join(ctx, 'Dockerfile'));
    let dirty = false;
    const doc = { uri, getText: () => TEXT, get isDirty() { return dirty; }, languageId: 'dockerfile' } as unknown as vscode.TextDocument;

    // Unsaved edits: the image is found, nothing is recorded.
    dirty = true;
    const images = new DockerfileImages(deps);
    assert.equal((await images.imageFor(doc))?.image.id, 'sha256:term');
    await sleep(50);
    assert.equal(builds.lastBuild(uri), undefined);

    // Saved; the image shown is a remembered one: the terminal build is recorded all the same.
    dirty = false;
    remembered = 'app:old';
    images.invalidate();
    assert.equal((await images.imageFor(doc))?.image.id, 'sha256:old');
    for (let i = 0; i < 50 && !builds.lastBuild(uri); i++) await sleep(20);
    assert.equal(builds.lastBuild(uri)?.imageId, 'sha256:term');
    assert.equal(builds.lastBuild(uri)?.origin, 'engine');

    remembered = undefined;
    images.invalidate();
    writeFileSync(path.join(ctx, 'app', 'a.txt'), 'edited');
    await builds.refreshContext(uri);
    const got = await images.lines(doc);
    assert.deepEqual(got?.infos.map((i) => [i.line, i.cache]), [[1, 'cached'], [2, 'cached'], [3, 'will-rebuild'], [4, 'will-rebuild']]);
  } finally {
    for (const s of subs) s.dispose();
    rmSync(dir, { recursive: true, force: true });
  }
});
