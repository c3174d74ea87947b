// Runs inside the real extension host: the extension is present, activates on a Dockerfile, and
// the commands package.json contributes are registered.
import * as assert from 'node:assert/strict';
import * as path from 'node:path';
import * as vscode from 'vscode';
import { describe, it } from '../runner';

const EXTENSION_ID = 'layerlens.layer-lens';
// out/test/e2e/suite -> repo root
const REPO_ROOT = path.resolve(__dirname, '../../../..');
const FIXTURE_DOCKERFILE = path.join(REPO_ROOT, 'test/e2e/workspace/Dockerfile');

async function waitFor(cond: () => boolean, timeoutMs: number, what: string): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!cond()) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise(r => setTimeout(r, 100));
  }
}

describe('extension in the real extension host', () => {
  it(`${EXTENSION_ID} is installed (as the extension under development)`, () => {
    const ext = vscode.extensions.getExtension(EXTENSION_ID);
    assert.ok(ext, `${EXTENSION_ID} not found; extensions: ${vscode.extensions.all.map(e => e.id).filter(id => !id.startsWith('vscode.')).join(', ')}`);
    assert.equal(ext.packageJSON.name, 'layer-lens');
    assert.equal(path.resolve(ext.extensionPath), REPO_ROOT);
  });

  it('activates when a Dockerfile is opened', async () => {
    const ext = vscode.extensions.getExtension(EXTENSION_ID)!;
    const doc = await vscode.workspace.openTextDocument(FIXTURE_DOCKERFILE);
    assert.equal(doc.languageId, 'dockerfile');
    await vscode.window.showTextDocument(doc);
    // onLanguage:dockerfile should activate it without help.
    await waitFor(() => ext.isActive, 20_000, 'activation by onLanguage:dockerfile');
    await ext.activate();
    assert.ok(ext.isActive);
  });

  it('registers every command package.json contributes', async () => {
    const ext = vscode.extensions.getExtension(EXTENSION_ID)!;
    await ext.activate();
    const contributed: string[] = (ext.packageJSON.contributes?.commands ?? []).map((c: { command: string }) => c.command);
    const registered = new Set(await vscode.commands.getCommands(true));
    const missing = contributed.filter(c => !registered.has(c));
    assert.deepEqual(missing, [], `contributed but not registered: ${missing.join(', ')}`);
  });
});
