// Copy-on-write explanations on in-memory images: the numbers (asserted against the image data,
// never typed in) and the rendered hovers and reports (golden markdown in test/unit/golden;
// regenerate with UPDATE_GOLDEN=1 and review the diff).
import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { analyze, type Analysis } from '../../../../src/core/image/analysis';
import {
  baseHoverMarkdown, configOnlyHoverMarkdown, contextPathFor, dockerignoreEntries, explainLayer, explainText,
  foldCleanupPlan, historyInstruction, hoverMarkdown, instructionsByLayer, renderHtml, reportBlocks, rmOnlyCommand,
  unknownImageHoverMarkdown, type InstructionRef,
} from '../../../../src/core/present/explain';
import { explainMarkdown } from '../../support/explainMarkdown';
import { parseDockerfile } from '../../../../src/core/dockerfile/dockerfile';
import { mapHistory } from '../../../../src/core/dockerfile/mapping';
import { formatBytes, mdEscape } from '../../../../src/core/present/format';
import { indexLayer } from '../../support/indexLayer';
import type { ImageData, LayerIndex } from '../../../../src/core/image/types';
import { makeTar, type TEntry } from '../../support/tars';
import { repoRoot } from '../../../support/repo';

const GOLDEN = path.join(repoRoot(), 'test/unit/golden');

function golden(name: string, actual: string): void {
  const file = path.join(GOLDEN, name);
  if (process.env.UPDATE_GOLDEN) {
    fs.mkdirSync(GOLDEN, { recursive: true });
    fs.writeFileSync(file, actual);
    return;
  }
  assert.ok(fs.existsSync(file), `golden file ${name} is missing: run with UPDATE_GOLDEN=1 and review it`);
  assert.equal(actual, fs.readFileSync(file, 'utf8'), `${name} differs from the golden file (UPDATE_GOLDEN=1 regenerates it)`);
}

interface Step { createdBy: string; entries?: TEntry[]; line?: number; endLine?: number; copy?: InstructionRef['copy'] }

/** An image from steps: a step with entries makes a layer, one without is a config-only entry. */
async function image(steps: Step[]): Promise<{ a: Analysis; instructionOf: (l: number) => InstructionRef | undefined }> {
  const layers: LayerIndex[] = [];
  const history: ImageData['history'] = [];
  const refs: Array<InstructionRef | undefined> = [];
  for (const [i, s] of steps.entries()) {
    const layerIndex = s.entries ? layers.length : null;
    if (s.entries) layers.push(await indexLayer([await makeTar(s.entries)], { hash: true }));
    history.push({ index: i, createdBy: s.createdBy, emptyLayer: !s.entries, layerIndex });
    if (s.entries) {
      const h = historyInstruction(history[i])!;
      refs.push(s.line !== undefined ? { ...h, origin: 'dockerfile', line: s.line, endLine: s.endLine ?? s.line, copy: s.copy ?? null } : undefined);
    }
  }
  const data: ImageData = {
    id: 'sha256:' + 'ab'.repeat(32), repoTags: ['explain:test'], config: { os: 'linux', architecture: 'amd64' },
    diffIds: layers.map((l) => l.diffId), layers, history, source: { kind: 'docker-archive', ref: 'mem' }, warnings: [],
  };
  return { a: analyze(data), instructionOf: (l) => refs[l] };
}

const dir = (name: string): TEntry => ({ name, type: 'directory' });
const BASE: Step = {
  createdBy: '/bin/sh -c #(nop) ADD file:0123456789abcdef in / ',
  entries: [dir('bin/'), { name: 'bin/busybox', size: 40_000, mode: 0o755 }, dir('etc/'), { name: 'etc/passwd', size: 300 }],
};

// --- big-file append ---------------------------------------------------------------------------

test('big-file append: the whole file is stored again, with the size delta from the data', async () => {
  const { a, instructionOf } = await image([
    BASE,
    { createdBy: 'RUN /bin/sh -c mkdir /data && head -c 2000000 /dev/urandom > /data/big.bin # buildkit', line: 2,
      entries: [dir('data/'), { name: 'data/big.bin', size: 2_000_000 }] },
    { createdBy: 'RUN /bin/sh -c echo appended >> /data/big.bin # buildkit', line: 3,
      entries: [dir('data/'), { name: 'data/big.bin', size: 2_000_009 }] },
  ]);
  const opts = { instructionOf, bigFileThreshold: 1_000_000 };
  const x = explainLayer(a, 2, opts);
  const stats = a.tree.layers[2];
  assert.equal(x.copyUps.length, 1);
  assert.equal(x.copyUpBytes, stats.modifiedBytes);
  assert.deepEqual(x.bigWrites.map((b) => [b.path, b.bytes, b.lowerBytes, b.lowerLayer]), [['/data/big.bin', 2_000_009, 2_000_000, 1]]);
  assert.equal(x.overwrittenBelow[0].bytes, a.tree.layers[1].hiddenBytes, 'the lower copy is what layer 1 ships hidden');
  const hover = hoverMarkdown(x, { explainCommand: 'layerLens.explainLayer' });
  assert.match(hover, /`\/data\/big\.bin`/);
  assert.ok(hover.includes(`all ${formatBytes(2_000_009)} were stored again`), hover);
  assert.ok(hover.includes('+9 B'), hover);
  assert.match(hover, /\[Explain this layer\]\(command:layerLens\.explainLayer\?%5B2%5D\)/);
  golden('hover-big-file-append.md', hover);
  golden('explain-big-file-append.md', explainMarkdown(a, 2, { ...opts, dockerfile: 'Dockerfile' }));
  // Below the threshold the file is not called a big file, but the copy-up is still explained.
  const small = explainLayer(a, 2, { instructionOf, bigFileThreshold: 5_000_000 });
  assert.equal(small.bigWrites.length, 0);
  assert.match(hoverMarkdown(small), /Copy\\-up:/);
});

// --- chmod -R ----------------------------------------------------------------------------------

test('chmod -R: metadata-only changes re-ship every file in full', async () => {
  const files = [['opt/app/lib.so', 4_500_000], ['opt/app/data.bin', 1_500_000], ['opt/app/run.sh', 500_000]] as const;
  const { a, instructionOf } = await image([
    BASE,
    { createdBy: 'COPY app/ /opt/app/ # buildkit', line: 2, copy: { sources: ['app/'], dest: '/opt/app/', from: null },
      entries: [dir('opt/'), dir('opt/app/'), ...files.map(([name, size]) => ({ name, size, mode: 0o644 }))] },
    { createdBy: 'RUN /bin/sh -c chmod -R 0755 /opt/app # buildkit', line: 3,
      entries: [dir('opt/'), { name: 'opt/app/', type: 'directory', mode: 0o755 }, ...files.map(([name, size]) => ({ name, size, mode: 0o755 }))] },
  ]);
  const x = explainLayer(a, 2, { instructionOf });
  const total = files.reduce((s, [, n]) => s + n, 0);
  assert.equal(x.metadataOnlyCount, files.length);
  assert.equal(x.metadataOnlyBytes, total);
  assert.equal(x.copyUpBytes, a.tree.layers[2].modifiedBytes);
  assert.equal(a.tree.layers[1].hiddenBytes, total, 'the COPY layer still ships every byte, hidden');
  const chmod = x.suggestions.find((s) => s.id === 'fold-chmod');
  assert.ok(chmod && chmod.layer === 1 && chmod.bytes === total, JSON.stringify(x.suggestions));
  assert.match(chmod.text, /COPY --chmod/);
  const hover = hoverMarkdown(x);
  assert.ok(hover.includes(mdEscape(`${formatBytes(total)} re-shipped`)), hover);
  golden('hover-chmod-r.md', hover);
  golden('explain-chmod-r.md', explainMarkdown(a, 2, { instructionOf, dockerfile: 'Dockerfile' }));
  // The COPY layer's own view: what hides it later.
  const copy = explainLayer(a, 1, { instructionOf });
  assert.deepEqual(copy.hiddenLater.map((h) => [h.byLayer, h.how, h.bytes]), [[2, 'overwritten', total]]);
  golden('hover-chmod-r-copy.md', hoverMarkdown(copy));
});

// --- later delete --------------------------------------------------------------------------------

test('later delete: the deleting layer names the layer that still ships the bytes and suggests folding', async () => {
  const { a, instructionOf } = await image([
    BASE,
    { createdBy: 'RUN /bin/sh -c mkdir -p /build && head -c 3000000 /dev/urandom > /build/sdk.tar && echo x > /build/notes.txt # buildkit', line: 2,
      entries: [dir('build/'), { name: 'build/sdk.tar', size: 3_000_000 }, { name: 'build/notes.txt', size: 2 }] },
    { createdBy: 'ENV STAGE=cleanup' },
    { createdBy: 'RUN /bin/sh -c rm -rf /build # buildkit', line: 4, entries: [{ name: '.wh.build' }] },
  ]);
  const x = explainLayer(a, 2, { instructionOf });
  assert.equal(x.deleted.bytes, a.tree.layers[2].deletedBytes);
  assert.deepEqual(x.deletedShipped.map((d) => [d.layer, d.bytes, d.files]), [[1, 3_000_002, 2]]);
  assert.equal(x.deletedShipped[0].bytes, a.tree.layers[1].hiddenBytes);
  const fold = x.suggestions.find((s) => s.id === 'fold-cleanup');
  assert.ok(fold && fold.layer === 1 && fold.bytes === 3_000_002, JSON.stringify(x.suggestions));
  const hover = hoverMarkdown(x);
  assert.ok(hover.includes(`${formatBytes(3_000_002)} still ship in layer 1, line 2`), hover);
  golden('hover-later-delete.md', hover);
  golden('explain-later-delete.md', explainMarkdown(a, 2, { instructionOf, dockerfile: 'Dockerfile' }));
  // The creating layer: hidden later by the rm, with the same suggestion from its side.
  const creator = explainLayer(a, 1, { instructionOf });
  assert.deepEqual(creator.hiddenLater.map((h) => [h.byLayer, h.how, h.bytes]), [[2, 'deleted', 3_000_002]]);
  assert.ok(creator.suggestions.some((s) => s.id === 'fold-cleanup' && s.layer === 2));
  golden('hover-later-delete-creator.md', hoverMarkdown(creator));
});

// --- apt install without cleanup -------------------------------------------------------------------

const APT_LISTS = 'var/lib/apt/lists/deb.debian.org_debian_dists_bookworm_main_binary-amd64_Packages.lz4';

test('apt install without cleanup: lists, cache, --no-install-recommends, cache mount', async () => {
  const { a, instructionOf } = await image([
    { ...BASE, entries: [...BASE.entries!, dir('var/'), dir('var/lib/'), dir('var/lib/dpkg/'), { name: 'var/lib/dpkg/status', size: 60_000 }] },
    { createdBy: 'RUN /bin/sh -c apt-get update && apt-get install -y curl # buildkit', line: 2,
      entries: [
        dir('var/'), dir('var/lib/'), dir('var/lib/apt/'), dir('var/lib/apt/lists/'),
        { name: APT_LISTS, size: 9_200_000 }, { name: 'var/lib/apt/lists/lock', size: 0 },
        dir('var/cache/'), dir('var/cache/apt/'), { name: 'var/cache/apt/pkgcache.bin', size: 26_000_000 }, { name: 'var/cache/apt/srcpkgcache.bin', size: 25_900_000 },
        dir('var/lib/dpkg/'), { name: 'var/lib/dpkg/status', size: 61_500 },
        dir('var/log/'), { name: 'var/log/dpkg.log', size: 24_000 }, dir('var/log/apt/'), { name: 'var/log/apt/history.log', size: 1_200 },
        dir('usr/'), dir('usr/bin/'), { name: 'usr/bin/curl', size: 280_000, mode: 0o755 },
      ] },
  ]);
  const x = explainLayer(a, 1, { instructionOf, bigFileThreshold: 10_000_000 });
  assert.equal(x.apt.install, true);
  assert.equal(x.apt.noInstallRecommends, false);
  assert.equal(x.apt.listsBytes, 9_200_000);
  assert.equal(x.apt.cacheBytes, 26_000_000 + 25_900_000);
  const ids = x.suggestions.map((s) => s.id);
  // Biggest saving first; advice without a byte count after.
  assert.deepEqual(ids, ['cache-mount', 'apt-lists', 'apt-no-recommends']);
  assert.equal(x.suggestions[0].bytes, x.apt.cacheBytes);
  // dpkg's and apt's own logs are build leftovers, not an application's write-heavy log directory.
  assert.deepEqual(x.writeHeavy.map((h) => [h.dir, h.category, h.bytes]),
    [['/var/cache/apt', 'cache', 51_900_000], ['/var/lib/apt/lists', 'apt-lists', 9_200_000], ['/var/log', 'package-log', 25_200]]);
  golden('hover-apt-install.md', hoverMarkdown(x));
  golden('explain-apt-install.md', explainMarkdown(a, 1, { instructionOf, dockerfile: 'Dockerfile' }));

  // The same install done right: no suggestions about lists or recommends.
  const { a: good, instructionOf: goodOf } = await image([
    BASE,
    { createdBy: 'RUN /bin/sh -c apt-get update && apt-get install -y --no-install-recommends curl && rm -rf /var/lib/apt/lists/* # buildkit', line: 2,
      entries: [dir('usr/'), dir('usr/bin/'), { name: 'usr/bin/curl', size: 280_000, mode: 0o755 }] },
  ]);
  assert.deepEqual(explainLayer(good, 1, { instructionOf: goodOf }).suggestions, []);
});

// --- write-heavy path ---------------------------------------------------------------------------

test('write-heavy path: database files in the image get the VOLUME explanation', async () => {
  const { a, instructionOf } = await image([
    BASE,
    { createdBy: 'RUN /bin/sh -c mysqld --initialize-insecure # buildkit', line: 2,
      entries: [dir('var/'), dir('var/lib/'), dir('var/lib/mysql/'), { name: 'var/lib/mysql/ibdata1', size: 12_582_912 },
        { name: 'var/lib/mysql/ib_logfile0', size: 5_242_880 }, dir('var/lib/mysql/mysql/'), { name: 'var/lib/mysql/mysql/user.ibd', size: 114_688 }] },
  ]);
  const x = explainLayer(a, 1, { instructionOf });
  assert.deepEqual(x.writeHeavy.map((h) => [h.dir, h.category, h.files, h.bytes]), [['/var/lib/mysql', 'database', 3, 12_582_912 + 5_242_880 + 114_688]]);
  const vol = x.suggestions.filter((s) => s.id === 'volume');
  assert.equal(vol.length, 1);
  assert.match(vol[0].text, /VOLUME \/var\/lib\/mysql/);
  const hover = hoverMarkdown(x);
  assert.match(hover, /copies the whole file up into the container's writable layer/);
  golden('hover-write-heavy.md', hover);
  golden('explain-write-heavy.md', explainMarkdown(a, 1, { instructionOf, dockerfile: 'Dockerfile' }));
});

// --- COPY of large / unneeded context files, toolchains, empty layers, config-only ------------------

test('COPY of a big file and .git: .dockerignore entries name the build-context paths', async () => {
  const { a, instructionOf } = await image([
    BASE,
    { createdBy: 'COPY . /src # buildkit', line: 2, copy: { sources: ['.'], dest: '/src', from: null },
      entries: [dir('src/'), { name: 'src/main.go', size: 4_000 }, dir('src/.git/'), { name: 'src/.git/objects/pack/pack-1.pack', size: 3_400_000 },
        { name: 'src/.git/HEAD', size: 23 }, dir('src/testdata/'), { name: 'src/testdata/dump.sql', size: 14_000_000 }] },
  ]);
  const x = explainLayer(a, 1, { instructionOf });
  const ign = x.suggestions.find((s) => s.id === 'dockerignore');
  assert.ok(ign, JSON.stringify(x.suggestions));
  assert.deepEqual(ign.paths, ['testdata/dump.sql', '.git']);
  assert.equal(ign.bytes, 14_000_000 + 3_400_023);
  golden('hover-copy-context.md', hoverMarkdown(x));
});

test('contextPathFor maps image paths back to build-context paths only when that is unambiguous', () => {
  const c = (sources: string[], dest: string, from: string | null = null): InstructionRef['copy'] => ({ sources, dest, from });
  assert.equal(contextPathFor(c(['.'], '/src'), '/src/a/b.txt'), 'a/b.txt');
  assert.equal(contextPathFor(c(['./app/'], '/opt/app/'), '/opt/app/x.bin'), 'app/x.bin');
  assert.equal(contextPathFor(c(['big.iso'], '/data/'), '/data/big.iso'), 'big.iso');
  assert.equal(contextPathFor(c(['big.iso'], '/data/disk.iso'), '/data/disk.iso'), 'big.iso');
  assert.equal(contextPathFor(c(['a', 'b'], '/x/'), '/x/a'), null, 'several sources');
  assert.equal(contextPathFor(c(['*.txt'], '/x/'), '/x/a.txt'), null, 'globs');
  assert.equal(contextPathFor(c(['.'], 'rel'), '/w/rel/a'), null, 'relative destination');
  assert.equal(contextPathFor(c(['/out'], '/x', 'build'), '/x/a'), null, 'COPY --from');
});

test('toolchain in the image: multi-stage suggestion with the bytes of the tools', async () => {
  const { a, instructionOf } = await image([
    BASE,
    { createdBy: 'RUN /bin/sh -c apt-get install -y --no-install-recommends gcc libc6-dev make && make -C /src # buildkit', line: 3,
      entries: [dir('usr/'), dir('usr/lib/'), dir('usr/lib/gcc/'), { name: 'usr/lib/gcc/x86_64-linux-gnu/12/cc1', size: 30_000_000 },
        dir('usr/bin/'), { name: 'usr/bin/x86_64-linux-gnu-gcc-12', size: 1_000_000 }, { name: 'usr/bin/make', size: 250_000 },
        dir('usr/include/'), { name: 'usr/include/stdio.h', size: 30_000 }, dir('src/'), { name: 'src/app', size: 900_000 }] },
  ]);
  const x = explainLayer(a, 1, { instructionOf });
  const ms = x.suggestions.find((s) => s.id === 'multi-stage');
  assert.ok(ms);
  assert.equal(ms.bytes, 30_000_000 + 1_000_000 + 250_000 + 30_000);
  assert.ok(!x.suggestions.some((s) => s.id === 'apt-no-recommends'));
  golden('hover-toolchain.md', hoverMarkdown(x));
});

test('empty WORKDIR layer, config-only instructions, FROM and the unknown-image line', async () => {
  const { a, instructionOf } = await image([
    BASE,
    { createdBy: 'WORKDIR /app', line: 2, entries: [dir('app/')] },
    { createdBy: 'ENV PORT=8080' },
  ]);
  const x = explainLayer(a, 1, { instructionOf });
  assert.equal(x.empty, true);
  assert.equal(x.suggestions.length, 0);
  golden('hover-workdir-empty.md', hoverMarkdown(x));
  const env = historyInstruction(a.image.history[2])!;
  assert.equal(env.keyword, 'ENV');
  golden('hover-config-only.md', configOnlyHoverMarkdown({ ...env, line: 3 }));
  golden('hover-from.md', baseHoverMarkdown(a, [0]));
  const unknown = unknownImageHoverMarkdown();
  assert.equal(unknown.trim().split('\n').length, 1, 'one line');
  golden('hover-unknown-image.md', unknown);
});

test('text report (CLI) and HTML report render the same blocks; HTML escapes everything', async () => {
  const { a, instructionOf } = await image([
    BASE,
    { createdBy: 'RUN /bin/sh -c echo "<script>alert(1)</script>" > "/tmp/<b>&x" # buildkit', line: 2,
      entries: [dir('tmp/'), { name: 'tmp/<b>&x', size: 26 }] },
  ]);
  const text = explainText(a, 1, { instructionOf, dockerfile: 'Dockerfile' });
  golden('explain-text-tmp.txt', text);
  const html = renderHtml(reportBlocks(a, explainLayer(a, 1, { instructionOf })));
  assert.ok(!html.includes('<script>'), html);
  assert.ok(!html.includes('<b>&x'), html);
  assert.ok(html.includes('&lt;script&gt;'));
  assert.match(html, /<svg role="img"/);
});

test('history instructions read the way users wrote them', () => {
  const h = (createdBy: string) => historyInstruction({ index: 0, createdBy, emptyLayer: false, layerIndex: 0 })!;
  assert.deepEqual([h('RUN |2 A=1 B= /bin/sh -c make && rm x # buildkit').text, h('RUN |2 A=1 B= /bin/sh -c make && rm x # buildkit').keyword],
    ['RUN make && rm x', 'RUN']);
  assert.equal(h('/bin/sh -c #(nop) WORKDIR /app').text, 'WORKDIR /app');
  assert.equal(h('|1 V=1 /bin/sh -c echo $V > /v').text, 'RUN echo $V > /v');
  assert.equal(h('/bin/sh -c apk add curl').text, 'RUN apk add curl');
  assert.equal(h('COPY hello.txt /opt/app/ # buildkit').keyword, 'COPY');
});

test('explainLayer rejects a layer that does not exist', async () => {
  const { a } = await image([BASE]);
  assert.throws(() => explainLayer(a, 3), /layer 3 does not exist/);
});

// --- quick-fix plans -------------------------------------------------------------------------------

async function mapped(dockerfile: string, steps: Step[]) {
  const { a } = await image(steps);
  const model = parseDockerfile(dockerfile);
  const mapping = mapHistory(model, a.image.history);
  const byLayer = instructionsByLayer(model, mapping);
  return { a, model, mapping, instructionOf: (l: number) => byLayer.get(l) };
}

function applyFold(text: string, plan: NonNullable<ReturnType<typeof foldCleanupPlan>>): string {
  const lines = text.split('\n');
  const i = plan.appendLine - 1;
  lines[i] = lines[i].slice(0, plan.appendColumn) + plan.appendText + lines[i].slice(lines[i].trimEnd().length);
  const out = lines.join('\n').split('\n');
  // The append added one line before the cleanup.
  const added = plan.appendText.split('\n').length - 1;
  out.splice(plan.deleteFrom - 1 + added, plan.deleteTo - plan.deleteFrom + 1);
  return out.join('\n');
}

const BUILD_STEPS: Step[] = [
  { ...BASE, createdBy: '' },
  { createdBy: 'RUN /bin/sh -c mkdir -p /build && head -c 3000000 /dev/urandom > /build/sdk.tar # buildkit',
    entries: [dir('build/'), { name: 'build/sdk.tar', size: 3_000_000 }] },
  { createdBy: 'LABEL stage=cleanup' },
  { createdBy: 'RUN /bin/sh -c rm -rf /build # buildkit', entries: [{ name: '.wh.build' }] },
];

test('fold plan: a later `RUN rm` moves into the RUN that created the files', async () => {
  const text = 'FROM busybox\nRUN mkdir -p /build && head -c 3000000 /dev/urandom > /build/sdk.tar\nLABEL stage=cleanup\nRUN rm -rf /build\n';
  const { a, model, mapping, instructionOf } = await mapped(text, BUILD_STEPS);
  const cleanup = model.instructions.find((i) => i.line === 4)!;
  const x = explainLayer(a, 2, { instructionOf });
  const plan = foldCleanupPlan(text.split('\n'), model, mapping, cleanup, x);
  assert.ok(plan, 'a plan');
  assert.equal(plan.creator.line, 2);
  assert.equal(plan.bytes, a.tree.layers[1].hiddenBytes);
  assert.equal(applyFold(text, plan),
    'FROM busybox\nRUN mkdir -p /build && head -c 3000000 /dev/urandom > /build/sdk.tar \\\n && rm -rf /build\nLABEL stage=cleanup\n');
});

test('fold plan: refused when something between could see the files, or the rm is not plain', async () => {
  const withRun = 'FROM busybox\nRUN mkdir -p /build && head -c 3000000 /dev/urandom > /build/sdk.tar\nLABEL stage=cleanup\nRUN ls /build\nRUN rm -rf /build\n';
  const steps: Step[] = [...BUILD_STEPS.slice(0, 3), { createdBy: 'RUN /bin/sh -c ls /build # buildkit', entries: [] }, BUILD_STEPS[3]];
  const between = await mapped(withRun, steps);
  const x = explainLayer(between.a, 3, { instructionOf: between.instructionOf });
  const cleanup = between.model.instructions.find((i) => i.keyword === 'RUN' && i.args.startsWith('rm'))!;
  assert.equal(foldCleanupPlan(withRun.split('\n'), between.model, between.mapping, cleanup, x), undefined, 'a RUN in between');

  for (const rm of ['rm -rf $DIR', 'rm -rf /build; echo done', 'rm -rf build', 'rm -rf "/build"', 'find /build -delete']) {
    const m = parseDockerfile(`FROM busybox\nRUN ${rm}\n`);
    assert.equal(rmOnlyCommand(m.instructions[1]), undefined, rm);
  }
  assert.equal(rmOnlyCommand(parseDockerfile('FROM b\nRUN rm -rf /a /b/* \\\n && rm /c\n').instructions[1]), 'rm -rf /a /b/* && rm /c');

  // A comment on the creator's last line would swallow the appended command.
  const commented = 'FROM busybox\nRUN mkdir -p /build && head -c 3000000 /dev/urandom > /build/sdk.tar # make it\nLABEL stage=cleanup\nRUN rm -rf /build\n';
  const c = await mapped(commented, BUILD_STEPS);
  const cx = explainLayer(c.a, 2, { instructionOf: c.instructionOf });
  assert.equal(foldCleanupPlan(commented.split('\n'), c.model, c.mapping, c.model.instructions.find((i) => i.line === 4)!, cx), undefined, 'comment');
});

test('fold plan: refused when the deleted files come from the base image', async () => {
  const text = 'FROM busybox\nRUN rm /etc/passwd\n';
  const steps: Step[] = [{ ...BASE, createdBy: '' }, { createdBy: 'RUN /bin/sh -c rm /etc/passwd # buildkit', entries: [dir('etc/'), { name: 'etc/.wh.passwd' }] }];
  const { a, model, mapping, instructionOf } = await mapped(text, steps);
  const x = explainLayer(a, 1, { instructionOf });
  assert.equal(x.deletedShipped[0].layer, 0);
  assert.equal(foldCleanupPlan(text.split('\n'), model, mapping, model.instructions[1], x), undefined);
  assert.ok(!x.suggestions.some((s) => s.id === 'fold-cleanup'), 'no fold suggestion either: the base is not a RUN of this file');
});

test('dockerignore entries: skip paths other lines name, the COPY\'s own sources and existing entries', async () => {
  const text = 'FROM busybox\nCOPY . /src\nCOPY testdata/dump.sql /fixtures/\n';
  const steps: Step[] = [
    { ...BASE, createdBy: '' },
    { createdBy: 'COPY . /src # buildkit', entries: [dir('src/'), dir('src/.git/'), { name: 'src/.git/pack', size: 3_400_000 },
      dir('src/testdata/'), { name: 'src/testdata/dump.sql', size: 14_000_000 }] },
    { createdBy: 'COPY testdata/dump.sql /fixtures/ # buildkit', entries: [dir('fixtures/'), { name: 'fixtures/dump.sql', size: 14_000_000 }] },
  ];
  const { a, model, instructionOf } = await mapped(text, steps);
  const x = explainLayer(a, 1, { instructionOf });
  assert.deepEqual(x.suggestions.find((s) => s.id === 'dockerignore')?.paths, ['testdata/dump.sql', '.git']);
  assert.deepEqual(dockerignoreEntries(model, model.instructions[1], x, ''), ['.git'], 'dump.sql is copied on line 3');
  assert.deepEqual(dockerignoreEntries(model, model.instructions[1], x, 'node_modules\n/.git/\n'), []);
  // Line 3 copies the big file on purpose: no entry for it there.
  const x3 = explainLayer(a, 2, { instructionOf });
  assert.deepEqual(dockerignoreEntries(model, model.instructions[2], x3, ''), []);
});

test('a directory replaced by a file counts as a deletion, credited to the layer that ships it', async () => {
  const { a } = await image([
    BASE,
    { createdBy: 'RUN /bin/sh -c mkdir /d && echo c > /d/c', entries: [dir('d/'), { name: 'd/c', size: 2 }, { name: 'gone.txt', size: 4 }] },
    { createdBy: 'RUN /bin/sh -c rm /gone.txt && rm -rf /d && echo f > /d', entries: [{ name: '.wh.gone.txt' }, { name: 'd', size: 2 }] },
  ]);
  const x = explainLayer(a, 2);
  assert.equal(x.deletions.reduce((s, d) => s + d.bytes, 0), a.tree.layers[2].deletedBytes);
  assert.deepEqual(x.deletedShipped.map((d) => [d.layer, d.bytes]), [[1, a.tree.layers[2].deletedBytes]]);
  assert.ok(x.deletions.some((d) => d.path === '/d' && d.how === 'replaced'));
});

test('suggestions with edits: the fold as LSP edits, its savings the bytes the creator layer would not ship', async () => {
  const { editSuggestions, applyEdits } = await import('../../../../src/core/present/edits');
  const text = 'FROM busybox\nRUN mkdir -p /build && head -c 3000000 /dev/urandom > /build/sdk.tar\nLABEL stage=cleanup\nRUN rm -rf /build\n';
  const { a, model, mapping, instructionOf } = await mapped(text, BUILD_STEPS);
  const rows = editSuggestions(model, mapping, text, 'Dockerfile', undefined, (l) => explainLayer(a, l, { instructionOf }));
  assert.equal(rows.length, 1);
  const [s] = rows;
  assert.deepEqual([s.id, s.line, s.kind, s.savesBytes], ['fold-cleanup:4', 4, 'fold-cleanup', a.tree.layers[1].hiddenBytes]);
  assert.ok(s.edits.every((e) => e.file === 'Dockerfile'));
  assert.equal(applyEdits(text, s.edits), 'FROM busybox\nRUN mkdir -p /build && head -c 3000000 /dev/urandom > /build/sdk.tar \\\n && rm -rf /build\nLABEL stage=cleanup\n');
});

test('the lens of a line that only deletes says what it failed to save', async () => {
  const { lineInfos, lensLabel, withDeletions } = await import('../../../../src/core/present/lines');
  const text = 'FROM busybox\nRUN mkdir -p /build && head -c 3000000 /dev/urandom > /build/sdk.tar\nLABEL stage=cleanup\nRUN rm -rf /build\n';
  const { a, mapping } = await mapped(text, BUILD_STEPS);
  const sizes = a.image.history.map((h) => (h.layerIndex === null ? 0 : a.layerSizes[h.layerIndex]));
  const infos = withDeletions(lineInfos(mapping, sizes), (l) => { const x = explainLayer(a, l); return { count: x.deleted.count, shipped: x.deletedShipped }; });
  const rm = infos.find((i) => i.line === 4)!;
  assert.equal(lensLabel(rm), `0 B · deletes 1 path: ${formatBytes(a.tree.layers[1].hiddenBytes)} still ship in line 2`);
  assert.equal(lensLabel(infos.find((i) => i.line === 2)!), formatBytes(a.layerSizes[1]));
});
