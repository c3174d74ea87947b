// The registry transport against small local servers: retries (5xx, 429's Retry-After) and their
// end, basic and bearer challenges (an identity token by the refresh-token grant), https with a CA
// from certs.d/HOST, plain http only where allowed, and the blob reader's digest and size checks.
import { test, before, after } from 'node:test';
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as http from 'node:http';
import * as https from 'node:https';
import type { AddressInfo } from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import { createHash } from 'node:crypto';
import { RegistryClient } from '../../../../src/sources/registry/client';
import { parseRegistryRef } from '../../../../src/sources/registry/reference';
import { RegistryError, RegistryTransport, parseChallenge, retryAfterMs } from '../../../../src/sources/registry/transport';
import { generateTls } from '../../../support/tls';

type Handler = (req: http.IncomingMessage, res: http.ServerResponse, body: string) => void;

async function serve(handler: Handler, tlsOpts?: https.ServerOptions): Promise<{ host: string; close(): Promise<void> }> {
  const onRequest = (req: http.IncomingMessage, res: http.ServerResponse): void => {
    const parts: Buffer[] = [];
    req.on('data', (c: Buffer) => parts.push(c));
    req.on('end', () => handler(req, res, Buffer.concat(parts).toString()));
  };
  const server = tlsOpts ? https.createServer(tlsOpts, onRequest) : http.createServer(onRequest);
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  return { host: `127.0.0.1:${(server.address() as AddressInfo).port}`, close: () => new Promise((r) => { server.closeAllConnections(); server.close(() => r()); }) };
}

let dir = '';
before(() => { dir = fs.mkdtempSync(path.join(os.tmpdir(), 'layerlens-transport-')); });
after(() => fs.rmSync(dir, { recursive: true, force: true }));

const transport = (host: string, extra: ConstructorParameters<typeof RegistryTransport>[1] = {}): RegistryTransport =>
  new RegistryTransport(parseRegistryRef(`registry://${host}/team/app:1`), { backoffMs: 1, dockerConfigDir: path.join(dir, 'none'), ...extra });

test('challenges and Retry-After parse', () => {
  assert.deepEqual(parseChallenge('Bearer realm="https://auth.example/token",service="reg",scope="repository:a/b:pull,push"'),
    { scheme: 'bearer', params: { realm: 'https://auth.example/token', service: 'reg', scope: 'repository:a/b:pull,push' } });
  assert.deepEqual(parseChallenge(['Basic realm="x"', 'Bearer realm="r"'])?.scheme, 'bearer');
  assert.equal(parseChallenge('Basic realm=test')?.params.realm, 'test');
  assert.equal(parseChallenge(undefined), undefined);
  assert.equal(retryAfterMs('3'), 3000);
  assert.equal(retryAfterMs('3600'), 60_000);
  assert.equal(retryAfterMs(new Date(Date.now() + 2000).toUTCString(), Date.now()) ! > 500, true);
  assert.equal(retryAfterMs('soon'), undefined);
});

test('plain http: loopback and hosts listed as insecure only', () => {
  assert.ok(transport('127.0.0.1:5000').mayUseHttp);
  assert.ok(!transport('registry.example:5000').mayUseHttp);
  assert.ok(transport('registry.example:5000', { insecure: ['Registry.Example:5000'] }).mayUseHttp);
});

test('5xx and 429 are retried with backoff, then one error naming the registry', async () => {
  let n = 0;
  const s = await serve((req, res) => { n++; res.writeHead(n < 3 ? 503 : n < 4 ? 429 : 200, n === 3 ? { 'retry-after': '0' } : {}).end('{}'); });
  const t = transport(s.host);
  try {
    const res = await t.request('/v2/');
    res.resume();
    assert.equal(res.statusCode, 200);
    assert.equal(t.stats.retries, 3);
    n = -100;
    const t2 = transport(s.host, { retries: 2 });
    await assert.rejects(t2.request('/v2/'), (e: unknown) => e instanceof RegistryError && e.kind === 'unreachable' && /^registry 127\.0\.0\.1:\d+ answered 503$/.test(e.message));
    assert.equal(t2.stats.retries, 2);
    assert.equal(t2.stats.requests, 4, "https first (refused), then plain http three times");
    t2.close();
  } finally {
    t.close();
    await s.close();
  }
});

test('basic: the credentials after a challenge; refused ones are one unauthorized error', async () => {
  const good = 'Basic ' + Buffer.from('u:p').toString('base64');
  const s = await serve((req, res) => {
    if (req.headers.authorization === good) { res.writeHead(200).end('{}'); return; }
    res.writeHead(401, { 'www-authenticate': 'Basic realm="r"' }).end();
  });
  const cfg = (pw: string): string => {
    const d = fs.mkdtempSync(path.join(dir, 'cfg-'));
    fs.writeFileSync(path.join(d, 'config.json'), JSON.stringify({ auths: { [s.host]: { auth: Buffer.from(`u:${pw}`).toString('base64') } } }));
    return d;
  };
  try {
    const ok = transport(s.host, { dockerConfigDir: cfg('p') });
    (await ok.request('/v2/')).resume();
    ok.close();
    const bad = transport(s.host, { dockerConfigDir: cfg('wrong') });
    await assert.rejects(bad.request('/v2/'), /unauthorized to read team\/app: it refused the user name and password; with the credentials from .*config\.json/);
    bad.close();
    const none = transport(s.host);
    await assert.rejects(none.request('/v2/'), /unauthorized to read team\/app: it wants a user name and password; no credentials for 127\.0\.0\.1:\d+ in config\.json/);
    none.close();
  } finally {
    await s.close();
  }
});

test('bearer with an identity token: the refresh-token grant, one token shared by concurrent requests', async () => {
  let tokens = 0;
  let form: URLSearchParams | undefined;
  const s = await serve((req, res, body) => {
    if (req.url === '/token' && req.method === 'POST') {
      form = new URLSearchParams(body);
      tokens++;
      res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ access_token: 'T' }));
      return;
    }
    if (req.headers.authorization === 'Bearer T') { res.writeHead(200).end('{}'); return; }
    res.writeHead(401, { 'www-authenticate': `Bearer realm="http://${req.headers.host}/token",service="svc"` }).end();
  });
  const d = fs.mkdtempSync(path.join(dir, 'idt-'));
  fs.writeFileSync(path.join(d, 'config.json'), JSON.stringify({ auths: { [s.host]: { identitytoken: 'refresh-me' } } }));
  const t = transport(s.host, { dockerConfigDir: d });
  try {
    await Promise.all([1, 2, 3].map(async () => (await t.request('/v2/team/app/manifests/1')).resume()));
    assert.equal(tokens, 1);
    assert.equal(form?.get('grant_type'), 'refresh_token');
    assert.equal(form?.get('refresh_token'), 'refresh-me');
    assert.equal(form?.get('scope'), 'repository:team/app:pull');
    assert.equal(form?.get('service'), 'svc');
  } finally {
    t.close();
    await s.close();
  }
});

test('https with a CA from certs.d/HOST; a client certificate there too', async () => {
  const tls = await generateTls(path.join(dir, 'tls'));
  let clientCert = false;
  const s = await serve((req, res) => {
    clientCert = !!(req.socket as import('node:tls').TLSSocket).getPeerCertificate()?.subject;
    res.writeHead(200).end('{}');
  }, { cert: fs.readFileSync(tls.serverCert), key: fs.readFileSync(tls.serverKey), ca: fs.readFileSync(tls.caCert), requestCert: true, rejectUnauthorized: false });
  const certsDir = path.join(dir, 'certs.d');
  fs.mkdirSync(path.join(certsDir, s.host), { recursive: true });
  fs.copyFileSync(tls.caCert, path.join(certsDir, s.host, 'ca.crt'));
  fs.copyFileSync(tls.clientCert, path.join(certsDir, s.host, 'client.cert'));
  fs.copyFileSync(tls.clientKey, path.join(certsDir, s.host, 'client.key'));
  const t = transport(s.host, { certsDir });
  try {
    const res = await t.request('/v2/');
    res.resume();
    assert.equal(res.statusCode, 200);
    assert.ok(clientCert, 'the client certificate was presented');
    // Without the CA the server is not trusted (and plain http to a TLS port is no way around it).
    const bare = transport(s.host, { certsDir: path.join(dir, 'empty'), retries: 1 });
    await assert.rejects(bare.request('/v2/'), (e: unknown) => e instanceof RegistryError && e.kind === 'unreachable');
    bare.close();
  } finally {
    t.close();
    await s.close();
  }
});

test('a blob is checked against its digest and size as it streams', async () => {
  const blob = Buffer.from('layer bytes '.repeat(1000));
  const digest = 'sha256:' + createHash('sha256').update(blob).digest('hex');
  let serveBytes = blob;
  const s = await serve((req, res) => { res.writeHead(200).end(serveBytes); });
  const c = new RegistryClient(parseRegistryRef(`registry://${s.host}/team/app:1`), { backoffMs: 1, retries: 1, dockerConfigDir: path.join(dir, 'none') });
  const read = async (size?: number): Promise<Buffer> => {
    const parts: Buffer[] = [];
    for await (const b of c.blob(digest, size, 'layer 0', undefined)) parts.push(b);
    return Buffer.concat(parts);
  };
  try {
    assert.ok((await read(blob.length)).equals(blob));
    serveBytes = Buffer.from(blob);
    serveBytes[10] ^= 1;
    await assert.rejects(read(blob.length), /layer 0 does not match its digest sha256:[0-9a-f]{64}: its bytes hash to sha256:/);
    serveBytes = Buffer.concat([blob, Buffer.from('x')]);
    await assert.rejects(read(blob.length), /is longer than the \d+ bytes its manifest names/);
    serveBytes = blob.subarray(0, 100);
    await assert.rejects(read(blob.length), /broke off after 100 bytes, 1 times resumed/);
  } finally {
    c.close();
    await s.close();
  }
});

test('a registry on another host speaks plain http only when listed as insecure', async () => {
  const ip = Object.values(os.networkInterfaces()).flat().find((i) => i && i.family === 'IPv4' && !i.internal)?.address;
  assert.ok(ip, 'this test needs a non-loopback IPv4 address on this machine');
  const server = http.createServer((_req, res) => res.writeHead(200).end('{}'));
  await new Promise<void>((r) => server.listen(0, '0.0.0.0', () => r()));
  const host = `${ip}:${(server.address() as AddressInfo).port}`;
  try {
    const strict = transport(host, { retries: 0 });
    await assert.rejects(strict.request("/v2/"), /^RegistryError: cannot reach registry [\d.:]+ at https:\/\/[\d.:]+: EPROTO TLS handshake failed: wrong version number \(a private CA goes in \/etc\/docker\/certs\.d\/[\d.:]+\/ca\.crt; a plain-http registry must be listed as insecure: --insecure-registry [\d.:]+\)$/);
    strict.close();
    const listed = transport(host, { insecure: [host] });
    const res = await listed.request('/v2/');
    res.resume();
    assert.equal(res.statusCode, 200);
    assert.equal((res as unknown as { req: { protocol: string } }).req.protocol, 'http:');
    listed.close();
  } finally {
    server.closeAllConnections();
    await new Promise<void>((r) => server.close(() => r()));
  }
});

test('a registrytoken from config.json answers a bearer challenge without the token endpoint', async () => {
  let tokenCalls = 0;
  const s = await serve((req, res) => {
    if (req.url?.startsWith('/token')) { tokenCalls++; res.writeHead(500).end(); return; }
    if (req.headers.authorization === 'Bearer RT') { res.writeHead(200).end('{}'); return; }
    res.writeHead(401, { 'www-authenticate': `Bearer realm="http://${req.headers.host}/token"` }).end();
  });
  const d = fs.mkdtempSync(path.join(dir, 'rt-'));
  fs.writeFileSync(path.join(d, 'config.json'), JSON.stringify({ auths: { [s.host]: { registrytoken: 'RT' } } }));
  const t = transport(s.host, { dockerConfigDir: d });
  try {
    const res = await t.request('/v2/');
    res.resume();
    assert.equal(res.statusCode, 200);
    assert.equal(tokenCalls, 0);
  } finally {
    t.close();
    await s.close();
  }
});
