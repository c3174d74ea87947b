// Credentials as the docker CLI keeps them: config.json's auths (docker login's base64 user:pass,
// keys with or without scheme and path), credHelpers and credsStore run as programs with argv (the
// server on stdin), "credentials not found" falling back to auths, and clear errors.
import { test, before, after } from 'node:test';
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { credentialsFor, keyHost } from '../../../../src/sources/registry/credentials';

let dir = '';
let bin = '';
const oldPath = process.env.PATH;

function config(name: string, doc: unknown): string {
  const d = path.join(dir, name);
  fs.mkdirSync(d, { recursive: true });
  fs.writeFileSync(path.join(d, 'config.json'), JSON.stringify(doc));
  return d;
}

before(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'layerlens-creds-'));
  bin = path.join(dir, 'bin');
  fs.mkdirSync(bin);
  // A helper that answers for one server and records what it was asked (argv and stdin).
  fs.writeFileSync(path.join(bin, 'docker-credential-fake'), `#!/bin/sh
read server
echo "$* $server" >> "${path.join(dir, 'helper.log')}"
if [ "$server" = "reg.example:5000" ]; then echo '{"ServerURL":"reg.example:5000","Username":"helper-user","Secret":"helper-secret"}'; exit 0; fi
if [ "$server" = "tok.example" ]; then echo '{"ServerURL":"tok.example","Username":"<token>","Secret":"refresh-me"}'; exit 0; fi
echo "credentials not found in native keychain"; exit 1
`, { mode: 0o755 });
  fs.writeFileSync(path.join(bin, 'docker-credential-broken'), '#!/bin/sh\necho "the keychain is locked" >&2\nexit 3\n', { mode: 0o755 });
  process.env.PATH = `${bin}:${oldPath}`;
});
after(() => {
  process.env.PATH = oldPath;
  fs.rmSync(dir, { recursive: true, force: true });
});

test('auths as docker login writes them', async () => {
  const d = config('login', { auths: { '127.0.0.1:5000': { auth: Buffer.from('user:pa:ss').toString('base64') }, 'https://index.docker.io/v1/': { auth: Buffer.from('hub:hubpw').toString('base64') } } });
  assert.deepEqual(await credentialsFor('127.0.0.1:5000', { configDir: d }), { username: 'user', password: 'pa:ss', from: `${path.join(d, 'config.json')} (auths["127.0.0.1:5000"])` });
  assert.equal((await credentialsFor('docker.io', { configDir: d }))?.username, 'hub');
  assert.equal(await credentialsFor('other:5000', { configDir: d }), undefined);
  assert.equal(await credentialsFor('127.0.0.1:5000', { configDir: path.join(dir, 'absent') }), undefined);
  const keyed = config('keyed', { auths: { 'http://Reg.Example:5000/v2/': { username: 'u', password: 'p', identitytoken: 'idt' } } });
  const c = await credentialsFor('reg.example:5000', { configDir: keyed });
  assert.equal(c?.username, 'u');
  assert.equal(c?.identityToken, 'idt');
  assert.equal(keyHost('https://index.docker.io/v1/'), 'index.docker.io');
});

test('credHelpers and credsStore run docker-credential-NAME get, without a shell', async () => {
  const d = config('helpers', {
    credHelpers: { 'reg.example:5000': 'fake' }, credsStore: 'fake',
    auths: { 'fallback.example': { auth: Buffer.from('f:g').toString('base64') } },
  });
  assert.deepEqual(await credentialsFor('reg.example:5000', { configDir: d }), { username: 'helper-user', password: 'helper-secret', from: 'docker-credential-fake' });
  assert.deepEqual(await credentialsFor('tok.example', { configDir: d }), { identityToken: 'refresh-me', from: 'docker-credential-fake' });
  // The store has nothing for this host: auths answers.
  assert.equal((await credentialsFor('fallback.example', { configDir: d }))?.username, 'f');
  assert.equal(await credentialsFor('nobody.example', { configDir: d }), undefined);
  const log = fs.readFileSync(path.join(dir, 'helper.log'), 'utf8').trim().split('\n');
  assert.deepEqual(log.slice(0, 2), ['get reg.example:5000', 'get tok.example']);
});

test('a failing, missing or oddly named helper, and a broken config.json, are one clear error', async () => {
  await assert.rejects(credentialsFor('x.example', { configDir: config('broken', { credsStore: 'broken' }) }), /credential helper docker-credential-broken failed for x\.example: the keychain is locked/);
  await assert.rejects(credentialsFor('x.example', { configDir: config('missing', { credsStore: 'nosuch' }) }), /docker-credential-nosuch failed for x\.example: not found on PATH/);
  await assert.rejects(credentialsFor('x.example', { configDir: config('odd', { credsStore: '../../bin/sh' }) }), /is not a plain name/);
  const bad = path.join(dir, 'badjson');
  fs.mkdirSync(bad);
  fs.writeFileSync(path.join(bad, 'config.json'), '{"auths":');
  await assert.rejects(credentialsFor('x.example', { configDir: bad }), /config\.json is not valid JSON/);
});
