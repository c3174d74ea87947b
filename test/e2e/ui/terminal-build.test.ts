// UI: lenses for builds made in a terminal. The workspace's image is built with the plain docker
// CLI (`DOCKER_BUILDKIT=1 docker build`), never with Layer Lens. A person opens the Dockerfile:
// the build is seen through the engine and recorded, every line says "cached" (the next build would
// take everything from the cache). A COPY source is then changed on disk (by another program): that
// COPY line says "will rebuild · 1 file changed: greeting.txt", the lines after it "will rebuild",
// the ones above stay "cached". Built again in the terminal: the new image's event makes it the
// recorded build, every line says "cached" again, and the COPY and the RUN after it show their
// sizes against the first build.
import * as assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { after, before, describe, it } from '../runner';
import { openWorkbench, type Workbench } from '../harness';
import { BASE_IMAGE, ensureBaseImage, run, DOCKER } from '../../support/engine';

describe('A build made in a terminal, then the lenses', () => {
  let wb: Workbench;
  let workspace: string;
  const token = randomBytes(8).toString('hex');
  const tag = `layerlens-test/terminal-${token}:dev`;
  const dockerfile = [
    `FROM ${BASE_IMAGE}`,
    `RUN echo ${token} > /run-id`,
    'COPY greeting.txt /app/greeting.txt',
    'RUN wc -c /app/greeting.txt > /app/size.txt',
    '',
  ].join('\n');

  async function terminalBuild(): Promise<void> {
    const r = await run(DOCKER, ['build', '--network=host', '-t', tag, workspace], { env: { ...process.env, DOCKER_BUILDKIT: '1' }, timeoutMs: 300_000 });
    assert.equal(r.code, 0, r.stderr);
  }

  before(async () => {
    await ensureBaseImage();
    workspace = fs.mkdtempSync(path.join(os.tmpdir(), 'layerlens-e2e-terminal-'));
    fs.writeFileSync(path.join(workspace, 'Dockerfile'), dockerfile);
    fs.writeFileSync(path.join(workspace, 'greeting.txt'), 'hello\n');
    const past = new Date(Date.now() - 3600_000);
    for (const f of ['Dockerfile', 'greeting.txt']) fs.utimesSync(path.join(workspace, f), past, past);
    await terminalBuild();
    wb = await openWorkbench({ folder: workspace, viewport: { width: 1200, height: 600 } });
  });

  after(async () => {
    await wb?.close();
    if (workspace) fs.rmSync(workspace, { recursive: true, force: true });
    await run(DOCKER, ['rmi', '-f', tag]);
  });

  const BASE = /^base [\d.]+ MB in 1 layer · cached$/;
  const CACHED = /^\d+ B · cached$/;

  async function expectLenses(want: Record<number, RegExp | string>, what: string): Promise<Map<number, string>> {
    const ok = (m: Map<number, string>): boolean => Object.entries(want).every(([line, re]) => {
      const text = m.get(Number(line)) ?? '';
      return typeof re === 'string' ? text === re : re.test(text);
    });
    return wb.waitForCodeLensesByLine(ok, 120_000, `${what}: ${JSON.stringify(Object.entries(want).map(([l, re]) => [Number(l), String(re)]))}`);
  }

  it('seen, predicted after an edit on disk, and seen again after the next terminal build', async () => {
    await wb.page.locator('.activitybar .action-item a[aria-label^="Layers"]').first().waitFor({ timeout: 90_000 });
    await wb.openFile('Dockerfile');
    await expectLenses({ 1: BASE, 2: CACHED, 3: CACHED, 4: CACHED }, 'the terminal build seen');

    fs.writeFileSync(path.join(workspace, 'greeting.txt'), 'hello from a terminal\n');
    await expectLenses({
      1: BASE, 2: CACHED, 3: 'will rebuild · 1 file changed: greeting.txt', 4: /^will rebuild · line 3: 1 file changed$/,
    }, 'the prediction after greeting.txt changed on disk');
    await wb.screenshot('terminal-build-predict');

    await terminalBuild();
    // The new image is the recorded build; its layers against the previous build's: greeting.txt
    // grew by 16 bytes, and so did the number `wc -c` wrote, by one digit.
    await expectLenses({
      1: BASE, 2: CACHED, 3: '22 B (+16 B since last build) · cached', 4: '21 B (+1 B since last build) · cached',
    }, 'the next terminal build seen');
  }, 600_000);
});
