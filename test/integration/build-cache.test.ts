// Integration tests of builds from the editor's point of view, on the real test engine:
// the context is packed (honouring .dockerignore) and sent through the engine adapter with
// BuildKit (and the legacy builder), the BuildKit trace / legacy output is mapped back to
// Dockerfile lines, and the record of one build predicts the next one. After an edit (a COPY
// source, a RUN line, an ENV value, a build arg, an unrelated file, .dockerignore...) the
// prediction must equal what the builder then does: every line predicted cached was cached,
// every line predicted to rebuild was rebuilt.
//
// Edits carry a nonce so that the engine's cache from earlier runs cannot satisfy them.
// Set LAYERLENS_RECORD_TRACES=1 to (re)write the trace fixtures under test/fixtures/traces/
// (<scenario>.engine<major>.{ndjson,json}). The recorded set comes from the test engine (Debian
// bookworm docker.io 20.10.24, BuildKit v0.8) and from Debian trixie's docker.io 26.1.5 (BuildKit
// v0.13: heredocs): its dockerd taken from the .deb (`apt-get download docker.io` against a trixie
// source list, `dpkg-deb -x`, nothing installed), started by hand with its own --data-root,
// --exec-root, --pidfile, --iptables=false --bridge=none, and this file run with DOCKER_HOST
// pointing at it. The whole file passes on both engines.
// No engine = failure (requireEngine in before()), never a skip.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { cp, mkdtemp, readFile, rm, writeFile, utimes, mkdir } from 'node:fs/promises';
import * as os from 'node:os';
import * as path from 'node:path';
import * as E from '../support/engine';
import { createEngineClient } from '../../src/engine/docker';
import { resolveEndpointFromProcess } from '../../src/engine/endpoint';
import type { BuildMessage, EngineClient } from '../../src/engine/types';
import { packContext } from '../../src/sources/contextManifest';
import { predict, type LinePrediction } from '../../src/core/dockerfile/cachePredict';
import { runBuild, type BuildOutcome } from '../../src/engine/build';
import { contextManifest } from '../../src/sources/contextManifest';
import { findStage, parseDockerfile } from '../../src/core/dockerfile/dockerfile';
import { mapImageHistory, mapHistory } from '../../src/core/dockerfile/mapping';
import { entrySizes, quickImageFromEngine } from '../../src/sources/dockerfileImage';
import { targetBuildInput } from '../../src/core/dockerfile/stageImages';

const NONCE = `${process.pid}-${Date.now()}`;
const RECORD = process.env.LAYERLENS_RECORD_TRACES === '1';
let engine: EngineClient;
let work = '';
let serial = 0;

interface BuildOpts {
  buildArgs?: Record<string, string>;
  target?: string | null;
  version?: '1' | '2';
  dockerfile?: string;
  /** Name for a recorded trace fixture. */
  record?: string;
}

async function build(dir: string, name: string, o: BuildOpts = {}): Promise<BuildOutcome> {
  const dockerfileRel = o.dockerfile ?? 'Dockerfile';
  const bytes = await readFile(path.join(dir, dockerfileRel));
  const messages: BuildMessage[] = [];
  const tag = `layerlens-test/build-${name}:${++serial}`;
  // As Build Image does: an unnamed target stage (`#<index>`) is named in the text sent.
  const text = bytes.toString('utf8');
  const target = o.target ?? null;
  const sent = targetBuildInput(text, parseDockerfile(text, { buildArgs: o.buildArgs ?? {} }), target);
  assert.ok(sent, `the target ${target} names a stage`);
  const sentBytes = sent.dockerfileText === text ? bytes : Buffer.from(sent.dockerfileText, 'utf8');
  const outcome = await runBuild({
    engine,
    pack: () => packContext(dir, { keep: [dockerfileRel], overrides: new Map([[dockerfileRel, sentBytes]]) }),
    dockerfileRel, dockerfileText: text, tag,
    buildArgs: o.buildArgs ?? {}, target, version: o.version,
    ...(sent.dockerfileText !== text || sent.target !== target ? { sent } : {}),
    networkmode: 'none',
    onMessage: (m) => messages.push(m),
  });
  if (RECORD && o.record) {
    // <scenario>.engine<major>.ndjson: the engine's messages as sent; .json: what the test knew.
    const out = path.join(E.repoRoot(), 'test', 'fixtures', 'traces');
    const version = await engineVersion();
    const base = path.join(out, `${o.record}.engine${version.split('.')[0]}`);
    await mkdir(out, { recursive: true });
    await writeFile(`${base}.ndjson`, messages.map((m) => JSON.stringify(m)).join('\n') + '\n');
    await writeFile(`${base}.json`, JSON.stringify({
      engine: version, builder: outcome.record.builder, dockerfile: bytes.toString('utf8'),
      // The text the engine got, when Build Image named an unnamed target stage in it.
      ...(sent.dockerfileText !== text ? { sent: sent.dockerfileText } : {}),
      buildArgs: o.buildArgs ?? {}, target: o.target ?? null, context: outcome.record.context,
      stages: outcome.record.stages, lines: outcome.record.lines,
    }, null, 2) + '\n');
  }
  return outcome;
}

async function engineVersion(): Promise<string> {
  return (await E.docker(['version', '--format', '{{.Server.Version}}'])).trim();
}

/** Copy a fixture directory into a fresh work directory. */
async function fixture(name: string, from: 'dockerfiles' | 'images' = 'dockerfiles'): Promise<string> {
  const dir = await mkdtemp(path.join(work, `${name}-`));
  await cp(path.join(E.repoRoot(), 'test', 'fixtures', from, name), dir, { recursive: true });
  return dir;
}

async function currentManifest(dir: string, dockerfile = 'Dockerfile') {
  return (await contextManifest(dir, { keep: [dockerfile] })).manifest;
}

/** Predicted vs built, for every line the second build reported. */
function compare(pred: LinePrediction[], after: BuildOutcome): { mismatches: string[]; checked: number; rebuilt: number } {
  const byLine = new Map(pred.map((p) => [p.line, p]));
  const mismatches: string[] = [];
  let checked = 0;
  let rebuilt = 0;
  for (const r of after.results) {
    const p = byLine.get(r.line);
    if (!p) {
      mismatches.push(`line ${r.line} ${r.keyword}: ${r.state}, not predicted`);
      continue;
    }
    checked++;
    const actual = r.state === 'cached' ? 'cached' : 'will-rebuild';
    if (actual === 'will-rebuild') rebuilt++;
    if (p.cache !== actual) mismatches.push(`line ${r.line} ${r.keyword}: predicted ${p.cache}${p.reason ? ` (${p.reason})` : ''}, builder said ${r.state}`);
  }
  return { mismatches, checked, rebuilt };
}

function summary(pred: LinePrediction[]): Record<number, string> {
  const out: Record<number, string> = {};
  for (const p of pred) out[p.line] = p.cache === 'cached' ? 'cached' : `will-rebuild: ${p.reason}`;
  return out;
}

function states(o: BuildOutcome): Record<number, string> {
  const out: Record<number, string> = {};
  for (const r of o.results) out[r.line] = r.state;
  return out;
}

/** Build, edit, predict, build again; assert the prediction equals the builder's result. */
async function scenario(dir: string, name: string, edit: () => Promise<void>, o: BuildOpts & { argsAfter?: Record<string, string> } = {}): Promise<{ pred: LinePrediction[]; first: BuildOutcome; second: BuildOutcome }> {
  const first = await build(dir, name, { ...o, record: o.record ? `${o.record}-1` : undefined });
  assert.equal(first.failed, false, `first build failed: ${first.error}`);
  await edit();
  const dockerfile = o.dockerfile ?? 'Dockerfile';
  const text = await readFile(path.join(dir, dockerfile), 'utf8');
  const args = o.argsAfter ?? o.buildArgs ?? {};
  const pred = predict(first.record, text, await currentManifest(dir, dockerfile), args, { target: o.target ?? null });
  const second = await build(dir, name, { ...o, buildArgs: args, record: o.record ? `${o.record}-2` : undefined });
  assert.equal(second.failed, false, `second build failed: ${second.error}`);
  const c = compare(pred, second);
  assert.deepEqual(c.mismatches, [], `prediction vs ${second.record.builder}:\npredicted ${JSON.stringify(summary(pred), null, 1)}\nactual ${JSON.stringify(states(second), null, 1)}`);
  assert.ok(c.checked > 0);
  return { pred, first, second };
}

function reasonAt(pred: LinePrediction[], line: number): string | null {
  const p = pred.find((x) => x.line === line);
  assert.ok(p, `no prediction for line ${line}`);
  return p.cache === 'cached' ? 'cached' : p.reason;
}

before(async () => {
  await E.requireEngine();
  await E.ensureBaseImage();
  // The Dockerfile fixtures name their base llbase:1 (and llonbuild:1 for the ONBUILD child).
  await E.docker(['tag', E.BASE_IMAGE, 'llbase:1']);
  engine = createEngineClient(resolveEndpointFromProcess());
  work = await mkdtemp(path.join(os.tmpdir(), 'layerlens-build-'));
});

after(async () => {
  if (work) await rm(work, { recursive: true, force: true });
});

describe('BuildKit: trace → lines', () => {
  it('multi-stage: every instruction with a vertex gets cached/built and a duration, for every stage', async () => {
    const dir = await fixture('multistage');
    await writeFile(path.join(dir, 'hello.txt'), `hello ${NONCE}\n`);
    const o = await build(dir, 'ms-lines', { record: 'multistage-buildkit' });
    assert.equal(o.failed, false, o.error);
    assert.equal(o.record.builder, 'buildkit');
    assert.match(o.record.imageId ?? '', /^sha256:[0-9a-f]{64}$/);
    // Vertices: FROM (1, 6, 12), WORKDIR 2, COPY 3, RUN 4, RUN 7, RUN 10, COPY 13-15. Not: CMD 16, FROM build (9).
    assert.deepEqual(Object.keys(o.record.lines).map(Number).sort((a, b) => a - b), [1, 2, 3, 4, 6, 7, 10, 12, 13, 14, 15]);
    assert.deepEqual(o.record.stages, [0, 1, 2, 3]);
    // hello.txt is new content: COPY 3 and everything after it in build, test and the final stage ran.
    for (const l of [3, 4, 10, 13, 14, 15]) {
      assert.equal(o.record.lines[l].cache, 'built', `line ${l}`);
    }
    for (const l of [4, 10]) assert.ok(o.record.lines[l].durationMs > 0, `RUN line ${l} has a duration`);
    assert.equal(o.record.lines[1].cache, 'cached');
    // The manifest holds what was sent.
    assert.deepEqual(Object.keys(o.record.context!.files).sort(), ['Dockerfile', 'hello.txt']);
    const again = await build(dir, 'ms-lines');
    assert.ok(Object.values(again.record.lines).every((l) => l.cache === 'cached'), JSON.stringify(again.record.lines));
  });

  it('a failing RUN: the outcome names the line and the engine message', async () => {
    const dir = await mkdtemp(path.join(work, 'fail-'));
    await writeFile(path.join(dir, 'Dockerfile'), `FROM llbase:1\nRUN echo ok-${NONCE}\nRUN echo about to fail && false\nRUN echo never\n`);
    const o = await build(dir, 'fail');
    assert.equal(o.failed, true);
    assert.equal(o.errorLine, 3);
    assert.match(o.error ?? '', /exit code: 1|returned a non-zero code|executor failed/);
    assert.equal(o.results.find((r) => r.line === 3)?.state, 'failed');
    assert.equal(o.record.lines[2].cache, 'built');
    assert.equal(o.record.lines[4], undefined, 'the line after the failure did not run');
  });
});

describe('cancellation', () => {
  for (const version of ['2', '1'] as const) {
    it(`cancelling a ${version === '2' ? 'BuildKit' : 'legacy'} build during a long RUN ends it within seconds, with no image`, async () => {
      const dir = await mkdtemp(path.join(work, 'cancel-'));
      await writeFile(path.join(dir, 'Dockerfile'), `FROM llbase:1\nRUN echo start-${NONCE} && sleep 120\n`);
      const bytes = await readFile(path.join(dir, 'Dockerfile'));
      const ac = new AbortController();
      const tag = `layerlens-test/build-cancel:${version}-${serial++}`;
      const t0 = Date.now();
      let sawRun = false;
      const p = runBuild({
        engine, version, networkmode: 'none', signal: ac.signal,
        pack: () => packContext(dir, { keep: ['Dockerfile'], signal: ac.signal }),
        dockerfileRel: 'Dockerfile', dockerfileText: bytes.toString('utf8'), tag, buildArgs: {}, target: null,
        onStep: (text) => {
          if (!sawRun && /RUN echo start/.test(text)) {
            sawRun = true;
            setTimeout(() => ac.abort(), 1500);
          }
        },
      });
      await assert.rejects(p, (e: Error & { code?: string }) => e.code === 'aborted' && /cancelled/.test(e.message));
      assert.ok(sawRun, 'the RUN step had started');
      assert.ok(Date.now() - t0 < 20_000, `took ${Date.now() - t0} ms`);
      const r = await E.run(E.DOCKER, ['image', 'inspect', tag]);
      assert.notEqual(r.code, 0, 'no image was tagged');
    });
  }
});

describe('prediction equals the BuildKit trace', () => {
  it('multi-stage + COPY --from: a COPY source edited between two builds', async () => {
    const dir = await fixture('multistage');
    await writeFile(path.join(dir, 'hello.txt'), `hello ${NONCE}\n`);
    const { pred } = await scenario(dir, 'ms-copy', async () => {
      await writeFile(path.join(dir, 'hello.txt'), `hello again ${NONCE}\n`);
    }, { record: 'multistage-copy-edit' });
    assert.deepEqual(summary(pred), {
      1: 'cached', 2: 'cached',
      3: 'will-rebuild: 1 file changed: hello.txt',
      4: 'will-rebuild: line 3: 1 file changed',
      6: 'cached', 7: 'cached',
      9: 'will-rebuild: stage build rebuilds', 10: 'will-rebuild: stage build rebuilds',
      12: 'cached',
      13: 'will-rebuild: stage build rebuilds', 14: 'will-rebuild: stage build rebuilds', 15: 'will-rebuild: stage build rebuilds',
      16: 'will-rebuild: stage build rebuilds',
    });
  });

  it('multi-stage: a RUN line edited in a stage only COPY --from uses', async () => {
    const dir = await fixture('multistage');
    await writeFile(path.join(dir, 'hello.txt'), `hello ${NONCE}\n`);
    const df = path.join(dir, 'Dockerfile');
    const { pred } = await scenario(dir, 'ms-run', async () => {
      const text = await readFile(df, 'utf8');
      await writeFile(df, text.replace('echo tool > /tools/tool.sh', `echo tool-${NONCE} > /tools/tool.sh`));
    });
    assert.equal(reasonAt(pred, 7), 'line 7 changed');
    assert.equal(reasonAt(pred, 3), 'cached');
    assert.equal(reasonAt(pred, 13), 'cached');
    assert.equal(reasonAt(pred, 14), 'stage tools rebuilds');
    assert.equal(reasonAt(pred, 15), 'stage tools rebuilds');
  });

  it('ARG: a changed build arg rebuilds the RUN lines that see it, and the chain after them', async () => {
    const dir = await fixture('args');
    const { pred } = await scenario(dir, 'args', async () => undefined, {
      buildArgs: { VERSION: `1-${NONCE}` }, argsAfter: { VERSION: `2-${NONCE}` }, record: 'args-build-arg',
    });
    assert.equal(reasonAt(pred, 3), 'cached');
    assert.equal(reasonAt(pred, 8), 'build arg VERSION changed');
    assert.equal(reasonAt(pred, 10), 'build arg VERSION changed');
    assert.equal(reasonAt(pred, 11), 'build arg VERSION changed');
    assert.equal(reasonAt(pred, 14), 'build arg VERSION changed');
  });

  it('ARG default edited below a COPY: the COPY and WORKDIR stay cached, the RUN after it rebuilds', async () => {
    const dir = await fixture('args');
    const df = path.join(dir, 'Dockerfile');
    await writeFile(df, (await readFile(df, 'utf8')).replace('ARG LATE=late-default', `ARG LATE=late-${NONCE}`));
    const { pred } = await scenario(dir, 'args-late', async () => {
      await writeFile(df, (await readFile(df, 'utf8')).replace(`ARG LATE=late-${NONCE}`, `ARG LATE=later-${NONCE}`));
    });
    assert.equal(reasonAt(pred, 11), 'cached');
    assert.equal(reasonAt(pred, 12), 'cached');
    assert.equal(reasonAt(pred, 13), 'line 13 changed');
    assert.equal(reasonAt(pred, 14), 'line 13 changed');
    assert.equal(reasonAt(pred, 16), 'line 13 changed');
  });

  it('ENV edited: COPY, ADD and WORKDIR after it stay cached (no environment in their key), RUN rebuilds', async () => {
    const dir = await fixture('basic');
    const df = path.join(dir, 'Dockerfile');
    await writeFile(df, (await readFile(df, 'utf8')).replace('GREETING="hello world"', `GREETING="hello ${NONCE}"`));
    const { pred } = await scenario(dir, 'basic-env', async () => {
      await writeFile(df, (await readFile(df, 'utf8')).replace(`GREETING="hello ${NONCE}"`, `GREETING="bye ${NONCE}"`));
    }, { record: 'basic-env-edit' });
    assert.equal(reasonAt(pred, 3), 'line 3 changed');
    for (const l of [5, 6, 7, 8]) assert.equal(reasonAt(pred, l), 'cached', `line ${l}`);
    assert.equal(reasonAt(pred, 9), 'line 3 changed');
    assert.equal(reasonAt(pred, 14), 'line 3 changed');
  });

  it('context: an unrelated file added, a copied file touched (same bytes): everything stays cached', async () => {
    const dir = await fixture('basic');
    await writeFile(path.join(dir, 'hello.txt'), `hello ${NONCE}\n`);
    const { pred } = await scenario(dir, 'basic-unrelated', async () => {
      await writeFile(path.join(dir, 'unrelated.txt'), `not copied ${NONCE}\n`);
      const later = new Date(Date.now() + 60_000);
      await utimes(path.join(dir, 'hello.txt'), later, later);
    });
    assert.ok(pred.every((p) => p.cache === 'cached'), JSON.stringify(summary(pred)));
  });

  it('context: a file in a copied directory edited, and .dockerignore leaving one out', async () => {
    const dir = await fixture('basic');
    await writeFile(path.join(dir, 'hello.txt'), `hello ${NONCE}\n`);
    await writeFile(path.join(dir, 'dir', 'sub', 'b.txt'), `b ${NONCE}\n`);
    const { pred } = await scenario(dir, 'basic-dir', async () => {
      await writeFile(path.join(dir, 'dir', 'a.txt'), `a ${NONCE}\n`);
      await writeFile(path.join(dir, '.dockerignore'), '# leave one out\ndir/sub/b.txt\n');
    });
    assert.equal(reasonAt(pred, 6), 'cached');
    assert.equal(reasonAt(pred, 7), '2 files changed: dir/a.txt, dir/sub/b.txt');
    assert.equal(reasonAt(pred, 8), 'line 7: 2 files changed');
  });

  it('ONBUILD child: the triggers run under its FROM line, its own lines map after them', async () => {
    const base = await fixture('onbuild-base');
    const b = await build(base, 'onbuild-base');
    assert.equal(b.failed, false, b.error);
    await E.docker(['tag', b.record.imageId!, 'llonbuild:1']);
    const dir = await fixture('onbuild-child');
    await writeFile(path.join(dir, 'hello.txt'), `child ${NONCE}\n`);
    const o = await build(dir, 'onbuild-child', { record: 'onbuild-child' });
    assert.equal(o.failed, false, o.error);
    const from = o.results.find((r) => r.line === 1)!;
    assert.equal(from.triggers, 2);
    assert.equal(from.state, 'built', 'the COPY trigger copied new content');
    assert.equal(o.results.find((r) => r.line === 2)?.state, 'built');
  });
});

describe('legacy builder', () => {
  it('Using cache lines map to every step; prediction equals them after a COPY source edit', async () => {
    const dir = await fixture('multistage');
    await writeFile(path.join(dir, 'hello.txt'), `hello legacy ${NONCE}\n`);
    const { first, second, pred } = await scenario(dir, 'ms-legacy', async () => {
      await writeFile(path.join(dir, 'hello.txt'), `hello legacy again ${NONCE}\n`);
    }, { version: '1', record: 'multistage-legacy' });
    assert.equal(first.record.builder, 'legacy');
    assert.deepEqual(Object.keys(second.record.lines).map(Number).sort((a, b) => a - b), [1, 2, 3, 4, 6, 7, 10, 12, 13, 14, 15, 16]);
    assert.equal(reasonAt(pred, 2), 'cached');
    assert.equal(reasonAt(pred, 3), '1 file changed: hello.txt');
    assert.equal(reasonAt(pred, 7), 'cached');
    assert.equal(second.record.lines[7].cache, 'cached');
    assert.equal(second.record.lines[16].cache, 'built');
  });
});

describe('heredoc on this engine', () => {
  // Engine 20.10's BuildKit (v0.8) has no heredocs without a `# syntax=` frontend (which needs a
  // registry); newer engines (BuildKit >= 0.10) build them.
  it('a heredoc Dockerfile: a clear failure on line 3 (engine 20.10), or a heredoc body edit predicted exactly', async () => {
    const dir = await fixture('heredoc');
    const df = path.join(dir, 'Dockerfile');
    await writeFile(df, (await readFile(df, 'utf8')).replace('echo two >> /one.txt', `echo two-${NONCE} >> /one.txt`));
    const version = await engineVersion();
    if (/^20\./.test(version)) {
      const o = await build(dir, 'heredoc');
      assert.equal(o.failed, true);
      assert.equal(o.errorLine, 3);
      assert.match(o.error ?? '', /unknown instruction/i);
      return;
    }
    const { first, pred } = await scenario(dir, 'heredoc', async () => {
      // A body line of the COPY heredoc (line 17) changes: that COPY and the RUN after it rebuild.
      await writeFile(df, (await readFile(df, 'utf8')).replace('hello from heredoc', `hello ${NONCE}`));
    }, { record: 'heredoc-body-edit' });
    for (const l of [1, 2, 6, 10, 13, 16, 19, 24]) assert.ok(first.record.lines[l], `line ${l} has a result`);
    assert.equal(reasonAt(pred, 2), 'cached');
    assert.equal(reasonAt(pred, 13), 'cached');
    assert.equal(reasonAt(pred, 16), 'line 16 changed');
    assert.equal(reasonAt(pred, 19), 'line 16 changed');
    assert.equal(reasonAt(pred, 24), 'line 16 changed');
  });
});

describe('an unnamed target stage (Build Image with target #<index>)', () => {
  // Builders take only a stage name as the target ("failed to reach build target 0"): the text
  // sent names the stage at the end of its FROM line; the record keeps the user's text and `#0`.
  for (const [version, name] of [['2', 'buildkit'], ['1', 'legacy']] as const) {
    it(`${name}: builds from the cache of a full build, maps to the user's lines, and the prediction after an edit equals the build`, async (t) => {
      const dir = await mkdtemp(path.join(work, `unnamed-target-${name}-`));
      const df = path.join(dir, 'Dockerfile');
      const text = `FROM llbase:1\nWORKDIR /w\nRUN echo unnamed-${NONCE} > /a && head -c 3000 /dev/zero > /b\nRUN echo after > /w/after\n\nFROM llbase:1\nCOPY --from=0 /a /copied\nRUN echo final-${NONCE} > /f\n`;
      await writeFile(df, text);
      const model = parseDockerfile(text);
      const full = await build(dir, `unnamed-full-${name}`, { version });
      assert.equal(full.failed, false, full.error);
      const tags = [full.record.tag];
      try {
        const t0 = Date.now();
        const { first, second, pred } = await scenario(dir, `unnamed-target-${name}`, async () => {
          await writeFile(df, text.replace(`echo unnamed-${NONCE}`, `echo unnamed-again-${NONCE}`));
        }, { version, target: '#0', record: `unnamed-target-${name}` });
        tags.push(first.record.tag, second.record.tag);
        t.diagnostic(`two target builds and a prediction: ${Date.now() - t0} ms`);
        // The record is about the user's file: its text, the target as given, its lines.
        assert.equal(first.record.builder, name);
        assert.equal(first.record.dockerfileText, text);
        assert.equal(first.record.target, '#0');
        assert.deepEqual(first.record.stages, [0]);
        assert.deepEqual(Object.keys(first.record.lines).map(Number).sort((a, b) => a - b), [1, 2, 3, 4]);
        // Naming the stage did not cost the cache of the full build.
        assert.deepEqual(first.results.filter((r) => r.state !== 'cached').map((r) => r.line), [], 'every step came from the cache');
        assert.deepEqual(summary(pred), { 1: 'cached', 2: 'cached', 3: 'will-rebuild: line 3 changed', 4: 'will-rebuild: line 3 changed' }, 'stage 0 only');
        assert.equal(second.record.lines[3].cache, 'built');

        // The image is stage 0's: mapped with the record's target (and found as the best stage
        // without it) every line of the stage has its entry; mapped as the last stage, it is not.
        const q = await quickImageFromEngine(engine, second.record.tag);
        const edited = parseDockerfile(await readFile(df, 'utf8'));
        for (const target of ['#0', undefined]) {
          const m = mapImageHistory(edited, q.history, { target, entrySizes: entrySizes(q) });
          assert.equal(m.stage, 0, `target ${target}`);
          assert.ok(m.score > 0.999, `target ${target}: score ${m.score}`);
          const run = m.lines.find((l) => l.line === 3);
          assert.notEqual(run?.layerIndex ?? null, null, 'the RUN has its layer');
          const api = [...await E.api().getImage(second.record.tag).history() as Array<{ CreatedBy: string; Size: number }>].reverse();
          assert.ok(api[run!.historyIndex!].CreatedBy.includes(`unnamed-again-${NONCE}`));
          assert.ok(api[run!.historyIndex!].Size >= 3000, `engine Size ${api[run!.historyIndex!].Size}`);
        }
        assert.ok(mapHistory(edited, q.history).score < 0.5, 'as the last stage, the image does not match');
        // The CLI: without --target the stage that matches best; --target by index (0 or #0); an unknown stage is a usage error.
        const api = [...await E.api().getImage(second.record.tag).history() as Array<{ CreatedBy: string; Size: number }>].reverse();
        const runSize = api.find((h) => h.CreatedBy.includes(`unnamed-again-${NONCE}`))!.Size;
        for (const extra of [[], ['--target', '0'], ['--target', '#0']]) {
          const cli = await E.cli(['lines', df, '--image', second.record.tag, '--json', ...extra], { env: { DOCKER_HOST: E.engineHost() } });
          assert.equal(cli.code, 0, cli.stderr);
          const rows = JSON.parse(cli.stdout) as Array<{ line: number; size: number | null; stage: number; kind: string }>;
          assert.equal(rows.find((x) => x.line === 3)?.size, runSize, `${extra.join(' ')}: ${cli.stdout}`);
          assert.equal(rows.find((x) => x.line === 1)?.kind, 'base', extra.join(' '));
        }
        const bad = await E.cli(['lines', df, '--image', second.record.tag, '--target', 'nope'], { env: { DOCKER_HOST: E.engineHost() } });
        assert.equal(bad.code, 2);
        assert.match(bad.stderr, /has no stage 'nope' \(stages: 0, 1\)/);
        assert.equal(bad.stderr.trim().split('\n').length, 1, bad.stderr);
        assert.equal(findStage(model, '#0'), 0);
      } finally {
        for (const tag of tags) await E.run(E.DOCKER, ['rmi', tag]);
      }
    });

    it(`${name}: a stage that copies the Dockerfile stays cached while the file does not change (the record holds the user's file, not the one sent)`, async () => {
      const dir = await mkdtemp(path.join(work, `unnamed-copydf-${name}-`));
      const text = `FROM llbase:1\nCOPY Dockerfile /df\nRUN echo copydf-${NONCE} > /a\n\nFROM llbase:1\nCOPY --from=0 /a /a\n`;
      await writeFile(path.join(dir, 'Dockerfile'), text);
      const { first, second, pred } = await scenario(dir, `unnamed-copydf-${name}`, async () => {
        await writeFile(path.join(dir, 'unrelated.txt'), `not copied ${NONCE}\n`);
      }, { version, target: '#0' });
      try {
        assert.equal(first.record.lines[2].cache, 'built');
        assert.deepEqual(summary(pred), { 1: 'cached', 2: 'cached', 3: 'cached' });
        assert.equal(second.record.lines[2].cache, 'cached');
      } finally {
        for (const tag of [first.record.tag, second.record.tag]) await E.run(E.DOCKER, ['rmi', tag]);
      }
    });
  }
});
