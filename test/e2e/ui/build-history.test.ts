// UI: builds over time in the Layers sidebar. The workspace's image is built twice in a terminal
// (plain `docker build`, the legacy builder, `--build-arg NOTE=…`), never with Layer Lens; between
// the two builds one copied file is edited, one added and one deleted. A person:
//   - after the first build, runs Compare with Previous Build: one message says there is none;
//   - after the second, runs it again: the "Since Previous Build" view lists the COPY line with
//     its sizes, and under it the three paths added, removed and modified with their sizes;
//   - runs Show Build History: a bar per build, the builds with their build args read back from
//     the image's history;
//   - removes the first build's image and compares again: one message says it is gone.
import * as assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { after, before, describe, it } from '../runner';
import { openWorkbench, type Workbench } from '../harness';
import { BASE_IMAGE, ensureBaseImage, imageId, run, DOCKER } from '../../support/engine';

describe('Compare with Previous Build and Show Build History', () => {
  let wb: Workbench;
  let workspace: string;
  const token = randomBytes(8).toString('hex');
  const tag = `layerlens-test/history-${token}:dev`;
  const ids: string[] = [];
  const dockerfile = [
    `FROM ${BASE_IMAGE}`,
    'ARG NOTE=default',
    `RUN echo ${token} $NOTE > /run-id`,
    'COPY app/ /app/',
    '',
  ].join('\n');

  async function terminalBuild(note: string): Promise<void> {
    const r = await run(DOCKER, ['build', '--network=host', '--build-arg', `NOTE=${note}`, '-t', tag, workspace], { env: { ...process.env, DOCKER_BUILDKIT: '0' }, timeoutMs: 300_000 });
    assert.equal(r.code, 0, r.stderr);
    ids.push(await imageId(tag));
  }

  const toast = (text: string) => wb.page.locator('.notifications-toasts .notification-toast', { hasText: text });

  before(async () => {
    await ensureBaseImage();
    workspace = fs.mkdtempSync(path.join(os.tmpdir(), 'layerlens-e2e-history-'));
    fs.mkdirSync(path.join(workspace, 'app'));
    fs.writeFileSync(path.join(workspace, 'Dockerfile'), dockerfile);
    fs.writeFileSync(path.join(workspace, 'app', 'main.txt'), 'v1\n');
    fs.writeFileSync(path.join(workspace, 'app', 'old.txt'), 'to be deleted\n');
    const past = new Date(Date.now() - 3600_000);
    for (const f of ['Dockerfile', 'app/main.txt', 'app/old.txt', 'app']) fs.utimesSync(path.join(workspace, f), past, past);
    await terminalBuild('first');
    wb = await openWorkbench({ folder: workspace, viewport: { width: 1400, height: 800 } });
  });

  after(async () => {
    await wb?.close();
    if (workspace) fs.rmSync(workspace, { recursive: true, force: true });
    for (const id of ids) await run(DOCKER, ['rmi', '-f', id]);
  });

  it('compares with the previous build by Dockerfile line, shows the history, and says when there is nothing to compare', async () => {
    await wb.page.locator('.activitybar .action-item a[aria-label^="Layers"]').first().waitFor({ timeout: 90_000 });
    await wb.openFile('Dockerfile');
    // The terminal build is seen and recorded: its lines say cached.
    await wb.waitForCodeLensesByLine((m) => /cached$/.test(m.get(4) ?? ''), 120_000, 'the first terminal build seen');

    await wb.runCommand('Layer Lens: Compare with Previous Build');
    await toast('no previous build of Dockerfile is recorded').first().waitFor({ timeout: 60_000 });
    assert.equal(await toast('no previous build').count(), 1, 'one message');
    await wb.focusWorkbench();

    // One file edited (3 → 11 bytes), one added, one deleted; built again in the terminal.
    fs.writeFileSync(path.join(workspace, 'app', 'main.txt'), 'v2 is here\n');
    fs.writeFileSync(path.join(workspace, 'app', 'new.txt'), 'brand new file\n');
    fs.rmSync(path.join(workspace, 'app', 'old.txt'));
    await terminalBuild('second');
    await wb.waitForCodeLensesByLine((m) => /since last build/.test(m.get(4) ?? ''), 120_000, 'the second terminal build seen');

    await wb.openFile('Dockerfile');
    await wb.runCommand('Layer Lens: Compare with Previous Build');
    const rows = await wb.waitForTreeRows('Since Previous Build', (r) => r.some((x) => x.label === '/app/new.txt'), 120_000);
    const text = rows.map((r) => `${r.level} ${r.text}`);
    // Three paths under app/, and /run-id (the RUN line wrote another NOTE): +9 B and +1 B.
    assert.match(rows[0].text, /vs previous build .*: \+10 B, 4 paths changed$/, text.join('\n'));
    const copy = rows.find((r) => r.label === '4: COPY app/ /app/');
    assert.ok(copy, text.join('\n'));
    // The layer's bytes: main.txt and old.txt (3 + 14 B), then main.txt and new.txt (11 + 15 B).
    assert.match(copy.description ?? '', /^17 B → 26 B \(\+9 B\) · 1 added, 1 removed, 1 modified$/);
    const byPath = new Map(rows.filter((r) => r.level === 2).map((r) => [r.label, r.description]));
    assert.equal(byPath.get('/app/new.txt'), 'added 15 B');
    assert.equal(byPath.get('/app/old.txt'), 'removed 14 B');
    assert.equal(byPath.get('/app/main.txt'), 'modified 3 B → 11 B');
    // The RUN line wrote another NOTE: its layer differs, and so does /run-id.
    const runRow = rows.find((r) => r.label?.startsWith('3: RUN echo'));
    assert.match(runRow?.description ?? '', /^23 B → 24 B \(\+1 B\) · 1 modified$/, text.join('\n'));
    assert.equal(byPath.get('/run-id'), 'modified 23 B → 24 B');
    await wb.screenshot('compare-previous-build');

    await wb.runCommand('Layer Lens: Show Build History');
    const frame = wb.page.frameLocator('iframe.webview.ready').frameLocator('#active-frame');
    await frame.locator('h1', { hasText: 'Build History' }).waitFor({ timeout: 60_000 });
    assert.equal(await frame.locator('svg rect.bar').count(), 2, 'a bar per build');
    assert.equal(await frame.locator('svg rect.bar.current').count(), 1);
    const builds = await frame.locator('table.builds tbody tr').allInnerTexts();
    assert.equal(builds.length, 2, builds.join('\n'));
    assert.match(builds[0], /NOTE=first/);
    assert.match(builds[1], /NOTE=second/);
    assert.match(builds[1], /seen through the engine/);
    await wb.screenshot('build-history');

    // The first build's image removed: nothing to compare with, one message says so.
    await run(DOCKER, ['rmi', '-f', ids[0]]);
    await wb.openFile('Dockerfile');
    await wb.runCommand('Layer Lens: Compare with Previous Build');
    await toast('is no longer in the engine').first().waitFor({ timeout: 60_000 });
  }, 600_000);
});
