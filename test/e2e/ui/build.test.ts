// UI: "Layer Lens: Build Image" clicked through in a real VS Code, on a workspace with a small build
// context FROM layerlens-test/busybox:latest (made by test/support/engine.ts). A person runs the
// command from the palette, waits for the build notification, and reads the lenses:
//   1st build: every layer line says "… · rebuilt in N s";
//   2nd build, nothing changed: every layer line says "… · cached";
//   a COPY source edited and saved in the editor: that COPY line says "will rebuild · 1 file
//   changed: greeting.txt", every later line "will rebuild", earlier ones stay "cached";
//   3rd build: lines rebuilt exactly where the prediction said, the others cached.
// The first RUN writes a per-run token, so nothing of the first build can come from an earlier
// run's build cache. The tag is the extension's default for the folder (layerlens/<folder>:dev,
// unique per run); every image the builds made is removed afterwards. Saves
// .e2e/screenshots/build-predict.png and build-lenses.png.
import * as assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { after, before, describe, it } from '../runner';
import { openWorkbench, type Workbench } from '../harness';
import { BASE_IMAGE, docker, ensureBaseImage, imageId, run, DOCKER } from '../../support/engine';

const BUILDING = 'Layer Lens: building';

describe('Build Image from the command palette, then the lenses', () => {
  let wb: Workbench;
  let workspace: string;
  let tag = '';
  const ids = new Set<string>();
  const token = randomBytes(8).toString('hex');
  const dockerfile = [
    `FROM ${BASE_IMAGE}`,
    `RUN echo ${token} > /run-id`,
    'COPY greeting.txt /app/greeting.txt',
    'RUN wc -c /app/greeting.txt > /app/size.txt',
    'COPY run.sh /app/run.sh',
    'CMD ["sh", "/app/run.sh"]',
    '',
  ].join('\n');
  const FROM = 1;
  const LAYER_LINES = [2, 3, 4, 5];
  const EDITED_COPY = 3;

  /** Runs Build Image from the palette with the Dockerfile active, waits for its notification to come and go. */
  async function buildFromPalette(): Promise<void> {
    await wb.openFile('Dockerfile');
    const toast = wb.page.locator('.notifications-toasts .notification-toast', { hasText: BUILDING });
    // Build Image is enabled only in a trusted workspace, and the window settles its trust a while
    // after the extension shows its first lens (seen on a cold first run): until then the command
    // is not in the palette.
    await wb.runCommandWhenListed('Layer Lens: Build Image');
    await toast.first().waitFor({ state: 'visible', timeout: 60_000 });
    await toast.first().waitFor({ state: 'hidden', timeout: 300_000 });
    const failed = wb.page.locator('.notifications-toasts .notification-toast', { hasText: 'build failed' });
    assert.equal(await failed.count(), 0, `no build error: ${(await failed.allInnerTexts()).join(' | ')}`);
    ids.add(await imageId(tag));
  }

  before(async () => {
    await ensureBaseImage();
    workspace = fs.mkdtempSync(path.join(os.tmpdir(), 'layerlens-e2e-build-'));
    // The extension's default tag for a Dockerfile at the folder root (see defaultTag in src/vscode/build/buildImage.ts).
    tag = `layerlens/${path.basename(workspace).toLowerCase()}:dev`;
    fs.writeFileSync(path.join(workspace, 'Dockerfile'), dockerfile);
    fs.writeFileSync(path.join(workspace, 'greeting.txt'), 'hello\n');
    fs.writeFileSync(path.join(workspace, 'run.sh'), 'cat /app/greeting.txt\n');
    fs.writeFileSync(path.join(workspace, '.dockerignore'), '.vscode\n');
    fs.mkdirSync(path.join(workspace, '.vscode'));
    // Pinned: no build args, the last stage (nothing to ask).
    fs.writeFileSync(path.join(workspace, '.vscode/settings.json'), JSON.stringify({ 'layerLens.build.args': {}, 'layerLens.build.target': '' }, null, 2));
    wb = await openWorkbench({ folder: workspace, viewport: { width: 1200, height: 600 } });
  });

  after(async () => {
    await wb?.close();
    if (workspace) fs.rmSync(workspace, { recursive: true, force: true });
    // Only what these builds made: the tag, then every image id it pointed at.
    if (tag) await run(DOCKER, ['rmi', tag]);
    for (const id of ids) await run(DOCKER, ['rmi', id]);
  });

  /**
   * Waits until the lens above every listed line matches its pattern (lenses of one refresh are
   * drawn a few hundred ms apart); a timeout fails with what the lenses said last.
   */
  async function expectLenses(want: Record<number, RegExp | string>, what: string): Promise<Map<number, string>> {
    const ok = (m: Map<number, string>): boolean => Object.entries(want).every(([line, re]) => {
      const text = m.get(Number(line)) ?? '';
      return typeof re === 'string' ? text === re : re.test(text);
    });
    return wb.waitForCodeLensesByLine(ok, 120_000, `${what}: ${JSON.stringify(Object.entries(want).map(([l, re]) => [Number(l), String(re)]))}`);
  }

  const BASE = /^base [\d.]+ MB in 1 layer · cached$/;
  // A rebuilt layer of another size says so against the previous build (`17 B (+11 B since last build)`).
  const REBUILT = /^\d+ B( \([+-][\d.]+ [kMG]?B since last build\))? · rebuilt in [\d.]+ m?s$/;
  const CACHED = /^\d+ B · cached$/;
  const CONFIG = '0 B · config only';

  it('1st build: every layer line is rebuilt; 2nd, unchanged: every layer line is cached', async () => {
    // The extension's contributions (the command) appear once its host is up.
    await wb.page.locator('.activitybar .action-item a[aria-label^="Layers"]').first().waitFor({ timeout: 90_000 });
    await wb.openFile('Dockerfile');
    await wb.waitForCodeLenses(undefined, 90_000);
    await buildFromPalette();
    await expectLenses({ [FROM]: BASE, 2: REBUILT, 3: REBUILT, 4: REBUILT, 5: REBUILT, 6: CONFIG }, 'after the 1st build');

    await buildFromPalette();
    await expectLenses({ [FROM]: BASE, 2: CACHED, 3: CACHED, 4: CACHED, 5: CACHED, 6: CONFIG }, 'after the 2nd, unchanged build');
    assert.equal(ids.size, 1, `the unchanged build made the same image: ${[...ids].join(' ')}`);
  }, 600_000);

  it('a COPY source edited and saved: the lenses predict what rebuilds, and the 3rd build agrees', async () => {
    await wb.openFile('greeting.txt');
    await wb.activeEditor().click();
    await wb.page.keyboard.press('Control+A');
    // No Enter: in a plain-text file it may accept a word suggestion instead of breaking the line.
    await wb.page.keyboard.type('hello, layer lens');
    await wb.page.keyboard.press('Escape');
    await wb.page.keyboard.press('Control+S');
    await wb.poll(async () => fs.readFileSync(path.join(workspace, 'greeting.txt'), 'utf8'), (t) => t === 'hello, layer lens', 15_000, 'greeting.txt saved');

    await wb.openFile('Dockerfile');
    const predicted = await expectLenses({
      [FROM]: BASE, 2: CACHED, [EDITED_COPY]: 'will rebuild · 1 file changed: greeting.txt',
      4: /^will rebuild · line 3: 1 file changed$/, 5: /^will rebuild · line 3: 1 file changed$/, 6: /^will rebuild\b/,
    }, 'the prediction after greeting.txt changed');
    await wb.screenshot('build-predict');

    await buildFromPalette();
    // Rebuilt exactly where "will rebuild" was predicted, cached elsewhere.
    const want: Record<number, RegExp | string> = { [FROM]: BASE, 6: CONFIG };
    for (const l of LAYER_LINES) want[l] = /^will rebuild/.test(predicted.get(l) ?? '') ? REBUILT : CACHED;
    await expectLenses(want, 'after the 3rd build');
    assert.equal(ids.size, 2, 'the 3rd build made a new image');
    assert.equal((await docker(['run', '--rm', '--network=none', tag])).trim(), 'hello, layer lens', 'the image holds the edited file');
    await wb.screenshot('build-lenses');
  }, 600_000);
});
