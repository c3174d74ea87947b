// UI: the "Layers" sidebar as a person sees it, on the fs-changes fixture image (built in the test
// engine; DOCKER_HOST reaches the extension host through code-server's environment).
// Opens the image through Layer Lens: Open Image… (typing the source), then through the fixture's
// Dockerfile (layers get their lines), and reads rows showing a provider layer, a hidden copy and a
// whiteout in the Merged Filesystem view. Saves .e2e/screenshots/layers-view.png for the README.
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { after, before, describe, it } from '../runner';
import { openWorkbench, type TreeRow, type Workbench } from '../harness';
import { buildFixture, fixtureDir, requireEngine } from '../../support/engine';

const IMAGE = 'layerlens-test/fs-changes:buildkit';

// Rows are matched on their aria-label, "label, description" (innerText runs the two together).
const texts = (rows: TreeRow[]): string => JSON.stringify(rows.map((r) => r.ariaLabel), null, 1);

/** Rows of one pane of the Layers container, by its header title (the container is titled Layers too). */
async function paneRows(wb: Workbench, title: string): Promise<TreeRow[]> {
  const pane = wb.page.locator('.part.sidebar .pane')
    .filter({ has: wb.page.locator('.pane-header .title', { hasText: new RegExp(`^${title}$`, 'i') }) }).first();
  const rows = pane.locator('.monaco-list-row');
  const out: TreeRow[] = [];
  for (let i = 0, n = await rows.count(); i < n; i++) {
    const row = rows.nth(i);
    const [text, ariaLabel, level, expanded, selected] = await Promise.all([
      row.innerText(), row.getAttribute('aria-label'), row.getAttribute('aria-level'),
      row.getAttribute('aria-expanded'), row.getAttribute('aria-selected'),
    ]);
    out.push({
      text: text.replace(/\u00a0/g, ' ').replace(/\s*\n\s*/g, ' ').trim(), ariaLabel: ariaLabel ?? '',
      level: level ? Number(level) : 1, expanded: expanded === null ? undefined : expanded === 'true', selected: selected === 'true',
    });
  }
  return out;
}

function waitForPaneRows(wb: Workbench, title: string, predicate: (rows: TreeRow[]) => boolean, timeoutMs = 60_000): Promise<TreeRow[]> {
  return wb.poll(() => paneRows(wb, title), predicate, timeoutMs, `rows in the ${title} view`);
}

describe('Layers view on the fs-changes fixture image', () => {
  let wb: Workbench;
  let workspace: string;

  before(async () => {
    await requireEngine();
    await buildFixture('fs-changes', { builder: 'buildkit' });
    // A workspace holding the fixture's Dockerfile, mapped to the fixture image by the setting.
    workspace = fs.mkdtempSync(path.join(os.tmpdir(), 'layerlens-e2e-layers-'));
    fs.copyFileSync(path.join(fixtureDir('fs-changes'), 'Dockerfile'), path.join(workspace, 'Dockerfile'));
    fs.mkdirSync(path.join(workspace, '.vscode'));
    fs.writeFileSync(path.join(workspace, '.vscode/settings.json'), JSON.stringify({ 'layerLens.imageForDockerfile': { Dockerfile: IMAGE } }, null, 2));
    wb = await openWorkbench({ folder: workspace, viewport: { width: 1500, height: 1000 } });
  });

  after(async () => {
    await wb?.close();
    if (workspace) fs.rmSync(workspace, { recursive: true, force: true });
  });

  it('Open Image… takes a typed source; the Layers view lists every layer bottom to top with its instruction and size', async () => {
    // The extension's contributions (activity bar entry, commands) appear once its host is up.
    await wb.page.locator('.activitybar .action-item a[aria-label^="Layers"]').first().waitFor({ timeout: 90_000 });
    await wb.runCommand('Layer Lens: Open Image…');
    // Our quick pick (not the palette it replaces): engine images, Open Archive…, Open OCI Layout….
    const input = wb.page.locator('.quick-input-widget input[placeholder^="Pick an image"]');
    await input.waitFor({ state: 'visible' });
    await input.fill(IMAGE);
    await wb.page.locator(`.quick-input-widget .monaco-list-row[aria-label*="${IMAGE}"]`).first().waitFor();
    // The pick's items may still be replaced (the engine's images arrive) as Enter is pressed, and
    // the workbench then drops the key: press it again while the pick stays open.
    for (let attempt = 1; ; attempt++) {
      await wb.page.keyboard.press('Enter');
      try {
        await input.waitFor({ state: 'hidden', timeout: 10_000 });
        break;
      } catch (e) {
        if (attempt >= 3) throw e;
      }
    }
    await wb.openView('Layers');
    const rows = await waitForPaneRows(wb, 'Layers', (r) => r.some((x) => x.ariaLabel.includes('RUN echo two-and-longer')), 120_000);
    const labels = rows.map((r) => r.ariaLabel);
    const idx = (re: RegExp): number => labels.findIndex((t) => re.test(t));
    assert.ok(idx(/^L0 · \(layerlens test base: busybox-static rootfs\)/) >= 0, `the base layer, named by its import message: ${texts(rows)}`);
    assert.ok(!rows.some((r) => r.ariaLabel.startsWith('data,')), `only layer rows: ${texts(rows)}`);
    assert.ok(idx(/^L1 · RUN mkdir -p \/data\/keep/) > idx(/^L0 /), `bottom to top: ${texts(rows)}`);
    assert.ok(idx(/^L2 · RUN echo two-and-longer > \/data\/overwrite\.txt/) > idx(/^L1 /), texts(rows));
    assert.ok(idx(/^L8 · WORKDIR \/data\/work/) > idx(/^L7 /), texts(rows));
    assert.match(labels[idx(/^L1 /)], /, 21 MB · 21 MB hidden$/, 'L1 ships 20 MiB that the append in L7 hides');
  }, 180_000);

  it('with the image\'s Dockerfile open, layers show their Dockerfile line and the base image is grouped', async () => {
    await wb.openFile('Dockerfile');
    await wb.openView('Layers');
    // Lines and the base group arrive with the Dockerfile's mapping; a refresh may show the lines a
    // moment before the group, so wait for both, then check every row.
    const rows = await waitForPaneRows(wb, 'Layers', (r) => r.some((x) => /^L2 · line 21 · RUN echo two-and-longer/.test(x.ariaLabel))
      && r.some((x) => /^Base image · 1 layer/.test(x.ariaLabel)), 120_000);
    assert.ok(rows.some((r) => /^Base image · 1 layer, 1.99 MB/.test(r.ariaLabel)), texts(rows));
    assert.ok(rows.some((r) => /^L1 · line 8 · RUN mkdir/.test(r.ariaLabel)), texts(rows));
    assert.ok(rows.some((r) => /^L8 · line 38 · WORKDIR \/data\/work, 0 B$/.test(r.ariaLabel)), texts(rows));
  }, 180_000);

  it('Merged Filesystem: a provider layer, a hidden copy and a whiteout', async () => {
    await wb.runCommand('Layer Lens: Find File in Image…');
    const input = wb.page.locator('.quick-input-widget input[placeholder*="paths: type part of a name"]');
    await input.waitFor({ state: 'visible' });
    await input.fill('overwrite.txt');
    await wb.page.locator('.quick-input-widget .monaco-list-row[aria-label*="overwrite.txt"]').first().waitFor();
    await wb.page.keyboard.press('Enter');
    // Revealed, selected and focused: expand it to list the copy it hides.
    await waitForPaneRows(wb, 'Merged Filesystem', (r) => r.some((x) => x.selected && x.ariaLabel.startsWith('overwrite.txt,')), 60_000);
    await wb.page.keyboard.press('ArrowRight');
    const rows = await waitForPaneRows(wb, 'Merged Filesystem', (r) => r.some((x) => /hidden by L2$/.test(x.ariaLabel)), 30_000);
    const provider = rows.find((r) => r.ariaLabel.startsWith('overwrite.txt,'));
    assert.ok(provider, texts(rows));
    assert.match(provider.ariaLabel, /^overwrite\.txt, 15 B · L2 · RUN echo two-and-longer > \/data\/overwri… · hides L1 \(4 B\)$/);
    const copy = rows.find((r) => /hidden by L2$/.test(r.ariaLabel));
    assert.ok(copy, texts(rows));
    assert.match(copy.ariaLabel, /^L1 · RUN mkdir -p \/data\/keep .*, 4 B · hidden by L2$/);
    assert.equal(copy.level, provider.level + 1, 'the hidden copy is a child of the file');
    const whiteout = rows.find((r) => r.ariaLabel.startsWith('delete-me.txt,'));
    assert.ok(whiteout, texts(rows));
    assert.equal(whiteout.ariaLabel, 'delete-me.txt, deleted by L3, still shipped in L1: 4 B');
    const gone = rows.find((r) => r.ariaLabel.startsWith('gone,'));
    assert.ok(gone, texts(rows));
    assert.equal(gone.ariaLabel, 'gone, deleted by L3, still shipped in L1: 4 B', 'a deleted directory sums what it still ships');
    const opaque = rows.find((r) => r.ariaLabel.startsWith('opaque,'));
    assert.ok(opaque, texts(rows));
    assert.equal(opaque.ariaLabel, 'opaque, 0 B · 6 B hidden · opaque in L4: hides 2 entries (6 B)');
    // A layer expands to its changes, like dive's per-layer view.
    const layersPane = wb.page.locator('.part.sidebar .pane')
      .filter({ has: wb.page.locator('.pane-header .title', { hasText: /^Layers$/i }) }).first();
    await layersPane.locator('.monaco-list-row[aria-label^="L3 · "] .monaco-tl-twistie').click();
    await waitForPaneRows(wb, 'Layers', (r) => r.some((x) => x.level === 2 && x.ariaLabel.startsWith('data,')), 30_000);
    await layersPane.locator('.monaco-list-row[aria-level="2"][aria-label^="data,"] .monaco-tl-twistie').click();
    const changes = await waitForPaneRows(wb, 'Layers', (r) => r.some((x) => x.ariaLabel.startsWith('delete-me.txt,')), 30_000);
    const dataRow = changes.find((r) => r.level === 2 && r.ariaLabel.startsWith('data,'));
    assert.match(dataRow?.ariaLabel ?? '', /^data, 1 modified, 2 deleted · 19 B$/, texts(changes));
    const del = changes.find((r) => r.ariaLabel.startsWith('delete-me.txt,'));
    assert.equal(del?.ariaLabel, 'delete-me.txt, deleted · 4 B still shipped below', texts(changes));
    const modified = changes.find((r) => r.ariaLabel.startsWith('gone2,'));
    assert.equal(modified?.ariaLabel, 'gone2, modified · 11 B (was a directory)', texts(changes));
    // Wider side bar for the README screenshot: drag the sash between it and the editor.
    const sb = await wb.page.locator('.part.sidebar').boundingBox();
    if (sb) {
      const y = sb.y + sb.height / 2;
      await wb.page.mouse.move(sb.x + sb.width + 1, y);
      await wb.page.mouse.down();
      await wb.page.mouse.move(sb.x + sb.width + 300, y, { steps: 10 });
      await wb.page.mouse.up();
    }
    await wb.screenshot('layers-view');
  }, 180_000);
});
