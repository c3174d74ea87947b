// SSH pieces for ssh:// engine endpoints (docker-modem's ssh agent runs `docker system dial-stdio`
// on the remote host through ssh2). The docker CLI shells out to the system `ssh`, which checks
// the host key against known_hosts and finds the user's keys; ssh2 does neither by itself (it
// accepts any host key unless told otherwise), so this module provides:
//   - a known_hosts verifier (plain, comma lists, [host]:port, hashed |1| entries, * ? wildcards,
//     !negation, @revoked; @cert-authority lines are ignored because ssh2 has no certificate support),
//   - the authentication order: ssh-agent (SSH_AUTH_SOCK) first, then ~/.ssh/id_* private keys.
// Not supported (documented): ~/.ssh/config (Host aliases, ProxyJump, IdentityFile...), encrypted
// private keys without an agent, hardware (-sk) keys.
import { createHmac } from 'node:crypto';
import * as path from 'node:path';
import {
  utils as sshUtils, type AgentAuthMethod, type AuthMethod, type ConnectConfig, type PublicKeyAuthMethod,
  type ServerHostKeyAlgorithm,
} from 'ssh2';
import type { FsReader } from './endpoint';

export interface KnownHostEntry {
  marker?: '@revoked' | '@cert-authority';
  patterns: string;
  keyType: string;
  keyBase64: string;
}

/** Parse known_hosts text; malformed lines are skipped (as ssh does). */
export function parseKnownHosts(text: string): KnownHostEntry[] {
  const out: KnownHostEntry[] = [];
  for (const rawLine of text.split('\n')) {
    const line = rawLine.trim();
    if (line === '' || line.startsWith('#')) continue;
    const f = line.split(/\s+/);
    let marker: KnownHostEntry['marker'];
    if (f[0] === '@revoked' || f[0] === '@cert-authority') {
      marker = f[0];
      f.shift();
    } else if (f[0].startsWith('@')) {
      continue;
    }
    if (f.length < 3) continue;
    out.push({ marker, patterns: f[0], keyType: f[1], keyBase64: f[2] });
  }
  return out;
}

/** The name ssh looks up: "host" for port 22, "[host]:port" otherwise. */
export function knownHostsName(host: string, port: number): string {
  return port === 22 ? host : `[${host}]:${port}`;
}

function globMatch(pattern: string, name: string): boolean {
  // ssh's match_pattern: '*' any run, '?' one char; case-insensitive for host names.
  let re = '^';
  for (const ch of pattern.toLowerCase()) {
    if (ch === '*') re += '.*';
    else if (ch === '?') re += '.';
    else re += ch.replace(/[\\^$.|+()[\]{}]/g, '\\$&');
  }
  return new RegExp(re + '$').test(name.toLowerCase());
}

function hashedMatch(entry: string, name: string): boolean {
  // |1|base64(salt)|base64(HMAC-SHA1(salt, name))
  const parts = entry.split('|');
  if (parts.length !== 4 || parts[1] !== '1') return false;
  const salt = Buffer.from(parts[2], 'base64');
  const want = parts[3];
  return createHmac('sha1', salt).update(name).digest('base64') === want;
}

/** Does a known_hosts host field match this lookup name? */
export function hostFieldMatches(field: string, name: string): boolean {
  if (field.startsWith('|')) return hashedMatch(field, name);
  let positive = false;
  for (const p of field.split(',')) {
    if (p.startsWith('!')) {
      if (globMatch(p.slice(1), name)) return false;
    } else if (globMatch(p, name)) {
      positive = true;
    }
  }
  return positive;
}

/** The key type inside an ssh wire-format public key blob. */
export function keyTypeOfBlob(blob: Buffer): string | undefined {
  if (blob.length < 4) return undefined;
  const n = blob.readUInt32BE(0);
  if (n <= 0 || n > 64 || blob.length < 4 + n) return undefined;
  return blob.subarray(4, 4 + n).toString('latin1');
}

export type HostKeyVerdict =
  | { ok: true }
  | { ok: false; reason: 'unknown' | 'mismatch' | 'revoked'; message: string };

/**
 * Check a presented host key (ssh wire-format blob) for host:port against known_hosts entries,
 * with OpenSSH's rules: a revoked key fails; a listed key passes; a host listed with other keys is a
 * mismatch (possible man-in-the-middle); an unlisted host fails (the CLI's ssh would ask, and
 * without a terminal that fails too).
 */
export function checkHostKey(entries: KnownHostEntry[], host: string, port: number, blob: Buffer): HostKeyVerdict {
  const name = knownHostsName(host, port);
  const b64 = blob.toString('base64');
  const type = keyTypeOfBlob(blob) ?? 'unknown';
  let listed = false;
  for (const e of entries) {
    if (e.marker === '@revoked' && e.keyBase64 === b64) {
      return { ok: false, reason: 'revoked', message: `the ${type} host key of ${name} is marked @revoked in known_hosts` };
    }
  }
  for (const e of entries) {
    if (e.marker) continue;
    if (!hostFieldMatches(e.patterns, name)) continue;
    listed = true;
    if (e.keyBase64 === b64) return { ok: true };
  }
  if (listed) {
    return {
      ok: false, reason: 'mismatch',
      message: `the ${type} host key of ${name} does not match the one in known_hosts (possible man-in-the-middle attack; if the host was reinstalled, run: ssh-keygen -R '${name}')`,
    };
  }
  const sshCmd = port === 22 ? `ssh ${host}` : `ssh -p ${port} ${host}`;
  return {
    ok: false, reason: 'unknown',
    message: `${name} is not in known_hosts; connect once with \`${sshCmd}\` to verify and record its host key`,
  };
}

/** Host key algorithms to prefer so the server presents a key type known_hosts has (as OpenSSH does). */
export function preferredHostKeyAlgorithms(entries: KnownHostEntry[], host: string, port: number): ServerHostKeyAlgorithm[] {
  const name = knownHostsName(host, port);
  const out: ServerHostKeyAlgorithm[] = [];
  const add = (a: ServerHostKeyAlgorithm): void => { if (!out.includes(a)) out.push(a); };
  for (const e of entries) {
    if (e.marker || !hostFieldMatches(e.patterns, name)) continue;
    switch (e.keyType) {
      case 'ssh-ed25519':
      case 'ecdsa-sha2-nistp256':
      case 'ecdsa-sha2-nistp384':
      case 'ecdsa-sha2-nistp521':
        add(e.keyType);
        break;
      case 'ssh-rsa':
        add('rsa-sha2-512');
        add('rsa-sha2-256');
        add('ssh-rsa');
        break;
      default:
        break;
    }
  }
  return out;
}

export interface SshSettings {
  /** ssh-agent socket; default SSH_AUTH_SOCK. null disables the agent. */
  agentSocket?: string | null;
  /** Private key files to try, in order; default ~/.ssh/id_rsa, id_ecdsa, id_ed25519, id_dsa. */
  identityFiles?: string[];
  /** known_hosts files; default ~/.ssh/known_hosts, ~/.ssh/known_hosts2, /etc/ssh/ssh_known_hosts(2). */
  knownHostsFiles?: string[];
}

export interface SshPlan {
  config: ConnectConfig;
  /** Why the last connection's host key was refused (for the error message). */
  lastHostKeyProblem(): string | undefined;
  /** Keys that were found but cannot be used (encrypted without agent, unsupported). */
  skippedKeys: string[];
  hasCredentials: boolean;
}

/** Build the ssh2 connect settings (minus host/port/username, which docker-modem adds). */
export function planSsh(
  target: { host: string; port: number; username: string },
  settings: SshSettings, env: Readonly<Record<string, string | undefined>>, homeDir: string, fs: FsReader,
  readyTimeoutMs: number,
): SshPlan {
  const sshDir = path.join(homeDir, '.ssh');
  const knownFiles = settings.knownHostsFiles ?? [
    path.join(sshDir, 'known_hosts'), path.join(sshDir, 'known_hosts2'),
    '/etc/ssh/ssh_known_hosts', '/etc/ssh/ssh_known_hosts2',
  ];
  const entries: KnownHostEntry[] = [];
  for (const f of knownFiles) {
    let b: Buffer | undefined;
    try {
      b = fs.readFile(f);
    } catch {
      b = undefined;
    }
    if (b) entries.push(...parseKnownHosts(b.toString('utf8')));
  }

  const auth: AuthMethod[] = [];
  const agent = settings.agentSocket === undefined ? env.SSH_AUTH_SOCK : settings.agentSocket;
  if (agent) {
    const m: AgentAuthMethod = { type: 'agent', username: target.username, agent };
    auth.push(m);
  }
  const skippedKeys: string[] = [];
  const idFiles = settings.identityFiles ?? ['id_rsa', 'id_ecdsa', 'id_ed25519', 'id_dsa'].map((n) => path.join(sshDir, n));
  for (const f of idFiles) {
    let b: Buffer | undefined;
    try {
      b = fs.readFile(f);
    } catch {
      b = undefined;
    }
    if (!b) continue;
    const parsed = sshUtils.parseKey(b);
    if (parsed instanceof Error) {
      skippedKeys.push(`${f} (${/encrypt|passphrase/i.test(parsed.message) ? 'encrypted: add it to ssh-agent' : parsed.message})`);
      continue;
    }
    const m: PublicKeyAuthMethod = { type: 'publickey', username: target.username, key: b };
    auth.push(m);
  }

  let problem: string | undefined;
  const prefer = preferredHostKeyAlgorithms(entries, target.host, target.port);
  const config: ConnectConfig = {
    readyTimeout: readyTimeoutMs,
    authHandler: auth,
    hostVerifier: (key: Buffer): boolean => {
      const v = checkHostKey(entries, target.host, target.port, key);
      problem = v.ok ? undefined : v.message;
      return v.ok;
    },
  };
  if (prefer.length > 0) config.algorithms = { serverHostKey: { prepend: prefer, append: [], remove: [] } };
  return { config, lastHostKeyProblem: () => problem, skippedKeys, hasCredentials: auth.length > 0 };
}
