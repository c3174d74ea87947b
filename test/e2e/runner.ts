// A minimal describe/it test runner. It has no dependencies (no `vscode`, no DOM), so the same
// module runs tests inside VS Code's extension host (test/e2e/suite) and in plain Node for the
// Playwright UI tests (test/e2e/ui). Tests run sequentially, in declaration order.
//
//   describe('thing', () => {
//     before(async () => { ... });
//     it('does x', async () => { assert.ok(...) });
//   });
//   const result = await runTests();   // prints "N passed, N failed"

export type Fn = () => unknown | Promise<unknown>;

interface Test { name: string; fn: Fn; timeoutMs?: number; only: boolean; skip: boolean }
interface Suite {
  name: string;
  parent?: Suite;
  tests: Test[];
  suites: Suite[];
  before: Fn[];
  after: Fn[];
  beforeEach: Fn[];
  afterEach: Fn[];
}

export interface TestFailure { title: string; error: string }
export interface TestResult { passed: number; failed: number; skipped: number; failures: TestFailure[]; durationMs: number }

export interface FailureContext { title: string; error: unknown }

const newSuite = (name: string, parent?: Suite): Suite =>
  ({ name, parent, tests: [], suites: [], before: [], after: [], beforeEach: [], afterEach: [] });

let root = newSuite('');
let current = root;
let defaultTimeoutMs = 60_000;
const failureHooks: ((ctx: FailureContext) => unknown | Promise<unknown>)[] = [];

export function describe(name: string, body: () => void): void {
  const suite = newSuite(name, current);
  current.suites.push(suite);
  const prev = current;
  current = suite;
  try {
    body();
  } finally {
    current = prev;
  }
}

function addTest(name: string, fn: Fn, timeoutMs: number | undefined, only: boolean, skip: boolean): void {
  current.tests.push({ name, fn, timeoutMs, only, skip });
}

export function it(name: string, fn: Fn, timeoutMs?: number): void {
  addTest(name, fn, timeoutMs, false, false);
}
it.only = (name: string, fn: Fn, timeoutMs?: number): void => addTest(name, fn, timeoutMs, true, false);
it.skip = (name: string, fn: Fn, timeoutMs?: number): void => addTest(name, fn, timeoutMs, false, true);

export const test = it;
export function before(fn: Fn): void { current.before.push(fn); }
export function after(fn: Fn): void { current.after.push(fn); }
export function beforeEach(fn: Fn): void { current.beforeEach.push(fn); }
export function afterEach(fn: Fn): void { current.afterEach.push(fn); }

/** Called (in registration order) for every failing test, before afterEach hooks: e.g. a screenshot. */
export function onFailure(hook: (ctx: FailureContext) => unknown | Promise<unknown>): void {
  failureHooks.push(hook);
}

export function setDefaultTimeout(ms: number): void { defaultTimeoutMs = ms; }

/** Forget every registered suite (lets one process run several independent batches). */
export function reset(): void {
  root = newSuite('');
  current = root;
  failureHooks.length = 0;
}

function titleOf(suite: Suite, name?: string): string {
  const parts: string[] = [];
  for (let s: Suite | undefined = suite; s; s = s.parent) if (s.name) parts.unshift(s.name);
  if (name !== undefined) parts.push(name);
  return parts.join(' › ');
}

function formatError(err: unknown): string {
  if (err instanceof Error) return err.stack ?? `${err.name}: ${err.message}`;
  return String(err);
}

async function withTimeout(fn: Fn, ms: number, what: string): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  try {
    await Promise.race([
      Promise.resolve().then(fn),
      new Promise((_, reject) => {
        timer = setTimeout(() => reject(new Error(`${what}: timed out after ${ms} ms`)), ms);
      }),
    ]);
  } finally {
    if (timer) clearTimeout(timer);
  }
}

function hasOnly(suite: Suite): boolean {
  return suite.tests.some(t => t.only) || suite.suites.some(hasOnly);
}

export interface RunOptions {
  /** Where progress lines go; defaults to console.log. */
  log?: (line: string) => void;
  /** Only run tests whose full title contains this text (e.g. from an env var). */
  grep?: string;
}

export async function runTests(options: RunOptions = {}): Promise<TestResult> {
  const log = options.log ?? ((line: string) => console.log(line));
  const result: TestResult = { passed: 0, failed: 0, skipped: 0, failures: [], durationMs: 0 };
  const onlyMode = hasOnly(root);
  const started = Date.now();

  const selected = (suite: Suite, t: Test): boolean =>
    !t.skip && (!onlyMode || t.only) && (!options.grep || titleOf(suite, t.name).includes(options.grep));
  const count = (suite: Suite): number =>
    suite.tests.filter(t => selected(suite, t)).length + suite.suites.reduce((n, s) => n + count(s), 0);

  const fail = async (title: string, err: unknown): Promise<void> => {
    result.failed++;
    result.failures.push({ title, error: formatError(err) });
    log(`  ✗ ${title}`);
    log(indent(formatError(err), 6));
    for (const hook of failureHooks) {
      try { await hook({ title, error: err }); } catch (e) { log(`      (failure hook failed: ${formatError(e)})`); }
    }
  };

  const chain = (suite: Suite | undefined, pick: (s: Suite) => Fn[]): Fn[] =>
    suite ? [...chain(suite.parent, pick), ...pick(suite)] : [];

  async function runSuite(suite: Suite, depth: number): Promise<void> {
    if (count(suite) === 0) {
      result.skipped += suite.tests.length;
      return;
    }
    if (suite.name) log(`${'  '.repeat(depth - 1)}${suite.name}`);
    try {
      for (const hook of suite.before) await withTimeout(hook, defaultTimeoutMs, `before hook in "${titleOf(suite)}"`);
    } catch (err) {
      // A failing before hook fails every test of the suite; report it once per test so counts stay honest.
      for (const t of suite.tests.filter(x => selected(suite, x))) await fail(titleOf(suite, t.name), err);
      for (const child of suite.suites) for (let i = 0; i < count(child); i++) await fail(titleOf(child), err);
      await runAfter(suite);
      return;
    }
    for (const t of suite.tests) {
      if (!selected(suite, t)) { result.skipped++; continue; }
      const title = titleOf(suite, t.name);
      const t0 = Date.now();
      try {
        for (const hook of chain(suite, s => s.beforeEach)) await withTimeout(hook, defaultTimeoutMs, 'beforeEach hook');
        await withTimeout(t.fn, t.timeoutMs ?? defaultTimeoutMs, `test "${title}"`);
        result.passed++;
        log(`${'  '.repeat(depth)}✓ ${t.name} (${Date.now() - t0} ms)`);
      } catch (err) {
        await fail(title, err);
      }
      for (const hook of chain(suite, s => s.afterEach).reverse()) {
        try { await withTimeout(hook, defaultTimeoutMs, 'afterEach hook'); } catch (err) { log(`      afterEach hook failed: ${formatError(err)}`); }
      }
    }
    for (const child of suite.suites) await runSuite(child, depth + 1);
    await runAfter(suite);
  }

  async function runAfter(suite: Suite): Promise<void> {
    for (const hook of suite.after) {
      try {
        await withTimeout(hook, defaultTimeoutMs, `after hook in "${titleOf(suite)}"`);
      } catch (err) {
        await fail(`after hook in "${titleOf(suite)}"`, err);
      }
    }
  }

  await runSuite(root, 0);
  result.durationMs = Date.now() - started;
  if (result.failures.length) {
    log('');
    log('Failures:');
    result.failures.forEach((f, i) => log(`  ${i + 1}) ${f.title}\n${indent(f.error, 6)}`));
  }
  log(`${result.passed} passed, ${result.failed} failed${result.skipped ? `, ${result.skipped} skipped` : ''} (${(result.durationMs / 1000).toFixed(1)} s)`);
  return result;
}

function indent(text: string, n: number): string {
  const pad = ' '.repeat(n);
  return text.split('\n').map(l => pad + l).join('\n');
}
