// Real registries for the registry-source tests: Debian's `docker-registry` (Distribution 2.8)
// started on loopback at free ports, one open and one behind htpasswd basic auth, both over one
// storage directory (an image pushed once is served by both); images pushed with skopeo from
// `docker save` files; a `config.json` written as `docker login` writes it. A missing binary is
// an error, never a skip.
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import * as http from 'node:http';
import * as net from 'node:net';
import * as path from 'node:path';
import { runOk } from './engine';

export const REGISTRY_BIN = process.env.LAYERLENS_REGISTRY_BIN || '/usr/bin/docker-registry';

export async function freePort(): Promise<number> {
  const srv = net.createServer();
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', () => r()));
  const port = (srv.address() as net.AddressInfo).port;
  await new Promise<void>((r) => srv.close(() => r()));
  return port;
}

/** GET url: status (0 when nothing answers). */
function status(url: string): Promise<number> {
  return new Promise((resolve) => {
    const req = http.get(url, (res) => { res.resume(); resolve(res.statusCode ?? 0); });
    req.on('error', () => resolve(0));
    req.setTimeout(2000, () => { req.destroy(); resolve(0); });
  });
}

export interface Registry {
  /** HOST:PORT */
  host: string;
  port: number;
  proc: ChildProcess;
  stop(): Promise<void>;
}

export interface RegistryPair {
  open: Registry;
  auth: Registry;
  user: string;
  password: string;
  dir: string;
  stop(): Promise<void>;
}

function requireTools(): void {
  const missing = [REGISTRY_BIN, '/usr/bin/htpasswd', '/usr/bin/skopeo'].filter((b) => !existsSync(b));
  if (missing.length) {
    throw new Error(`registry tests need ${missing.join(', ')} (apt-get install docker-registry apache2-utils skopeo; .ci/run installs them)`);
  }
}

async function startOne(dir: string, name: string, storage: string, htpasswd?: string): Promise<Registry> {
  const port = await freePort();
  const cfg = path.join(dir, `${name}.yml`);
  const auth = htpasswd ? `auth:\n  htpasswd:\n    realm: layerlens-test\n    path: ${htpasswd}\n` : '';
  writeFileSync(cfg, `version: 0.1\nlog:\n  level: error\n  accesslog:\n    disabled: true\nstorage:\n  filesystem:\n    rootdirectory: ${storage}\n  delete:\n    enabled: true\nhttp:\n  addr: 127.0.0.1:${port}\n${auth}`);
  const proc = spawn(REGISTRY_BIN, ['serve', cfg], { stdio: ['ignore', 'ignore', 'pipe'] });
  let err = '';
  proc.stderr!.on('data', (b: Buffer) => { err = (err + b.toString()).slice(-4000); });
  const host = `127.0.0.1:${port}`;
  const deadline = Date.now() + 20_000;
  for (;;) {
    const s = await status(`http://${host}/v2/`);
    if (s === 200 || s === 401) break;
    if (proc.exitCode !== null || Date.now() > deadline) {
      proc.kill('SIGKILL');
      throw new Error(`docker-registry (${name}) did not start on ${host}: ${err.trim().split('\n').slice(-3).join(' | ')}`);
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  return {
    host, port, proc,
    stop: () => new Promise<void>((resolve) => {
      if (proc.exitCode !== null) { resolve(); return; }
      proc.once('exit', () => resolve());
      proc.kill('SIGTERM');
    }),
  };
}

/** An open registry and a basic-auth one (user `layerlens`) sharing storage under `dir`. */
export async function startRegistries(dir: string): Promise<RegistryPair> {
  requireTools();
  mkdirSync(dir, { recursive: true });
  const storage = path.join(dir, 'storage');
  const user = 'layerlens';
  const password = 'p4ss-' + Math.random().toString(36).slice(2);
  const htpasswd = path.join(dir, 'htpasswd');
  writeFileSync(htpasswd, await runOk('/usr/bin/htpasswd', ['-Bbn', user, password]));
  const open = await startOne(dir, 'open', storage);
  const auth = await startOne(dir, 'auth', storage, htpasswd).catch(async (e) => { await open.stop(); throw e; });
  return { open, auth, user, password, dir, stop: async () => { await Promise.all([open.stop(), auth.stop()]); } };
}

/** skopeo copy docker-archive:FILE docker://HOST/REPO:TAG (plain http, no TLS check). */
export async function push(archive: string, host: string, repoTag: string, format?: 'oci' | 'v2s2'): Promise<void> {
  await runOk('/usr/bin/skopeo', ['copy', '-q', '--dest-tls-verify=false', ...(format ? ['--format', format] : []), `docker-archive:${archive}`, `docker://${host}/${repoTag}`], { timeoutMs: 600_000 });
}

/** A docker config directory holding config.json as `docker login HOST` writes it. */
export function dockerLoginConfig(dir: string, auths: Record<string, { user: string; password: string }>): string {
  mkdirSync(dir, { recursive: true });
  const doc = { auths: Object.fromEntries(Object.entries(auths).map(([h, c]) => [h, { auth: Buffer.from(`${c.user}:${c.password}`).toString('base64') }])) };
  writeFileSync(path.join(dir, 'config.json'), JSON.stringify(doc, null, '\t'));
  return dir;
}
