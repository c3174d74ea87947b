// Test-only helpers for the remote-engine integration tests (test/integration/remote-*.test.ts):
//   - a tiny image imported into a given engine (a rootfs tar made here, `docker import`),
//   - an sshd of our own on 127.0.0.1 (Debian's openssh-server, own config file, host key and
//     authorized_keys; the system's sshd config is never read or changed),
//   - client ssh keys and an ssh-agent,
//   - reading an export stream as a tar.
// Start dockerd/TLS with test/support/dockerd.ts and test/support/tls.ts.
// Processes run with execFile/spawn and argument arrays only.
import { spawn, type ChildProcess } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, writeFileSync, chmodSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import * as net from 'node:net';
import * as path from 'node:path';
import type { Readable } from 'node:stream';
import * as tar from 'tar-stream';
import { freePort } from './dockerd';

/** Debian's docker client (20.10); /usr/local/bin/docker is another version without buildx. */
export const DOCKER_CLI = process.env.LAYERLENS_DOCKER || '/usr/bin/docker';
export const SSHD = '/usr/sbin/sshd';

export interface Ran { code: number | null; stdout: string; stderr: string }

/** Run a program (no shell); resolves with its exit code and output. */
export function exec(cmd: string, args: readonly string[], opts: { env?: NodeJS.ProcessEnv; input?: Buffer | string; timeoutMs?: number } = {}): Promise<Ran> {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { env: opts.env ?? process.env, stdio: ['pipe', 'pipe', 'pipe'] });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    const timer = setTimeout(() => child.kill('SIGKILL'), opts.timeoutMs ?? 120_000);
    child.stdout.on('data', (b: Buffer) => out.push(b));
    child.stderr.on('data', (b: Buffer) => err.push(b));
    child.on('error', (e) => { clearTimeout(timer); reject(new Error(`cannot run ${cmd}: ${e.message}`)); });
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout: Buffer.concat(out).toString('utf8'), stderr: Buffer.concat(err).toString('utf8') });
    });
    child.stdin.on('error', () => undefined);
    child.stdin.end(opts.input ?? '');
  });
}

export async function execOk(cmd: string, args: readonly string[], opts: Parameters<typeof exec>[2] = {}): Promise<string> {
  const r = await exec(cmd, args, opts);
  if (r.code !== 0) throw new Error(`${cmd} ${args.join(' ')} exited ${r.code}: ${r.stderr.trim().split('\n').slice(-10).join(' | ')}`);
  return r.stdout;
}

// --- tiny image ---------------------------------------------------------------------------------

/** A small rootfs tar: a few files, a dir, a symlink (about 10 KB). Deterministic content. */
export async function tinyRootfsTar(): Promise<Buffer> {
  const pack = tar.pack();
  const mtime = new Date('2026-01-01T00:00:00Z');
  pack.entry({ name: 'etc/', type: 'directory', mode: 0o755, mtime });
  pack.entry({ name: 'etc/hello.txt', mode: 0o644, mtime }, 'hello from layer lens\n');
  pack.entry({ name: 'data/', type: 'directory', mode: 0o755, mtime });
  pack.entry({ name: 'data/blob.bin', mode: 0o600, mtime }, Buffer.alloc(8192, 0x5a));
  pack.entry({ name: 'hello', type: 'symlink', linkname: 'etc/hello.txt', mode: 0o777, mtime });
  pack.finalize();
  const chunks: Buffer[] = [];
  for await (const c of pack) chunks.push(c as Buffer);
  return Buffer.concat(chunks);
}

/** `docker import` the tiny rootfs as `tag` into the engine at `dockerHost` (unix://...). Returns the image id. */
export async function importTinyImage(dockerHost: string, tag: string): Promise<string> {
  const input = await tinyRootfsTar();
  const out = await execOk(DOCKER_CLI, ['--host', dockerHost, 'import', '--message', 'layer lens tiny', '-', tag], { input });
  return out.trim();
}

/** `docker save` through the CLI, as a sha256 hex of the bytes (streamed). */
export function dockerSaveSha256(dockerHost: string, image: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn(DOCKER_CLI, ['--host', dockerHost, 'save', image], { stdio: ['ignore', 'pipe', 'pipe'] });
    const h = createHash('sha256');
    let err = '';
    child.stdout.on('data', (b: Buffer) => h.update(b));
    child.stderr.on('data', (b: Buffer) => { err += b.toString(); });
    child.on('error', reject);
    child.on('close', (code) => (code === 0 ? resolve(h.digest('hex')) : reject(new Error(`docker save exited ${code}: ${err.trim()}`))));
  });
}

export interface TarSummary { names: string[]; bytes: number; sha256: string; files: Map<string, Buffer> }

/** Read a tar stream to the end; keeps small JSON members (manifest.json, configs). */
export async function readTar(stream: Readable): Promise<TarSummary> {
  const ex = tar.extract();
  const h = createHash('sha256');
  let bytes = 0;
  const names: string[] = [];
  const files = new Map<string, Buffer>();
  const done = new Promise<void>((resolve, reject) => {
    ex.on('entry', (header, body, next) => {
      names.push(header.name);
      const keep = header.name.endsWith('.json') || header.name === 'repositories';
      const parts: Buffer[] = [];
      body.on('data', (b: unknown) => { if (keep) parts.push(b as Buffer); });
      body.on('end', () => { if (keep) files.set(header.name, Buffer.concat(parts)); next(); });
      body.on('error', reject);
    });
    ex.on('finish', resolve);
    ex.on('error', reject);
  });
  stream.on('data', (b: Buffer) => { h.update(b); bytes += b.length; });
  stream.on('error', (e) => ex.destroy(e));
  stream.pipe(ex);
  await done;
  return { names, bytes, sha256: h.digest('hex'), files };
}

// --- ssh ----------------------------------------------------------------------------------------

export interface KeyPair { privateKey: string; publicKey: string; publicLine: string }

/** ssh-keygen an unencrypted ed25519 key at `file` (+ .pub). */
export async function sshKeygen(file: string, comment = 'layerlens-test'): Promise<KeyPair> {
  await rm(file, { force: true });
  await rm(`${file}.pub`, { force: true });
  await execOk('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-C', comment, '-f', file]);
  return { privateKey: file, publicKey: `${file}.pub`, publicLine: readFileSync(`${file}.pub`, 'utf8').trim() };
}

export interface Sshd {
  port: number;
  dir: string;
  /** "[127.0.0.1]:PORT ssh-ed25519 AAAA..." for a known_hosts file. */
  knownHostsLine: string;
  logTail(): string;
  stop(): Promise<void>;
}

export interface SshdOptions {
  dir: string;
  /** Lines for authorized_keys (public keys, optionally with options such as command="..."). */
  authorizedKeys: string[];
  /** Environment for sessions (sshd_config SetEnv), e.g. DOCKER_HOST and PATH for dial-stdio. */
  sessionEnv: Record<string, string>;
  timeoutMs?: number;
}

/**
 * Start Debian's sshd in the foreground on 127.0.0.1:<free port> with a config file of its own
 * (UsePAM no, keys only, root allowed by key, StrictModes off for the temp dir). Only the
 * privilege-separation directory /run/sshd is created if missing (sshd refuses to start without it;
 * the Debian service creates it the same way).
 */
export async function startSshd(o: SshdOptions): Promise<Sshd> {
  if (!existsSync(SSHD)) throw new Error(`${SSHD} not found: apt-get install -y openssh-server`);
  mkdirSync(o.dir, { recursive: true });
  if (!existsSync('/run/sshd')) mkdirSync('/run/sshd', { mode: 0o755, recursive: true });
  const hostKey = path.join(o.dir, 'ssh_host_ed25519_key');
  const hk = await sshKeygen(hostKey, 'layerlens-test-host');
  const authorized = path.join(o.dir, 'authorized_keys');
  writeFileSync(authorized, o.authorizedKeys.join('\n') + '\n');
  chmodSync(authorized, 0o600);
  const port = await freePort();
  for (const [k, v] of Object.entries(o.sessionEnv)) {
    if (!/^[A-Z_][A-Z0-9_]*$/.test(k) || /[\s"\\]/.test(v)) throw new Error(`bad session env ${k}=${v}`);
  }
  const config = path.join(o.dir, 'sshd_config');
  writeFileSync(config, [
    `Port ${port}`,
    'ListenAddress 127.0.0.1',
    `HostKey ${hostKey}`,
    `PidFile ${path.join(o.dir, 'sshd.pid')}`,
    `AuthorizedKeysFile ${authorized}`,
    'PermitRootLogin prohibit-password',
    'PubkeyAuthentication yes',
    'PasswordAuthentication no',
    'KbdInteractiveAuthentication no',
    'UsePAM no',
    'StrictModes no',
    'X11Forwarding no',
    'AllowTcpForwarding no',
    'PrintMotd no',
    'LogLevel VERBOSE',
    `SetEnv ${Object.entries(o.sessionEnv).map(([k, v]) => `${k}=${v}`).join(' ')}`,
    '',
  ].join('\n'));
  // Check the config first for a clear error.
  const t = await exec(SSHD, ['-t', '-f', config]);
  if (t.code !== 0) throw new Error(`sshd -t rejected the test config: ${t.stderr.trim()}`);

  const log: string[] = [];
  const child: ChildProcess = spawn(SSHD, ['-D', '-e', '-f', config], { stdio: ['ignore', 'ignore', 'pipe'] });
  child.stderr!.on('data', (b: Buffer) => { log.push(b.toString()); if (log.length > 400) log.shift(); });
  let exited: number | null | undefined;
  child.on('exit', (code) => { exited = code; });
  const onExit = (): void => { if (exited === undefined) child.kill('SIGTERM'); };
  process.on('exit', onExit);
  const logTail = (): string => log.join('').trim().split('\n').slice(-20).join('\n');
  const stop = async (): Promise<void> => {
    process.removeListener('exit', onExit);
    if (exited === undefined) {
      child.kill('SIGTERM');
      const end = Date.now() + 10_000;
      while (exited === undefined && Date.now() < end) await new Promise((r) => setTimeout(r, 50));
      if (exited === undefined) child.kill('SIGKILL');
    }
  };

  const deadline = Date.now() + (o.timeoutMs ?? 20_000);
  for (;;) {
    if (exited !== undefined) throw new Error(`sshd exited early (code ${exited}): ${logTail()}`);
    if (await sshBanner(port)) break;
    if (Date.now() > deadline) {
      await stop();
      throw new Error(`sshd did not answer on 127.0.0.1:${port}: ${logTail()}`);
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  const pub = hk.publicLine.split(/\s+/);
  return { port, dir: o.dir, knownHostsLine: `[127.0.0.1]:${port} ${pub[0]} ${pub[1]}`, logTail, stop };
}

function sshBanner(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = net.connect(port, '127.0.0.1');
    const t = setTimeout(() => { s.destroy(); resolve(false); }, 1000);
    s.once('data', (b: Buffer) => { clearTimeout(t); s.destroy(); resolve(b.toString('latin1').startsWith('SSH-2.0-')); });
    s.once('error', () => { clearTimeout(t); resolve(false); });
  });
}

export interface SshAgent { socket: string; stop(): Promise<void> }

/** Start `ssh-agent -D -a SOCKET` and add keys with ssh-add. */
export async function startSshAgent(socket: string, keys: string[]): Promise<SshAgent> {
  await rm(socket, { force: true });
  const child = spawn('ssh-agent', ['-D', '-a', socket], { stdio: ['ignore', 'ignore', 'pipe'] });
  let exited = false;
  child.on('exit', () => { exited = true; });
  const stop = async (): Promise<void> => {
    if (!exited) {
      child.kill('SIGTERM');
      const end = Date.now() + 5000;
      while (!exited && Date.now() < end) await new Promise((r) => setTimeout(r, 50));
    }
    await rm(socket, { force: true });
  };
  const end = Date.now() + 10_000;
  while (!existsSync(socket)) {
    if (exited || Date.now() > end) {
      await stop();
      throw new Error('ssh-agent did not start');
    }
    await new Promise((r) => setTimeout(r, 50));
  }
  for (const k of keys) await execOk('ssh-add', [k], { env: { ...process.env, SSH_AUTH_SOCK: socket } });
  return { socket, stop };
}
