// UI: a multi-stage Dockerfile in a real VS Code. After Build Image, the stage the image does not
// contain has no sizes, and its FROM line offers "build stage to see sizes"; clicking that lens
// builds the stage as its own target (tag layerlens/<dir>:stage-build) and its lines then show the
// sizes the engine reports for that image; clicking one of them shows the stage image in the
// Layers view. The tags this test makes are removed at the end.
import * as assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { describe, it, before, after } from '../runner';
import { openWorkbench, type Workbench } from '../harness';

const DOCKER = process.env.LAYERLENS_DOCKER || '/usr/bin/docker';

describe('CodeLens on every stage of a multi-stage Dockerfile', () => {
  let wb: Workbench;
  let dir = '';
  let repo = '';
  before(async () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'llstages-'));
    repo = `layerlens/${path.basename(dir).toLowerCase()}`;
    // Distinct sizes: the build stage's RUN writes 5000 + 7000 bytes, the final stage copies 5000.
    fs.writeFileSync(path.join(dir, 'Dockerfile'), [
      'FROM layerlens-test/busybox:latest AS build',
      `RUN head -c 5000 /dev/zero > /a && head -c 7000 /dev/zero > /b && echo ${process.pid} > /pid`,
      '',
      'FROM layerlens-test/busybox:latest',
      'COPY --from=build /a /a',
      '',
    ].join('\n'));
    wb = await openWorkbench({ folder: dir });
  });
  after(async () => {
    await wb?.close();
    for (const tag of [`${repo}:dev`, `${repo}:stage-build`]) spawnSync(DOCKER, ['rmi', tag], { stdio: 'ignore' });
    if (dir) fs.rmSync(dir, { recursive: true, force: true });
  });

  it('a lens builds the earlier stage; its lines then show that stage image\'s sizes', async () => {
    await wb.openFile('Dockerfile');
    // A first lens: the extension is active. Build Image is enabled only in trusted workspaces and
    // the window settles trust a little later on a cold run: runCommandWhenListed waits for it.
    await wb.waitForCodeLenses();
    await wb.runCommandWhenListed('Layer Lens: Build Image');
    // Lenses of one line render as one decoration, separated by "|".
    const split = async (): Promise<string[]> => (await wb.readCodeLenses()).flatMap((x) => x.split('|').map((p) => p.trim()));
    let lenses = await wb.poll(split, (t) => t.includes('build stage to see sizes'), 180_000, 'the build-stage lens');
    assert.ok(lenses.some((x) => x.startsWith('5 kB')), `the final stage's COPY: ${JSON.stringify(lenses)}`);
    assert.ok(!lenses.some((x) => x.startsWith('12 kB')), `no size for the build stage yet: ${JSON.stringify(lenses)}`);
    await wb.screenshot('stage-images-before');

    await wb.page.locator('.editor-group-container.active .contentWidgets .codelens-decoration a', { hasText: 'build stage to see sizes' }).click();
    lenses = await wb.poll(split, (t) => t.some((x) => x.startsWith('12 kB')), 180_000, 'a 12 kB lens on the build stage\'s RUN');
    assert.ok(!lenses.includes('build stage to see sizes'), JSON.stringify(lenses));
    assert.equal(lenses.filter((x) => x.startsWith('base ')).length, 2, `both FROM lines have a base total: ${JSON.stringify(lenses)}`);
    // The engine's own figure for that layer of the stage image.
    const hist = spawnSync(DOCKER, ['history', '--no-trunc', '--format', '{{.Size}}\t{{.CreatedBy}}', `${repo}:stage-build`], { encoding: 'utf8' });
    assert.equal(hist.status, 0, hist.stderr);
    const runRow = hist.stdout.split('\n').find((l) => l.includes('head -c 5000'));
    assert.match(runRow ?? '', /^12(\.0)?kB\t/, `docker history of the stage image: ${hist.stdout}`);
    await wb.screenshot('stage-images-after');

    // Clicking the stage line's lens explains the stage image's layer: the Layers view shows that image.
    await wb.page.locator('.editor-group-container.active .contentWidgets .codelens-decoration a', { hasText: /^12 kB/ }).first().click();
    await wb.openView('Layers');
    const rows = await wb.waitForTreeRows('Layers', (r) => r.some((x) => /line 2/.test(x.text) && /RUN/.test(x.text)), 120_000);
    assert.ok(!rows.some((x) => /line 5/.test(x.text)), `the stage image, not the final one: ${rows.map((r) => r.text).join(' | ')}`);
    await wb.screenshot('stage-images-layers');
  }, 480_000);
});

describe('layerLens.build.stageImages = afterBuild', () => {
  let wb: Workbench;
  let dir = '';
  let repo = '';
  before(async () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'llstagesauto-'));
    repo = `layerlens/${path.basename(dir).toLowerCase()}`;
    fs.mkdirSync(path.join(dir, '.vscode'));
    fs.writeFileSync(path.join(dir, '.vscode', 'settings.json'), JSON.stringify({ 'layerLens.build.stageImages': 'afterBuild' }));
    fs.writeFileSync(path.join(dir, 'Dockerfile'), [
      'FROM layerlens-test/busybox:latest AS tools',
      `RUN head -c 3000 /dev/zero > /t && echo ${process.pid} > /pid`,
      '',
      'FROM layerlens-test/busybox:latest',
      'COPY --from=tools /pid /pid',
      '',
    ].join('\n'));
    wb = await openWorkbench({ folder: dir });
  });
  after(async () => {
    await wb?.close();
    for (const tag of [`${repo}:dev`, `${repo}:stage-tools`]) spawnSync(DOCKER, ['rmi', tag], { stdio: 'ignore' });
    if (dir) fs.rmSync(dir, { recursive: true, force: true });
  });

  it('Build Image also builds the other stage: its lines get sizes without asking', async () => {
    await wb.openFile('Dockerfile');
    // A first lens: the extension is active. Build Image is enabled only in trusted workspaces and
    // the window settles trust a little later on a cold run: runCommandWhenListed waits for it.
    await wb.waitForCodeLenses();
    await wb.runCommandWhenListed('Layer Lens: Build Image');
    const split = async (): Promise<string[]> => (await wb.readCodeLenses()).flatMap((x) => x.split('|').map((p) => p.trim()));
    // 3000 bytes of /t and the pid's few bytes in /pid.
    // The lenses settle stage by stage (each image mapped as its analysis ends): wait for the end state.
    const lenses = await wb.poll(split, (t) => t.some((x) => /^3(\.0\d)? kB/.test(x)) && !t.some((x) => x.includes('build stage to see sizes')), 240_000,
      'a 3 kB lens on the tools stage\'s RUN and no stage left to build');
    assert.ok(!lenses.some((x) => x.includes('build stage to see sizes')), JSON.stringify(lenses));
    const tagged = spawnSync(DOCKER, ['image', 'inspect', '--format', '{{.Id}}', `${repo}:stage-tools`], { encoding: 'utf8' });
    assert.equal(tagged.status, 0, `no ${repo}:stage-tools: ${tagged.stderr}`);
  }, 360_000);
});

describe('Build Image with an unnamed target stage (layerLens.build.target = #0)', () => {
  let wb: Workbench;
  let dir = '';
  let repo = '';
  before(async () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'llunnamed-'));
    repo = `layerlens/${path.basename(dir).toLowerCase()}`;
    fs.mkdirSync(path.join(dir, '.vscode'));
    fs.writeFileSync(path.join(dir, '.vscode', 'settings.json'), JSON.stringify({ 'layerLens.build.target': '#0' }));
    fs.writeFileSync(path.join(dir, 'Dockerfile'), [
      'FROM layerlens-test/busybox:latest',
      `RUN head -c 5000 /dev/zero > /a && head -c 7000 /dev/zero > /b && echo ${process.pid} > /pid`,
      '',
      'FROM layerlens-test/busybox:latest',
      'COPY --from=0 /a /a',
      '',
    ].join('\n'));
    wb = await openWorkbench({ folder: dir });
  });
  after(async () => {
    await wb?.close();
    spawnSync(DOCKER, ['rmi', `${repo}:stage-0`], { stdio: 'ignore' });
    if (dir) fs.rmSync(dir, { recursive: true, force: true });
  });

  it('builds stage 0 and maps the image with it: its RUN shows the engine\'s size, the last stage offers a stage image', async () => {
    await wb.openFile('Dockerfile');
    // A first lens: the extension is active. Build Image is enabled only in trusted workspaces and
    // the window settles trust a little later on a cold run: runCommandWhenListed waits for it.
    await wb.waitForCodeLenses();
    await wb.runCommandWhenListed('Layer Lens: Build Image');
    const split = async (): Promise<string[]> => (await wb.readCodeLenses()).flatMap((x) => x.split('|').map((p) => p.trim()));
    const lenses = await wb.poll(split, (t) => t.some((x) => x.startsWith('12 kB')) && t.some((x) => x.startsWith('base ')), 180_000, 'a 12 kB lens on stage 0\'s RUN and its FROM\'s base total');
    assert.ok(!lenses.some((x) => x.includes('no image built')), JSON.stringify(lenses));
    // The last stage is not in the image: its FROM offers to build it.
    assert.ok(lenses.includes('build stage to see sizes'), JSON.stringify(lenses));
    const hist = spawnSync(DOCKER, ['history', '--no-trunc', '--format', '{{.Size}}\t{{.CreatedBy}}', `${repo}:stage-0`], { encoding: 'utf8' });
    assert.equal(hist.status, 0, `no ${repo}:stage-0: ${hist.stderr}`);
    assert.match(hist.stdout.split('\n').find((l) => l.includes('head -c 5000')) ?? '', /^12(\.0)?kB\t/, hist.stdout);
    await wb.screenshot('unnamed-target');

    // The setting now says the last stage: that is the next build's target; the image is still stage 0's.
    fs.writeFileSync(path.join(dir, '.vscode', 'settings.json'), JSON.stringify({ 'layerLens.build.target': '' }));
    await new Promise((r) => setTimeout(r, 5000));
    const after = await split();
    assert.ok(after.some((x) => x.startsWith('12 kB')) && after.includes('build stage to see sizes'), `after the setting changed: ${JSON.stringify(after)}`);
  }, 360_000);
});
