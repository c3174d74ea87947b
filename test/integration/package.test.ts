// Packaging: `npm run package` makes a lean .vsix (dependencies bundled by esbuild, nothing from
// node_modules, src or test), with the activation events and engine range we promise.
import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { statSync } from 'node:fs';
import * as path from 'node:path';

const root = path.resolve(__dirname, '../../..');

test('npm run package makes a lean .vsix with the bundled extension and CLI', () => {
  execFileSync('npm', ['run', '--silent', 'package'], { cwd: root, stdio: ['ignore', 'ignore', 'inherit'], timeout: 300_000 });
  const vsix = path.join(root, 'layer-lens.vsix');
  const size = statSync(vsix).size;
  const list = execFileSync('unzip', ['-Z1', vsix], { encoding: 'utf8' }).split('\n').filter(Boolean);
  console.log(`layer-lens.vsix: ${size} bytes, ${list.length} files`);
  for (const need of ['extension/dist/extension.js', 'extension/dist/cli.js', 'extension/dist/worker.js', 'extension/dist/blobworker.js', 'extension/dist/vendor/dockerode.js', 'extension/dist/vendor/ssh2.js', 'extension/package.json', 'extension/media/layers.svg']) {
    assert.ok(list.includes(need), `${need} in ${JSON.stringify(list)}`);
  }
  for (const f of list) assert.doesNotMatch(f, /node_modules|\/src\/|\/test\/|\.map$|\.cache|example\/image/, f);
  assert.ok(size < 5_000_000, `vsix is ${size} bytes`);
  const manifest = JSON.parse(execFileSync('unzip', ['-p', vsix, 'extension/package.json'], { encoding: 'utf8' })) as {
    engines: { vscode: string }; activationEvents: string[];
  };
  assert.equal(manifest.engines.vscode, '^1.100.0', 'the oldest VS Code the e2e tier runs (code-server 4.100.3 = 1.100.3)');
  assert.ok(manifest.activationEvents.every((e) => /^(onLanguage:dockerfile|workspaceContains:|onView:layerLens|onFileSystem:layerlens|onCommand:layerLens)/.test(e)), JSON.stringify(manifest.activationEvents));
  // Rebuild the development bundle (with source maps) that the other tiers use.
  execFileSync(process.execPath, ['scripts/build.mjs', '--no-tsc'], { cwd: root, stdio: 'inherit' });
});
