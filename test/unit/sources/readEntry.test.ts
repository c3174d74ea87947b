// Reading one file version out of one layer, from each kind of source (the `layerlens:` file
// system's back end): docker-save files (header walk + byte range), OCI layouts (gzip, zstd), an
// OCI layout packed in a tar, and an engine-like export stream (layer found by hashing).
import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { ImageFormatError } from '../../../src/core/image/errors';
import { readLayerEntry, scanArchiveStream, tarMembers, EntryNotFoundError } from '../../../src/sources/readEntry';
import { chunks, dockerSave, makeTar, ociLayout, writeLayout, sha256, tarOfFiles, type ImageSpec } from '../support/tars';

const binary = Buffer.from([0, 1, 2, 0xff, 0xfe, 0x00, 0x7f, 0x80]);

async function spec(): Promise<ImageSpec> {
  return {
    layers: [
      await makeTar([
        { name: 'etc/', type: 'directory' }, { name: 'etc/conf', body: 'one\n' }, { name: 'bin/', type: 'directory' },
        { name: 'bin/tool', body: binary }, { name: 'bin/sh', type: 'symlink', linkname: 'tool' },
      ]),
      await makeTar([
        { name: 'etc/', type: 'directory' }, { name: 'etc/conf', body: 'two-and-longer\n' },
        { name: 'etc/hard', type: 'link', linkname: 'etc/conf' }, { name: 'big', size: 5000 },
      ]),
    ],
    tag: 'read:test',
  };
}

function tmp(): string {
  return fs.mkdtempSync(path.join(os.tmpdir(), 'layerlens-read-'));
}

test('docker-save file: each layer\'s version of a path, binary intact, hardlinks resolved, symlinks as their target', async () => {
  const s = await spec();
  const dir = tmp();
  try {
    const file = path.join(dir, 'img.tar');
    fs.writeFileSync(file, await dockerSave(s));
    const src = { kind: 'docker-archive' as const, path: file };
    const d0 = sha256(s.layers[0]);
    const d1 = sha256(s.layers[1]);
    assert.equal((await readLayerEntry(src, { diffId: d0, path: '/etc/conf' })).data.toString(), 'one\n');
    assert.equal((await readLayerEntry(src, { diffId: d1, path: '/etc/conf' })).data.toString(), 'two-and-longer\n');
    assert.deepEqual((await readLayerEntry(src, { diffId: d0, path: '/bin/tool' })).data, binary);
    const sh = await readLayerEntry(src, { diffId: d0, path: '/bin/sh' });
    assert.equal(sh.type, 'symlink');
    assert.equal(sh.data.toString(), 'tool');
    const hard = await readLayerEntry(src, { diffId: d1, path: '/etc/hard' });
    assert.equal(hard.type, 'file', 'the hardlink is read through to its target');
    assert.equal(hard.data.toString(), 'two-and-longer\n');
    await assert.rejects(readLayerEntry(src, { diffId: d1, path: '/bin/tool' }), EntryNotFoundError);
    await assert.rejects(readLayerEntry(src, { diffId: 'sha256:' + '0'.repeat(64), path: '/etc/conf' }), (e: unknown) => e instanceof ImageFormatError && e.code === 'missing');
    await assert.rejects(readLayerEntry(src, { diffId: d1, path: '/big', maxBytes: 4000 }), (e: unknown) => e instanceof ImageFormatError && e.code === 'limit');
    assert.equal((await readLayerEntry(src, { diffId: d1, path: '/big', maxBytes: 5000 })).data.length, 5000);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test('OCI layouts with gzip and zstd layers, and the same layout packed in a tar', async () => {
  const s = await spec();
  for (const compress of ['gzip', 'zstd', 'none'] as const) {
    const dir = tmp();
    try {
      const files = ociLayout(s, compress);
      writeLayout(dir, files);
      const d1 = sha256(s.layers[1]);
      const e = await readLayerEntry({ kind: 'oci', dir }, { diffId: d1, path: '/etc/conf' });
      assert.equal(e.data.toString(), 'two-and-longer\n', compress);
      const archive = path.join(dir, 'oci.tar');
      fs.writeFileSync(archive, await tarOfFiles(files));
      const e2 = await readLayerEntry({ kind: 'docker-archive', path: archive }, { diffId: d1, path: '/etc/hard' });
      assert.equal(e2.data.toString(), 'two-and-longer\n', `${compress} in a tar`);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  }
});

test('engine export stream: the layer is found by hashing; other layers of the wrong size are skipped', async () => {
  const s = await spec();
  const archive = await dockerSave(s);
  const d0 = sha256(s.layers[0]);
  const e = await scanArchiveStream(chunks(archive, 1000), { diffId: d0, path: '/etc/conf', tarBytes: s.layers[0].length });
  assert.ok(e && e !== 'no-layer');
  assert.equal(e.data.toString(), 'one\n');
  const none = await scanArchiveStream(chunks(archive), { diffId: 'sha256:' + '1'.repeat(64), path: '/etc/conf' });
  assert.equal(none, 'no-layer');
  const missing = await scanArchiveStream(chunks(archive), { diffId: d0, path: '/nope' });
  assert.equal(missing, undefined, 'layer found, path not in it');
  // Docker 25+ saves OCI layouts: blobs named by digest (an uncompressed blob's digest is its diffID).
  const oci = await tarOfFiles(ociLayout(s, 'gzip'));
  const e2 = await scanArchiveStream(chunks(oci), { diffId: sha256(s.layers[1]), path: '/etc/conf' });
  assert.ok(e2 && e2 !== 'no-layer');
  assert.equal(e2.data.toString(), 'two-and-longer\n');
});

test('tar header walk: long member names (pax / prefix) and sizes', async () => {
  const dir = tmp();
  try {
    const long = 'd'.repeat(120) + '/layer.tar';
    const file = path.join(dir, 'x.tar');
    fs.writeFileSync(file, await makeTar([{ name: 'a.json', body: '{}' }, { name: long, size: 3000 }, { name: 'z', body: 'zz' }]));
    const m = await tarMembers(file);
    assert.deepEqual([...m.keys()], ['a.json', long, 'z']);
    assert.equal(m.get(long)!.size, 3000);
    const z = m.get('z')!;
    assert.equal(fs.readFileSync(file).subarray(z.offset, z.offset + z.size).toString(), 'zz');
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});
