// The editor side of stage images without an editor: which remembered stage image each stage of a
// Dockerfile gets (workspace state), and which stages a lens offers to build (never built, image
// gone, image no longer matching its stage). Engine histories are the recorded ones, served as the
// engine's `history` rows (newest first) through the same quick-image path the editor uses.
import '../../support/vscode-stub';
import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import type * as vscode from 'vscode';
import { parseDockerfile } from '../../../../src/core/dockerfile/dockerfile';
import { mapHistory } from '../../../../src/core/dockerfile/mapping';
import { quickImageFromHistory, type QuickImage } from '../../../../src/core/image/quickImage';
import { StageImageStore, resolveStageImages } from '../../../../src/vscode/build/stageStore';
import { repoRoot } from '../../../support/repo';

const root = repoRoot();
const text = fs.readFileSync(path.join(root, 'test/fixtures/dockerfiles/multistage/Dockerfile'), 'utf8');
const model = parseDockerfile(text);

function engineImage(file: string): QuickImage {
  const rec = JSON.parse(fs.readFileSync(path.join(root, 'test/fixtures/histories', file), 'utf8')) as {
    history: Array<{ created_by?: string }>; sizes: number[]; diffIds: string[];
  };
  const rows = rec.history.map((h, i) => ({ createdBy: h.created_by ?? '', size: rec.sizes[i] ?? 0 })).reverse();
  return quickImageFromHistory(`sha256:${file}`, [], rows, rec.diffIds.length);
}

class Memento {
  private readonly m = new Map<string, unknown>();
  get<T>(key: string): T | undefined { return this.m.get(key) as T | undefined; }
  async update(key: string, value: unknown): Promise<void> { this.m.set(key, JSON.parse(JSON.stringify(value))); }
  keys(): string[] { return [...this.m.keys()]; }
}

const uri = { toString: () => 'file:///w/multistage/Dockerfile', fsPath: '/w/multistage/Dockerfile', scheme: 'file' } as unknown as vscode.Uri;
const doc = { uri, getText: () => text } as unknown as vscode.TextDocument;
const images: Record<string, string> = {
  'layerlens/multistage:stage-build': 'multistage-target-build.buildkit-engine20.json',
  'layerlens/multistage:stage-tools': 'multistage-target-tools.buildkit-engine20.json',
  'layerlens/multistage:stage-test': 'multistage-target-test.buildkit-engine20.json',
};
const asked: string[] = [];
const quick = async (source: string): Promise<QuickImage> => {
  asked.push(source);
  const f = images[source];
  if (!f) throw new Error(`No such image: ${source}`);
  return engineImage(f);
};
const main = engineImage('multistage.buildkit-engine20.json');
const mainMapping = mapHistory(model, main.history);

test('no stage image remembered: every stage outside the image is offered for a build', async () => {
  const store = new StageImageStore(new Memento() as unknown as vscode.Memento);
  const r = await resolveStageImages(store, quick, () => undefined, doc, model, mainMapping);
  assert.deepEqual(r.images, []);
  assert.deepEqual(r.missing, [{ stage: 0, key: 'build', why: 'none' }, { stage: 1, key: 'tools', why: 'none' }, { stage: 2, key: 'test', why: 'none' }]);
});

test('remembered stage images are read and mapped with their stage; gone and mismatched ones are offered again', async () => {
  const state = new Memento();
  const store = new StageImageStore(state as unknown as vscode.Memento);
  await store.remember(uri, 'build', { source: 'layerlens/multistage:stage-build', imageId: 'sha256:b', builtAt: 1 });
  await store.remember(uri, 'test', { source: 'layerlens/multistage:stage-test', imageId: 'sha256:t', builtAt: 2 });
  assert.deepEqual(Object.keys(store.all(uri)).sort(), ['build', 'test'], 'remember keeps the other stages');
  assert.deepEqual(state.keys(), ['stageImages:file:///w/multistage/Dockerfile']);
  asked.length = 0;
  let r = await resolveStageImages(store, quick, () => undefined, doc, model, mainMapping);
  assert.deepEqual(r.images.map((i) => [i.source, i.mapping.stage]), [['layerlens/multistage:stage-build', 0], ['layerlens/multistage:stage-test', 2]]);
  assert.deepEqual(r.missing, [{ stage: 1, key: 'tools', why: 'none' }]);
  assert.deepEqual(asked, ['layerlens/multistage:stage-build', 'layerlens/multistage:stage-test']);

  // The tools image remembered for build (e.g. stages reordered): stale; a removed tag: unavailable.
  await store.remember(uri, 'build', { source: 'layerlens/multistage:stage-tools', imageId: null, builtAt: 3 });
  await store.remember(uri, 'tools', { source: 'layerlens/multistage:gone', imageId: null, builtAt: 3 });
  const logged: string[] = [];
  r = await resolveStageImages(store, quick, (l) => logged.push(l), doc, model, mainMapping);
  assert.deepEqual(r.missing, [{ stage: 0, key: 'build', why: 'stale' }, { stage: 1, key: 'tools', why: 'unavailable' }]);
  assert.deepEqual(r.images.map((i) => i.source), ['layerlens/multistage:stage-test']);
  assert.match(logged.join('\n'), /layerlens\/multistage:gone \(tools\) unavailable: No such image/);
});

test('the image\'s own stage chain needs no stage image; one-stage files have none', async () => {
  const store = new StageImageStore(new Memento() as unknown as vscode.Memento);
  const testImage = engineImage('multistage-target-test.buildkit-engine20.json');
  const r = await resolveStageImages(store, quick, () => undefined, doc, model, mapHistory(model, testImage.history, { stage: 'test' }));
  assert.deepEqual(r.missing.map((m) => m.key), ['tools', '#3'], 'built with --target test: build is in the image; tools and the last stage are not');
  const one = parseDockerfile('FROM llbase:1\nRUN echo hi\n');
  const single = await resolveStageImages(store, quick, () => undefined, doc, one, mapHistory(one, main.history));
  assert.deepEqual(single, { images: [], missing: [] });
});
