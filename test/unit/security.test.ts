// Security properties that can be checked without an editor: no shell strings anywhere, the
// explain webview's CSP/nonce and escaping, read-only layer files, builds gated on workspace trust,
// and an engine host that only the user (machine/user settings), never a workspace, can set.
import './support/vscode-stub';
import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import { readFileSync, readdirSync, statSync } from 'node:fs';
import * as path from 'node:path';
import { stub } from './support/vscode-stub';
import { assembleArchive } from '../../src/core/image/tar/archive';
import { readArchiveStream } from '../../src/core/image/tar/archiveStream';
import { analyze } from '../../src/core/image/analysis';
import { explainLayer, renderHtml, reportBlocks } from '../../src/core/present/explain';
import { repoRoot } from '../fuzz/corpus';
import { dockerSave, makeTar } from './support/tars';
import { reportHtml } from '../../src/vscode/explain';
import { EngineConnection } from '../../src/vscode/engine';
import { LayerFileSystem } from '../../src/vscode/layerFs';

const root = repoRoot();
const read = (rel: string): string => readFileSync(path.join(root, rel), 'utf8');

function sources(dir: string): string[] {
  const out: string[] = [];
  const walk = (d: string): void => {
    for (const n of readdirSync(d)) {
      if (n === 'node_modules' || n.startsWith('.')) continue;
      const p = path.join(d, n);
      if (statSync(p).isDirectory()) walk(p);
      else if (/\.(ts|mjs|js)$/.test(n) && !n.endsWith('.d.ts')) out.push(p);
    }
  };
  walk(path.join(root, dir));
  return out;
}

test('no shell string interpolation: src starts no process but docker-credential helpers (execFile, argv) and its own analysis process (fork); nothing uses exec/execSync or shell: true', () => {
  // The processes src starts: a docker-credential-NAME helper named by config.json, as the docker
  // CLI runs it (execFile with an argument array; the server on stdin), and the analysis process,
  // Layer Lens' own script run by fork (no arguments; the request over IPC).
  const helpers = path.join('src', 'sources', 'registry', 'credentials.ts');
  const analyzer = path.join('src', 'worker', 'analyzerChild.ts');
  for (const f of sources('src')) {
    const text = readFileSync(f, 'utf8');
    if (path.relative(root, f) === helpers) {
      assert.match(text, /import \{ execFile \} from 'node:child_process'/);
      assert.match(text, /execFile\(exe, \['get'\]/);
      continue;
    }
    if (path.relative(root, f) === analyzer) {
      assert.match(text, /import \{ fork, type ChildProcess \} from 'node:child_process'/);
      assert.match(text, /fork\(script, \[\], \{/);
      continue;
    }
    assert.doesNotMatch(text, /child_process/, `${path.relative(root, f)} starts processes`);
  }
  const bad = [
    /import\s*\{[^}]*\b(exec|execSync)\b[^}]*\}\s*from\s*['"](node:)?child_process['"]/,
    /child_process\s*\.\s*(exec|execSync)\s*\(/,
    /\bshell\s*:\s*true\b/,
    /require\(['"](node:)?child_process['"]\)\s*\.\s*(exec|execSync)\b/,
  ];
  let n = 0;
  for (const dir of ['src', 'scripts', 'bench', 'test']) {
    for (const f of sources(dir)) {
      if (f === __filename.replace(/\.js$/, '.ts') || f.endsWith(path.join('unit', 'security.test.ts'))) continue;
      const text = readFileSync(f, 'utf8');
      for (const re of bad) assert.doesNotMatch(text, re, `${path.relative(root, f)}: ${re}`);
      n++;
    }
  }
  assert.ok(n > 100, `${n} files checked`);
  // The lint rules that keep it so.
  const eslint = read('eslint.config.mjs');
  assert.match(eslint, /child_process/);
  assert.match(eslint, /shell/);
});

async function hostileAnalysis() {
  const evil = ['<img src=x onerror=alert(1)>', '"><script>alert(1)</script>', "'onmouseover='alert(1)", 'https:\u2215\u2215evil.example'];
  const l0 = await makeTar([{ name: 'app/', type: 'directory' }, ...evil.map((e, i) => ({ name: `app/${i}${e}`, size: 2000 }))]);
  const l1 = await makeTar([...evil.map((e, i) => ({ name: `app/${i}${e}`, size: 2000, mode: 0o600 })), { name: 'app/.wh.0<b>x</b>' }]);
  const img = await assembleArchive(await readArchiveStream([await dockerSave({ layers: [l0, l1], history: [{ created_by: 'COPY <script>alert(9)</script> /app # buildkit' }, { created_by: 'RUN chmod 600 "/app/<svg onload=alert(8)>" # buildkit' }] })]), { kind: 'docker-archive', ref: 'mem' });
  return analyze(img);
}

test('the explain webview: strict CSP with a fresh nonce on every script and style, no remote content, hostile names escaped', async () => {
  const a = await hostileAnalysis();
  for (const layer of [0, 1]) {
    const x = explainLayer(a, layer);
    const body = renderHtml(reportBlocks(a, x, { dockerfile: '<script>alert(5)</script>' }));
    // (A variable, not a literal: older and newer reportHtml signatures differ in cspSource.)
    const opts = { cspSource: 'vscode-webview://abc', source: '<script>alert(2)</script>', dockerfileName: '"><svg onload=alert(3)>' };
    const html = reportHtml(x, body, opts);
    const csp = /<meta http-equiv="Content-Security-Policy" content="([^"]+)">/.exec(html)?.[1];
    assert.ok(csp, 'a CSP meta tag');
    const nonce = /script-src 'nonce-([A-Za-z0-9+/=]+)'/.exec(csp)?.[1];
    assert.ok(nonce && Buffer.from(nonce, 'base64').length >= 16, `nonce ${nonce}`);
    assert.match(csp, /default-src 'none'/);
    assert.doesNotMatch(csp, /unsafe-inline|unsafe-eval|\*|https?:/);
    for (const directive of csp.split(';').map((d) => d.trim()).filter(Boolean)) {
      assert.match(directive, /^(default-src 'none'|img-src data:|style-src 'nonce-[^']+'|script-src 'nonce-[^']+'|font-src vscode-webview:\/\/abc)$/, directive);
    }
    // Our one script and one style, both with the nonce; nothing from the image became markup.
    assert.equal((html.match(/<script\b/g) ?? []).length, 1);
    assert.equal((html.match(/<style\b/g) ?? []).length, 1);
    assert.match(html, new RegExp(`<script nonce="${nonce!.replace(/[+/]/g, '\\$&')}">`));
    assert.match(html, new RegExp(`<style nonce="${nonce!.replace(/[+/]/g, '\\$&')}">`));
    for (const raw of ['<img src=x', '<script>alert', '<svg onload', '<b>x</b>', "'onmouseover='"]) assert.ok(!html.includes(raw), `raw ${raw}`);
    assert.ok((html.match(/<svg\b/g) ?? []).length <= 1, 'only our own chart');
    assert.doesNotMatch(html, /<[^>]*\son\w+\s*=/i, 'no event-handler attribute');
    assert.doesNotMatch(html, /\b(src|href)\s*=\s*["']?(https?:)?\/\//i, 'no remote resource');
    assert.ok(html.includes('&lt;script&gt;alert(2)') || html.includes('&lt;script&gt;'), 'the source is shown escaped');
    const again = reportHtml(x, body, { ...opts, source: 'x' });
    assert.notEqual(/nonce-([^']+)'/.exec(again)?.[1], nonce, 'a fresh nonce per render');
  }
  const src = read('src/vscode/explain.ts');
  assert.match(src, /enableCommandUris:\s*false/);
  assert.match(src, /localResourceRoots:\s*\[\]/);
  const hover = read('src/vscode/hover.ts');
  assert.match(hover, /supportHtml = false/);
  assert.match(hover, /isTrusted = \{ enabledCommands: \[EXPLAIN_COMMAND\] \}/);
});

test('layer file contents are read-only: the layerlens: provider is registered read-only and refuses every write', () => {
  assert.match(read('src/vscode/layerFs.ts'), /registerFileSystemProvider\(LAYER_SCHEME, fsp, \{ isReadonly: true/);
  const p = LayerFileSystem.prototype;
  const uri = { toString: () => 'layerlens:/L0/etc/passwd' };
  for (const [name, call] of [
    ['writeFile', () => p.writeFile.call(undefined as never, uri as never)],
    ['delete', () => p.delete.call(undefined as never, uri as never)],
    ['rename', () => p.rename.call(undefined as never, uri as never)],
    ['createDirectory', () => p.createDirectory.call(undefined as never, uri as never)],
  ] as const) {
    assert.throws(call, (e: Error & { code?: string }) => e.code === 'NoPermissions', name);
  }
});

test('building is gated on workspace trust; settings that steer a build are restricted in untrusted workspaces', () => {
  const pkg = JSON.parse(read('package.json'));
  const cap = pkg.capabilities.untrustedWorkspaces;
  assert.equal(cap.supported, 'limited');
  assert.ok(cap.restrictedConfigurations.includes('layerLens.build.args'));
  assert.ok(cap.restrictedConfigurations.includes('layerLens.imageForDockerfile'));
  const build = pkg.contributes.commands.find((c: { command: string }) => c.command === 'layerLens.buildImage');
  assert.equal(build.enablement, 'isWorkspaceTrusted');
});

test('the engine host: only the user\'s (machine) value counts; a workspace or folder value is ignored', () => {
  const pkg = JSON.parse(read('package.json'));
  assert.equal(pkg.contributes.configuration.properties['layerLens.engine.host'].scope, 'machine');
  const saved = { host: process.env.DOCKER_HOST, ctx: process.env.DOCKER_CONTEXT };
  process.env.DOCKER_HOST = 'unix:///run/user-chose.sock';
  delete process.env.DOCKER_CONTEXT;
  const logs: string[] = [];
  try {
    stub.settings.set('layerLens.engine.host', { defaultValue: '', workspaceValue: 'tcp://203.0.113.9:2375', workspaceFolderValue: 'ssh://attacker@203.0.113.9' });
    let conn = new EngineConnection((l) => logs.push(l));
    assert.equal(conn.get().endpoint.url, 'unix:///run/user-chose.sock', 'workspace values ignored');
    conn.dispose();
    stub.settings.set('layerLens.engine.host', { defaultValue: '', globalValue: 'unix:///run/from-user-settings.sock', workspaceValue: 'tcp://203.0.113.9:2375' });
    conn = new EngineConnection((l) => logs.push(l));
    assert.equal(conn.get().endpoint.url, 'unix:///run/from-user-settings.sock', 'the user value wins');
    conn.dispose();
  } finally {
    if (saved.host === undefined) delete process.env.DOCKER_HOST; else process.env.DOCKER_HOST = saved.host;
    if (saved.ctx !== undefined) process.env.DOCKER_CONTEXT = saved.ctx;
    stub.settings.clear();
  }
  assert.ok(!logs.some((l) => l.includes('203.0.113.9')));
});
