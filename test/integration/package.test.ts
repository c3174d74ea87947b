// Packaging: `npm run package` makes a lean .vsix (dependencies bundled by esbuild, nothing from
// node_modules, src or test), with the activation events and engine range we promise.
import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { statSync } from 'node:fs';
import * as path from 'node:path';

const root = path.resolve(__dirname, '../../..');

test('npm run package makes a lean .vsix with the bundled extension and CLI', () => {
  const run = spawnSync('npm', ['run', '--silent', 'package'], { cwd: root, encoding: 'utf8', timeout: 300_000 });
  assert.equal(run.status, 0, run.stderr);
  // vsce warns (missing repository, icon, license, relative links it cannot resolve, …) on either stream.
  assert.doesNotMatch(run.stdout + run.stderr, /warn/i, run.stdout + run.stderr);
  const vsix = path.join(root, 'layer-lens.vsix');
  const size = statSync(vsix).size;
  const list = execFileSync('unzip', ['-Z1', vsix], { encoding: 'utf8' }).split('\n').filter(Boolean);
  console.log(`layer-lens.vsix: ${size} bytes, ${list.length} files`);
  for (const need of ['extension/dist/extension.js', 'extension/dist/cli.js', 'extension/dist/worker.js', 'extension/dist/analyzer.js', 'extension/dist/blobworker.js', 'extension/dist/vendor/dockerode.js', 'extension/dist/vendor/ssh2.js', 'extension/package.json', 'extension/media/layers.svg', 'extension/media/icon.png']) {
    assert.ok(list.includes(need), `${need} in ${JSON.stringify(list)}`);
  }
  for (const f of list) assert.doesNotMatch(f, /node_modules|\/src\/|\/test\/|\.map$|\.cache|example\/image/, f);
  assert.ok(size < 5_000_000, `vsix is ${size} bytes`);
  const manifest = JSON.parse(execFileSync('unzip', ['-p', vsix, 'extension/package.json'], { encoding: 'utf8' })) as {
    engines: { vscode: string }; activationEvents: string[]; icon: string; repository: { url: string }; bugs: { url: string }; homepage: string;
    keywords: string[]; categories: string[]; galleryBanner: { color: string; theme: string }; files?: unknown;
  };
  // Marketplace and Open VSX metadata: a 128×128 PNG icon, the repository, where to report bugs.
  assert.equal(manifest.icon, 'media/icon.png');
  const icon = execFileSync('unzip', ['-p', vsix, 'extension/media/icon.png']);
  assert.deepEqual([icon.subarray(1, 4).toString(), icon.subarray(12, 16).toString(), icon.readUInt32BE(16), icon.readUInt32BE(20)], ['PNG', 'IHDR', 128, 128]);
  assert.match(manifest.repository.url, /^https:\/\/github\.com\/layerlens\/layer-lens/);
  assert.match(manifest.bugs.url, /\/issues$/);
  assert.match(manifest.homepage, /^https:\/\//);
  assert.ok(manifest.keywords.includes('docker') && manifest.categories.includes('Visualization'));
  assert.match(manifest.galleryBanner.color, /^#[0-9A-Fa-f]{6}$/);
  assert.equal(manifest.files, undefined, 'npm\'s files list stays out of the extension manifest');
  const vsixManifest = execFileSync('unzip', ['-p', vsix, 'extension.vsixmanifest'], { encoding: 'utf8' });
  assert.match(vsixManifest, /<Icon>extension\/media\/icon\.png<\/Icon>/);
  assert.match(vsixManifest, /Links\.Source" Value="https:\/\/github\.com\/layerlens\/layer-lens/);
  // The README's screenshots point into the repository, so they show on the gallery page.
  const readme = execFileSync('unzip', ['-p', vsix, 'extension/readme.md'], { encoding: 'utf8' });
  assert.doesNotMatch(readme, /\]\(docs\//);
  assert.match(readme, /\(https:\/\/github\.com\/layerlens\/layer-lens\/raw\/HEAD\/docs\/screenshots\/codelens\.png\)/);
  assert.equal(manifest.engines.vscode, '^1.100.0', 'the oldest VS Code the e2e tier runs (code-server 4.100.3 = 1.100.3)');
  assert.ok(manifest.activationEvents.every((e) => /^(onLanguage:dockerfile|workspaceContains:|onView:layerLens|onFileSystem:layerlens|onCommand:layerLens)/.test(e)), JSON.stringify(manifest.activationEvents));
  // Rebuild the development bundle (with source maps) that the other tiers use.
  execFileSync(process.execPath, ['scripts/build.mjs', '--no-tsc'], { cwd: root, stdio: 'inherit' });
});
