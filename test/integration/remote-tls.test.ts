// A second Docker Engine on tcp://127.0.0.1:PORT with --tlsverify and certificates made by the test,
// reached through DOCKER_HOST + DOCKER_TLS_VERIFY + DOCKER_CERT_PATH exactly as the docker CLI would.
// Needs root, dockerd (Debian docker.io) and openssl. Fails (never skips) when they are missing.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import * as os from 'node:os';
import * as path from 'node:path';
import * as tar from 'tar-stream';
import { startDockerd, type Dockerd } from '../support/dockerd';
import { generateTls, type TlsFiles } from '../support/tls';
import { importTinyImage, readTar, dockerSaveSha256, execOk, DOCKER_CLI } from '../support/remote';
import { resolveEndpoint, nodeFsReader } from '../../src/engine/endpoint';
import { createEngineClient } from '../../src/engine/docker';
import { EngineError, type EngineClient } from '../../src/engine/types';

const dir = mkdtempSync(path.join(os.tmpdir(), 'll-remote-tls-'));
const HOME = path.join(dir, 'home'); // empty: nothing from the real ~/.docker leaks in
const TAG = 'layerlens-remote/tiny:1';
let tls: TlsFiles;
let otherTls: TlsFiles;
let d: Dockerd | undefined;
let imageId = '';

function envFor(extra: Record<string, string> = {}): Record<string, string> {
  return { ...d!.clientEnv(), ...extra };
}

function clientFor(env: Record<string, string>, o: Parameters<typeof createEngineClient>[1] = {}): EngineClient {
  return createEngineClient(resolveEndpoint({ env, homeDir: HOME, fs: nodeFsReader }), o);
}

async function rejects(p: Promise<unknown>, code: EngineError['code'], re: RegExp): Promise<string> {
  let msg = '';
  await assert.rejects(p, (e: unknown) => {
    assert.ok(e instanceof EngineError, String(e));
    assert.equal(e.code, code, e.message);
    assert.match(e.message, re);
    assert.ok(!e.message.includes('\n'));
    msg = e.message;
    return true;
  });
  return msg;
}

before(async () => {
  tls = await generateTls(path.join(dir, 'certs'));
  otherTls = await generateTls(path.join(dir, 'other-certs'));
  d = await startDockerd({ dir: path.join(dir, 'd'), tcpPort: 'auto', tls });
  imageId = await importTinyImage(d.unixHost, TAG);
  assert.match(imageId, /^sha256:[0-9a-f]{64}$/);
});

after(async () => {
  if (d) await d.stop({ remove: true });
  await rm(dir, { recursive: true, force: true });
});

test('DOCKER_HOST + DOCKER_TLS_VERIFY + DOCKER_CERT_PATH resolve to a verified TLS endpoint', () => {
  const ep = resolveEndpoint({ env: envFor(), homeDir: HOME, fs: nodeFsReader });
  assert.equal(ep.kind, 'tcp');
  assert.equal(ep.url, d!.tcpHost);
  assert.equal(ep.origin, 'DOCKER_HOST');
  assert.equal(ep.tls?.verify, true);
  assert.ok(ep.tls?.ca && ep.tls.cert && ep.tls.key);
});

test('ping, listImages, inspect, history over TLS', async () => {
  const c = clientFor(envFor());
  await c.ping();
  const images = await c.listImages();
  const mine = images.find((i) => i.id === imageId);
  assert.ok(mine, `image ${imageId} listed`);
  assert.deepEqual(mine.repoTags, [TAG]);

  const ins = await c.inspectImage(TAG);
  assert.equal(ins.id, imageId);
  assert.deepEqual(ins.repoTags, [TAG]);
  assert.equal(ins.os, 'linux');
  assert.equal(ins.diffIds.length, 1);
  assert.match(ins.diffIds[0], /^sha256:[0-9a-f]{64}$/);
  // The same answer by id.
  assert.equal((await c.inspectImage(imageId)).id, imageId);

  const h = await c.history(TAG);
  assert.equal(h.length, 1);
  assert.equal(h[0].id, imageId);
  assert.equal(h[0].comment, 'layer lens tiny');
  // docker import: regular files (22 + 8192 bytes) plus the symlink target's length (13).
  assert.equal(h[0].size, 22 + 8192 + 'etc/hello.txt'.length);
  assert.equal(h[0].size, ins.size);
});

test('exportImage streams a docker-save tar, byte-identical to `docker save`', async (tc) => {
  const c = clientFor(envFor());
  const t0 = Date.now();
  const s = await c.exportImage(TAG);
  const t = await readTar(s);
  tc.diagnostic(`export over TLS: ${t.bytes} bytes, ${t.names.length} tar entries, ${Date.now() - t0} ms`);
  assert.ok(t.names.includes('manifest.json'), t.names.join(','));
  const manifest = JSON.parse(t.files.get('manifest.json')!.toString('utf8')) as Array<{ Config: string; RepoTags: string[]; Layers: string[] }>;
  assert.equal(manifest.length, 1);
  assert.deepEqual(manifest[0].RepoTags, [TAG]);
  assert.equal(manifest[0].Layers.length, 1);
  assert.ok(t.names.includes(manifest[0].Config));
  assert.ok(t.names.includes(manifest[0].Layers[0]));
  assert.equal(await dockerSaveSha256(d!.unixHost, TAG), t.sha256);
});

test('the docker CLI agrees: same engine, same image over the same TLS settings', async () => {
  const out = await execOk(DOCKER_CLI, ['image', 'inspect', '--format', '{{.Id}}', TAG], { env: { PATH: process.env.PATH ?? '', HOME, ...envFor() } });
  assert.equal(out.trim(), imageId);
});

test('not found over TLS', async () => {
  await rejects(clientFor(envFor()).inspectImage('layerlens-remote/none:1'), 'not-found',
    new RegExp(`^Image 'layerlens-remote/none:1' not found in the Docker engine at ${d!.tcpHost} \\(from DOCKER_HOST\\)$`));
});

test('TLS failures are reported clearly', async () => {
  // No TLS at all against a TLS port.
  await rejects(clientFor({ DOCKER_HOST: d!.tcpHost! }).ping(), 'protocol', /expects TLS: set DOCKER_TLS_VERIFY=1/);
  // A CA that did not sign the server certificate.
  await rejects(clientFor(envFor({ DOCKER_CERT_PATH: otherTls.dir })).ping(), 'protocol', /^TLS: the certificate of tcp:\/\/127\.0\.0\.1:\d+ \(from DOCKER_HOST\) is not trusted/);
  // Server cert trusted but no client cert (cert.pem/key.pem missing in the cert dir): --tlsverify refuses us.
  const caOnly = path.join(dir, 'ca-only');
  await execOk('mkdir', ['-p', caOnly]);
  await execOk('cp', [tls.caCert, path.join(caOnly, 'ca.pem')]);
  const ep = resolveEndpoint({ env: envFor({ DOCKER_CERT_PATH: caOnly }), homeDir: HOME, fs: nodeFsReader });
  assert.equal(ep.tls?.cert, undefined);
  await rejects(createEngineClient(ep).ping(), 'permission', /rejected the client certificate/);
  // A client cert from another CA.
  await rejects(clientFor(envFor({ DOCKER_CERT_PATH: otherTls.dir, DOCKER_TLS_VERIFY: '', DOCKER_TLS: '1' })).ping(), 'permission', /rejected the client certificate/);
  // Missing ca.pem: a configuration error before any connection.
  assert.throws(() => clientFor(envFor({ DOCKER_CERT_PATH: path.join(dir, 'nowhere') })), /ca\.pem does not exist/);
});

test('DOCKER_TLS without DOCKER_TLS_VERIFY: TLS without server verification (as the CLI)', async () => {
  // Our CA dir holds the right client cert but we drop verification: a wrong CA is then accepted.
  const mixed = path.join(dir, 'mixed');
  await execOk('mkdir', ['-p', mixed]);
  await execOk('cp', [otherTls.caCert, path.join(mixed, 'ca.pem')]);
  await execOk('cp', [tls.clientCert, path.join(mixed, 'cert.pem')]);
  await execOk('cp', [tls.clientKey, path.join(mixed, 'key.pem')]);
  const env = { DOCKER_HOST: d!.tcpHost!, DOCKER_TLS: '1', DOCKER_CERT_PATH: mixed };
  const ep = resolveEndpoint({ env, homeDir: HOME, fs: nodeFsReader });
  assert.equal(ep.tls?.verify, false);
  await createEngineClient(ep).ping();
  // ...and with verification the same files fail.
  await rejects(clientFor({ ...env, DOCKER_TLS_VERIFY: '1' }).ping(), 'protocol', /not trusted/);
});

test('host name verification: localhost is in the server certificate', async () => {
  const c = clientFor(envFor({ DOCKER_HOST: `tcp://localhost:${d!.tcpPort}` }));
  await c.ping();
});

test('engine killed mid-export: clear error, then the same client works once it is back', async (tc) => {
  // A bigger image so the export cannot fit in socket buffers.
  const big = 'layerlens-remote/big:1';
  const pack = tar.pack();
  for (let i = 0; i < 8; i++) pack.entry({ name: `f${i}.bin`, mode: 0o644 }, Buffer.alloc(8 * 1024 * 1024, i + 1));
  pack.finalize();
  const chunks: Buffer[] = [];
  for await (const ch of pack) chunks.push(ch as Buffer);
  await execOk(DOCKER_CLI, ['--host', d!.unixHost, 'import', '-', big], { input: Buffer.concat(chunks) });

  const c = clientFor(envFor(), { exportIdleTimeoutMs: 10_000 });
  const s = await c.exportImage(big);
  // Read one chunk, then kill the engine while the rest is pending.
  await new Promise<void>((resolve, reject) => { s.once('data', () => resolve()); s.once('error', reject); });
  s.pause();
  process.kill(d!.pid, 'SIGKILL');
  const t0 = Date.now();
  const m1 = await rejects((async () => { s.resume(); for await (const _ of s) { /* drain */ } })(), 'unavailable',
    /(was dropped|ended early|stopped sending).*(restart|incomplete|no data)/);
  tc.diagnostic(`mid-export kill -> ${m1} (after ${Date.now() - t0} ms)`);
  assert.ok(Date.now() - t0 < 15_000);
  tc.diagnostic(`while down -> ${await rejects(c.ping(), 'unavailable', /connection refused/)}`);

  // Restart the same engine (same state dir, same port): the client recovers.
  const port = d!.tcpPort!;
  await d!.stop();
  d = await startDockerd({ dir: path.join(dir, 'd'), tcpPort: port, tls });
  const t1 = Date.now();
  await c.ping();
  tc.diagnostic(`first ping after restart: ${Date.now() - t1} ms`);
  assert.equal((await c.inspectImage(TAG)).id, imageId);
});
