// End-to-end harness: a real VS Code (code-server 4.100.3 = VS Code 1.100.3, its Node extension
// host and web workbench) driven by playwright-core and Debian's Chromium.
//
// - CodeServer: starts code-server with its own HOME/XDG dirs, user-data-dir, extensions-dir and
//   quiet settings on a free port, in its own process group (stopped by killing the group).
// - launchBrowser(): headless /usr/bin/chromium.
// - runExtensionHostTests(): loads the extension under development and a tests module through the
//   workbench's `payload` (what @vscode/test-web does); the module's run() executes inside the real
//   extension host and its result comes back through window.codeAutomationExit.
// - Workbench: a page on the workbench with helpers for UI tests (openFile, readCodeLenses,
//   openView, readTreeRows, hover, runCommand, readOutputChannel, screenshot, ...).
//
// No DOM lib is used (the project compiles without it): reads go through Playwright locators.

import { spawn, type ChildProcess } from 'node:child_process';
import * as fs from 'node:fs';
import * as http from 'node:http';
import * as net from 'node:net';
import * as path from 'node:path';
import { chromium, type Browser, type BrowserContext, type Locator, type Page } from 'playwright-core';

/** Repo root (this file compiles to out/test/e2e/harness.js). */
export const REPO_ROOT = path.resolve(__dirname, '../../..');
export const E2E_DIR = path.join(REPO_ROOT, '.e2e');
/** Screenshots, by test-chosen name (overwritten run after run; README picks from here). */
export const SCREENSHOT_DIR = process.env.LAYERLENS_E2E_SCREENSHOTS ?? path.join(E2E_DIR, 'screenshots');
/**
 * Per-process folder for code-server state and logs: several people (or runs) may run the
 * tests in the same tree at once, so nothing else is shared between runs.
 */
export const RUN_DIR = path.join(E2E_DIR, 'runs', String(process.pid));
export const LOG_DIR = RUN_DIR;

/** Removes the run folders of processes that are gone. */
export function pruneDeadRuns(): void {
  const runs = path.join(E2E_DIR, 'runs');
  let names: string[] = [];
  try { names = fs.readdirSync(runs); } catch { return; }
  for (const name of names) {
    const pid = Number(name);
    if (!Number.isInteger(pid) || pid === process.pid) continue;
    let alive = true;
    try { process.kill(pid, 0); } catch (err) { alive = (err as NodeJS.ErrnoException).code === 'EPERM'; }
    if (!alive) fs.rmSync(path.join(runs, name), { recursive: true, force: true });
  }
}
/** The workspace folder UI tests open (source folder, not out/). */
export const WORKSPACE_DIR = path.join(REPO_ROOT, 'test/e2e/workspace');
/** Compiled extension-host suite (run() inside the extension host). */
export const HOST_SUITE = path.join(REPO_ROOT, 'out/test/e2e/suite/index.js');
export const CODE_SERVER_VERSION = '4.100.3';
export const CHROMIUM = process.env.LAYERLENS_CHROMIUM ?? '/usr/bin/chromium';

export const CHROMIUM_ARGS = [
  '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking',
  '--disable-component-update', '--disable-sync', '--disable-dev-shm-usage',
];

/** User settings that keep the workbench quiet and offline. */
export const QUIET_SETTINGS: Record<string, unknown> = {
  'workbench.startupEditor': 'none',
  'workbench.tips.enabled': false,
  'workbench.enableExperiments': false,
  'workbench.welcomePage.walkthroughs.openOnInstall': false,
  'extensions.ignoreRecommendations': true,
  'extensions.autoUpdate': false,
  'extensions.autoCheckUpdates': false,
  'telemetry.telemetryLevel': 'off',
  'update.mode': 'none',
  'git.enabled': false,
  'git.openRepositoryInParentFolders': 'never',
  'npm.autoDetect': 'off',
  'chat.commandCenter.enabled': false,
  'editor.minimap.enabled': false,
  'window.commandCenter': false,
  'files.hotExit': 'off',
};

export function defaultCodeServerEntry(): string {
  const dir = process.env.LAYERLENS_CODE_SERVER_DIR ?? path.join(REPO_ROOT, '.cache/code-server');
  return path.join(dir, 'node_modules/code-server/out/node/entry.js');
}

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.unref();
    srv.on('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const addr = srv.address();
      srv.close(() => (addr && typeof addr === 'object' ? resolve(addr.port) : reject(new Error('no port'))));
    });
  });
}

const sleep = (ms: number) => new Promise<void>(r => setTimeout(r, ms));

function httpOk(url: string): Promise<boolean> {
  return new Promise(resolve => {
    const req = http.get(url, res => {
      res.resume();
      resolve(res.statusCode === 200);
    });
    req.on('error', () => resolve(false));
    req.setTimeout(2000, () => { req.destroy(); resolve(false); });
  });
}

export interface CodeServerOptions {
  /** code-server's out/node/entry.js; default: the cache install (see scripts/install-code-server.sh). */
  entry?: string;
  /** Folder for HOME, XDG dirs, user-data-dir, extensions-dir; wiped on start. Default .e2e/runs/<pid>/state. */
  stateDir?: string;
  /** Extra user settings (merged over QUIET_SETTINGS). */
  settings?: Record<string, unknown>;
  /** Extra environment for code-server and, through it, the extension host. */
  env?: Record<string, string>;
  /** Leave workspace trust on (default: --disable-workspace-trust). */
  workspaceTrust?: boolean;
  /** Where code-server's stdout/stderr go. Default .e2e/runs/<pid>/code-server.log. */
  logFile?: string;
  startTimeoutMs?: number;
}

export class CodeServer {
  private exited = false;
  private readonly onExit = () => this.killGroup('SIGKILL');

  private constructor(
    readonly proc: ChildProcess,
    readonly port: number,
    readonly stateDir: string,
    readonly userDataDir: string,
    readonly extensionsDir: string,
    readonly logFile: string,
  ) {
    proc.once('exit', () => { this.exited = true; });
    process.once('exit', this.onExit);
  }

  get url(): string { return `http://127.0.0.1:${this.port}`; }
  get pid(): number { return this.proc.pid!; }

  static async start(options: CodeServerOptions = {}): Promise<CodeServer> {
    const entry = options.entry ?? defaultCodeServerEntry();
    if (!fs.existsSync(entry)) {
      throw new Error(`code-server not found at ${entry}; run scripts/install-code-server.sh first`);
    }
    const stateDir = options.stateDir ?? path.join(RUN_DIR, 'state');
    fs.rmSync(stateDir, { recursive: true, force: true });
    const home = path.join(stateDir, 'home');
    const userDataDir = path.join(stateDir, 'user-data');
    const extensionsDir = path.join(stateDir, 'extensions');
    for (const d of [home, path.join(home, '.config'), path.join(home, '.local/share'), path.join(home, '.cache'),
      path.join(userDataDir, 'User'), extensionsDir]) fs.mkdirSync(d, { recursive: true });
    fs.writeFileSync(path.join(userDataDir, 'User/settings.json'),
      JSON.stringify({ ...QUIET_SETTINGS, ...options.settings }, null, 2));
    const configFile = path.join(stateDir, 'config.yaml');
    fs.writeFileSync(configFile, 'auth: none\ncert: false\n');

    const port = await freePort();
    const logFile = options.logFile ?? path.join(LOG_DIR, 'code-server.log');
    fs.mkdirSync(path.dirname(logFile), { recursive: true });
    const logFd = fs.openSync(logFile, 'w');
    const args = [
      entry,
      '--config', configFile,
      '--auth', 'none',
      '--bind-addr', `127.0.0.1:${port}`,
      '--user-data-dir', userDataDir,
      '--extensions-dir', extensionsDir,
      '--disable-telemetry',
      '--disable-update-check',
      '--disable-getting-started-override',
      '--ignore-last-opened',
      ...(options.workspaceTrust ? [] : ['--disable-workspace-trust']),
    ];
    const env: NodeJS.ProcessEnv = {
      ...process.env,
      HOME: home,
      XDG_CONFIG_HOME: path.join(home, '.config'),
      XDG_DATA_HOME: path.join(home, '.local/share'),
      XDG_CACHE_HOME: path.join(home, '.cache'),
      // No extension gallery (code-server defaults to open-vsx.org): tests never reach the network.
      EXTENSIONS_GALLERY: '{}',
      ...options.env,
    };
    delete env.VSCODE_IPC_HOOK_CLI; // do not talk to an enclosing VS Code
    // detached: the child calls setsid(), so it leads its own process group and stop() can kill
    // the whole group (file watchers and the extension host included).
    const proc = spawn(process.execPath, args, { env, detached: true, stdio: ['ignore', logFd, logFd] });
    fs.closeSync(logFd);
    const server = new CodeServer(proc, port, stateDir, userDataDir, extensionsDir, logFile);

    const deadline = Date.now() + (options.startTimeoutMs ?? 60_000);
    while (!(await httpOk(`${server.url}/healthz`))) {
      if (server.exited) {
        throw new Error(`code-server exited during start-up (code ${proc.exitCode}); see ${logFile}:\n${tail(logFile, 30)}`);
      }
      if (Date.now() > deadline) {
        await server.stop();
        throw new Error(`code-server did not answer /healthz within ${options.startTimeoutMs ?? 60_000} ms; see ${logFile}`);
      }
      await sleep(200);
    }
    return server;
  }

  /** A vscode-remote URI for a path on this (local) server. */
  remoteUri(absPath: string): string {
    return `vscode-remote://127.0.0.1:${this.port}${path.resolve(absPath)}`;
  }

  /** URL of the workbench, optionally on a folder and with the extension-development payload. */
  workbenchUrl(opts: { folder?: string; extensionDevelopmentPath?: string; extensionTestsPath?: string } = {}): string {
    const params: string[] = [];
    if (opts.folder) params.push(`folder=${encodeURIComponent(path.resolve(opts.folder))}`);
    const payload: [string, string][] = [];
    if (opts.extensionDevelopmentPath) payload.push(['extensionDevelopmentPath', this.remoteUri(opts.extensionDevelopmentPath)]);
    if (opts.extensionTestsPath) payload.push(['extensionTestsPath', this.remoteUri(opts.extensionTestsPath)]);
    if (payload.length) params.push(`payload=${encodeURIComponent(JSON.stringify(payload))}`);
    return `${this.url}/${params.length ? `?${params.join('&')}` : ''}`;
  }

  /** Files under the user-data-dir's logs folder whose path matches (e.g. output channel logs). */
  findLogFiles(match: RegExp): string[] {
    const root = path.join(this.userDataDir, 'logs');
    const found: string[] = [];
    const walk = (dir: string) => {
      let entries: fs.Dirent[];
      try { entries = fs.readdirSync(dir, { withFileTypes: true }); } catch { return; }
      for (const e of entries) {
        const p = path.join(dir, e.name);
        if (e.isDirectory()) walk(p);
        else if (match.test(p)) found.push(p);
      }
    };
    walk(root);
    return found.sort();
  }

  private killGroup(signal: NodeJS.Signals): boolean {
    try {
      process.kill(-this.pid, signal);
      return true;
    } catch {
      return false; // ESRCH: the group is gone
    }
  }

  async stop(): Promise<void> {
    process.removeListener('exit', this.onExit);
    if (!this.killGroup('SIGTERM')) return;
    for (let i = 0; i < 50; i++) {
      await sleep(100);
      // Signal 0 on the group: true while any member (watchers, extension host) is still alive.
      if (!this.killGroup(0 as unknown as NodeJS.Signals)) return;
    }
    this.killGroup('SIGKILL');
  }
}

function tail(file: string, lines: number): string {
  try {
    return fs.readFileSync(file, 'utf8').split('\n').slice(-lines).join('\n');
  } catch {
    return '';
  }
}

export async function launchBrowser(): Promise<Browser> {
  if (!fs.existsSync(CHROMIUM)) {
    throw new Error(`Chromium not found at ${CHROMIUM}; install Debian's 'chromium' package (or set LAYERLENS_CHROMIUM)`);
  }
  // Own HOME: Debian's chromium wrapper and its crash handler write under $HOME/.config/chromium.
  const home = path.join(RUN_DIR, 'chromium-home');
  fs.mkdirSync(home, { recursive: true });
  return chromium.launch({
    executablePath: CHROMIUM, headless: true, args: CHROMIUM_ARGS,
    env: { ...process.env, HOME: home, XDG_CONFIG_HOME: path.join(home, '.config'), XDG_CACHE_HOME: path.join(home, '.cache') },
  });
}

// ---------------------------------------------------------------------------------------------
// Extension-host tests

export interface HostTestRun {
  /** Exit code reported by the extension host: 0 when run() resolved, else non-zero. */
  exitCode: number;
  /** Lines the workbench sent through codeAutomationLog and the page console. */
  logs: string[];
  durationMs: number;
}

export interface HostTestOptions {
  /** Compiled tests module whose run() executes in the extension host. Default out/test/e2e/suite/index.js. */
  testsPath?: string;
  /** Folder opened in the window (tests see it as the workspace). Default test/e2e/workspace. */
  folder?: string;
  /** Extension under development. Default: the repo root. */
  extensionDevelopmentPath?: string;
  timeoutMs?: number;
  /** Called with each log line as it arrives. */
  onLog?: (line: string) => void;
}

export async function runExtensionHostTests(browser: Browser, server: CodeServer, options: HostTestOptions = {}): Promise<HostTestRun> {
  const started = Date.now();
  const logs: string[] = [];
  const log = (line: string) => { logs.push(line); options.onLog?.(line); };
  const context = await browser.newContext({ viewport: { width: 1280, height: 800 } });
  const page = await context.newPage();
  try {
    let resolveExit!: (code: number) => void;
    const exited = new Promise<number>(r => { resolveExit = r; });
    await page.exposeFunction('codeAutomationLog', (type: string, args: unknown[]) => {
      log(`[${type}] ${(Array.isArray(args) ? args : [args]).map(a => (typeof a === 'string' ? a : JSON.stringify(a))).join(' ')}`);
    });
    await page.exposeFunction('codeAutomationExit', (code: number) => { resolveExit(Number(code)); });
    page.on('pageerror', err => log(`[pageerror] ${err.message}`));
    const url = server.workbenchUrl({
      folder: options.folder ?? WORKSPACE_DIR,
      extensionDevelopmentPath: options.extensionDevelopmentPath ?? REPO_ROOT,
      extensionTestsPath: options.testsPath ?? HOST_SUITE,
    });
    await page.goto(url);
    const timeoutMs = options.timeoutMs ?? 180_000;
    let timer: NodeJS.Timeout | undefined;
    const timedOut = new Promise<number>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`extension-host tests did not finish within ${timeoutMs} ms`)), timeoutMs);
    });
    try {
      const exitCode = await Promise.race([exited, timedOut]);
      return { exitCode, logs, durationMs: Date.now() - started };
    } finally {
      clearTimeout(timer);
    }
  } finally {
    await context.close().catch(() => undefined);
  }
}

// ---------------------------------------------------------------------------------------------
// UI tests

export interface TreeRow {
  /** Visible text of the row: label, then description after one space (as a person reads it). */
  text: string;
  /** The row's label (TreeItem.label); the whole row text if the row has no icon label. Always set by readTreeRows. */
  label?: string;
  /** The row's description (TreeItem.description), '' when none. Always set by readTreeRows. */
  description?: string;
  ariaLabel: string;
  /** 1-based depth (aria-level). */
  level: number;
  /** true/false for collapsible rows, undefined for leaves. */
  expanded: boolean | undefined;
  selected: boolean;
}

export interface OpenWorkbenchOptions {
  /** Folder to open; default test/e2e/workspace. Pass null for an empty window. */
  folder?: string | null;
  /** Extension under development, loaded through the payload; default the repo root. Null: none. */
  extensionDevelopmentPath?: string | null;
  viewport?: { width: number; height: number };
  /** How long to wait for the workbench to appear. */
  timeoutMs?: number;
}

/** Workbenches not yet closed (main.ts screenshots them when a test fails). */
export const openWorkbenches = new Set<Workbench>();

/** The little of the DOM's Element that page functions here use (the project compiles without lib.dom). */
interface DomElement {
  getAttribute(name: string): string | null;
  querySelector(selector: string): DomElement | null;
  querySelectorAll(selector: string): ArrayLike<DomElement>;
  getBoundingClientRect(): { top: number; bottom: number };
  readonly innerText: string;
}

const esc = (s: string) => s.replace(/\\/g, '\\\\').replace(/"/g, '\\"');

export class Workbench {
  /** Page console messages and errors, for diagnostics. */
  readonly console: string[] = [];

  private constructor(readonly server: CodeServer, readonly context: BrowserContext, readonly page: Page) {
    page.on('console', m => this.console.push(`[${m.type()}] ${m.text()}`));
    page.on('pageerror', e => this.console.push(`[pageerror] ${e.message}`));
  }

  static async open(browser: Browser, server: CodeServer, options: OpenWorkbenchOptions = {}): Promise<Workbench> {
    const context = await browser.newContext({ viewport: options.viewport ?? { width: 1400, height: 860 } });
    const page = await context.newPage();
    page.setDefaultTimeout(30_000);
    const wb = new Workbench(server, context, page);
    openWorkbenches.add(wb);
    const folder = options.folder === undefined ? WORKSPACE_DIR : options.folder ?? undefined;
    const dev = options.extensionDevelopmentPath === undefined ? REPO_ROOT : options.extensionDevelopmentPath ?? undefined;
    await page.goto(server.workbenchUrl({ folder, extensionDevelopmentPath: dev }));
    await page.locator('.monaco-workbench').waitFor({ timeout: options.timeoutMs ?? 60_000 });
    // The explorer shows the folder once the remote connection and file service are up.
    if (folder) await page.locator('.explorer-folders-view .monaco-list-row').first().waitFor({ timeout: options.timeoutMs ?? 60_000 });
    return wb;
  }

  async close(): Promise<void> {
    openWorkbenches.delete(this);
    await this.context.close().catch(() => undefined);
  }

  // --- quick input --------------------------------------------------------------------------

  private get quickInput(): Locator { return this.page.locator('.quick-input-widget'); }

  private async quickInputRows(): Promise<Locator> {
    const rows = this.quickInput.locator('.quick-input-list .monaco-list-row');
    await rows.first().waitFor();
    return rows;
  }

  /** aria-labels of the quick-input rows, read in one go (rows re-render while results stream in). */
  private async quickInputLabels(): Promise<string[]> {
    return this.quickInput.locator('.quick-input-list .monaco-list-row')
      .evaluateAll((rows: DomElement[]) => rows.map(r => r.getAttribute('aria-label') ?? ''));
  }

  /**
   * Picks the quick-input row whose label matches best, waiting for one to appear. `score` gives
   * 0/false for no match, higher numbers (or true) for better matches; the first best one wins.
   */
  private async pickQuickInputRow(score: (label: string) => number | boolean, what: string, timeoutMs = 15_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    let labels: string[] = [];
    while (Date.now() < deadline) {
      labels = await this.quickInputLabels();
      let label: string | undefined;
      let best = 0;
      for (const l of labels) {
        const s = Number(score(l));
        if (s > best) { best = s; label = l; }
      }
      if (label !== undefined) {
        const row = this.quickInput.locator(`.quick-input-list .monaco-list-row[aria-label="${esc(label)}"]`).first();
        const input = this.quickInput.locator('input');
        const typed = await input.inputValue().catch(() => '');
        try {
          await row.click({ timeout: 2_000 });
          return;
        } catch {
          // The click may have landed while Playwright was still re-checking the (now detached)
          // row: the quick input closed, or became the next picker (its text changed). That is
          // success. Otherwise the list re-rendered under us: look again.
          if (!(await this.quickInput.isVisible().catch(() => false))) return;
          if ((await input.inputValue().catch(() => typed)) !== typed) return;
        }
      }
      await sleep(150);
    }
    throw new Error(`no quick-input entry for ${what}; entries: ${JSON.stringify(labels)}`);
  }

  // --- helpers ------------------------------------------------------------------------------

  /** Opens a file of the workspace through quick open (Ctrl+P) and waits for its editor tab. */
  async openFile(name: string): Promise<void> {
    const base = path.basename(name);
    await this.focusWorkbench();
    await this.page.keyboard.press('Control+P');
    const input = this.quickInput.locator('input');
    await input.waitFor({ state: 'visible' });
    await input.fill(name);
    // File-search rows are labelled "<basename>, file results" at the root and
    // "<basename> <folder>, file results" below it (1.100).
    const dir = path.dirname(name) === '.' ? '' : path.dirname(name);
    await this.pickQuickInputRow(l => (l === base || l.startsWith(`${base},`) || l.startsWith(`${base} `))
      && (!dir || l.includes(dir)), `file "${name}"`, 30_000);
    await this.activeTab(base).waitFor();
    await this.activeEditor().waitFor();
  }

  /** The active editor tab, optionally with the given label. */
  activeTab(label?: string): Locator {
    const tab = this.page.locator('.editor-group-container.active .tabs-container .tab.active');
    return label ? tab.and(this.page.locator(`[aria-label^="${esc(label)}"]`)) : tab;
  }

  /** The text editor of the active editor group. */
  activeEditor(): Locator {
    return this.page.locator('.editor-group-container.active .editor-instance .monaco-editor').first();
  }

  /** Language id of the active text editor (the editor-instance's data-mode-id). */
  async activeLanguageId(): Promise<string | null> {
    return this.page.locator('.editor-group-container.active .editor-instance[data-mode-id]').first().getAttribute('data-mode-id');
  }

  /** Texts of the CodeLenses currently rendered in the active editor. */
  async readCodeLenses(): Promise<string[]> {
    const texts = await this.page.locator('.editor-group-container.active .contentWidgets .codelens-decoration').allInnerTexts();
    return texts.map(t => t.replace(/\u00a0/g, ' ').trim()).filter(t => t.length > 0);
  }

  /** Waits until at least one CodeLens (matching `predicate`, if given) is rendered; returns all texts. */
  async waitForCodeLenses(predicate: (texts: string[]) => boolean = t => t.length > 0, timeoutMs = 60_000): Promise<string[]> {
    return this.poll(() => this.readCodeLenses(), predicate, timeoutMs, 'CodeLenses');
  }

  /**
   * CodeLens texts of the active editor by the 1-based line they stand above (rendered lines
   * only): each lens belongs to the first line number below its middle, by on-screen position.
   */
  async readCodeLensesByLine(): Promise<Map<number, string>> {
    return new Map([...(await this.lensesByLine())].map(([line, l]) => [line, l.text]));
  }

  /** Lens texts by line, with each lens element's index among `.codelens-decoration` elements. */
  private async lensesByLine(): Promise<Map<number, { text: string; index: number }>> {
    const found = await this.activeEditor().evaluate((root: DomElement) => {
      const rect = (e: DomElement) => e.getBoundingClientRect();
      const lenses = Array.from(root.querySelectorAll('.contentWidgets .codelens-decoration'))
        .map(e => ({ text: e.innerText, mid: (rect(e).top + rect(e).bottom) / 2 }));
      const lines = Array.from(root.querySelectorAll('.margin-view-overlays .line-numbers'))
        .map(e => ({ n: Number(e.innerText.trim()), top: rect(e).top }));
      return { lenses, lines };
    });
    const out = new Map<number, { text: string; index: number }>();
    const lines = found.lines.filter(l => Number.isInteger(l.n) && l.n > 0).sort((a, b) => a.top - b.top);
    found.lenses.forEach((lens, index) => {
      const text = lens.text.replace(/\u00a0/g, ' ').trim();
      const line = lines.find(l => l.top >= lens.mid);
      if (text && line) out.set(line.n, { text, index });
    });
    return out;
  }

  /** Waits until the lenses by line satisfy `predicate`; returns them. */
  async waitForCodeLensesByLine(predicate: (lenses: Map<number, string>) => boolean, timeoutMs = 60_000, what = 'CodeLenses by line'): Promise<Map<number, string>> {
    // Polled as [line, text] pairs: a timeout error then shows them (a Map serialises as {}).
    const entries = await this.poll(async () => [...(await this.readCodeLensesByLine())], e => predicate(new Map(e)), timeoutMs, what);
    return new Map(entries);
  }

  /** Clicks the (first) command of the CodeLens above a 1-based line of the active editor (scrolled into view first). */
  async clickCodeLens(line: number): Promise<void> {
    await this.goToLine(line);
    // Lenses of lines just scrolled into view render a moment later.
    const lenses = await this.poll(async () => [...(await this.lensesByLine())], e => e.some(([l]) => l === line), 10_000, `a CodeLens above line ${line}`);
    const lens = new Map(lenses).get(line)!;
    await this.activeEditor().locator('.contentWidgets .codelens-decoration').nth(lens.index).locator('a').first().click();
  }

  /**
   * Shows a view: its activity-bar entry when it has one (aria-label starting with `name`), else
   * the "Focus on <name> View" command VS Code generates for every view. Waits for its pane.
   */
  async openView(name: string): Promise<void> {
    await this.focusWorkbench();
    const entry = this.page.locator(`.activitybar .action-item:has(> a[aria-label^="${esc(name)}"])`).first();
    // Extension-contributed containers appear once the extensions are scanned, a little after load.
    const hasEntry = await entry.waitFor({ state: 'visible', timeout: 15_000 }).then(() => true, () => false);
    const shown = this.viewPane(name).or(this.viewContainer(name)).first();
    if (hasEntry) {
      // Clicking the entry of the container already shown would hide the side bar; and something
      // else (a lens click's reveal) may show or hide it meanwhile: click until the view is shown.
      const deadline = Date.now() + 30_000;
      while (!(await shown.isVisible().catch(() => false))) {
        if (Date.now() > deadline) break;
        const cls = (await entry.getAttribute('class')) ?? '';
        if (!cls.split(/\s+/).includes('checked')) {
          await entry.locator('a').click();
          await this.page.mouse.move(700, 5); // away from the entry, so its tooltip does not show in screenshots
        }
        await shown.waitFor({ timeout: 3000 }).catch(() => undefined);
      }
    } else {
      await this.runCommand(`Focus on ${name} View`);
    }
    await shown.waitFor();
  }

  /** The pane of a view (side bar, secondary side bar or panel), by its header "<name> Section". */
  viewPane(name: string): Locator {
    return this.page.locator('.pane')
      .filter({ has: this.page.locator(`.pane-header[aria-label="${esc(name)} Section"]`) }).first();
  }

  /** The side bar / secondary side bar / panel while it shows the view container titled `name`. */
  viewContainer(name: string): Locator {
    return this.page.locator('.part.sidebar, .part.auxiliarybar, .part.panel')
      .filter({ has: this.page.locator('.composite.title .title-label h2').getByText(name, { exact: true }) }).first();
  }

  /** The view's pane when a view has that name, else the container with that title. */
  private async viewScope(name: string): Promise<Locator> {
    const pane = this.viewPane(name);
    return (await pane.count()) > 0 ? pane : this.viewContainer(name);
  }

  /** Visible text of a view's body: e.g. its welcome content when the tree is empty. */
  async readViewText(view: string): Promise<string> {
    const scope = await this.viewScope(view);
    const body = scope.locator('.pane-body');
    const text = (await body.count()) ? await body.first().innerText() : await scope.innerText();
    return text.replace(/\u00a0/g, ' ').trim();
  }

  /**
   * Rows of the tree in a view (by view name, or a view container's title; default: everything in
   * the side bar), read in one go. Only rendered rows: a long tree is virtualised.
   */
  async readTreeRows(view?: string): Promise<TreeRow[]> {
    const scope = view ? await this.viewScope(view) : this.page.locator('.part.sidebar');
    const raw = await scope.locator('.monaco-list-row').evaluateAll((rows: DomElement[]) => rows.map(r => ({
      text: r.innerText,
      label: r.querySelector('.monaco-icon-label-container .label-name')?.innerText ?? null,
      description: r.querySelector('.monaco-icon-label-container .label-description')?.innerText ?? '',
      ariaLabel: r.getAttribute('aria-label') ?? '',
      level: Number(r.getAttribute('aria-level') ?? '1'),
      expanded: r.getAttribute('aria-expanded'),
      selected: r.getAttribute('aria-selected') === 'true',
    })));
    const clean = (t: string) => t.replace(/\u00a0/g, ' ').replace(/\s*\n\s*/g, ' ').trim();
    return raw.map(r => {
      const label = clean(r.label ?? r.text);
      const description = r.label === null ? '' : clean(r.description);
      return {
        text: description ? `${label} ${description}` : label,
        label,
        description,
        ariaLabel: r.ariaLabel,
        level: r.level,
        expanded: r.expanded === null ? undefined : r.expanded === 'true',
        selected: r.selected,
      };
    });
  }

  /** Waits until the tree rows satisfy `predicate` (default: at least one row). */
  async waitForTreeRows(view: string | undefined, predicate: (rows: TreeRow[]) => boolean = r => r.length > 0, timeoutMs = 60_000): Promise<TreeRow[]> {
    return this.poll(() => this.readTreeRows(view), predicate, timeoutMs, `tree rows in ${view ?? 'side bar'}`);
  }

  /** Moves the cursor to a 1-based line/column in the active editor (Ctrl+G). */
  async goToLine(line: number, column = 1): Promise<void> {
    await this.activeEditor().click({ position: { x: 5, y: 5 } }).catch(() => undefined);
    await this.page.keyboard.press('Control+G');
    const input = this.quickInput.locator('input');
    await input.waitFor({ state: 'visible' });
    await input.fill(`:${line}:${column}`);
    await this.page.keyboard.press('Enter');
    await input.waitFor({ state: 'hidden' });
  }

  /**
   * Shows the hover at a 1-based line/column of the active editor (cursor there, then the
   * "Show or Focus Hover" keybinding Ctrl+K Ctrl+I) and returns the hover widget's text.
   */
  async hover(line: number, column: number, timeoutMs = 30_000): Promise<string> {
    const widget = this.page.locator('.editor-group-container.active .monaco-editor .monaco-hover:not(.hidden) .monaco-hover-content');
    const deadline = Date.now() + timeoutMs;
    let lastError: unknown;
    // The hover provider may not be registered yet (extension still activating): retry.
    while (Date.now() < deadline) {
      await this.goToLine(line, column);
      await this.page.keyboard.press('Control+K');
      await this.page.keyboard.press('Control+I');
      try {
        await widget.first().waitFor({ state: 'visible', timeout: Math.min(5_000, Math.max(1, deadline - Date.now())) });
        const text = (await widget.first().innerText()).replace(/\u00a0/g, ' ').trim();
        if (text && !/^Loading\.\.\.$/.test(text)) return text;
      } catch (err) {
        lastError = err;
      }
      await this.page.keyboard.press('Escape');
    }
    throw new Error(`no hover at ${line}:${column} within ${timeoutMs} ms${lastError ? ` (${String(lastError).split('\n')[0]})` : ''}`);
  }

  /** Runs a command by its title through the command palette (F1), e.g. "View: Toggle Word Wrap". */
  async runCommand(title: string): Promise<void> {
    await this.focusWorkbench();
    await this.page.keyboard.press('F1');
    const input = this.quickInput.locator('input');
    await input.waitFor({ state: 'visible' });
    await input.fill(`>${title}`);
    const want = title.toLowerCase();
    // Palette rows are labelled "<Category>: <Title>[, <keybinding>...]"; prefer an exact title
    // ("View: Close All Editors" over "View: Close All Editors in Group").
    await this.pickQuickInputRow(l => {
      const label = l.toLowerCase();
      if (label === want || label.startsWith(`${want},`)) return 4;
      if (label.endsWith(`: ${want}`) || label.includes(`: ${want},`)) return 3;
      if (label.startsWith(want) || label.includes(`: ${want}`)) return 1;
      return 0;
    }, `command "${title}"`);
    // The palette closes, or turns into the command's own quick pick (input no longer "><text>").
    // Wait for that, so a following fill() cannot land in the palette.
    await this.poll(async () => {
      if (!(await this.quickInput.isVisible().catch(() => false))) return true;
      return !(await input.inputValue().catch(() => '')).startsWith('>');
    }, done => done, 15_000, `command "${title}" to start`);
  }

  /**
   * runCommand for a command that appears in the palette only once the window has settled
   * something (Build Image: the workspace's trust, settled a while after the extension's first
   * lens on a cold run). Tries again every 2 s until `timeoutMs`, then fails as runCommand does.
   */
  async runCommandWhenListed(title: string, timeoutMs = 60_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      try {
        await this.runCommand(title);
        return;
      } catch (e) {
        if (!/no quick-input entry/.test(String(e)) || Date.now() > deadline) throw e;
        await this.page.keyboard.press('Escape');
        await new Promise((r) => setTimeout(r, 2000));
      }
    }
  }

  /**
   * Shows an output channel (Output: Show Output Channels...) and returns its visible text.
   * Retries until the channel exists and shows text (the extension may still be activating).
   */
  async readOutputChannel(name: string, timeoutMs = 30_000): Promise<string> {
    const deadline = Date.now() + timeoutMs;
    const lines = this.page.locator('.part.panel .output-view .monaco-editor .view-lines');
    for (;;) {
      try {
        await this.runCommand('Output: Show Output Channels...');
        await this.quickInputRows();
        await this.quickInput.locator('input').fill(name);
        await this.pickQuickInputRow(l => (l === name ? 2 : l.startsWith(`${name},`) || l.startsWith(`${name} `)),
          `output channel "${name}"`, 5_000);
        await lines.waitFor({ timeout: 5_000 });
        return await this.poll(async () => (await lines.innerText()).replace(/\u00a0/g, ' '), t => t.trim().length > 0,
          Math.max(1_000, deadline - Date.now()), `output channel "${name}"`);
      } catch (err) {
        if (Date.now() > deadline) throw err;
        await this.page.keyboard.press('Escape');
        await sleep(500);
      }
    }
  }

  /** Saves a PNG of the page to .e2e/screenshots/<name>.png and returns its path. */
  async screenshot(name: string): Promise<string> {
    fs.mkdirSync(SCREENSHOT_DIR, { recursive: true });
    const file = path.join(SCREENSHOT_DIR, `${name.replace(/[^\w.-]+/g, '-')}.png`);
    await this.page.screenshot({ path: file });
    return file;
  }

  /** Closes notifications and any open quick input, so keyboard shortcuts reach the workbench. */
  async focusWorkbench(): Promise<void> {
    if (await this.quickInput.isVisible().catch(() => false)) await this.page.keyboard.press('Escape');
  }

  /** Polls `read` until `predicate` holds; throws with the last value on timeout. */
  async poll<T>(read: () => Promise<T>, predicate: (value: T) => boolean, timeoutMs: number, what: string): Promise<T> {
    const deadline = Date.now() + timeoutMs;
    let last: T | undefined;
    for (;;) {
      last = await read();
      if (predicate(last)) return last;
      if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}; last: ${JSON.stringify(last)}`);
      await sleep(250);
    }
  }
}

// ---------------------------------------------------------------------------------------------
// Session shared by UI test files (set by test/e2e/main.ts)

export interface Session { server: CodeServer; browser: Browser }
let currentSession: Session | undefined;

export function setSession(s: Session | undefined): void { currentSession = s; }

export function session(): Session {
  if (!currentSession) throw new Error('no e2e session: UI tests run through `npm run test:e2e` (out/test/e2e/main.js)');
  return currentSession;
}

/** Opens a workbench page in the current session (fresh browser context). */
export function openWorkbench(options?: OpenWorkbenchOptions): Promise<Workbench> {
  const s = session();
  return Workbench.open(s.browser, s.server, options);
}
