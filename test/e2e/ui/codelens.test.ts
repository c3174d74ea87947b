// UI: the CodeLens a person sees above each instruction of the bundled example's Dockerfile.
// The example image is built in the test engine (scripts/example-image.sh); without an engine the
// extension would fall back to example/image.tar.gz — the lens texts are the same either way.
import * as assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import * as path from 'node:path';
import { describe, it, before, after } from '../runner';
import { openWorkbench, REPO_ROOT, type Workbench } from '../harness';

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
