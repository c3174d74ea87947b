// UI: what a person sees when hovering a Dockerfile line and running "Layer Lens: Explain This
// Layer", on the fs-changes fixture image (built in the test engine; the workspace maps its
// Dockerfile to the image through layerLens.imageForDockerfile). Saves .e2e/screenshots/hover.png
// and explain.png.
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { after, before, describe, it } from '../runner';
import { openWorkbench, type Workbench } from '../harness';
import { buildFixture, fixtureDir, requireEngine } from '../../support/engine';

const IMAGE = 'layerlens-test/fs-changes:buildkit';
const APPEND = 'RUN echo appended >> /data/big.bin';

describe('hover and Explain This Layer on the fs-changes fixture', () => {
  let wb: Workbench;
  let workspace: string;
  let appendLine = 0;

  before(async () => {
    await requireEngine();
    await buildFixture('fs-changes', { builder: 'buildkit' });
    workspace = fs.mkdtempSync(path.join(os.tmpdir(), 'layerlens-e2e-explain-'));
    const text = fs.readFileSync(path.join(fixtureDir('fs-changes'), 'Dockerfile'), 'utf8');
    fs.writeFileSync(path.join(workspace, 'Dockerfile'), text);
    appendLine = text.split('\n').findIndex((l) => l.startsWith(APPEND)) + 1;
    assert.ok(appendLine > 0, `no '${APPEND}' line in the fixture`);
    fs.mkdirSync(path.join(workspace, '.vscode'));
    fs.writeFileSync(path.join(workspace, '.vscode/settings.json'), JSON.stringify({ 'layerLens.imageForDockerfile': { Dockerfile: IMAGE } }, null, 2));
    wb = await openWorkbench({ folder: workspace, viewport: { width: 1500, height: 950 } });
  });

  after(async () => {
    await wb?.close();
    if (workspace) fs.rmSync(workspace, { recursive: true, force: true });
  });

  it('hovering the big-file append shows its copy-up cost with the image\'s numbers', async () => {
    await wb.openFile('Dockerfile');
    // The first hover waits for the image to be read; until the mapping is there it may say less.
    const text = await wb.poll(() => wb.hover(appendLine, 6, 90_000), (t) => t.includes('Big file:'), 120_000, 'a hover with "Big file:"');
    await wb.screenshot('hover');
    assert.match(text, /Layer \d+ of \d+ · 21 MB/, text);
    assert.match(text, /Big file: \/data\/big\.bin \(21 MB in layer 1\) changed by \+9 B, and all 21 MB were stored again in this layer\./, text);
    assert.match(text, /Explain this layer/, text);
    await wb.page.keyboard.press('Escape');
  }, 180_000);

  it('"Layer Lens: Explain This Layer" opens the report of the line under the cursor', async () => {
    await wb.goToLine(appendLine, 6);
    await wb.runCommand('Layer Lens: Explain This Layer');
    const tab = wb.page.locator('.tabs-container .tab[aria-label^="Explain Layer"]').first();
    await tab.waitFor({ timeout: 60_000 });
    const label = (await tab.getAttribute('aria-label')) ?? '';
    assert.match(label, /^Explain Layer 7\b/, label);
    // The report inside the webview (an iframe in an iframe).
    const frame = wb.page.frameLocator('iframe.webview.ready').frameLocator('#active-frame');
    const h1 = frame.locator('h1');
    await h1.waitFor({ timeout: 30_000 });
    const title = (await h1.innerText()).trim();
    assert.match(title, /^Layer 7 of 9: RUN echo appended >> \/data\/big\.bin$/, title);
    const copyUp = await frame.locator('h2', { hasText: 'Copy-up cost' }).count();
    assert.equal(copyUp, 1, 'a Copy-up cost section');
    assert.equal(await frame.locator('svg rect.bar.current').count(), 1, 'the size chart marks this layer');
    await wb.screenshot('explain');
    // The page's own (nonce'd) script runs under the CSP: its buttons move to another layer.
    await frame.locator('button', { hasText: 'Layer 6' }).click();
    await wb.page.locator('.tabs-container .tab[aria-label^="Explain Layer 6"]').first().waitFor({ timeout: 30_000 });
    await frame.locator('h1', { hasText: 'Layer 6 of 9' }).waitFor({ timeout: 30_000 });
  }, 120_000);
});
