// Source strings and the references in them, end to end: `docker-archive:FILE:REF` with full
// references (slashes, registries with ports), `oci:DIR:REF`, `@N`; a reference that names nothing
// in the source, or a source of several images without one, fails with the references it holds.
import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { ImageFormatError } from '../../../src/core/image/errors';
import { ImageChoiceError } from '../../../src/core/image/reference';
import { loadImage, parseSource } from '../../../src/sources/load';
import { configFor, makeTar, ociLayout, sha256, writeLayout, type TEntry } from '../support/tars';
import { withDir } from '../support/tmpdir';

/** A `docker save` of several images, each one layer holding a file named after its first tag. */
async function bundle(images: string[][]): Promise<Buffer> {
  const entries: TEntry[] = [];
  const manifest = [];
  for (const tags of images) {
    const layer = await makeTar([{ name: `f${manifest.length}`, body: tags.join(',') }]);
    const config = configFor({ layers: [layer] });
    const cn = sha256(config).slice(7) + '.json';
    const ln = sha256(layer).slice(7) + '/layer.tar';
    entries.push({ name: ln, body: layer }, { name: cn, body: config });
    manifest.push({ Config: cn, RepoTags: tags, Layers: [ln] });
  }
  entries.push({ name: 'manifest.json', body: JSON.stringify(manifest) });
  return makeTar(entries);
}

test('source strings: the path ends where an existing file or directory does; the rest is the reference', async () => {
  await withDir('refs', async (dir) => {
    const file = path.join(dir, 'b:x.tar');
    fs.writeFileSync(file, 'x');
    fs.mkdirSync(path.join(dir, 'lay:out'));
    fs.writeFileSync(path.join(dir, 'lay:out', 'index.json'), '{}');
    assert.deepEqual(await parseSource(`docker-archive:${file}:ghcr.io/org/app:1.0`), { kind: 'docker-archive', path: file, ref: 'ghcr.io/org/app:1.0' });
    assert.deepEqual(await parseSource(`docker-archive:${file}:bazel/v1/tarball:img`), { kind: 'docker-archive', path: file, ref: 'bazel/v1/tarball:img' });
    assert.deepEqual(await parseSource(`docker-archive:${file}:localhost:5000/app`), { kind: 'docker-archive', path: file, ref: 'localhost:5000/app' });
    assert.deepEqual(await parseSource(`docker-archive:${file}:name`), { kind: 'docker-archive', path: file, ref: 'name' });
    assert.deepEqual(await parseSource(`docker-archive:${file}:@1`), { kind: 'docker-archive', path: file, ref: '@1' });
    assert.deepEqual(await parseSource(`docker-archive:${file}`), { kind: 'docker-archive', path: file });
    assert.deepEqual(await parseSource(`oci:${dir}/lay:out:5`), { kind: 'oci', dir: `${dir}/lay:out`, ref: '5' });
    assert.deepEqual(await parseSource(`oci:${dir}/lay:out:docker.io/library/app:1`), { kind: 'oci', dir: `${dir}/lay:out`, ref: 'docker.io/library/app:1' });
    assert.deepEqual(await parseSource(`oci:${dir}/lay:out`), { kind: 'oci', dir: `${dir}/lay:out` });
    // Nothing on disk: as skopeo reads it, the path ends at the first colon.
    assert.deepEqual(await parseSource('docker-archive:/no/such.tar:app:1'), { kind: 'docker-archive', path: '/no/such.tar', ref: 'app:1' });
  });
});

test('docker-archive: a tag (full reference, bare name, slashes) or @N picks its image; none, or a wrong one, fails listing the tags', async () => {
  await withDir('refs', async (dir) => {
    const file = path.join(dir, 'bundle.tar');
    fs.writeFileSync(file, await bundle([['ghcr.io/org/app:1.0'], ['bazel/v1/tarball:img'], ['plain:latest']]));
    const files = async (source: string): Promise<string[]> => (await loadImage(await parseSource(source))).layers[0].entries.map((e) => e.path);
    assert.deepEqual(await files(`docker-archive:${file}:ghcr.io/org/app:1.0`), ['/f0']);
    assert.deepEqual(await files(`docker-archive:${file}:bazel/v1/tarball:img`), ['/f1']);
    assert.deepEqual(await files(`docker-archive:${file}:plain`), ['/f2']);
    assert.deepEqual(await files(`docker-archive:${file}:docker.io/library/plain:latest`), ['/f2']);
    assert.deepEqual(await files(`docker-archive:${file}:@1`), ['/f1']);
    for (const source of [`docker-archive:${file}:nosuch:tag`, `docker-archive:${file}`, file, `docker-archive:${file}:app:1.0`]) {
      await assert.rejects(files(source), (e: unknown) => {
        assert.ok(e instanceof ImageChoiceError, `${source}: ${String(e)}`);
        assert.match((e as Error).message, /it holds: ghcr\.io\/org\/app:1\.0, bazel\/v1\/tarball:img, plain:latest$/, source);
        return true;
      });
    }
    // A manifest.json that holds null is a wrong manifest, not a missing one.
    const nul = path.join(dir, 'null.tar');
    fs.writeFileSync(nul, await makeTar([{ name: 'manifest.json', body: 'null' }]));
    await assert.rejects(loadImage({ kind: 'docker-archive', path: nul }), (e: unknown) =>
      e instanceof ImageFormatError && e.code === 'corrupt' && /manifest\.json is not a list of images/.test(e.message));
  });
});

test('OCI layout: a ref that names nothing, or several unrelated images without a ref, fail listing the refs', async () => {
  await withDir('refs', async (dir) => {
    // Two images in one layout: each ociLayout's blobs, and both entries in index.json.
    const a = ociLayout({ layers: [await makeTar([{ name: 'a', body: 'A' }])], tag: '1' }, 'gzip');
    const b = ociLayout({ layers: [await makeTar([{ name: 'b', body: 'B' }])], tag: '2' }, 'none');
    const index = JSON.parse(a.get('index.json')!.toString());
    index.manifests.push(...JSON.parse(b.get('index.json')!.toString()).manifests);
    writeLayout(dir, new Map([...a, ...b, ['index.json', Buffer.from(JSON.stringify(index))]]));
    const files = async (source: string): Promise<string[]> => (await loadImage(await parseSource(source))).layers[0].entries.map((e) => e.path);
    assert.deepEqual(await files(`oci:${dir}:1`), ['/a']);
    assert.deepEqual(await files(`oci:${dir}:2`), ['/b']);
    assert.deepEqual(await files(`oci:${dir}:@1`), ['/b']);
    for (const source of [`oci:${dir}:5`, `oci:${dir}`, dir]) {
      await assert.rejects(files(source), (e: unknown) => {
        assert.ok(e instanceof ImageChoiceError, `${source}: ${String(e)}`);
        assert.match((e as Error).message, /it holds: 1, 2$/, source);
        return true;
      });
    }
  });
});
