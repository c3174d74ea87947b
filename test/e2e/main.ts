// Runs the end-to-end tier: starts code-server and Chromium, runs the extension-host suite
// (out/test/e2e/suite) inside the real extension host, then the Playwright UI tests
// (out/test/e2e/ui/*.test.js), and prints "N passed, N failed" as its last line.
// Exits non-zero on any failure, and when code-server or Chromium cannot be had: never skips.
//
//   node out/test/e2e/main.js [--host-only | --ui-only]
//   LAYERLENS_E2E_GREP=text   only tests whose title contains text (both kinds)
//
// Normally started by scripts/e2e.mjs (npm run test:e2e), which installs code-server first.
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { Browser } from 'playwright-core';
import {
  CodeServer, HOST_SUITE, LOG_DIR, REPO_ROOT, SCREENSHOT_DIR, launchBrowser, openWorkbenches, pruneDeadRuns,
  runExtensionHostTests, setSession,
} from './harness';
import { onFailure, runTests, setDefaultTimeout, type TestResult } from './runner';

interface Tally { passed: number; failed: number }

function readResult(file: string): TestResult | undefined {
  try {
    return JSON.parse(fs.readFileSync(file, 'utf8')) as TestResult;
  } catch {
    return undefined;
  }
}

/** Prints lines appended to `file` while `until` is pending. */
async function follow(file: string, until: Promise<unknown>, print: (line: string) => void): Promise<void> {
  let offset = 0;
  let partial = '';
  const drain = () => {
    let data: Buffer;
    try { data = fs.readFileSync(file); } catch { return; }
    if (data.length <= offset) return;
    partial += data.subarray(offset).toString('utf8');
    offset = data.length;
    const lines = partial.split('\n');
    partial = lines.pop() ?? '';
    lines.forEach(print);
  };
  let done = false;
  void until.finally(() => { done = true; }).catch(() => undefined);
  while (!done) {
    drain();
    await new Promise(r => setTimeout(r, 250));
  }
  drain();
  if (partial) print(partial);
}

async function hostTier(browser: Browser, server: CodeServer, logFile: string, resultsFile: string): Promise<Tally> {
  console.log('\n== extension-host tests (code-server, real extension host) ==');
  const automationLog = path.join(LOG_DIR, 'host-automation.log');
  const lines: string[] = [];
  const run = runExtensionHostTests(browser, server, { onLog: l => lines.push(l) });
  await follow(logFile, run, l => console.log(l));
  fs.writeFileSync(automationLog, lines.join('\n'));
  let exitCode: number;
  try {
    exitCode = (await run).exitCode;
  } catch (err) {
    console.log(`  ✗ extension-host suite did not complete: ${err instanceof Error ? err.message : String(err)}`);
    console.log(`    workbench log: ${automationLog}; code-server log: ${server.logFile}`);
    return { passed: 0, failed: 1 };
  }
  const result = readResult(resultsFile);
  if (!result) {
    console.log(`  ✗ extension-host suite exited with code ${exitCode} and wrote no results`);
    console.log(`    (tests module ${HOST_SUITE} not loaded?) workbench log: ${automationLog}`);
    lines.filter(l => /error|fail/i.test(l)).slice(-15).forEach(l => console.log(`    ${l}`));
    return { passed: 0, failed: 1 };
  }
  if (exitCode !== 0 && result.failed === 0) {
    console.log(`  ✗ extension host reported exit code ${exitCode} although no test failed`);
    return { passed: result.passed, failed: 1 };
  }
  return { passed: result.passed, failed: result.failed };
}

async function uiTier(browser: Browser, server: CodeServer): Promise<Tally> {
  console.log('\n== UI tests (Playwright + Chromium on the code-server workbench) ==');
  setSession({ server, browser });
  setDefaultTimeout(120_000);
  onFailure(async ({ title }) => {
    let i = 0;
    for (const wb of openWorkbenches) {
      const file = await wb.screenshot(`FAILED-${title}${i++ ? `-${i}` : ''}`).catch(() => undefined);
      if (file) console.log(`      screenshot: ${path.relative(REPO_ROOT, file)}`);
      const errors = wb.console.filter(l => l.startsWith('[error]') || l.startsWith('[pageerror]')).slice(-5);
      if (errors.length) console.log(`      last page errors:\n${errors.map(e => `        ${e.slice(0, 300)}`).join('\n')}`);
    }
  });
  const uiDir = path.join(__dirname, 'ui');
  const files = fs.existsSync(uiDir) ? fs.readdirSync(uiDir).filter(f => f.endsWith('.test.js')).sort() : [];
  if (files.length === 0) {
    console.log(`  ✗ no UI tests found in ${uiDir}`);
    return { passed: 0, failed: 1 };
  }
  // eslint-disable-next-line @typescript-eslint/no-require-imports -- test files are discovered at run time
  for (const f of files) require(path.join(uiDir, f));
  const result = await runTests({ grep: process.env.LAYERLENS_E2E_GREP });
  for (const wb of [...openWorkbenches]) await wb.close();
  return { passed: result.passed, failed: result.failed };
}

async function main(): Promise<number> {
  const hostOnly = process.argv.includes('--host-only');
  const uiOnly = process.argv.includes('--ui-only');
  const t0 = Date.now();

  for (const [file, hint] of [
    [path.join(REPO_ROOT, 'dist/extension.js'), 'node scripts/build.mjs'],
    [HOST_SUITE, 'node scripts/build.mjs (tsc -p .)'],
  ] as const) {
    if (!fs.existsSync(file)) {
      console.error(`e2e: ${path.relative(REPO_ROOT, file)} is missing; build first: ${hint}`);
      return 2;
    }
  }
  pruneDeadRuns();
  fs.mkdirSync(LOG_DIR, { recursive: true });
  fs.mkdirSync(SCREENSHOT_DIR, { recursive: true });
  for (const f of fs.readdirSync(SCREENSHOT_DIR)) if (f.startsWith('FAILED-')) fs.rmSync(path.join(SCREENSHOT_DIR, f), { force: true });
  const hostLog = path.join(LOG_DIR, 'host-tests.log');
  const hostResults = path.join(LOG_DIR, 'host-results.json');

  let server: CodeServer | undefined;
  let browser: Browser | undefined;
  const tally: Tally = { passed: 0, failed: 0 };
  const stopAll = async () => {
    await browser?.close().catch(() => undefined);
    await server?.stop();
  };
  for (const sig of ['SIGINT', 'SIGTERM'] as const) {
    process.once(sig, () => { void stopAll().finally(() => process.exit(130)); });
  }
  try {
    server = await CodeServer.start({ env: { LAYERLENS_E2E_LOG: hostLog, LAYERLENS_E2E_RESULTS: hostResults, ...grepEnv() } });
    console.log(`code-server ${server.url} (pid ${server.pid}, log ${path.relative(REPO_ROOT, server.logFile)}) up after ${((Date.now() - t0) / 1000).toFixed(1)} s`);
    browser = await launchBrowser();
    console.log(`chromium ${browser.version()}`);
    const add = (t: Tally) => { tally.passed += t.passed; tally.failed += t.failed; };
    if (!uiOnly) add(await hostTier(browser, server, hostLog, hostResults));
    if (!hostOnly) add(await uiTier(browser, server));
  } catch (err) {
    console.error(`\ne2e: cannot run: ${err instanceof Error ? err.stack ?? err.message : String(err)}`);
    tally.failed++;
  } finally {
    await stopAll();
  }
  console.log(`\nscreenshots: ${path.relative(REPO_ROOT, SCREENSHOT_DIR)}/   logs: ${path.relative(REPO_ROOT, LOG_DIR)}/`);
  console.log(`e2e took ${((Date.now() - t0) / 1000).toFixed(1)} s`);
  console.log(`${tally.passed} passed, ${tally.failed} failed`);
  return tally.failed > 0 || tally.passed === 0 ? 1 : 0;
}

function grepEnv(): Record<string, string> {
  return process.env.LAYERLENS_E2E_GREP ? { LAYERLENS_E2E_GREP: process.env.LAYERLENS_E2E_GREP } : {};
}

main().then(code => { process.exitCode = code; }, err => { console.error(err); process.exitCode = 1; });
