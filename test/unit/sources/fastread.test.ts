// The fast readers give the same image as the streaming reader, and the persistent layer cache is
// compact, exact and never trusted blindly: damaged records are refused, unverified entries are
// only used for the bytes they were read from, engine-stream candidates must hash to their diffID.
import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync, utimesSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { assembleArchive } from '../../../src/core/image/tar/archive';
import { readArchiveStream } from '../../../src/core/image/tar/archiveStream';
import { createHash } from 'node:crypto';
import { CODEC_VERSION, RecordIndex, decodeIndex, encodeIndex, plainIndex } from '../../../src/core/image/indexCodec';
import { INDEX_RECORD_VERSION } from '../../../src/core/image/index/indexRecord';
import { LayerTable } from '../../../src/core/image/index/layerTable';
import { indexLayer } from '../support/indexLayer';
import type { ImageData, LayerIndex } from '../../../src/core/image/types';
import { LayerIndexCache, fileOrigin } from '../../../src/sources/indexCache';
import { readEngineStream, cacheEngineLayers } from '../../../src/sources/fastRead';
import { loadImage } from '../../../src/sources/load';
import type { EngineClient } from '../../../src/engine/types';
import { hostPlatform } from '../../../src/core/image/oci';
import { Readable } from 'node:stream';
import { chunks, dockerSave, gzip, makeTar, ociLayout, writeLayout, tarOfFiles, zstd, type ImageSpec } from '../support/tars';
import { member, pax, rawTar } from '../support/rawtar';

async function spec(): Promise<ImageSpec> {
  const names = Array.from({ length: 300 }, (_, i) => ({ name: `usr/share/d${i % 7}/file-${i}.txt`, size: (i * 37) % 2000 }));
  const l0 = await makeTar([{ name: 'usr/', type: 'directory' }, ...names, { name: 'bin/sh', type: 'symlink', linkname: '/bin/busybox' }, { name: 'bin/busybox', size: 70_000 }]);
  const l1 = rawTar(pax({ path: 'long/'.repeat(60) + 'leaf' }), member({ name: 'short' }, 'data'), member({ name: 'usr/share/.wh.d3' }), member({ name: 'usr/.wh..wh..opq' }));
  const l2 = await makeTar([{ name: 'bin/ls', type: 'link', linkname: 'bin/busybox' }, { name: 'big', size: 200_000 }, { name: 'üñí/çødé', body: 'x' }]);
  const empty = await makeTar([]);
  return { layers: [l0, l1, empty, l2, empty], tag: 'fast:1' };
}

// Cache hits are records (RecordIndex): compare their decoded form.
const plain = (img: ImageData): unknown => img.layers.map(plainIndex);

function tmpdir(): string {
  return mkdtempSync(path.join(os.tmpdir(), 'layerlens-fastread-'));
}

test('docker-archive file read by seeking equals the streaming reader (manifest last and first, OCI in a tar)', async () => {
  const dir = tmpdir();
  try {
    const s = await spec();
    const inputs: Array<[string, Buffer]> = [
      ['docker save', await dockerSave(s)],
      ['manifest first', await dockerSave(s, { manifestFirst: true })],
      ['OCI tar, plain blobs', await tarOfFiles(ociLayout(s, 'none'))],
      ['OCI tar, gzip blobs', await tarOfFiles(ociLayout(s, 'gzip'))],
      ['OCI tar, zstd blobs', await tarOfFiles(ociLayout(s, 'zstd'))],
    ];
    for (const [label, buf] of inputs) {
      const file = path.join(dir, label.replace(/\W+/g, '-') + '.tar');
      writeFileSync(file, buf);
      const streamed = await assembleArchive(await readArchiveStream(chunks(buf, 1000)), { kind: 'docker-archive', ref: file });
      const seeked = await loadImage({ kind: 'docker-archive', path: file });
      assert.deepEqual(plain(seeked), plain(streamed), label);
      assert.deepEqual(seeked.diffIds, streamed.diffIds, label);
      assert.equal(seeked.id, streamed.id, label);
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('index codec: exact round trip (unicode, surrogate pairs, negative mtime, sizes over 4 GiB, links, markers)', async () => {
  const layer: LayerIndex = {
    diffId: 'sha256:' + 'a'.repeat(64),
    entries: [
      { path: '/a', type: 'dir', size: 0, mode: 0o755, uid: 0, gid: 0, mtime: 1_700_000_000 },
      { path: '/a/😀x', type: 'file', size: 2 ** 40 + 3, mode: 0o4755, uid: 1000, gid: 1000, mtime: -5 },
      { path: '/a/😁y', type: 'file', size: 1, mode: 0o644, uid: 2 ** 31, gid: 7, mtime: 0 },
      { path: '/a/l', type: 'symlink', size: 0, mode: 0o777, uid: 0, gid: 0, mtime: 1, linkname: '../ü' },
      { path: '/a/h', type: 'hardlink', size: 0, mode: 0o644, uid: 0, gid: 0, mtime: 1, linkname: '/a/😀x' },
      { path: '/dev/null', type: 'char', size: 0, mode: 0o666, uid: 0, gid: 0, mtime: 1 },
      { path: '/f', type: 'fifo', size: 0, mode: 0o600, uid: 0, gid: 0, mtime: 1, linkname: '' },
    ],
    whiteouts: ['/gone', '/gone2/x', '/😀'],
    // Each marker's own header (dive's export lists them): a plain one, odd ones.
    whiteoutHeads: [
      { type: 'file', mode: 0, uid: 0, gid: 0, size: 0 },
      { type: 'file', mode: 0o4644, uid: 2 ** 31, gid: 7, size: 2 ** 33 },
      { type: 'symlink', mode: 0o777, uid: 1, gid: 2, size: 0, linkname: '../😁' },
    ],
    opaqueDirs: ['/var/cache', '/var/cache/apt'],
    tarFileBytes: 2 ** 40 + 4,
    tarEntries: 12,
    tarBytes: 2 ** 40 + 10_240,
    compression: 'zstd',
    warnings: ['entry x climbs above the root'],
  };
  const meta = { verified: true, head: 'f'.repeat(64), hdr: 'e'.repeat(64), origin: '{"file":"/x"}' };
  const buf = encodeIndex(layer, meta);
  const back = decodeIndex(buf, layer.diffId);
  assert.deepEqual(plainIndex(back.index), layer);
  assert.deepEqual(back.meta, meta);
  // A real layer index survives too, and stays small.
  const real = await indexLayer([(await spec()).layers[0]], { hash: true });
  const enc = encodeIndex(real, { verified: false, head: '', hdr: '', origin: '' });
  assert.deepEqual(plainIndex(decodeIndex(enc).index), plainIndex(real));
  // The columns as they are: 43 bytes per entry and 8 per path, plus names and the facts.
  assert.ok(enc.length < 1024 + real.entries.length * 64, `${enc.length} bytes for ${real.entries.length} entries`);
});

test('index codec: every damaged record is refused (flipped bytes, truncation, extension, other diffID, other version)', () => {
  const layer: LayerIndex = {
    diffId: 'sha256:' + 'b'.repeat(64), entries: Array.from({ length: 50 }, (_, i) => ({ path: `/d/f${i}`, type: 'file' as const, size: i, mode: 0o644, uid: 0, gid: 0, mtime: i })),
    whiteouts: [], opaqueDirs: [], tarFileBytes: 1225, tarEntries: 50, tarBytes: 30_720, compression: 'none', warnings: [],
  };
  const good = encodeIndex(layer, { verified: false, head: '', hdr: '', origin: '' });
  for (let i = 0; i < good.length; i += 3) {
    const bad = Buffer.from(good);
    bad[i] ^= 0x5a;
    assert.throws(() => decodeIndex(bad, layer.diffId), `byte ${i} flipped`);
  }
  for (const cut of [0, 5, 12, good.length - 33, good.length - 1]) assert.throws(() => decodeIndex(good.subarray(0, cut)), `cut at ${cut}`);
  assert.throws(() => decodeIndex(Buffer.concat([good, Buffer.alloc(1)])), 'extended');
  assert.throws(() => decodeIndex(good, 'sha256:' + 'c'.repeat(64)), /not sha256:c/);
  const v2 = Buffer.from(good);
  v2.writeUInt16LE(CODEC_VERSION + 1, 4);
  assert.throws(() => decodeIndex(v2), /version/);
});

test('index codec: a record is its table, columns as views of its bytes (random ASCII and non-ASCII paths); damage behind a valid digest is refused', () => {
  let seed = 7;
  const rnd = (n: number): number => { seed = (seed * 1103515245 + 12345) % 2 ** 31; return seed % n; };
  const parts = ['a', 'b/', 'usr/', 'é', '😀', 'x1', 'lib/', 'a-long-component-name', 'ü/', 'z'];
  const entries: LayerIndex['entries'] = [];
  const seen = new Set<string>();
  let prev = '/';
  for (let i = 0; i < 2000; i++) {
    let p = prev.slice(0, 1 + rnd(prev.length));
    p = p.slice(0, p.lastIndexOf('/') + 1);
    for (let k = 1 + rnd(4); k > 0; k--) p += parts[rnd(parts.length)];
    p = p.replace(/\/+$/, '');
    if (p === '' || seen.has(p)) continue;
    seen.add(p);
    entries.push({ path: p, type: i % 5 === 0 ? 'dir' : 'file', size: i % 5 === 0 ? 0 : rnd(5000), mode: 0o644, uid: 0, gid: 0, mtime: i });
    prev = p;
  }
  const layer: LayerIndex = {
    diffId: 'sha256:' + 'd'.repeat(64), entries, whiteouts: ['/é/x', '/é/y', '/a'], opaqueDirs: ['/usr'], tarFileBytes: 1, tarEntries: 2004,
    tarBytes: 512, compression: 'none', warnings: ['w'],
  };
  const buf = encodeIndex(layer, { verified: false, head: '', hdr: '', origin: '' });
  const rec = new RecordIndex(buf, layer.diffId);
  assert.ok(rec instanceof LayerTable);
  assert.equal(rec.entryCount, entries.length);
  assert.equal(rec.cols.entSize.buffer, buf.buffer, 'a column is a view of the record');
  assert.deepEqual(rec.whiteouts, layer.whiteouts);
  assert.deepEqual(rec.opaqueDirs, layer.opaqueDirs);
  const held = rec.entries;
  assert.deepEqual(held, entries);
  assert.equal(rec.entries, held, 'the decoded array is reused while something holds it');
  const other = rec.with({ diffId: 'sha256:' + 'e'.repeat(64) });
  assert.ok(other instanceof RecordIndex);
  assert.equal(other.diffId, 'sha256:' + 'e'.repeat(64));
  assert.equal(rec.diffId, layer.diffId);
  assert.deepEqual(other.entries, entries);
  // Built without its tar, each whiteout is read as the plain marker engines write.
  const plainMarker = { type: 'file', mode: 0, uid: 0, gid: 0, size: 0 } as const;
  assert.deepEqual(plainIndex(decodeIndex(buf).index), { ...layer, whiteoutHeads: layer.whiteouts.map(() => plainMarker) });
  // A record in Buffer's shared pool (not 8-byte aligned) reads the same.
  const unaligned = Buffer.alloc(buf.length + 3).subarray(3);
  buf.copy(unaligned);
  assert.deepEqual(new RecordIndex(unaligned).entries, entries);

  // Damage behind a valid digest (a record re-signed after a change) is refused when read: a byte
  // appended, an entry of an unknown type, a node whose parent comes after it.
  const resign = (b: Buffer): Buffer => {
    b.writeUInt32LE(b.length, 8);
    createHash('sha256').update(b.subarray(0, b.length - 32)).digest().copy(b, b.length - 32);
    return b;
  };
  const body = buf.subarray(0, buf.length - 32);
  assert.throws(() => new RecordIndex(resign(Buffer.concat([body, Buffer.from([0]), Buffer.alloc(32)]))), /damaged \(trailing bytes\)/);
  const at = (col: Uint8Array | Int32Array): number => col.byteOffset - buf.byteOffset;
  const badType = resign(Buffer.concat([body, Buffer.alloc(32)]));
  badType[at(rec.cols.entType) + 5] = 9;
  assert.throws(() => new RecordIndex(resign(badType)), /damaged \(entry table\)/);
  const badMarker = resign(Buffer.concat([body, Buffer.alloc(32)]));
  badMarker[at(rec.cols.whiteType) + 1] = 9;
  assert.throws(() => new RecordIndex(resign(badMarker)), /damaged \(whiteout headers\)/);
  const badParent = resign(Buffer.concat([body, Buffer.alloc(32)]));
  badParent.writeInt32LE(rec.nodeCount - 1, at(rec.cols.nodeParent) + 4);
  assert.throws(() => new RecordIndex(resign(badParent)), /damaged \(node table\)/);
});

test('cache store: unverified entries only for the same file and offset, verified for any; damaged files ignored and removed', async () => {
  const dir = tmpdir();
  try {
    const cache = new LayerIndexCache(dir);
    const layer = await indexLayer([(await spec()).layers[3]], { hash: true });
    const st = { size: 10, mtimeMs: 1, ino: 2 };
    const here = fileOrigin('/x.tar', st, 512);
    cache.put(layer.diffId, layer, { verified: false, head: '', hdr: '', origin: here });
    assert.deepEqual(cache.get(layer.diffId, here)?.toPlain(), plainIndex(layer));
    assert.equal(cache.get(layer.diffId, fileOrigin('/x.tar', st, 1024)), undefined, 'another offset');
    assert.equal(cache.get(layer.diffId, fileOrigin('/x.tar', { ...st, mtimeMs: 2 }, 512)), undefined, 'file changed');
    assert.equal(cache.get(layer.diffId), undefined, 'no origin');
    cache.put(layer.diffId, layer, { verified: true, head: '', hdr: '', origin: 'engine' });
    assert.deepEqual(cache.get(layer.diffId)?.toPlain(), plainIndex(layer), 'verified: any source');
    cache.put(layer.diffId, layer, { verified: false, head: '', hdr: '', origin: here });
    assert.equal(cache.read(layer.diffId)?.meta.verified, true, 'an unverified entry never replaces a verified one');
    // Damage on disk: a flipped byte, a truncated file, garbage under the right name.
    const files = readdirSync(cache.dir);
    assert.equal(files.length, 1);
    const f = path.join(cache.dir, files[0]);
    const good = readFileSync(f);
    for (const bad of [Buffer.concat([good.subarray(0, 100), Buffer.from([good[100] ^ 1]), good.subarray(101)]), good.subarray(0, good.length - 7), Buffer.from('not a record')]) {
      writeFileSync(f, bad);
      assert.equal(cache.get(layer.diffId), undefined);
      assert.deepEqual(readdirSync(cache.dir), [], 'the damaged file is removed');
      cache.put(layer.diffId, layer, { verified: true, head: '', hdr: '', origin: '' });
    }
    // A record stored under another diffID's name is refused.
    const other = 'sha256:' + 'e'.repeat(64);
    writeFileSync(path.join(cache.dir, other.slice(7) + '.llix'), good);
    assert.equal(cache.get(other), undefined);
    assert.ok(cache.stats.rejected >= 4);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('docker-archive file with the cache: the second read takes every layer from it and gives the same image', async () => {
  const dir = tmpdir();
  try {
    const file = path.join(dir, 'img.tar');
    writeFileSync(file, await dockerSave(await spec()));
    const cache = new LayerIndexCache(path.join(dir, 'cache'));
    const cold = await loadImage({ kind: 'docker-archive', path: file }, { cache });
    assert.equal(cache.stats.hits, 0);
    const warm = await loadImage({ kind: 'docker-archive', path: file }, { cache });
    assert.equal(cache.stats.hits, 4, 'four distinct layer members');
    assert.deepEqual(plain(warm), plain(cold));
    // The file changes (touched): its unverified entries no longer apply.
    utimesSync(file, new Date(), new Date(Date.now() + 5000));
    const hits = cache.stats.hits;
    const again = await loadImage({ kind: 'docker-archive', path: file }, { cache });
    assert.equal(cache.stats.hits, hits);
    assert.deepEqual(plain(again), plain(cold));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('compressed docker-archive file (gzip, zstd) with the cache: known whole, not decompressed again; a changed file or a damaged record: read again', async () => {
  const dir = tmpdir();
  try {
    for (const [kind, pack] of [['gzip', gzip], ['zstd', zstd]] as const) {
      const file = path.join(dir, `img.tar.${kind}`);
      writeFileSync(file, pack(await dockerSave(await spec())));
      const when = 1_700_000_000; // whole seconds: restored exactly below
      utimesSync(file, when, when);
      const cache = new LayerIndexCache(path.join(dir, 'cache-' + kind));
      const cold = await loadImage({ kind: 'docker-archive', path: file }, { cache });
      assert.equal(cache.stats.hits, 0, kind);
      const warm = await loadImage({ kind: 'docker-archive', path: file }, { cache });
      assert.equal(cache.stats.hits, 4, `${kind}: the four layer members from the cache`);
      assert.deepEqual({ ...warm, layers: plain(warm) }, { ...cold, layers: plain(cold) }, kind);
      // Proof that nothing is decompressed: damage the compressed bytes, keep size and mtime (the
      // file's identity): still read from the cache. (The cache trusts a file's identity, as it
      // does for an uncompressed archive's members.)
      const bytes = readFileSync(file);
      bytes.fill(0x55, 100, bytes.length - 100);
      writeFileSync(file, bytes);
      utimesSync(file, when, when);
      const again = await loadImage({ kind: 'docker-archive', path: file }, { cache });
      assert.deepEqual(plain(again), plain(cold), `${kind}: from the cache, not the damaged bytes`);
      // A changed identity (touched): read, and the damage reported.
      utimesSync(file, new Date(), new Date(Date.now() + 5000));
      await assert.rejects(loadImage({ kind: 'docker-archive', path: file }, { cache }), `${kind}: read again`);
      // The good file again, then a damaged record for it: ignored, removed, the file read.
      rmSync(cache.fileDir, { recursive: true });
      writeFileSync(file, pack(await dockerSave(await spec())));
      await loadImage({ kind: 'docker-archive', path: file }, { cache });
      const [rec] = readdirSync(cache.fileDir);
      writeFileSync(path.join(cache.fileDir, rec), '{"origin":');
      const rejected = cache.stats.rejected;
      const hits = cache.stats.hits;
      assert.deepEqual(plain(await loadImage({ kind: 'docker-archive', path: file }, { cache })), plain(cold), kind);
      assert.equal(cache.stats.rejected, rejected + 1, `${kind}: the damaged record counted`);
      assert.equal(cache.stats.hits, hits, `${kind}: and the file read, not the cache`);
      assert.equal(readdirSync(cache.fileDir).length, 1, `${kind}: and recorded again`);
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('OCI layout on disk with the cache: same image, blobs not read again', async () => {
  const dir = tmpdir();
  try {
    for (const kind of ['none', 'gzip', 'zstd'] as const) {
      const layout = path.join(dir, 'oci-' + kind);
      writeLayout(layout, ociLayout(await spec(), kind));
      const cache = new LayerIndexCache(path.join(dir, 'cache-' + kind));
      const cold = await loadImage({ kind: 'oci', dir: layout }, { cache });
      const before = cache.stats.hits; // the empty layer's second use is a hit already
      const warm = await loadImage({ kind: 'oci', dir: layout }, { cache });
      assert.equal(cache.stats.hits - before, 5, kind);
      assert.deepEqual(plain(warm), plain(cold), kind);
      assert.ok(warm.layers.every((l) => l.compression === kind), kind);
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('engine stream with the cache: known layers are walked but not parsed, and used only when their header digest matches', async () => {
  const dir = tmpdir();
  try {
    const s = await spec();
    const buf = await dockerSave(s);
    const cache = new LayerIndexCache(dir);
    const first = await readEngineStream(chunks(buf, 4096), [], { cache });
    const image = await assembleArchive(first.contents, { kind: 'engine', ref: 'x' });
    cacheEngineLayers(cache, first.contents, image);
    for (const d of image.diffIds) {
      const m = cache.read(d)?.meta;
      assert.ok(m && m.head.length === 64 && m.hdr.length === 64 && !m.verified, 'stored with head and header digests');
    }
    const second = await readEngineStream(chunks(buf, 4096), image.diffIds, { cache });
    assert.equal(second.contents.fromCache.size, 4);
    assert.deepEqual(second.contents.cacheMismatches, []);
    const image2 = await assembleArchive(second.contents, { kind: 'engine', ref: 'x' });
    assert.deepEqual(plain(image2), plain(image));
    // An entry with another layer's size and head but not its headers: walked, refused.
    const victim = image.diffIds[3];
    const d0 = cache.read(image.diffIds[0])!;
    rmSync(path.join(cache.dir, victim.slice(7) + '.llix'));
    cache.put(victim, d0.index, { ...d0.meta, hdr: '0'.repeat(64) });
    rmSync(path.join(cache.dir, image.diffIds[0].slice(7) + '.llix'));
    const third = await readEngineStream(chunks(buf, 4096), image.diffIds, { cache });
    assert.equal(third.contents.cacheMismatches.length, 1, 'matched by size and head, then refused by the header digest');
    // Same headers, other bytes in a body: the same index, so the cached one is right to use.
    const l = await makeTar([{ name: 'f', body: 'aaaa' }, { name: 'g', size: 70_000 }]);
    const l2 = await makeTar([{ name: 'f', body: 'bbbb' }, { name: 'g', size: 70_000 }]);
    const a1 = await dockerSave({ layers: [l] });
    const a2 = await dockerSave({ layers: [l2] });
    const c2 = new LayerIndexCache(path.join(dir, 'c2'));
    const r1 = await readEngineStream(chunks(a1, 999), [], { cache: c2 });
    const i1 = await assembleArchive(r1.contents, { kind: 'engine', ref: 'x' });
    cacheEngineLayers(c2, r1.contents, i1);
    const r2 = await readEngineStream(chunks(a2, 999), i1.diffIds, { cache: c2 });
    assert.equal(r2.contents.fromCache.size, 0, 'the head differs (the body is in the first 64 KiB): parsed');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

/** A fake engine serving one image (`buf`, a `docker save` or OCI tar) under `id`, counting its exports. */
function countingEngine(buf: Buffer, probe: ImageData, id: string): { engine: EngineClient; exports: () => number } {
  let n = 0;
  const engine = {
    inspectImage: async () => ({ id, repoTags: ['fast:1'], size: buf.length, os: 'linux', architecture: 'amd64', diffIds: probe.diffIds }),
    history: async () => probe.history.slice().reverse().map((h, i) => ({ id: '', created: 0, createdBy: h.createdBy, size: i * 10, comment: '', tags: [] })),
    exportImage: async () => { n++; return Readable.from(chunks(buf, 4096)); },
  } as unknown as EngineClient;
  return { engine, exports: () => n };
}

test('engine image the cache knows whole (its config by digest, every layer by diffID): not exported again, same image; anything missing or foreign: exported', async () => {
  const dir = tmpdir();
  try {
    const buf = await dockerSave(await spec());
    const probe = await assembleArchive((await readEngineStream(chunks(buf, 4096), [], {})).contents, { kind: 'engine', ref: 'x' });
    const { engine, exports } = countingEngine(buf, probe, probe.id);
    const load = (cache: LayerIndexCache): Promise<ImageData> => loadImage({ kind: 'engine', name: 'fast:1' }, { cache, engine: async () => engine });
    const cache = new LayerIndexCache(dir);
    const cold = await load(cache);
    assert.equal(exports(), 1);
    assert.equal(readdirSync(cache.docDir).length, 1, 'the config is stored under the image id');
    const warm = await load(cache);
    assert.equal(exports(), 1, 'known whole: not exported');
    // The same image; only the layers' archive member directories (dive's layer ids) are unknown
    // without the export that names them.
    assert.deepEqual(cold.layerIds, probe.layerIds);
    assert.equal(warm.layerIds, undefined);
    assert.deepEqual({ ...warm, layerIds: undefined, layers: plain(warm) }, { ...cold, layerIds: undefined, layers: plain(cold) });
    // A config that does not hash to its name: removed, and the image exported again.
    const cfgFile = path.join(cache.docDir, probe.id.slice(7) + '.json');
    const good = readFileSync(cfgFile);
    writeFileSync(cfgFile, Buffer.concat([good, Buffer.from(' ')]));
    assert.deepEqual(plain(await load(cache)), plain(cold));
    assert.equal(exports(), 2, 'a damaged config is not trusted');
    assert.deepEqual(readFileSync(cfgFile), good, 'and the export stores it again');
    // One layer missing: exported.
    rmSync(path.join(cache.dir, probe.diffIds[3].slice(7) + '.llix'));
    await load(cache);
    assert.equal(exports(), 3);
    // One layer known only from a file (its manifest could name any diffID): exported.
    const d0 = cache.read(probe.diffIds[0])!;
    rmSync(path.join(cache.dir, probe.diffIds[0].slice(7) + '.llix'));
    cache.put(probe.diffIds[0], d0.index, { ...d0.meta, verified: false, hdr: '', origin: fileOrigin('/some/archive.tar', { size: 1, mtimeMs: 1, ino: 1 }, 0) });
    await load(cache);
    assert.equal(exports(), 4, 'an entry read from a file does not stand for the engine layer');
    // Stored again by that export: known whole once more.
    await load(cache);
    assert.equal(exports(), 4);
    // Without a cache: always exported.
    await loadImage({ kind: 'engine', name: 'fast:1' }, { engine: async () => engine });
    assert.equal(exports(), 5);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('engine image named by its manifest or image index digest (Docker\'s containerd image store): no warning, and known whole from the cache the second time; an id nothing in the export names: warned, not cached', async () => {
  const dir = tmpdir();
  try {
    const s = await spec();
    const files = ociLayout(s, 'none');
    const top = JSON.parse(files.get('index.json')!.toString()) as { manifests: Array<{ digest: string; size: number }> };
    const manifestDigest = top.manifests[0].digest;
    // An image index over that manifest and one for a platform the export does not carry.
    const host = hostPlatform();
    const index = Buffer.from(JSON.stringify({
      schemaVersion: 2, mediaType: 'application/vnd.oci.image.index.v1+json',
      manifests: [
        { mediaType: 'application/vnd.oci.image.manifest.v1+json', digest: 'sha256:' + 'e'.repeat(64), size: 10, platform: { os: 'linux', architecture: host.architecture === 's390x' ? 'ppc64le' : 's390x' } },
        { mediaType: 'application/vnd.oci.image.manifest.v1+json', digest: manifestDigest, size: top.manifests[0].size, platform: { os: host.os, architecture: host.architecture, ...(host.variant ? { variant: host.variant } : {}) } },
      ],
    }));
    const indexDigest = 'sha256:' + createHash('sha256').update(index).digest('hex');
    files.set('blobs/sha256/' + indexDigest.slice(7), index);
    files.set('index.json', Buffer.from(JSON.stringify({ schemaVersion: 2, manifests: [{ mediaType: 'application/vnd.oci.image.index.v1+json', digest: indexDigest, size: index.length }] })));
    const buf = await tarOfFiles(files);
    const probe = await assembleArchive((await readEngineStream(chunks(buf, 4096), [], {})).contents, { kind: 'engine', ref: 'x' });
    for (const [label, id, named] of [['manifest digest', manifestDigest, true], ['index digest', indexDigest, true], ['a digest the export does not name', 'sha256:' + 'a'.repeat(64), false]] as const) {
      const { engine, exports } = countingEngine(buf, probe, id);
      const cache = new LayerIndexCache(path.join(dir, label.replace(/\W+/g, '-')));
      const load = (): Promise<ImageData> => loadImage({ kind: 'engine', name: 'fast:1' }, { cache, engine: async () => engine });
      const cold = await load();
      // Named: the engine's id (what `docker images` shows, what the extension compares with); not named: the config's digest.
      assert.equal(cold.id, named ? id : probe.id, label);
      assert.equal(cold.warnings.some((w) => w.includes('differs from the inspected image')), !named, label);
      const warm = await load();
      assert.equal(exports(), named ? 1 : 2, label);
      // Known whole, not exported: the archive member directories (dive's layer ids) are unknown.
      assert.deepEqual(cold.layerIds, probe.layerIds, label);
      assert.deepEqual(warm.layerIds, named ? undefined : probe.layerIds, label);
      assert.deepEqual({ ...warm, layerIds: undefined, layers: plain(warm) }, { ...cold, layerIds: undefined, layers: plain(cold) }, label);
      if (!named) assert.throws(() => readdirSync(cache.docDir), /ENOENT/, 'nothing stored for an image the export does not name');
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('cache store: layer records and image indexes of an older version are dropped on the first write', async () => {
  const dir = tmpdir();
  try {
    const old = path.join(dir, `layers-v${CODEC_VERSION - 1}`);
    const oldIndexes = path.join(dir, `indexes-v${INDEX_RECORD_VERSION - 1}`);
    const current = path.join(dir, `indexes-v${INDEX_RECORD_VERSION}`);
    for (const d of [old, oldIndexes, current]) {
      mkdirSync(d, { recursive: true });
      writeFileSync(path.join(d, 'x.llix'), 'a record');
    }
    const cache = new LayerIndexCache(dir);
    assert.ok(existsSync(old) && existsSync(oldIndexes), 'reading alone leaves them');
    const layer = await indexLayer([(await spec()).layers[0]], { hash: true });
    cache.put(layer.diffId, layer, { verified: true, head: '', hdr: '', origin: '' });
    assert.ok(!existsSync(old) && !existsSync(oldIndexes));
    assert.ok(existsSync(path.join(current, 'x.llix')), 'the current version stays');
    assert.ok(cache.get(layer.diffId));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
