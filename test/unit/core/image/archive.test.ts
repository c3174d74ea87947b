import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import { assembleArchive } from '../../../../src/core/image/tar/archive';
import { readArchiveStream } from '../../../../src/core/image/tar/archiveStream';
import { ImageFormatError } from '../../../../src/core/image/errors';
import { chunks, dockerSave, gzip, makeTar, zstd, ociLayout, sha256, tarOfFiles, type ImageSpec } from '../../support/tars';

async function spec(): Promise<ImageSpec> {
  const l0 = await makeTar([{ name: 'bin/', type: 'directory' }, { name: 'bin/sh', size: 100 }]);
  const l1 = await makeTar([{ name: 'app/', type: 'directory' }, { name: 'app/main', size: 42 }]);
  const empty = await makeTar([]);
  return {
    layers: [l0, empty, l1, empty],
    history: [
      { created_by: 'ADD rootfs.tar / # buildkit' },
      { created_by: 'ENV A=1', empty_layer: true },
      { created_by: 'WORKDIR /app # buildkit' },
      { created_by: 'COPY main /app/ # buildkit' },
      { created_by: 'CMD ["/app/main"]', empty_layer: true },
      { created_by: 'WORKDIR /app # buildkit' },
    ],
    tag: 'demo:1',
  };
}

async function load(buf: Buffer, kind: 'docker-archive' | 'oci' = 'docker-archive') {
  return assembleArchive(await readArchiveStream(chunks(buf, 4096)), { kind, ref: 'mem' });
}

test('docker save archive (manifest last, shared empty layer): layers, diffIDs and history aligned', async () => {
  const s = await spec();
  const img = await load(await dockerSave(s));
  assert.deepEqual(img.diffIds, s.layers.map((l) => sha256(l)));
  assert.deepEqual(img.layers.map((l) => l.diffId), img.diffIds);
  assert.deepEqual(img.layers.map((l) => l.entries.length), [2, 0, 2, 0]);
  assert.deepEqual(img.history.map((h) => h.layerIndex), [0, null, 1, 2, null, 3]);
  assert.deepEqual(img.repoTags, ['demo:1']);
  assert.equal(img.config.os, 'linux');
  assert.match(img.id, /^sha256:[a-f0-9]{64}$/);
  assert.deepEqual(img.warnings, []);
});

test('a gzip- or zstd-compressed docker save archive reads the same', async () => {
  const raw = await dockerSave(await spec());
  const ref = await load(raw);
  for (const buf of [gzip(raw), zstd(raw)]) {
    const img = await load(buf);
    assert.deepEqual(img.layers.map((l) => l.entries), ref.layers.map((l) => l.entries));
  }
});

test('manifest first or last makes no difference', async () => {
  const s = await spec();
  const a = await load(await dockerSave(s));
  const b = await load(await dockerSave(s, { manifestFirst: true }));
  assert.deepEqual(a.layers.map((l) => l.entries), b.layers.map((l) => l.entries));
});

test('an OCI layout packed in a tar (gzip and zstd blobs) reads the same as the docker archive', async () => {
  const s = await spec();
  const ref = await load(await dockerSave(s));
  for (const c of ['gzip', 'zstd', 'none'] as const) {
    const img = await load(await tarOfFiles(ociLayout(s, c)), 'oci');
    assert.deepEqual(img.diffIds, ref.diffIds, c);
    assert.deepEqual(img.layers.map((l) => l.entries), ref.layers.map((l) => l.entries), c);
    assert.deepEqual(img.layers.map((l) => l.compression), c === 'none' ? ['none', 'none', 'none', 'none'] : [c, c, c, c]);
    assert.equal(img.id, ref.id, 'the id is the config digest');
  }
});

test('broken archives give one typed error each', async () => {
  const s = await spec();
  const good = await dockerSave(s);
  const cases: Array<[string, Buffer, string]> = [
    ['empty file', Buffer.alloc(0), 'corrupt'],
    ['not a tar', Buffer.from('hello world, this is not a tar archive at all'.repeat(20)), 'corrupt'],
    ['truncated', good.subarray(0, Math.floor(good.length / 2)), 'truncated'],
    ['no manifest', await makeTar([{ name: 'x', body: 'y' }]), 'corrupt'],
  ];
  const files = ociLayout(s, 'gzip');
  const layerBlob = [...files.keys()].find((k) => k.startsWith('blobs/') && files.get(k)![0] === 0x1f)!;
  files.delete(layerBlob);
  cases.push(['manifest pointing at a missing blob', await tarOfFiles(files), 'missing']);
  for (const [what, buf, code] of cases) {
    await assert.rejects(load(buf), (e: unknown) => {
      assert.ok(e instanceof ImageFormatError, `${what}: ${String(e)}`);
      assert.equal(e.code, code, `${what}: ${e.message}`);
      return true;
    });
  }
});
