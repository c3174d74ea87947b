// Unit tests for ssh:// support: known_hosts matching and the auth plan (agent, ~/.ssh/id_* keys).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  parseKnownHosts, checkHostKey, hostFieldMatches, knownHostsName, keyTypeOfBlob,
  preferredHostKeyAlgorithms, planSsh,
} from '../../../src/engine/ssh';
import type { FsReader } from '../../../src/engine/endpoint';

// Generated with ssh-keygen (ed25519) and hashed with `ssh-keygen -H` (OpenSSH 9.2).
const KEY = 'AAAAC3NzaC1lZDI1NTE5AAAAIFoigMLXEDOR9MUp9g90F4ih/qPW+3giRl6t8BULN8KG';
const BLOB = Buffer.from(KEY, 'base64');
const HASHED_127_2222 = '|1|gcPVbUljYGQ04XZIl2DO2toJ/a0=|FADW6nivaRZgF0CvmVmaLAeXGQQ=';
const HASHED_BUILD = '|1|RC5NdS55iz2/q46ffWl+/7vRCLI=|qisc8pJI28ZZy4AsvQ+V8pry5BM=';
const OTHER = Buffer.concat([Buffer.from([0, 0, 0, 11]), Buffer.from('ssh-ed25519'), Buffer.from([0, 0, 0, 32]), Buffer.alloc(32, 1)]);

test('lookup names follow OpenSSH: [host]:port unless port 22', () => {
  assert.equal(knownHostsName('h', 22), 'h');
  assert.equal(knownHostsName('127.0.0.1', 2222), '[127.0.0.1]:2222');
});

test('host field matching: plain, lists, wildcards, negation, hashed', () => {
  assert.ok(hostFieldMatches('build.example.com', 'build.example.com'));
  assert.ok(hostFieldMatches('a,Build.Example.com,b', 'build.example.com'));
  assert.ok(hostFieldMatches('*.example.com', 'build.example.com'));
  assert.ok(hostFieldMatches('build?.example.com', 'build1.example.com'));
  assert.ok(!hostFieldMatches('*.example.com,!build.example.com', 'build.example.com'));
  assert.ok(!hostFieldMatches('example.com', 'build.example.com'));
  assert.ok(!hostFieldMatches('build.example.com', '[build.example.com]:2222'));
  assert.ok(hostFieldMatches('[127.0.0.1]:2222', '[127.0.0.1]:2222'));
  assert.ok(hostFieldMatches(HASHED_127_2222, '[127.0.0.1]:2222'));
  assert.ok(!hostFieldMatches(HASHED_127_2222, '127.0.0.1'));
  assert.ok(hostFieldMatches(HASHED_BUILD, 'build.example.com'));
  // Regex metacharacters in patterns are literal.
  assert.ok(!hostFieldMatches('a+b', 'aab'));
});

test('key type from the wire blob', () => {
  assert.equal(keyTypeOfBlob(BLOB), 'ssh-ed25519');
  assert.equal(keyTypeOfBlob(Buffer.alloc(2)), undefined);
});

test('checkHostKey: known, mismatch, unknown, revoked', () => {
  const entries = parseKnownHosts([
    '# comment', '',
    `${HASHED_127_2222} ssh-ed25519 ${KEY}`,
    `build.example.com ssh-ed25519 ${KEY}`,
    'garbage-line',
    `@cert-authority *.example.com ssh-ed25519 ${KEY}`,
  ].join('\n'));
  assert.equal(entries.length, 3);
  assert.deepEqual(checkHostKey(entries, '127.0.0.1', 2222, BLOB), { ok: true });
  assert.deepEqual(checkHostKey(entries, 'build.example.com', 22, BLOB), { ok: true });
  const mm = checkHostKey(entries, 'build.example.com', 22, OTHER);
  assert.equal(mm.ok, false);
  assert.ok(!mm.ok && mm.reason === 'mismatch' && /does not match.*man-in-the-middle.*ssh-keygen -R 'build\.example\.com'/.test(mm.message));
  // A @cert-authority line alone does not make a host known (ssh2 cannot do certificates).
  const un = checkHostKey(entries, 'other.example.com', 22, BLOB);
  assert.ok(!un.ok && un.reason === 'unknown' && un.message === 'other.example.com is not in known_hosts; connect once with `ssh other.example.com` to verify and record its host key');
  const un2 = checkHostKey(entries, '127.0.0.1', 2200, BLOB);
  assert.ok(!un2.ok && /`ssh -p 2200 127\.0\.0\.1`/.test(un2.message));
  const revoked = parseKnownHosts(`@revoked * ssh-ed25519 ${KEY}\nbuild.example.com ssh-ed25519 ${KEY}`);
  const rv = checkHostKey(revoked, 'build.example.com', 22, BLOB);
  assert.ok(!rv.ok && rv.reason === 'revoked');
});

test('host key algorithms prefer what known_hosts has', () => {
  const entries = parseKnownHosts(`h ssh-rsa AAAA\nh ecdsa-sha2-nistp256 AAAA\nx ssh-ed25519 AAAA`);
  assert.deepEqual(preferredHostKeyAlgorithms(entries, 'h', 22), ['rsa-sha2-512', 'rsa-sha2-256', 'ssh-rsa', 'ecdsa-sha2-nistp256']);
  assert.deepEqual(preferredHostKeyAlgorithms(entries, 'nothere', 22), []);
});

function memFs(files: Record<string, string | Buffer>): FsReader {
  return {
    readFile: (f) => (f in files ? Buffer.from(files[f]) : undefined),
    exists: (f) => f in files,
  };
}

// A real unencrypted OpenSSH ed25519 private key (test-only, generated for this file; public part = KEY).
const PRIV = `-----BEGIN OPENSSH PRIVATE KEY-----
b3BlbnNzaC1rZXktdjEAAAAABG5vbmUAAAAEbm9uZQAAAAAAAAABAAAAMwAAAAtzc2gtZW
QyNTUxOQAAACBaIoDC1xAzkfTFKfYPdBeIof6j1vt4IkZerfAVCzfChgAAAIgsPCCcLDwg
nAAAAAtzc2gtZWQyNTUxOQAAACBaIoDC1xAzkfTFKfYPdBeIof6j1vt4IkZerfAVCzfChg
AAAEBzUd5x7ZMzbAVhJUuDM5Le6l4KBMWfqWnUBhkGZ2ytLloigMLXEDOR9MUp9g90F4ih
/qPW+3giRl6t8BULN8KGAAAAAAECAwQF
-----END OPENSSH PRIVATE KEY-----
`;

test('auth plan: agent first, then usable ~/.ssh/id_* keys; unusable keys are reported', () => {
  const fs = memFs({
    '/h/.ssh/id_rsa': 'not a key',
    '/h/.ssh/id_ed25519': PRIV,
    '/h/.ssh/known_hosts': `${HASHED_127_2222} ssh-ed25519 ${KEY}\n`,
  });
  const plan = planSsh({ host: '127.0.0.1', port: 2222, username: 'root' }, {}, { SSH_AUTH_SOCK: '/tmp/agent.sock' }, '/h', fs, 5000);
  assert.ok(plan.hasCredentials);
  const auth = plan.config.authHandler as Array<{ type: string; username: string }>;
  assert.deepEqual(auth.map((a) => a.type), ['agent', 'publickey']);
  assert.ok(auth.every((a) => a.username === 'root'));
  assert.equal(plan.skippedKeys.length, 1);
  assert.match(plan.skippedKeys[0], /^\/h\/\.ssh\/id_rsa /);
  assert.equal(plan.config.readyTimeout, 5000);
  assert.deepEqual(plan.config.algorithms?.serverHostKey, { prepend: ['ssh-ed25519'], append: [], remove: [] });
  // The verifier uses known_hosts and remembers why it refused.
  const verify = plan.config.hostVerifier as (k: Buffer) => boolean;
  assert.equal(verify(BLOB), true);
  assert.equal(plan.lastHostKeyProblem(), undefined);
  assert.equal(verify(OTHER), false);
  assert.match(plan.lastHostKeyProblem() ?? '', /does not match/);
});

test('auth plan: no agent and no keys means no credentials', () => {
  const plan = planSsh({ host: 'h', port: 22, username: 'u' }, {}, {}, '/h', memFs({}), 1000);
  assert.equal(plan.hasCredentials, false);
  const planNoAgent = planSsh({ host: 'h', port: 22, username: 'u' }, { agentSocket: null }, { SSH_AUTH_SOCK: '/a' }, '/h', memFs({}), 1000);
  assert.equal(planNoAgent.hasCredentials, false);
});
