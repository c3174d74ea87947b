// Podman's Docker-compatible API: `podman system service` on a private socket laid out as the
// rootless one ($XDG_RUNTIME_DIR/podman/podman.sock), with its own storage (vfs) under a temp dir.
// Checks the resolver's Podman fallback (no DOCKER_HOST, no context, no docker socket) and that the
// same EngineClient calls work against Podman. Needs root and Debian's podman (apt-get install -y
// podman). Fails (never skips) when podman is missing or cannot start.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import * as os from 'node:os';
import * as path from 'node:path';
import { pingUnix } from '../support/dockerd';
import { tinyRootfsTar, execOk, readTar, DOCKER_CLI } from '../support/remote';
import { resolveEndpoint, nodeFsReader, DEFAULT_UNIX_SOCKET, type FsReader } from '../../src/engine/endpoint';
import { createEngineClient } from '../../src/engine/docker';
import { EngineError } from '../../src/engine/types';

const PODMAN = process.env.LAYERLENS_PODMAN || '/usr/bin/podman';
const dir = mkdtempSync(path.join(os.tmpdir(), 'll-podman-'));
const XDG = path.join(dir, 'xdg');
const SOCK = path.join(XDG, 'podman', 'podman.sock');
const TAG = 'layerlens-remote/tiny-podman:1';
let svc: ChildProcess | undefined;
let svcExit: number | null | undefined;
let log = '';
let imageId = '';

/** The real file system, except that the default docker socket is hidden (so the fallback applies
 * even on a machine where a docker daemon listens there). */
const fsWithoutDockerSock: FsReader = {
  readFile: (f) => nodeFsReader.readFile(f),
  exists: (f) => f !== DEFAULT_UNIX_SOCKET && nodeFsReader.exists(f),
};

function podmanArgs(...rest: string[]): string[] {
  return ['--root', path.join(dir, 'root'), '--runroot', path.join(dir, 'run'), '--storage-driver', 'vfs',
    '--events-backend', 'file', '--cgroup-manager', 'cgroupfs', ...rest];
}

before(async () => {
  assert.ok(existsSync(PODMAN), `${PODMAN} not found: apt-get install -y podman`);
  mkdirSync(path.dirname(SOCK), { recursive: true });
  svc = spawn(PODMAN, podmanArgs('system', 'service', '--time=0', `unix://${SOCK}`), {
    stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, XDG_RUNTIME_DIR: XDG },
  });
  svc.stdout!.on('data', (b: Buffer) => { log += b.toString(); });
  svc.stderr!.on('data', (b: Buffer) => { log += b.toString(); });
  svc.on('exit', (code) => { svcExit = code; });
  const deadline = Date.now() + 30_000;
  while (!(existsSync(SOCK) && (await pingUnix(SOCK, 1000)))) {
    if (svcExit !== undefined) throw new Error(`podman system service exited (${svcExit}): ${log.trim().slice(-2000)}`);
    if (Date.now() > deadline) throw new Error(`podman system service did not answer on ${SOCK}: ${log.trim().slice(-2000)}`);
    await new Promise((r) => setTimeout(r, 200));
  }
  // Import the tiny rootfs through the Docker-compatible API with the docker CLI.
  await execOk(DOCKER_CLI, ['--host', `unix://${SOCK}`, 'import', '--message', 'layer lens tiny', '-', TAG], { input: await tinyRootfsTar() });
  imageId = (await execOk(DOCKER_CLI, ['--host', `unix://${SOCK}`, 'image', 'inspect', '--format', '{{.Id}}', TAG])).trim();
});

after(async () => {
  if (svc && svcExit === undefined) {
    svc.kill('SIGTERM');
    const end = Date.now() + 10_000;
    while (svcExit === undefined && Date.now() < end) await new Promise((r) => setTimeout(r, 50));
    if (svcExit === undefined) svc.kill('SIGKILL');
  }
  await rm(dir, { recursive: true, force: true });
});

test('with nothing configured and no docker socket, the rootless Podman socket is found', () => {
  const ep = resolveEndpoint({ env: { XDG_RUNTIME_DIR: XDG }, homeDir: path.join(dir, 'home'), fs: fsWithoutDockerSock });
  assert.deepEqual([ep.kind, ep.url, ep.origin], ['unix', `unix://${SOCK}`, 'podman']);
});

test('EngineClient against Podman: ping, list, inspect, history, export', async (tc) => {
  const ep = resolveEndpoint({ env: { XDG_RUNTIME_DIR: XDG }, homeDir: path.join(dir, 'home'), fs: fsWithoutDockerSock });
  const c = createEngineClient(ep);
  await c.ping();
  const list = await c.listImages();
  assert.ok(list.some((i) => i.id === imageId && i.repoTags.includes(TAG)), JSON.stringify(list));
  const ins = await c.inspectImage(TAG);
  assert.equal(ins.id, imageId);
  assert.equal(ins.os, 'linux');
  assert.equal(ins.diffIds.length, 1);
  const h = await c.history(TAG);
  assert.equal(h.length, 1);
  assert.equal(h[0].comment, 'layer lens tiny');
  // Measured: Podman reports the layer tar's length as the history size (12,288 bytes here), where
  // dockerd reports file bytes plus symlink targets (8,227). Keep the figure visible.
  tc.diagnostic(`podman history size ${h[0].size}, inspect size ${ins.size}`);
  assert.ok(h[0].size > 0);
  const t = await readTar(await c.exportImage(TAG));
  assert.ok(t.names.includes('manifest.json'), t.names.join(','));
  const manifest = JSON.parse(t.files.get('manifest.json')!.toString('utf8')) as Array<{ Config: string; Layers: string[] }>;
  assert.equal(manifest[0].Layers.length, 1);
  assert.ok(t.names.includes(manifest[0].Config));
  tc.diagnostic(`podman export: ${t.bytes} bytes, entries ${t.names.join(' ')}`);
  await assert.rejects(c.inspectImage('layerlens-remote/none:1'), (e: unknown) => e instanceof EngineError && e.code === 'not-found'
    && e.message === `Image 'layerlens-remote/none:1' not found in the Podman engine at unix://${SOCK} (Podman socket)`);
});

test('Podman through DOCKER_HOST works the same way (no fallback involved)', async () => {
  const ep = resolveEndpoint({ env: { DOCKER_HOST: `unix://${SOCK}` }, homeDir: path.join(dir, 'home'), fs: nodeFsReader });
  assert.equal(ep.origin, 'DOCKER_HOST');
  const c = createEngineClient(ep);
  assert.equal((await c.inspectImage(TAG)).id, imageId);
});
