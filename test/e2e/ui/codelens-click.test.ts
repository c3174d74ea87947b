// UI: clicking a layer's CodeLens selects that layer's row in the Layers view (opened without
// taking focus from the editor) and opens "Explain This Layer" beside the editor, on the fs-changes
// fixture image (built in the test engine; the workspace maps its Dockerfile to the image through
// layerLens.imageForDockerfile). Saves .e2e/screenshots/codelens-click.png.
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { after, before, describe, it } from '../runner';
import { openWorkbench, type TreeRow, type Workbench } from '../harness';
import { buildFixture, fixtureDir, requireEngine } from '../../support/engine';

const IMAGE = 'layerlens-test/fs-changes:buildkit';

const selectedRows = (rows: TreeRow[]): string[] => rows.filter((r) => r.selected).map((r) => r.ariaLabel);

describe('clicking a CodeLens on the fs-changes fixture', () => {
  let wb: Workbench;
  let workspace: string;
  let lines: string[] = [];
  const lineOf = (prefix: string): number => {
    const i = lines.findIndex((l) => l.startsWith(prefix));
    assert.ok(i >= 0, `no '${prefix}' line in the fixture`);
    return i + 1;
  };

  before(async () => {
    await requireEngine();
    await buildFixture('fs-changes', { builder: 'buildkit' });
    workspace = fs.mkdtempSync(path.join(os.tmpdir(), 'layerlens-e2e-lens-click-'));
    const text = fs.readFileSync(path.join(fixtureDir('fs-changes'), 'Dockerfile'), 'utf8');
    lines = text.split('\n');
    fs.writeFileSync(path.join(workspace, 'Dockerfile'), text);
    fs.mkdirSync(path.join(workspace, '.vscode'));
    fs.writeFileSync(path.join(workspace, '.vscode/settings.json'), JSON.stringify({ 'layerLens.imageForDockerfile': { Dockerfile: IMAGE } }, null, 2));
    wb = await openWorkbench({ folder: workspace, viewport: { width: 1500, height: 950 } });
  });

  after(async () => {
    await wb?.close();
    if (workspace) fs.rmSync(workspace, { recursive: true, force: true });
  });

  it('selects the layer\'s row in the Layers view and opens Explain, focus staying in the editor', async () => {
    const append = lineOf('RUN echo appended >> /data/big.bin');
    const overwrite = lineOf('RUN echo two-and-longer');
    await wb.openFile('Dockerfile');
    // Lenses are read from the rendered lines: bring each line into view first.
    await wb.goToLine(overwrite);
    await wb.waitForCodeLensesByLine((m) => /^15 B/.test(m.get(overwrite) ?? ''), 120_000, `a 15 B lens above line ${overwrite}`);
    await wb.goToLine(append);
    await wb.waitForCodeLensesByLine((m) => /^21 MB/.test(m.get(append) ?? ''), 60_000, `a 21 MB lens above line ${append}`);
    // The Explorer is the side bar's view: the click has to bring the Layers view up.
    assert.equal(await wb.page.locator('.pane-header[aria-label="Layers Section"]').count(), 0, 'the Layers view is not shown before the click');

    await wb.clickCodeLens(append);
    const rows = await wb.waitForTreeRows('Layers', (r) => selectedRows(r).length === 1 && selectedRows(r)[0].startsWith('L7 · '), 60_000);
    assert.match(selectedRows(rows)[0], new RegExp(`^L7 · line ${append} · RUN echo appended >> /data/big\\.bin, 21 MB`), JSON.stringify(rows.map((r) => r.ariaLabel)));
    const tab = wb.page.locator('.tabs-container .tab[aria-label^="Explain Layer 7"]').first();
    await tab.waitFor({ timeout: 60_000 });
    const frame = wb.page.frameLocator('iframe.webview.ready').frameLocator('#active-frame');
    await frame.locator('h1', { hasText: /^Layer 7 of 9: RUN echo appended >> \/data\/big\.bin$/ }).waitFor({ timeout: 30_000 });
    // Explain opened beside the editor; the Dockerfile's group is still the active one, its editor focused.
    assert.match((await wb.activeTab().getAttribute('aria-label')) ?? '', /^Dockerfile/, 'the Dockerfile is still the active editor');
    assert.match((await wb.activeEditor().getAttribute('class')) ?? '', /\bfocused\b/, 'keyboard focus stays in the Dockerfile editor');
    await wb.screenshot('codelens-click');

    // Another lens: that row is selected instead, and the same Explain panel shows that layer.
    await wb.clickCodeLens(overwrite);
    const rows2 = await wb.waitForTreeRows('Layers', (r) => selectedRows(r).length === 1 && selectedRows(r)[0].startsWith('L2 · '), 60_000);
    assert.match(selectedRows(rows2)[0], new RegExp(`^L2 · line ${overwrite} · RUN echo two-and-longer`), JSON.stringify(rows2.map((r) => r.ariaLabel)));
    await wb.page.locator('.tabs-container .tab[aria-label^="Explain Layer 2"]').first().waitFor({ timeout: 60_000 });
    await frame.locator('h1', { hasText: /^Layer 2 of 9: RUN echo two-and-longer/ }).waitFor({ timeout: 30_000 });
    assert.equal(await wb.page.locator('.tabs-container .tab[aria-label^="Explain Layer"]').count(), 1, 'one Explain panel, reused');
    assert.match((await wb.activeEditor().getAttribute('class')) ?? '', /\bfocused\b/, 'keyboard focus stays in the Dockerfile editor');
  }, 240_000);
});
