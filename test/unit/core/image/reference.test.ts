// References resolve exactly or fail: a tag names the `docker save` manifest entry that carries it
// (as a full reference), a ref name or `@N` names an OCI index entry, and only an index of one
// image's platforms may choose (by platform). Anything else is an error listing what the source
// holds, never another image.
import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import { ImageFormatError } from '../../../../src/core/image/errors';
import { resolveOciIndex, digestOf, type Descriptor } from '../../../../src/core/image/oci';
import { ImageChoiceError, fullReference, sameReference } from '../../../../src/core/image/reference';
import { pickManifestEntry } from '../../../../src/core/image/tar/archive';

test('full references: Docker Hub names, registries with ports, tags and digests', () => {
  const cases: Array<[string, string | undefined]> = [
    ['ubuntu', 'docker.io/library/ubuntu:latest'],
    ['ubuntu:22.04', 'docker.io/library/ubuntu:22.04'],
    ['library/ubuntu', 'docker.io/library/ubuntu:latest'],
    ['docker.io/library/ubuntu:22.04', 'docker.io/library/ubuntu:22.04'],
    ['index.docker.io/library/ubuntu', 'docker.io/library/ubuntu:latest'],
    ['bazel/v1/tarball:img', 'docker.io/bazel/v1/tarball:img'],
    ['ghcr.io/org/app:1.0', 'ghcr.io/org/app:1.0'],
    ['localhost:5000/app', 'localhost:5000/app:latest'],
    ['localhost/app:2', 'localhost/app:2'],
    ['app@sha256:' + 'a'.repeat(64), 'docker.io/library/app@sha256:' + 'a'.repeat(64)],
    ['', undefined], ['a//b', undefined], ['app:', undefined],
  ];
  for (const [ref, full] of cases) assert.equal(fullReference(ref), full, ref);
  assert.ok(sameReference('plain', 'docker.io/library/plain:latest'));
  assert.ok(!sameReference('plain', 'plain:1'));
  assert.ok(!sameReference('ghcr.io/org/app:1.0', 'org/app:1.0'));
});

const entry = (tags: string[] | null): { Config: string; RepoTags: string[] | null; Layers: string[] } => ({ Config: 'c.json', RepoTags: tags, Layers: [] });

test('docker save manifest.json: the entry a tag, a full reference or @N names; the only one; else an error listing the tags', () => {
  const m = [entry(['ghcr.io/org/app:1.0']), entry(['bazel/v1/tarball:img']), entry(['plain:latest', 'plain:2']), entry(null)];
  assert.equal(pickManifestEntry(m, 'ghcr.io/org/app:1.0'), m[0]);
  assert.equal(pickManifestEntry(m, 'bazel/v1/tarball:img'), m[1]);
  assert.equal(pickManifestEntry(m, 'docker.io/bazel/v1/tarball:img'), m[1]);
  assert.equal(pickManifestEntry(m, 'plain'), m[2], 'a bare name is name:latest');
  assert.equal(pickManifestEntry(m, 'plain:2'), m[2]);
  assert.equal(pickManifestEntry(m, '@3'), m[3]);
  assert.equal(pickManifestEntry([m[1]], undefined), m[1], 'the only image needs no reference');
  for (const [ref, what] of [['nosuch:tag', /holds no image nosuch:tag/], ['app:1.0', /holds no image app:1\.0/], ['@4', /holds no image @4/], [undefined, /holds 4 images/]] as const) {
    assert.throws(() => pickManifestEntry(m, ref), (e: unknown) => {
      assert.ok(e instanceof ImageChoiceError && e instanceof ImageFormatError && e.code === 'missing');
      assert.match(e.message, what);
      assert.match(e.message, /it holds: ghcr\.io\/org\/app:1\.0, bazel\/v1\/tarball:img, plain:latest, plain:2, @3$/);
      assert.ok(!e.message.includes('\n'));
      return true;
    }, String(ref));
  }
});

/** An OCI index over in-memory blobs: each image a manifest (platform, names), nested indexes allowed. */
function layout(): { blobs: Map<string, Buffer>; put: (doc: unknown) => string } {
  const blobs = new Map<string, Buffer>();
  const put = (doc: unknown): string => {
    const b = Buffer.from(JSON.stringify(doc));
    const d = digestOf(b);
    blobs.set(d, b);
    return d;
  };
  return { blobs, put };
}

function image(put: (doc: unknown) => string, name: string): string {
  return put({ schemaVersion: 2, mediaType: 'application/vnd.oci.image.manifest.v1+json', config: { digest: put({ name }) }, layers: [] });
}

test('OCI index: the image a ref name or @N names; one image\'s platforms chosen by platform; unrelated images need a ref', async () => {
  const { blobs, put } = layout();
  const read = async (d: string): Promise<Buffer> => blobs.get(d) ?? assert.fail(`no blob ${d}`);
  const amd = image(put, 'amd64');
  const arm = image(put, 'arm64');
  const other = image(put, 'other');
  const linux = (architecture: string) => ({ os: 'linux', architecture });
  const config = async (index: { manifests: Descriptor[] }, opts: Parameters<typeof resolveOciIndex>[2]) =>
    JSON.parse((await read((await resolveOciIndex(index, read, opts)).configDigest)).toString()).name as string;
  const named = (digest: string, name: string, platform?: Descriptor['platform']): Descriptor =>
    ({ digest, platform, annotations: { 'org.opencontainers.image.ref.name': name } });
  // One image's platforms, flat: chosen by platform, with or without its name.
  const platforms = { manifests: [named(amd, 'app', linux('amd64')), named(arm, 'app', linux('arm64'))] };
  assert.equal(await config(platforms, { platform: linux('arm64') }), 'arm64');
  assert.equal(await config(platforms, { platform: linux('amd64'), ref: 'app' }), 'amd64');
  await assert.rejects(config(platforms, { platform: linux('s390x') }), /no image for platform linux\/s390x .*has linux\/amd64, linux\/arm64/);
  // Nested: index.json names one image index, which holds the platforms.
  const nested = { manifests: [named(put({ schemaVersion: 2, mediaType: 'application/vnd.oci.image.index.v1+json', manifests: [{ digest: amd, platform: linux('amd64') }, { digest: arm, platform: linux('arm64') }] }), '1.0')] };
  assert.equal(await config(nested, { platform: linux('arm64') }), 'arm64');
  assert.equal(await config(nested, { platform: linux('arm64'), ref: '1.0' }), 'arm64');
  // Unrelated images: a ref (ref name, containerd's full name, @N) or an error listing them.
  const two = { manifests: [named(amd, '5'), { digest: other, annotations: { 'io.containerd.image.name': 'docker.io/library/other:1' } }, { digest: arm, platform: linux('arm64') }] };
  assert.equal(await config(two, { ref: '5' }), 'amd64');
  assert.equal(await config(two, { ref: 'other:1' }), 'other', 'a full reference matches containerd\'s name');
  assert.equal(await config(two, { ref: '@2' }), 'arm64');
  for (const [ref, what] of [[undefined, /lists 3 images/], ['1', /has no image 1;/], ['@7', /has no image @7;/]] as const) {
    await assert.rejects(config(two, { ref, platform: linux('arm64') }), (e: unknown) => {
      assert.ok(e instanceof ImageChoiceError, String(e));
      assert.match((e as Error).message, what);
      assert.match((e as Error).message, /it holds: 5, docker\.io\/library\/other:1, @2 \(linux\/arm64\)$/);
      return true;
    });
  }
  // Platforms that are not one image's (two names, or the same platform twice) are not chosen from.
  await assert.rejects(config({ manifests: [named(amd, 'a', linux('amd64')), named(arm, 'b', linux('arm64'))] }, { platform: linux('arm64') }), ImageChoiceError);
  await assert.rejects(config({ manifests: [{ digest: amd, platform: linux('amd64') }, { digest: other, platform: linux('amd64') }] }, { platform: linux('amd64') }), ImageChoiceError);
  // The same image listed twice (two tags) is one image.
  assert.equal(await config({ manifests: [named(other, 'x'), named(other, 'y')] }, {}), 'other');
});

test('OCI index documents checked against their digests when asked', async () => {
  const { blobs, put } = layout();
  const d = image(put, 'x');
  blobs.set(d, Buffer.from(blobs.get(d)!.toString().replace('"layers":[]', '"layers": []')));
  const read = async (x: string): Promise<Buffer> => blobs.get(x)!;
  await resolveOciIndex({ manifests: [{ digest: d }] }, read, {});
  await assert.rejects(resolveOciIndex({ manifests: [{ digest: d }] }, read, { checkDigests: true }), (e: unknown) =>
    e instanceof ImageFormatError && e.code === 'corrupt' && /does not match its digest/.test(e.message));
});
