// The extension's context (src/vscode/context.ts) under the vscode stub: activation builds the
// services without touching the engine; engine work (the engine scope) starts with the first
// Dockerfile opened, and a change of layerLens.engine.* disposes the engine scope and creates it
// again (a new client), while other layerLens.* changes only drop the resolutions.
import '../support/vscode-stub';
import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as vscode from 'vscode';
import { LayerLensContext } from '../../../src/vscode/context';

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

type Listener<T> = (e: T) => void;
/** The parts of the vscode API the context uses at construction, as the test drives them. */
function fakeWorkspace(lines: string[]) {
  const opened: Array<Listener<vscode.TextDocument>> = [];
  const configured: Array<Listener<vscode.ConfigurationChangeEvent>> = [];
  const api = vscode as unknown as Record<string, Record<string, unknown>>;
  api.window.createOutputChannel = () => ({ appendLine: (l: string) => lines.push(l), dispose: () => undefined });
  api.workspace.textDocuments = [];
  api.workspace.onDidOpenTextDocument = (l: Listener<vscode.TextDocument>) => {
    opened.push(l);
    return { dispose: () => opened.splice(opened.indexOf(l), 1) };
  };
  api.workspace.onDidChangeConfiguration = (l: Listener<vscode.ConfigurationChangeEvent>) => {
    configured.push(l);
    return { dispose: () => configured.splice(configured.indexOf(l), 1) };
  };
  api.Uri.joinPath = (base: { fsPath: string }, ...parts: string[]) => ({ fsPath: path.join(base.fsPath, ...parts) });
  return {
    open(languageId: string): void { for (const l of [...opened]) l({ languageId } as vscode.TextDocument); },
    change(section: string): void {
      const e = { affectsConfiguration: (s: string) => section === s || section.startsWith(s + '.') };
      for (const l of [...configured]) l(e as vscode.ConfigurationChangeEvent);
    },
    get waiting(): number { return opened.length; },
  };
}

test('engine work waits for a Dockerfile; layerLens.engine.* rebuilds the engine scope, other settings only drop resolutions', async () => {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'layerlens-context-'));
  const saved = process.env.DOCKER_HOST;
  // An engine that is not there: the event stream keeps trying (quietly) until disposed.
  process.env.DOCKER_HOST = `unix://${path.join(dir, 'no-engine.sock')}`;
  const lines: string[] = [];
  const ws = fakeWorkspace(lines);
  const state = new Map<string, unknown>();
  const memento = { get: (k: string) => state.get(k), update: async (k: string, v: unknown) => { state.set(k, v); }, keys: () => [...state.keys()] };
  const ll = new LayerLensContext({
    workspaceState: memento, extensionUri: { fsPath: dir }, globalStorageUri: { fsPath: path.join(dir, 'storage') },
  } as unknown as vscode.ExtensionContext);
  const engineLines = (): string[] => lines.filter((l) => /\] engine: /.test(l));
  try {
    let changes = 0;
    ll.own(ll.onDidChangeDockerfiles(() => { changes++; }));
    await sleep(50);
    assert.deepEqual(engineLines(), [], 'no engine client at activation');
    ws.open('plaintext');
    await sleep(20);
    assert.deepEqual(engineLines(), [], 'another document does not start engine work');
    assert.equal(ws.waiting, 1);

    ws.open('dockerfile');
    await sleep(50);
    assert.equal(engineLines().length, 1, `the first Dockerfile starts the engine scope: ${lines.join(' | ')}`);
    assert.equal(ws.waiting, 0, 'and stops waiting for one');
    const scope = ll.start();
    assert.equal(ll.start(), scope, 'one engine scope at a time');

    ws.change('layerLens.codeLens.enabled');
    assert.equal(ll.start(), scope, 'other settings keep the engine scope');
    assert.equal(changes, 1, 'they drop the resolutions');

    ws.change('layerLens.engine.host');
    await sleep(50);
    assert.notEqual(ll.start(), scope, 'a new engine scope');
    assert.equal(engineLines().length, 2, 'with a new engine client');
    assert.equal(changes, 2, 'lenses and views recompute');
  } finally {
    ll.dispose();
    if (saved === undefined) delete process.env.DOCKER_HOST; else process.env.DOCKER_HOST = saved;
    rmSync(dir, { recursive: true, force: true });
  }
});
