// Unit tests for the engine client against fake engines on unix sockets (no dockerd needed):
// error mapping, timeouts, cancellation, and the export stream (streaming, backpressure, stalls).
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import * as http from 'node:http';
import * as net from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import { mkdtempSync, rmSync, chmodSync, writeFileSync } from 'node:fs';
import { spawn } from 'node:child_process';
import { createEngineClient, checkImageRef, familiarName, type EngineClientOptions } from '../../../src/engine/docker';
import { EngineError, type EngineEndpoint } from '../../../src/engine/types';
import { OUT_ROOT } from '../../support/repo';

const dir = mkdtempSync(path.join(os.tmpdir(), 'll-engine-client-'));
const servers: Array<http.Server | net.Server> = [];
after(() => {
  for (const s of servers) s.close();
  rmSync(dir, { recursive: true, force: true });
});

let n = 0;
function sockPath(): string {
  return path.join(dir, `e${n++}.sock`);
}

async function fakeEngine(handler: http.RequestListener): Promise<{ ep: EngineEndpoint; server: http.Server }> {
  const socketPath = sockPath();
  const server = http.createServer(handler);
  servers.push(server);
  await new Promise<void>((r) => server.listen(socketPath, r));
  return { ep: { kind: 'unix', url: `unix://${socketPath}`, socketPath, origin: 'DOCKER_HOST' }, server };
}

function client(ep: EngineEndpoint, o: EngineClientOptions = {}) {
  return createEngineClient(ep, o);
}

async function rejectsWith(p: Promise<unknown>, code: EngineError['code'], re: RegExp): Promise<EngineError> {
  let err: unknown;
  try {
    await p;
  } catch (e) {
    err = e;
  }
  assert.ok(err instanceof EngineError, `expected EngineError, got ${String(err)}`);
  assert.equal(err.code, code, err.message);
  assert.match(err.message, re);
  assert.ok(!err.message.includes('\n'), 'one-line message');
  return err;
}

function json(res: http.ServerResponse, status: number, body: unknown): void {
  res.writeHead(status, { 'Content-Type': 'application/json' });
  res.end(JSON.stringify(body));
}

test('inspect, history, listImages and ping map the API answers', async () => {
  const { ep } = await fakeEngine((req, res) => {
    if (req.url === '/_ping') return void res.end('OK');
    if (req.url === '/images/app:1/json') {
      return json(res, 200, {
        Id: 'sha256:abc', RepoTags: ['app:1'], Size: 1234, Os: 'linux', Architecture: 'amd64',
        Created: '2026-01-01T00:00:00Z', RootFS: { Type: 'layers', Layers: ['sha256:l1', 'sha256:l2'] },
      });
    }
    if (req.url === '/images/app:1/history') {
      return json(res, 200, [
        { Id: 'sha256:abc', Created: 2, CreatedBy: 'RUN x', Tags: ['app:1'], Size: 10, Comment: '' },
        { Id: '<missing>', Created: 1, CreatedBy: 'ADD y', Tags: null, Size: 20, Comment: 'imported' },
      ]);
    }
    if (req.url === '/images/json') return json(res, 200, [{ Id: 'sha256:abc', RepoTags: ['<none>:<none>'], Created: 5, Size: 9 }]);
    json(res, 404, { message: 'page not found' });
  });
  const c = client(ep);
  await c.ping();
  assert.deepEqual(await c.inspectImage('app:1'), {
    id: 'sha256:abc', repoTags: ['app:1'], size: 1234, os: 'linux', architecture: 'amd64',
    created: '2026-01-01T00:00:00Z', diffIds: ['sha256:l1', 'sha256:l2'],
  });
  assert.deepEqual(await c.history('app:1'), [
    { id: 'sha256:abc', created: 2, createdBy: 'RUN x', size: 10, comment: '', tags: ['app:1'] },
    { id: '<missing>', created: 1, createdBy: 'ADD y', size: 20, comment: 'imported', tags: [] },
  ]);
  assert.deepEqual(await c.listImages(), [{ id: 'sha256:abc', repoTags: [], created: 5, size: 9 }]);
});

test('404 on an image is not-found with the endpoint in the message', async () => {
  const { ep } = await fakeEngine((req, res) => json(res, 404, { message: 'No such image: foo:latest' }));
  const c = client(ep);
  await rejectsWith(c.inspectImage('foo'), 'not-found', new RegExp(`^Image 'foo' not found in the Docker engine at unix://${ep.socketPath} \\(from DOCKER_HOST\\)$`));
  await rejectsWith(c.history('foo'), 'not-found', /^Image 'foo' not found/);
  await rejectsWith(c.exportImage('foo'), 'not-found', /^Image 'foo' not found/);
});

test('other HTTP errors are protocol errors with the engine text', async () => {
  const { ep } = await fakeEngine((req, res) => json(res, 500, { message: 'disk on fire\nreally' }));
  await rejectsWith(client(ep).listImages(), 'protocol', /failed image list \(HTTP 500\): disk on fire really$/);
});

test('not an engine: ping answer is checked', async () => {
  const { ep } = await fakeEngine((req, res) => void res.end('<html>hello</html>'));
  await rejectsWith(client(ep).ping(), 'protocol', /^Unexpected answer from unix:\/\/.* \(ping\): expected "OK"/);
});

test('missing socket and refused connection', async () => {
  const socketPath = sockPath();
  const ep: EngineEndpoint = { kind: 'unix', url: `unix://${socketPath}`, socketPath, origin: 'DOCKER_HOST' };
  await rejectsWith(client(ep).ping(), 'unavailable',
    new RegExp(`^Cannot reach the Docker engine at unix://${socketPath} \\(from DOCKER_HOST\\): no such socket\\. Is dockerd running\\?$`));
  // A socket file nobody listens on: connection refused.
  const srv = net.createServer();
  await new Promise<void>((r) => srv.listen(socketPath, r));
  const stale = path.join(dir, 'stale.sock');
  // Keep the inode: hard-link the bound socket elsewhere, then close the listener.
  const { linkSync } = await import('node:fs');
  linkSync(socketPath, stale);
  await new Promise<void>((r) => srv.close(() => r()));
  const ep2: EngineEndpoint = { kind: 'unix', url: `unix://${stale}`, socketPath: stale, origin: 'default' };
  await rejectsWith(client(ep2).ping(), 'unavailable', /connection refused\. Is dockerd running\? \(Podman sockets were looked for too\.\)$/);
  const ep3: EngineEndpoint = { kind: 'unix', url: `unix://${stale}`, socketPath: stale, origin: 'podman' };
  await rejectsWith(client(ep3).ping(), 'unavailable', /^Cannot reach the Podman engine at .*\(Podman socket\): connection refused\. Is the Podman service running/);
});

test('permission denied on the socket mentions the docker group', async () => {
  const { ep } = await fakeEngine((req, res) => void res.end('OK'));
  let r: { code: string; message: string };
  if (process.getuid?.() !== 0) {
    chmodSync(ep.socketPath!, 0o000);
    try {
      await client(ep).ping();
      r = { code: 'none', message: 'ping succeeded' };
    } catch (e) {
      r = e as EngineError;
    }
  } else {
    // Root bypasses socket permissions, so run the client as "nobody" in a child process.
    chmodSync(ep.socketPath!, 0o600);
    const script = path.join(dir, 'eacces.js');
    writeFileSync(script, `
      const { createEngineClient } = require(${JSON.stringify(path.join(OUT_ROOT, 'src', 'engine', 'docker.js'))});
      createEngineClient(${JSON.stringify(ep)}).ping().then(
        () => { console.log(JSON.stringify({ code: 'none', message: 'ping succeeded' })); },
        (e) => { console.log(JSON.stringify({ code: e.code, message: e.message })); });
    `);
    chmodSync(dir, 0o755);
    chmodSync(script, 0o644);
    const out = await new Promise<string>((resolve, reject) => {
      const p = spawn(process.execPath, [script], { uid: 65534, gid: 65534, stdio: ['ignore', 'pipe', 'pipe'] });
      let s = '';
      let errText = '';
      p.stdout.on('data', (d: Buffer) => { s += d.toString(); });
      p.stderr.on('data', (d: Buffer) => { errText += d.toString(); });
      p.on('error', reject);
      p.on('close', (code) => (code === 0 ? resolve(s) : reject(new Error(`child exited ${code}: ${errText}`))));
    });
    r = JSON.parse(out) as { code: string; message: string };
  }
  assert.equal(r.code, 'permission', r.message);
  assert.match(r.message, /^Permission denied on unix:\/\/.* \(from DOCKER_HOST\): add your user to the 'docker' group/);
});

test('a silent engine hits the request timeout', async () => {
  const { ep } = await fakeEngine(() => { /* never answers */ });
  const t0 = Date.now();
  await rejectsWith(client(ep, { timeoutMs: 300 }).inspectImage('x'), 'unavailable',
    /^The Docker engine at unix:\/\/.* \(from DOCKER_HOST\) did not answer within 0\.3 s \(inspect of 'x'\)/);
  const dt = Date.now() - t0;
  assert.ok(dt >= 250 && dt < 10_000, `took ${dt} ms`);
});

test('an abort signal cancels a request', async () => {
  const { ep } = await fakeEngine(() => { /* never answers */ });
  const ac = new AbortController();
  setTimeout(() => ac.abort(), 100);
  await rejectsWith(client(ep).history('x', ac.signal), 'aborted', /^History of 'x' was cancelled$/);
  await rejectsWith(client(ep).ping(AbortSignal.abort()), 'aborted', /cancelled/);
});

test('invalid image references are refused before any request', async () => {
  for (const bad of ['', '../containers/json', 'a/../../x', 'x?y=1', 'x#y', 'a b', 'x%2F', '/abs', 'a//b']) {
    assert.throws(() => checkImageRef(bad), EngineError, bad);
  }
  for (const ok of ['busybox', 'localhost:5000/a/b:tag', 'sha256:0123abcd', 'app@sha256:00ff', 'a.b-c_d:1.0']) {
    assert.equal(checkImageRef(ok), ok);
  }
  const { ep } = await fakeEngine((req, res) => json(res, 200, {}));
  await rejectsWith(client(ep).inspectImage('../containers/json'), 'not-found', /^Invalid image reference/);
});

test('export is a real stream with backpressure (not buffered)', async () => {
  const total = 256 * 1024 * 1024;
  let written = 0;
  const { ep } = await fakeEngine((req, res) => {
    res.writeHead(200, { 'Content-Type': 'application/x-tar' });
    const chunk = Buffer.alloc(256 * 1024, 7);
    const pump = (): void => {
      while (written < total) {
        written += chunk.length;
        if (!res.write(chunk)) return void res.once('drain', pump);
      }
      res.end();
    };
    pump();
  });
  const s = await client(ep, { exportIdleTimeoutMs: 1000 }).exportImage('big');
  // Do not read for longer than the idle timeout: a slow reader must not trip it, and the engine
  // must be held back by backpressure.
  await new Promise((r) => setTimeout(r, 2500));
  assert.ok(written < 48 * 1024 * 1024, `engine wrote ${written} bytes ahead of a reader that read nothing`);
  let got = 0;
  for await (const c of s) got += (c as Buffer).length;
  assert.equal(got, total);
});

test('a stalled export stream errors after the idle timeout instead of hanging', async () => {
  const { ep } = await fakeEngine((req, res) => {
    res.writeHead(200, { 'Content-Type': 'application/x-tar' });
    res.write(Buffer.alloc(1000));
    // ...and then nothing, connection kept open.
  });
  const s = await client(ep, { exportIdleTimeoutMs: 400 }).exportImage('slow');
  const t0 = Date.now();
  let got = 0;
  await rejectsWith((async () => { for await (const c of s) got += (c as Buffer).length; })(), 'unavailable',
    /^The Docker engine at unix:\/\/.* stopped sending the export of 'slow' \(no data for 0\.4 s\)$/);
  assert.equal(got, 1000);
  const dt = Date.now() - t0;
  assert.ok(dt >= 300 && dt < 10_000, `took ${dt} ms`);
});

test('export headers that never come also time out', async () => {
  const { ep } = await fakeEngine(() => { /* never answers */ });
  await rejectsWith(client(ep, { exportIdleTimeoutMs: 300 }).exportImage('x'), 'unavailable', /did not answer within 0\.3 s \(export of 'x'\)/);
});

test('an engine that stages a big export before its headers: the wait goes on while it answers pings', async () => {
  // Docker 20.10 copies the image to a staging directory before the first byte (over 60 s for
  // 3.3 GB here): a live engine must not be mistaken for a stalled one.
  let pings = 0;
  const { ep } = await fakeEngine((req, res) => {
    if (req.url?.endsWith('/_ping')) { pings++; res.end('OK'); return; }
    setTimeout(() => { res.writeHead(200, { 'Content-Type': 'application/x-tar' }); res.end(Buffer.alloc(4096, 1)); }, 1500);
  });
  const s = await client(ep, { exportIdleTimeoutMs: 300 }).exportImage('big');
  let got = 0;
  for await (const c of s) got += (c as Buffer).length;
  assert.equal(got, 4096);
  assert.ok(pings >= 2, `pinged ${pings} times while waiting`);
});

test('export headers that never come, from an engine that stops answering pings, time out', async () => {
  let pings = 0;
  const { ep } = await fakeEngine((req, res) => {
    if (req.url?.endsWith('/_ping') && ++pings <= 2) res.end('OK');
    // the export, and later pings, never answered
  });
  const t0 = Date.now();
  await rejectsWith(client(ep, { exportIdleTimeoutMs: 300 }).exportImage('x'), 'unavailable', /did not answer within 0\.3 s \(export of 'x'\)/);
  assert.ok(Date.now() - t0 >= 900, 'waited while the pings were answered');
});

test('an engine that drops the connection mid-export gives a clear error', async () => {
  const { ep } = await fakeEngine((req, res) => {
    res.writeHead(200, { 'Content-Type': 'application/x-tar' });
    res.write(Buffer.alloc(64 * 1024));
    setTimeout(() => res.socket?.destroy(), 50);
  });
  const s = await client(ep).exportImage('x');
  await rejectsWith((async () => { for await (const _ of s) { /* drain */ } })(), 'unavailable', /was dropped.*Did the engine restart\?$/);
});

test('aborting an export mid-stream destroys it with aborted', async () => {
  let closed = false;
  const { ep } = await fakeEngine((req, res) => {
    res.writeHead(200);
    const iv = setInterval(() => res.write(Buffer.alloc(1024)), 10);
    res.on('close', () => { clearInterval(iv); closed = true; });
  });
  const ac = new AbortController();
  const s = await client(ep).exportImage('x', ac.signal);
  setTimeout(() => ac.abort(), 100);
  await rejectsWith((async () => { for await (const _ of s) { /* drain */ } })(), 'aborted', /^Export of 'x' was cancelled$/);
  await new Promise((r) => setTimeout(r, 100));
  assert.ok(closed, 'the engine side saw the connection close');
});

test('a reader that stops early releases the engine connection', async () => {
  let closed = false;
  const { ep } = await fakeEngine((req, res) => {
    res.writeHead(200);
    const iv = setInterval(() => res.write(Buffer.alloc(64 * 1024)), 5);
    res.on('close', () => { clearInterval(iv); closed = true; });
  });
  const s = await client(ep).exportImage('x');
  for await (const _ of s) break; // destroys the stream
  await new Promise((r) => setTimeout(r, 200));
  assert.ok(closed);
});

test('npipe on non-Windows and unusable TLS keys fail per call, not at creation', async () => {
  if (process.platform !== 'win32') {
    const c = createEngineClient({ kind: 'npipe', url: 'npipe:////./pipe/docker_engine', socketPath: '//./pipe/docker_engine', origin: 'DOCKER_HOST' });
    await rejectsWith(c.ping(), 'unavailable', /named pipes \(npipe:\/\/\) exist only on Windows/);
  }
  const enc = createEngineClient({
    kind: 'tcp', url: 'tcp://h:2376', host: 'h', port: 2376, origin: 'DOCKER_HOST',
    tls: { verify: true, ca: Buffer.from('x'), cert: Buffer.from('y'), key: Buffer.from('-----BEGIN ENCRYPTED PRIVATE KEY-----\n') },
  });
  await rejectsWith(enc.ping(), 'unavailable', /key\.pem\) is encrypted/);
  const badCa = createEngineClient({
    kind: 'tcp', url: 'tcp://h:2376', host: 'h', port: 2376, origin: 'context:x',
    tls: { verify: true, ca: Buffer.from('-----BEGIN CERTIFICATE-----\nnope\n-----END CERTIFICATE-----\n') },
  });
  await rejectsWith(badCa.ping(), 'unavailable', /^Cannot use the TLS files for tcp:\/\/h:2376 \(docker context "x"\): /);
});

test('DOCKER_HOST in process.env does not leak into a client for another endpoint', async () => {
  const { ep } = await fakeEngine((req, res) => void res.end('OK'));
  const saved = process.env.DOCKER_HOST;
  const savedCert = process.env.DOCKER_CERT_PATH;
  process.env.DOCKER_HOST = 'tcp://192.0.2.1:2376';
  process.env.DOCKER_CERT_PATH = '/nonexistent';
  try {
    const c = createEngineClient(ep);
    assert.equal(process.env.DOCKER_HOST, 'tcp://192.0.2.1:2376');
    await c.ping();
  } finally {
    if (saved === undefined) delete process.env.DOCKER_HOST; else process.env.DOCKER_HOST = saved;
    if (savedCert === undefined) delete process.env.DOCKER_CERT_PATH; else process.env.DOCKER_CERT_PATH = savedCert;
  }
});

test('repo tags in Docker familiar form (Podman reports docker.io/...)', () => {
  assert.equal(familiarName('docker.io/library/busybox:1'), 'busybox:1');
  assert.equal(familiarName('docker.io/me/app:1'), 'me/app:1');
  assert.equal(familiarName('docker.io/library/a/b:1'), 'library/a/b:1');
  assert.equal(familiarName('localhost/app:1'), 'localhost/app:1');
  assert.equal(familiarName('quay.io/x/y:2'), 'quay.io/x/y:2');
  assert.equal(familiarName('app:1'), 'app:1');
});
