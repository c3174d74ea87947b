// UI tests: what a person sees in the workbench. Features (CodeLens, Layers view, hovers) get their
// own files next to this one as they land; these cover the workbench itself and the harness helpers.
import * as assert from 'node:assert/strict';
import { describe, it, before, after } from '../runner';
import { openWorkbench, type Workbench } from '../harness';

describe('workbench with Layer Lens loaded', () => {
  let wb: Workbench;
  before(async () => {
    wb = await openWorkbench();
  });
  after(async () => {
    await wb?.close();
  });

  it('loads the workbench on the e2e workspace', async () => {
    const rows = await wb.readTreeRows();
    const names = rows.map(r => r.text);
    assert.ok(names.some(n => n.startsWith('Dockerfile')), `explorer rows: ${JSON.stringify(names)}`);
  });

  it('opens the Dockerfile through quick open, as language dockerfile', async () => {
    await wb.openFile('Dockerfile');
    assert.equal(await wb.activeLanguageId(), 'dockerfile');
    await wb.screenshot('dockerfile-open');
  });

  it("logs 'Layer Lens activated' in the Output channel 'Layer Lens'", async () => {
    const text = await wb.poll(() => wb.readOutputChannel('Layer Lens'), t => t.includes('Layer Lens activated'), 60_000, "'Layer Lens activated'");
    assert.match(text, /Layer Lens activated/);
    await wb.screenshot('output-channel');
  });

  it('shows the Layers view container from the activity bar', async () => {
    await wb.openView('Layers');
    assert.ok(await wb.viewPane('Layers').isVisible());
    await wb.screenshot('layers-view-empty');
    await wb.openView('Explorer');
  });

  it('harness: runCommand and hover work against built-in features', async () => {
    await wb.runCommand('View: Close All Editors');
    await wb.openFile('.vscode/settings.json');
    assert.equal(await wb.activeLanguageId(), 'jsonc');
    // Settings files get hovers from the built-in JSON language features.
    const text = await wb.hover(2, 8);
    assert.match(text, /trailing whitespace/i);
  });
});
