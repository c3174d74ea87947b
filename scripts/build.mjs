// Bundles the extension and the CLI with esbuild (dependencies included, `vscode` external),
// and compiles sources + tests with tsc into out/ for the test runner.
import * as esbuild from 'esbuild';
import { spawnSync } from 'node:child_process';
import { chmodSync } from 'node:fs';

const production = process.argv.includes('--production');
const common = {
  bundle: true,
  platform: 'node',
  target: 'node20',
  format: 'cjs',
  sourcemap: !production,
  minify: production,
  logLevel: 'warning',
  // ssh2 optionally loads native helpers; they are not needed (pure-JS fallbacks exist).
  external: ['vscode', 'cpu-features', './crypto/build/Release/sshcrypto.node'],
};

await Promise.all([
  esbuild.build({ ...common, entryPoints: ['src/extension.ts'], outfile: 'dist/extension.js' }),
  esbuild.build({ ...common, entryPoints: ['src/cli/main.ts'], outfile: 'dist/cli.js', banner: { js: '#!/usr/bin/env node' } }),
  // The analysis worker thread the extension starts (src/vscode/imageService.ts).
  esbuild.build({ ...common, entryPoints: ['src/worker/analysisWorker.ts'], outfile: 'dist/worker.js' }),
]);
chmodSync('dist/cli.js', 0o755);

if (!process.argv.includes('--no-tsc')) {
  const r = spawnSync(process.execPath, ['node_modules/typescript/bin/tsc', '-p', '.'], { stdio: 'inherit' });
  if (r.status !== 0) process.exit(r.status ?? 1);
}
