// Integration tests of the CLI's error handling: one clear line on stderr, exit code 2, never a
// stack trace. Needs the test engine (fails, never skips, without one).
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { open, readdir, readFile, rm, stat, truncate, writeFile } from 'node:fs/promises';
import { randomBytes } from 'node:crypto';
import * as path from 'node:path';
import * as E from '../support/engine';

/** Exit code 2, exactly one non-empty line on stderr, no stack trace. */
function assertOneLineError(r: E.RunResult, what: string, pattern?: RegExp): void {
  const lines = r.stderr.split('\n').filter((l) => l.trim() !== '');
  assert.equal(r.code, 2, `${what}: exit code ${r.code} (want 2); stderr: ${r.stderr.slice(0, 1000)}`);
  assert.equal(lines.length, 1, `${what}: want one line on stderr, got ${lines.length}:\n${r.stderr.slice(0, 2000)}`);
  assert.doesNotMatch(r.stderr, /^\s+at .+[:(]/m, `${what}: stack trace on stderr`);
  assert.doesNotMatch(r.stderr, /\b(TypeError|ReferenceError|RangeError|SyntaxError)\b/, `${what}: internal error leaked`);
  if (pattern) assert.match(lines[0], pattern, `${what}: message not clear enough: ${lines[0]}`);
}

describe('CLI errors', () => {
  let work = '';
  let tag = '';
  before(async () => {
    await E.requireEngine();
    tag = (await E.buildFixture('wasteful', { builder: 'buildkit' })).tag;
    work = await E.tempDir('errors');
  });
  after(async () => {
    if (work) await rm(work, { recursive: true, force: true });
  });

  for (const cmd of ['files', 'analyze'] as const) {
    it(`${cmd}: nonexistent image -> exit 2, one line`, async () => {
      const r = await E.cli([cmd, 'docker://layerlens-test/does-not-exist:nope', '--json']);
      assertOneLineError(r, `${cmd} of a missing image`, /not.?found|no such image|does-not-exist/i);
      assert.equal(r.stdout.trim(), '', 'nothing on stdout');
    });
  }

  it('bare nonexistent image name -> exit 2, one line', async () => {
    const r = await E.cli(['analyze', 'layerlens-test/does-not-exist:nope']);
    assertOneLineError(r, 'analyze of a missing bare name');
  });

  it('no engine (DOCKER_HOST=unix:///nonexistent.sock) -> exit 2, one clear line', async () => {
    const env: NodeJS.ProcessEnv = { ...process.env, DOCKER_HOST: 'unix:///nonexistent.sock' };
    delete env.DOCKER_CONTEXT;
    for (const cmd of ['files', 'analyze']) {
      const r = await E.cli([cmd, 'docker://layerlens-test/busybox:latest', '--json'], { env, timeoutMs: 60_000 });
      assertOneLineError(r, `${cmd} without an engine`, /nonexistent\.sock|engine|daemon|docker|connect/i);
    }
  });

  it('garbage file as archive -> exit 2, one line', async () => {
    const p = path.join(work, 'garbage.tar');
    await writeFile(p, randomBytes(100_000));
    for (const src of [`docker-archive:${p}`, p]) {
      assertOneLineError(await E.cli(['analyze', src, '--json']), `analyze ${src}`);
      assertOneLineError(await E.cli(['files', src, '--json']), `files ${src}`);
    }
  });

  it('missing archive file -> exit 2, one line', async () => {
    const p = path.join(work, 'no-such-file.tar');
    assertOneLineError(await E.cli(['analyze', `docker-archive:${p}`, '--json']), 'analyze of a missing archive', /no-such-file|not found|no such file|ENOENT|cannot/i);
  });

  it('truncated archive -> exit 2, one line', async () => {
    const full = await E.saveArchive(tag, path.join(work, 'full.tar'));
    const size = (await stat(full)).size;
    // Cut in the middle (inside a layer's data) and early (before any manifest or config).
    for (const cut of [Math.floor(size / 2), 1500]) {
      const p = path.join(work, `cut-${cut}.tar`);
      await writeFile(p, (await readFile(full)).subarray(0, cut));
      for (const cmd of ['analyze', 'files']) {
        assertOneLineError(await E.cli([cmd, `docker-archive:${p}`, '--json']), `${cmd} of an archive cut at ${cut}/${size}`);
      }
    }
  });

  it('OCI layout with a truncated layer blob -> exit 2, one line', async () => {
    const dir = await E.ociLayout(tag, path.join(work, 'oci-bad'), 'gzip');
    const blobs = path.join(dir, 'blobs', 'sha256');
    let biggest = '';
    let max = -1;
    for (const f of await readdir(blobs)) {
      const s = (await stat(path.join(blobs, f))).size;
      if (s > max) { max = s; biggest = f; }
    }
    await truncate(path.join(blobs, biggest), Math.floor(max / 2));
    for (const cmd of ['analyze', 'files']) {
      assertOneLineError(await E.cli([cmd, `oci:${dir}`, '--json']), `${cmd} of an OCI layout with a truncated blob`);
    }
  });

  it('corrupted gzip layer in an OCI layout -> exit 2, one line', async () => {
    const dir = await E.ociLayout(tag, path.join(work, 'oci-corrupt'), 'gzip');
    const blobs = path.join(dir, 'blobs', 'sha256');
    let biggest = '';
    let max = -1;
    for (const f of await readdir(blobs)) {
      const s = (await stat(path.join(blobs, f))).size;
      if (s > max) { max = s; biggest = f; }
    }
    // Overwrite bytes in the middle of the deflate stream (size unchanged).
    const fh = await open(path.join(blobs, biggest), 'r+');
    try {
      await fh.write(randomBytes(4096), 0, 4096, Math.floor(max / 2));
    } finally {
      await fh.close();
    }
    assertOneLineError(await E.cli(['files', `oci:${dir}`, '--json']), 'files of an OCI layout with a corrupted gzip blob');
  });
});
