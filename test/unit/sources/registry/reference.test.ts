// registry:// references: host always first, tag or digest (or both: the digest wins), Docker Hub's
// names, loopback hosts, and one clear error for anything malformed.
import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import { formatRegistryRef, isLoopback, manifestRef, parseRegistryRef } from '../../../../src/sources/registry/reference';
import { parseSource } from '../../../../src/sources/load';

const D = 'sha256:' + 'ab'.repeat(32);

test('host, repository, tag and digest', () => {
  assert.deepEqual(parseRegistryRef('registry://127.0.0.1:5000/team/app:1.0'), { host: '127.0.0.1:5000', apiHost: '127.0.0.1:5000', repo: 'team/app', tag: '1.0', digest: undefined });
  assert.equal(parseRegistryRef('registry://localhost:5000/app').tag, 'latest');
  const both = parseRegistryRef(`registry://ghcr.io/org/app:v2@${D}`);
  assert.equal(both.tag, 'v2');
  assert.equal(both.digest, D);
  assert.equal(manifestRef(both), D);
  const byDigest = parseRegistryRef(`registry://ghcr.io/org/app@${D}`);
  assert.equal(byDigest.tag, undefined);
  assert.equal(formatRegistryRef(byDigest), `registry://ghcr.io/org/app@${D}`);
  assert.equal(parseRegistryRef('registry://Registry.Example.com:443/a/b/c:x').host, 'registry.example.com:443');
  assert.equal(parseRegistryRef('registry://[::1]:5000/app:1').host, '[::1]:5000');
});

test('Docker Hub: docker.io names library/ images and is reached at registry-1.docker.io', () => {
  const r = parseRegistryRef('registry://docker.io/alpine:3.20');
  assert.equal(r.repo, 'library/alpine');
  assert.equal(r.apiHost, 'registry-1.docker.io');
  assert.equal(r.host, 'docker.io');
  assert.equal(parseRegistryRef('registry://index.docker.io/org/x').repo, 'org/x');
});

test('malformed references are one error each', async () => {
  for (const s of ['registry://', 'registry://host', 'registry:///app', 'registry://host/App', 'registry://host/app:', 'registry://host/app@sha256:12',
    'registry://host/app:bad tag', 'registry://ho st/app', 'registry://host//app']) {
    assert.throws(() => parseRegistryRef(s), /is not a registry reference .*write registry:\/\/HOST\[:PORT\]\/REPO/, s);
    await assert.rejects(parseSource(s), /is not a registry reference/, s);
  }
  assert.deepEqual(await parseSource('registry://h:1/a:b'), { kind: 'registry', ref: 'registry://h:1/a:b' });
});

test('loopback hosts', () => {
  for (const h of ['localhost', 'localhost:5000', '127.0.0.1:5000', '127.1.2.3', '[::1]:5000']) assert.ok(isLoopback(h), h);
  for (const h of ['10.0.0.1:5000', 'registry.local', 'localhost.example.com', '128.0.0.1']) assert.ok(!isLoopback(h), h);
});

test('a FROM image name as docker reads it', async () => {
  const { registryRefOfImageName } = await import('../../../../src/sources/registry/reference');
  assert.equal(registryRefOfImageName('alpine:3.20'), 'registry://docker.io/alpine:3.20');
  assert.equal(parseRegistryRef(registryRefOfImageName('alpine')!).repo, 'library/alpine');
  assert.equal(registryRefOfImageName('org/app'), 'registry://docker.io/org/app');
  assert.equal(registryRefOfImageName('ghcr.io/org/app:1'), 'registry://ghcr.io/org/app:1');
  assert.equal(registryRefOfImageName('localhost/app'), 'registry://localhost/app');
  assert.equal(registryRefOfImageName('127.0.0.1:5000/app@' + D), `registry://127.0.0.1:5000/app@${D}`);
  for (const n of ['scratch', '$BASE', 'Upper/Case', '']) assert.equal(registryRefOfImageName(n), undefined, n);
});
