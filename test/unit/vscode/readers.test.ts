// The extension's one reader factory (ImageReaders in src/vscode/imageService.ts, `ll.readers` on
// the context) under the vscode stub, wired as activation wires it: the analysis runs in the
// analysis worker with the context's cache directory, and a file version read afterwards through
// `ll.readers` trusts the check that analysis made of the layer instead of hashing it again; a
// file rewritten after the analysis is read and checked, and fails with the digest error.
//
// The evidence that the second read does not hash, independent of time: the layer's bytes are
// changed in place after the analysis while the file keeps its identity (size, inode, and mtime
// set back): a reader that hashed would refuse them, as a reader without the cache does; the
// factory's reader serves them, so it did not hash. (A probe of what is read, not a behaviour
// wanted for its own sake: the file's identity is what the cache trusts.)
import '../support/vscode-stub';
import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as vscode from 'vscode';
import { LayerLensContext } from '../../../src/vscode/context';
import { openImageSource, parseSource } from '../../../src/sources/load';
import { OUT_ROOT } from '../../support/repo';
import { withDir } from '../support/tmpdir';
import { dockerSave, makeTar, sha256, type ImageSpec } from '../support/tars';

/** The vscode API the context and the image service use here, as the test drives it. */
function fakeApi(): void {
  const api = vscode as unknown as Record<string, unknown> & Record<'window' | 'workspace' | 'Uri', Record<string, unknown>>;
  api.window.createOutputChannel = () => ({ appendLine: () => undefined, dispose: () => undefined });
  api.window.withProgress = async (_o: unknown, fn: (p: unknown, t: unknown) => Promise<unknown>) =>
    fn({ report: () => undefined }, { isCancellationRequested: false, onCancellationRequested: () => ({ dispose: () => undefined }) });
  api.workspace.textDocuments = [];
  api.workspace.onDidOpenTextDocument = () => ({ dispose: () => undefined });
  api.workspace.onDidChangeConfiguration = () => ({ dispose: () => undefined });
  api.Uri.joinPath = (base: { fsPath: string }, ...parts: string[]) => ({ fsPath: path.join(base.fsPath, ...parts) });
  api.CancellationTokenSource = class {
    private cancelled = false;
    private readonly listeners: Array<() => void> = [];
    readonly token = {
      isCancellationRequested: false,
      onCancellationRequested: (l: () => void) => { this.listeners.push(l); return { dispose: () => undefined }; },
    };
    cancel(): void { if (!this.cancelled) { this.cancelled = true; this.token.isCancellationRequested = true; for (const l of this.listeners) l(); } }
    dispose(): void { /* nothing held */ }
  };
}

/** Overwrites `at` in `file` in place (same size, same inode) and sets its mtime back to `mtime`. */
function patchInPlace(file: string, at: number, bytes: Buffer, mtime: number): void {
  const fd = fs.openSync(file, 'r+');
  try {
    fs.writeSync(fd, bytes, 0, bytes.length, at);
  } finally {
    fs.closeSync(fd);
  }
  fs.utimesSync(file, mtime, mtime);
}

test('ll.readers: a file read after the analysis does not hash the layer the analysis checked; a file rewritten since fails with the digest error', async () => {
  fakeApi();
  await withDir('readers', async (dir) => {
    // The extension's bundle layout, with the compiled analysis worker as dist/worker.js.
    const ext = path.join(dir, 'ext');
    fs.mkdirSync(path.join(ext, 'dist'), { recursive: true });
    fs.writeFileSync(path.join(ext, 'dist', 'worker.js'), `require(${JSON.stringify(path.join(OUT_ROOT, 'src', 'worker', 'analysisWorker.js'))});\n`);
    const s: ImageSpec = {
      layers: [
        await makeTar([{ name: 'etc/', type: 'directory' }, { name: 'etc/conf', body: 'one-original\n' }]),
        await makeTar([{ name: 'app', body: 'two\n' }]),
      ],
      tag: 'readers:test',
    };
    const file = path.join(dir, 'img.tar');
    const bytes = await dockerSave(s);
    fs.writeFileSync(file, bytes);
    const mtime = 1_700_000_000;
    fs.utimesSync(file, mtime, mtime);
    const state = new Map<string, unknown>();
    const ll = new LayerLensContext({
      workspaceState: { get: (k: string) => state.get(k), update: async (k: string, v: unknown) => { state.set(k, v); }, keys: () => [...state.keys()] },
      extensionUri: { fsPath: ext }, globalStorageUri: { fsPath: path.join(dir, 'storage') },
    } as unknown as vscode.ExtensionContext);
    try {
      assert.equal(ll.readers.cacheDir, path.join(dir, 'storage', 'layer-index-cache'));
      // The analysis, as the views get it: in the worker, with the context's cache directory.
      const a = await ll.images.read(file);
      const diffId = sha256(s.layers[0]);
      assert.equal(a.image.diffIds[0], diffId);
      assert.ok(fs.readdirSync(ll.readers.cacheDir).length > 0, 'the worker filled the context\'s cache directory');
      const spec = await parseSource(file);
      assert.equal((await ll.readers.open(spec).readFile(diffId, '/etc/conf')).data.toString(), 'one-original\n');

      // Layer 0's bytes changed in place, the file's identity kept.
      const at = bytes.indexOf('one-original\n');
      assert.ok(at > 0);
      patchInPlace(file, at, Buffer.from('one-rewritten'), mtime);
      await assert.rejects(openImageSource(spec, {}).readFile(diffId, '/etc/conf'), /does not match its diffID/, 'a reader without the cache hashes the layer and refuses it');
      assert.equal((await ll.readers.open(spec).readFile(diffId, '/etc/conf')).data.toString(), 'one-rewritten', 'the factory\'s reader took the analysis\'s check: no hash');
      const files = await ll.readers.open(spec).readFiles(diffId, () => true, { maxBytes: 1024 });
      assert.equal(files.find((f) => f.path === '/etc/conf')?.data.toString(), 'one-rewritten', 'readFiles (secrets, packages) alike');

      // Rewritten after the analysis (a new mtime): read, hashed, refused with the digest error.
      patchInPlace(file, at, Buffer.from('one-changed!\n'), mtime + 10);
      await assert.rejects(ll.readers.open(spec).readFile(diffId, '/etc/conf'), /layer 0 \(.*\) does not match its diffID/);
      await assert.rejects(ll.readers.open(spec).readFiles(diffId, () => true, { maxBytes: 1024 }), /does not match its diffID/);
    } finally {
      ll.dispose();
    }
  });
});
