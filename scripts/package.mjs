// npm run package: the .vsix, made from a staging directory that holds only what ships.
// vsce lists every file under its working directory before applying .vscodeignore; run in the
// repository it walked .cache/ (the private Docker Engine's data root: millions of files after the
// benchmarks) and took over 5 minutes. Staging keeps packaging in seconds whatever lies around.
import { spawnSync } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';

const root = path.resolve(path.dirname(new URL(import.meta.url).pathname), '..');
const stage = path.join(root, '.cache', 'package-stage');
const run = (cmd, args, cwd) => {
  const r = spawnSync(cmd, args, { cwd, stdio: 'inherit' });
  if (r.status !== 0) process.exit(r.status ?? 1);
};

run(process.execPath, ['scripts/build.mjs', '--production', '--no-tsc'], root);
rmSync(stage, { recursive: true, force: true });
mkdirSync(path.join(stage, 'dist', 'vendor'), { recursive: true });
for (const f of ['README.md', 'CHANGELOG.md', 'LICENSE', '.vscodeignore']) cpSync(path.join(root, f), path.join(stage, f));
// package.json is also the npm package's manifest (the CLI): its `files` list says what `npm pack`
// ships, and vsce refuses it beside .vscodeignore; the staged copy drops it.
const manifest = JSON.parse(readFileSync(path.join(root, 'package.json'), 'utf8'));
delete manifest.files;
writeFileSync(path.join(stage, 'package.json'), JSON.stringify(manifest, null, 2) + '\n');
for (const dir of ['dist', 'dist/vendor']) {
  for (const f of readdirSync(path.join(root, dir))) if (f.endsWith('.js')) cpSync(path.join(root, dir, f), path.join(stage, dir, f));
}
cpSync(path.join(root, 'media'), path.join(stage, 'media'), { recursive: true });
const vsce = path.join(root, 'node_modules', '@vscode', 'vsce', 'vsce');
if (!existsSync(vsce)) { console.error(`package: ${vsce} missing (npm ci)`); process.exit(1); }
// package.json's repository makes vsce turn the README's relative links into links to the
// repository (the screenshots show on the Marketplace and Open VSX pages).
run(process.execPath, [vsce, 'package', '--no-dependencies', '--out', path.join(root, 'layer-lens.vsix')], stage);
