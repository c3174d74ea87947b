// dockerode (with docker-modem and ssh2) is loaded when the first engine request is made, not when
// the engine client is imported or made: a CLI command on an archive never loads it. Each case runs
// in a fresh node process, whose module cache tells what was loaded.
import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import * as path from 'node:path';
import { OUT_ROOT, repoRoot } from '../../support/repo';

/** Runs `body` (CommonJS, with `out` = the compiled tree) in a fresh node; its last line of stdout is JSON. */
function inFreshNode(body: string): { loaded: string[]; result: unknown } {
  const script = `
    const path = require('node:path');
    const out = ${JSON.stringify(OUT_ROOT)};
    const engineModules = () => Object.keys(require.cache).filter((k) => /[\\\\/]node_modules[\\\\/](dockerode|docker-modem|ssh2)[\\\\/]/.test(k));
    (async () => { ${body} })().then((result) => {
      process.stdout.write(JSON.stringify({ loaded: engineModules(), result }) + '\\n');
    }, (e) => { process.stderr.write(String(e && e.stack || e)); process.exit(3); });
  `;
  const stdout = execFileSync(process.execPath, ['-e', script], { env: { ...process.env, LAYERLENS_CACHE: 'off' }, encoding: 'utf8' });
  return JSON.parse(stdout.trim().split('\n').pop()!) as { loaded: string[]; result: unknown };
}

test('making an engine client loads no dockerode; its first request does', () => {
  const r = inFreshNode(`
    const { createEngineClient } = require(path.join(out, 'src/engine/docker.js'));
    const client = createEngineClient({ kind: 'unix', url: 'unix:///nonexistent/layerlens.sock', origin: 'test', socketPath: '/nonexistent/layerlens.sock' });
    const before = engineModules().length;
    const error = await client.ping().then(() => 'answered', (e) => e.name + ': ' + e.message);
    return { before, error };
  `);
  const { before, error } = r.result as { before: number; error: string };
  assert.equal(before, 0, 'nothing of dockerode before a request');
  assert.match(error, /^EngineError: Cannot reach the Docker engine at unix:\/\/\/nonexistent\/layerlens\.sock \(from test\): no such socket/);
  assert.ok(r.loaded.some((k) => /[\\/]dockerode[\\/]/.test(k)), 'the request loaded dockerode');
});

test('a transport that cannot be set up fails on each request with its error, without loading dockerode', () => {
  const r = inFreshNode(`
    const { createEngineClient } = require(path.join(out, 'src/engine/docker.js'));
    const client = createEngineClient({ kind: 'tcp', url: 'tcp://h', origin: 'test', host: 'h' });
    const a = await client.ping().then(() => 'answered', (e) => e.message);
    const b = await client.listImages().then(() => 'answered', (e) => e.message);
    return [a, b];
  `);
  assert.deepEqual(r.result, ['No host or port in tcp://h (from test)', 'No host or port in tcp://h (from test)']);
  assert.deepEqual(r.loaded, []);
});

test('layerlens analyze on a docker save file loads no dockerode', () => {
  const file = path.join(repoRoot(), 'test', 'fixtures', 'ggcr', 'tarball', 'test_image_1.tar');
  const r = inFreshNode(`
    const { main } = require(path.join(out, 'src/cli/main.js'));
    const write = process.stdout.write.bind(process.stdout);
    process.stdout.write = () => true;
    const code = await main(['analyze', ${JSON.stringify(file)}, '--json']);
    process.stdout.write = write;
    return code;
  `);
  assert.equal(r.result, 0);
  assert.deepEqual(r.loaded, []);
});
