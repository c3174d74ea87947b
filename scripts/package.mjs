// npm run package: the .vsix, made from a staging directory that holds only what ships.
// vsce lists every file under its working directory before applying .vscodeignore; run in the
// repository it walked .cache/ (the private Docker Engine's data root: millions of files after the
// benchmarks) and took over 5 minutes. Staging keeps packaging in seconds whatever lies around.
import { spawnSync } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, readdirSync, rmSync } from 'node:fs';
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
for (const f of ['package.json', 'README.md', 'CHANGELOG.md', 'LICENSE', '.vscodeignore']) cpSync(path.join(root, f), path.join(stage, f));
for (const dir of ['dist', 'dist/vendor']) {
  for (const f of readdirSync(path.join(root, dir))) if (f.endsWith('.js')) cpSync(path.join(root, dir, f), path.join(stage, dir, f));
}
cpSync(path.join(root, 'media'), path.join(stage, 'media'), { recursive: true });
const vsce = path.join(root, 'node_modules', '@vscode', 'vsce', 'vsce');
if (!existsSync(vsce)) { console.error(`package: ${vsce} missing (npm ci)`); process.exit(1); }
run(process.execPath, [vsce, 'package', '--no-dependencies', '--allow-missing-repository', '--no-rewrite-relative-links',
  '--out', path.join(root, 'layer-lens.vsix')], stage);
