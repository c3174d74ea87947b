// Unit tests of the build trace reader: the protobuf StatusResponse decoder (hand-encoded messages
// and the recorded traces of engines 20.10 / 26.1), vertex merging, vertex names → Dockerfile
// lines (multi-stage, shared FROM vertices, ONBUILD triggers, WORKDIR /), the legacy builder's
// text (and Podman's), and BuildProgress over whole recorded builds.
import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import * as path from 'node:path';
import {
  BuildProgress, BuildTrace, LegacyBuildLog, buildkitSteps, mapLegacyToDockerfile, mapTraceToDockerfile, normalizeImageRef, parseVertexName,
} from '../../../../src/core/dockerfile/buildTrace';
import {
  TraceDecodeError, decodeStatusResponse, decodeTraceAux, type BuildStreamMessage, type StatusResponse,
} from '../../../../src/core/dockerfile/traceWire';
import { parseDockerfile } from '../../../../src/core/dockerfile/dockerfile';
import { repoRoot } from '../../../support/repo';

const TRACES = path.join(repoRoot(), 'test', 'fixtures', 'traces');

// ---------------------------------------------------------------------------------------------
// A tiny protobuf encoder for hand-made messages

function varint(n: number | bigint): number[] {
  let v = BigInt.asUintN(64, BigInt(n));
  const out: number[] = [];
  do {
    let b = Number(v & 0x7fn);
    v >>= 7n;
    if (v !== 0n) b |= 0x80;
    out.push(b);
  } while (v !== 0n);
  return out;
}
const key = (field: number, wire: number): number[] => varint(field * 8 + wire);
const len = (field: number, bytes: number[]): number[] => [...key(field, 2), ...varint(bytes.length), ...bytes];
const str = (field: number, s: string): number[] => len(field, [...Buffer.from(s, 'utf8')]);
const vint = (field: number, n: number | bigint): number[] => [...key(field, 0), ...varint(n)];
const ts = (field: number, seconds: number, nanos: number): number[] => len(field, [...vint(1, seconds), ...vint(2, nanos)]);
const b64 = (bytes: number[]): string => Buffer.from(bytes).toString('base64');

function vertex(o: { digest: string; inputs?: string[]; name: string; cached?: boolean; started?: [number, number]; completed?: [number, number]; error?: string }): number[] {
  return [
    ...str(1, o.digest),
    ...(o.inputs ?? []).flatMap((i) => str(2, i)),
    ...str(3, o.name),
    ...(o.cached ? vint(4, 1) : []),
    ...(o.started ? ts(5, ...o.started) : []),
    ...(o.completed ? ts(6, ...o.completed) : []),
    ...(o.error ? str(7, o.error) : []),
  ];
}

describe('protobuf StatusResponse', () => {
  test('every field of vertexes, statuses, logs and warnings', () => {
    const msg = [
      ...len(1, vertex({ digest: 'sha256:aa', inputs: ['sha256:p1', 'sha256:p2'], name: '[2/3] RUN make', cached: true, started: [1700000000, 500_000_000], completed: [1700000002, 750_000_000], error: 'boom' })),
      ...len(2, [...str(1, 'extracting sha256:x'), ...str(2, 'sha256:aa'), ...str(3, 'extracting'), ...vint(4, 1234), ...vint(5, 5678), ...ts(6, 1700000001, 0), ...ts(7, 1700000000, 1), ...ts(8, 1700000003, 0)]),
      ...len(3, [...str(1, 'sha256:aa'), ...ts(2, 1700000001, 0), ...vint(3, 2), ...len(4, [...Buffer.from('hello\n')])]),
      ...len(4, [...str(1, 'sha256:aa'), ...vint(2, 1), ...str(3, 'short'), ...str(4, 'd1'), ...str(4, 'd2'), ...str(5, 'https://x')]),
    ];
    const s = decodeStatusResponse(Uint8Array.from(msg));
    assert.equal(s.vertexes.length, 1);
    const v = s.vertexes[0];
    assert.deepEqual(v.inputs, ['sha256:p1', 'sha256:p2']);
    assert.equal(v.name, '[2/3] RUN make');
    assert.equal(v.cached, true);
    assert.equal(v.started, 1700000000_500);
    assert.equal(v.completed, 1700000002_750);
    assert.equal(v.error, 'boom');
    assert.deepEqual({ ...s.statuses[0] }, {
      id: 'extracting sha256:x', vertex: 'sha256:aa', name: 'extracting', current: 1234, total: 5678,
      timestamp: 1700000001_000, started: 1700000000_000 + 1e-6, completed: 1700000003_000,
    });
    assert.equal(s.logs[0].stream, 2);
    assert.equal(Buffer.from(s.logs[0].msg).toString(), 'hello\n');
    assert.deepEqual(s.warnings[0], { vertex: 'sha256:aa', level: 1, short: 'short', detail: ['d1', 'd2'], url: 'https://x' });
  });

  test('unknown fields of every wire type are skipped; an unset or Go-zero timestamp is null', () => {
    const msg = [
      ...vint(9, 7), ...key(10, 1), 1, 2, 3, 4, 5, 6, 7, 8, ...key(11, 5), 1, 2, 3, 4, ...str(12, 'future'),
      ...len(1, [...vertex({ digest: 'sha256:bb', name: 'x' }), ...len(8, [...str(1, 'pg')]), ...ts(5, 0, 0), ...len(6, [...vint(1, -62135596800)])]),
    ];
    const s = decodeStatusResponse(Uint8Array.from(msg));
    assert.equal(s.vertexes[0].digest, 'sha256:bb');
    assert.equal(s.vertexes[0].started, null);
    assert.equal(s.vertexes[0].completed, null);
  });

  test('negative int64 (10-byte varint) and large counters', () => {
    const s = decodeStatusResponse(Uint8Array.from(len(2, [...vint(4, -5), ...vint(5, 2 ** 40)])));
    assert.equal(s.statuses[0].current, -5);
    assert.equal(s.statuses[0].total, 2 ** 40);
  });

  test('malformed input: a TraceDecodeError, never a crash or a hang', () => {
    const good = len(1, vertex({ digest: 'sha256:cc', name: 'n' }));
    for (let cut = 1; cut < good.length; cut++) {
      assert.throws(() => decodeStatusResponse(Uint8Array.from(good.slice(0, cut))), TraceDecodeError, `cut at ${cut}`);
    }
    assert.throws(() => decodeStatusResponse(Uint8Array.from([...key(1, 0), 5])), TraceDecodeError, 'wrong wire type');
    assert.throws(() => decodeStatusResponse(Uint8Array.from([...key(3, 3)])), TraceDecodeError, 'group wire type');
    assert.throws(() => decodeTraceAux('not base64 !!'), TraceDecodeError);
    assert.deepEqual(decodeTraceAux(''), { vertexes: [], statuses: [], logs: [], warnings: [] });
    // Random bytes: either decodes or throws TraceDecodeError.
    let seed = 42;
    const rnd = (): number => (seed = (seed * 1103515245 + 12345) & 0x7fffffff) & 0xff;
    for (let i = 0; i < 500; i++) {
      const bytes = Uint8Array.from({ length: 1 + (i % 64) }, rnd);
      try {
        decodeStatusResponse(bytes);
      } catch (e) {
        assert.ok(e instanceof TraceDecodeError, String(e));
      }
    }
  });

  test('base64 of a hand-made message round-trips through decodeTraceAux', () => {
    const s = decodeTraceAux(b64(len(1, vertex({ digest: 'sha256:dd', name: '[internal] load build context' }))));
    assert.equal(s.vertexes[0].name, '[internal] load build context');
  });
});

// ---------------------------------------------------------------------------------------------

function sr(vs: Array<Parameters<typeof vertex>[0]>, extra: Partial<StatusResponse> = {}): StatusResponse {
  return { ...decodeStatusResponse(Uint8Array.from(vs.flatMap((v) => len(1, vertex(v))))), ...extra };
}

describe('BuildTrace', () => {
  test('updates merge: last cached flag, earliest start, errors kept, restarts add up', () => {
    const t = new BuildTrace();
    t.add(sr([{ digest: 'd1', name: '[1/2] FROM docker.io/library/x:latest' }]));
    t.add(sr([{ digest: 'd1', name: '[1/2] FROM docker.io/library/x:latest', started: [100, 0] }]));
    assert.equal(t.running().length, 1);
    assert.equal(t.latest()?.digest, 'd1');
    t.add(sr([{ digest: 'd1', name: '[1/2] FROM docker.io/library/x:latest', started: [100, 0], completed: [101, 0] }]));
    // started again later (BuildKit re-runs a vertex after its first completion)
    t.add(sr([{ digest: 'd1', name: '[1/2] FROM docker.io/library/x:latest', started: [105, 0] }]));
    t.add(sr([{ digest: 'd1', name: '[1/2] FROM docker.io/library/x:latest', started: [105, 0], completed: [105, 500_000_000], cached: true }]));
    const v = t.vertex('d1')!;
    assert.equal(v.cached, true);
    assert.equal(v.started, 100_000);
    assert.equal(v.durationMs, 1500);
    t.add(sr([{ digest: 'd2', inputs: ['d1'], name: '[2/2] RUN x', started: [106, 0], completed: [107, 0], error: 'exit 1' }]));
    t.add(sr([{ digest: 'd2', inputs: ['d1'], name: '[2/2] RUN x', started: [106, 0], completed: [107, 0] }]));
    assert.equal(t.failed()?.digest, 'd2');
    assert.deepEqual(t.vertices.map((x) => x.digest), ['d1', 'd2']);
    assert.equal(t.vertices[1].durationMs, 1000);
  });

  test('logs keep a bounded tail; statuses count per vertex', () => {
    const t = new BuildTrace();
    t.add(sr([{ digest: 'd1', name: 'n' }]));
    const big = 'x'.repeat(3000);
    for (let i = 0; i < 3; i++) {
      t.add({ vertexes: [], statuses: [{ id: 's', vertex: 'd1', name: '', current: 0, total: 0, timestamp: null, started: null, completed: null }], logs: [{ vertex: 'd1', timestamp: null, stream: 1, msg: Buffer.from(big + i) }], warnings: [] });
    }
    const v = t.vertex('d1')!;
    assert.equal(v.statusCount, 3);
    assert.ok(v.logTail.length <= 4000);
    assert.ok(v.logTail.endsWith('x2'));
  });
});

describe('vertex names', () => {
  test('step prefixes of BuildKit 0.8 and later', () => {
    assert.deepEqual(parseVertexName('[stage-1 3/5] RUN make'), { platform: null, stage: 'stage-1', index: 3, total: 5, text: 'RUN make', keyword: 'RUN' });
    assert.deepEqual(parseVertexName('[ 2/12] COPY . /app'), { platform: null, stage: null, index: 2, total: 12, text: 'COPY . /app', keyword: 'COPY' });
    assert.deepEqual(parseVertexName('[build  1/12] FROM docker.io/library/x:1'), { platform: null, stage: 'build', index: 1, total: 12, text: 'FROM docker.io/library/x:1', keyword: 'FROM' });
    assert.deepEqual(parseVertexName('[linux/amd64 build 4/4] RUN echo'), { platform: 'linux/amd64', stage: 'build', index: 4, total: 4, text: 'RUN echo', keyword: 'RUN' });
    assert.deepEqual(parseVertexName('[linux/arm64/v8 2/2] RUN echo'), { platform: 'linux/arm64/v8', stage: null, index: 2, total: 2, text: 'RUN echo', keyword: 'RUN' });
    assert.equal(parseVertexName('[3/2] COPY hello.txt /from-trigger/')?.index, 3);
    assert.deepEqual(parseVertexName('[x 1/1] RUN a\nb')?.text, 'RUN a\nb');
    for (const n of ['[internal] load build definition from Dockerfile', 'exporting to image', 'copy /context /', '[auth] library/x:pull token', '']) {
      assert.equal(parseVertexName(n), null, n);
    }
  });

  test('image references as FROM vertices name them', () => {
    assert.equal(normalizeImageRef('busybox'), 'docker.io/library/busybox:latest');
    assert.equal(normalizeImageRef('llbase:1'), 'docker.io/library/llbase:1');
    assert.equal(normalizeImageRef('layerlens-test/busybox'), 'docker.io/layerlens-test/busybox:latest');
    assert.equal(normalizeImageRef('ghcr.io/o/r:2'), 'ghcr.io/o/r:2');
    assert.equal(normalizeImageRef('localhost:5000/r'), 'localhost:5000/r:latest');
    assert.equal(normalizeImageRef('x@sha256:abc'), 'docker.io/library/x@sha256:abc');
    assert.equal(normalizeImageRef('scratch'), 'scratch');
  });

  test('numbered steps: FROM an image, RUN/COPY/ADD, WORKDIR except WORKDIR /', () => {
    const m = parseDockerfile('FROM a AS one\nENV X=1\nWORKDIR /\nWORKDIR /w\nRUN x\nFROM one\nCOPY a b\nFROM scratch\nADD f /\n');
    assert.deepEqual(buildkitSteps(m, 0).map((i) => i.line), [1, 4, 5]);
    assert.deepEqual(buildkitSteps(m, 1).map((i) => i.line), [7]);
    assert.deepEqual(buildkitSteps(m, 2).map((i) => i.line), [9]);
  });

  test('identical stages share vertices: the second stage is mapped through the inputs chain', () => {
    const model = parseDockerfile('FROM x AS a\nRUN same\nFROM x AS b\nRUN same\nRUN only-b\n');
    const vs = [
      { digest: 'f', name: '[a 1/2] FROM docker.io/library/x:latest', started: [1, 0] as [number, number], completed: [1, 0] as [number, number] },
      { digest: 'r', inputs: ['f'], name: '[a 2/2] RUN same', started: [2, 0] as [number, number], completed: [3, 0] as [number, number] },
      { digest: 'o', inputs: ['r'], name: '[b 3/3] RUN only-b', started: [3, 0] as [number, number], completed: [4, 0] as [number, number] },
    ];
    const t = new BuildTrace();
    t.add(sr(vs));
    const res = mapTraceToDockerfile(model, t.vertices);
    assert.deepEqual(res.map((r) => [r.line, r.state, r.durationMs]), [[1, 'cached', 0], [2, 'built', 1000], [3, 'cached', 0], [4, 'built', 1000], [5, 'built', 1000]]);
  });
});

// ---------------------------------------------------------------------------------------------
// Recorded builds

interface TraceMeta {
  engine: string;
  builder: 'buildkit' | 'legacy';
  dockerfile: string;
  buildArgs: Record<string, string>;
  target: string | null;
  /** The text the engine got, when it differs (an unnamed target stage named in it). */
  sent?: string;
  /** The stages the build ran. */
  stages: number[];
  lines: Record<string, { cache: string; keyword: string }>;
}

function traceNames(): string[] {
  return readdirSync(TRACES).filter((f) => f.endsWith('.ndjson')).map((f) => f.replace(/\.ndjson$/, '')).sort();
}

function replay(name: string): { progress: BuildProgress; meta: TraceMeta; messages: BuildStreamMessage[] } {
  const meta = JSON.parse(readFileSync(path.join(TRACES, `${name}.json`), 'utf8')) as TraceMeta;
  const messages = readFileSync(path.join(TRACES, `${name}.ndjson`), 'utf8').split('\n').filter(Boolean).map((l) => JSON.parse(l) as BuildStreamMessage);
  const progress = new BuildProgress();
  let t = 0;
  for (const m of messages) progress.feed(m, (t += 10));
  progress.end(t + 10);
  return { progress, meta, messages };
}

describe('recorded traces (engines 20.10 and 26.1)', () => {
  test('there are traces of both engines and both builders', () => {
    const names = traceNames();
    assert.ok(names.some((n) => n.endsWith('engine20')) && names.some((n) => n.endsWith('engine26')), names.join());
    assert.ok(names.some((n) => n.includes('legacy')));
    assert.ok(names.length >= 20);
  });

  for (const name of traceNames()) {
    test(`${name}: every message decodes and maps to the lines recorded with it`, () => {
      const { progress, meta } = replay(name);
      assert.equal(progress.undecodable, 0);
      assert.equal(progress.builder, meta.builder);
      assert.equal(progress.error, null);
      assert.match(progress.imageId ?? '', /^sha256:[0-9a-f]{64}$/);
      // The trace names stages as sent; its lines are the user's (Build Image names an unnamed target at the end of its FROM).
      const model = parseDockerfile(meta.sent ?? meta.dockerfile, { buildArgs: meta.buildArgs });
      assert.deepEqual(model.instructions.map((i) => i.line), parseDockerfile(meta.dockerfile, { buildArgs: meta.buildArgs }).instructions.map((i) => i.line));
      const results = progress.results(model, meta.stages);
      const got = Object.fromEntries(results.map((r) => [String(r.line), `${r.keyword} ${r.state}`]));
      const want = Object.fromEntries(Object.entries(meta.lines).map(([l, r]) => [l, `${r.keyword} ${r.cache}`]));
      assert.deepEqual(got, want);
      // Every step instruction of a built stage has a result (BuildKit: the numbered ones; legacy: all but FROM <stage>).
      for (const r of results) assert.ok(model.instructions[r.instruction].line === r.line);
    });
  }

  test('multistage, BuildKit: one FROM vertex serves three stages; durations come from the trace', () => {
    for (const engine of ['engine20', 'engine26']) {
      const { progress, meta } = replay(`multistage-buildkit.${engine}`);
      const model = parseDockerfile(meta.dockerfile);
      const res = progress.results(model);
      const froms = res.filter((r) => r.keyword === 'FROM');
      assert.deepEqual(froms.map((r) => r.line), [1, 6, 12], engine);
      assert.equal(new Set(froms.map((r) => r.vertices![0])).size, 1, `${engine}: shared FROM vertex`);
      const run = res.find((r) => r.line === 4)!;
      assert.equal(run.state, 'built');
      assert.ok(run.durationMs > 0 && run.durationMs < 60_000, `${engine}: ${run.durationMs}`);
      assert.equal(res.find((r) => r.line === 16), undefined, 'CMD has no vertex');
      assert.equal(res.find((r) => r.line === 9), undefined, 'FROM <stage> has no vertex');
    }
  });

  test('onbuild child: trigger vertices are numbered past the total and fold into FROM', () => {
    for (const engine of ['engine20', 'engine26']) {
      const { progress, meta } = replay(`onbuild-child.${engine}`);
      const res = progress.results(parseDockerfile(meta.dockerfile));
      assert.deepEqual(res.map((r) => [r.line, r.keyword, r.triggers ?? 0]), [[1, 'FROM', 2], [2, 'RUN', 0]], engine);
      assert.equal(res[0].vertices!.length, 3);
    }
  });

  test('progress text and counts while a recorded build streams', () => {
    const messages = readFileSync(path.join(TRACES, 'multistage-buildkit.engine20.ndjson'), 'utf8').split('\n').filter(Boolean).map((l) => JSON.parse(l) as BuildStreamMessage);
    const p = new BuildProgress();
    const seen = new Set<string>();
    let maxDone = 0;
    for (const m of messages) {
      p.feed(m);
      const s = p.currentStep();
      if (s) seen.add(s);
      maxDone = Math.max(maxDone, p.counts().done);
    }
    assert.ok([...seen].some((s) => s.startsWith('[build 4/4] RUN mkdir')), [...seen].join('\n'));
    assert.deepEqual(p.counts(), { done: 9, total: 9 });
    assert.equal(maxDone, 9);
  });
});

// ---------------------------------------------------------------------------------------------

describe('legacy builder output', () => {
  const df = 'ARG V=1\nFROM base:1 AS a\nENV X=1\nRUN echo $X\nFROM a\nCOPY f /f\n';

  test('Step lines split across messages, Using cache, Running in, image ids; durations from arrival times', () => {
    const log = new LegacyBuildLog();
    const chunks: Array<[string, number]> = [
      ['Step 1/6 : ARG V=1', 0], ['\n', 0],
      ['Step 2/6 : FROM base:1 AS a', 10], ['\n', 10], [' ---> 1234567890ab\n', 20],
      ['Step 3/6 : ENV X=1', 30], ['\n', 30], [' ---> Using cache\n', 35], [' ---> 2234567890ab\n', 35],
      ['Step 4/6 : RUN echo $X', 40], ['\n', 40], [' ---> Running in ', 50], ['abcdef123456\n1\n', 60], ['Removing intermediate container abcdef123456\n ---> 3234567890ab\n', 1540],
      ['Step 5/6 : FROM a', 1550], ['\n', 1550], [' ---> 3234567890ab\n', 1550],
      ['Step 6/6 : COPY f /f', 1560], ['\n', 1560], [' ---> 4234567890ab\n', 1660],
      ['Successfully built 4234567890ab\n', 1700],
    ];
    for (const [c, t] of chunks) log.feed(c, t);
    log.end(1800);
    const steps = log.steps;
    assert.deepEqual(steps.map((s) => [s.step, s.keyword, s.cached, s.ran]), [
      [1, 'ARG', false, false], [2, 'FROM', false, false], [3, 'ENV', true, false], [4, 'RUN', false, true], [5, 'FROM', false, false], [6, 'COPY', false, false],
    ]);
    assert.equal(steps[3].output, '1\n');
    assert.equal(steps[3].imageId, '3234567890ab');
    const res = mapLegacyToDockerfile(parseDockerfile(df), steps);
    assert.deepEqual(res.map((r) => [r.line, r.keyword, r.state, r.durationMs]), [
      [2, 'FROM', 'cached', 0], [3, 'ENV', 'cached', 0], [4, 'RUN', 'built', 1510], [6, 'COPY', 'built', 140],
    ]);
  });

  test('build triggers, a pulled base, and an error ending the current step', () => {
    const log = new LegacyBuildLog();
    log.feed('Step 1/2 : FROM base:1 AS a\n', 0);
    log.feed('1: Pulling from library/base\nPull complete\n# Executing 1 build trigger\n ---> Running in 0123456789ab\n ---> 5234567890ab\n', 5);
    log.feed('Step 2/2 : ENV X=1\n', 100);
    log.end(150, 'something broke');
    const steps = log.steps;
    assert.equal(steps[0].pulled, true);
    assert.equal(steps[0].triggers, 1);
    assert.equal(steps[1].error, 'something broke');
    const res = mapLegacyToDockerfile(parseDockerfile('FROM base:1 AS a\nENV X=1\n'), steps);
    assert.deepEqual(res.map((r) => [r.line, r.state, r.triggers ?? 0]), [[1, 'built', 1], [2, 'failed', 0]]);
  });

  test("Podman's compat output (STEP N/M: ..., --> Using cache <id>)", () => {
    const log = new LegacyBuildLog();
    log.feed('STEP 1/3: FROM base:1\nSTEP 2/3: RUN echo a\n--> Using cache 9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08\n--> 9f86d081884c\nSTEP 3/3: RUN echo b\nb\n--> 1111d081884c\nCOMMIT x\n', 0);
    log.end(10);
    assert.deepEqual(log.steps.map((s) => [s.step, s.cached]), [[1, false], [2, true], [3, false]]);
    const res = mapLegacyToDockerfile(parseDockerfile('FROM base:1\nRUN echo a\nRUN echo b\n'), log.steps);
    assert.deepEqual(res.map((r) => [r.line, r.state]), [[1, 'cached'], [2, 'cached'], [3, 'built']]);
  });
});

describe('BuildProgress', () => {
  test('errors: a parse error names its line; a failed vertex gives the failing step', () => {
    const p = new BuildProgress();
    p.feed({ errorDetail: { message: 'failed to solve with frontend dockerfile.v0: failed to create LLB definition: dockerfile parse error line 3: unknown instruction: ECHO' }, error: 'x' });
    assert.deepEqual(p.failure(parseDockerfile('FROM a\nRUN <<EOF\necho\nEOF\n')), { line: 3, message: 'failed to solve with frontend dockerfile.v0: failed to create LLB definition: dockerfile parse error line 3: unknown instruction: ECHO' });
    const q = new BuildProgress();
    const model = parseDockerfile('FROM a\nRUN ok\nRUN bad\n');
    q.feed({ id: 'moby.buildkit.trace', aux: b64(len(1, vertex({ digest: 'f', name: '[1/3] FROM docker.io/library/a:latest', started: [1, 0], completed: [1, 0] }))) });
    q.feed({ id: 'moby.buildkit.trace', aux: b64(len(1, vertex({ digest: 'r1', inputs: ['f'], name: '[2/3] RUN ok', started: [1, 0], completed: [2, 0] }))) });
    q.feed({ id: 'moby.buildkit.trace', aux: b64(len(1, vertex({ digest: 'r2', inputs: ['r1'], name: '[3/3] RUN bad', started: [2, 0], completed: [3, 0], error: 'exit code: 1' }))) });
    q.feed({ id: 'moby.buildkit.trace', aux: 'AAAA!!' });
    q.feed({ error: 'executor failed running [/bin/sh -c bad]: exit code: 1', errorDetail: { message: 'executor failed running [/bin/sh -c bad]: exit code: 1' } });
    assert.equal(q.undecodable, 1);
    assert.equal(q.failure(model)?.line, 3);
    assert.deepEqual(q.results(model).map((r) => [r.line, r.state]), [[1, 'cached'], [2, 'built'], [3, 'failed']]);
  });

  test('the legacy builder is recognised from its Step lines; aux {ID} is the image', () => {
    const p = new BuildProgress();
    p.feed({ stream: 'Step 1/1 : FROM a' });
    p.feed({ stream: '\n' });
    p.feed({ stream: ' ---> 1234567890ab\n' });
    p.feed({ aux: { ID: 'sha256:' + 'a'.repeat(64) } });
    p.feed({ stream: 'Successfully built 1234567890ab\n' });
    p.end();
    assert.equal(p.builder, 'legacy');
    assert.equal(p.imageId, 'sha256:' + 'a'.repeat(64));
    assert.equal(p.currentStep(), 'Step 1/1 : FROM a');
    assert.deepEqual(p.counts(), { done: 0, total: 1 });
  });
});
