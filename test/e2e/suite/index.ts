// Entry point of the extension-host test suite: VS Code loads this module (extensionTestsPath)
// inside the real extension host and awaits run(). Resolving = exit code 0, rejecting = 1.
// Every *.test.js next to this file is loaded; tests use describe/it from ../runner.
//
// Runs the same under code-server (npm run test:e2e) and desktop VS Code (npm run test:electron).
// Environment (inherited from code-server / test-electron):
//   LAYERLENS_E2E_LOG      file that receives the progress lines (the harness prints it)
//   LAYERLENS_E2E_RESULTS  file that receives the result as JSON ({passed, failed, ...})
//   LAYERLENS_E2E_GREP     only run tests whose title contains this text
import * as fs from 'node:fs';
import * as path from 'node:path';
import { runTests, setDefaultTimeout } from '../runner';

export async function run(): Promise<void> {
  const logFile = process.env.LAYERLENS_E2E_LOG;
  const log = (line: string): void => {
    console.log(line);
    if (logFile) fs.appendFileSync(logFile, `${line}\n`);
  };
  setDefaultTimeout(60_000);
  log(`extension-host suite: node ${process.version}, pid ${process.pid}`);
  for (const file of fs.readdirSync(__dirname).filter(f => f.endsWith('.test.js')).sort()) {
    // eslint-disable-next-line @typescript-eslint/no-require-imports -- test files are discovered at run time
    require(path.join(__dirname, file));
  }
  const result = await runTests({ log, grep: process.env.LAYERLENS_E2E_GREP });
  if (process.env.LAYERLENS_E2E_RESULTS) {
    fs.writeFileSync(process.env.LAYERLENS_E2E_RESULTS, JSON.stringify(result, null, 2));
  }
  if (result.failed > 0 || result.passed === 0) {
    throw new Error(`${result.failed} failed, ${result.passed} passed`);
  }
}
