// Unit tests of the cache prediction: recorded build pairs replayed offline (the record of build 1
// predicts build 2, which must match build 2's trace exactly), and hand-made cases for each rule
// (line edits, inserted/removed lines, ENV/ARG/USER/SHELL/WORKDIR, build args, context files,
// .dockerignore, stages: renamed, new, FROM <stage>, COPY --from, target changes, base image),
// the legacy builder's rules, cacheFacts, and runBuild with fake engines (BuildKit refused,
// no bridge network, a failing step, cancellation).
import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import * as path from 'node:path';
import { BuildProgress } from '../../../../src/core/dockerfile/buildTrace';
import type { BuildStreamMessage } from '../../../../src/core/dockerfile/traceWire';
import { cacheFacts, changedPaths, changedUnder, cleanContextPath, contextSources, coveredBy, pathMatch, predict, recordLines, stagesToBuild, type BuildRecord, type ContextManifest, type LinePrediction, type RecordedLine } from '../../../../src/core/dockerfile/cachePredict';
import { runBuild, type BuildEngine } from '../../../../src/engine/build';
import { parseDockerfile } from '../../../../src/core/dockerfile/dockerfile';
import { repoRoot } from '../../../support/repo';

const TRACES = path.join(repoRoot(), 'test', 'fixtures', 'traces');

// ---------------------------------------------------------------------------------------------
// Recorded pairs

interface Meta {
  engine: string;
  builder: 'buildkit' | 'legacy';
  dockerfile: string;
  buildArgs: Record<string, string>;
  target: string | null;
  /** The text the engine got, when it differs (an unnamed target stage named in it). */
  sent?: string;
  context: ContextManifest;
  stages: number[];
  lines: Record<number, RecordedLine>;
}

function load(name: string): { meta: Meta; messages: BuildStreamMessage[] } {
  return {
    meta: JSON.parse(readFileSync(path.join(TRACES, `${name}.json`), 'utf8')) as Meta,
    messages: readFileSync(path.join(TRACES, `${name}.ndjson`), 'utf8').split('\n').filter(Boolean).map((l) => JSON.parse(l) as BuildStreamMessage),
  };
}

function recordOf(meta: Meta): BuildRecord {
  return {
    version: 1, builder: meta.builder, dockerfileText: meta.dockerfile, buildArgs: meta.buildArgs, target: meta.target,
    stages: meta.stages, lines: meta.lines, context: meta.context, tag: 't', imageId: null, finishedAt: 0, durationMs: 0,
  };
}

function summary(pred: LinePrediction[]): Record<number, string> {
  const out: Record<number, string> = {};
  for (const p of pred) out[p.line] = p.cache === 'cached' ? 'cached' : `will-rebuild: ${p.reason}`;
  return out;
}

const pairs = readdirSync(TRACES).filter((f) => /-1\.engine\d+\.json$/.test(f)).map((f) => f.replace(/-1(\.engine\d+)\.json$/, '$1')).sort();

describe('recorded build pairs: the first build\'s record predicts the second build', () => {
  test('pairs of both engines and both builders are recorded', () => {
    assert.ok(pairs.length >= 9, pairs.join());
    assert.ok(pairs.some((p) => p.includes('legacy')) && pairs.some((p) => p.includes('heredoc')));
  });
  for (const pair of pairs) {
    test(pair, () => {
      const [scenario, engine] = pair.split('.');
      const first = load(`${scenario}-1.${engine}`).meta;
      const second = load(`${scenario}-2.${engine}`);
      const pred = predict(recordOf(first), second.meta.dockerfile, second.meta.context, second.meta.buildArgs, { target: second.meta.target });
      const progress = new BuildProgress();
      let t = 0;
      for (const m of second.messages) progress.feed(m, (t += 10));
      progress.end(t);
      const results = progress.results(parseDockerfile(second.meta.sent ?? second.meta.dockerfile, { buildArgs: second.meta.buildArgs }), second.meta.stages);
      const byLine = new Map(pred.map((p) => [p.line, p]));
      assert.ok(results.length > 3);
      let rebuilt = 0;
      for (const r of results) {
        const p = byLine.get(r.line);
        assert.ok(p, `line ${r.line} not predicted`);
        const actual = r.state === 'cached' ? 'cached' : 'will-rebuild';
        if (actual === 'will-rebuild') rebuilt++;
        assert.equal(p.cache, actual, `line ${r.line} ${r.keyword}: predicted ${JSON.stringify(summary(pred))}`);
      }
      assert.ok(rebuilt > 0, 'each pair rebuilds something');
    });
  }
});

// ---------------------------------------------------------------------------------------------
// Hand-made cases

function manifest(files: Record<string, string>): ContextManifest {
  const out: ContextManifest = { files: {} };
  for (const [p, content] of Object.entries(files)) out.files[p] = { size: content.length, sha256: `h(${content})`, mode: 0o644 };
  return out;
}

/** A record as if `text` had been built with everything built (the lines don't matter to predict). */
function rec(text: string, o: Partial<BuildRecord> = {}): BuildRecord {
  const builder = o.builder ?? 'buildkit';
  const model = parseDockerfile(text, { buildArgs: o.buildArgs ?? {} });
  return {
    version: 1, builder, dockerfileText: text, buildArgs: {}, target: null,
    stages: stagesToBuild(model, builder, o.target ?? null), lines: {}, context: manifest({ 'a.txt': 'a', 'src/x.py': 'x', 'src/y.py': 'y', 'src/sub/z.txt': 'z' }),
    tag: 't', imageId: null, finishedAt: 0, durationMs: 0, ...o,
  };
}

function run(before: string, after: string, o: { record?: Partial<BuildRecord>; files?: Record<string, string> | null; args?: Record<string, string>; target?: string | null; baseImageIds?: Record<string, string> } = {}): Record<number, string> {
  const r = rec(before, o.record);
  const m = o.files === null ? null : o.files ? manifest(o.files) : r.context;
  return summary(predict(r, after, m, o.args ?? r.buildArgs, { target: o.target, baseImageIds: o.baseImageIds }));
}

const BASIC = `FROM base:1
ENV A=1
WORKDIR /app
COPY a.txt .
RUN echo $A
USER 1000
RUN echo two
CMD ["x"]
`;

describe('BuildKit rules', () => {
  test('nothing changed: everything cached', () => {
    assert.deepEqual(run(BASIC, BASIC), { 1: 'cached', 2: 'cached', 3: 'cached', 4: 'cached', 5: 'cached', 6: 'cached', 7: 'cached', 8: 'cached' });
  });

  test('a RUN line edited: it and every line after it in the stage', () => {
    assert.deepEqual(run(BASIC, BASIC.replace('echo $A', 'echo $A again')), {
      1: 'cached', 2: 'cached', 3: 'cached', 4: 'cached', 5: 'will-rebuild: line 5 changed', 6: 'will-rebuild: line 5 changed', 7: 'will-rebuild: line 5 changed', 8: 'will-rebuild: line 5 changed',
    });
  });

  test('whitespace inside a RUN command is part of it; comments and continuation layout are not', () => {
    const a = 'FROM b\nRUN echo a \\\n  && echo b\nRUN x\n';
    assert.deepEqual(run(a, 'FROM b\nRUN echo a \\\n  # a comment\n  && echo b\nRUN x\n'), { 1: 'cached', 2: 'cached', 5: 'cached' });
    assert.equal(run(a, 'FROM b\nRUN echo a \\\n  &&  echo b\nRUN x\n')[2], 'will-rebuild: line 2 changed');
  });

  test('ENV edited: COPY and WORKDIR keep their cache, RUN lines after it rebuild', () => {
    assert.deepEqual(run(BASIC, BASIC.replace('ENV A=1', 'ENV A=2')), {
      1: 'cached', 2: 'will-rebuild: line 2 changed', 3: 'cached', 4: 'cached', 5: 'will-rebuild: line 2 changed', 6: 'will-rebuild: line 2 changed', 7: 'will-rebuild: line 2 changed', 8: 'will-rebuild: line 2 changed',
    });
  });

  test('USER edited: the RUN after it rebuilds (USER is in its key), not the lines before', () => {
    const r = run(BASIC, BASIC.replace('USER 1000', 'USER 1001'));
    assert.equal(r[5], 'cached');
    assert.equal(r[6], 'will-rebuild: line 6 changed');
    assert.equal(r[7], 'will-rebuild: line 6 changed');
  });

  test('a metadata line inserted or removed changes only what it feeds', () => {
    const r = run(BASIC, BASIC.replace('CMD ["x"]', 'LABEL a=b\nCMD ["x"]'));
    assert.equal(r[7], 'cached');
    assert.equal(r[8], 'will-rebuild: line 8 changed');
    assert.equal(r[9], 'cached');
    const r2 = run('FROM b\nLABEL x=1\nRUN a\n', 'FROM b\nRUN a\n');
    assert.deepEqual(r2, { 1: 'cached', 2: 'cached' });
  });

  test('a RUN line inserted: it and the rest rebuild; lines removed from the end: the rest stays cached', () => {
    assert.deepEqual(run('FROM b\nRUN a\nRUN c\n', 'FROM b\nRUN a\nRUN b\nRUN c\n'), { 1: 'cached', 2: 'cached', 3: 'will-rebuild: line 3 changed', 4: 'will-rebuild: line 3 changed' });
    assert.deepEqual(run('FROM b\nRUN a\nRUN c\n', 'FROM b\nRUN a\n'), { 1: 'cached', 2: 'cached' });
    assert.deepEqual(run('FROM b\nRUN a\nRUN c\n', 'FROM b\nRUN c\n'), { 1: 'cached', 2: 'will-rebuild: line 2 changed' });
  });

  test('SHELL changes the key of shell-form RUN lines after it, not exec-form ones', () => {
    const a = 'FROM b\nSHELL ["/bin/sh", "-c"]\nRUN ["x"]\nRUN y\n';
    const r = run(a, a.replace('["/bin/sh", "-c"]', '["/bin/bash", "-c"]'));
    assert.equal(r[3], 'cached');
    assert.equal(r[4], 'will-rebuild: line 2 changed');
  });

  test('WORKDIR: a changed directory rebuilds; WORKDIR / makes no step; relative COPY destinations follow it', () => {
    assert.equal(run('FROM b\nWORKDIR /a\nRUN x\n', 'FROM b\nWORKDIR /c\nRUN x\n')[2], 'will-rebuild: line 2 changed');
    assert.deepEqual(run('FROM b\nRUN x\n', 'FROM b\nWORKDIR /\nRUN x\n'), { 1: 'cached', 2: 'will-rebuild: line 2 changed', 3: 'cached' });
  });

  test('build args: the RUN lines that see a changed arg, with the arg named; unused args change nothing', () => {
    const a = 'ARG BASE=base\nFROM $BASE:1\nARG V=1\nCOPY a.txt /\nRUN echo hi\nARG W\nRUN echo $W\n';
    assert.deepEqual(run(a, a, { record: { buildArgs: { V: '1' } }, args: { V: '2' } }), {
      2: 'cached', 3: 'will-rebuild: build arg V changed', 4: 'cached', 5: 'will-rebuild: build arg V changed', 6: 'will-rebuild: build arg V changed', 7: 'will-rebuild: build arg V changed',
    });
    assert.equal(run(a, a, { args: { W: 'x' } })[5], 'cached');
    assert.equal(run(a, a, { args: { W: 'x' } })[7], 'will-rebuild: build arg W changed');
    assert.deepEqual(run(a, a, { args: { UNUSED: 'x' } })[7], 'cached');
    assert.equal(run(a, a, { args: { BASE: 'other' } })[2], 'will-rebuild: build arg BASE changed');
  });

  test('an ARG default edited: named by its line', () => {
    const a = 'FROM b\nARG V=1\nRUN echo\n';
    assert.equal(run(a, a.replace('V=1', 'V=2'))[3], 'will-rebuild: line 2 changed');
  });

  test('COPY sources: changed, added and removed files are named; others keep the cache', () => {
    const a = 'FROM b\nCOPY a.txt /\nCOPY src/*.py /py/\nCOPY src /src\nRUN x\n';
    const base = { 'a.txt': 'a', 'src/x.py': 'x', 'src/y.py': 'y', 'src/sub/z.txt': 'z' };
    assert.deepEqual(run(a, a, { files: { ...base, 'src/x.py': 'x2' } }), {
      1: 'cached', 2: 'cached', 3: 'will-rebuild: 1 file changed: src/x.py', 4: 'will-rebuild: line 3: 1 file changed', 5: 'will-rebuild: line 3: 1 file changed',
    });
    assert.equal(run(a, a, { files: { ...base, 'src/sub/new.txt': 'n', 'b.txt': 'b' } })[3], 'cached');
    assert.equal(run(a, a, { files: { ...base, 'src/sub/new.txt': 'n', 'b.txt': 'b' } })[4], 'will-rebuild: 1 file changed: src/sub/new.txt');
    const { 'src/y.py': _gone, ...without } = base;
    assert.equal(run(a, a, { files: { ...without, 'src/w.py': 'w', 'src/v.py': 'v', 'src/u.py': 'u' } })[3], 'will-rebuild: 4 files changed: src/u.py, src/v.py, src/w.py, …');
    // No manifest yet (still being computed): only the text counts.
    assert.equal(run(a, a, { files: null })[3], 'cached');
  });

  test('COPY . covers the whole context, the Dockerfile included; a mode change counts', () => {
    const a = 'FROM b\nCOPY . /app\n';
    assert.equal(run(a, a, { files: { 'a.txt': 'a', 'src/x.py': 'x', 'src/y.py': 'y', 'src/sub/z.txt': 'z', Dockerfile: 'new' } })[2], 'will-rebuild: 1 file changed: Dockerfile');
    const r = rec(a);
    const m: ContextManifest = JSON.parse(JSON.stringify(r.context)) as ContextManifest;
    m.files['a.txt'].mode = 0o755;
    assert.equal(summary(predict(r, a, m, {}))[2], 'will-rebuild: 1 file changed: a.txt');
  });

  test('COPY --from an external image and ADD from a URL do not read the context', () => {
    const a = 'FROM b\nCOPY --from=alpine:3 /etc/x /x\nADD https://example.com/f /f\nRUN --mount=type=bind,source=src,target=/s x\n';
    assert.deepEqual(run(a, a, { files: { 'a.txt': 'changed', 'src/x.py': 'x', 'src/y.py': 'y', 'src/sub/z.txt': 'z' } }), { 1: 'cached', 2: 'cached', 3: 'cached', 4: 'cached' });
    assert.equal(run(a, a, { files: { 'a.txt': 'a', 'src/x.py': 'changed', 'src/y.py': 'y', 'src/sub/z.txt': 'z' } })[4], 'will-rebuild: 1 file changed: src/x.py');
  });

  const MS = `FROM base:1 AS build
RUN make
FROM base:1 AS tools
RUN tool
FROM build AS test
RUN test
FROM base:1
COPY --from=build /out /out
COPY --from=tools /t /t
`;

  test('stages: FROM <stage> and COPY --from follow the stage they name', () => {
    assert.deepEqual(run(MS, MS.replace('RUN make', 'RUN make all')), {
      1: 'cached', 2: 'will-rebuild: line 2 changed', 3: 'cached', 4: 'cached', 7: 'cached', 8: 'will-rebuild: stage build rebuilds', 9: 'will-rebuild: stage build rebuilds',
    });
    // Built as the target, the stage FROM build follows it.
    const t = run(MS, MS.replace('RUN make', 'RUN make all'), { record: { target: 'test', stages: [0, 2] }, target: 'test' });
    assert.deepEqual(t, { 1: 'cached', 2: 'will-rebuild: line 2 changed', 5: 'will-rebuild: stage build rebuilds', 6: 'will-rebuild: stage build rebuilds' });
    const r = run(MS, MS.replace('RUN tool', 'RUN tool2'));
    assert.equal(r[8], 'cached');
    assert.equal(r[9], 'will-rebuild: stage tools rebuilds');
    assert.equal(r[5], undefined, 'test is not needed by the last stage: BuildKit skips it');
  });

  test('a renamed stage keeps its cache (names are not part of any key)', () => {
    const renamed = MS.replace('AS build', 'AS builder').replace('FROM build', 'FROM builder').replace('--from=build', '--from=builder');
    assert.ok(Object.values(run(MS, renamed)).every((v) => v === 'cached'), JSON.stringify(run(MS, renamed)));
  });

  test('target: a stage the last build skipped is predicted to build; only the target\'s stages are predicted', () => {
    const r = run(MS, MS, { target: 'test' });
    assert.deepEqual(r, { 1: 'cached', 2: 'cached', 5: 'will-rebuild: stage test was not built last time', 6: 'will-rebuild: stage test was not built last time' });
    const r2 = run(MS, MS + 'FROM base:1 AS extra\nRUN e\n');
    assert.equal(r2[10], 'will-rebuild: stage extra is new');
    assert.equal(r2[8], undefined, 'the old last stage is not the target any more');
  });

  test('FROM: a different image, or the same name pointing at another image id', () => {
    assert.deepEqual(run('FROM a:1\nRUN x\n', 'FROM a:2\nRUN x\n'), { 1: 'will-rebuild: line 1 changed', 2: 'will-rebuild: line 1 changed' });
    assert.deepEqual(run('FROM a:1 AS x\nRUN x\n', 'FROM docker.io/library/a:1 AS x\nRUN x\n'), { 1: 'cached', 2: 'cached' });
    const r = run('FROM a:1\nRUN x\n', 'FROM a:1\nRUN x\n', { record: { baseImages: { 'docker.io/library/a:1': 'sha256:old' } }, baseImageIds: { 'docker.io/library/a:1': 'sha256:new' } });
    assert.deepEqual(r, { 1: 'will-rebuild: base image changed', 2: 'will-rebuild: base image changed' });
  });

  test('heredoc bodies are part of the instruction', () => {
    const a = 'FROM b\nRUN <<EOF\necho 1\nEOF\nCOPY <<EOF /f\nhello\nEOF\nRUN x\n';
    assert.deepEqual(run(a, a.replace('hello', 'bye')), { 1: 'cached', 2: 'cached', 5: 'will-rebuild: line 5 changed', 8: 'will-rebuild: line 5 changed' });
    assert.equal(run(a, a.replace('echo 1', 'echo 2'))[2], 'will-rebuild: line 2 changed');
  });

  test('a half-typed file never throws', () => {
    for (const t of ['', 'FROM', 'FROM b\nRUN', 'FROM b\nCOPY', 'RUN x', 'FROM b AS\nCOPY --from= x', 'ARG\nFROM ${X:?}\n']) {
      assert.doesNotThrow(() => predict(rec(BASIC), t, null, {}), t);
    }
  });
});

describe('legacy builder rules', () => {
  test('any changed line rebuilds the rest, ENV and ARG included; FROM <stage> follows its stage', () => {
    const r = run(BASIC, BASIC.replace('ENV A=1', 'ENV A=2'), { record: { builder: 'legacy' } });
    assert.deepEqual(r, {
      1: 'cached', 2: 'will-rebuild: line 2 changed', 3: 'will-rebuild: line 2 changed', 4: 'will-rebuild: line 2 changed', 5: 'will-rebuild: line 2 changed', 6: 'will-rebuild: line 2 changed', 7: 'will-rebuild: line 2 changed', 8: 'will-rebuild: line 2 changed',
    });
    const ms = 'FROM b AS one\nRUN a\nFROM b AS two\nRUN c\nFROM one\nCOPY --from=two /x /x\n';
    const r2 = run(ms, ms.replace('RUN c', 'RUN c2'), { record: { builder: 'legacy' } });
    assert.deepEqual(r2, { 1: 'cached', 2: 'cached', 3: 'cached', 4: 'will-rebuild: line 4 changed', 5: 'cached', 6: 'will-rebuild: stage two rebuilds' });
  });

  test('legacy builds every stage up to the target', () => {
    const ms = 'FROM b AS one\nRUN a\nFROM b AS two\nRUN c\nFROM b\nRUN d\n';
    assert.deepEqual(stagesToBuild(parseDockerfile(ms), 'legacy', 'two'), [0, 1]);
    assert.deepEqual(stagesToBuild(parseDockerfile(ms), 'buildkit', null), [2]);
  });
});

describe('cacheFacts and recordLines', () => {
  test('unchanged: the recorded results with durations; changed: the prediction', () => {
    const r = rec(BASIC, { lines: { 1: { cache: 'cached', durationMs: 0, endLine: 1, stage: 0, keyword: 'FROM' }, 5: { cache: 'built', durationMs: 3200, endLine: 5, stage: 0, keyword: 'RUN' } } });
    assert.deepEqual([...cacheFacts(r, BASIC, r.context, {}).entries()], [[1, { cache: 'cached', durationMs: 0 }], [5, { cache: 'built', durationMs: 3200 }]]);
    const f = cacheFacts(r, BASIC.replace('echo two', 'echo 2'), r.context, {});
    assert.deepEqual(f.get(7), { cache: 'will-rebuild', reason: 'line 7 changed' });
    assert.deepEqual(f.get(5), { cache: 'cached' });
    // Same text, a context file changed: predictions too.
    assert.deepEqual(cacheFacts(r, BASIC, manifest({ 'a.txt': 'changed' }), {}).get(4), { cache: 'will-rebuild', reason: '1 file changed: a.txt' });
  });

  test('recordLines keeps finished steps only', () => {
    const lines = recordLines([
      { instruction: 1, line: 1, endLine: 1, stage: 0, keyword: 'FROM', state: 'cached', durationMs: 0 },
      { instruction: 2, line: 2, endLine: 3, stage: 0, keyword: 'RUN', state: 'built', durationMs: 12 },
      { instruction: 3, line: 4, endLine: 4, stage: 0, keyword: 'RUN', state: 'failed', durationMs: 5 },
      { instruction: 4, line: 5, endLine: 5, stage: 0, keyword: 'RUN', state: 'pending', durationMs: 0 },
    ]);
    assert.deepEqual(lines, {
      1: { cache: 'cached', durationMs: 0, endLine: 1, stage: 0, keyword: 'FROM' },
      2: { cache: 'built', durationMs: 12, endLine: 3, stage: 0, keyword: 'RUN' },
      4: { cache: 'built', durationMs: 5, endLine: 4, stage: 0, keyword: 'RUN', failed: true },
    });
  });
});

describe('context sources', () => {
  test('paths, wildcards (Go filepath.Match, no / crossing), the whole context', () => {
    assert.equal(cleanContextPath('./a/../b/'), 'b');
    assert.equal(cleanContextPath('/'), '');
    assert.equal(cleanContextPath('.'), '');
    assert.ok(coveredBy('', 'x/y'));
    assert.ok(coveredBy('src', 'src/a/b'));
    assert.ok(!coveredBy('src', 'srcx/a'));
    assert.ok(coveredBy('src/*.py', 'src/a.py'));
    assert.ok(!coveredBy('src/*.py', 'src/sub/a.txt'));
    assert.ok(coveredBy('*', 'anything/below'));
    assert.ok(coveredBy('s?c', 'src/a'));
    assert.ok(pathMatch('[a-c]x', 'bx') && !pathMatch('[^a-c]x', 'bx') && pathMatch('[!a-c]x', 'dx'));
    assert.ok(pathMatch('a\\*b', 'a*b') && !pathMatch('a\\*b', 'axb'));
    assert.deepEqual(contextSources(parseDockerfile('FROM b\nCOPY --chown=1 a "b c" ./d/ /x/\n').instructions[1]), ['a', 'b c', 'd']);
    assert.deepEqual(contextSources(parseDockerfile('FROM b\nRUN --mount=type=cache,target=/c --mount=target=/s x\n').instructions[1]), ['']);
  });

  test('changedUnder: added, removed, modified; directories only when they appear or go', () => {
    const before: ContextManifest = { files: { d: { size: 0, sha256: '', type: 'dir', mode: 0o755 }, 'd/a': { size: 1, sha256: 'a', mode: 0o644 }, 'd/b': { size: 1, sha256: 'b' } } };
    const now: ContextManifest = { files: { d: { size: 0, sha256: '', type: 'dir', mode: 0o755 }, 'd/a': { size: 1, sha256: 'a2', mode: 0o644 }, 'd/c': { size: 1, sha256: 'c' }, e: { size: 0, sha256: '', type: 'dir' } } };
    assert.deepEqual(changedUnder(before, now, ['d']), ['d/a', 'd/b', 'd/c']);
    assert.deepEqual(changedUnder(before, now, ['']), ['d/a', 'd/b', 'd/c', 'e']);
    assert.deepEqual(changedUnder(before, now, ['x']), []);
  });
});

describe('big contexts', () => {
  test('50,000 files and 42 COPY lines: the comparison is done once per pair of manifests', () => {
    const files: ContextManifest['files'] = {};
    for (let i = 0; i < 50_000; i++) files[`src/d${i % 500}/f${i}.py`] = { size: i, sha256: `h${i}`, mode: 0o644 };
    const now: ContextManifest = { files: { ...files, 'src/d1/f1.py': { size: 1, sha256: 'changed', mode: 0o644 } } };
    let text = 'FROM base:1\nWORKDIR /app\n';
    for (let i = 0; i < 20; i++) text += `COPY src/d${i}/ /app/d${i}/\nRUN echo ${i}\n`;
    text += 'COPY src/*/f*.py /all/\nCOPY . /everything\n';
    const r = rec(text, { context: { files } });
    const first = predict(r, text, now, {});
    // The comparison of the two manifests is memoized per pair: the same array, not made again.
    const compared = changedPaths(r.context!, now);
    assert.deepEqual(compared, ['src/d1/f1.py']);
    const again = predict(r, text, now, {});
    assert.equal(changedPaths(r.context!, now), compared);
    assert.deepEqual(again, first);
    assert.equal(first.find((p) => p.line === 5)?.reason, '1 file changed: src/d1/f1.py');
    assert.equal(first.filter((p) => p.cache === 'will-rebuild').length, 40);
  });
});

// ---------------------------------------------------------------------------------------------
// runBuild with fake engines

function traceMessages(name: string): BuildStreamMessage[] {
  return readFileSync(path.join(TRACES, `${name}.ndjson`), 'utf8').split('\n').filter(Boolean).map((l) => JSON.parse(l) as BuildStreamMessage);
}

interface Call { version: '1' | '2'; networkmode?: string; tar: string }

function fakeEngine(script: (call: Call, n: number) => BuildStreamMessage[] | Error): { engine: BuildEngine<string>; calls: Call[] } {
  const calls: Call[] = [];
  const engine: BuildEngine<string> = {
    build(tar, opts) {
      const call: Call = { version: opts.version, networkmode: opts.networkmode, tar };
      calls.push(call);
      const r = script(call, calls.length);
      return (async function* () {
        if (r instanceof Error) throw r;
        for (const m of r) yield m;
      })();
    },
    inspectImage: async (name) => ({ id: `sha256:id-of-${name}` }),
  };
  return { engine, calls };
}

const MS_TEXT = load('multistage-copy-edit-1.engine20').meta.dockerfile;

function packer(): () => { tar: string; manifest: Promise<{ manifest: ContextManifest; mtimes: Record<string, number> }> } {
  let n = 0;
  return () => ({ tar: `tar#${++n}`, manifest: Promise.resolve({ manifest: manifest({ 'hello.txt': 'h' }), mtimes: { 'hello.txt': 1 } }) });
}

describe('runBuild', () => {
  test('BuildKit: the record holds every line, the context, the stages, the base image ids', async () => {
    const { engine, calls } = fakeEngine(() => traceMessages('multistage-copy-edit-1.engine20'));
    const steps: string[] = [];
    const o = await runBuild({ engine, pack: packer(), dockerfileRel: 'Dockerfile', dockerfileText: MS_TEXT, tag: 'x:1', buildArgs: {}, target: null, onStep: (s) => steps.push(s) });
    assert.equal(o.failed, false);
    assert.deepEqual(calls.map((c) => [c.version, c.networkmode, c.tar]), [['2', undefined, 'tar#1']]);
    assert.equal(o.record.builder, 'buildkit');
    assert.deepEqual(Object.keys(o.record.lines).map(Number), [1, 2, 3, 4, 6, 7, 10, 12, 13, 14, 15]);
    assert.deepEqual(o.record.stages, [0, 1, 2, 3]);
    assert.deepEqual(o.record.context, manifest({ 'hello.txt': 'h' }));
    assert.deepEqual(o.record.baseImages, { 'docker.io/library/llbase:1': 'sha256:id-of-llbase:1' });
    assert.deepEqual(o.mtimes, { 'hello.txt': 1 });
    assert.ok(steps.length > 5);
  });

  test('an engine without BuildKit: the legacy builder, with a fresh tar', async () => {
    const { engine, calls } = fakeEngine((c) => (c.version === '2' ? new Error('The Docker engine at unix:///x failed build (HTTP 400): buildkit not supported by daemon') : traceMessages('multistage-legacy-1.engine20')));
    const logs: string[] = [];
    const o = await runBuild({ engine, pack: packer(), dockerfileRel: 'Dockerfile', dockerfileText: MS_TEXT, tag: 'x:1', buildArgs: {}, target: null, log: (l) => logs.push(l) });
    assert.deepEqual(calls.map((c) => [c.version, c.tar]), [['2', 'tar#1'], ['1', 'tar#2']]);
    assert.equal(o.record.builder, 'legacy');
    assert.equal(o.version, '1');
    assert.match(logs.join('\n'), /legacy builder/);
    assert.deepEqual(o.record.stages, [0, 1, 2, 3]);
  });

  test('no bridge network: built again with networkmode host', async () => {
    const noBridge: BuildStreamMessage[] = [{ stream: 'Step 1/2 : FROM llbase:1 AS build\n' }, { errorDetail: { message: 'failed to create endpoint x on network bridge: network bridge not found' }, error: 'x' }];
    const { engine, calls } = fakeEngine((c) => (c.networkmode === undefined ? noBridge : traceMessages('multistage-copy-edit-1.engine20')));
    const o = await runBuild({ engine, pack: packer(), dockerfileRel: 'Dockerfile', dockerfileText: MS_TEXT, tag: 'x:1', buildArgs: {}, target: null });
    assert.deepEqual(calls.map((c) => c.networkmode), [undefined, 'host']);
    assert.equal(o.failed, false);
    assert.equal(o.networkmode, 'host');
  });

  test('a failing step: an outcome with the line, not an exception; other engine errors are thrown', async () => {
    const text = 'FROM a\nRUN ok\nRUN bad\n';
    const fail: BuildStreamMessage[] = [
      { stream: 'Step 1/3 : FROM a\n' }, { stream: ' ---> 1234567890ab\n' }, { stream: 'Step 2/3 : RUN ok\n' }, { stream: ' ---> Using cache\n' },
      { stream: 'Step 3/3 : RUN bad\n' }, { stream: ' ---> Running in abcdefabcdef\n' },
      { error: "The command '/bin/sh -c bad' returned a non-zero code: 127", errorDetail: { message: "The command '/bin/sh -c bad' returned a non-zero code: 127" } },
    ];
    const { engine } = fakeEngine(() => fail);
    const o = await runBuild({ engine, pack: packer(), dockerfileRel: 'Dockerfile', dockerfileText: text, tag: 'x:1', buildArgs: {}, target: null, version: '1' });
    assert.equal(o.failed, true);
    assert.equal(o.errorLine, 3);
    assert.equal(o.record.lines[2].cache, 'cached');
    assert.equal(o.record.lines[3].failed, true);
    const cancelled = Object.assign(new Error('Build of \'x:1\' was cancelled'), { code: 'aborted' });
    const { engine: e2, calls } = fakeEngine(() => cancelled);
    await assert.rejects(runBuild({ engine: e2, pack: packer(), dockerfileRel: 'Dockerfile', dockerfileText: text, tag: 'x:1', buildArgs: {}, target: null }), /cancelled/);
    assert.equal(calls.length, 1, 'a cancellation is not retried with the legacy builder');
  });

  test('the context could not be read: the build fails with that reason', async () => {
    const { engine } = fakeEngine(() => traceMessages('multistage-copy-edit-1.engine20'));
    const o = await runBuild({
      engine, dockerfileRel: 'Dockerfile', dockerfileText: MS_TEXT, tag: 'x:1', buildArgs: {}, target: null,
      pack: () => {
        const manifest = Promise.reject(new Error('hello.txt: permission denied'));
        manifest.catch(() => undefined);
        return { tar: 't', manifest };
      },
    });
    assert.equal(o.failed, true);
    assert.match(o.error ?? '', /Cannot send the build context: hello.txt: permission denied/);
    assert.equal(o.record.context, null);
  });
});
