// Unit tests for the engine endpoint resolver (pure: in-memory env, home and files).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as path from 'node:path';
import {
  resolveEndpoint, parseDockerHost, contextId, EndpointConfigError, describeEndpoint,
  podmanSocketCandidates, type FsReader, type ResolveEndpointInput,
} from '../../../src/engine/endpoint';
import { EngineError } from '../../../src/engine/types';

const HOME = '/home/u';
const CFG = path.join(HOME, '.docker');

function memFs(files: Record<string, string> = {}, sockets: string[] = []): FsReader {
  return {
    readFile: (f) => (f in files ? Buffer.from(files[f]) : undefined),
    exists: (f) => f in files || sockets.includes(f),
  };
}

function resolve(env: Record<string, string>, files: Record<string, string> = {}, sockets: string[] = ['/var/run/docker.sock'], extra: Partial<ResolveEndpointInput> = {}) {
  return resolveEndpoint({ env, homeDir: HOME, fs: memFs(files, sockets), ...extra });
}

function contextFiles(name: string, host: string, opts: { skip?: boolean; tls?: Record<string, string>; dir?: string } = {}): Record<string, string> {
  const dir = opts.dir ?? CFG;
  const id = contextId(name);
  const files: Record<string, string> = {
    [path.join(dir, 'contexts', 'meta', id, 'meta.json')]: JSON.stringify({
      Name: name, Metadata: {}, Endpoints: { docker: { Host: host, SkipTLSVerify: opts.skip ?? false } },
    }),
  };
  for (const [f, v] of Object.entries(opts.tls ?? {})) files[path.join(dir, 'contexts', 'tls', id, 'docker', f)] = v;
  return files;
}

function throwsConfig(fn: () => unknown, re: RegExp): void {
  assert.throws(fn, (e: unknown) => {
    assert.ok(e instanceof EndpointConfigError, `expected EndpointConfigError, got ${String(e)}`);
    assert.ok(e instanceof EngineError);
    assert.equal(e.code, 'unavailable');
    assert.match(e.message, re);
    assert.ok(!e.message.includes('\n'), 'one-line message');
    return true;
  });
}

test('context id is the sha256 of the name (as docker CLI stores it)', () => {
  // Value the docker 28 CLI printed for context "nope" on this machine.
  assert.equal(contextId('nope'), 'ca3704aa0b06f5954c79ee837faa152d84d6b2d42838f0637a15eda8337dbdce');
});

test('default: unix:///var/run/docker.sock', () => {
  const ep = resolve({});
  assert.equal(ep.kind, 'unix');
  assert.equal(ep.url, 'unix:///var/run/docker.sock');
  assert.equal(ep.socketPath, '/var/run/docker.sock');
  assert.equal(ep.origin, 'default');
  assert.equal(ep.tls, undefined);
  assert.deepEqual(ep.warnings, []);
});

test('DOCKER_HOST unix, tcp, ssh, npipe', () => {
  let ep = resolve({ DOCKER_HOST: 'unix:///tmp/x.sock' });
  assert.deepEqual([ep.kind, ep.url, ep.socketPath, ep.origin], ['unix', 'unix:///tmp/x.sock', '/tmp/x.sock', 'DOCKER_HOST']);
  ep = resolve({ DOCKER_HOST: 'unix://' });
  assert.equal(ep.socketPath, '/var/run/docker.sock');
  ep = resolve({ DOCKER_HOST: 'tcp://10.0.0.5:2375' });
  assert.deepEqual([ep.kind, ep.url, ep.host, ep.port, ep.tls], ['tcp', 'tcp://10.0.0.5:2375', '10.0.0.5', 2375, undefined]);
  ep = resolve({ DOCKER_HOST: 'ssh://me@build.example:2222' });
  assert.deepEqual([ep.kind, ep.url, ep.host, ep.port, ep.username], ['ssh', 'ssh://me@build.example:2222', 'build.example', 2222, 'me']);
  ep = resolve({ DOCKER_HOST: 'ssh://build.example' });
  assert.deepEqual([ep.kind, ep.host, ep.port, ep.username], ['ssh', 'build.example', undefined, undefined]);
  ep = resolve({ DOCKER_HOST: 'npipe:////./pipe/docker_engine' });
  assert.deepEqual([ep.kind, ep.socketPath], ['npipe', '//./pipe/docker_engine']);
  ep = resolve({ DOCKER_HOST: 'npipe://' });
  assert.equal(ep.socketPath, '//./pipe/docker_engine');
});

test('tcp normalization follows the CLI (opts.ParseTCPAddr)', () => {
  // Values checked against docker 20.10 and 28.2 `docker context inspect` on this machine.
  assert.equal(resolve({ DOCKER_HOST: 'myhost' }).url, 'tcp://myhost:2375');
  assert.equal(resolve({ DOCKER_HOST: 'tcp://' }).url, 'tcp://localhost:2375');
  assert.equal(resolve({ DOCKER_HOST: 'tcp://:2376' }).url, 'tcp://localhost:2376');
  assert.equal(resolve({ DOCKER_HOST: 'tcp://h:' }).url, 'tcp://h:2375');
  assert.equal(resolve({ DOCKER_HOST: '  tcp://h:1234  ' }).url, 'tcp://h:1234');
  const v6 = resolve({ DOCKER_HOST: 'tcp://[::1]:2376' });
  assert.deepEqual([v6.url, v6.host, v6.port], ['tcp://[::1]:2376', '::1', 2376]);
  assert.equal(resolve({ DOCKER_HOST: 'tcp://[::1]:' }).url, 'tcp://[::1]:2375');
  // An explicit host keeps the default port 2375 even with TLS (only an empty host defaults to 2376).
  const tlsFiles = { [path.join(CFG, 'ca.pem')]: 'CA' };
  assert.equal(resolve({ DOCKER_HOST: 'tcp://h', DOCKER_TLS_VERIFY: '1' }, tlsFiles).url, 'tcp://h:2375');
});

test('TLS from DOCKER_TLS_VERIFY + DOCKER_CERT_PATH', () => {
  const files = { '/certs/ca.pem': 'CA', '/certs/cert.pem': 'CERT', '/certs/key.pem': 'KEY' };
  const ep = resolve({ DOCKER_HOST: 'tcp://127.0.0.1:2376', DOCKER_TLS_VERIFY: '1', DOCKER_CERT_PATH: '/certs' }, files);
  assert.equal(ep.kind, 'tcp');
  assert.deepEqual(ep.tls, { verify: true, ca: Buffer.from('CA'), cert: Buffer.from('CERT'), key: Buffer.from('KEY') });
});

test('TLS: any non-empty DOCKER_TLS_VERIFY enables verification (even "0"), as in the CLI', () => {
  const files = { '/c/ca.pem': 'CA' };
  const ep = resolve({ DOCKER_HOST: 'tcp://h:2376', DOCKER_TLS_VERIFY: '0', DOCKER_CERT_PATH: '/c' }, files);
  assert.equal(ep.tls?.verify, true);
  // Empty means unset.
  assert.equal(resolve({ DOCKER_HOST: 'tcp://h:2376', DOCKER_TLS_VERIFY: '', DOCKER_CERT_PATH: '/c' }, files).tls, undefined);
});

test('TLS: DOCKER_TLS without verify = TLS with verification off', () => {
  const files = { '/c/ca.pem': 'CA', '/c/cert.pem': 'C', '/c/key.pem': 'K' };
  const ep = resolve({ DOCKER_HOST: 'tcp://h:2376', DOCKER_TLS: '1', DOCKER_CERT_PATH: '/c' }, files);
  assert.equal(ep.tls?.verify, false);
  assert.deepEqual(ep.tls?.ca, Buffer.from('CA'));
});

test('TLS: cert path defaults to the config dir (~/.docker, or DOCKER_CONFIG)', () => {
  let ep = resolve({ DOCKER_HOST: 'tcp://h:2376', DOCKER_TLS_VERIFY: '1' }, { [path.join(CFG, 'ca.pem')]: 'HOMECA' });
  assert.deepEqual(ep.tls?.ca, Buffer.from('HOMECA'));
  ep = resolve({ DOCKER_HOST: 'tcp://h:2376', DOCKER_TLS_VERIFY: '1', DOCKER_CONFIG: '/cfg' }, { '/cfg/ca.pem': 'CFGCA' });
  assert.deepEqual(ep.tls?.ca, Buffer.from('CFGCA'));
});

test('TLS: missing ca.pem is an error; missing cert/key are dropped (server-auth only)', () => {
  throwsConfig(() => resolve({ DOCKER_HOST: 'tcp://h:2376', DOCKER_TLS_VERIFY: '1', DOCKER_CERT_PATH: '/nonexist' }),
    /TLS is on \(DOCKER_TLS_VERIFY is set\) but \/nonexist\/ca\.pem does not exist/);
  const ep = resolve({ DOCKER_HOST: 'tcp://h:2376', DOCKER_TLS_VERIFY: '1', DOCKER_CERT_PATH: '/c' }, { '/c/ca.pem': 'CA', '/c/cert.pem': 'C' });
  assert.deepEqual(ep.tls, { verify: true, ca: Buffer.from('CA') });
});

test('TLS env with no DOCKER_HOST: default host becomes tcp://localhost:2376', () => {
  const ep = resolve({ DOCKER_TLS_VERIFY: '1' }, { [path.join(CFG, 'ca.pem')]: 'CA' });
  assert.deepEqual([ep.kind, ep.url, ep.origin, ep.tls?.verify], ['tcp', 'tcp://localhost:2376', 'default', true]);
});

test('TLS env is ignored for unix sockets and ssh', () => {
  const env = { DOCKER_TLS_VERIFY: '1', DOCKER_CERT_PATH: '/c' };
  assert.equal(resolve({ ...env, DOCKER_HOST: 'unix:///x.sock' }).tls, undefined);
  assert.equal(resolve({ ...env, DOCKER_HOST: 'ssh://u@h' }).tls, undefined);
});

test('DOCKER_CONTEXT selects a context from the store', () => {
  const files = contextFiles('remote', 'tcp://10.1.1.1:2376', { tls: { 'ca.pem': 'CA', 'cert.pem': 'C', 'key.pem': 'K' } });
  const ep = resolve({ DOCKER_CONTEXT: 'remote' }, files);
  assert.deepEqual([ep.kind, ep.url, ep.origin], ['tcp', 'tcp://10.1.1.1:2376', 'context:remote']);
  assert.deepEqual(ep.tls, { verify: true, ca: Buffer.from('CA'), cert: Buffer.from('C'), key: Buffer.from('K') });
  assert.equal(describeEndpoint(ep), 'tcp://10.1.1.1:2376 (docker context "remote")');
});

test('context: tcp without TLS files is plain tcp; SkipTLSVerify alone turns TLS on without verification', () => {
  let ep = resolve({ DOCKER_CONTEXT: 'plain' }, contextFiles('plain', 'tcp://h:2375'));
  assert.equal(ep.tls, undefined);
  ep = resolve({ DOCKER_CONTEXT: 'insecure' }, contextFiles('insecure', 'tcp://h:2376', { skip: true }));
  assert.deepEqual(ep.tls, { verify: false });
  ep = resolve({ DOCKER_CONTEXT: 'caonly' }, contextFiles('caonly', 'tcp://h:2376', { tls: { 'ca.pem': 'CA' } }));
  assert.deepEqual(ep.tls, { verify: true, ca: Buffer.from('CA') });
});

test('context: ssh and unix hosts; TLS files do not apply to them', () => {
  let ep = resolve({ DOCKER_CONTEXT: 's' }, contextFiles('s', 'ssh://root@box:2200', { tls: { 'ca.pem': 'CA' } }));
  assert.deepEqual([ep.kind, ep.username, ep.host, ep.port, ep.tls], ['ssh', 'root', 'box', 2200, undefined]);
  ep = resolve({ DOCKER_CONTEXT: 'u' }, contextFiles('u', 'unix:///run/user/1000/docker.sock'));
  assert.deepEqual([ep.kind, ep.socketPath, ep.origin], ['unix', '/run/user/1000/docker.sock', 'context:u']);
});

test('config.json currentContext, with DOCKER_CONFIG overriding ~/.docker', () => {
  const files = {
    ...contextFiles('fromhome', 'tcp://home:2375'),
    [path.join(CFG, 'config.json')]: JSON.stringify({ auths: {}, currentContext: 'fromhome' }),
    ...contextFiles('fromcfg', 'tcp://cfg:2375', { dir: '/elsewhere' }),
    '/elsewhere/config.json': JSON.stringify({ currentContext: 'fromcfg' }),
  };
  assert.equal(resolve({}, files).url, 'tcp://home:2375');
  assert.equal(resolve({}, files).origin, 'context:fromhome');
  assert.equal(resolve({ DOCKER_CONFIG: '/elsewhere' }, files).url, 'tcp://cfg:2375');
});

test('precedence: DOCKER_HOST > DOCKER_CONTEXT > currentContext > default', () => {
  const files = {
    ...contextFiles('envctx', 'tcp://envctx:2375'),
    ...contextFiles('cfgctx', 'tcp://cfgctx:2375'),
    [path.join(CFG, 'config.json')]: JSON.stringify({ currentContext: 'cfgctx' }),
  };
  const all = resolve({ DOCKER_HOST: 'tcp://envhost:2375', DOCKER_CONTEXT: 'envctx' }, files);
  assert.deepEqual([all.url, all.origin], ['tcp://envhost:2375', 'DOCKER_HOST']);
  assert.deepEqual(all.warnings, ['DOCKER_CONTEXT is ignored because DOCKER_HOST is set']);
  assert.equal(resolve({ DOCKER_CONTEXT: 'envctx' }, files).url, 'tcp://envctx:2375');
  assert.equal(resolve({}, files).url, 'tcp://cfgctx:2375');
  // Empty env values count as unset (docker CLI >= 23).
  assert.equal(resolve({ DOCKER_HOST: '', DOCKER_CONTEXT: '' }, files).url, 'tcp://cfgctx:2375');
  // "default" names the default context.
  assert.equal(resolve({ DOCKER_CONTEXT: 'default' }, files).url, 'unix:///var/run/docker.sock');
});

test('host option (machine setting) wins over DOCKER_HOST and contexts; TLS env still applies', () => {
  const files = {
    ...contextFiles('cfgctx', 'tcp://cfgctx:2375'),
    [path.join(CFG, 'config.json')]: JSON.stringify({ currentContext: 'cfgctx' }),
    '/c/ca.pem': 'CA',
  };
  let ep = resolve({ DOCKER_HOST: 'tcp://envhost:2375', DOCKER_CONTEXT: 'cfgctx' }, files, undefined, { host: 'unix:///opt/e.sock' });
  assert.deepEqual([ep.url, ep.origin], ['unix:///opt/e.sock', 'setting']);
  assert.deepEqual(ep.warnings, ['DOCKER_HOST is ignored because the engine host is set (setting)']);
  ep = resolve({ DOCKER_TLS_VERIFY: '1', DOCKER_CERT_PATH: '/c' }, files, undefined, { host: 'tcp://h:2376', hostOrigin: 'layerlens.engine.host' });
  assert.deepEqual([ep.url, ep.origin, ep.tls?.verify], ['tcp://h:2376', 'layerlens.engine.host', true]);
  // Blank host option = not set.
  assert.equal(resolve({}, files, undefined, { host: '  ' }).origin, 'context:cfgctx');
  throwsConfig(() => resolve({}, files, undefined, { host: 'bogus://x', hostOrigin: 'layerlens.engine.host' }),
    /^Invalid engine host \(layerlens\.engine\.host\) "bogus:\/\/x": unsupported scheme/);
});

test('context option wins over everything; both options is an error', () => {
  const files = contextFiles('c1', 'tcp://c1:2375');
  assert.equal(resolve({ DOCKER_HOST: 'tcp://envhost:2375' }, files, undefined, { context: 'c1' }).url, 'tcp://c1:2375');
  throwsConfig(() => resolve({}, files, undefined, { context: 'c1', host: 'tcp://x:1' }), /set only one/);
});

test('missing or broken contexts give clear errors', () => {
  throwsConfig(() => resolve({ DOCKER_CONTEXT: 'nope' }),
    /^Docker context "nope" \(from DOCKER_CONTEXT\) not found: .*ca3704aa0b06f5954c79ee837faa152d84d6b2d42838f0637a15eda8337dbdce\/meta\.json does not exist/);
  throwsConfig(() => resolve({}, { [path.join(CFG, 'config.json')]: '{"currentContext":"gone"}' }),
    /^Docker context "gone" \(currentContext in \/home\/u\/\.docker\/config\.json\) not found/);
  const id = contextId('broken');
  throwsConfig(() => resolve({ DOCKER_CONTEXT: 'broken' }, { [path.join(CFG, 'contexts', 'meta', id, 'meta.json')]: '{nope' }),
    /^Docker context "broken": cannot parse/);
  throwsConfig(() => resolve({ DOCKER_CONTEXT: 'noep' }, { [path.join(CFG, 'contexts', 'meta', contextId('noep'), 'meta.json')]: '{"Name":"noep","Endpoints":{}}' }),
    /has no docker endpoint/);
  throwsConfig(() => resolve({ DOCKER_CONTEXT: 'badhost' }, contextFiles('badhost', 'gopher://x')),
    /^Invalid Host in docker context "badhost" "gopher:\/\/x": unsupported scheme/);
});

test('a malformed config.json is a warning, not an error (as the CLI)', () => {
  const ep = resolve({}, { [path.join(CFG, 'config.json')]: '{not json' });
  assert.equal(ep.url, 'unix:///var/run/docker.sock');
  assert.equal(ep.warnings.length, 1);
  assert.match(ep.warnings[0], /^Error loading \/home\/u\/\.docker\/config\.json/);
});

test('podman fallback only when nothing is configured and the docker socket is missing', () => {
  const xdg = '/run/user/1000';
  const rootless = `${xdg}/podman/podman.sock`;
  assert.deepEqual(podmanSocketCandidates({ XDG_RUNTIME_DIR: xdg }), [rootless, '/run/podman/podman.sock']);
  let ep = resolve({ XDG_RUNTIME_DIR: xdg }, {}, [rootless, '/run/podman/podman.sock']);
  assert.deepEqual([ep.url, ep.origin], [`unix://${rootless}`, 'podman']);
  assert.equal(describeEndpoint(ep), `unix://${rootless} (Podman socket)`);
  ep = resolve({ XDG_RUNTIME_DIR: xdg }, {}, ['/run/podman/podman.sock']);
  assert.deepEqual([ep.url, ep.origin], ['unix:///run/podman/podman.sock', 'podman']);
  // Docker socket present: docker wins.
  ep = resolve({ XDG_RUNTIME_DIR: xdg }, {}, ['/var/run/docker.sock', rootless]);
  assert.equal(ep.origin, 'default');
  // Nothing anywhere: the default socket (the client will report it missing).
  ep = resolve({ XDG_RUNTIME_DIR: xdg }, {}, []);
  assert.deepEqual([ep.url, ep.origin], ['unix:///var/run/docker.sock', 'default']);
  // Explicit configuration is never redirected to podman.
  ep = resolve({ DOCKER_HOST: 'unix:///var/run/docker.sock' }, {}, [rootless]);
  assert.equal(ep.origin, 'DOCKER_HOST');
});

test('bad DOCKER_HOST values give clear one-line errors', () => {
  const cases: Array<[string, RegExp]> = [
    ['http://h:2375', /^Invalid DOCKER_HOST "http:\/\/h:2375": use tcp:\/\/h:2375 \(with DOCKER_TLS_VERIFY=1 for TLS\) instead of http:\/\//],
    ['gopher://h', /unsupported scheme "gopher:\/\/"/],
    ['fd://', /fd:\/\/ .*only meaningful for dockerd/],
    ['tcp://h:notaport', /expected tcp:\/\/HOST:PORT/],
    ['tcp://h:70000', /expected tcp:\/\/HOST:PORT|port must be 1-65535/],
    ['tcp://h:0', /port must be 1-65535/],
    ['tcp://tcp://h', /expected host:port after tcp:\/\//],
    ['tcp://u:p@h:1', /credentials are not allowed/],
    ['unix://unix:///x', /expected a socket path/],
    ['ssh://u:secret@h', /plain-text passwords are not supported/],
    ['ssh://h?x=1', /query parameters are not allowed/],
    ['ssh://h#f', /fragments are not allowed/],
    ['ssh://', /expected ssh:\/\/|host name is empty/],
    ['ssh://h/run/docker.sock', /remote socket path .* not supported/],
    ['tcp://h\n:1', /control characters/],
  ];
  for (const [v, re] of cases) throwsConfig(() => resolve({ DOCKER_HOST: v }), re);
});

test('parseDockerHost is exported for the settings UI', () => {
  assert.equal(parseDockerHost('', false).url, 'unix:///var/run/docker.sock');
  assert.equal(parseDockerHost('', true).url, 'tcp://localhost:2376');
  assert.equal(parseDockerHost('ssh://u@[::1]:22', false).url, 'ssh://u@[::1]:22');
});
