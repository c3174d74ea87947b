// Reading one file version out of one layer, from each kind of source (the `layerlens:` file
// system's back end and `layerlens cat`): docker-save files (header walk + byte range, or a stream
// when compressed as a whole), OCI layouts (gzip, zstd), an OCI layout packed in a tar, and an
// engine-like export stream (layer found by hashing).
import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { Readable } from 'node:stream';
import { ImageFormatError } from '../../../src/core/image/errors';
import { EntryFinder, archiveMembers, scanArchiveForLayer, type EntryContent } from '../../../src/core/image/tar/layerRead';
import type { EngineClient } from '../../../src/engine/types';
import { EntryNotFoundError } from '../../../src/sources/imageSource';
import { openImageSource, type SourceSpec } from '../../../src/sources/load';
import { chunks, dockerSave, gzip, makeTar, ociLayout, writeLayout, sha256, tarOfFiles, zstd, type ImageSpec } from '../support/tars';

const readLayerEntry = (src: SourceSpec, req: { diffId: string; path: string; maxBytes?: number }): Promise<EntryContent> =>
  openImageSource(src).readFile(req.diffId, req.path, req);

/** scanArchiveForLayer reading `path` from the layer: the entry (undefined: not in the layer), or 'no-layer'. */
async function scanArchiveStream(source: Iterable<Buffer>, req: { diffId: string; path: string; tarBytes?: number }): Promise<EntryContent | undefined | 'no-layer'> {
  const found = await scanArchiveForLayer(source, req, () => {
    const f = new EntryFinder(req.path, 1 << 20);
    return { write: (c: Buffer) => f.write(c), result: () => f.result() };
  });
  return found ? found.result : 'no-layer';
}

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

test('docker-save files compressed as a whole (gzip, zstd): each layer\'s version, found by its digest; damaged compressed bytes: a typed error', async () => {
  const s = await spec();
  const dir = tmp();
  try {
    const save = await dockerSave(s);
    for (const [name, bytes] of [['gzip', gzip(save)], ['zstd', zstd(save)]] as const) {
      const file = path.join(dir, `img.tar.${name}`);
      fs.writeFileSync(file, bytes);
      const src = { kind: 'docker-archive' as const, path: file };
      assert.equal((await readLayerEntry(src, { diffId: sha256(s.layers[0]), path: '/etc/conf' })).data.toString(), 'one\n', name);
      assert.equal((await readLayerEntry(src, { diffId: sha256(s.layers[1]), path: '/etc/hard' })).data.toString(), 'two-and-longer\n', name);
      assert.deepEqual((await readLayerEntry(src, { diffId: sha256(s.layers[0]), path: '/bin/tool' })).data, binary, name);
      await assert.rejects(readLayerEntry(src, { diffId: sha256(s.layers[1]), path: '/bin/tool' }), EntryNotFoundError, name);
      await assert.rejects(readLayerEntry(src, { diffId: 'sha256:' + '0'.repeat(64), path: '/etc/conf' }), (e: unknown) => e instanceof ImageFormatError && e.code === 'missing', name);
      // Damaged compressed bytes: a typed error, not the decompressor's own.
      const damaged = Buffer.from(bytes);
      damaged.fill(0x55, 200, 260);
      fs.writeFileSync(file, damaged);
      await assert.rejects(readLayerEntry(src, { diffId: sha256(s.layers[1]), path: '/etc/conf' }), (e: unknown) => e instanceof ImageFormatError, `${name}, damaged`);
    }
    // A damaged gzip blob of an OCI layout: the same.
    const files = ociLayout(s, 'gzip');
    const blob = [...files.keys()].find((k) => files.get(k)!.equals(gzip(s.layers[1])))!;
    files.set(blob, Buffer.concat([files.get(blob)!.subarray(0, 40), Buffer.alloc(40, 0x55), files.get(blob)!.subarray(80)]));
    writeLayout(path.join(dir, 'oci'), files);
    await assert.rejects(openImageSource({ kind: 'oci', dir: path.join(dir, 'oci') }, { verify: false }).readFile(sha256(s.layers[1]), '/etc/conf'), (e: unknown) => e instanceof ImageFormatError, 'damaged gzip blob');
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test('archive members read as a stream: long member names (pax / prefix), sizes and bodies, bodies left unread skipped', async () => {
  const long = 'd'.repeat(120) + '/layer.tar';
  const tar = await makeTar([{ name: 'a.json', body: '{}' }, { name: long, size: 3000 }, { name: 'z', body: 'zz' }]);
  for (const source of [tar, gzip(tar)]) {
    const seen: Array<[string, number, string]> = [];
    for await (const m of archiveMembers(chunks(source, 100))) {
      let body = '';
      // Only the first chunk of the long member's body is read: the rest is skipped.
      for await (const c of m.body) { body += c.toString(); if (m.path === long) break; }
      seen.push([m.path, m.header.size, m.path === long ? body.slice(0, 1) : body]);
    }
    assert.deepEqual(seen, [['a.json', 2, '{}'], [long, 3000, 'a'], ['z', 2, 'zz']]);
  }
});

test('openLayer: the layer\'s uncompressed tar, byte for byte, from every kind of source', async () => {
  const s = await spec();
  const dir = tmp();
  try {
    const save = await dockerSave(s);
    const sources: Array<[string, SourceSpec, EngineClient?]> = [];
    for (const [name, bytes] of [['img.tar', save], ['img.tar.gz', gzip(save)], ['img.tar.zst', zstd(save)], ['oci.tar', await tarOfFiles(ociLayout(s, 'gzip'))]] as const) {
      fs.writeFileSync(path.join(dir, name), bytes);
      sources.push([name, { kind: 'docker-archive', path: path.join(dir, name) }]);
    }
    for (const compress of ['none', 'gzip', 'zstd'] as const) {
      writeLayout(path.join(dir, compress), ociLayout(s, compress));
      sources.push([`oci ${compress}`, { kind: 'oci', dir: path.join(dir, compress) }]);
    }
    let exports = 0;
    const engine = { exportImage: async () => { exports++; return Readable.from(chunks(save, 1000)); } } as unknown as EngineClient;
    sources.push(['engine', { kind: 'engine', name: 'img' }, engine]);
    for (const [name, src, e] of sources) {
      for (const [i, layer] of s.layers.entries()) {
        const parts: Buffer[] = [];
        for await (const c of await openImageSource(src, { engine: e ? async () => e : undefined }).openLayer(sha256(layer))) parts.push(c);
        assert.ok(Buffer.concat(parts).equals(layer), `${name}: layer ${i}`);
      }
    }
    assert.equal(exports, 2, 'the engine: one export per layer read');
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test('engine source: a file version from the export, found by its hash; a hardlink read in its layer', async () => {
  const s = await spec();
  const save = await dockerSave(s);
  const engine = { exportImage: async () => Readable.from(chunks(save, 999)) } as unknown as EngineClient;
  const src = openImageSource({ kind: 'engine', name: 'img' }, { engine: async () => engine });
  assert.equal((await src.readFile(sha256(s.layers[1]), '/etc/hard', { tarBytes: s.layers[1].length })).data.toString(), 'two-and-longer\n');
  assert.deepEqual((await src.readFile(sha256(s.layers[0]), '/bin/tool')).data, binary);
  await assert.rejects(src.readFile(sha256(s.layers[0]), '/etc/hard'), EntryNotFoundError);
  await assert.rejects(src.readFile('sha256:' + '2'.repeat(64), '/etc/conf'), (e: unknown) => e instanceof ImageFormatError && e.code === 'missing');
});

/** An export stream that counts the bytes the reader has pulled from it. */
function countedExport(bytes: Buffer): { engine: EngineClient; pulled: () => number; exports: () => number } {
  let pulled = 0;
  let exports = 0;
  const engine = {
    exportImage: async () => {
      exports++;
      return Readable.from((function* () { for (const c of chunks(bytes, 64 * 1024)) { pulled += c.length; yield c; } })());
    },
  } as unknown as EngineClient;
  return { engine, pulled: () => pulled, exports: () => exports };
}

test('engine openLayer: one export; a legacy export\'s layer told by its hash among members of its size, an OCI-format export\'s by its name and streamed as it comes', async () => {
  const big = randomBytes(3 * 1024 * 1024);
  // Two layers of the same size: the first member of that size is not the one wanted.
  const s: ImageSpec = {
    layers: [await makeTar([{ name: 'a', body: randomBytes(5000) }]), await makeTar([{ name: 'a', body: randomBytes(5000) }]), await makeTar([{ name: 'big', body: big }])],
    tag: 'one:export',
  };
  assert.equal(s.layers[0].length, s.layers[1].length);
  const legacy = await dockerSave(s);
  const oci = await tarOfFiles(ociLayout(s, 'none'));
  for (const [name, bytes] of [['legacy', legacy], ['oci', oci]] as const) {
    for (const [i, layer] of s.layers.entries()) {
      const x = countedExport(bytes);
      const src = openImageSource({ kind: 'engine', name: 'img' }, { engine: async () => x.engine });
      const parts: Buffer[] = [];
      let pulledAtFirst = -1;
      for await (const c of await src.openLayer(sha256(layer), { tarBytes: i === 2 ? undefined : layer.length })) {
        if (pulledAtFirst < 0) pulledAtFirst = x.pulled();
        parts.push(c);
      }
      assert.ok(Buffer.concat(parts).equals(layer), `${name}: layer ${i}`);
      assert.equal(x.exports(), 1, `${name}: layer ${i} in one export`);
      if (name === 'oci' && i === 2) assert.ok(pulledAtFirst < big.length, `oci: the layer named by its diffID streams (first chunk after ${pulledAtFirst} bytes)`);
      if (name === 'legacy' && i === 2) assert.ok(pulledAtFirst > big.length, 'legacy: the layer is passed on once it hashed to its diffID');
    }
  }
  // copyFile (what `cat` reads an engine image with): one export, only the entry spooled, its bytes after the check.
  for (const [name, bytes] of [['legacy', legacy], ['oci', oci]] as const) {
    const x = countedExport(bytes);
    const src = openImageSource({ kind: 'engine', name: 'img' }, { engine: async () => x.engine });
    const parts: Buffer[] = [];
    const got = await src.copyFile(sha256(s.layers[2]), '/big', async (c) => { parts.push(c); }, { spool: { memoryBytes: 1024 } });
    assert.equal(got.spilled, true);
    assert.ok(Buffer.concat(parts).equals(big), `${name}: copyFile`);
    assert.equal(x.exports(), 1, `${name}: copyFile in one export`);
    await assert.rejects(src.copyFile(sha256(s.layers[0]), '/nope', async () => undefined), EntryNotFoundError);
  }
  // A layer rewritten in the export (documents as they were): an OCI-format member named by the
  // diffID fails at the end of the iteration; a legacy export has no member that is the layer.
  const bad = await makeTar([{ name: 'a', body: randomBytes(5000) }]);
  const rewrittenOci = await tarOfFiles(new Map([...ociLayout(s, 'none')].map(([p, b]) => [p, p === `blobs/sha256/${sha256(s.layers[0]).slice(7)}` ? bad : b])));
  for (const [name, bytes, want] of [['oci', rewrittenOci, /does not match its diffID/], ['legacy', await dockerSave(s, { bodies: new Map([[0, bad]]) }), /has no layer/]] as const) {
    const x = countedExport(bytes);
    const src = openImageSource({ kind: 'engine', name: 'img' }, { engine: async () => x.engine });
    await assert.rejects((async () => { for await (const c of await src.openLayer(sha256(s.layers[0]), { tarBytes: s.layers[0].length })) void c; })(), want, name);
    assert.equal(x.exports(), 1);
    let written = 0;
    await assert.rejects(src.copyFile(sha256(s.layers[0]), '/a', async (c) => { written += c.length; }, { spool: { memoryBytes: 1 } }), /has no layer/, `${name}: copyFile`);
    assert.equal(written, 0, `${name}: copyFile writes nothing`);
  }
});
