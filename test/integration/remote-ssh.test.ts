// A Docker Engine reached over ssh://root@127.0.0.1:PORT: a private dockerd (unix socket only) and
// Debian's sshd started by the test with its own config, host key and authorized_keys. On the
// "remote" side sshd's SetEnv gives sessions PATH=/usr/bin:/bin (Debian's docker client) and
// DOCKER_HOST=<the private engine>, so docker-modem's `docker system dial-stdio` reaches it.
// Needs root, dockerd, openssh-server/-client. Fails (never skips) when something is missing.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, writeFileSync, copyFileSync, chmodSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import * as os from 'node:os';
import * as path from 'node:path';
import { startDockerd, freePort, type Dockerd } from '../support/dockerd';
import {
  importTinyImage, readTar, dockerSaveSha256, sshKeygen, startSshd, startSshAgent,
  type Sshd, type SshAgent, type KeyPair,
} from '../support/remote';
import { resolveEndpoint, nodeFsReader } from '../../src/engine/endpoint';
import { createEngineClient, type EngineClientOptions } from '../../src/engine/docker';
import { EngineError, type EngineClient } from '../../src/engine/types';

const dir = mkdtempSync(path.join(os.tmpdir(), 'll-remote-ssh-'));
const TAG = 'layerlens-remote/tiny-ssh:1';
let d: Dockerd | undefined;
let sshd: Sshd | undefined;
let agent: SshAgent | undefined;
let imageId = '';
let userKey: KeyPair;
let falseKey: KeyPair;
let strangerKey: KeyPair;
/** A home with ~/.ssh/id_ed25519 and known_hosts, as a user would have. */
const HOME = path.join(dir, 'home');
/** A home with only known_hosts (keys come from the agent). */
const AGENT_HOME = path.join(dir, 'agent-home');

function host(): string {
  return `ssh://root@127.0.0.1:${sshd!.port}`;
}

function clientFor(env: Record<string, string>, o: EngineClientOptions = {}): EngineClient {
  const ep = resolveEndpoint({ env, homeDir: o.homeDir ?? HOME, fs: nodeFsReader });
  return createEngineClient(ep, { homeDir: HOME, env, timeoutMs: 30_000, ...o });
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
  d = await startDockerd({ dir: path.join(dir, 'd') });
  imageId = await importTinyImage(d.unixHost, TAG);
  const keys = path.join(dir, 'keys');
  mkdirSync(keys, { recursive: true });
  userKey = await sshKeygen(path.join(keys, 'user'));
  falseKey = await sshKeygen(path.join(keys, 'false'));
  strangerKey = await sshKeygen(path.join(keys, 'stranger'));
  sshd = await startSshd({
    dir: path.join(dir, 'sshd'),
    authorizedKeys: [userKey.publicLine, `command="/bin/false" ${falseKey.publicLine}`],
    sessionEnv: { PATH: '/usr/bin:/bin', DOCKER_HOST: d.unixHost },
  });
  for (const h of [HOME, AGENT_HOME]) {
    mkdirSync(path.join(h, '.ssh'), { recursive: true, mode: 0o700 });
    writeFileSync(path.join(h, '.ssh', 'known_hosts'), sshd.knownHostsLine + '\n');
  }
  copyFileSync(userKey.privateKey, path.join(HOME, '.ssh', 'id_ed25519'));
  chmodSync(path.join(HOME, '.ssh', 'id_ed25519'), 0o600);
  agent = await startSshAgent(path.join(dir, 'agent.sock'), [userKey.privateKey]);
});

after(async () => {
  if (agent) await agent.stop();
  if (sshd) await sshd.stop();
  if (d) await d.stop({ remove: true });
  await rm(dir, { recursive: true, force: true });
});

test('DOCKER_HOST=ssh://root@127.0.0.1:PORT resolves to an ssh endpoint', () => {
  const ep = resolveEndpoint({ env: { DOCKER_HOST: host() }, homeDir: HOME, fs: nodeFsReader });
  assert.deepEqual([ep.kind, ep.username, ep.host, ep.port, ep.origin, ep.tls], ['ssh', 'root', '127.0.0.1', sshd!.port, 'DOCKER_HOST', undefined]);
});

test('over ssh with ~/.ssh/id_ed25519: ping, list, inspect, history, export', async (tc) => {
  const c = clientFor({ DOCKER_HOST: host() });
  let t0 = Date.now();
  await c.ping();
  tc.diagnostic(`first ping over ssh: ${Date.now() - t0} ms`);
  t0 = Date.now();
  await c.ping();
  tc.diagnostic(`second ping over ssh (new ssh connection per request): ${Date.now() - t0} ms`);
  const list = await c.listImages();
  assert.ok(list.some((i) => i.id === imageId && i.repoTags.includes(TAG)));
  const ins = await c.inspectImage(TAG);
  assert.equal(ins.id, imageId);
  assert.equal(ins.diffIds.length, 1);
  const h = await c.history(TAG);
  assert.equal(h.length, 1);
  assert.equal(h[0].size, ins.size);
  t0 = Date.now();
  const t = await readTar(await c.exportImage(TAG));
  tc.diagnostic(`export over ssh: ${t.bytes} bytes in ${Date.now() - t0} ms`);
  assert.ok(t.names.includes('manifest.json'));
  assert.equal(t.sha256, await dockerSaveSha256(d!.unixHost, TAG));
  await rejects(c.inspectImage('layerlens-remote/none:1'), 'not-found',
    new RegExp(`^Image 'layerlens-remote/none:1' not found in the Docker engine at ssh://root@127\\.0\\.0\\.1:${sshd!.port} \\(from DOCKER_HOST\\)$`));
});

test('over ssh with ssh-agent (SSH_AUTH_SOCK) and no key files', async () => {
  const env = { DOCKER_HOST: host(), SSH_AUTH_SOCK: agent!.socket };
  const c = clientFor(env, { homeDir: AGENT_HOME });
  await c.ping();
  assert.equal((await c.inspectImage(TAG)).id, imageId);
  // Without the agent, this home has no credentials at all.
  await rejects(clientFor({ DOCKER_HOST: host() }, { homeDir: AGENT_HOME }).ping(), 'permission', /^No SSH credentials for ssh:\/\/root@127\.0\.0\.1:\d+ \(from DOCKER_HOST\): start ssh-agent/);
});

test('host keys are checked against known_hosts', async (tc) => {
  const emptyHome = path.join(dir, 'no-known-hosts');
  mkdirSync(path.join(emptyHome, '.ssh'), { recursive: true });
  copyFileSync(userKey.privateKey, path.join(emptyHome, '.ssh', 'id_ed25519'));
  const m1 = await rejects(clientFor({ DOCKER_HOST: host() }, { homeDir: emptyHome, ssh: { knownHostsFiles: [path.join(emptyHome, '.ssh', 'known_hosts')] } }).ping(),
    'permission', /^SSH host key check failed for .*: \[127\.0\.0\.1\]:\d+ is not in known_hosts; connect once with `ssh -p \d+ 127\.0\.0\.1`/);
  tc.diagnostic(m1);
  const wrongHome = path.join(dir, 'wrong-known-hosts');
  mkdirSync(path.join(wrongHome, '.ssh'), { recursive: true });
  copyFileSync(userKey.privateKey, path.join(wrongHome, '.ssh', 'id_ed25519'));
  const wrongKey = strangerKey.publicLine.split(/\s+/).slice(0, 2).join(' ');
  writeFileSync(path.join(wrongHome, '.ssh', 'known_hosts'), `[127.0.0.1]:${sshd!.port} ${wrongKey}\n`);
  const m2 = await rejects(clientFor({ DOCKER_HOST: host() }, { homeDir: wrongHome, ssh: { knownHostsFiles: [path.join(wrongHome, '.ssh', 'known_hosts')] } }).ping(),
    'permission', /does not match the one in known_hosts \(possible man-in-the-middle/);
  tc.diagnostic(m2);
});

test('a key the server does not accept: authentication failure', async (tc) => {
  const m = await rejects(clientFor({ DOCKER_HOST: host() }, { ssh: { identityFiles: [strangerKey.privateKey], agentSocket: null } }).ping(),
    'permission', /^SSH authentication to ssh:\/\/root@127\.0\.0\.1:\d+ \(from DOCKER_HOST\) failed/);
  tc.diagnostic(m);
});

test('no docker on the remote side (forced command /bin/false): clear error', async (tc) => {
  const m = await rejects(clientFor({ DOCKER_HOST: host() }, { ssh: { identityFiles: [falseKey.privateKey], agentSocket: null } }).ping(),
    'unavailable', /`docker system dial-stdio` did not answer: is the docker CLI on the remote PATH/);
  tc.diagnostic(m);
});

test('nothing listening on the ssh port: connection refused', async () => {
  const port = await freePort();
  await rejects(clientFor({ DOCKER_HOST: `ssh://root@127.0.0.1:${port}` }).ping(), 'unavailable',
    new RegExp(`^Cannot reach the Docker engine at ssh://root@127\\.0\\.0\\.1:${port} \\(from DOCKER_HOST\\): connection refused\\. Is sshd running on that host\\?$`));
});
