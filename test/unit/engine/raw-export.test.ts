// The export read off the socket (src/engine/rawExport.ts) against a local HTTP server that frames
// its answers in awkward ways: chunked with chunk headers and data split across writes, chunk
// extensions and trailers, Content-Length, read-until-close, error statuses, a dropped connection,
// a stall, a cancel, and a reader slower than the server (backpressure).
import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import * as net from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import type { Readable } from 'node:stream';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { readArchiveStream } from '../../../src/core/image/tar/archiveStream';
import { releaseChunk, type LendingSource } from '../../../src/core/image/tar/decompress';
import { RawHttpStatus, rawGet, rawTargetOf, type RawErrors } from '../../../src/engine/rawExport';
import { dockerSave, gzip, makeTar, zstd } from '../support/tars';

type Script = (sock: net.Socket, request: string) => Promise<void> | void;

async function server(script: Script, unix = false): Promise<{ target: { socketPath?: string; host?: string; port?: number }; close: () => Promise<void>; requests: string[] }> {
  const requests: string[] = [];
  const dir = unix ? mkdtempSync(path.join(os.tmpdir(), 'layerlens-raw-')) : '';
  const srv = net.createServer((sock) => {
    let req = '';
    sock.on('data', (d) => {
      req += d.toString('latin1');
      if (req.includes('\r\n\r\n')) {
        requests.push(req);
        void Promise.resolve(script(sock, req)).catch(() => sock.destroy());
        req = '';
      }
    });
    sock.on('error', () => undefined);
  });
  const socketPath = unix ? path.join(dir, 'd.sock') : undefined;
  await new Promise<void>((r) => (socketPath ? srv.listen(socketPath, r) : srv.listen(0, '127.0.0.1', r)));
  const port = (srv.address() as net.AddressInfo | null)?.port;
  return {
    target: socketPath ? { socketPath } : { host: '127.0.0.1', port },
    requests,
    close: () => new Promise<void>((r) => { srv.close(() => r()); if (dir) rmSync(dir, { recursive: true, force: true }); }),
  };
}

const errors: RawErrors = {
  stalled: () => new Error('STALLED'),
  dropped: () => new Error('DROPPED'),
  aborted: () => new Error('ABORTED'),
  failed: (e) => new Error('FAILED: ' + e.message),
};

async function drain(r: Readable, slow = false): Promise<Buffer> {
  const parts: Buffer[] = [];
  for await (const c of r) {
    parts.push(Buffer.from(c as Buffer));
    if (slow) await new Promise((res) => setTimeout(res, 2));
  }
  return Buffer.concat(parts);
}

const wait = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
const sha = (b: Buffer): string => createHash('sha256').update(b).digest('hex');

/** Writes the pieces one by one with a pause between, so the client sees them in separate reads. */
async function dribble(sock: net.Socket, pieces: Array<string | Buffer>): Promise<void> {
  for (const p of pieces) {
    sock.write(p);
    await wait(5);
  }
}

/** Serves `data` chunked in 32 KiB pieces, as fast as the client takes it. */
function bulk(data: Buffer): Script {
  return async (sock) => {
    sock.write('HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n');
    for (let i = 0; i < data.length; i += 32 * 1024) {
      const c = data.subarray(i, i + 32 * 1024);
      sock.write(c.length.toString(16) + '\r\n');
      sock.write(c);
      if (!sock.write('\r\n')) await new Promise((r) => sock.once('drain', r));
    }
    sock.end('0\r\n\r\n');
  };
}

test('raw export: chunked body, with headers, chunk sizes, CRLFs and data split across reads', async () => {
  const data = randomBytes(300_000);
  const s = await server(async (sock) => {
    const a = data.subarray(0, 100_000);
    const b = data.subarray(100_000);
    await dribble(sock, [
      'HTTP/1.1 200 OK\r\nContent-Type: application/x-tar\r\nTransfer-Enc', 'oding: chunked\r\n\r', '\n',
      a.length.toString(16) + ';ext=1\r\n', a.subarray(0, 7), a.subarray(7), '\r', '\n',
      b.length.toString(16).toUpperCase(), '\r\n', b, '\r\n', '0\r\nX-Trailer: yes\r\n', '\r\n',
    ]);
    sock.end();
  });
  try {
    const body = await rawGet(s.target, '/images/x/get', { idleMs: 5000, errors });
    assert.equal(sha(await drain(body)), sha(data));
    assert.match(s.requests[0], /^GET \/images\/x\/get HTTP\/1\.1\r\n/);
  } finally {
    await s.close();
  }
});

test('raw export: over a unix socket, a big body read by a slow reader arrives whole (backpressure)', async () => {
  const data = randomBytes(6 * 1024 * 1024);
  const s = await server(bulk(data), true);
  try {
    const body = await rawGet(s.target, '/images/x/get', { idleMs: 5000, errors });
    assert.equal(sha(await drain(body, true)), sha(data));
  } finally {
    await s.close();
  }
});

test('raw export: Content-Length framing, and a body that ends with the connection', async () => {
  const data = randomBytes(50_000);
  const withLength = await server(async (sock) => {
    await dribble(sock, [`HTTP/1.1 200 OK\r\nContent-Length: ${data.length}\r\n\r\n`, data.subarray(0, 1000), data.subarray(1000)]);
  });
  const untilClose = await server(async (sock) => {
    await dribble(sock, ['HTTP/1.0 200 OK\r\n\r\n', data.subarray(0, 20_000), data.subarray(20_000)]);
    sock.end();
  });
  try {
    assert.equal(sha(await drain(await rawGet(withLength.target, '/x', { idleMs: 5000, errors }))), sha(data), 'Content-Length');
    assert.equal(sha(await drain(await rawGet(untilClose.target, '/x', { idleMs: 5000, errors }))), sha(data), 'until close');
  } finally {
    await withLength.close();
    await untilClose.close();
  }
});

test('raw export: an error status rejects with its status and the engine\'s message', async () => {
  const s = await server((sock) => {
    const msg = JSON.stringify({ message: 'No such image: nope:latest' });
    sock.end(`HTTP/1.1 404 Not Found\r\nContent-Type: application/json\r\nContent-Length: ${msg.length}\r\n\r\n${msg}`);
  });
  try {
    const err = await rawGet(s.target, '/images/nope/get', { idleMs: 5000, errors }).then(() => null, (e: unknown) => e);
    assert.ok(err instanceof RawHttpStatus, String(err));
    assert.equal((err as RawHttpStatus).statusCode, 404);
    assert.deepEqual((err as RawHttpStatus).json, { message: 'No such image: nope:latest' });
  } finally {
    await s.close();
  }
});

test('raw export: dropped mid-body, closed before answering, garbage, a stall, a cancel', async () => {
  const drop = await server(async (sock) => {
    await dribble(sock, ['HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n', 'ffff\r\n', randomBytes(1000)]);
    sock.destroy();
  });
  const closer = await server((sock) => { sock.destroy(); });
  const garbage = await server((sock) => { sock.end('SSH-2.0-OpenSSH_9.2\r\n\r\n'); });
  const stall = await server(async (sock) => {
    await dribble(sock, ['HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n', '10\r\n0123456789abcdef\r\n']);
  });
  try {
    const body = await rawGet(drop.target, '/x', { idleMs: 5000, errors });
    await assert.rejects(drain(body), /DROPPED/);
    await assert.rejects(rawGet(closer.target, '/x', { idleMs: 5000, errors }), /FAILED: socket hang up/);
    await assert.rejects(rawGet(garbage.target, '/x', { idleMs: 5000, errors }), /FAILED: not an HTTP response/);
    const t0 = Date.now();
    const stalled = await rawGet(stall.target, '/x', { idleMs: 300, errors });
    await assert.rejects(drain(stalled), /STALLED/);
    assert.ok(Date.now() - t0 < 3000, `${Date.now() - t0} ms`);
    const ac = new AbortController();
    const cancelled = await rawGet(stall.target, '/x', { idleMs: 0, errors, signal: ac.signal });
    setTimeout(() => ac.abort(), 50);
    await assert.rejects(drain(cancelled), /ABORTED/);
    await assert.rejects(rawGet(stall.target, '/x', { idleMs: 0, errors, signal: ac.signal }), /ABORTED/, 'an aborted signal: nothing sent');
  } finally {
    await drop.close();
    await closer.close();
    await garbage.close();
    await stall.close();
  }
});

test('raw export: which endpoints read raw', () => {
  assert.deepEqual(rawTargetOf({ kind: 'unix', url: 'unix:///s', origin: 'x', socketPath: '/s' }, {}), { socketPath: '/s' });
  assert.deepEqual(rawTargetOf({ kind: 'tcp', url: 'tcp://h:2375', origin: 'x', host: 'h', port: 2375 }, {}), { host: 'h', port: 2375 });
  assert.equal(rawTargetOf({ kind: 'tcp', url: 'tcp://h:2376', origin: 'x', host: 'h', port: 2376, tls: { verify: true } }, {}), undefined, 'TLS: dockerode');
  assert.equal(rawTargetOf({ kind: 'ssh', url: 'ssh://h', origin: 'x', host: 'h' }, {}), undefined, 'ssh: dockerode');
  assert.equal(rawTargetOf({ kind: 'unix', url: 'unix:///s', origin: 'x', socketPath: '/s' }, { LAYERLENS_RAW_EXPORT: 'off' }), undefined, 'switched off');
});

test('raw export: a reader that reads nothing for longer than the idle timeout holds the engine back and is not a stall', async () => {
  const total = 64 * 1024 * 1024;
  let written = 0;
  const s = await server(async (sock) => {
    sock.write(`HTTP/1.1 200 OK\r\nContent-Length: ${total}\r\n\r\n`);
    const chunk = Buffer.alloc(256 * 1024, 3);
    while (written < total) {
      written += chunk.length;
      if (!sock.write(chunk)) await new Promise((r) => sock.once('drain', r));
    }
    sock.end();
  }, true);
  try {
    const body = await rawGet(s.target, '/x', { idleMs: 400, errors });
    await wait(1500);
    assert.ok(written < 24 * 1024 * 1024, `the server wrote ${written} bytes ahead of a reader that read nothing`);
    let got = 0;
    for await (const c of body) got += (c as Buffer).length;
    assert.equal(got, total);
  } finally {
    await s.close();
  }
});

test('raw export: the body lends its slabs — reused only after every chunk of them is released, never before', async () => {
  const data = randomBytes(24 * 1024 * 1024);
  const s = await server(bulk(data), true);
  try {
    for (const mode of ['release', 'release later', 'never'] as const) {
      const body = (await rawGet(s.target, '/images/x/get', { idleMs: 5000, errors })) as Readable & LendingSource;
      const release = body[releaseChunk]!;
      const slabs = new Set<ArrayBufferLike>();
      const copies: Buffer[] = [];
      let overwritten = 0;
      const check = (view: Uint8Array, copy: Buffer): void => { if (!copy.equals(view)) overwritten++; };
      const late: Promise<void>[] = [];
      await new Promise<void>((resolve, reject) => {
        body.on('data', (c: Buffer) => {
          slabs.add(c.buffer);
          const copy = Buffer.from(c);
          copies.push(copy);
          if (mode === 'release') { check(c, copy); release(c); }
          else if (mode === 'release later') {
            // Released a few milliseconds later, after more reads: its bytes must still be there.
            late.push(new Promise((r) => setTimeout(() => { check(c, copy); release(c); r(); }, 3)));
          }
        });
        body.on('end', resolve);
        body.on('error', reject);
      });
      await Promise.all(late);
      assert.equal(sha(Buffer.concat(copies)), sha(data), mode);
      assert.equal(overwritten, 0, `${mode}: no chunk changed before its release`);
      if (mode === 'never') assert.ok(slabs.size >= 24, `never released: a fresh slab each time (${slabs.size})`);
      else assert.ok(slabs.size <= 12, `${mode}: slabs reused (${slabs.size} for 24 MiB)`);
    }
  } finally {
    await s.close();
  }
});

test('raw export: an image read off a lending body (plain, gzip and zstd layer members) equals the same archive read from memory', async () => {
  const layers: Buffer[] = [];
  for (let l = 0; l < 3; l++) {
    layers.push(await makeTar(Array.from({ length: 40 }, (_, i) => ({ name: `l${l}/f${i}`, body: randomBytes(100 * 1024) }))));
  }
  // Members as a containerd-backed engine may export them: one plain, one gzip, one zstd.
  const archive = await dockerSave({ layers: [layers[0], gzip(layers[1]), zstd(layers[2])] });
  const s = await server(bulk(archive), true);
  try {
    const summary = (c: Awaited<ReturnType<typeof readArchiveStream>>): unknown =>
      [...c.layers].map(([p, l]) => [p, l.compression, l.tarBytes, sha(Buffer.from(JSON.stringify(l.entries)))]).sort();
    const want = summary(await readArchiveStream([archive]));
    for (let r = 0; r < 3; r++) {
      const body = await rawGet(s.target, '/images/x/get', { idleMs: 5000, errors });
      assert.deepEqual(summary(await readArchiveStream(body)), want);
    }
  } finally {
    await s.close();
  }
});

test('raw export: a reader that never releases keeps no slab alive once it drops the chunks', async () => {
  setFlagsFromString('--expose-gc');
  const gc = runInNewContext('gc') as () => void;
  const data = randomBytes(24 * 1024 * 1024);
  const s = await server(bulk(data), true);
  try {
    const body = await rawGet(s.target, '/images/x/get', { idleMs: 5000, errors });
    const refs: Array<WeakRef<ArrayBufferLike>> = [];
    const seen = new Set<ArrayBufferLike>();
    const hash = createHash('sha256');
    await new Promise<void>((resolve, reject) => {
      body.on('data', (c: Buffer) => {
        hash.update(c);
        if (!seen.has(c.buffer)) { seen.add(c.buffer); refs.push(new WeakRef(c.buffer)); }
      });
      body.on('end', resolve);
      body.on('error', reject);
    });
    seen.clear();
    assert.equal(hash.digest('hex'), sha(data));
    for (let i = 0; i < 3; i++) { gc(); await wait(10); }
    const alive = refs.filter((r) => r.deref() !== undefined).length;
    // The body itself is still referenced here: only what it holds on to may survive.
    assert.ok(body.readableEnded);
    assert.ok(alive <= 2, `${alive} of ${refs.length} slabs still alive`);
  } finally {
    await s.close();
  }
});
