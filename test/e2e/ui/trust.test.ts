// Workspace trust: in an untrusted folder Layer Lens activates (reading images is harmless) but
// Build Image refuses to build — checked in the real extension host of a code-server started with
// workspace trust on, and against the engine: no image gets the tag.
import * as assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { describe, it, before, after } from '../runner';
import { CodeServer, REPO_ROOT, runExtensionHostTests, session } from '../harness';

const TAG = `layerlens-e2e/untrusted:${process.pid}`;
const DOCKER = process.env.LAYERLENS_DOCKER ?? '/usr/bin/docker';

describe('untrusted workspace', () => {
  let server: CodeServer | undefined;
  let dir = '';
  before(async () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'layerlens-untrusted-'));
    fs.writeFileSync(path.join(dir, 'Dockerfile'), 'FROM layerlens-test/busybox\nRUN echo built > /built\n');
    server = await CodeServer.start({
      workspaceTrust: true,
      settings: { 'security.workspace.trust.startupPrompt': 'never', 'security.workspace.trust.emptyWindow': false },
      env: { LAYERLENS_TRUST_TAG: TAG },
      stateDir: path.join(REPO_ROOT, '.e2e/runs/untrusted-' + process.pid),
    });
  });
  after(async () => {
    await server?.stop();
    if (dir) fs.rmSync(dir, { recursive: true, force: true });
  });

  it('activates in restricted mode and refuses Build Image (no image is tagged)', async () => {
    const lines: string[] = [];
    const run = await runExtensionHostTests(session().browser, server!, {
      testsPath: path.join(REPO_ROOT, 'out/test/e2e/trust/index.js'), folder: dir, onLog: (l) => lines.push(l), timeoutMs: 120_000,
    });
    assert.equal(run.exitCode, 0, run.logs.join('\n'));
    assert.ok(lines.some((l) => l.includes('build refused')), lines.join('\n'));
    const inspect = spawnSync(DOCKER, ['image', 'inspect', TAG], { encoding: 'utf8' });
    assert.notEqual(inspect.status, 0, `the engine has an image tagged ${TAG}: the build ran`);
    // The engine answers (so "no image" is not just "no engine").
    execFileSync(DOCKER, ['version'], { stdio: 'ignore' });
  });
});
