// dive's export of layers built in memory: the order of dive's tree walk (children first, names in
// byte order), bare directories, whiteout markers with their own headers, layer ids by source.
import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import { analyze } from '../../../../src/core/image/analysis';
import { diveExportJson, diveExportLayer, diveFileList } from '../../../../src/core/present/diveExport';
import type { ImageData } from '../../../../src/core/image/types';
import { indexLayer } from '../../support/indexLayer';
import { makeTar } from '../../support/tars';

async function imageOf(layers: Buffer[], layerIds?: string[]): Promise<ImageData> {
  const indexes = await Promise.all(layers.map((l) => indexLayer([l], { hash: true })));
  return {
    id: 'sha256:' + '1'.repeat(64), repoTags: [], config: { os: 'linux', architecture: 'amd64' },
    diffIds: indexes.map((l) => l.diffId), layers: indexes,
    history: indexes.map((_, i) => ({ index: i, createdBy: i === 0 ? '/bin/sh -c make base' : 'COPY x /', emptyLayer: false, layerIndex: i })),
    ...(layerIds ? { layerIds } : {}),
    source: { kind: 'docker-archive', ref: 'x.tar' }, warnings: [],
  };
}

test('dive export: a layer\'s file list in dive\'s tree order, bare directories as zero records, markers with their headers', async () => {
  const base = await makeTar([
    { name: 'usr/', type: 'directory' },
    { name: 'usr/b', size: 3 },
    { name: 'usr/a', size: 2 },
    { name: 'usr/é', size: 1 },
    { name: 'usr/Z', size: 1 },
    { name: 'opt/x/y', size: 5, mode: 0o4755, uid: 7 },
    { name: 'ln', type: 'symlink', linkname: 'usr/a' },
  ]);
  // Layer 1: a whiteout marker with an odd header (mode 0o600, owned by 1000), an opaque marker
  // (not listed, as dive skips it) and a file.
  const top = await makeTar([
    { name: 'usr/.wh.b', mode: 0o600, uid: 1000 },
    { name: 'opt/x/.wh..wh..opq' },
    { name: 'opt/x/new', size: 4 },
  ]);
  const a = analyze(await imageOf([base, top], ['aa', 'bb']));
  const paths = (i: number): string[] => diveFileList(a, i).map((f) => f.path);
  // 'opt' and 'opt/x' have no header of their own: dive adds them bare (path "", all zero).
  assert.deepEqual(paths(0), ['ln', 'opt/x/y', '', '', 'usr/Z', 'usr/a', 'usr/b', 'usr/é', 'usr']);
  const bare = diveFileList(a, 0)[2];
  assert.deepEqual(bare, { path: '', typeFlag: 0, linkName: '', size: 0, fileMode: 0, uid: 0, gid: 0, isDir: false });
  const y = diveFileList(a, 0)[1];
  assert.deepEqual(y, { path: 'opt/x/y', typeFlag: 48, linkName: '', size: 5, fileMode: 0o755 + 2 ** 23, uid: 7, gid: 0, isDir: false });
  assert.deepEqual(diveFileList(a, 0)[0], { path: 'ln', typeFlag: 50, linkName: 'usr/a', size: 0, fileMode: 0o644 + 2 ** 27, uid: 0, gid: 0, isDir: false });
  assert.equal(diveFileList(a, 0).at(-1)!.fileMode, 0o755 + 2 ** 31);

  const l1 = diveExportLayer(a, 1);
  assert.deepEqual(l1.fileList.map((f) => f.path), ['opt/x/new', '', '', 'usr/.wh.b', '']);
  assert.deepEqual(l1.fileList[3], { path: 'usr/.wh.b', typeFlag: 48, linkName: '', size: 0, fileMode: 0o600, uid: 1000, gid: 0, isDir: false });
  assert.deepEqual({ ...l1, fileList: undefined }, { index: 1, id: 'bb', digestId: a.image.diffIds[1], sizeBytes: 4, command: 'COPY x /', fileList: undefined });
  assert.equal(diveExportLayer(a, 0).command, 'make base');
  assert.equal(diveExportLayer(a, 0).sizeBytes, 12);
});

test('dive export: the JSON document, and an image whose layers were not read from archive members', async () => {
  const a = analyze(await imageOf([await makeTar([{ name: 'f', size: 9 }])]));
  const doc = JSON.parse([...diveExportJson(a)].join('\n')) as Record<string, unknown>;
  assert.deepEqual(Object.keys(doc), ['schemaVersion', 'layer', 'image']);
  assert.deepEqual(doc.image, { sizeBytes: 9, inefficientBytes: 0, efficiencyScore: 1, fileReference: [] });
  const [l] = doc.layer as Array<Record<string, unknown>>;
  assert.deepEqual(Object.keys(l), ['index', 'id', 'digestId', 'sizeBytes', 'command', 'fileList']);
  assert.equal(l.id, '');
});
