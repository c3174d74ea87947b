// UI: the CodeLens a person sees above each instruction of the bundled example's Dockerfile.
// The example image is built in the test engine (scripts/example-image.sh); without an engine the
// extension would fall back to example/image.tar.gz — the lens texts are the same either way.
import * as assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import * as path from 'node:path';
import { describe, it, before, after } from '../runner';
import * as os from 'node:os';
import { CodeServer, session, openWorkbench, REPO_ROOT, Workbench } from '../harness';

describe('CodeLens on the example Dockerfile', () => {
  let wb: Workbench;
  before(async () => {
    execFileSync('bash', [path.join(REPO_ROOT, 'scripts/example-image.sh')], { cwd: REPO_ROOT, stdio: 'inherit' });
    wb = await openWorkbench({ folder: path.join(REPO_ROOT, 'example') });
  });
  after(async () => {
    await wb?.close();
  });

  it('shows layer sizes, config-only and empty-layer lines, and the base', async () => {
    await wb.openFile('Dockerfile');
    const lenses = await wb.poll(() => wb.readCodeLenses(), (t) => t.some((x) => x.startsWith('46 MB')), 90_000, 'a 46 MB lens');
    for (const want of ['base 1.99 MB in 1 layer', '0 B · config only', '0 B · empty layer', '46 MB', '12 MB', '101 B', '8 MB']) {
      assert.ok(lenses.some((x) => x.startsWith(want)), `lens '${want}' in ${JSON.stringify(lenses)}`);
    }
    await wb.screenshot('codelens');
  });
});

describe('CodeLens without a Docker Engine', () => {
  // A code-server of its own whose environment points at no engine: the example must fall back to
  // the image archive it ships (example/image.tar.gz), as on a machine without Docker.
  let server: CodeServer | undefined;
  let wb: Workbench;
  before(async () => {
    server = await CodeServer.start({
      env: { DOCKER_HOST: 'unix://' + path.join(os.tmpdir(), 'layerlens-no-engine.sock') },
      stateDir: path.join(REPO_ROOT, '.e2e/runs/no-engine-' + process.pid),
    });
    wb = await Workbench.open(session().browser, server, { folder: path.join(REPO_ROOT, 'example') });
  });
  after(async () => {
    await wb?.close();
    await server?.stop();
  });

  it('shows the same sizes from example/image.tar.gz', async () => {
    await wb.openFile('Dockerfile');
    const lenses = await wb.poll(() => wb.readCodeLenses(), (t) => t.some((x) => x.startsWith('46 MB')), 90_000, 'a 46 MB lens');
    for (const want of ['0 B · config only', '0 B · empty layer', '46 MB', '12 MB', '101 B', '8 MB']) {
      assert.ok(lenses.some((x) => x.startsWith(want)), `lens '${want}' in ${JSON.stringify(lenses)}`);
    }
    // The base figure uses the archive's definition (regular-file bytes), so only its shape is checked.
    assert.ok(lenses.some((x) => /^base [\d.]+ MB in 1 layer$/.test(x)), JSON.stringify(lenses));
    await wb.screenshot('codelens-no-engine');
  });
});
