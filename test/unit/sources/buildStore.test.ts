// The build store shared by the CLI and the extension (src/sources/buildStore.ts), and the
// predictions made from a build seen through the engine: its context snapshot marks files
// modified after the image was created as unknown, and lines reading them are predicted
// `unknown` (never cached, never will-rebuild), until a known change comes first.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, utimesSync, writeFileSync, mkdirSync, readdirSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { BUILD_HISTORY, BuildStore, FULL_MATCH, builderOf, builtFrom, recordSeenBuild, type StoredBuild } from '../../../src/sources/buildStore';
import { mapHistory } from '../../../src/core/dockerfile/mapping';
import { cacheFacts, predict, type BuildRecord } from '../../../src/core/dockerfile/cachePredict';
import { parseDockerfile } from '../../../src/core/dockerfile/dockerfile';
import { contextManifest } from '../../../src/sources/contextManifest';
import type { EngineClient } from '../../../src/engine/types';

const TEXT = 'FROM base:1\nRUN echo one\nCOPY app/ /app/\nRUN echo two\n';

function stored(id: string, failed = false): StoredBuild {
  const record: BuildRecord = {
    version: 1, builder: 'buildkit', dockerfileText: TEXT, buildArgs: {}, target: null, stages: [0], lines: {}, context: null,
    tag: 't', imageId: id, finishedAt: 1, durationMs: 0, ...(failed ? { failed: true } : {}),
  };
  return { record, contextDir: '/x', dockerfileRel: 'Dockerfile', mtimes: {} };
}

test('build store: per Dockerfile, oldest first, bounded, the last successful build, shared by two instances', () => {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'layerlens-store-'));
  try {
    const a = new BuildStore(dir);
    const b = new BuildStore(dir);
    const df = path.join(dir, 'Dockerfile');
    assert.equal(a.last(df), undefined);
    a.add(df, stored('sha256:1'));
    a.add(df, stored('sha256:2', true));
    // Another instance (the other program) sees the same records.
    assert.equal(b.last(df)?.record.imageId, 'sha256:1');
    assert.deepEqual(b.history(df).map((s) => s.record.imageId), ['sha256:1', 'sha256:2']);
    // The same image again replaces its record.
    b.add(df, stored('sha256:1'));
    assert.deepEqual(a.history(df).map((s) => s.record.imageId), ['sha256:2', 'sha256:1']);
    for (let i = 0; i < BUILD_HISTORY + 5; i++) a.add(df, stored(`sha256:n${i}`));
    assert.equal(a.history(df).length, BUILD_HISTORY);
    assert.equal(a.byImage(df, `sha256:n${BUILD_HISTORY + 4}`)?.record.imageId, `sha256:n${BUILD_HISTORY + 4}`);
    // Another Dockerfile has its own records; a damaged file is ignored.
    assert.deepEqual(a.history(path.join(dir, 'other', 'Dockerfile')), []);
    const f = readdirSync(path.join(dir, 'builds-v1'))[0];
    writeFileSync(path.join(dir, 'builds-v1', f), '{not json');
    assert.deepEqual(new BuildStore(dir).history(df), []);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('builderOf: BuildKit history comments, else the legacy builder', () => {
  assert.equal(builderOf([{ createdBy: 'RUN /bin/sh -c x # buildkit', comment: 'buildkit.dockerfile.v0' }]), 'buildkit');
  assert.equal(builderOf([{ createdBy: '/bin/sh -c #(nop)  ENV A=1' }]), 'legacy');
});

test('a build seen through the engine: files modified after the image was created are unknown; predictions say so', async () => {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'layerlens-seen-'));
  try {
    mkdirSync(path.join(dir, 'ctx', 'app'), { recursive: true });
    const ctx = path.join(dir, 'ctx');
    const df = path.join(ctx, 'Dockerfile');
    writeFileSync(df, TEXT);
    writeFileSync(path.join(ctx, 'app', 'a.txt'), 'a');
    writeFileSync(path.join(ctx, 'app', 'b.txt'), 'b');
    const created = Date.now() - 60_000;
    const before = new Date(created - 60_000);
    for (const f of ['Dockerfile', 'app/b.txt', 'app']) utimesSync(path.join(ctx, f), before, before);
    // a.txt: written after the image was created.
    const engine = { inspectImage: async () => ({ id: 'sha256:base', repoTags: [], size: 0, os: 'linux', architecture: 'amd64', diffIds: [] }) } as unknown as EngineClient;
    const store = new BuildStore(path.join(dir, 'cache'));
    const model = parseDockerfile(TEXT);
    const image = { id: 'sha256:img', name: 'app:1', createdMs: created, history: [{ createdBy: 'RUN echo one # buildkit', comment: 'buildkit.dockerfile.v0' }] };
    const r = await recordSeenBuild(store, { dockerfile: df, dockerfileText: TEXT, model, stage: 0, contextDir: ctx, image, engine });
    const rec = r.stored!.record;
    assert.equal(rec.origin, 'engine');
    assert.equal(rec.builder, 'buildkit');
    assert.deepEqual(rec.baseImages, { 'docker.io/library/base:1': 'sha256:base' });
    assert.equal(rec.context!.files['app/a.txt'].unknown, true);
    assert.equal(rec.context!.files['app/a.txt'].sha256, '');
    assert.equal(rec.context!.files['app/b.txt'].unknown, undefined);
    // Seen again: the same record.
    assert.equal((await recordSeenBuild(store, { dockerfile: df, dockerfileText: TEXT, model, stage: 0, contextDir: ctx, image, engine })).stored!.record, store.byImage(df, 'sha256:img')!.record);

    const now = (await contextManifest(ctx, { keep: ['Dockerfile'] })).manifest;
    const summary = (p: ReturnType<typeof predict>): string[] => p.map((x) => `${x.line} ${x.cache}`);
    assert.deepEqual(summary(predict(rec, TEXT, now, {})), ['1 cached', '2 cached', '3 unknown', '4 unknown']);
    assert.match(predict(rec, TEXT, now, {})[2].reason!, /1 file modified after the image was built: app\/a\.txt/);
    // No per-line results recorded: cache facts are the predictions (not an empty map).
    assert.equal(cacheFacts(rec, TEXT, now, {}).get(3)?.cache, 'unknown');
    // A known change comes first: will rebuild.
    writeFileSync(path.join(ctx, 'app', 'b.txt'), 'b2');
    const changed = (await contextManifest(ctx, { keep: ['Dockerfile'] })).manifest;
    assert.deepEqual(summary(predict(rec, TEXT, changed, {})), ['1 cached', '2 cached', '3 will-rebuild', '4 will-rebuild']);
    // An edited line before the COPY: will rebuild from there.
    const edited = TEXT.replace('echo one', 'echo uno');
    assert.deepEqual(summary(predict(rec, edited, now, {})), ['1 cached', '2 will-rebuild', '3 will-rebuild', '4 will-rebuild']);

    // The Dockerfile changed after the image was created: not recorded (its text then is not known).
    utimesSync(df, new Date(), new Date());
    const again = await recordSeenBuild(new BuildStore(path.join(dir, 'cache2')), { dockerfile: df, dockerfileText: TEXT, model, stage: 0, contextDir: ctx, image, engine });
    assert.match(again.skipped ?? '', /Dockerfile was modified after app:1 was created/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('previousBuild: the last successful build with another image before the given one (the last one when the image is not recorded)', () => {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'layerlens-prev-'));
  try {
    const store = new BuildStore(dir);
    const df = path.join(dir, 'Dockerfile');
    assert.equal(store.previousBuild(df, 'sha256:a'), undefined);
    store.add(df, stored('sha256:a'));
    assert.equal(store.previousBuild(df, 'sha256:a'), undefined);
    store.add(df, stored('sha256:b', true));
    store.add(df, stored('sha256:c'));
    assert.equal(store.previousBuild(df, 'sha256:c')?.record.imageId, 'sha256:a');
    assert.equal(store.previousBuild(df, 'sha256:a'), undefined);
    assert.equal(store.previousBuild(df, 'sha256:zzz')?.record.imageId, 'sha256:c');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('a build seen through the engine made with --build-arg: a full match once its args are read back, and recorded with them', async () => {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'layerlens-seen-args-'));
  try {
    const text = 'FROM base:1\nARG V=1\nARG LATE\nRUN echo $V > /v\nCOPY app/ /app/\n';
    writeFileSync(path.join(dir, 'Dockerfile'), text);
    const old = new Date(Date.now() - 600_000);
    utimesSync(path.join(dir, 'Dockerfile'), old, old);
    const history = [
      { createdBy: '', layerIndex: 0 },
      { createdBy: 'ARG V=1', comment: 'buildkit.dockerfile.v0', emptyLayer: true },
      { createdBy: 'ARG LATE', comment: 'buildkit.dockerfile.v0', emptyLayer: true },
      { createdBy: 'RUN |2 V=2 LATE= /bin/sh -c echo $V > /v # buildkit', comment: 'buildkit.dockerfile.v0', layerIndex: 1 },
      { createdBy: 'COPY app/ /app/ # buildkit', comment: 'buildkit.dockerfile.v0', layerIndex: 2 },
    ];
    const model = parseDockerfile(text);
    const h = history.map((x, index) => ({ index, createdBy: x.createdBy, emptyLayer: x.emptyLayer ?? false, layerIndex: x.layerIndex ?? null }));
    const score = mapHistory(model, h, { stage: 0 }).score;
    assert.ok(score < FULL_MATCH, `with the defaults, V=2 is not what ARG V=1 writes (score ${score})`);
    assert.equal(builtFrom(text, history, 0, score), true);
    assert.equal(builtFrom(text.replace('echo $V', 'echo other $V'), history, 0, score), false);
    const engine = { inspectImage: async () => { throw new Error('no such image'); } } as unknown as EngineClient;
    const r = await recordSeenBuild(new BuildStore(path.join(dir, 'cache')), {
      dockerfile: path.join(dir, 'Dockerfile'), dockerfileText: text, model, stage: 0, contextDir: dir, engine,
      image: { id: 'sha256:img', name: 'app:1', createdMs: Date.now() - 60_000, history },
    });
    assert.deepEqual(r.stored?.record.buildArgs, { V: '2' });
    assert.equal(r.stored?.record.buildArgsUnknown, undefined);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
