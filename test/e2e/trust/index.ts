// Extension-host checks in an UNTRUSTED workspace (loaded by test/e2e/ui/trust.test.ts through a
// code-server started with workspace trust on): Layer Lens activates in restricted mode, and
// Build Image refuses to run the Dockerfile's RUN steps.
import * as assert from 'node:assert/strict';
import * as path from 'node:path';
import * as vscode from 'vscode';

export async function run(): Promise<void> {
  const log = (line: string): void => console.log(line);
  assert.equal(vscode.workspace.isTrusted, false, 'the workspace opened untrusted');
  const folder = vscode.workspace.workspaceFolders?.[0];
  assert.ok(folder, 'a folder is open');
  const dockerfile = vscode.Uri.file(path.join(folder.uri.fsPath, 'Dockerfile'));
  await vscode.window.showTextDocument(await vscode.workspace.openTextDocument(dockerfile));
  const ext = vscode.extensions.getExtension('layerlens.layer-lens');
  assert.ok(ext, 'the extension is present');
  await ext.activate();
  log('activated in restricted mode');
  const tag = process.env.LAYERLENS_TRUST_TAG ?? 'layerlens-e2e/untrusted:1';
  const outcome = await vscode.commands.executeCommand('layerLens.buildImage', dockerfile, { tag, noShow: true });
  assert.equal(outcome, undefined, 'Build Image returned without building');
  log('build refused');
}
