// The editor benchmark (`npm run bench` runs it with the other bench/bench-*.ts): Layer Lens in a
// real VS Code — code-server driven by playwright-core and Debian's Chromium, through the
// end-to-end harness (test/e2e/harness.ts) — on the image index benchmark's `docker save` file
// (bench/bench-index.ts: 1.2M tar entries, 100k directories under app/node_modules). A workspace
// holds a Dockerfile that `.vscode/settings.json` maps to that file (`layerLens.imageForDockerfile`).
// With the Layers view open, it opens the Dockerfile and measures:
//
//   1. the time until the Merged Filesystem view shows its first rows (from the Enter that opens it
//      in quick open),
//      against the CLI's `analyze --json` of the same file (a whole process, cache off);
//   2. the extension host process's peak RSS growth, worker threads included (VmRSS sampled every
//      50 ms and VmHWM, reset before the Dockerfile opens), against its RSS before that; and the
//      peak RSS of the analysis process the extension starts for the analysis (as it reports it in
//      the extension's "analyzed" line, and its VmHWM sampled every 50 ms), with the sum of both;
//   3. the longest stretch of Layer Lens' work on the extension host's thread between two yields
//      while it analyzes (the extension's own count, from its "analyzed …" line in the Layer Lens
//      output), against the longest stall an idle Node process (bench/stalls.js) saw meanwhile; and
//      every stall of that thread over 30 ms, whoever caused it (the extension logs them with
//      LAYERLENS_DEBUG, which the bench sets), from the open until the views settled and while
//      expanding, with the longest one the idle process did not share;
//   4. expanding app/node_modules (100k children) until its first child row shows, against
//      expanding app (one child) the same way.
//
//   node out/bench/bench-editor.js [--dirs N] [--files-per-dir N | --files N] [--dir DIR] [--json FILE]
//
// --files N: about N files in all (N / files-per-dir directories), for a quick run. The archive is
// written once to --dir (default $TMPDIR/layerlens-bench) and reused. Needs a build (dist/, out/),
// code-server in .cache/code-server (scripts/install-code-server.sh) and /usr/bin/chromium: when one
// is missing it exits 1 saying so. One run: the workbench's own start costs minutes on 2 busy cores.
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync, mkdirSync, statSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { CHROMIUM, CODE_SERVER_VERSION, CodeServer, Workbench, defaultCodeServerEntry, launchBrowser, pruneDeadRuns } from '../test/e2e/harness';
import { repoRoot } from '../test/support/repo';
import { DEFAULT_BENCH_DIR, ensureArchive, rssHook, run } from './bench-index';
import { findExtensionHost, listProcs, msSinceFromTimeOfDay, parseAnalyzedLines, parseBlockedLines, parseProcStatus, resetPeakRss, sampleChildren, sampleMemory, type AnalyzedLine } from './editorProbe';
import { unshared, type Stall } from './stalls';

interface Options { dirs: number; perDir: number; dir: string; json?: string }

function parseArgs(argv: string[]): Options {
  const o: Options = { dirs: 100_000, perDir: 10, dir: DEFAULT_BENCH_DIR };
  let files: number | undefined;
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    const val = (): string => { const v = argv[++i]; if (v === undefined) throw new Error(`${a} needs a value`); return v; };
    const count = (): number => { const n = Number(val()); if (!Number.isInteger(n) || n < 1) throw new Error(`${a} needs a whole number ≥ 1`); return n; };
    if (a === '--dirs') o.dirs = count();
    else if (a === '--files-per-dir') o.perDir = count();
    else if (a === '--files') files = count();
    else if (a === '--dir') o.dir = path.resolve(val());
    else if (a === '--json') o.json = val();
    else throw new Error(`unknown argument ${a}`);
  }
  if (files !== undefined) o.dirs = Math.max(1, Math.ceil(files / o.perDir));
  return o;
}

const TARGETS = { firstRowsS: 10, rssGrowthMB: 150, blockMs: 50, expandMs: 200 };

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** The CLI's `analyze --json` of the file, cache off: wall seconds and the process's peak RSS. */
async function cliAnalyze(cli: string, file: string, dir: string): Promise<{ seconds: number; peakRssMiB: number }> {
  const r = await run([cli, 'analyze', '--json', file], rssHook(dir, 'editor-rss-hook.js'), path.join(dir, 'editor-rss.json'), { LAYERLENS_CACHE: 'off' });
  return { seconds: r.seconds, peakRssMiB: r.rssMiB };
}

/** An idle Node process recording its own event-loop stalls (bench/stalls.js) until stop(). */
function idleReference(stallsJs: string): { stop(): Promise<Stall[]> } {
  const c: ChildProcess = spawn(process.execPath, [stallsJs, '10'], { stdio: ['pipe', 'pipe', 'inherit'] });
  let out = '';
  let stopping = false;
  c.stdout!.on('data', (b: Buffer) => { out += b.toString(); });
  const closed = new Promise<Stall[]>((resolve, reject) => {
    c.on('error', reject);
    c.on('close', (code, signal) => {
      if (!stopping) return reject(new Error(`the idle reference process (bench/stalls.js) ended early: code ${code}, signal ${signal}`));
      try { resolve(JSON.parse(out) as Stall[]); } catch (e) { reject(e as Error); }
    });
  });
  closed.catch(() => undefined); // reported by stop()
  return {
    stop: () => { stopping = true; c.stdin!.end(); return closed; },
  };
}

async function waitFor<T>(read: () => T | undefined, timeoutMs: number, what: string, everyMs = 100): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = read();
    if (v !== undefined) return v;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await sleep(everyMs);
  }
}

const rssKiB = (pid: number): number => parseProcStatus(readFileSync(`/proc/${pid}/status`, 'utf8')).rssKiB ?? 0;

/** A row of a view's pane whose aria-label ("label, description") starts with `label` + ','. */
const rowOf = (wb: Workbench, view: string, label: string) =>
  wb.viewPane(view).locator(`.monaco-list-row[aria-label^="${label},"]`).first();

/**
 * Expands the collapsed row `label` of a view with the keyboard (focus on it, then ArrowRight) and
 * returns the milliseconds from the key press until a row one level deeper shows.
 */
async function timeExpand(wb: Workbench, view: string, label: string, timeoutMs: number): Promise<number> {
  const row = rowOf(wb, view, label);
  await row.waitFor({ timeout: timeoutMs });
  if ((await row.getAttribute('aria-expanded')) !== 'false') throw new Error(`row ${label} of ${view} is not a collapsed directory (aria-expanded=${await row.getAttribute('aria-expanded')})`);
  const level = Number(await row.getAttribute('aria-level'));
  // Focus and select the row without expanding it (the bench's settings expand on double click).
  await row.locator('.monaco-icon-label').click();
  await wb.poll(async () => (await row.getAttribute('class')) ?? '', (c) => c.split(/\s+/).includes('focused'), 10_000, `row ${label} focused`);
  if ((await row.getAttribute('aria-expanded')) !== 'false') throw new Error(`focusing ${label} expanded it; cannot time its expansion`);
  const child = wb.viewPane(view).locator(`.monaco-list-row[aria-level="${level + 1}"]`).first();
  const t0 = performance.now();
  await wb.page.keyboard.press('ArrowRight');
  await child.waitFor({ timeout: timeoutMs });
  return performance.now() - t0;
}

async function main(): Promise<void> {
  const o = parseArgs(process.argv.slice(2));
  const root = repoRoot();
  const cli = path.join(root, 'dist', 'cli.js');
  const stallsJs = path.join(root, 'out', 'bench', 'stalls.js');
  for (const f of [cli, path.join(root, 'dist', 'extension.js'), path.join(root, 'dist', 'worker.js'), stallsJs]) {
    if (!existsSync(f)) throw new Error(`${f} is missing: run node scripts/build.mjs`);
  }
  // Loudly, before the minutes of archive writing: the editor is needed.
  if (!existsSync(defaultCodeServerEntry())) throw new Error(`code-server not found at ${defaultCodeServerEntry()}: run scripts/install-code-server.sh (the editor benchmark did NOT run)`);
  if (!existsSync(CHROMIUM)) throw new Error(`Chromium not found at ${CHROMIUM}: apt-get install chromium, or set LAYERLENS_CHROMIUM (the editor benchmark did NOT run)`);

  const { file, entries } = ensureArchive(o);
  mkdirSync(o.dir, { recursive: true });
  const load0 = os.loadavg();

  process.stderr.write('bench-editor: baseline, the CLI\'s analyze --json (cache off)…\n');
  const baseline = await cliAnalyze(cli, file, o.dir);

  const workspace = mkdtempSync(path.join(os.tmpdir(), 'layerlens-bench-editor-'));
  writeFileSync(path.join(workspace, 'Dockerfile'), 'FROM scratch\nCOPY node_modules /app/node_modules\nRUN npm rebuild && npm prune\n');
  mkdirSync(path.join(workspace, '.vscode'));
  writeFileSync(path.join(workspace, '.vscode/settings.json'), JSON.stringify({ 'layerLens.imageForDockerfile': { Dockerfile: `docker-archive:${file}` } }, null, 2));

  pruneDeadRuns();
  process.stderr.write('bench-editor: starting code-server and Chromium…\n');
  const server = await CodeServer.start({ env: { LAYERLENS_DEBUG: '1' }, settings: { 'workbench.tree.expandMode': 'doubleClick' }, startTimeoutMs: 120_000 });
  let browser: Awaited<ReturnType<typeof launchBrowser>> | undefined;
  let wb: Workbench | undefined;
  try {
    browser = await launchBrowser();
    wb = await Workbench.open(browser, server, { folder: workspace, viewport: { width: 1400, height: 1000 }, timeoutMs: 180_000 });
    await wb.page.locator('.activitybar .action-item a[aria-label^="Layers"]').first().waitFor({ timeout: 180_000 });
    await wb.openView('Layers');
    await wb.viewPane('Merged Filesystem').waitFor({ timeout: 60_000 });
    // Quick open's first search costs seconds: have it done before the timed open.
    await wb.page.keyboard.press('Control+P');
    const qi = wb.page.locator('.quick-input-widget');
    await qi.locator('input').fill('Dockerfile');
    await qi.locator('.quick-input-list .monaco-list-row[aria-label*="Dockerfile"]').first().waitFor({ timeout: 60_000 });
    await wb.page.keyboard.press('Escape');

    const host = await waitFor(() => findExtensionHost(listProcs(), server.pid), 60_000, 'the extension host process');
    await sleep(3000); // let activation and the workbench's start settle
    const before: number[] = [];
    for (let i = 0; i < 20; i++) { before.push(rssKiB(host)); await sleep(50); }
    before.sort((a, b) => a - b);
    const rssBeforeKiB = before[before.length >> 1];
    const peakReset = resetPeakRss(host);
    const mem = sampleMemory(host, 50);
    const children = sampleChildren(host, /analyzer(Process)?\.js/, 50);
    const idle = idleReference(stallsJs);
    const logText = (): string => server.findLogFiles(/Layer Lens\.log$/).map((f) => readFileSync(f, 'utf8')).join('\n');
    const analyzedBefore = parseAnalyzedLines(logText()).length;

    process.stderr.write(`bench-editor: extension host ${host}, ${(rssBeforeKiB / 1024).toFixed(0)} MiB; opening the Dockerfile…\n`);
    // Quick open with the Dockerfile's row shown; the clock starts at the Enter that opens it.
    await wb.page.keyboard.press('Control+P');
    await qi.locator('input').fill('Dockerfile');
    await qi.locator('.quick-input-list .monaco-list-row[aria-label^="Dockerfile"]').first().waitFor({ timeout: 60_000 });
    const t0 = performance.now();
    const t0Wall = Date.now();
    const since = (): number => performance.now() - t0;
    await wb.page.keyboard.press('Enter');
    // Both panes at once: the merged filesystem's first row, and the Layers view's L1 row.
    const layersPane = wb.page.locator('.part.sidebar .pane')
      .filter({ has: wb.page.locator('.pane-header .title', { hasText: /^Layers$/i }) }).first();
    const layersRow = layersPane.locator('.monaco-list-row[aria-label^="L1 "]').first()
      .waitFor({ timeout: 300_000 }).then(since);
    layersRow.catch(() => undefined); // awaited below
    await wb.activeTab('Dockerfile').waitFor({ timeout: 120_000 });
    const tabMs = since();
    await wb.viewPane('Merged Filesystem').locator('.monaco-list-row').first().waitFor({ timeout: 900_000 });
    const firstRowsMs = since();
    process.stderr.write(`bench-editor: first rows after ${(firstRowsMs / 1000).toFixed(2)} s\n`);
    const layersRowsMs = await layersRow;
    const analyzed: AnalyzedLine = await waitFor(() => parseAnalyzedLines(logText())[analyzedBefore], 900_000, 'the extension\'s "analyzed" line in the Layer Lens output', 200);
    // When the extension's analysis ended and began, from its log line's time stamp.
    const analysisEndS = analyzed.atMsOfDay === undefined ? undefined : msSinceFromTimeOfDay(t0Wall, analyzed.atMsOfDay) / 1000;
    await sleep(2000); // what follows the analysis (views, lenses) before the peak is read
    const openEndWall = Date.now();
    const memOpen = mem.stop();
    const analyzers = children.stop();
    const peakOpenKiB = Math.max(memOpen.maxRssKiB, peakReset ? memOpen.hwmKiB : 0);

    process.stderr.write('bench-editor: expanding app, then app/node_modules…\n');
    const files = 'Merged Filesystem';
    const memExpand = sampleMemory(host, 50);
    const expandStartWall = Date.now();
    const expandSmallMs = await timeExpand(wb, files, 'app', 60_000);
    const expandBigMs = await timeExpand(wb, files, 'node_modules', 120_000);
    await sleep(1000);
    const expandEndWall = Date.now();
    const memAfter = memExpand.stop();
    const peakAllKiB = Math.max(peakOpenKiB, memAfter.maxRssKiB, peakReset ? memAfter.hwmKiB : 0);
    const rowsAfter = await wb.viewPane(files).locator('.monaco-list-row').count();
    await wb.screenshot('bench-editor');
    const machineStalls = await idle.stop();
    await sleep(500); // the last stall lines reach the log
    // The extension host thread's stalls (LAYERLENS_DEBUG lines), as [start, ms] on the wall clock.
    const hostStalls: Stall[] = parseBlockedLines(logText()).map(([end, ms]) => [t0Wall + msSinceFromTimeOfDay(t0Wall, end) - ms, ms]);
    const inWindow = (xs: Stall[], from: number, to: number): Stall[] => xs.filter(([st, ms]) => st + ms > from && st < to);
    const longest = (xs: Stall[]): number => xs.reduce((m, [, d]) => Math.max(m, d), 0);
    const threadIn = (from: number, to: number) => {
      const own = inWindow(hostStalls, from, to);
      const machine = inWindow(machineStalls, from, to);
      return {
        longestStallMs: longest(own), stallsOver50Ms: own.filter(([, d]) => d > 50).length,
        longestUnsharedStallMs: longest(unshared(own, machine)), idleProcessLongestStallMs: longest(machine),
      };
    };
    const threadOpen = threadIn(t0Wall, openEndWall);
    const threadExpand = threadIn(expandStartWall, expandEndWall);

    const mib = (k: number): number => k / 1024;
    const mb = (k: number): number => (k * 1024) / 1e6;
    const report = {
      schemaVersion: 1,
      date: new Date().toISOString().slice(0, 10),
      machine: `${os.cpus().length} cores, ${(os.totalmem() / 2 ** 30).toFixed(0)} GiB, Node ${process.version}, ${os.platform()}`,
      loadAverage: { atStart: load0.map((x) => +x.toFixed(2)), atEnd: os.loadavg().map((x) => +x.toFixed(2)) },
      archive: { file, layerEntries: entries, bytes: statSync(file).size, nodeModulesChildren: o.dirs },
      baseline: { cliAnalyzeSeconds: baseline.seconds, cliAnalyzePeakRssMiB: baseline.peakRssMiB },
      firstRows: {
        seconds: firstRowsMs / 1000, targetSeconds: TARGETS.firstRowsS, ratioToCliAnalyze: firstRowsMs / 1000 / baseline.seconds,
        editorTabSeconds: tabMs / 1000, layersViewRowsSeconds: layersRowsMs / 1000,
        analysisStartSeconds: analysisEndS === undefined ? null : analysisEndS - analyzed.totalMs / 1000, analysisEndSeconds: analysisEndS ?? null,
        extensionAnalysisMs: analyzed.totalMs, workerMs: analyzed.workerMs,
      },
      memory: {
        rssBeforeMiB: mib(rssBeforeKiB), peakMiB: mib(peakOpenKiB), growthMB: mb(peakOpenKiB - rssBeforeKiB), targetGrowthMB: TARGETS.rssGrowthMB,
        ratioPeakToBefore: peakOpenKiB / rssBeforeKiB, peakWithExpansionMiB: mib(peakAllKiB), samples: memOpen.samples, peakResetByKernel: peakReset,
        // The analysis process: its own report (null: the worker thread analysed), and what sampling saw.
        analyzerProcessPeakMiB: analyzed.analyzerPeakMiB ?? null,
        analyzerProcessSampledPeakMiB: analyzers.length > 0 ? mib(Math.max(...analyzers.map((a) => a.hwmKiB))) : null,
        analyzerProcessesSeen: analyzers.length,
        growthPlusAnalyzerMB: mb(peakOpenKiB - rssBeforeKiB) + (analyzed.analyzerPeakMiB ?? 0) * 1.048576,
      },
      thread: {
        targetMs: TARGETS.blockMs,
        longestSliceMs: analyzed.longestSliceMs, workOnThreadMs: analyzed.threadMs,
        ratioSliceToIdleStall: threadOpen.idleProcessLongestStallMs > 0 ? analyzed.longestSliceMs / threadOpen.idleProcessLongestStallMs : null,
        open: threadOpen, expand: threadExpand,
      },
      expand: { nodeModulesMs: expandBigMs, targetMs: TARGETS.expandMs, oneChildDirMs: expandSmallMs, ratioToOneChildDir: expandBigMs / expandSmallMs, rowsShownAfter: rowsAfter },
    };
    const f2 = (x: number): string => x.toFixed(2);
    const line = (t: string): void => { process.stdout.write(t + '\n'); };
    const idleMs = threadOpen.idleProcessLongestStallMs;
    line(`editor (code-server ${CODE_SERVER_VERSION}, Chromium): ${entries} layer entries (${(report.archive.bytes / 1e9).toFixed(2)} GB), node_modules with ${o.dirs} children; one run; ${report.date}, ${report.machine}, load average ${load0.map((x) => x.toFixed(1)).join(' ')} → ${os.loadavg().map((x) => x.toFixed(1)).join(' ')}`);
    line(`  baseline: CLI analyze --json (cache off)   ${f2(baseline.seconds).padStart(8)} s, peak RSS ${baseline.peakRssMiB.toFixed(0)} MiB`);
    line(`  1. first rows of Merged Filesystem        ${f2(firstRowsMs / 1000).padStart(8)} s  target ≤ ${TARGETS.firstRowsS} s   ${f2(report.firstRows.ratioToCliAnalyze)}× CLI analyze`);
    line(`     (editor tab ${f2(tabMs / 1000)} s; Layers view's L1 row ${f2(layersRowsMs / 1000)} s; the extension's analysis ${f2(analyzed.totalMs / 1000)} s${analysisEndS === undefined ? '' : `, from ${f2(analysisEndS - analyzed.totalMs / 1000)} to ${f2(analysisEndS)} s`}, its worker ${f2(analyzed.workerMs / 1000)} s)`);
    line(`  2. extension host peak RSS growth          ${report.memory.growthMB.toFixed(0).padStart(8)} MB target ≤ ${TARGETS.rssGrowthMB} MB  ${f2(report.memory.ratioPeakToBefore)}× its RSS before (${mib(rssBeforeKiB).toFixed(0)} → ${mib(peakOpenKiB).toFixed(0)} MiB; ${mib(peakAllKiB).toFixed(0)} MiB with the expansions)`);
    const am = report.memory;
    line(am.analyzerProcessPeakMiB === null
      ? `     (analysed in the worker thread: no analysis process)`
      : `     analysis process peak RSS ${am.analyzerProcessPeakMiB.toFixed(0)} MiB (sampled: ${am.analyzerProcessSampledPeakMiB === null ? 'not seen' : `${am.analyzerProcessSampledPeakMiB.toFixed(0)} MiB`}); host growth + it: ${am.growthPlusAnalyzerMB.toFixed(0)} MB`);
    line(`  3. longest Layer Lens slice on its thread  ${String(analyzed.longestSliceMs).padStart(8)} ms target ≤ ${TARGETS.blockMs} ms  ${report.thread.ratioSliceToIdleStall === null ? 'n/a' : f2(report.thread.ratioSliceToIdleStall)}× an idle process's longest stall (${idleMs.toFixed(0)} ms); ${analyzed.threadMs} ms of work on it`);
    line(`     the thread's longest stall, open to settled: ${threadOpen.longestStallMs} ms (${threadOpen.stallsOver50Ms} over 50 ms; longest the idle process did not share ${threadOpen.longestUnsharedStallMs} ms); while expanding: ${threadExpand.longestStallMs} ms (idle process ${threadExpand.idleProcessLongestStallMs.toFixed(0)} ms)`);
    line(`  4. expand node_modules (${o.dirs} children)   ${expandBigMs.toFixed(0).padStart(8)} ms target ≤ ${TARGETS.expandMs} ms  ${f2(report.expand.ratioToOneChildDir)}× expanding app (one child: ${expandSmallMs.toFixed(0)} ms)`);
    if (o.json) writeFileSync(o.json, JSON.stringify(report, null, 2) + '\n');
  } finally {
    await wb?.close();
    await browser?.close().catch(() => undefined);
    await server.stop();
    rmSync(workspace, { recursive: true, force: true });
  }
}

main().catch((e: unknown) => {
  // One line (a missing prerequisite, a bad argument); the stack with LAYERLENS_DEBUG.
  process.stderr.write(`bench-editor: ${process.env.LAYERLENS_DEBUG ? (e as Error).stack ?? e : (e as Error).message ?? e}\n`);
  process.exit(1);
});
