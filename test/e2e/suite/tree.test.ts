// Runs inside the real extension host (code-server): the Layers sidebar's commands and the
// read-only `layerlens:` file system, on the fs-changes fixture image of the test engine
// (DOCKER_HOST is inherited from the process that started code-server).
import * as assert from 'node:assert/strict';
import * as path from 'node:path';
import * as vscode from 'vscode';
import { before, describe, it } from '../runner';
import type { LayerLensContext } from '../../../src/vscode/context';
import { buildFixture, requireEngine } from '../../support/engine';

const EXTENSION_ID = 'layerlens.layer-lens';
const IMAGE = 'layerlens-test/fs-changes:buildkit';

function shown(ll: LayerLensContext) {
  const cur = ll.images.current;
  assert.ok(cur, 'an image is shown');
  return cur;
}

function versionUri(ll: LayerLensContext, path: string, layer: number): vscode.Uri {
  const cur = shown(ll);
  const q = new URLSearchParams({ src: cur.source, diff: cur.analysis.image.diffIds[layer] });
  return vscode.Uri.from({ scheme: 'layerlens', path: `/L${layer}${path}`, query: q.toString() });
}

async function text(uri: vscode.Uri): Promise<string> {
  return Buffer.from(await vscode.workspace.fs.readFile(uri)).toString('utf8');
}

const FIXTURE_DOCKERFILE = path.resolve(__dirname, '../../../../test/fixtures/images/fs-changes/Dockerfile');

describe('Layers sidebar in the extension host', () => {
  let ll: LayerLensContext;

  before(async () => {
    await requireEngine();
    await buildFixture('fs-changes', { builder: 'buildkit' });
    const ext = vscode.extensions.getExtension<LayerLensContext>(EXTENSION_ID)!;
    ll = await ext.activate();
  });

  it('layerLens.openImage takes a source string and shows that image', async () => {
    const ok = await vscode.commands.executeCommand<boolean>('layerLens.openImage', IMAGE);
    assert.equal(ok, true);
    const cur = shown(ll);
    assert.equal(cur.source, IMAGE);
    assert.ok(cur.analysis.tree.layers.length >= 8, `layers: ${cur.analysis.tree.layers.length}`);
  }, 180_000);

  it('findFile with a path reveals it in the Merged Filesystem view; revealLayer and chooseLayer accept a layer', async () => {
    assert.equal(await vscode.commands.executeCommand('layerLens.findFile', '/data/overwrite.txt'), true);
    assert.equal(await vscode.commands.executeCommand('layerLens.findFile', '/no/such/path'), false);
    await vscode.commands.executeCommand('layerLens.revealLayer', 2);
    await vscode.commands.executeCommand('layerLens.revealLayer', { layer: 1 });
    await vscode.commands.executeCommand('layerLens.chooseLayer', 2);
    await vscode.commands.executeCommand('layerLens.toggleWasteFilter');
    await vscode.commands.executeCommand('layerLens.toggleWasteFilter');
    await vscode.commands.executeCommand('layerLens.chooseLayer', 'all');
  });

  it('layerlens: reads each layer\'s version of an overwritten file', async () => {
    const node = shown(ll).analysis.tree.lookup('/data/overwrite.txt')!;
    assert.equal(node.copies.length, 2);
    const [lower, upper] = node.copies.map((c) => c.layer);
    assert.equal(await text(versionUri(ll, '/data/overwrite.txt', lower)), 'one\n');
    assert.equal(await text(versionUri(ll, '/data/overwrite.txt', upper)), 'two-and-longer\n');
    const st = await vscode.workspace.fs.stat(versionUri(ll, '/data/overwrite.txt', upper));
    assert.equal(st.type, vscode.FileType.File);
    assert.equal(st.size, 15);
  }, 120_000);

  it('layerlens: binary bytes intact (20 MiB + append), hardlinks read through, deleted files still readable from their layer', async () => {
    const big = shown(ll).analysis.tree.lookup('/data/big.bin')!;
    const top = big.copies[big.copies.length - 1].layer;
    const bytes = await vscode.workspace.fs.readFile(versionUri(ll, '/data/big.bin', top));
    assert.equal(bytes.length, 20_971_520 + 'appended\n'.length);
    assert.equal(Buffer.from(bytes.subarray(bytes.length - 9)).toString(), 'appended\n');
    const hard = shown(ll).analysis.tree.lookup('/data/links/hard.txt')!;
    assert.equal(await text(versionUri(ll, '/data/links/hard.txt', hard.layer)), 'target\n');
    const gone = shown(ll).analysis.tree.lookup('/data/delete-me.txt')!;
    assert.equal(gone.live, false);
    assert.equal(await text(versionUri(ll, '/data/delete-me.txt', gone.copies[0].layer)), 'bye\n');
    await assert.rejects(Promise.resolve(vscode.workspace.fs.readFile(versionUri(ll, '/data/no-such-file', top))), /FileNotFound|EntryNotFound|ENOENT|not found/i);
  }, 180_000);

  it('layerlens: is read-only', async () => {
    const uri = versionUri(ll, '/data/overwrite.txt', 1);
    await assert.rejects(Promise.resolve(vscode.workspace.fs.writeFile(uri, Buffer.from('x'))), /NoPermissions|read-?only|EACCES|EROFS/i);
  });

  it('Open This Version opens a read-only editor; Compare with Visible Version opens the diff editor', async () => {
    const node = shown(ll).analysis.tree.lookup('/data/overwrite.txt')!;
    const [lower, upper] = node.copies.map((c) => c.layer);
    await vscode.commands.executeCommand('layerLens.openFileVersion', { path: '/data/overwrite.txt', layer: upper });
    const ed = vscode.window.activeTextEditor;
    assert.ok(ed, 'an editor is open');
    assert.equal(ed.document.uri.scheme, 'layerlens');
    assert.equal(ed.document.getText(), 'two-and-longer\n');
    await vscode.commands.executeCommand('layerLens.compareWithVisible', { path: '/data/overwrite.txt', layer: lower });
    const tab = vscode.window.tabGroups.activeTabGroup.activeTab;
    assert.ok(tab?.input instanceof vscode.TabInputTextDiff, `active tab: ${tab?.label}`);
    const input = tab.input as vscode.TabInputTextDiff;
    assert.equal(input.original.path, `/L${lower}/data/overwrite.txt`);
    assert.equal(input.modified.path, `/L${upper}/data/overwrite.txt`);
    assert.match(tab.label, /overwrite\.txt \(L\d+ ↔ L\d+, visible\)/);
    await vscode.commands.executeCommand('workbench.action.closeAllEditors');
  }, 120_000);

  it('Go to Dockerfile Line: a layer shown with its Dockerfile opens that file at the layer\'s line', async () => {
    await ll.images.show(IMAGE, { dockerfile: vscode.Uri.file(FIXTURE_DOCKERFILE) });
    // The tree maps lines asynchronously after the image changes: retry until it has.
    const deadline = Date.now() + 30_000;
    for (;;) {
      await vscode.commands.executeCommand('layerLens.revealLine', { layer: 2 });
      const ed = vscode.window.activeTextEditor;
      if (ed && ed.document.uri.fsPath === FIXTURE_DOCKERFILE) {
        assert.equal(ed.selection.active.line + 1, 21, 'L2 is `RUN echo two-and-longer` on line 21');
        break;
      }
      if (Date.now() > deadline) throw new Error(`revealLine did not open ${FIXTURE_DOCKERFILE}`);
      await new Promise((r) => setTimeout(r, 300));
    }
    await vscode.commands.executeCommand('workbench.action.closeAllEditors');
  }, 60_000);
});
