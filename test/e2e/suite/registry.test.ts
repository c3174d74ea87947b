// Runs inside the real extension host: registry:// images in the editor. The bundled example
// image (example/image.tar.gz) is pushed with skopeo to Debian's docker-registry on loopback; a
// Dockerfile mapped to it by layerLens.imageForDockerfile gets its lenses from the manifest and
// config (compressed sizes, no layer read), and with layerLens.registry.baseImageSizes a FROM whose
// base is not in the engine shows the registry's size. docker-registry, htpasswd and skopeo are
// required (a missing one fails the suite).
import * as assert from 'node:assert/strict';
import { copyFileSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import * as http from 'node:http';
import * as os from 'node:os';
import * as path from 'node:path';
import { gunzipSync } from 'node:zlib';
import { readFileSync } from 'node:fs';
import * as vscode from 'vscode';
import { formatBytes } from '../../../src/core/present/format';
import { push, startRegistries, type RegistryPair } from '../../support/registry';
import { describe, it, before, after } from '../runner';

const EXTENSION_ID = 'layerlens.layer-lens';
const REPO_ROOT = path.resolve(__dirname, '../../../..');
const WORKSPACE = path.join(REPO_ROOT, 'test/e2e/workspace');

function manifest(host: string, repo: string, tag: string): Promise<{ layers: Array<{ size: number }> }> {
  return new Promise((resolve, reject) => {
    http.get(`http://${host}/v2/${repo}/manifests/${tag}`, { headers: { accept: 'application/vnd.docker.distribution.manifest.v2+json' } }, (res) => {
      const parts: Buffer[] = [];
      res.on('data', (c: Buffer) => parts.push(c));
      res.on('end', () => resolve(JSON.parse(Buffer.concat(parts).toString())));
    }).on('error', reject);
  });
}

async function lensTitles(file: string, want: (titles: string[]) => boolean, timeoutMs: number): Promise<string[]> {
  const doc = await vscode.workspace.openTextDocument(file);
  await vscode.window.showTextDocument(doc);
  const deadline = Date.now() + timeoutMs;
  let titles: string[] = [];
  while (Date.now() < deadline) {
    const lenses = await vscode.commands.executeCommand<vscode.CodeLens[]>('vscode.executeCodeLensProvider', doc.uri, 100);
    titles = (lenses ?? []).map((l) => l.command?.title ?? '').filter(Boolean);
    if (want(titles)) return titles;
    await new Promise((r) => setTimeout(r, 300));
  }
  throw new Error(`timed out: lenses ${JSON.stringify(titles)}`);
}

describe('registry images in the editor', () => {
  let work = '';
  let pair: RegistryPair | undefined;
  let host = '';
  const dirs = [path.join(WORKSPACE, 'registry-mapped'), path.join(WORKSPACE, 'registry-base')];

  before(async () => {
    await vscode.extensions.getExtension(EXTENSION_ID)!.activate();
    work = path.join(os.tmpdir(), `layerlens-e2e-registry-${process.pid}`);
    mkdirSync(work, { recursive: true });
    pair = await startRegistries(path.join(work, 'registry'));
    host = pair.open.host;
    const tar = path.join(work, 'example.tar');
    writeFileSync(tar, gunzipSync(readFileSync(path.join(REPO_ROOT, 'example/image.tar.gz'))));
    await push(tar, host, 'example/app:1');
    for (const d of dirs) mkdirSync(d, { recursive: true });
    copyFileSync(path.join(REPO_ROOT, 'example/Dockerfile'), path.join(dirs[0], 'Dockerfile'));
    writeFileSync(path.join(dirs[1], 'Dockerfile'), `FROM ${host}/example/app:1\nRUN echo hi > /greeting\n`);
  });
  after(async () => {
    const cfg = vscode.workspace.getConfiguration('layerLens');
    await cfg.update('imageForDockerfile', undefined, vscode.ConfigurationTarget.Global);
    await cfg.update('registry.baseImageSizes', undefined, vscode.ConfigurationTarget.Global);
    for (const d of dirs) rmSync(d, { recursive: true, force: true });
    await pair?.stop();
    if (work) rmSync(work, { recursive: true, force: true });
  });

  it('a Dockerfile mapped to a registry:// image shows its compressed layer sizes', async () => {
    const src = `registry://${host}/example/app:1`;
    await vscode.workspace.getConfiguration('layerLens').update('imageForDockerfile', { 'registry-mapped/Dockerfile': src }, vscode.ConfigurationTarget.Global);
    const sizes = (await manifest(host, 'example/app', '1')).layers.map((l) => formatBytes(l.size));
    const titles = await lensTitles(path.join(dirs[0], 'Dockerfile'), (t) => t.some((x) => x.startsWith('base ')), 60_000);
    // Every RUN/COPY layer's lens is its manifest size (compressed), not its tar's 46 MB.
    for (const s of sizes.slice(1)) assert.ok(titles.some((x) => x.startsWith(s)), `a lens '${s}' in ${JSON.stringify(titles)}`);
    assert.ok(!titles.some((x) => x.startsWith('46 MB')), JSON.stringify(titles));
    assert.ok(titles.some((x) => x.startsWith(`base ${sizes[0]} in 1 layer`)), JSON.stringify(titles));
  });

  it('layerLens.registry.baseImageSizes: a FROM not in the engine shows the registry\'s size', async () => {
    const file = path.join(dirs[1], 'Dockerfile');
    const m = await manifest(host, 'example/app', '1');
    const total = formatBytes(m.layers.reduce((a, l) => a + l.size, 0));
    const before = await lensTitles(file, () => true, 5_000);
    assert.ok(!before.some((x) => x.includes('registry, compressed')), 'off by default');
    await vscode.workspace.getConfiguration('layerLens').update('registry.baseImageSizes', true, vscode.ConfigurationTarget.Global);
    const titles = await lensTitles(file, (t) => t.some((x) => x.includes('registry, compressed')), 30_000);
    assert.ok(titles.includes(`base ${total} in ${m.layers.length} layers · registry, compressed`), JSON.stringify(titles));
  });
});
