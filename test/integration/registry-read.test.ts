// `registry://` sources against real registries: Debian's docker-registry (Distribution 2.8) on
// loopback, one open and one behind htpasswd basic auth, images pushed with skopeo from `docker
// save` files of fixtures the engine built (Docker schema 2 with gzip layers, and OCI with zstd
// layers). `analyze --json` layers and history and `files --json` from each registry equal those
// read from the `docker save` file itself; credentials come only from a config.json written as
// `docker login` writes it. `lines` sizes a Dockerfile from the manifest and config alone (no
// layer blob requested); an image index is resolved by --platform; a layer read once is not
// downloaded again. Missing docker-registry, htpasswd or skopeo fails the suite, never skips it.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import * as http from 'node:http';
import * as path from 'node:path';
import { analyzeJson, fileRecords } from '../../src/core/present/report';
import { AnalysisWorkerClient } from '../../src/worker/client';
import * as E from '../support/engine';
import { runCli, type CliRun } from '../support/cliRun';
import { dockerLoginConfig, push, startRegistries, type RegistryPair } from '../support/registry';
import { startRegistryProxy } from '../support/registryProxy';

interface Fixture { name: string; archive: string }

describe('registry sources: docker-registry, open and with basic auth', () => {
  let work = '';
  let pair: RegistryPair;
  let env: NodeJS.ProcessEnv = {};
  const fixtures: Fixture[] = [];
  const cli = (args: string[], extra: NodeJS.ProcessEnv = {}): Promise<CliRun> => runCli(path.join(E.repoRoot(), 'dist', 'cli.js'), args, { ...env, ...extra });
  const json = async (args: string[], extra: NodeJS.ProcessEnv = {}): Promise<{ out: string; err: string }> => {
    const r = await cli(args, extra);
    assert.equal(r.code, 0, `layerlens ${args.join(' ')} failed: ${r.stderr}`);
    return { out: r.stdout.toString(), err: r.stderr };
  };

  before(async () => {
    await E.requireEngine();
    work = await E.tempDir('registry-read');
    pair = await startRegistries(path.join(work, 'registry'));
    for (const name of ['fs-changes', 'wasteful']) {
      const { tag } = await E.buildFixture(name, { builder: 'buildkit' });
      const archive = await E.saveArchive(tag, path.join(work, `${name}.tar`));
      fixtures.push({ name, archive });
      // Docker schema 2, gzip layers (skopeo's default from a docker-archive)…
      await push(archive, pair.open.host, `fixtures/${name}:v2s2`);
      // …and OCI with zstd layers.
      await E.runOk('/usr/bin/skopeo', ['copy', '-q', '--dest-tls-verify=false', '--format', 'oci', '--dest-compress-format', 'zstd',
        `docker-archive:${archive}`, `docker://${pair.open.host}/fixtures/${name}:oci-zstd`], { timeoutMs: 600_000 });
    }
    const home = path.join(work, 'home');
    mkdirSync(home, { recursive: true });
    // Credentials only from config.json, as `docker login 127.0.0.1:PORT` writes it.
    const dockerDir = dockerLoginConfig(path.join(work, 'docker'), { [pair.auth.host]: { user: pair.user, password: pair.password } });
    env = { HOME: home, DOCKER_CONFIG: dockerDir, LAYERLENS_CACHE: 'off' };
  });
  after(async () => {
    await pair?.stop();
    if (work) await rm(work, { recursive: true, force: true });
  });

  for (const registry of ['open', 'auth'] as const) {
    for (const tag of ['v2s2', 'oci-zstd']) {
      it(`analyze --json and files --json from the ${registry} registry (${tag}) equal the docker save file's`, async () => {
        for (const f of fixtures) {
          const src = `registry://${pair[registry].host}/fixtures/${f.name}:${tag}`;
          const fromFile = JSON.parse((await json(['analyze', '--json', f.archive])).out);
          const fromRegistry = JSON.parse((await json(['analyze', '--json', src])).out);
          assert.deepEqual(fromRegistry.layers, fromFile.layers, `${f.name}: layers`);
          assert.deepEqual(fromRegistry.history, fromFile.history, `${f.name}: history`);
          assert.equal(fromRegistry.image.source, src);
          assert.equal(fromRegistry.image.sizeDefinition, 'tar-file-bytes');
          assert.ok(fromRegistry.layers.length >= 2);
          const filesFile = (await json(['files', '--json', f.archive])).out;
          const filesRegistry = (await json(['files', '--json', src])).out;
          assert.ok(filesFile.split('\n').length > 100, `${f.name}: files --json lists the image`);
          assert.equal(filesRegistry, filesFile, `${f.name}: files --json`);
        }
      });
    }
  }

  it('the extension\'s path (analysis worker, its cache): the auth registry\'s image equals the docker save file\'s; the second read takes every layer from the cache', async () => {
    const client = new AnalysisWorkerClient(path.join(E.repoRoot(), 'dist', 'worker.js'));
    try {
      const f = fixtures.find((x) => x.name === 'fs-changes')!;
      const opts = { cacheDir: path.join(work, 'cache-worker'), registry: { dockerConfigDir: env.DOCKER_CONFIG } };
      const src = `registry://${pair.auth.host}/fixtures/${f.name}:v2s2`;
      let partials = 0;
      const first = await client.analyzeWithStats(src, { ...opts, onPartial: () => { partials++; }, partialEveryMs: 0 });
      const second = await client.analyzeWithStats(src, opts);
      const fromFile = JSON.parse((await json(['analyze', '--json', f.archive])).out);
      assert.deepEqual(JSON.parse(JSON.stringify(analyzeJson(first.analysis).layers)), fromFile.layers);
      assert.deepEqual([...fileRecords(first.analysis)], [...fileRecords(second.analysis)]);
      assert.equal(first.stats.cacheHits, 0);
      assert.equal(second.stats.cacheHits, second.analysis.image.layers.length);
      assert.ok(partials >= 1, 'partial results while layers arrive');
    } finally {
      client.dispose();
    }
  });

  it('cat reads one file version from a registry layer', async () => {
    const src = `registry://${pair.auth.host}/fixtures/fs-changes:v2s2`;
    const a = await cli(['cat', src, '/bin/busybox']);
    const b = await cli(['cat', fixtures[0].archive, '/bin/busybox']);
    assert.equal(a.code, 0, a.stderr);
    assert.ok(a.stdout.length > 100_000);
    assert.ok(a.stdout.equals(b.stdout));
  });

  it('the auth registry without credentials, or with wrong ones: one line, exit 2', async () => {
    const src = `registry://${pair.auth.host}/fixtures/wasteful:v2s2`;
    const none = await cli(['analyze', src], { DOCKER_CONFIG: path.join(work, 'no-docker-config') });
    assert.equal(none.code, 2);
    assert.match(none.stderr, /^layerlens: registry 127\.0\.0\.1:\d+: unauthorized to read fixtures\/wasteful: .*docker login 127\.0\.0\.1:\d+\)?\n$/);
    const wrongDir = dockerLoginConfig(path.join(work, 'wrong'), { [pair.auth.host]: { user: pair.user, password: 'not-it' } });
    const wrong = await cli(['analyze', src], { DOCKER_CONFIG: wrongDir });
    assert.equal(wrong.code, 2);
    assert.equal(wrong.stderr.split('\n').length, 2, wrong.stderr);
    assert.match(wrong.stderr, /unauthorized to read fixtures\/wasteful: .*refused.*config\.json/);
  });

  it('a tag, a repository or a digest that is not there: one line, exit 2', async () => {
    for (const [ref, re] of [
      ['fixtures/wasteful:nope', /fixtures\/wasteful:nope not found/],
      ['fixtures/nothing:v2s2', /fixtures\/nothing:v2s2 not found/],
      [`fixtures/wasteful@sha256:${'0'.repeat(64)}`, /not found/],
    ] as const) {
      const r = await cli(['analyze', `registry://${pair.open.host}/${ref}`]);
      assert.equal(r.code, 2, ref);
      assert.match(r.stderr, re);
      assert.equal(r.stderr.trim().split('\n').length, 1, r.stderr);
    }
    const bad = await cli(['analyze', `registry://${pair.open.host}`]);
    assert.equal(bad.code, 2);
    assert.match(bad.stderr, /not a registry reference/);
  });

  it('lines sizes a Dockerfile from the manifest and config alone (no layer blob requested)', async () => {
    const proxy = await startRegistryProxy(pair.open.host);
    try {
      const src = `registry://${proxy.host}/fixtures/wasteful:v2s2`;
      const dockerfile = path.join(E.fixtureDir('wasteful'), 'Dockerfile');
      const r = await json(['lines', dockerfile, '--image', src, '--json']);
      const rows = JSON.parse(r.out) as Array<{ instruction: string; size: number | null; kind: string; layerIndex: number | null }>;
      // The sizes are the manifest's compressed layer sizes.
      const manifest = await getJson(`http://${pair.open.host}/v2/fixtures/wasteful/manifests/v2s2`) as { config: { digest: string }; layers: Array<{ size: number }> };
      const runs = rows.filter((x) => x.instruction === 'RUN');
      assert.equal(runs.length, 5);
      for (const x of runs) {
        assert.equal(x.kind, 'layer');
        assert.equal(x.size, manifest.layers[x.layerIndex!].size);
      }
      assert.equal(rows.find((x) => x.instruction === 'FROM')!.size, manifest.layers[0].size);
      const blobs = proxy.log.filter((q) => q.path.includes('/blobs/'));
      assert.deepEqual(blobs.map((q) => q.path), [`/v2/fixtures/wasteful/blobs/${manifest.config.digest}`], 'only the config blob is read');
    } finally {
      await proxy.close();
    }
  });

  it('an image index: --platform picks the image (default this machine\'s); a platform it lacks is one line', async () => {
    const amd = await manifestOf(pair.open.host, 'fixtures/wasteful', 'v2s2');
    // The second platform's image: the fs-changes manifest, in the same repository.
    await push(fixtures.find((f) => f.name === 'fs-changes')!.archive, pair.open.host, 'fixtures/wasteful:other');
    const other = await manifestOf(pair.open.host, 'fixtures/wasteful', 'other');
    const index = {
      schemaVersion: 2, mediaType: 'application/vnd.docker.distribution.manifest.list.v2+json',
      manifests: [
        { mediaType: amd.type, digest: amd.digest, size: amd.size, platform: { os: 'linux', architecture: 'amd64' } },
        { mediaType: other.type, digest: other.digest, size: other.size, platform: { os: 'linux', architecture: 'arm64', variant: 'v8' } },
      ],
    };
    await putManifest(pair.open.host, 'fixtures/wasteful', 'multi', index.mediaType, Buffer.from(JSON.stringify(index)));
    const src = `registry://${pair.open.host}/fixtures/wasteful:multi`;
    const arm = JSON.parse((await json(['analyze', '--json', '--platform', 'linux/arm64', src])).out);
    const fsChanges = JSON.parse((await json(['analyze', '--json', fixtures.find((f) => f.name === 'fs-changes')!.archive])).out);
    assert.deepEqual(arm.layers, fsChanges.layers);
    const x86 = JSON.parse((await json(['analyze', '--json', '--platform', 'linux/amd64', src])).out);
    const wasteful = JSON.parse((await json(['analyze', '--json', fixtures.find((f) => f.name === 'wasteful')!.archive])).out);
    assert.deepEqual(x86.layers, wasteful.layers);
    if (process.arch === 'x64') assert.deepEqual(JSON.parse((await json(['analyze', '--json', src])).out).layers, wasteful.layers);
    const none = await cli(['analyze', '--platform', 'linux/s390x', src]);
    assert.equal(none.code, 2);
    assert.match(none.stderr, /^layerlens: no image for platform linux\/s390x in the index \(has linux\/amd64, linux\/arm64\/v8\)/);
  });

  it('with the cache, a second analysis downloads no layer blob', async () => {
    const proxy = await startRegistryProxy(pair.open.host);
    try {
      const cacheEnv = { LAYERLENS_CACHE: '', LAYERLENS_CACHE_DIR: path.join(work, 'cache') };
      const src = `registry://${proxy.host}/fixtures/fs-changes:v2s2`;
      const first = await json(['analyze', '--json', src], cacheEnv);
      const blobsFirst = proxy.log.filter((q) => q.path.includes('/blobs/')).length;
      const n = JSON.parse(first.out).layers.length as number;
      assert.equal(blobsFirst, n + 1, 'every layer and the config');
      const second = await json(['analyze', '--json', src], cacheEnv);
      assert.equal(second.out, first.out);
      assert.equal(proxy.log.filter((q) => q.path.includes('/blobs/')).length - blobsFirst, 1, 'only the config again');
    } finally {
      await proxy.close();
    }
  });
});

function getJson(url: string): Promise<unknown> {
  return new Promise((resolve, reject) => {
    http.get(url, { headers: { accept: 'application/vnd.docker.distribution.manifest.v2+json, application/vnd.oci.image.manifest.v1+json' } }, (res) => {
      const parts: Buffer[] = [];
      res.on('data', (c: Buffer) => parts.push(c));
      res.on('end', () => { try { resolve(JSON.parse(Buffer.concat(parts).toString())); } catch (e) { reject(e); } });
    }).on('error', reject);
  });
}

async function manifestOf(host: string, repo: string, tag: string): Promise<{ digest: string; size: number; type: string }> {
  return new Promise((resolve, reject) => {
    http.get(`http://${host}/v2/${repo}/manifests/${tag}`, { headers: { accept: 'application/vnd.docker.distribution.manifest.v2+json, application/vnd.oci.image.manifest.v1+json' } }, (res) => {
      const parts: Buffer[] = [];
      res.on('data', (c: Buffer) => parts.push(c));
      res.on('end', () => resolve({ digest: String(res.headers['docker-content-digest']), size: Buffer.concat(parts).length, type: String(res.headers['content-type']) }));
    }).on('error', reject);
  });
}

function putManifest(host: string, repo: string, tag: string, type: string, body: Buffer): Promise<void> {
  return new Promise((resolve, reject) => {
    const req = http.request(`http://${host}/v2/${repo}/manifests/${tag}`, { method: 'PUT', headers: { 'content-type': type, 'content-length': body.length } }, (res) => {
      res.resume();
      res.on('end', () => (res.statusCode === 201 ? resolve() : reject(new Error(`PUT manifest: ${res.statusCode}`))));
    });
    req.on('error', reject);
    req.end(body);
  });
}
