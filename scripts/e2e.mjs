// npm run test:e2e — the end-to-end tier in a real VS Code (code-server) driven by Chromium.
// 1. installs code-server if needed (scripts/install-code-server.sh; idempotent),
// 2. checks Chromium is there,
// 3. runs out/test/e2e/main.js (extension-host tests, then UI tests), whose last line is
//    "N passed, N failed".
// Builds are the caller's job (node scripts/build.mjs). Never skips: anything missing is a failure.
// Arguments are passed on to main.js (--host-only, --ui-only).
/* global process, console */
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const fail = (msg) => {
  console.error(`\ne2e: ${msg}`);
  console.log('0 passed, 1 failed');
  process.exit(1);
};

const install = spawnSync('bash', [join(root, 'scripts/install-code-server.sh')], {
  cwd: root, stdio: ['ignore', 'pipe', 'inherit'], encoding: 'utf8',
});
if (install.error || install.status !== 0) {
  fail(`code-server could not be installed (exit ${install.status ?? install.error?.message}); the end-to-end tier did NOT run`);
}
const chromium = process.env.LAYERLENS_CHROMIUM ?? '/usr/bin/chromium';
if (!existsSync(chromium)) fail(`Chromium not found at ${chromium} (apt-get install chromium); the end-to-end tier did NOT run`);

const main = join(root, 'out/test/e2e/main.js');
if (!existsSync(main)) fail(`${main} is missing: build first (node scripts/build.mjs); the end-to-end tier did NOT run`);

const r = spawnSync(process.execPath, [main, ...process.argv.slice(2)], { cwd: root, stdio: 'inherit' });
process.exit(r.status ?? 1);
