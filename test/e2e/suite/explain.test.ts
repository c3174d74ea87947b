// Runs inside the real extension host (code-server): hovers on a fixture Dockerfile whose image is
// in the test engine, "Layer Lens: Explain This Layer" from a CodeLens-style call, the palette and
// the Layers view, and the quick fixes applied to real files. DOCKER_HOST is inherited from the
// process that started code-server.
import * as assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as vscode from 'vscode';
import { after, before, describe, it } from '../runner';
import { formatBytes, mdEscape } from '../../../src/core/present/format';
import type { LayerLensContext } from '../../../src/vscode/context';
import { buildFixture, docker, ensureBaseImage, fixtureDir, requireEngine, BASE_IMAGE } from '../../support/engine';

const EXTENSION_ID = 'layerlens.layer-lens';
const IMAGE = 'layerlens-test/fs-changes:buildkit';

async function waitFor<T>(read: () => T | undefined | Promise<T | undefined>, timeoutMs: number, what: string): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await read();
    if (v !== undefined && v !== null && v !== false) return v;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

function lineOf(doc: vscode.TextDocument, startsWith: string): number {
  for (let i = 0; i < doc.lineCount; i++) if (doc.lineAt(i).text.startsWith(startsWith)) return i;
  throw new Error(`no line starting with ${startsWith}`);
}

async function hoverText(uri: vscode.Uri, line: number): Promise<string> {
  const hovers = await vscode.commands.executeCommand<vscode.Hover[]>('vscode.executeHoverProvider', uri, new vscode.Position(line, 1));
  return hovers.flatMap((h) => h.contents.map((c) => (typeof c === 'string' ? c : 'value' in c ? c.value : ''))).join('\n---\n');
}

function webviewTabs(): string[] {
  return vscode.window.tabGroups.all.flatMap((g) => g.tabs).filter((t) => t.input instanceof vscode.TabInputWebview).map((t) => t.label);
}

/**
 * Points the extension at `image` for `doc` (as a build or Open Image would) and waits for it. The
 * status bar may show the active editor's image at the same time (cancelling this show): retried.
 */
async function showFor(ll: LayerLensContext, image: string, doc: vscode.TextDocument): Promise<void> {
  const want = (await ll.dockerfiles.quick(image)).id;
  await waitFor(async () => {
    if (ll.images.current?.analysis.image.id !== want || ll.images.rememberedFor(doc.uri) !== image) {
      await ll.images.show(image, { dockerfile: doc.uri }).catch(() => undefined);
      ll.dockerfiles.invalidate();
    }
    return ll.images.current?.analysis.image.id === want && (await ll.dockerfiles.imageFor(doc))?.image.id === want;
  }, 60_000, `${image} as the image of ${doc.uri.fsPath}`);
}

describe('copy-on-write hovers, Explain This Layer and quick fixes', () => {
  let ll: LayerLensContext;
  let doc: vscode.TextDocument;
  let tmp: string;

  before(async () => {
    await requireEngine();
    await buildFixture('fs-changes', { builder: 'buildkit' });
    const ext = vscode.extensions.getExtension<LayerLensContext>(EXTENSION_ID)!;
    ll = await ext.activate();
    // Bind the image first, then show the editor: the status bar then finds this image remembered
    // for the file instead of racing to match one by history (the :legacy build would match too).
    doc = await vscode.workspace.openTextDocument(path.join(fixtureDir('fs-changes'), 'Dockerfile'));
    await showFor(ll, IMAGE, doc);
    await vscode.window.showTextDocument(doc);
    tmp = mkdtempSync(path.join(os.tmpdir(), 'layerlens-explain-'));
  });

  after(async () => {
    await vscode.commands.executeCommand('workbench.action.closeAllEditors');
    if (tmp) rmSync(tmp, { recursive: true, force: true });
  });

  it('hover on the big-file append names the file, its size and the +9 B change', async () => {
    const text = await hoverText(doc.uri, lineOf(doc, 'RUN echo appended >> /data/big.bin'));
    const big = ll.images.current!.analysis.tree.lookup('/data/big.bin')!;
    assert.match(text, /\*\*Big file:\*\* `\/data\/big\.bin`/, text);
    assert.match(text, /changed by \\\+9 B/, text);
    assert.ok(text.includes(mdEscape(`(${formatBytes(big.copies[0].bytes)} in layer ${big.copies[0].layer}) changed by +9 B, and all ${formatBytes(big.size)} were stored again`)), text);
    assert.match(text, /command:layerLens\.explainLayer/, text);
  }, 120_000);

  it('hovers on the chmod, the later rm, ENV and WORKDIR lines', async () => {
    assert.match(await hoverText(doc.uri, lineOf(doc, 'RUN chmod 0755 /data/chmod.sh')), /only changed mode or owner/);
    const rm = await hoverText(doc.uri, lineOf(doc, 'RUN rm /data/delete-me.txt'));
    assert.match(rm, /Deleted but still shipped:/, rm);
    assert.match(rm, /still ships? in layer 1, line 8/, rm);
    assert.match(await hoverText(doc.uri, lineOf(doc, 'ENV APP_HOME')), /0 B · no layer/);
    assert.match(await hoverText(doc.uri, lineOf(doc, 'WORKDIR /data/work')), /Empty layer:/);
    assert.match(await hoverText(doc.uri, lineOf(doc, 'ARG FIXTURE_VERSION')), /0 B · no layer[\s\S]*never pass secrets/);
    assert.match(await hoverText(doc.uri, lineOf(doc, 'FROM ')), /\*\*Base image\*\*: 1 layer \\\(layer 0\\\)/);
    assert.equal(await hoverText(doc.uri, lineOf(doc, '# Layer Lens fixture')), '', 'no hover on comments');
  });

  it('multi-stage: the build stage is not in the image; COPY --from lines are', async () => {
    await buildFixture('multistage', { builder: 'buildkit' });
    const ms = await vscode.workspace.openTextDocument(path.join(fixtureDir('multistage'), 'Dockerfile'));
    await showFor(ll, 'layerlens-test/multistage:buildkit', ms);
    assert.match(await hoverText(ms.uri, lineOf(ms, 'RUN mkdir -p /out/bin')), /This stage `build` is not part of the shown image/);
    assert.match(await hoverText(ms.uri, lineOf(ms, 'COPY --from=build /out/ /opt/app/')), /\*\*Layer \d+\*\* of \d+/);
    await showFor(ll, IMAGE, doc);
  }, 300_000);

  it('Explain This Layer opens the report for a layer given by index and Dockerfile (CodeLens)', async () => {
    await vscode.commands.executeCommand('layerLens.explainLayer', 7, doc.uri);
    await waitFor(() => webviewTabs().includes('Explain Layer 7'), 20_000, `the Explain Layer 7 tab; tabs: ${webviewTabs().join(', ')}`);
  });

  it('from the palette it explains the layer of the line under the cursor; from the Layers view, {layer}', async () => {
    const editor = await vscode.window.showTextDocument(doc, vscode.ViewColumn.One);
    const line = lineOf(doc, 'RUN chmod 0755 /data/chmod.sh');
    editor.selection = new vscode.Selection(line, 4, line, 4);
    await vscode.commands.executeCommand('layerLens.explainLayer');
    await waitFor(() => webviewTabs().includes('Explain Layer 5'), 20_000, `the Explain Layer 5 tab; tabs: ${webviewTabs().join(', ')}`);
    await vscode.commands.executeCommand('layerLens.explainLayer', { kind: 'layer', layer: 1 });
    await waitFor(() => webviewTabs().includes('Explain Layer 1'), 20_000, `the Explain Layer 1 tab; tabs: ${webviewTabs().join(', ')}`);
    assert.equal(webviewTabs().filter((t) => t.startsWith('Explain Layer')).length, 1, 'one report panel, reused');
  });

  it('quick fix: folds a later `RUN rm` into the RUN that created the files', async () => {
    await vscode.commands.executeCommand('workbench.action.closeAllEditors');
    await ensureBaseImage();
    const dir = path.join(tmp, 'fold');
    mkdirSync(dir, { recursive: true });
    const dockerfile = path.join(dir, 'Dockerfile');
    writeFileSync(dockerfile, `FROM ${BASE_IMAGE}\nRUN mkdir -p /build && head -c 3000000 /dev/urandom > /build/sdk.tar\nLABEL stage=cleanup\nRUN rm -rf /build\n`);
    await docker(['build', '--network=none', '-q', '-t', 'layerlens-test/explain-fold:e2e', dir], { env: { DOCKER_BUILDKIT: '1' }, timeoutMs: 300_000 });
    const d = await vscode.workspace.openTextDocument(dockerfile);
    await showFor(ll, 'layerlens-test/explain-fold:e2e', d);
    await vscode.window.showTextDocument(d);
    const actions = await vscode.commands.executeCommand<vscode.CodeAction[]>('vscode.executeCodeActionProvider', d.uri, new vscode.Range(3, 0, 3, 0));
    const fold = actions.find((a) => a.title.startsWith('Fold this cleanup'));
    assert.ok(fold?.edit, `actions: ${actions.map((a) => a.title).join(' | ')}`);
    assert.match(fold.title, /into the RUN on line 2 \(3 MB would not ship\)/);
    assert.ok(await vscode.workspace.applyEdit(fold.edit));
    assert.equal(d.getText(), `FROM ${BASE_IMAGE}\nRUN mkdir -p /build && head -c 3000000 /dev/urandom > /build/sdk.tar \\\n && rm -rf /build\nLABEL stage=cleanup\n`);
    // No fold is offered on a line that is not a plain rm.
    const none = await vscode.commands.executeCommand<vscode.CodeAction[]>('vscode.executeCodeActionProvider', d.uri, new vscode.Range(2, 0, 2, 0));
    assert.ok(!none.some((a) => a.title.startsWith('Fold')));
    await vscode.commands.executeCommand('workbench.action.revertAndCloseActiveEditor');
  }, 300_000);

  it('quick fix: .dockerignore for a COPY\'d .venv that a later chmod -R ships again, both in its figure', async () => {
    await vscode.commands.executeCommand('workbench.action.closeAllEditors');
    await ensureBaseImage();
    const dir = path.join(tmp, 'ignore-chmod');
    mkdirSync(path.join(dir, '.venv', 'lib'), { recursive: true });
    writeFileSync(path.join(dir, '.venv', 'lib', 'site.bin'), Buffer.alloc(1_000_000, 3));
    writeFileSync(path.join(dir, 'main.sh'), 'echo hi\n');
    const dockerfile = path.join(dir, 'Dockerfile');
    writeFileSync(dockerfile, `FROM ${BASE_IMAGE}\nCOPY . /app\nRUN chmod -R g+w /app\n`);
    await docker(['build', '--network=none', '-q', '-t', 'layerlens-test/explain-ignore-chmod:e2e', dir], { env: { DOCKER_BUILDKIT: '1' }, timeoutMs: 300_000 });
    const d = await vscode.workspace.openTextDocument(dockerfile);
    await showFor(ll, 'layerlens-test/explain-ignore-chmod:e2e', d);
    await vscode.window.showTextDocument(d);
    const actions = await vscode.commands.executeCommand<vscode.CodeAction[]>('vscode.executeCodeActionProvider', d.uri, new vscode.Range(1, 0, 1, 0));
    const add = actions.find((a) => a.title.startsWith('Add '));
    assert.ok(add?.edit, `actions: ${actions.map((a) => a.title).join(' | ')}`);
    assert.equal(add.title, 'Add .venv to .dockerignore (2 MB would not ship: 1 MB copied by this line, 1 MB shipped again by a later chmod/chown)');
    assert.ok(await vscode.workspace.applyEdit(add.edit));
    const ignore = await vscode.workspace.openTextDocument(path.join(dir, '.dockerignore'));
    assert.equal(ignore.getText(), '.venv\n');
    await vscode.commands.executeCommand('workbench.action.closeAllEditors');
  }, 300_000);

  it('hover on a RUN lists the packages it installed, read by the first hover (no Explain before)', async () => {
    await vscode.commands.executeCommand('workbench.action.closeAllEditors');
    await ensureBaseImage();
    const dir = path.join(tmp, 'hover-packages');
    mkdirSync(dir, { recursive: true });
    const dockerfile = path.join(dir, 'Dockerfile');
    writeFileSync(dockerfile, `FROM ${BASE_IMAGE}\nRUN mkdir -p /var/lib/dpkg/info /usr/bin && printf 'Package: tool\\nStatus: install ok installed\\nVersion: 1\\n\\n' > /var/lib/dpkg/status && head -c 300000 /dev/urandom > /usr/bin/tool && echo /usr/bin/tool > /var/lib/dpkg/info/tool.list\n`);
    await docker(['build', '--network=none', '-q', '-t', 'layerlens-test/hover-packages:e2e', dir], { env: { DOCKER_BUILDKIT: '1' }, timeoutMs: 300_000 });
    const d = await vscode.workspace.openTextDocument(dockerfile);
    await showFor(ll, 'layerlens-test/hover-packages:e2e', d);
    await vscode.window.showTextDocument(d);
    const text = (await hoverText(d.uri, 1)).replace(/\\(.)/g, '$1');
    assert.match(text, /\*\*Packages:\*\* 300 kB in 1 package: tool 300 kB/, text);
    await vscode.commands.executeCommand('workbench.action.closeAllEditors');
  }, 300_000);

  it('quick fix: adds a COPY\'d .git and big file to .dockerignore', async () => {
    const dir = path.join(tmp, 'ignore');
    mkdirSync(path.join(dir, '.git', 'objects'), { recursive: true });
    writeFileSync(path.join(dir, '.git', 'objects', 'pack'), Buffer.alloc(200_000, 1));
    writeFileSync(path.join(dir, 'main.sh'), 'echo hi\n');
    writeFileSync(path.join(dir, 'dump.sql'), Buffer.alloc(2_000_000, 2));
    const dockerfile = path.join(dir, 'Dockerfile');
    writeFileSync(dockerfile, `FROM ${BASE_IMAGE}\nCOPY . /src\n`);
    await docker(['build', '--network=none', '-q', '-t', 'layerlens-test/explain-ignore:e2e', dir], { env: { DOCKER_BUILDKIT: '1' }, timeoutMs: 300_000 });
    await vscode.commands.executeCommand('workbench.action.closeAllEditors');
    const d = await vscode.workspace.openTextDocument(dockerfile);
    await vscode.workspace.getConfiguration('layerLens').update('hover.bigFileThreshold', 1_000_000, vscode.ConfigurationTarget.Global);
    try {
      await showFor(ll, 'layerlens-test/explain-ignore:e2e', d);
      await vscode.window.showTextDocument(d);
      const actions = await vscode.commands.executeCommand<vscode.CodeAction[]>('vscode.executeCodeActionProvider', d.uri, new vscode.Range(1, 0, 1, 0));
      const add = actions.find((a) => a.title.startsWith('Add '));
      assert.ok(add?.edit, `actions: ${actions.map((a) => a.title).join(' | ')}`);
      assert.match(add.title, /^Add dump\.sql, \.git to \.dockerignore/);
      assert.ok(await vscode.workspace.applyEdit(add.edit));
      const ignore = await vscode.workspace.openTextDocument(path.join(dir, '.dockerignore'));
      assert.equal(ignore.getText(), 'dump.sql\n.git\n');
      assert.ok(await ignore.save());
      assert.equal(readFileSync(path.join(dir, '.dockerignore'), 'utf8'), 'dump.sql\n.git\n');
      // Offered once: the entries are there now.
      const again = await vscode.commands.executeCommand<vscode.CodeAction[]>('vscode.executeCodeActionProvider', d.uri, new vscode.Range(1, 0, 1, 0));
      assert.ok(!again.some((a) => a.title.startsWith('Add ')), again.map((a) => a.title).join(' | '));
    } finally {
      await vscode.workspace.getConfiguration('layerLens').update('hover.bigFileThreshold', undefined, vscode.ConfigurationTarget.Global);
    }
  }, 300_000);
});
