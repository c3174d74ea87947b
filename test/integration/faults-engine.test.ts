// Engine faults against real engines: no engine, permission denied on the socket, the engine
// killed and restarted in the middle of an export stream (an extra dockerd, a 100 MB image), the
// image removed during analysis, a slow engine, a stalled one, one that never answers, and a
// connection dropped mid-stream. The CLI must end each with exit 2 and one clear line (never a
// stack trace), a later call must succeed, and the event stream must reconnect by itself.
// Faults are made on loopback only (test/support/faultproxy.ts) or with real daemons.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, execFileSync } from 'node:child_process';
import { chmod, copyFile, mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import { closeSync, openSync } from 'node:fs';
import * as path from 'node:path';
import { createEngineClient } from '../../src/engine/docker';
import { resolveEndpointFromProcess } from '../../src/engine/endpoint';
import { EngineError, type EngineClient, type EngineEvent } from '../../src/engine/types';
import { loadImage } from '../../src/sources/load';
import * as E from '../support/engine';
import { startDockerd, type Dockerd } from '../support/dockerd';
import { startFaultProxy } from '../support/faultproxy';

function assertOneLineError(r: E.RunResult, what: string, pattern?: RegExp): void {
  const lines = r.stderr.split('\n').filter((l) => l.trim() !== '');
  assert.equal(r.code, 2, `${what}: exit code ${r.code} (want 2); stderr: ${r.stderr.slice(0, 1000)}`);
  assert.equal(lines.length, 1, `${what}: want one line on stderr, got ${lines.length}:\n${r.stderr.slice(0, 2000)}`);
  assert.doesNotMatch(r.stderr, /^\s+at .+[:(]/m, `${what}: stack trace on stderr`);
  assert.doesNotMatch(r.stderr, /\b(TypeError|ReferenceError|RangeError|SyntaxError|internal error)\b/, `${what}: internal error leaked`);
  if (pattern) assert.match(lines[0], pattern, `${what}: message not clear enough: ${lines[0]}`);
}

const client = (host: string, opts: Parameters<typeof createEngineClient>[1] = {}): EngineClient =>
  createEngineClient(resolveEndpointFromProcess({ host, hostOrigin: 'test', env: {} }), opts);

function envFor(host: string): NodeJS.ProcessEnv {
  // No layer cache: these runs are about the export, and an image the cache knows whole is not
  // exported again (src/sources/load.ts).
  const env: NodeJS.ProcessEnv = { ...process.env, DOCKER_HOST: host, LAYERLENS_CACHE: 'off' };
  delete env.DOCKER_CONTEXT;
  delete env.DOCKER_TLS_VERIFY;
  delete env.DOCKER_CERT_PATH;
  return env;
}

/** Bytes a process has written (all write syscalls, sockets included), from /proc/PID/io. */
async function bytesWritten(pid: number): Promise<number> {
  const io = await readFile(`/proc/${pid}/io`, 'utf8').catch(() => '');
  return Number(/wchar:\s*(\d+)/.exec(io)?.[1] ?? 0);
}

/** Starts `layerlens ARGS` and, once the engine has written `afterBytes` more, runs `fault`. */
async function cliWithFault(args: string[], env: NodeJS.ProcessEnv, enginePid: number, afterBytes: number, fault: () => Promise<void>): Promise<E.RunResult & { faulted: boolean }> {
  const root = E.repoRoot();
  const start = await bytesWritten(enginePid);
  const child = spawn(process.execPath, [path.join(root, 'dist', 'cli.js'), ...args], { cwd: root, env, stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (c: Buffer) => { stdout += c.toString(); });
  child.stderr.on('data', (c: Buffer) => { stderr += c.toString(); });
  const exited = new Promise<number>((resolve) => child.on('close', (code) => resolve(code ?? -1)));
  let faulted = false;
  let done = false;
  void exited.then(() => { done = true; });
  const killer = setTimeout(() => child.kill('SIGKILL'), 300_000);
  while (!done) {
    if (!faulted && (await bytesWritten(enginePid)) - start >= afterBytes) {
      faulted = true;
      await fault();
    }
    await new Promise((r) => setTimeout(r, 20));
  }
  clearTimeout(killer);
  return { code: await exited, signal: null, stdout, stderr, faulted };
}

describe('engine faults', () => {
  let work = '';
  let sock = '';
  let extra: Dockerd | undefined;
  let extraDir = '';
  const BIG = 'layerlens-faults/big:1';

  before(async () => {
    const host = await E.requireEngine();
    await E.ensureBaseImage();
    assert.ok(host.startsWith('unix://'), `the test engine listens on a unix socket (${host})`);
    sock = host.slice('unix://'.length);
    work = await E.tempDir('faults');
  });
  after(async () => {
    if (extra) await extra.stop({ remove: true });
    if (work) await rm(work, { recursive: true, force: true });
  });

  it('no engine: one line from the CLI; the event stream reports, backs off and never throws', async () => {
    const none = `unix://${work}/none.sock`;
    assertOneLineError(await E.cli(['analyze', 'docker://' + E.BASE_IMAGE], { env: envFor(none), timeoutMs: 60_000 }), 'no engine', /no such socket|dockerd running/i);
    const states: Array<[string, EngineError | undefined]> = [];
    const ac = new AbortController();
    const seen: EngineEvent[] = [];
    const t0 = Date.now();
    setTimeout(() => ac.abort(), 1200);
    for await (const ev of client(none).events(ac.signal, { minBackoffMs: 50, maxBackoffMs: 200, onState: (s, e) => states.push([s, e]) })) seen.push(ev);
    assert.ok(Date.now() - t0 < 3000, 'ends promptly on abort');
    assert.equal(seen.length, 0);
    assert.ok(states.length >= 3 && states.length <= 30, `${states.length} reconnect attempts in 1.2 s (backoff)`);
    for (const [s, e] of states) {
      assert.equal(s, 'disconnected');
      assert.ok(e instanceof EngineError && e.code === 'unavailable' && !e.message.includes('\n'), e?.message);
    }
  });

  it('socket permission denied: the CLI run as uid 65534 (setpriv) against the root-owned 0660 socket', async () => {
    // We run as root, which may open any socket: run the CLI as another user instead. The bundle
    // is copied to a world-readable place so only the socket's permissions are in the way.
    const dir = path.join(work, 'nobody');
    await mkdir(dir, { recursive: true });
    await chmod(work, 0o755);
    await chmod(dir, 0o755);
    await copyFile(path.join(E.repoRoot(), 'dist', 'cli.js'), path.join(dir, 'cli.js'));
    await chmod(path.join(dir, 'cli.js'), 0o755);
    // The engine client libraries are loaded from dist/vendor/ next to the CLI.
    await mkdir(path.join(dir, 'vendor'), { recursive: true });
    await chmod(path.join(dir, 'vendor'), 0o755);
    for (const f of ['dockerode.js', 'ssh2.js']) await copyFile(path.join(E.repoRoot(), 'dist', 'vendor', f), path.join(dir, 'vendor', f));
    const mode = execFileSync('stat', ['-c', '%a', sock], { encoding: 'utf8' }).trim();
    assert.match(mode, /^[67][0-7]0$/, `the test engine's socket is not open to others (mode ${mode})`);
    const r = await E.run('setpriv', ['--reuid=65534', '--regid=65534', '--clear-groups', process.execPath, path.join(dir, 'cli.js'), 'analyze', 'docker://' + E.BASE_IMAGE],
      { env: { ...envFor(`unix://${sock}`), HOME: dir }, cwd: dir, timeoutMs: 60_000 });
    assertOneLineError(r, 'permission denied', /permission denied/i);
  });

  it('a socket that accepts and closes at once, and one that never answers', async () => {
    const closer = await startFaultProxy({ kind: 'close' }, sock, { unixPath: path.join(work, 'close.sock') });
    const silent = await startFaultProxy({ kind: 'silent' }, sock);
    try {
      assertOneLineError(await E.cli(['analyze', 'docker://' + E.BASE_IMAGE], { env: envFor(closer.host), timeoutMs: 60_000 }), 'accept+close', /dropped|hang up|restart|closed/i);
      const t0 = Date.now();
      assertOneLineError(await E.cli(['analyze', 'docker://' + E.BASE_IMAGE], { env: envFor(silent.host), timeoutMs: 90_000 }), 'silent engine', /did not answer within 20 s/);
      assert.ok(Date.now() - t0 < 60_000, `${Date.now() - t0} ms`);
      await assert.rejects(() => client(silent.host, { timeoutMs: 800 }).inspectImage(E.BASE_IMAGE), (e: Error) => e instanceof EngineError && /did not answer within 0\.8 s/.test(e.message));
    } finally {
      await closer.close();
      await silent.close();
    }
  });

  it('a slow engine (1 MB/s) still gives the right answer; a stalled export fails after the idle timeout', async () => {
    const direct = JSON.parse((await E.cli(['analyze', 'docker://' + E.BASE_IMAGE, '--json'])).stdout);
    const slow = await startFaultProxy({ kind: 'throttle', bytesPerSec: 1_000_000 }, sock);
    try {
      const t0 = Date.now();
      const r = await E.cli(['analyze', 'docker://' + E.BASE_IMAGE, '--json'], { env: envFor(slow.host), timeoutMs: 120_000 });
      assert.equal(r.code, 0, r.stderr);
      assert.deepEqual(JSON.parse(r.stdout).layers, direct.layers);
      assert.ok(slow.forwarded() > 1_500_000 && Date.now() - t0 > 1000, `throttled: ${slow.forwarded()} bytes in ${Date.now() - t0} ms`);
    } finally {
      await slow.close();
    }
    const stall = await startFaultProxy({ kind: 'stall', afterBytes: 300_000 }, sock);
    try {
      const t0 = Date.now();
      const engine = client(stall.host, { exportIdleTimeoutMs: 1500 });
      await assert.rejects(() => loadImage({ kind: 'engine', name: E.BASE_IMAGE }, { engine: async () => engine }),
        (e: Error) => e instanceof EngineError && /stopped sending the export .* \(no data for 1\.5 s\)/.test(e.message) && !e.message.includes('\n'));
      assert.ok(Date.now() - t0 < 15_000, `${Date.now() - t0} ms`);
    } finally {
      await stall.close();
    }
  });

  it('a remote that drops the connection mid-stream: one line, and the next call succeeds', async () => {
    const drop = await startFaultProxy({ kind: 'drop', afterBytes: 600_000 }, sock);
    try {
      assertOneLineError(await E.cli(['analyze', 'docker://' + E.BASE_IMAGE], { env: envFor(drop.host), timeoutMs: 60_000 }), 'dropped', /dropped|ended early|restart/i);
      assert.ok(drop.forwarded() >= 600_000);
    } finally {
      await drop.close();
    }
    const pass = await startFaultProxy({ kind: 'pass' }, sock);
    try {
      const r = await E.cli(['analyze', 'docker://' + E.BASE_IMAGE, '--json'], { env: envFor(pass.host) });
      assert.equal(r.code, 0, r.stderr);
    } finally {
      await pass.close();
    }
  });

  it('the image removed between inspect and export: a not-found line, not a crash', async () => {
    const dir = path.join(work, 'rm');
    await mkdir(path.join(dir, 'root'), { recursive: true });
    await writeFile(path.join(dir, 'root', 'unique'), `faults ${Date.now()} ${Math.random()}`);
    const tarFile = path.join(dir, 'root.tar');
    execFileSync('tar', ['-C', path.join(dir, 'root'), '-cf', tarFile, '.']);
    const tag = 'layerlens-faults/removed:1';
    await E.docker(['import', tarFile, tag]);
    const real = client(`unix://${sock}`);
    const racing: EngineClient = {
      ...real,
      async exportImage(name, signal) {
        await E.docker(['rmi', '-f', tag]);
        return real.exportImage(name, signal);
      },
    };
    await assert.rejects(() => loadImage({ kind: 'engine', name: tag }, { engine: async () => racing }),
      (e: Error) => e instanceof EngineError && e.code === 'not-found' && !e.message.includes('\n'));
    assertOneLineError(await E.cli(['analyze', 'docker://' + tag]), 'removed image', /not found/i);
  });

  describe('an extra dockerd with a 100 MB image', () => {
    before(async () => {
      extraDir = path.join(work, 'extra');
      extra = await startDockerd({ dir: extraDir });
      const big = path.join(work, 'big');
      await mkdir(path.join(big, 'root'), { recursive: true });
      const fd = openSync(path.join(big, 'root', 'blob.bin'), 'w');
      try { execFileSync('head', ['-c', '104857600', '/dev/urandom'], { stdio: ['ignore', fd, 'inherit'] }); } finally { closeSync(fd); }
      execFileSync('tar', ['-C', path.join(big, 'root'), '-cf', path.join(big, 'root.tar'), '.']);
      await E.docker(['-H', extra.unixHost, 'import', path.join(big, 'root.tar'), BIG], { timeoutMs: 300_000 });
      await rm(big, { recursive: true, force: true });
    });

    it('the engine killed in the middle of the export: one line, exit 2; after a restart the same call succeeds and events reconnect', async () => {
      assert.ok(extra);
      const host = extra.unixHost;
      // The event stream watches the whole time, with short backoff.
      const ac = new AbortController();
      const states: string[] = [];
      const events: EngineEvent[] = [];
      const watching = (async () => {
        for await (const ev of client(host).events(ac.signal, { minBackoffMs: 100, maxBackoffMs: 500, onState: (s) => states.push(s) })) events.push(ev);
      })();
      const r = await cliWithFault(['analyze', 'docker://' + BIG, '--json'], envFor(host), extra.pid, 30 * 1024 * 1024, async () => {
        process.kill(extra!.pid, 'SIGKILL');
      });
      assert.ok(r.faulted, `the export ended before 30 MB were sent (exit ${r.code}): ${r.stderr}`);
      assertOneLineError(r, 'engine killed mid-export', /dropped|ended early|restart|truncated/i);
      assert.equal(r.stdout.trim(), '');
      await extra.stop();
      extra = await startDockerd({ dir: extraDir });
      const again = await E.cli(['analyze', 'docker://' + BIG, '--json'], { env: envFor(extra.unixHost), timeoutMs: 300_000 });
      assert.equal(again.code, 0, again.stderr);
      const a = JSON.parse(again.stdout);
      assert.equal(a.layers.length, 1);
      assert.ok(a.layers[0].addedBytes >= 104_857_600, String(a.layers[0].addedBytes));
      // Back: a tag made now arrives through the reconnected stream.
      const deadline = Date.now() + 30_000;
      while (!states.slice(states.indexOf('disconnected')).includes('connected') && Date.now() < deadline) await new Promise((res) => setTimeout(res, 100));
      await E.docker(['-H', extra.unixHost, 'tag', BIG, 'layerlens-faults/big:again']);
      while (!events.some((e) => e.action === 'tag') && Date.now() < deadline) await new Promise((res) => setTimeout(res, 100));
      ac.abort();
      await watching;
      assert.deepEqual([states[0], states.includes('disconnected'), states[states.length - 1]], ['connected', true, 'connected'], states.join(','));
      const tagged = events.find((e) => e.action === 'tag');
      assert.ok(tagged && tagged.type === 'image' && tagged.name === 'layerlens-faults/big:again', JSON.stringify(events));
    });

    it('the image deleted while its export streams: a result or one line, never a crash', async (t) => {
      assert.ok(extra);
      const r = await cliWithFault(['analyze', 'docker://' + BIG, '--json'], envFor(extra.unixHost), extra.pid, 20 * 1024 * 1024, async () => {
        await E.docker(['-H', extra!.unixHost, 'rmi', '-f', BIG, 'layerlens-faults/big:again']);
      });
      assert.ok(r.faulted, 'the image was deleted during the export');
      t.diagnostic(r.code === 0 ? 'the engine finished the export it had begun' : `exit ${r.code}: ${r.stderr.trim()}`);
      if (r.code === 0) assert.equal(JSON.parse(r.stdout).layers.length, 1); // the engine finished the stream it had started
      else assertOneLineError(r, 'image deleted mid-export');
      assertOneLineError(await E.cli(['analyze', 'docker://' + BIG], { env: envFor(extra.unixHost) }), 'deleted image', /not found/i);
    });
  });
});
