// go-containerregistry's own test data (test/fixtures/ggcr, Apache-2.0, see its README), read
// through the image sources: what ggcr's Go tests assert on each file, asserted here on what
// layerlens reads. Each test names the ggcr test it follows (paths in google/go-containerregistry
// at 3f4ff3c). Expected digests are ggcr's constants; everything else is computed from the fixture
// bytes at run time (a member's sha256, a config's digest), never written down here.
//
// What ggcr tests that Layer Lens does not model, and so is not asserted: writing and compressing
// layers (the digests of gzip levels and zstd in layer_test.go), garbage collection of a layout
// (gc_test.go's removed blobs), an image index as an object of its own (index_test.go's
// ImageIndex(h) and media types: a source names an image, and an index is resolved to the image
// for the platform), and artifacts that are no container image (a Helm chart is refused).
import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as http from 'node:http';
import type { AddressInfo } from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import { gunzipSync, gzipSync } from 'node:zlib';
import * as tarStream from 'tar-stream';
import { repoRoot } from '../../support/repo';
import { analyze } from '../../../src/core/image/analysis';
import { ImageFormatError } from '../../../src/core/image/errors';
import { ImageChoiceError, sameReference } from '../../../src/core/image/reference';
import type { ImageData } from '../../../src/core/image/types';
import { loadImage, openImageSource, type SourceSpec } from '../../../src/sources/load';
import { RegistryClient } from '../../../src/sources/registry/client';
import { parseRegistryRef } from '../../../src/sources/registry/reference';
import { makeTar, zstd, type TEntry } from '../support/tars';
import { withDir } from '../support/tmpdir';

const GGCR = path.join(repoRoot(), 'test', 'fixtures', 'ggcr');
const tarball = (f: string): string => path.join(GGCR, 'tarball', f);
const mutate = (f: string): string => path.join(GGCR, 'mutate', f);
const layout = (d: string): string => path.join(GGCR, 'layout', d);

const archive = (p: string, ref?: string): SourceSpec => (ref === undefined ? { kind: 'docker-archive', path: p } : { kind: 'docker-archive', path: p, ref });
const oci = (d: string, ref?: string): SourceSpec => (ref === undefined ? { kind: 'oci', dir: layout(d) } : { kind: 'oci', dir: layout(d), ref });

// pkg/v1/layout/image_test.go
const indexDigest = 'sha256:05f95b26ed10668b7183c1e2da98610e91372fa9f510046d4ce5812addad86b5';
const manifestDigest = 'sha256:eebff607b1628d67459b0596643fc07de70d702eccf030f0bc7bb6fc2b278650';
const configDigest = 'sha256:6e0b05049ed9c17d02e1a55e80d6599dbfcce7f4f4b022e3c673e685789c470e';
const bogusDigest = 'sha256:deadbeefdeadbeefdeadbeefdeadbeefdeadbeefdeadbeefdeadbeefdeadbeef';
const customManifestDigest = 'sha256:b544f71ecd82372bc9a3c0dbef378abfd2734fe437df81ff6e242a0d720d8e3e';
// pkg/v1/layout/index_test.go (TestIndex: the nested Docker manifest list)
const manifestListDigest = 'sha256:2b29a2b8dea3af91ea7d0154be1da0c92d55ddd098540930fc8d3db7de377fdb';
// pkg/v1/layout/gc_test.go
const gcUnknownMediaType = 'application/vnd.oci.descriptor.v1+json';
// pkg/v1/tarball/image_test.go (TestLayerLink)
const linkedDiffId = 'sha256:8897395fd26dc44ad0e2a834335b33198cb41ac4d98dfddf58eced3853fa7b17';

const sha256 = (b: Buffer): string => 'sha256:' + createHash('sha256').update(b).digest('hex');

/** The members of a tar file (regular files and links), read with tar-stream: not the product's tar reader. */
async function members(file: string): Promise<Map<string, { body: Buffer; linkname?: string; type: string }>> {
  const out = new Map<string, { body: Buffer; linkname?: string; type: string }>();
  const ex = tarStream.extract();
  const done = new Promise<void>((resolve, reject) => {
    ex.on('entry', (h, stream, next) => {
      const parts: Buffer[] = [];
      stream.on('data', (c: unknown) => parts.push(c as Buffer));
      stream.on('end', () => {
        out.set(h.name.replace(/^\.\//, ''), { body: Buffer.concat(parts), linkname: h.linkname ?? undefined, type: h.type ?? 'file' });
        next();
      });
      stream.resume();
    });
    ex.on('finish', resolve);
    ex.on('error', reject);
  });
  ex.end(fs.readFileSync(file));
  await done;
  return out;
}

interface SaveEntry { Config: string; RepoTags?: string[]; Layers: string[] }

/** What ggcr's validate.Image checks, from the fixture's own bytes: config digest, each layer's diffID. */
async function validateArchive(file: string, image: ImageData, entry: SaveEntry): Promise<void> {
  const m = await members(file);
  const body = (name: string): Buffer => {
    let n = name;
    for (let i = 0; i < 8 && m.get(n)?.linkname; i++) n = path.posix.normalize(path.posix.join(path.posix.dirname(n), m.get(n)!.linkname!));
    const b = m.get(n)?.body;
    assert.ok(b, `${file} holds ${name}`);
    return b;
  };
  assert.equal(image.id, sha256(body(entry.Config)), 'the image id is the config digest');
  const cfg = JSON.parse(body(entry.Config).toString()) as { rootfs: { diff_ids: string[] } };
  assert.deepEqual(image.diffIds, cfg.rootfs.diff_ids);
  assert.equal(image.layers.length, entry.Layers.length);
  entry.Layers.forEach((l, i) => {
    const b = body(l);
    const tar = b[0] === 0x1f && b[1] === 0x8b ? gunzipSync(b) : b;
    assert.equal(sha256(tar), image.diffIds[i], `layer ${i}: its tar hashes to the diff_id`);
    assert.equal(image.layers[i].diffId, image.diffIds[i]);
  });
}

async function manifestOf(file: string): Promise<SaveEntry[]> {
  return JSON.parse((await members(file)).get('manifest.json')!.body.toString()) as SaveEntry[];
}

async function rejects(spec: SourceSpec, check: (e: ImageFormatError) => void): Promise<ImageFormatError> {
  let err: unknown;
  try {
    await loadImage(spec);
  } catch (e) {
    err = e;
  }
  assert.ok(err instanceof ImageFormatError, `${JSON.stringify(spec)} must fail with an image format error, got ${String(err)}`);
  assert.doesNotMatch(err.message, /\n/, 'one line');
  check(err);
  return err;
}

async function writeTar(dir: string, name: string, entries: TEntry[]): Promise<string> {
  const p = path.join(dir, name);
  fs.writeFileSync(p, await makeTar(entries));
  return p;
}

/** Paths of the merged filesystem's live nodes. */
function livePaths(image: ImageData): string[] {
  const a = analyze(image);
  const out: string[] = [];
  for (const [p, n] of a.tree.walk()) if (n.live) out.push(p);
  return out;
}

// --- pkg/v1/tarball/image_test.go -------------------------------------------------------------

test('ggcr TestManifestAndConfig: test_image_1.tar has 1 layer and 1 history entry, and validates', async () => {
  const file = tarball('test_image_1.tar');
  const image = await loadImage(archive(file));
  assert.equal(image.layers.length, 1);
  assert.equal(image.history.length, 1);
  await validateArchive(file, image, (await manifestOf(file))[0]);
  assert.equal(image.id, configDigest);
});

test('ggcr TestNullManifest, TestNoManifest: a manifest.json of null, and an archive without one, fail', async () => {
  await rejects(archive(tarball('null_manifest.tar')), (e) => {
    assert.equal(e.code, 'corrupt');
    assert.match(e.message, /manifest\.json is not a list of images/);
  });
  await rejects(archive(tarball('no_manifest.tar')), (e) => assert.match(e.message, /no manifest\.json or index\.json/));
});

test('ggcr TestBundleSingle: test_bundle.tar holds two images, and no reference names none of them', async () => {
  const e = await rejects(archive(tarball('test_bundle.tar')), () => undefined);
  assert.ok(e instanceof ImageChoiceError);
  const tags = (await manifestOf(tarball('test_bundle.tar'))).flatMap((x) => x.RepoTags ?? []);
  assert.equal(tags.length, 2);
  assert.deepEqual([...e.held].sort(), [...tags].sort());
});

test('ggcr TestBundleMultiple: each tag, bare, with :latest or in full, selects the image that carries it', async () => {
  const file = tarball('test_bundle.tar');
  const manifest = await manifestOf(file);
  for (const name of ['test_image_1', 'test_image_2', 'test_image_1:latest', 'test_image_2:latest', 'index.docker.io/library/test_image_1:latest']) {
    const image = await loadImage(archive(file, name));
    const entry = manifest.find((x) => (x.RepoTags ?? []).some((t) => sameReference(t, name)));
    assert.ok(entry, `the bundle's manifest.json names ${name}`);
    assert.ok(image.repoTags.some((t) => sameReference(t, name)), `${name}: got ${image.repoTags.join(', ')}`);
    await validateArchive(file, image, entry);
  }
  const ids = await Promise.all(['test_image_1', 'test_image_2'].map(async (n) => (await loadImage(archive(file, n))).id));
  assert.notEqual(ids[0], ids[1], 'two images, not one');
});

test('ggcr TestLayerLink: test_link.tar\'s test_image_3 reads its linked layer by diffID, not the link', async () => {
  const file = tarball('test_link.tar');
  const m = await members(file);
  const entry = (await manifestOf(file)).find((x) => x.RepoTags?.includes('bazel/v1/tarball:test_image_3'))!;
  assert.ok(m.get(entry.Layers[0])?.linkname, 'the fixture\'s first layer of test_image_3 is a link');
  const spec = archive(file, 'bazel/v1/tarball:test_image_3');
  const image = await loadImage(spec);
  await validateArchive(file, image, entry);
  assert.ok(image.diffIds.includes(linkedDiffId));
  const chunks: Buffer[] = [];
  for await (const c of await openImageSource(spec).openLayer(linkedDiffId)) chunks.push(c);
  const bytes = Buffer.concat(chunks);
  assert.ok(bytes.length > 0, 'the layer, not a link file');
  assert.equal(sha256(bytes), linkedDiffId);
});

test('ggcr TestSymlinkCycle: manifest.json and config.json linking to each other is a link cycle', async () => {
  await withDir('ggcr', async (dir) => {
    const file = await writeTar(dir, 'cycle.tar', [
      { name: 'manifest.json', type: 'symlink', linkname: 'config.json' },
      { name: 'config.json', type: 'symlink', linkname: 'manifest.json' },
    ]);
    await rejects(archive(file), (e) => assert.match(e.message, /link cycle/));
  });
});

test('ggcr TestLoadManifest: test_load_manifest.tar\'s manifest lists an image, which loads', async () => {
  const file = tarball('test_load_manifest.tar');
  const manifest = await manifestOf(file);
  assert.ok(manifest.length > 0);
  const image = await loadImage(archive(file));
  await validateArchive(file, image, manifest[0]);
});

test('ggcr TestDocker25: hello-world-v25.tar (manifest.json and an OCI index, layers as blobs) validates', async () => {
  const file = tarball('hello-world-v25.tar');
  const image = await loadImage(archive(file));
  await validateArchive(file, image, (await manifestOf(file))[0]);
});

test('ggcr TestManifestEmptyDiffIDs, TestLayerByDiffIDMoreDiffIDsThanLayers: diff_ids and layers that differ in number fail naming diff_ids', async () => {
  await withDir('ggcr', async (dir) => {
    const noIds = await writeTar(dir, 'empty-ids.tar', [
      { name: 'config.json', body: '{"architecture":"amd64","os":"linux","rootfs":{"type":"layers","diff_ids":[]}}' },
      { name: 'layer.tar.gz', body: gzipSync(Buffer.from('not-really-a-layer')) },
      { name: 'manifest.json', body: '[{"Config":"config.json","RepoTags":["foo:latest"],"Layers":["layer.tar.gz"]}]' },
    ]);
    await rejects(archive(noIds), (e) => assert.match(e.message, /diff_ids/));
    const moreIds = await writeTar(dir, 'more-ids.tar', [
      { name: 'config.json', body: `{"architecture":"amd64","os":"linux","rootfs":{"type":"layers","diff_ids":["sha256:${'0'.repeat(64)}"]}}` },
      { name: 'manifest.json', body: '[{"Config":"config.json","RepoTags":["foo:latest"],"Layers":[]}]' },
    ]);
    await rejects(archive(moreIds), (e) => assert.match(e.message, /diff_id/));
  });
});

test('ggcr TestLoadManifestPrefixPath: ./manifest.json is the manifest (here an empty list: no image)', async () => {
  await withDir('ggcr', async (dir) => {
    const file = await writeTar(dir, 'prefix.tar', [{ name: './manifest.json', body: '[]' }]);
    await rejects(archive(file), (e) => assert.match(e.message, /manifest\.json lists no image/));
  });
});

// --- pkg/v1/tarball/layer_test.go -------------------------------------------------------------

test('ggcr TestLayerFromFile: content.tar plain, gzip and zstd is one layer: same diffID, same files', async () => {
  const content = fs.readFileSync(tarball('content.tar'));
  const diffId = sha256(content);
  await withDir('ggcr', async (dir) => {
    const seen: Array<{ diffId: string; paths: string[] }> = [];
    for (const [label, blob] of [['plain', content], ['gzip', gzipSync(content)], ['zstd', zstd(content)]] as const) {
      const config = Buffer.from(JSON.stringify({ architecture: 'amd64', os: 'linux', rootfs: { type: 'layers', diff_ids: [diffId] } }));
      const file = await writeTar(dir, `${label}.tar`, [
        { name: 'layer', body: blob }, { name: 'config.json', body: config },
        { name: 'manifest.json', body: JSON.stringify([{ Config: 'config.json', RepoTags: [`content:${label}`], Layers: ['layer'] }]) },
      ]);
      const image = await loadImage(archive(file));
      assert.equal(image.layers[0].compression, label === 'plain' ? 'none' : label);
      seen.push({ diffId: image.layers[0].diffId, paths: image.layers[0].entries.map((e) => e.path) });
    }
    assert.deepEqual(seen[0], { diffId, paths: ['/bat', '/baz'] });
    assert.deepEqual(seen[1], seen[0]);
    assert.deepEqual(seen[2], seen[0]);
  });
});

// --- pkg/v1/mutate/mutate_test.go -------------------------------------------------------------

test('ggcr TestExtractWhiteout: whiteout_image.tar\'s final filesystem has no foo.txt', async () => {
  const image = await loadImage(archive(mutate('whiteout_image.tar')));
  assert.ok(image.layers.some((l) => l.whiteouts.includes('/foo.txt')), 'a layer whites out /foo.txt');
  const live = livePaths(image);
  assert.ok(!live.some((p) => path.posix.basename(p) === 'foo.txt'), live.join(' '));
  assert.ok(live.includes('/bar.txt'));
});

test('ggcr TestExtractWhiteoutDir: whiteout_dir.tar\'s final filesystem has no file named foo', async () => {
  const image = await loadImage(archive(mutate('whiteout_dir.tar')));
  assert.ok(image.layers.some((l) => l.entries.some((e) => e.path === '/a/foo')), 'a lower layer ships /a/foo');
  const live = livePaths(image);
  assert.ok(!live.some((p) => path.posix.basename(p) === 'foo'), live.join(' '));
  // What the layers above the whiteout of /a add is there.
  assert.ok(live.includes('/a/baz') && live.includes('/b/bar'), live.join(' '));
});

test('ggcr TestExtractOverwrittenFile: overwritten_file.tar\'s foo.txt no longer holds "foo"', async () => {
  const spec = archive(mutate('overwritten_file.tar'));
  const image = await loadImage(spec);
  const node = analyze(image).tree.lookup('/foo.txt');
  assert.ok(node?.live);
  assert.ok(node.copies.length >= 2, 'a lower copy is hidden');
  const lower = await openImageSource(spec).readFile(image.diffIds[node.copies[0].layer], '/foo.txt');
  assert.match(lower.data.toString(), /foo/, 'the lower copy held "foo"');
  const visible = await openImageSource(spec).readFile(image.diffIds[node.layer], '/foo.txt');
  assert.doesNotMatch(visible.data.toString(), /foo/);
});

test('ggcr TestMutateTime: source_image_with_empty_layer_history.tar\'s empty_layer entries make no layer', async () => {
  const file = mutate('source_image_with_empty_layer_history.tar');
  const m = await members(file);
  const entry = (await manifestOf(file))[0];
  const cfg = JSON.parse(m.get(entry.Config)!.body.toString()) as { history: Array<{ created_by: string; empty_layer?: boolean }> };
  const image = await loadImage(archive(file));
  await validateArchive(file, image, entry);
  assert.equal(image.history.length, cfg.history.length);
  const made = cfg.history.filter((h) => !h.empty_layer);
  assert.equal(made.length, image.layers.length);
  assert.deepEqual(image.history.filter((h) => h.layerIndex !== null).map((h) => h.createdBy), made.map((h) => h.created_by));
});

test('ggcr TestExtractVerifiesLayerDigest: a config diff_id that does not match its layer fails, a matching one reads', async () => {
  await withDir('ggcr', async (dir) => {
    const layer = await makeTar([{ name: 'app/hello.txt', body: 'hello world' }]);
    const good = sha256(layer);
    const bad = 'sha256:' + '00'.repeat(32);
    assert.notEqual(good, bad);
    const save = (diffId: string): Promise<string> => writeTar(dir, `${diffId.slice(7, 15)}.tar`, [
      { name: 'l/layer.tar', body: layer },
      { name: 'config.json', body: JSON.stringify({ architecture: 'amd64', os: 'linux', rootfs: { type: 'layers', diff_ids: [diffId] } }) },
      { name: 'manifest.json', body: JSON.stringify([{ Config: 'config.json', RepoTags: ['hello:1'], Layers: ['l/layer.tar'] }]) },
    ]);
    const badFile = await save(bad);
    await rejects(archive(badFile), (e) => {
      assert.equal(e.code, 'corrupt');
      assert.match(e.message, /layer 0 \(l\/layer\.tar\)/);
      assert.ok(e.message.includes(good.slice(7, 19)) || e.message.includes(bad), e.message);
    });
    // The file reader refuses it too.
    await assert.rejects(openImageSource(archive(badFile)).readFile(bad, '/app/hello.txt'), /layer 0/);
    const image = await loadImage(archive(await save(good)));
    assert.deepEqual(image.layers[0].entries.map((e) => e.path), ['/app/hello.txt']);
  });
});

test('a ggcr bundle whose manifest gives one image the other\'s layer fails on the diff_id', async () => {
  // test_bundle.tar as it is, but for manifest.json: test_image_1's config with test_image_2's layer.
  const file = tarball('test_bundle.tar');
  const m = await members(file);
  const manifest = await manifestOf(file);
  const [one, two] = ['test_image_1', 'test_image_2'].map((t) => manifest.find((x) => x.RepoTags?.includes(t))!);
  assert.notEqual(one.Layers[0], two.Layers[0]);
  await withDir('ggcr', async (dir) => {
    const swapped = [{ ...one, Layers: two.Layers }];
    const entries: TEntry[] = [...m].filter(([n]) => n !== 'manifest.json').map(([name, e]) => ({ name, body: e.body }));
    entries.push({ name: 'manifest.json', body: JSON.stringify(swapped) });
    const out = await writeTar(dir, 'swapped.tar', entries);
    await rejects(archive(out), (e) => {
      assert.equal(e.code, 'corrupt');
      assert.ok(e.message.includes(two.Layers[0]), e.message);
    });
  });
});

// --- pkg/v1/layout/image_test.go, index_test.go, gc_test.go ------------------------------------

test('ggcr TestImage: test_index\'s image by manifest digest validates, its config is configDigest, its layer gzip', async () => {
  const image = await loadImage(oci('test_index', manifestDigest));
  assert.equal(image.id, configDigest);
  const dir = layout('test_index');
  const blob = (d: string): Buffer => fs.readFileSync(path.join(dir, 'blobs', 'sha256', d.slice(7)));
  const manifest = JSON.parse(blob(manifestDigest).toString()) as { config: { digest: string }; layers: Array<{ digest: string }> };
  assert.equal(manifest.config.digest, configDigest);
  assert.equal(image.layers.length, manifest.layers.length);
  manifest.layers.forEach((l, i) => {
    assert.equal(sha256(blob(l.digest)), l.digest);
    assert.equal(sha256(gunzipSync(blob(l.digest))), image.diffIds[i]);
    // The fixture's layer is a DockerLayer (tar.gzip).
    assert.equal(image.layers[i].compression, 'gzip');
  });
});

test('ggcr TestImageWithEmptyHash: test_index_one_image\'s only image loads without a reference', async () => {
  const image = await loadImage(oci('test_index_one_image'));
  assert.equal(image.layers.length, 1);
  assert.equal(image.layers[0].diffId, image.diffIds[0]);
});

test('ggcr TestImageErrors: a bogus digest names no image; a bogus path is no layout', async () => {
  const e = await rejects(oci('test_index', bogusDigest), () => undefined);
  assert.ok(e instanceof ImageChoiceError);
  await rejects({ kind: 'oci', dir: layout('does_not_exist') }, (x) => assert.equal(x.code, 'missing'));
});

test('ggcr TestImageCustomMediaType: a Helm chart (test_index_media_type) is refused with one line', async () => {
  await rejects(oci('test_index_media_type', customManifestDigest), (e) => {
    assert.equal(e.code, 'unsupported');
    assert.match(e.message, /Helm chart/);
    assert.ok(e.message.includes(customManifestDigest));
  });
  await rejects(oci('test_index_media_type'), (e) => assert.match(e.message, /Helm chart/));
});

test('ggcr TestImageCustomMediaType: the same Helm chart served by a registry is refused with one line', async () => {
  const manifest = fs.readFileSync(path.join(layout('test_index_media_type'), 'blobs', 'sha256', customManifestDigest.slice(7)));
  const server = http.createServer((req, res) => {
    if (req.url === '/v2/') {
      res.end('{}');
    } else if (req.url === '/v2/charts/demo/manifests/1.0.0' || req.url === `/v2/charts/demo/manifests/${customManifestDigest}`) {
      res.writeHead(200, { 'content-type': 'application/vnd.oci.image.manifest.v1+json', 'docker-content-digest': customManifestDigest });
      res.end(manifest);
    } else {
      res.writeHead(404).end();
    }
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  const host = `127.0.0.1:${(server.address() as AddressInfo).port}`;
  const client = new RegistryClient(parseRegistryRef(`registry://${host}/charts/demo:1.0.0`), { dockerConfigDir: path.join(os.tmpdir(), 'layerlens-ggcr-no-config') });
  try {
    await assert.rejects(client.resolve(undefined), (e: unknown) => {
      assert.ok(e instanceof ImageFormatError, String(e));
      assert.equal(e.code, 'unsupported');
      assert.match(e.message, /Helm chart/);
      assert.ok(e.message.includes(customManifestDigest));
      assert.doesNotMatch(e.message, /\n/);
      return true;
    });
  } finally {
    client.close();
    server.closeAllConnections();
    await new Promise<void>((r) => server.close(() => r()));
  }
});

test('ggcr TestIndex: every image of test_index validates, through nested OCI and Docker indexes', async () => {
  const index = JSON.parse(fs.readFileSync(path.join(layout('test_index'), 'index.json'), 'utf8')) as { manifests: Array<{ digest: string; mediaType: string }> };
  for (const d of index.manifests) {
    if (d.mediaType === gcUnknownMediaType) continue; // below
    for (const ref of [d.digest, '@' + d.digest]) {
      const image = await loadImage(oci('test_index', ref));
      assert.equal(image.id, configDigest, `${ref} (${d.mediaType})`);
    }
  }
  assert.ok(index.manifests.some((d) => d.digest === indexDigest) && index.manifests.some((d) => d.digest === manifestListDigest));
  // Without a reference: several images, listed by their ref names.
  const e = await rejects(oci('test_index'), () => undefined);
  assert.ok(e instanceof ImageChoiceError);
  assert.deepEqual(e.held, ['1', '2', '3', '4']);
});

test('ggcr TestGcUnknownMediaType, TestIndex: an entry of media type application/vnd.oci.descriptor.v1+json is refused with one line', async () => {
  for (const spec of [oci('test_gc_image_unknown_mediatype'), oci('test_index', '2')]) {
    await rejects(spec, (e) => {
      assert.equal(e.code, 'unsupported');
      assert.ok(e.message.includes(gcUnknownMediaType), e.message);
    });
  }
});

test('ggcr TestGcIndex, TestGcOneImage: the images of test_gc_index and test_index_one_image read', async () => {
  for (const ref of ['1', '3', '4']) assert.equal((await loadImage(oci('test_gc_index', ref))).id, configDigest);
  assert.equal((await loadImage(oci('test_index_one_image'))).layers.length, 1);
});
