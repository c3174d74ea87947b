// Build records shared through the cache directory, on the real test engine:
// - `layerlens build` builds with the trace and records every line; `lines --json` reads it;
// - a build made with the plain docker CLI (`DOCKER_BUILDKIT=1 docker build` in a terminal) is
//   recorded when `lines` first sees its image (its history matches the Dockerfile), with a
//   snapshot of the context; after an edit of a file a COPY sends, `lines --json` says cached above
//   that COPY and will-rebuild from it on, which must be what the next real build does (its
//   `--progress=plain` CACHED steps); a file touched without a content change is predicted cached,
//   and the real build takes every step from the cache;
// - a file edited before Layer Lens saw the image is unknown, never guessed.
// No engine = failure (requireEngine in before()), never a skip.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, mkdir, rm, writeFile, utimes, readFile } from 'node:fs/promises';
import * as os from 'node:os';
import * as path from 'node:path';
import * as E from '../support/engine';

const NONCE = `${process.pid}-${Date.now()}`;
let work = '';
let cacheDir = '';
let serial = 0;

interface LineJson { line: number; instruction: string; cache: string; reason: string | null; size: number | null; sizeDelta: number | null }

const env = (): NodeJS.ProcessEnv => ({ ...process.env, LAYERLENS_CACHE_DIR: cacheDir });

async function lines(dockerfile: string, extra: string[] = []): Promise<LineJson[]> {
  const r = await E.cli(['lines', dockerfile, '--json', ...extra], { env: env() });
  assert.equal(r.code, 0, r.stderr);
  return JSON.parse(r.stdout) as LineJson[];
}

/** A context with a Dockerfile whose COPY (line 3) sends app/. RUN steps before and after it. */
async function context(name: string): Promise<{ dir: string; dockerfile: string }> {
  const dir = path.join(work, name);
  await mkdir(path.join(dir, 'app'), { recursive: true });
  await writeFile(path.join(dir, 'Dockerfile'), [
    `FROM ${E.BASE_IMAGE}`,
    `RUN echo ${name}-${NONCE} > /first.txt`,
    'COPY app/ /app/',
    'RUN cat /app/a.txt > /copy.txt',
    'ENV MODE=test',
    'RUN echo done > /done.txt',
    '',
  ].join('\n'));
  await writeFile(path.join(dir, 'app', 'a.txt'), `a ${NONCE}\n`);
  await writeFile(path.join(dir, 'app', 'b.txt'), 'b\n');
  // Older than any image built now: only what the test edits is newer.
  const past = new Date(Date.now() - 3600_000);
  for (const f of ['Dockerfile', 'app/a.txt', 'app/b.txt', 'app']) await utimes(path.join(dir, f), past, past);
  return { dir, dockerfile: path.join(dir, 'Dockerfile') };
}

/** `DOCKER_BUILDKIT=1 docker build --progress=plain` as in a terminal: per Dockerfile line, CACHED or built. */
async function plainBuild(dir: string): Promise<{ tag: string; steps: Map<number, 'cached' | 'built'> }> {
  const tag = `layerlens-test/records-${path.basename(dir)}:${++serial}`;
  const r = await E.run(E.DOCKER, ['build', '--progress=plain', '--network=host', '-t', tag, dir], { env: { ...process.env, DOCKER_BUILDKIT: '1' }, timeoutMs: 300_000 });
  assert.equal(r.code, 0, r.stderr);
  const text = (await readFile(path.join(dir, 'Dockerfile'), 'utf8')).split('\n');
  // `#7 [3/5] COPY app/ /app/` then `#7 CACHED` (or `#7 DONE 0.1s`).
  const stepLine = new Map<string, number>();
  const states = new Map<number, 'cached' | 'built'>();
  for (const l of r.stderr.split('\n')) {
    const head = /^#(\d+) \[(?:[^\]]*\s)?\d+\/\d+\] (.*)$/.exec(l);
    if (head) {
      const i = text.findIndex((t) => t.trim() === head[2].trim());
      if (i >= 0 && !/^FROM /.test(head[2])) stepLine.set(head[1], i + 1);
      continue;
    }
    const st = /^#(\d+) (CACHED|DONE)/.exec(l);
    if (st && stepLine.has(st[1])) {
      const line = stepLine.get(st[1])!;
      if (st[2] === 'CACHED' || !states.has(line)) states.set(line, st[2] === 'CACHED' ? 'cached' : 'built');
    }
  }
  assert.ok(states.size >= 4, `every RUN/COPY step seen in the plain progress:\n${r.stderr}`);
  return { tag, steps: states };
}

const byLine = (ls: LineJson[]): Record<number, string> => Object.fromEntries(ls.map((l) => [l.line, l.cache]));

describe('build records (real engine)', () => {
  before(async () => {
    await E.requireEngine();
    await E.ensureBaseImage();
    work = await mkdtemp(path.join(os.tmpdir(), 'layerlens-records-'));
    cacheDir = path.join(work, 'cache');
  });

  after(async () => {
    const tags = (await E.docker(['images', '--format', '{{.Repository}}:{{.Tag}}'])).split('\n').filter((t) => t.startsWith('layerlens-test/records-') || t.startsWith('layerlens-test/llbuild-'));
    if (tags.length) await E.run(E.DOCKER, ['rmi', '-f', ...tags]);
    if (work) await rm(work, { recursive: true, force: true });
  });

  it('layerlens build records every line; lines --json reads the record; an edit predicts the rebuild', async () => {
    const { dir, dockerfile } = await context('llbuild');
    const tag = `layerlens-test/llbuild-${process.pid}:1`;
    const r = await E.cli(['build', dockerfile, '-t', tag, '--json'], { env: env() });
    assert.equal(r.code, 0, r.stderr);
    const b = JSON.parse(r.stdout) as { schemaVersion: number; imageId: string; builder: string; failed: boolean; lines: Array<{ line: number; cache: string }> };
    assert.equal(b.schemaVersion, 1);
    assert.equal(b.failed, false);
    assert.equal(b.imageId, await E.imageId(tag));
    assert.deepEqual(b.lines.map((l) => l.line), [1, 2, 3, 4, 6]);
    // Right after the build, lines shows the recorded results of the image it finds.
    const now = await lines(dockerfile);
    assert.deepEqual(now.filter((l) => l.instruction !== 'ENV').map((l) => l.cache), b.lines.map((l) => l.cache));
    await writeFile(path.join(dir, 'app', 'b.txt'), `b edited ${NONCE}\n`);
    assert.deepEqual(byLine(await lines(dockerfile)), { 1: 'cached', 2: 'cached', 3: 'will-rebuild', 4: 'will-rebuild', 5: 'will-rebuild', 6: 'will-rebuild' });

    // Built again: each layer line's size against the previous build's (the COPY grew).
    const copyBefore = now.find((l) => l.line === 3)!.size!;
    const again = await E.cli(['build', dockerfile, '-t', `layerlens-test/llbuild-${process.pid}:2`], { env: env() });
    assert.equal(again.code, 0, again.stderr);
    const after2 = await lines(dockerfile);
    const copy = after2.find((l) => l.line === 3)!;
    assert.ok(copy.size! > copyBefore, `${copy.size} > ${copyBefore}`);
    assert.equal(copy.sizeDelta, copy.size! - copyBefore);
    assert.equal(after2.find((l) => l.line === 2)!.sizeDelta, 0, 'the cached RUN: the same layer');
    assert.equal(after2.find((l) => l.line === 5)!.sizeDelta, null, 'config-only lines carry none');
    // The file's build history: both builds, oldest first, their sizes showing the COPY's growth.
    const hist = await E.cli(['history', dockerfile, '--json'], { env: env() });
    assert.equal(hist.code, 0, hist.stderr);
    const h = JSON.parse(hist.stdout) as { schemaVersion: number; builds: Array<{ imageId: string; origin: string; size: number | null; lines: unknown[] }> };
    assert.equal(h.schemaVersion, 1);
    assert.deepEqual(h.builds.map((x) => x.origin), ['layerlens', 'layerlens']);
    assert.equal(h.builds[1].imageId, await E.imageId(`layerlens-test/llbuild-${process.pid}:2`));
    assert.equal(h.builds[1].size! - h.builds[0].size!, copy.sizeDelta);
    const histText = await E.cli(['history', dockerfile], { env: env() });
    assert.match(histText.stdout, new RegExp(`█+ +\\d+ B \\(\\+${copy.sizeDelta} B\\)  layerlens-test/llbuild-${process.pid}:2`));
    const margin = await E.cli(['lines', dockerfile], { env: env() });
    assert.match(margin.stdout, new RegExp(`\\(\\+${copy.sizeDelta} B since last build\\)[^\\n]*│ COPY app/ /app/`));
    // Bad input: one line on stderr, exit 2.
    const bad = await E.cli(['build', dockerfile, '--target', 'nope'], { env: env() });
    assert.equal(bad.code, 2);
    assert.equal(bad.stderr.trim().split('\n').length, 1, bad.stderr);
  });

  it('a plain docker build is recorded when seen; an edit of a COPY source is predicted as the next real build does it', async () => {
    const { dir, dockerfile } = await context('plain');
    const first = await plainBuild(dir);
    // Seen: recorded now, nothing changed since.
    const seen = await lines(dockerfile);
    assert.deepEqual(byLine(seen), { 1: 'cached', 2: 'cached', 3: 'cached', 4: 'cached', 5: 'cached', 6: 'cached' }, JSON.stringify(seen));
    void first;

    await writeFile(path.join(dir, 'app', 'a.txt'), `a edited ${NONCE}\n`);
    const pred = await lines(dockerfile);
    assert.deepEqual(byLine(pred), { 1: 'cached', 2: 'cached', 3: 'will-rebuild', 4: 'will-rebuild', 5: 'will-rebuild', 6: 'will-rebuild' }, JSON.stringify(pred));
    assert.equal(pred.find((l) => l.line === 3)!.reason, '1 file changed: app/a.txt');
    const second = await plainBuild(dir);
    for (const [line, state] of second.steps) {
      assert.equal(byLine(pred)[line], state === 'cached' ? 'cached' : 'will-rebuild', `line ${line}: the build said ${state}`);
    }
    assert.deepEqual([...second.steps.entries()].sort((x, y) => x[0] - y[0]), [[2, 'cached'], [3, 'built'], [4, 'built'], [6, 'built']]);

    // The new image is seen (recorded); a file touched without a content change is predicted cached.
    assert.deepEqual(Object.values(byLine(await lines(dockerfile))).filter((c) => c !== 'cached'), []);
    const later = new Date();
    await utimes(path.join(dir, 'app', 'a.txt'), later, later);
    await utimes(path.join(dir, 'app', 'b.txt'), later, later);
    const touched = await lines(dockerfile);
    assert.deepEqual(Object.values(byLine(touched)).filter((c) => c !== 'cached'), [], JSON.stringify(touched));
    const third = await plainBuild(dir);
    assert.deepEqual([...third.steps.values()].filter((s) => s !== 'cached'), [], 'every step cached after a touch');
  });

  it('a file edited after the image was built, before Layer Lens saw it, is unknown (never guessed)', async () => {
    const { dir, dockerfile } = await context('unseen');
    await plainBuild(dir);
    await writeFile(path.join(dir, 'app', 'a.txt'), `a edited before seen ${NONCE}\n`);
    const got = await lines(dockerfile);
    assert.deepEqual(byLine(got), { 1: 'cached', 2: 'cached', 3: 'unknown', 4: 'unknown', 5: 'unknown', 6: 'unknown' }, JSON.stringify(got));
    assert.match(got.find((l) => l.line === 3)!.reason ?? '', /app\/a\.txt/);
    // A later, known change still says will-rebuild.
    await writeFile(path.join(dir, 'app', 'b.txt'), `b edited ${NONCE}\n`);
    assert.equal(byLine(await lines(dockerfile))[3], 'will-rebuild');
  });
});
