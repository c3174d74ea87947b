// `registry://` sources through a test proxy in front of a real docker-registry (open), for what
// Distribution itself does not do: the bearer-token flow (401, then a token from the challenge's
// realm, anonymously or with config.json's credentials; tokens refused after a few uses and
// fetched again), 429 with Retry-After, 503, a connection dropped in the middle of a blob (resumed
// with Range, also from a server that ignores Range), and a blob whose bytes do not match its
// digest. Every successful read equals the `docker save` file's analysis.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import * as http from 'node:http';
import * as path from 'node:path';
import * as E from '../support/engine';
import { runCli, type CliRun } from '../support/cliRun';
import { dockerLoginConfig, push, startRegistries, type RegistryPair } from '../support/registry';
import { startRegistryProxy, type RegistryProxy, type TokenAuth } from '../support/registryProxy';

describe('registry sources: token flow and faults (a proxy in front of docker-registry)', () => {
  let work = '';
  let pair: RegistryPair;
  let env: NodeJS.ProcessEnv = {};
  let expectedLayers: unknown;
  /** The image's layer blobs, largest first. */
  let blobs: Array<{ digest: string; size: number }> = [];
  const proxies: RegistryProxy[] = [];
  const cli = (args: string[], extra: NodeJS.ProcessEnv = {}): Promise<CliRun> => runCli(path.join(E.repoRoot(), 'dist', 'cli.js'), args, { ...env, ...extra });
  const proxy = async (token?: TokenAuth): Promise<RegistryProxy> => {
    const p = await startRegistryProxy(pair.open.host, { token });
    proxies.push(p);
    return p;
  };
  const src = (p: RegistryProxy): string => `registry://${p.host}/faults/wasteful:1`;
  /** analyze --json through the proxy: exit 0 and the archive's layers. */
  const analyzeOk = async (p: RegistryProxy, extra: NodeJS.ProcessEnv = {}): Promise<void> => {
    const r = await cli(['analyze', '--json', src(p)], extra);
    assert.equal(r.code, 0, r.stderr);
    assert.deepEqual(JSON.parse(r.stdout.toString()).layers, expectedLayers);
  };

  before(async () => {
    await E.requireEngine();
    work = await E.tempDir('registry-faults');
    pair = await startRegistries(path.join(work, 'registry'));
    const { tag } = await E.buildFixture('wasteful', { builder: 'buildkit' });
    const archive = await E.saveArchive(tag, path.join(work, 'wasteful.tar'));
    await push(archive, pair.open.host, 'faults/wasteful:1');
    const home = path.join(work, 'home');
    mkdirSync(home, { recursive: true });
    env = { HOME: home, DOCKER_CONFIG: path.join(work, 'no-config'), LAYERLENS_CACHE: 'off' };
    const a = await cli(['analyze', '--json', archive]);
    assert.equal(a.code, 0, a.stderr);
    expectedLayers = JSON.parse(a.stdout.toString()).layers;
    const manifest = await new Promise<{ layers: Array<{ digest: string; size: number }> }>((resolve, reject) => {
      http.get(`http://${pair.open.host}/v2/faults/wasteful/manifests/1`, { headers: { accept: 'application/vnd.docker.distribution.manifest.v2+json' } }, (res) => {
        const parts: Buffer[] = [];
        res.on('data', (c: Buffer) => parts.push(c));
        res.on('end', () => resolve(JSON.parse(Buffer.concat(parts).toString())));
      }).on('error', reject);
    });
    blobs = [...manifest.layers].sort((x, y) => y.size - x.size);
    assert.ok(blobs[0].size > 1_000_000, 'a layer big enough to drop in the middle');
  });
  after(async () => {
    for (const p of proxies) await p.close();
    await pair?.stop();
    if (work) await rm(work, { recursive: true, force: true });
  });

  it('bearer token, anonymous: 401 with a challenge, a token from its realm, then the image', async () => {
    const p = await proxy({});
    await analyzeOk(p);
    assert.equal(p.log[0].status, 401);
    assert.equal(p.log[0].authorization, undefined);
    assert.equal(p.tokensIssued(), 1);
    assert.ok(p.log.slice(1).every((q) => q.authorization?.startsWith('Bearer tok-1-')), 'every later request carries the token');
  });

  it('bearer token with config.json credentials; without them, one unauthorized line', async () => {
    const p = await proxy({ user: 'alice', password: 's3cret' });
    const dockerDir = dockerLoginConfig(path.join(work, 'docker-token'), { [p.host]: { user: 'alice', password: 's3cret' } });
    await analyzeOk(p, { DOCKER_CONFIG: dockerDir });
    assert.equal(p.tokensIssued(), 1);
    const none = await cli(['analyze', src(p)]);
    assert.equal(none.code, 2);
    assert.match(none.stderr, /^layerlens: registry 127\.0\.0\.1:\d+: unauthorized to read faults\/wasteful: its token endpoint .*\/token refused an anonymous request; no credentials for 127\.0\.0\.1:\d+ in config\.json \(docker login 127\.0\.0\.1:\d+\)\n$/);
  });

  it('a token refused after a few uses (expired) is fetched again', async () => {
    const p = await proxy({ usesPerToken: 2 });
    await analyzeOk(p, { LAYERLENS_REGISTRY_PARALLEL: '1' });
    assert.ok(p.tokensIssued() >= 3, `tokens issued: ${p.tokensIssued()}`);
  });

  it('429 with Retry-After: waits that long, then reads the image', async () => {
    const p = await proxy();
    let n429 = 0;
    p.fault = (q) => (q.path.includes('/manifests/') && n429++ === 0 ? { kind: 'status', status: 429, retryAfter: '1' } : { kind: 'pass' });
    await analyzeOk(p);
    assert.equal(p.log[0].status, 429);
    assert.ok(p.log[1].at - p.log[0].at >= 950, `waited ${p.log[1].at - p.log[0].at} ms`);
  });

  it('503 on a blob, twice: retried with backoff', async () => {
    const p = await proxy();
    let n = 0;
    p.fault = (q) => (q.path.endsWith(blobs[0].digest) && n++ < 2 ? { kind: 'status', status: 503 } : { kind: 'pass' });
    await analyzeOk(p);
    assert.deepEqual(p.log.filter((q) => q.path.endsWith(blobs[0].digest)).map((q) => q.status), [503, 503, 200]);
  });

  it('a connection dropped in the middle of a blob resumes with Range', async () => {
    const p = await proxy();
    const half = Math.floor(blobs[0].size / 2);
    let n = 0;
    p.fault = (q) => (q.path.endsWith(blobs[0].digest) && n++ === 0 ? { kind: 'drop', afterBytes: half } : { kind: 'pass' });
    await analyzeOk(p);
    const reqs = p.log.filter((q) => q.path.endsWith(blobs[0].digest));
    assert.equal(reqs.length, 2);
    assert.equal(reqs[0].range, undefined);
    const from = Number(/^bytes=(\d+)-$/.exec(reqs[1].range ?? '')?.[1]);
    assert.ok(from > 0 && from <= half, `resumed from ${reqs[1].range}`);
    assert.equal(reqs[1].status, 206);
  });

  it('a dropped blob from a server that ignores Range is read again, the bytes already read skipped', async () => {
    const p = await proxy();
    let n = 0;
    p.fault = (q) => {
      if (!q.path.endsWith(blobs[0].digest)) return { kind: 'pass' };
      return n++ === 0 ? { kind: 'drop', afterBytes: Math.floor(blobs[0].size / 3) } : { kind: 'no-range' };
    };
    await analyzeOk(p);
    const reqs = p.log.filter((q) => q.path.endsWith(blobs[0].digest));
    assert.equal(reqs.length, 2);
    assert.equal(reqs[1].status, 200);
  });

  it('a blob whose bytes do not match its digest: one line naming it, exit 2', async () => {
    const p = await proxy();
    p.fault = (q) => (q.path.endsWith(blobs[0].digest) ? { kind: 'corrupt', offset: 5000 } : { kind: 'pass' });
    const r = await cli(['analyze', '--json', src(p)]);
    assert.equal(r.code, 2);
    assert.equal(r.stdout.length, 0);
    assert.equal(r.stderr.split('\n').length, 2, r.stderr);
    assert.match(r.stderr, new RegExp(`^layerlens: registry 127\\.0\\.0\\.1:\\d+: layer \\d \\(blob ${blobs[0].digest.slice(0, 19)}\\) does not match its digest ${blobs[0].digest}: its bytes hash to sha256:[0-9a-f]{64}\\n$`));
  });
});
