// Registry credentials as the docker CLI keeps them: `$DOCKER_CONFIG/config.json`, else
// `~/.docker/config.json`. For a host: its `credHelpers` entry, else `credsStore`, each a
// `docker-credential-NAME` executable run with argv (`get`, the server URL on stdin; never a
// shell); when the helper has nothing for the host, or there is no helper, the `auths` entry
// (`auth`: base64 of `user:pass`, or `username`/`password`; `identitytoken` for the token
// endpoint's refresh-token grant; `registrytoken`, a bearer token as is). Keys of `auths` are
// compared by host (`https://host/v1/` and `host` are the same key); Docker Hub's key is
// `https://index.docker.io/v1/`.
import { execFile } from 'node:child_process';
import { promises as fs } from 'node:fs';
import * as os from 'node:os';
import * as nodePath from 'node:path';
import { ImageFormatError } from '../../core/image/errors';

export interface Credentials {
  username?: string;
  password?: string;
  /** An OAuth refresh token for the token endpoint (docker login's identity token). */
  identityToken?: string;
  /** A bearer token to send as is. */
  registryToken?: string;
  /** Where they came from, for messages: `config.json`, `docker-credential-NAME`. */
  from: string;
}

interface AuthEntry { auth?: string; username?: string; password?: string; identitytoken?: string; registrytoken?: string }
interface DockerConfig { auths?: Record<string, AuthEntry>; credsStore?: string; credHelpers?: Record<string, string> }

export const HUB_SERVER = 'https://index.docker.io/v1/';

/** The docker CLI's configuration directory: $DOCKER_CONFIG, else ~/.docker. */
export function dockerConfigDir(env: NodeJS.ProcessEnv = process.env): string {
  return env.DOCKER_CONFIG || nodePath.join(env.HOME || os.homedir(), '.docker');
}

/** The host of an `auths` key or server URL: `https://Host:5000/v1/` → `host:5000`. */
export function keyHost(key: string): string {
  return key.replace(/^[a-z]+:\/\//i, '').replace(/\/.*$/, '').toLowerCase();
}

async function readConfig(dir: string): Promise<DockerConfig | undefined> {
  const file = nodePath.join(dir, 'config.json');
  let text: string;
  try {
    text = await fs.readFile(file, 'utf8');
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw new ImageFormatError('unsupported', `cannot read ${file}: ${(e as Error).message}`);
  }
  try {
    const doc = JSON.parse(text) as unknown;
    return doc && typeof doc === 'object' ? (doc as DockerConfig) : {};
  } catch (e) {
    throw new ImageFormatError('corrupt', `${file} is not valid JSON (${(e as Error).message})`);
  }
}

function fromEntry(e: AuthEntry, from: string): Credentials | undefined {
  const c: Credentials = { from };
  if (typeof e.auth === 'string' && e.auth) {
    const plain = Buffer.from(e.auth, 'base64').toString('utf8');
    const i = plain.indexOf(':');
    if (i < 0) throw new ImageFormatError('corrupt', `the auth of ${from} is not base64 of user:password`);
    c.username = plain.slice(0, i);
    c.password = plain.slice(i + 1);
  } else if (typeof e.username === 'string' && typeof e.password === 'string') {
    c.username = e.username;
    c.password = e.password;
  }
  if (typeof e.identitytoken === 'string' && e.identitytoken) c.identityToken = e.identitytoken;
  if (typeof e.registrytoken === 'string' && e.registrytoken) c.registryToken = e.registrytoken;
  return c.username !== undefined || c.identityToken || c.registryToken ? c : undefined;
}

/** Runs `docker-credential-NAME get` with the server URL on stdin (no shell). */
export function runCredentialHelper(name: string, server: string, timeoutMs = 30_000): Promise<Credentials | undefined> {
  if (!/^[A-Za-z0-9][A-Za-z0-9_.-]*$/.test(name)) {
    return Promise.reject(new ImageFormatError('unsupported', `credential helper name '${name}' in config.json is not a plain name`));
  }
  const exe = `docker-credential-${name}`;
  return new Promise((resolve, reject) => {
    const child = execFile(exe, ['get'], { timeout: timeoutMs, maxBuffer: 1024 * 1024, windowsHide: true }, (err, stdout, stderr) => {
      const out = String(stdout).trim();
      if (err) {
        // The helpers' protocol: "credentials not found in native keychain" on stdout, exit 1.
        if (/credentials not found/i.test(out + String(stderr))) { resolve(undefined); return; }
        const e = err as NodeJS.ErrnoException;
        const why = e.code === 'ENOENT' ? 'not found on PATH' : (String(stderr).trim() || out || e.message).split('\n')[0];
        reject(new ImageFormatError('unsupported', `credential helper ${exe} failed for ${server}: ${why}`));
        return;
      }
      try {
        const doc = JSON.parse(out) as { Username?: string; Secret?: string };
        if (typeof doc.Secret !== 'string' || doc.Secret === '') { resolve(undefined); return; }
        // A username of `<token>` marks an identity token (docker login with an OAuth flow).
        resolve(doc.Username === '<token>' ? { identityToken: doc.Secret, from: exe } : { username: doc.Username ?? '', password: doc.Secret, from: exe });
      } catch {
        reject(new ImageFormatError('corrupt', `credential helper ${exe} printed something that is not JSON for ${server}`));
      }
    });
    child.stdin?.on('error', () => undefined);
    child.stdin?.end(server);
  });
}

/** The credentials docker would use for `host` (as written in the reference; `docker.io` for Docker Hub). */
export async function credentialsFor(host: string, opts: { configDir?: string } = {}): Promise<Credentials | undefined> {
  const dir = opts.configDir ?? dockerConfigDir();
  const cfg = await readConfig(dir);
  if (!cfg) return undefined;
  const server = host === 'docker.io' ? HUB_SERVER : host;
  const wanted = host === 'docker.io' ? new Set(['docker.io', 'index.docker.io', 'registry-1.docker.io']) : new Set([host]);
  const helperEntry = cfg.credHelpers && typeof cfg.credHelpers === 'object'
    ? Object.entries(cfg.credHelpers).find(([k]) => wanted.has(keyHost(k))) : undefined;
  const helper = helperEntry?.[1] ?? (typeof cfg.credsStore === 'string' && cfg.credsStore ? cfg.credsStore : undefined);
  if (helper) {
    const got = await runCredentialHelper(helper, helperEntry ? helperEntry[0] : server);
    if (got) return got;
  }
  if (cfg.auths && typeof cfg.auths === 'object') {
    for (const [k, e] of Object.entries(cfg.auths)) {
      if (wanted.has(keyHost(k)) && e && typeof e === 'object') {
        const c = fromEntry(e, `${nodePath.join(dir, 'config.json')} (auths["${k}"])`);
        if (c) return c;
      }
    }
  }
  return undefined;
}
