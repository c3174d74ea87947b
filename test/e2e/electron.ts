// npm run test:electron — the same extension-host suite (out/test/e2e/suite) in a desktop VS Code
// downloaded by @vscode/test-electron. Needs network access to update.code.visualstudio.com
// (and a display, or xvfb-run); where that download is impossible it fails with a clear message
// rather than skipping. On such machines `npm run test:e2e` runs the suite in code-server instead.
//
//   LAYERLENS_VSCODE_VERSION=1.100.3   which VS Code to test against (default: the engines.vscode floor)
import * as fs from 'node:fs';
import * as path from 'node:path';
import { runTests } from '@vscode/test-electron';

const REPO_ROOT = path.resolve(__dirname, '../../..');
const SUITE = path.join(REPO_ROOT, 'out/test/e2e/suite/index.js');
const WORKSPACE = path.join(REPO_ROOT, 'test/e2e/workspace');
const STATE = path.join(REPO_ROOT, '.e2e/electron');

const NETWORK_ERRORS = /ENOTFOUND|EAI_AGAIN|ECONNREFUSED|ECONNRESET|ETIMEDOUT|ENETUNREACH|getaddrinfo|socket hang up|certificate/i;

async function main(): Promise<number> {
  for (const file of [path.join(REPO_ROOT, 'dist/extension.js'), SUITE]) {
    if (!fs.existsSync(file)) {
      console.error(`test:electron: ${path.relative(REPO_ROOT, file)} is missing; build first: node scripts/build.mjs`);
      return 2;
    }
  }
  const pkg = JSON.parse(fs.readFileSync(path.join(REPO_ROOT, 'package.json'), 'utf8')) as { engines?: { vscode?: string } };
  const floor = pkg.engines?.vscode?.replace(/^[^\d]*/, '');
  const version = process.env.LAYERLENS_VSCODE_VERSION ?? floor ?? 'stable';
  fs.rmSync(STATE, { recursive: true, force: true });
  const resultsFile = path.join(STATE, 'host-results.json');
  fs.mkdirSync(STATE, { recursive: true });
  try {
    const code = await runTests({
      version,
      extensionDevelopmentPath: REPO_ROOT,
      extensionTestsPath: SUITE,
      cachePath: path.join(REPO_ROOT, '.vscode-test'),
      extensionTestsEnv: { LAYERLENS_E2E_RESULTS: resultsFile },
      launchArgs: [
        WORKSPACE,
        '--disable-extensions', // other installed extensions; the one under development still loads
        '--disable-workspace-trust',
        '--skip-welcome', '--skip-release-notes',
        `--user-data-dir=${path.join(STATE, 'user-data')}`,
        `--extensions-dir=${path.join(STATE, 'extensions')}`,
      ],
    });
    return summarize(code, resultsFile);
  } catch (err) {
    const message = err instanceof Error ? `${err.message}${err.stack ? `\n${err.stack}` : ''}` : String(err);
    if (NETWORK_ERRORS.test(message)) {
      console.error([
        '',
        'test:electron FAILED: @vscode/test-electron could not download VS Code ' +
          `${version} (from update.code.visualstudio.com): ${message.split('\n')[0]}`,
        'This machine cannot reach Microsoft\'s VS Code download servers, so the desktop tier did NOT run.',
        'Run the same extension-host suite in code-server instead: npm run test:e2e',
        '',
      ].join('\n'));
    } else {
      console.error(`\ntest:electron FAILED: ${message}\n`);
    }
    console.log('0 passed, 1 failed');
    return 1;
  }
}

function summarize(code: number, resultsFile: string): number {
  let passed = 0;
  let failed = 0;
  try {
    const r = JSON.parse(fs.readFileSync(resultsFile, 'utf8')) as { passed: number; failed: number };
    passed = r.passed;
    failed = r.failed;
  } catch {
    console.error(`test:electron: VS Code exited with ${code} and the suite wrote no results (${resultsFile})`);
    failed = Math.max(failed, 1);
  }
  if (code !== 0 && failed === 0) failed = 1;
  console.log(`${passed} passed, ${failed} failed`);
  return failed > 0 || passed === 0 ? 1 : 0;
}

main().then(code => { process.exitCode = code; }, err => { console.error(err); process.exitCode = 1; });
