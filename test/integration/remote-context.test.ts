// Docker contexts: a temp DOCKER_CONFIG whose context points at a second dockerd on
// tcp://127.0.0.1:PORT with --tlsverify. One context is written by hand in the store layout
// (contexts/meta/<sha256(name)>/meta.json + contexts/tls/<sha256(name)>/docker/*.pem), one by the real
// `docker context create`; both are resolved by Layer Lens and used for real calls, and the docker CLI
// is checked to agree. Needs root, dockerd, openssl, /usr/bin/docker. Fails (never skips).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, writeFileSync, copyFileSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import * as os from 'node:os';
import * as path from 'node:path';
import { startDockerd, type Dockerd } from '../support/dockerd';
import { generateTls, type TlsFiles } from '../support/tls';
import { importTinyImage, execOk, exec, readTar, DOCKER_CLI } from '../support/remote';
import { resolveEndpoint, nodeFsReader, contextId } from '../../src/engine/endpoint';
import { createEngineClient } from '../../src/engine/docker';
import { EngineError } from '../../src/engine/types';

const dir = mkdtempSync(path.join(os.tmpdir(), 'll-remote-ctx-'));
const CFG = path.join(dir, 'docker-config');
const HOME = path.join(dir, 'home');
const TAG = 'layerlens-remote/tiny-ctx:1';
let tls: TlsFiles;
let d: Dockerd | undefined;
let imageId = '';

function cliEnv(extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  return { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME, DOCKER_CONFIG: CFG, ...extra };
}

function writeContext(name: string, host: string, files: Partial<Record<'ca.pem' | 'cert.pem' | 'key.pem', string>>, skipTLSVerify = false): void {
  const id = contextId(name);
  const meta = path.join(CFG, 'contexts', 'meta', id);
  mkdirSync(meta, { recursive: true });
  writeFileSync(path.join(meta, 'meta.json'), JSON.stringify({
    Name: name, Metadata: { Description: 'layer lens test' },
    Endpoints: { docker: { Host: host, SkipTLSVerify: skipTLSVerify } },
  }));
  const tlsDir = path.join(CFG, 'contexts', 'tls', id, 'docker');
  mkdirSync(tlsDir, { recursive: true, mode: 0o700 });
  for (const [f, src] of Object.entries(files)) copyFileSync(src, path.join(tlsDir, f));
}

before(async () => {
  tls = await generateTls(path.join(dir, 'certs'));
  d = await startDockerd({ dir: path.join(dir, 'd'), tcpPort: 'auto', tls });
  imageId = await importTinyImage(d.unixHost, TAG);
  mkdirSync(HOME, { recursive: true });
  mkdirSync(CFG, { recursive: true });
  writeContext('ll-hand', d.tcpHost!, { 'ca.pem': tls.caCert, 'cert.pem': tls.clientCert, 'key.pem': tls.clientKey });
  // The same engine, as the docker CLI itself stores a context.
  await execOk(DOCKER_CLI, ['context', 'create', 'll-cli', '--docker',
    `host=${d.tcpHost},ca=${tls.caCert},cert=${tls.clientCert},key=${tls.clientKey}`], { env: cliEnv() });
});

after(async () => {
  if (d) await d.stop({ remove: true });
  await rm(dir, { recursive: true, force: true });
});

test('a hand-written context via DOCKER_CONTEXT: resolution and real calls', async () => {
  const env = { DOCKER_CONFIG: CFG, DOCKER_CONTEXT: 'll-hand' };
  const ep = resolveEndpoint({ env, homeDir: HOME, fs: nodeFsReader });
  assert.deepEqual([ep.kind, ep.url, ep.origin, ep.tls?.verify], ['tcp', d!.tcpHost, 'context:ll-hand', true]);
  assert.ok(ep.tls?.ca && ep.tls.cert && ep.tls.key);
  const c = createEngineClient(ep);
  await c.ping();
  assert.equal((await c.inspectImage(TAG)).id, imageId);
  assert.equal((await c.history(TAG)).length, 1);
  const t = await readTar(await c.exportImage(TAG));
  assert.ok(t.names.includes('manifest.json'));
  // The docker CLI reads the same hand-written context and reaches the same engine.
  const id = await execOk(DOCKER_CLI, ['image', 'inspect', '--format', '{{.Id}}', TAG], { env: cliEnv({ DOCKER_CONTEXT: 'll-hand' }) });
  assert.equal(id.trim(), imageId);
});

test('a context made by `docker context create`, selected by config.json currentContext', async () => {
  await execOk(DOCKER_CLI, ['context', 'use', 'll-cli'], { env: cliEnv() });
  const ep = resolveEndpoint({ env: { DOCKER_CONFIG: CFG }, homeDir: HOME, fs: nodeFsReader });
  assert.deepEqual([ep.kind, ep.url, ep.origin, ep.tls?.verify], ['tcp', d!.tcpHost, 'context:ll-cli', true]);
  const c = createEngineClient(ep);
  await c.ping();
  assert.ok((await c.listImages()).some((i) => i.id === imageId));
  // ~/.docker is used when DOCKER_CONFIG is unset: point HOME at a home whose .docker is CFG.
  const home2 = path.join(dir, 'home2');
  mkdirSync(home2, { recursive: true });
  await execOk('ln', ['-s', CFG, path.join(home2, '.docker')]);
  const ep2 = resolveEndpoint({ env: {}, homeDir: home2, fs: nodeFsReader });
  assert.equal(ep2.origin, 'context:ll-cli');
});

test('precedence with contexts: DOCKER_CONTEXT over currentContext, DOCKER_HOST over both', async () => {
  // currentContext is ll-cli (previous test); DOCKER_CONTEXT picks ll-hand.
  await execOk(DOCKER_CLI, ['context', 'use', 'll-cli'], { env: cliEnv() });
  assert.equal(resolveEndpoint({ env: { DOCKER_CONFIG: CFG, DOCKER_CONTEXT: 'll-hand' }, homeDir: HOME, fs: nodeFsReader }).origin, 'context:ll-hand');
  // DOCKER_HOST wins: the (unused) unix socket is what gets dialled, and the message says why.
  const bogus = path.join(dir, 'no-such.sock');
  const ep = resolveEndpoint({ env: { DOCKER_CONFIG: CFG, DOCKER_CONTEXT: 'll-hand', DOCKER_HOST: `unix://${bogus}` }, homeDir: HOME, fs: nodeFsReader });
  assert.equal(ep.origin, 'DOCKER_HOST');
  assert.deepEqual(ep.warnings, ['DOCKER_CONTEXT is ignored because DOCKER_HOST is set']);
  await assert.rejects(createEngineClient(ep).ping(), (e: unknown) => e instanceof EngineError && e.code === 'unavailable'
    && e.message === `Cannot reach the Docker engine at unix://${bogus} (from DOCKER_HOST): no such socket. Is dockerd running?`);
  // The CLI agrees on each choice.
  const inspectHost = async (extra: Record<string, string>): Promise<string> =>
    (await execOk(DOCKER_CLI, ['context', 'inspect', '--format', '{{.Endpoints.docker.Host}}'], { env: cliEnv(extra) })).trim();
  assert.equal(await inspectHost({}), d!.tcpHost);
  assert.equal(await inspectHost({ DOCKER_HOST: `unix://${bogus}` }), `unix://${bogus}`);
});

test('a context with only SkipTLSVerify and the client cert: TLS without server verification', async () => {
  writeContext('ll-insecure', d!.tcpHost!, { 'cert.pem': tls.clientCert, 'key.pem': tls.clientKey }, true);
  const ep = resolveEndpoint({ env: { DOCKER_CONFIG: CFG, DOCKER_CONTEXT: 'll-insecure' }, homeDir: HOME, fs: nodeFsReader });
  assert.equal(ep.tls?.verify, false);
  assert.equal(ep.tls?.ca, undefined);
  await createEngineClient(ep).ping();
  const cli = await exec(DOCKER_CLI, ['version', '--format', '{{.Server.APIVersion}}'], { env: cliEnv({ DOCKER_CONTEXT: 'll-insecure' }) });
  assert.equal(cli.code, 0, cli.stderr);
});

test('a missing context fails like the CLI does, with a clear message', async () => {
  assert.throws(() => resolveEndpoint({ env: { DOCKER_CONFIG: CFG, DOCKER_CONTEXT: 'll-gone' }, homeDir: HOME, fs: nodeFsReader }),
    (e: unknown) => e instanceof EngineError && /^Docker context "ll-gone" \(from DOCKER_CONTEXT\) not found: .*meta\.json does not exist/.test(e.message));
  const cli = await exec(DOCKER_CLI, ['version'], { env: cliEnv({ DOCKER_CONTEXT: 'll-gone' }) });
  assert.notEqual(cli.code, 0);
});
