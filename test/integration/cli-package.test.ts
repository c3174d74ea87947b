// The CLI as an npm package: `npm pack` gives a small tarball of the bundled CLI (no dependency to
// fetch, nothing native) that installs offline in an empty directory, where `npx layerlens --help`
// and `npx layerlens ci` on an image archive run. Packs the dist/ already built (the tier's build;
// `--ignore-scripts` skips prepack's production build, which would rewrite dist/ under the other
// tests).
import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';

const root = path.resolve(__dirname, '../../..');

test('npm pack: the CLI installs offline in an empty directory and runs --help and ci on an archive', () => {
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'layerlens-npm-'));
  try {
    const npmEnv = { ...process.env, npm_config_cache: path.join(tmp, 'npm-cache'), npm_config_update_notifier: 'false', npm_config_fund: 'false', npm_config_audit: 'false' };
    const packed = JSON.parse(execFileSync('npm', ['pack', '--ignore-scripts', '--json', '--pack-destination', tmp], { cwd: root, env: npmEnv, encoding: 'utf8' })) as Array<{
      filename: string; size: number; unpackedSize: number; files: Array<{ path: string; size: number }>;
    }>;
    const p = packed[0];
    const files = p.files.map((f) => f.path).sort();
    console.log(`${p.filename}: ${p.size} bytes packed, ${p.unpackedSize} unpacked, ${files.length} files`);
    assert.ok(p.unpackedSize < 5_000_000, `unpacked ${p.unpackedSize} bytes`);
    for (const need of ['package.json', 'README.md', 'LICENSE', 'CHANGELOG.md', 'dist/cli.js', 'dist/blobworker.js', 'dist/vendor/yaml.js', 'dist/vendor/dockerode.js', 'dist/vendor/ssh2.js']) {
      assert.ok(files.includes(need), `${need} in ${JSON.stringify(files)}`);
    }
    for (const f of files) assert.match(f, /^(package\.json|README\.md|LICENSE|CHANGELOG\.md|dist\/(cli|blobworker)\.js|dist\/vendor\/[\w-]+\.js)$/, f);

    // The packed manifest: a bin, no dependency to install, an honest engines.node, not private.
    const manifest = JSON.parse(execFileSync('tar', ['-xOzf', path.join(tmp, p.filename), 'package/package.json'], { encoding: 'utf8' })) as {
      private?: boolean; bin: Record<string, string>; dependencies?: Record<string, string>; optionalDependencies?: Record<string, string>; engines: { node: string };
    };
    assert.equal(manifest.private, undefined);
    assert.equal(path.posix.normalize(manifest.bin.layerlens), 'dist/cli.js');
    assert.deepEqual(manifest.dependencies ?? {}, {});
    assert.deepEqual(manifest.optionalDependencies ?? {}, {});
    assert.equal(manifest.engines.node, '>=20');
    assert.ok(Number(process.versions.node.split('.')[0]) >= 20);

    // An empty directory, an empty npm cache, --offline: nothing can come from a registry.
    const app = path.join(tmp, 'empty');
    fs.mkdirSync(app);
    execFileSync('npm', ['install', '--offline', '--ignore-scripts', path.join(tmp, p.filename)], { cwd: app, env: npmEnv, stdio: ['ignore', 'ignore', 'inherit'], timeout: 120_000 });
    assert.deepEqual(fs.readdirSync(path.join(app, 'node_modules')).filter((d) => !d.startsWith('.')), ['layer-lens']);
    const installed = execFileSync('find', [path.join(app, 'node_modules'), '-name', '*.node'], { encoding: 'utf8' });
    assert.equal(installed, '', 'no native module');

    const env = { ...npmEnv, LAYERLENS_CACHE_DIR: path.join(tmp, 'layerlens-cache') };
    const help = spawnSync('npx', ['--offline', 'layerlens', '--help'], { cwd: app, env, encoding: 'utf8', timeout: 60_000 });
    assert.equal(help.status, 0, help.stderr);
    assert.match(help.stdout, /^Usage: layerlens <command> \[options\]/);
    assert.match(help.stdout, /--baseline BASE/);

    const archive = path.join(root, 'test', 'fixtures', 'dive', 'test-docker-image.tar');
    const pass = spawnSync('npx', ['--offline', 'layerlens', 'ci', archive, '--ci-config', path.join(root, 'test', 'fixtures', 'dive', 'default-ci-config', '.dive-ci'), '--json'], { cwd: app, env, encoding: 'utf8', timeout: 60_000 });
    assert.equal(pass.status, 0, pass.stderr);
    const doc = JSON.parse(pass.stdout) as { schemaVersion: number; pass: boolean; efficiency: number };
    assert.deepEqual([doc.schemaVersion, doc.pass, doc.efficiency], [1, true, 0.9844212134184309]);
    const fail = spawnSync('npx', ['--offline', 'layerlens', 'ci', archive, '--format', 'markdown'], { cwd: app, env, encoding: 'utf8', timeout: 60_000 });
    assert.equal(fail.status, 1, fail.stderr);
    assert.match(fail.stdout, /^### Layer Lens CI: `dive-test:latest` ❌ FAIL/);
  } finally {
    fs.rmSync(tmp, { recursive: true, force: true });
  }
});
