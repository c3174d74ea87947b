// `npm run fuzz [-- --archives N --dockerfiles N --seed S --budget-min M --no-full-example --json FILE]`:
// builds when sources are newer than out/, then runs the long fuzz (test/fuzz/main.ts).
import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(fileURLToPath(import.meta.url), '..', '..');
const entry = join(root, 'out', 'test', 'fuzz', 'main.js');

function newest(dir) {
  let t = 0;
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, e.name);
    t = Math.max(t, e.isDirectory() ? newest(p) : e.name.endsWith('.ts') ? statSync(p).mtimeMs : 0);
  }
  return t;
}

if (!existsSync(entry) || statSync(entry).mtimeMs < Math.max(newest(join(root, 'src')), newest(join(root, 'test', 'fuzz')))) {
  console.log('fuzz: building (node scripts/build.mjs)');
  const b = spawnSync(process.execPath, [join(root, 'scripts', 'build.mjs')], { stdio: 'inherit', cwd: root });
  if (b.status !== 0) process.exit(b.status ?? 2);
}
const r = spawnSync(process.execPath, ['--max-old-space-size=4096', entry, ...process.argv.slice(2)], { stdio: 'inherit', cwd: root });
process.exit(r.status ?? 2);
