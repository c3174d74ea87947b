import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import { readFileSync, readdirSync } from 'node:fs';
import * as path from 'node:path';
import { parseDockerfile, stageChain, targetStageIndex, type DockerfileModel } from '../../../../src/core/dockerfile/dockerfile';
import {
  expectedCreatedBy, goQuoteList, instructionSimilarity, legacyCopyPattern, makesHistoryEntry,
  mapHistory, parseCreatedBy, parseGoQuoteList,
} from '../../../../src/core/dockerfile/mapping';
import { historyFromConfig } from '../../../support/history';
import type { HistoryEntry } from '../../../../src/core/image/types';
import { repoRoot } from '../../../support/repo';

// Histories recorded from real builds (scripts/record-histories.sh): engine 26.1.5 (BuildKit
// v0.13, files *.buildkit.json / *.legacy.json) and engine 20.10.24 (BuildKit v0.8,
// *-engine20.json), each fixture built with both builders where the builder can build it.

interface Recording {
  fixture: string;
  dockerfile: string;
  builder: string;
  engine: string;
  buildArgs: Record<string, string>;
  target: string | null;
  history: Array<{ created_by: string; empty_layer: boolean; comment?: string }>;
  sizes: number[];
  diffIds: string[];
}

const root = repoRoot();
const histDir = path.join(root, 'test/fixtures/histories');
const recordings: Array<{ file: string; rec: Recording }> = readdirSync(histDir)
  .filter((f) => f.endsWith('.json'))
  .sort()
  .map((file) => ({ file, rec: JSON.parse(readFileSync(path.join(histDir, file), 'utf8')) as Recording }));
const modelOf = (rec: Recording): DockerfileModel => parseDockerfile(readFileSync(path.join(root, rec.dockerfile), 'utf8'), { buildArgs: rec.buildArgs });
const isLegacy = (rec: Recording): boolean => rec.builder === 'legacy';

/** How many entries the base image has (llbase:1 is one imported layer; llonbuild:1 is built). */
function baseLength(rec: Recording): number {
  if (rec.fixture === 'onbuild-child') return isLegacy(rec) ? 5 : 3;
  return 1;
}

test('the recordings are all there: every fixture with both builders on both engines', () => {
  const got = new Set(recordings.map((r) => `${r.rec.fixture}.${r.rec.builder}.${r.rec.engine.startsWith('20.') ? 20 : 26}`));
  for (const f of ['basic', 'args', 'args-defaults', 'multistage', 'multistage-target-test', 'shell-exec', 'escape', 'chain', 'onbuild-base', 'onbuild-child', 'misc']) {
    for (const b of ['buildkit', 'legacy']) for (const e of [20, 26]) assert.ok(got.has(`${f}.${b}.${e}`), `${f}.${b}.${e}`);
  }
  assert.ok(got.has('heredoc.buildkit.26') && got.has('copy-chmod.buildkit.26'));
  assert.ok(got.has('mounts.buildkit.26') && got.has('mounts.buildkit.20'));
  for (const { file, rec } of recordings) {
    const h = historyFromConfig(rec.history);
    assert.equal(h.filter((e) => !e.emptyLayer).length, rec.diffIds.length, `${file}: one layer per non-empty entry`);
  }
});

test('every instruction maps to its own history entry and layer, for every recording (sequential oracle)', () => {
  for (const { file, rec } of recordings) {
    const model = modelOf(rec);
    const history = historyFromConfig(rec.history);
    const stage = targetStageIndex(model, rec.target);
    // Oracle: above the base (and the ONBUILD triggers), one entry per instruction of the stage
    // chain that makes one, in file order; ONBUILD makes one with the legacy builder only.
    const makers = stageChain(model, stage)
      .flatMap((s) => model.stages[s].instructions)
      .filter((i) => makesHistoryEntry(i) === 'always' || (makesHistoryEntry(i) === 'legacy-only' && isLegacy(rec)));
    const triggers = rec.fixture === 'onbuild-child' ? 2 : 0;
    const first = baseLength(rec) + triggers;
    assert.equal(first + makers.length, history.length, `${file}: entry count`);
    const r = mapHistory(model, history, { stage: rec.target ?? undefined, entrySizes: rec.sizes });
    assert.equal(r.stage, stage);
    assert.equal(r.builder, isLegacy(rec) ? 'legacy' : 'buildkit', file);
    assert.deepEqual(r.unmatchedHistory, [], file);
    makers.forEach((ins, k) => {
      const line = r.lines.find((l) => l.line === ins.line);
      assert.ok(line, `${file}: line ${ins.line}`);
      const j = first + k;
      assert.equal(line.historyIndex, j, `${file}: line ${ins.line} ${ins.keyword} → entry ${j}`);
      assert.equal(line.layerIndex, history[j].emptyLayer ? null : history[j].layerIndex, `${file}: line ${ins.line} layer`);
      assert.equal(line.emptyLayer, history[j].emptyLayer);
      assert.equal(line.confidence, 1, `${file}: line ${ins.line} ${ins.keyword}: ${history[j].createdBy}`);
    });
    // Lines that make no entry map to nothing.
    for (const l of r.lines) if (!makers.some((i) => i.line === l.line)) assert.equal(l.historyIndex, null, `${file}: line ${l.line}`);
    assert.ok(r.score > 0.999, `${file}: score ${r.score}`);
  }
});

test('the predicted created_by is exactly what each builder wrote, for every recorded instruction', () => {
  let exact = 0;
  for (const { file, rec } of recordings) {
    const model = modelOf(rec);
    const history = historyFromConfig(rec.history);
    const r = mapHistory(model, history, { stage: rec.target ?? undefined });
    for (const p of r.pairs) {
      const ins = model.instructions[p.instructionIndex];
      const got = history[p.historyIndex].createdBy;
      const builder = isLegacy(rec) ? 'legacy' : 'buildkit';
      if (builder === 'legacy' && (ins.keyword === 'COPY' || ins.keyword === 'ADD')) {
        assert.match(got, legacyCopyPattern(ins)!, `${file} line ${ins.line}`);
      } else {
        assert.ok(expectedCreatedBy(ins, builder).includes(got), `${file} line ${ins.line}: ${JSON.stringify(got)} not in ${JSON.stringify(expectedCreatedBy(ins, builder))}`);
      }
      exact++;
    }
  }
  assert.ok(exact > 200, `${exact} instructions checked`);
});

test('FROM lines: base entries, layers and total size; FROM <stage> counts the stages below', () => {
  const byFile = new Map(recordings.map((r) => [r.file, r.rec]));
  const basic = byFile.get('basic.buildkit.json')!;
  const r = mapHistory(modelOf(basic), historyFromConfig(basic.history), { entrySizes: basic.sizes });
  assert.deepEqual(r.lines[0], {
    line: 1, endLine: 1, instruction: 'FROM', stage: 0, historyIndex: null, layerIndex: null, confidence: 1,
    base: { entryCount: 1, layerCount: 1, size: 1985512, onbuildEntries: [] },
  });
  for (const b of ['buildkit', 'legacy']) {
    const chain = byFile.get(`chain.${b}.json`)!;
    const c = mapHistory(modelOf(chain), historyFromConfig(chain.history), { entrySizes: chain.sizes });
    assert.deepEqual(c.chain, [0, 1, 2]);
    assert.deepEqual(c.lines.filter((l) => l.base).map((l) => [l.line, l.base!.entryCount, l.base!.layerCount, l.base!.size]), [
      [1, 1, 1, 1985512], [5, 3, 2, 1985514], [8, 4, 3, 1985516],
    ]);
    const t = byFile.get(`multistage-target-test.${b}.json`)!;
    const mt = mapHistory(modelOf(t), historyFromConfig(t.history), { stage: 'test' });
    assert.deepEqual(mt.chain, [0, 2]);
    assert.deepEqual(mt.lines.map((l) => [l.line, l.historyIndex]), [[1, null], [2, 1], [3, 2], [4, 3], [9, null], [10, 4]]);
  }
});

test('ONBUILD triggers of the base: found from legacy ONBUILD entries, or from the base history length', () => {
  const byFile = new Map(recordings.map((r) => [r.file, r.rec]));
  const legacy = byFile.get('onbuild-child.legacy.json')!;
  const l = mapHistory(modelOf(legacy), historyFromConfig(legacy.history), { entrySizes: legacy.sizes });
  assert.equal(l.baseEntryCount, 5);
  assert.deepEqual(l.lines[0].base, { entryCount: 5, layerCount: 2, size: 1985517, onbuildEntries: [5, 6] });
  const bk = byFile.get('onbuild-child.buildkit.json')!;
  const withoutLength = mapHistory(modelOf(bk), historyFromConfig(bk.history));
  assert.equal(withoutLength.lines[0].base?.entryCount, 5, 'BuildKit bases record no ONBUILD: triggers count as base');
  const withLength = mapHistory(modelOf(bk), historyFromConfig(bk.history), { baseHistoryLength: 3, entrySizes: bk.sizes });
  assert.deepEqual(withLength.lines[0].base, { entryCount: 3, layerCount: 2, size: 1985517, onbuildEntries: [3, 4] });
  assert.deepEqual(withLength.lines.slice(1).map((x) => x.historyIndex), [5, 6]);
  assert.equal(withLength.score, 1);
});

test('the score finds the image a Dockerfile built among all recorded images', () => {
  const dockerfiles = [...new Set(recordings.map((r) => r.rec.dockerfile))];
  for (const df of dockerfiles) {
    const own = recordings.filter((r) => r.rec.dockerfile === df);
    for (const { file, rec } of own) {
      const model = modelOf(rec);
      const scores = recordings.map((r) => ({
        file: r.file,
        same: r.rec.dockerfile === df && (r.rec.target ?? null) === (rec.target ?? null),
        score: mapHistory(model, historyFromConfig(r.rec.history), { stage: rec.target ?? undefined }).score,
      }));
      const mine = scores.find((s) => s.file === file)!;
      assert.ok(mine.score > 0.999, `${file}: ${mine.score}`);
      for (const s of scores) {
        if (s.same) continue;
        assert.ok(s.score < mine.score - 0.1, `${file} vs ${s.file}: ${s.score} should be well below ${mine.score}`);
      }
    }
  }
  // An unrelated history scores low; an empty one scores 0.
  const basic = recordings.find((r) => r.file === 'basic.buildkit.json')!.rec;
  const chain = recordings.find((r) => r.file === 'chain.legacy.json')!.rec;
  assert.ok(mapHistory(modelOf(basic), historyFromConfig(chain.history)).score < 0.2);
  assert.equal(mapHistory(modelOf(basic), []).score, 0);
});

test('edits since the build: a changed line keeps its entry with lower confidence; new lines map to nothing', () => {
  const rec = recordings.find((r) => r.file === 'args.buildkit.json')!.rec;
  const history = historyFromConfig(rec.history);
  const text = readFileSync(path.join(root, rec.dockerfile), 'utf8');
  const lines = text.split('\n');
  const base = mapHistory(parseDockerfile(text, { buildArgs: rec.buildArgs }), history);
  const entryOf = (r: ReturnType<typeof mapHistory>, line: number): number | null => r.lines.find((l) => l.line === line)?.historyIndex ?? null;

  // 1. Line 14 (`RUN echo "$LATE" > late.txt`) edited.
  const edited = [...lines];
  edited[13] = 'RUN echo "$LATE" > later.txt && echo more';
  const e = mapHistory(parseDockerfile(edited.join('\n'), { buildArgs: rec.buildArgs }), history);
  assert.equal(entryOf(e, 14), entryOf(base, 14));
  const c = e.lines.find((l) => l.line === 14)!.confidence;
  assert.ok(c > 0 && c < 0.9, `edited line confidence ${c}`);
  for (const l of base.lines) if (l.line !== 14) assert.equal(entryOf(e, l.line), l.historyIndex, `line ${l.line}`);

  // 2. A new RUN inserted after line 10: it maps to nothing, the lines after it keep theirs.
  const inserted = [...lines.slice(0, 10), 'RUN echo brand-new > /new.txt', ...lines.slice(10)];
  const ins = mapHistory(parseDockerfile(inserted.join('\n'), { buildArgs: rec.buildArgs }), history);
  assert.equal(entryOf(ins, 11), null);
  for (const l of base.lines) assert.equal(entryOf(ins, l.line > 10 ? l.line + 1 : l.line), l.historyIndex, `line ${l.line}`);
  assert.ok(ins.score < 1 && ins.score > 0.9, `score ${ins.score}`);

  // 3. Line 11 (COPY) deleted: its entry is left unmatched, the others keep theirs.
  const deleted = [...lines.slice(0, 10), ...lines.slice(11)];
  const del = mapHistory(parseDockerfile(deleted.join('\n'), { buildArgs: rec.buildArgs }), history);
  assert.deepEqual(del.unmatchedHistory, [entryOf(base, 11)]);
  for (const l of base.lines) if (l.line !== 11) assert.equal(entryOf(del, l.line > 11 ? l.line - 1 : l.line), l.historyIndex, `line ${l.line}`);

  // 4. Built without the build args: every line still maps, RUN lines a little below 1.
  const noArgs = mapHistory(parseDockerfile(text), history);
  for (const l of base.lines) assert.equal(entryOf(noArgs, l.line), l.historyIndex, `line ${l.line}`);
  assert.ok(noArgs.score > 0.8);
});

test('created_by forms of both builders are read back', () => {
  const cases: Array<[string, Partial<ReturnType<typeof parseCreatedBy>>]> = [
    ['/bin/sh -c #(nop)  ENV A=b', { builder: 'legacy', keyword: 'ENV', text: 'A=b', shell: '/bin/sh -c' }],
    ['/bin/sh -c #(nop) COPY file:0123abcd in /dest ', { builder: 'legacy', keyword: 'COPY', text: 'file:0123abcd in /dest' }],
    ['/bin/sh -c #(nop) WORKDIR /x', { builder: 'legacy', keyword: 'WORKDIR', text: '/x' }],
    ['/bin/bash -o pipefail -c #(nop)  CMD ["x"]', { builder: 'legacy', keyword: 'CMD', text: '["x"]', shell: '/bin/bash -o pipefail -c' }],
    ['/bin/sh -c apk add curl', { builder: 'legacy', keyword: 'RUN', text: '/bin/sh -c apk add curl', buildArgs: null }],
    ['|2 A=1 B=2 /bin/sh -c echo $A', { builder: 'legacy', keyword: 'RUN', text: '/bin/sh -c echo $A', buildArgs: [{ key: 'A', value: '1' }, { key: 'B', value: '2' }] }],
    ['|2 A=a b B= /bin/sh -c x', { keyword: 'RUN', text: '/bin/sh -c x', buildArgs: [{ key: 'A', value: 'a b' }, { key: 'B', value: '' }] }],
    ['RUN /bin/sh -c echo hi # buildkit', { builder: 'buildkit', keyword: 'RUN', text: '/bin/sh -c echo hi' }],
    ['RUN |1 A=v /bin/sh -c echo $A # buildkit', { builder: 'buildkit', keyword: 'RUN', text: '/bin/sh -c echo $A', buildArgs: [{ key: 'A', value: 'v' }] }],
    ['COPY src dest # buildkit', { builder: 'buildkit', keyword: 'COPY', text: 'src dest' }],
    ['COPY --from=build /a /b # buildkit', { builder: 'buildkit', keyword: 'COPY', text: '--from=build /a /b' }],
    ['ADD https://x/y.tgz /opt/ # buildkit', { builder: 'buildkit', keyword: 'ADD' }],
    ['WORKDIR /x', { builder: 'buildkit', keyword: 'WORKDIR', text: '/x' }],
    ['ENV A=b', { builder: 'buildkit', keyword: 'ENV', text: 'A=b' }],
    ['CMD ["x"]', { builder: 'buildkit', keyword: 'CMD', text: '["x"]' }],
    ['EXPOSE map[80/tcp:{}]', { builder: 'buildkit', keyword: 'EXPOSE' }],
    ['', { builder: 'unknown', keyword: null }],
  ];
  for (const [s, want] of cases) {
    const got = parseCreatedBy(s);
    for (const [k, v] of Object.entries(want)) assert.deepEqual((got as unknown as Record<string, unknown>)[k], v, `${s}: ${k}`);
  }
});

test('similarity: forms the recordings do not cover', () => {
  const m = parseDockerfile([
    'FROM x', 'RUN ["a", "b"]', 'COPY --from=build --chown=1:2 /a /b', 'EXPOSE 80 443/udp 8000-8001', 'ENTRYPOINT ["run", "it"]',
    'HEALTHCHECK NONE', 'ENV OLD style value', 'ARG A=1 B', 'COPY --chown=app a b /dst/', 'WORKDIR rel',
  ].join('\n'));
  const ins = (line: number) => m.instructions.find((i) => i.line === line)!;
  assert.equal(instructionSimilarity(ins(2), 'RUN a b # buildkit'), 1);
  assert.equal(instructionSimilarity(ins(2), 'a b'), 1);
  assert.ok(instructionSimilarity(ins(2), 'RUN ["a","b"]') > 0.9);
  assert.equal(instructionSimilarity(ins(3), 'COPY --chown=1:2 /a /b # buildkit'), 1, 'newer BuildKit: flags');
  assert.equal(instructionSimilarity(ins(3), 'COPY /a /b # buildkit'), 1, 'older BuildKit');
  assert.ok(instructionSimilarity(ins(3), 'COPY --from=build /a /b # buildkit') > 0.9);
  assert.equal(instructionSimilarity(ins(3), '/bin/sh -c #(nop) COPY --chown=1:2 file:abc123 in /b '), 1);
  assert.equal(instructionSimilarity(ins(4), 'EXPOSE map[443/udp:{} 80/tcp:{} 8000/tcp:{} 8001/tcp:{}]'), 1);
  assert.equal(instructionSimilarity(ins(4), 'EXPOSE [443/udp 80/tcp 8000/tcp 8001/tcp]'), 1);
  assert.equal(instructionSimilarity(ins(4), '/bin/sh -c #(nop)  EXPOSE 443/udp 80 8000-8001'), 1);
  assert.equal(instructionSimilarity(ins(5), 'ENTRYPOINT ["run" "it"]'), 1);
  assert.equal(instructionSimilarity(ins(6), 'HEALTHCHECK &{["NONE"] "0s" "0s" "0s" "0s" \'\\x00\'}'), 1);
  assert.equal(instructionSimilarity(ins(7), 'ENV OLD=style value'), 1);
  assert.equal(instructionSimilarity(ins(8), 'ARG A=1 B'), 1);
  assert.equal(instructionSimilarity(ins(9), 'COPY --chown=app a b /dst/ # buildkit'), 1);
  assert.ok(instructionSimilarity(ins(10), 'WORKDIR /somewhere/rel') >= 0.8, 'relative WORKDIR under an unknown base workdir');
  assert.equal(instructionSimilarity(ins(2), 'ENV a b'), 0, 'another keyword never matches');
  assert.deepEqual(parseGoQuoteList(goQuoteList(['a "q"', 'tab\there', 'nl\n', '\u0001'])), ['a "q"', 'tab\there', 'nl\n', '\u0001']);
});

test('HEALTHCHECK with flags: the three struct printings', () => {
  const m = parseDockerfile('FROM x\nHEALTHCHECK --interval=1m30s --timeout=500ms --retries=3 CMD ["curl", "-f", "http://l/"]');
  const h = m.instructions[1];
  const bk = expectedCreatedBy(h, 'buildkit');
  assert.ok(bk.includes('HEALTHCHECK &{["CMD" "curl" "-f" "http://l/"] "1m30s" "500ms" "0s" \'\\x03\'}'), JSON.stringify(bk));
  assert.ok(bk.includes('HEALTHCHECK {Test:[CMD curl -f http://l/] Interval:1m30s Timeout:500ms StartPeriod:0s StartInterval:0s Retries:3}'));
});

test('SHELL set by the base image (unknown to the file) still maps RUN and nop entries', () => {
  const m = parseDockerfile('FROM base\nENV A=1\nRUN echo $A');
  const history: HistoryEntry[] = historyFromConfig([
    { created_by: '', empty_layer: false },
    { created_by: '/bin/sh -c #(nop)  SHELL [/bin/bash -c]', empty_layer: true },
    { created_by: '/bin/bash -c #(nop)  ENV A=1', empty_layer: true },
    { created_by: '/bin/bash -c echo $A', empty_layer: false },
  ]);
  const r = mapHistory(m, history);
  assert.deepEqual(r.lines.map((l) => [l.line, l.historyIndex, l.layerIndex]), [[1, null, null], [2, 2, null], [3, 3, 1]]);
  assert.equal(r.baseEntryCount, 2);
  assert.ok(r.lines[2].confidence >= 0.9);
});

test('a new first instruction is not paired with the base image\'s last entry; an edited first one keeps its entry', () => {
  const history = historyFromConfig([
    { created_by: '', empty_layer: false },
    { created_by: '/bin/sh -c apt-get update && apt-get install -y curl', empty_layer: false },
    { created_by: '/bin/sh -c make all', empty_layer: false },
    { created_by: '/bin/sh -c #(nop)  CMD ["./app"]', empty_layer: true },
  ]);
  // The image was built from `RUN make all` + `CMD ["./app"]` on a base of two entries.
  const inserted = mapHistory(parseDockerfile('FROM base\nRUN echo new-first\nRUN make all\nCMD ["./app"]'), history);
  assert.deepEqual(inserted.lines.map((l) => [l.line, l.historyIndex]), [[1, null], [2, null], [3, 2], [4, 3]]);
  assert.equal(inserted.baseEntryCount, 2);
  const edited = mapHistory(parseDockerfile('FROM base\nRUN make all && make install\nCMD ["./app"]'), history);
  assert.deepEqual(edited.lines.map((l) => [l.line, l.historyIndex]), [[1, null], [2, 2], [3, 3]]);
  assert.ok(edited.lines[1].confidence < 0.9);
  // Knowing the base's length settles it whatever the texts.
  const known = mapHistory(parseDockerfile('FROM base\nRUN apt-get install -y wget\nRUN make all\nCMD ["./app"]'), history, { baseHistoryLength: 2 });
  assert.deepEqual(known.lines.map((l) => [l.line, l.historyIndex]), [[1, null], [2, null], [3, 2], [4, 3]]);
});

test('FROM scratch: no base entries', () => {
  const history = historyFromConfig([{ created_by: 'COPY app /app # buildkit' }, { created_by: 'CMD ["/app"]', empty_layer: true }]);
  const r = mapHistory(parseDockerfile('FROM scratch\nCOPY app /app\nCMD ["/app"]'), history, { entrySizes: [10, 0] });
  assert.deepEqual(r.lines[0].base, { entryCount: 0, layerCount: 0, size: 0, onbuildEntries: [] });
  assert.deepEqual(r.lines.slice(1).map((l) => [l.historyIndex, l.layerIndex]), [[0, 0], [1, null]]);
});
