// UI: a directory with more children than a page (2,500 files; the view lists 500 at a time) in
// the Merged Filesystem view of a `docker save` file made by the test: the first page ends in a
// "Show 500 more" row, which lists the next page when clicked; Find File reveals a path past the
// pages listed.
import * as assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { after, before, describe, it } from '../runner';
import { openWorkbench, type TreeRow, type Workbench } from '../harness';
import { member, rawTar } from '../../unit/support/rawtar';

const FILES = 2500;
const name = (i: number): string => `f${String(i).padStart(4, '0')}`;

/** A one-layer `docker save` file: /big holding FILES small files. */
function bigDirectoryArchive(file: string): void {
  const parts = [member({ name: 'big/', type: '5', mode: 0o755 })];
  for (let i = 0; i < FILES; i++) parts.push(member({ name: `big/${name(i)}` }, `${i}\n`));
  const layer = rawTar(...parts);
  const diffId = 'sha256:' + createHash('sha256').update(layer).digest('hex');
  const config = JSON.stringify({ architecture: 'amd64', os: 'linux', rootfs: { type: 'layers', diff_ids: [diffId] }, history: [{ created_by: 'COPY big /big' }] });
  const manifest = JSON.stringify([{ Config: 'config.json', RepoTags: ['layerlens-test/big-directory:1'], Layers: ['l0/layer.tar'] }]);
  fs.writeFileSync(file, rawTar(member({ name: 'l0/layer.tar' }, layer), member({ name: 'config.json' }, config), member({ name: 'manifest.json' }, manifest)));
}

const labels = (rows: TreeRow[]): string => JSON.stringify(rows.map((r) => r.ariaLabel));

describe('Merged Filesystem: a directory listed a page at a time', () => {
  let wb: Workbench;
  let workspace: string;

  before(async () => {
    workspace = fs.mkdtempSync(path.join(os.tmpdir(), 'layerlens-e2e-bigdir-'));
    const archive = path.join(workspace, 'big.tar');
    bigDirectoryArchive(archive);
    fs.writeFileSync(path.join(workspace, 'Dockerfile'), 'FROM scratch\nCOPY big /big\n');
    fs.mkdirSync(path.join(workspace, '.vscode'));
    fs.writeFileSync(path.join(workspace, '.vscode/settings.json'), JSON.stringify({ 'layerLens.imageForDockerfile': { Dockerfile: `docker-archive:${archive}` } }, null, 2));
    wb = await openWorkbench({ folder: workspace, viewport: { width: 1400, height: 1000 } });
  });

  after(async () => {
    await wb?.close();
    if (workspace) fs.rmSync(workspace, { recursive: true, force: true });
  });

  it('a page of 500 rows, then "Show 500 more"; clicked, the next page; Find File reveals the last file', async () => {
    await wb.page.locator('.activitybar .action-item a[aria-label^="Layers"]').first().waitFor({ timeout: 90_000 });
    await wb.openFile('Dockerfile');
    await wb.openView('Layers');
    const pane = wb.viewPane('Merged Filesystem');
    await pane.locator('.monaco-list-row[aria-label^="big,"]').first().waitFor({ timeout: 120_000 });
    await pane.locator('.monaco-list-row[aria-label^="big,"] .monaco-tl-twistie').click();
    await wb.waitForTreeRows('Merged Filesystem', (r) => r.some((x) => x.ariaLabel.startsWith(`${name(0)},`)), 60_000);
    // The list is virtualised: End moves to its last row, the "more" row.
    await pane.locator(`.monaco-list-row[aria-label^="${name(0)},"]`).click();
    await wb.page.keyboard.press('End');
    const firstPage = await wb.waitForTreeRows('Merged Filesystem', (r) => r.some((x) => x.ariaLabel.startsWith('Show 500 more')), 30_000);
    const more = firstPage.find((r) => r.ariaLabel.startsWith('Show 500 more'));
    assert.equal(more?.ariaLabel, 'Show 500 more, 500 of 2,500 shown', labels(firstPage));
    assert.ok(firstPage.some((r) => r.ariaLabel.startsWith(`${name(499)},`)), `the page ends with ${name(499)}: ${labels(firstPage)}`);
    assert.ok(!firstPage.some((r) => r.ariaLabel.startsWith(`${name(500)},`)), labels(firstPage));
    // Clicking the row runs Show More Rows: the next 500, and a row for the rest.
    await pane.locator('.monaco-list-row[aria-label^="Show 500 more"]').click();
    await wb.waitForTreeRows('Merged Filesystem', (r) => r.some((x) => x.ariaLabel.startsWith(`${name(500)},`)), 30_000);
    await pane.locator(`.monaco-list-row[aria-label^="${name(500)},"]`).click();
    await wb.page.keyboard.press('End');
    const secondPage = await wb.waitForTreeRows('Merged Filesystem', (r) => r.some((x) => x.ariaLabel === 'Show 500 more, 1,000 of 2,500 shown'), 30_000);
    assert.ok(secondPage.some((r) => r.ariaLabel.startsWith(`${name(999)},`)), labels(secondPage));
    assert.ok(!secondPage.some((r) => r.ariaLabel.startsWith(`${name(1000)},`)), labels(secondPage));
    // Find File past the listed pages: the rest is listed and the file revealed, selected.
    await wb.runCommand('Layer Lens: Find File in Image…');
    const input = wb.page.locator('.quick-input-widget input[placeholder*="paths: type part of a name"]');
    await input.waitFor({ state: 'visible' });
    await input.fill(name(FILES - 1));
    await wb.page.locator(`.quick-input-widget .monaco-list-row[aria-label*="${name(FILES - 1)}"]`).first().waitFor();
    await wb.page.keyboard.press('Enter');
    const revealed = await wb.waitForTreeRows('Merged Filesystem', (r) => r.some((x) => x.selected && x.ariaLabel.startsWith(`${name(FILES - 1)},`)), 60_000);
    assert.ok(!revealed.some((r) => r.ariaLabel.startsWith('Show ')), `every page listed: ${labels(revealed)}`);
  }, 240_000);
});
