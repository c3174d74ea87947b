// Bundles the extension and the CLI with esbuild (dependencies included, `vscode` external),
// and compiles sources + tests with tsc into out/ for the test runner.
import * as esbuild from 'esbuild';
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { chmodSync, readFileSync, readdirSync } from 'node:fs';
import { join, relative, sep } from 'node:path';
import { createRequire } from 'node:module';

const production = process.argv.includes('--production');
// Names this build of the analysis code (src/sources/analysisCache.ts): cached analysis summaries
// are keyed by it, so a summary made by other code is never read.
const build = createHash('sha256');
build.update(JSON.parse(readFileSync('package.json', 'utf8')).version);
// Every file of src/core and its domain folders, by path relative to src/core (sorted).
const coreFiles = readdirSync('src/core', { recursive: true, withFileTypes: true })
  .filter((e) => e.isFile())
  .map((e) => relative('src/core', join(e.parentPath ?? e.path, e.name)).split(sep).join('/'))
  .sort();
for (const f of coreFiles) build.update(f).update(readFileSync(`src/core/${f}`));
const common = {
  define: { LAYERLENS_BUILD: JSON.stringify(build.digest('hex')) },
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

// The engine's client libraries (dockerode with its gRPC/protobuf and tar dependencies, ssh2) are
// ~2 MB of the 2.7 MB each bundle would be. They go into dist/vendor/*.js, loaded by require() the
// first time an engine is used, so the CLI and the worker parse only their own code when they read
// an archive or a layout (`node dist/cli.js --help`: ~0.15 s of CPU, ~0.23 s with the engine
// libraries bundled; measured 2026-11-26 on a 2-core Debian 12 machine, Node 20).
// Only these bare specifiers are rewritten; our own modules stay in each bundle (so `instanceof`
// checks on our error classes keep working).
const VENDOR = ['dockerode', 'ssh2'];
const CLI_VENDOR = ['yaml', 'dockerfile-ast'];
// secretlint (the secrets check: src/core/contents/secretlint.ts) is loaded only by that check, in
// the CLI and the extension alike.
const SECRETLINT = ['@secretlint/core', '@secretlint/secretlint-rule-preset-recommend'];
// A scoped name is one flat file: @secretlint/core → vendor/secretlint-core.js.
const flat = (name) => name.replace(/^@/, '').replace(/\//g, '-');
const vendorExternal = (prefix, names = VENDOR) => ({
  name: 'vendor-external',
  setup(build) {
    build.onResolve({ filter: new RegExp(`^(${names.join('|')})$`) }, (args) => ({ path: `${prefix}${flat(args.path)}.js`, external: true }));
  },
});

// secretlint's profiler is replaced by one that records nothing (scripts/secretlint-profiler-off.mjs says why).
const profilerOff = {
  name: 'secretlint-profiler-off',
  setup(build) {
    build.onResolve({ filter: /^@secretlint\/profiler$/ }, () => ({ path: join(process.cwd(), 'scripts', 'secretlint-profiler-off.mjs') }));
  },
};

await Promise.all([
  esbuild.build({ ...common, entryPoints: ['src/extension.ts'], outfile: 'dist/extension.js', plugins: [vendorExternal('./vendor/', [...VENDOR, ...SECRETLINT])] }),
  // The CLI also keeps the Dockerfile parser and the YAML reader out of its bundle (~0.5 MB of its
  // 0.8 MB): `lines`, `explain --dockerfile` and `ci` with a config load them on first use
  // (src/cli/dockerfileCommands.ts, a dynamic import of yaml), `analyze` and `files` never do.
  esbuild.build({ ...common, entryPoints: ['src/cli/main.ts'], outfile: 'dist/cli.js', banner: { js: '#!/usr/bin/env node' }, plugins: [vendorExternal('./vendor/', [...VENDOR, ...CLI_VENDOR, ...SECRETLINT])] }),
  // The analysis worker thread the extension starts (src/vscode/imageService.ts).
  esbuild.build({ ...common, entryPoints: ['src/worker/analysisWorker.ts'], outfile: 'dist/worker.js', plugins: [vendorExternal('./vendor/')] }),
  // The analysis process the analysis worker thread starts for each analysis (src/worker/analyzerChild.ts).
  esbuild.build({ ...common, entryPoints: ['src/worker/analyzerProcess.ts'], outfile: 'dist/analyzer.js', plugins: [vendorExternal('./vendor/')] }),
  // The layer-blob workers (src/sources/blobPool.ts) that the CLI, the analysis process and the
  // extension start to decompress an OCI layout's layers side by side.
  esbuild.build({ ...common, entryPoints: ['src/worker/blobWorker.ts'], outfile: 'dist/blobworker.js' }),
  // dockerode's own use of ssh2 (docker-modem's ssh agent) shares dist/vendor/ssh2.js.
  esbuild.build({ ...common, entryPoints: { dockerode: 'node_modules/dockerode/lib/docker.js' }, outdir: 'dist/vendor', plugins: [vendorExternal('./', ['ssh2'])] }),
  esbuild.build({ ...common, entryPoints: { ssh2: 'node_modules/ssh2/lib/index.js' }, outdir: 'dist/vendor' }),
  ...[...CLI_VENDOR, ...SECRETLINT].map((name) => esbuild.build({ ...common, entryPoints: { [flat(name)]: createRequire(import.meta.url).resolve(name) }, outdir: 'dist/vendor', plugins: [profilerOff] })),
]);
chmodSync('dist/cli.js', 0o755);

if (!process.argv.includes('--no-tsc')) {
  const r = spawnSync(process.execPath, ['node_modules/typescript/bin/tsc', '-p', '.'], { stdio: 'inherit' });
  if (r.status !== 0) process.exit(r.status ?? 1);
}
