import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import * as path from 'node:path';
import {
  instructionAtLine, joinContinuationLines, parseDockerfile, stageChain,
  stageDependencies, targetStageIndex, type DockerfileInstruction, type DockerfileModel,
} from '../../../../src/core/dockerfile/dockerfile';
import { expandWord, splitWords } from '../../../../src/core/dockerfile/expand';
import { repoRoot } from '../../../support/repo';

const fixtures = path.join(repoRoot(), 'test/fixtures/dockerfiles');
const read = (name: string): string => readFileSync(path.join(fixtures, name, 'Dockerfile'), 'utf8');
const at = (m: DockerfileModel, line: number): DockerfileInstruction => {
  const i = instructionAtLine(m, line);
  assert.ok(i, `an instruction at line ${line}`);
  return i;
};

test('basic: lines, continuation with comment and empty continuation line, ENV/LABEL values, WORKDIR, forms', () => {
  const m = parseDockerfile(read('basic'));
  assert.deepEqual(m.diagnostics, []);
  assert.equal(m.stages.length, 1);
  assert.equal(m.stages[0].baseImage, 'llbase:1');
  assert.deepEqual(m.instructions.map((i) => [i.keyword, i.line, i.endLine]), [
    ['FROM', 1, 1], ['LABEL', 2, 2], ['ENV', 3, 4], ['WORKDIR', 5, 5], ['COPY', 6, 6], ['COPY', 7, 7],
    ['ADD', 8, 8], ['RUN', 9, 13], ['RUN', 14, 14], ['WORKDIR', 15, 15], ['WORKDIR', 16, 16],
    ['USER', 17, 17], ['EXPOSE', 18, 18], ['VOLUME', 19, 19], ['STOPSIGNAL', 20, 20],
    ['HEALTHCHECK', 21, 21], ['ENTRYPOINT', 22, 22], ['CMD', 23, 23],
  ]);
  const run = at(m, 11);
  assert.equal(run.keyword, 'RUN');
  // Docker keeps the space before `\` and the indentation of continuation lines; the comment
  // line is dropped and the lone `\` line adds its indentation.
  assert.equal(run.args, 'mkdir -p /srv/app/data     && echo "$GREETING" > /srv/app/data/greeting         && ls /srv/app > /srv/app/data/listing');
  assert.equal(run.form, 'shell');
  assert.equal(run.expanded, 'mkdir -p /srv/app/data     && echo "hello world" > /srv/app/data/greeting         && ls /srv/app > /srv/app/data/listing');
  assert.ok(run.raw.includes('# a comment inside the continuation'));
  assert.deepEqual(at(m, 2).keyValues, [{ key: 'org.opencontainers.image.title', value: 'layer lens basic' }, { key: 'maintainer', value: 'me' }]);
  assert.deepEqual(at(m, 3).keyValues, [{ key: 'APP_HOME', value: '/srv/app' }, { key: 'GREETING', value: 'hello world' }]);
  assert.deepEqual([5, 15, 16].map((l) => at(m, l).workdir), ['/srv/app', '/', '/data']);
  assert.deepEqual(at(m, 22).execArgs, ['/bin/sh', '-c']);
  assert.equal(at(m, 22).form, 'exec');
  assert.deepEqual(at(m, 21).flags, [{ name: 'interval', value: '30s' }]);
  assert.equal(at(m, 18).expanded, '8080 9090/udp');
  assert.deepEqual(at(m, 7).copy, { from: null, fromStage: null, sources: ['dir/'], heredocSources: [], dest: './dir/', chown: null, chmod: null, link: false, parents: false });
});

test('args: global ARGs in FROM, build-arg overrides, stage ARG inheriting the global value, ENV over ARG', () => {
  const m = parseDockerfile(read('args'), { buildArgs: { VERSION: '2.5.0', FLAVOR: 'extra' } });
  assert.deepEqual(m.diagnostics, []);
  assert.deepEqual(m.globalArgs, [{ key: 'BASE_IMAGE', value: 'llbase' }, { key: 'BASE_TAG', value: '1' }]);
  assert.equal(m.stages[0].baseRaw, '${BASE_IMAGE}:${BASE_TAG}');
  assert.equal(m.stages[0].baseImage, 'llbase:1');
  assert.equal(m.instructions[0].stage, -1);
  assert.deepEqual(at(m, 4).keyValues, [{ key: 'BASE_TAG', value: '1', default: null }]);
  assert.deepEqual(at(m, 5).keyValues, [{ key: 'VERSION', value: '2.5.0', default: '1.0.0' }]);
  assert.deepEqual(at(m, 8).keyValues, [{ key: 'APP_VERSION', value: '2.5.0' }, { key: 'APP_DEST', value: '/opt/app' }]);
  assert.deepEqual(at(m, 10).argsInScope, [
    { key: 'BASE_TAG', value: '1' }, { key: 'VERSION', value: '2.5.0' }, { key: 'FLAVOR', value: 'extra' }, { key: 'DEST', value: '/opt/app' },
  ]);
  assert.equal(at(m, 11).copy?.dest, '/opt/app/');
  assert.equal(at(m, 12).workdir, '/opt/app');
  assert.equal(at(m, 16).expanded, 'echo overridden-by-env > env-wins.txt');
  assert.deepEqual(at(m, 16).envInScope, { APP_VERSION: '2.5.0', APP_DEST: '/opt/app', VERSION: 'overridden-by-env' });
  assert.deepEqual(at(m, 17).keyValues, [{ key: 'version', value: 'overridden-by-env' }, { key: 'flavor', value: 'extra' }]);

  const d = parseDockerfile(read('args'), { buildArgs: { BASE_TAG: '7' } });
  assert.equal(d.stages[0].baseImage, 'llbase:7');
  assert.deepEqual(at(d, 6).keyValues, [{ key: 'FLAVOR', value: null, default: null }]);
  assert.deepEqual(at(d, 17).keyValues?.[1], { key: 'flavor', value: 'plain' });
});

test('multistage: names, FROM <stage>, COPY --from by name, dependencies, target and chain', () => {
  const m = parseDockerfile(read('multistage'));
  assert.deepEqual(m.diagnostics, []);
  assert.deepEqual(m.stages.map((s) => [s.index, s.name, s.baseImage, s.baseStage, s.dependsOn, s.line, s.endLine]), [
    [0, 'build', 'llbase:1', null, [], 1, 4],
    [1, 'tools', 'llbase:1', null, [], 6, 7],
    [2, 'test', 'build', 0, [0], 9, 10],
    [3, null, 'llbase:1', null, [0, 1, 2], 12, 16],
  ]);
  assert.deepEqual([13, 14, 15].map((l) => [at(m, l).copy?.from, at(m, l).copy?.fromStage]), [['build', 0], ['tools', 1], ['test', 2]]);
  assert.equal(targetStageIndex(m), 3);
  assert.equal(targetStageIndex(m, 'TEST'), 2);
  assert.deepEqual(stageChain(m, 2), [0, 2]);
  assert.deepEqual(stageChain(m, 3), [3]);
  assert.deepEqual(stageDependencies(m, 3), [0, 1, 2]);
  assert.deepEqual(stageDependencies(m, 2), [0]);
});

test('RUN --mount from= makes a stage dependency', () => {
  const m = parseDockerfile(read('mounts'));
  assert.deepEqual(m.stages[1].dependsOn, [0]);
  assert.deepEqual(at(m, 5).mountFrom, ['data']);
  assert.equal(at(m, 5).args, 'cp /mnt/x /x');
  assert.deepEqual(at(m, 6).mountFrom, []);
});

test('shell-exec: exec form, SHELL changes the shell of later instructions', () => {
  const m = parseDockerfile(read('shell-exec'));
  assert.deepEqual(m.instructions.map((i) => [i.line, i.keyword, i.form, i.shell.join(' ')]), [
    [1, 'FROM', 'none', '/bin/sh -c'],
    [2, 'RUN', 'exec', '/bin/sh -c'],
    [3, 'RUN', 'exec', '/bin/sh -c'],
    [4, 'SHELL', 'exec', '/bin/sh -e -x -c'],
    [5, 'RUN', 'shell', '/bin/sh -e -x -c'],
    [6, 'ENV', 'none', '/bin/sh -e -x -c'],
    [7, 'RUN', 'shell', '/bin/sh -e -x -c'],
    [8, 'CMD', 'shell', '/bin/sh -e -x -c'],
    [9, 'ENTRYPOINT', 'shell', '/bin/sh -e -x -c'],
    [10, 'SHELL', 'exec', '/bin/ash -c'],
    [11, 'RUN', 'shell', '/bin/ash -c'],
  ]);
  assert.deepEqual(at(m, 3).execArgs, ['touch', '/touched']);
});

test('heredoc: bodies, chomp, several heredocs in one COPY, lines', () => {
  const m = parseDockerfile(read('heredoc'));
  assert.deepEqual(m.diagnostics, []);
  assert.deepEqual(m.instructions.map((i) => [i.keyword, i.line, i.endLine, i.form]), [
    ['FROM', 1, 1, 'none'], ['RUN', 2, 5, 'heredoc'], ['RUN', 6, 9, 'heredoc'], ['RUN', 10, 12, 'heredoc'],
    ['RUN', 13, 15, 'heredoc'], ['COPY', 16, 18, 'heredoc'], ['COPY', 19, 23, 'heredoc'], ['RUN', 24, 24, 'shell'],
  ]);
  assert.equal(at(m, 2).args, '<<EOF');
  assert.deepEqual(at(m, 2).heredocs, [{ name: 'EOF', line: 2, endLine: 5, content: 'echo one > /one.txt\necho two >> /one.txt\n', chomp: false, expand: true, terminated: true }]);
  assert.equal(at(m, 10).args, '<<-EOT sh');
  assert.equal(at(m, 10).heredocs[0].chomp, true);
  assert.equal(at(m, 10).heredocs[0].content, '\techo tabbed > /tabbed.txt\n');
  assert.equal(at(m, 13).args, 'cat <<EOF > /inline.txt');
  const multi = at(m, 19);
  assert.deepEqual(multi.heredocs.map((h) => [h.name, h.content, h.endLine]), [['A', 'a\n', 21], ['B', 'b\n', 23]]);
  assert.deepEqual(multi.copy?.heredocSources, ['A', 'B']);
  assert.equal(multi.copy?.dest, '/multi/');
  const q = parseDockerfile('FROM x\nRUN <<"EOF"\necho $HOME\nEOF\n');
  assert.equal(q.instructions[1].heredocs[0].expand, false);
  const open = parseDockerfile('FROM x\nRUN <<EOF\necho a\n');
  assert.equal(open.instructions[1].heredocs[0].terminated, false);
  assert.ok(open.diagnostics.some((d) => /unterminated heredoc/.test(d.message)));
});

test('escape directive: backtick continuations', () => {
  const m = parseDockerfile(read('escape'));
  assert.equal(m.escape, '`');
  assert.deepEqual(m.directives, [{ name: 'escape', value: '`', line: 1 }]);
  assert.deepEqual(m.instructions.map((i) => [i.keyword, i.line, i.endLine]), [['FROM', 2, 2], ['ENV', 3, 3], ['RUN', 4, 6], ['WORKDIR', 7, 7], ['COPY', 8, 9]]);
  assert.equal(at(m, 4).args, 'mkdir -p $DIR     && echo "back\\slash" > $DIR/file.txt');
  assert.equal(at(m, 8).copy?.dest, './');
});

test('FROM flags and forms: --platform, AS case, stage refs case-insensitive, numeric --from, images in --from', () => {
  const m = parseDockerfile([
    'ARG PLAT=linux/arm64',
    'FROM --platform=$PLAT golang:1.22 as Build',
    'RUN go build',
    'FROM build AS second',
    'FROM scratch',
    'COPY --from=0 /a /a',
    'COPY --from=alpine:3.19 /etc/alpine-release /',
    'RUN --mount=type=bind,from=second,target=/s true',
  ].join('\n'));
  assert.deepEqual(m.diagnostics, []);
  assert.equal(m.stages[0].platform, 'linux/arm64');
  assert.equal(m.stages[0].name, 'Build');
  assert.equal(m.stages[1].baseStage, 0);
  assert.equal(m.stages[2].baseImage, 'scratch');
  assert.deepEqual(m.stages[2].dependsOn, [0, 1]);
  assert.deepEqual(m.stages[2].externalImages, ['alpine:3.19']);
});

test('lower-case keywords, CRLF line endings, BOM', () => {
  const m = parseDockerfile('\uFEFFfrom alpine\r\nrun echo a \\\r\n  b\r\nenv A=1\r\n');
  assert.deepEqual(m.instructions.map((i) => [i.keyword, i.line, i.endLine]), [['FROM', 1, 1], ['RUN', 2, 3], ['ENV', 4, 4]]);
  assert.equal(m.instructions[1].args, 'echo a   b');
  assert.deepEqual(m.instructions[2].keyValues, [{ key: 'A', value: '1' }]);
});

test('diagnostics instead of exceptions for broken files', () => {
  const cases: Array<[string, RegExp]> = [
    ['', /no FROM/],
    ['RUN echo hi', /before the first FROM/],
    ['FROM', /FROM needs an image/],
    ['FROM x\nFROBNICATE y', /unknown instruction: FROBNICATE/],
    ['FROM x\nCOPY onlyone', /needs a source and a destination/],
    ['FROM x\nSHELL /bin/bash', /SHELL needs a JSON array/],
    ['FROM x AS a\nFROM y AS A', /duplicate stage name/],
    ['ARG T\nFROM ${T}', /empty after ARG substitution/],
  ];
  for (const [text, re] of cases) {
    const m = parseDockerfile(text);
    assert.ok(m.diagnostics.some((d) => re.test(d.message)), `${JSON.stringify(text)}: ${JSON.stringify(m.diagnostics)}`);
  }
});

test('expandWord: the builders\' substitution forms, quotes and escapes', () => {
  const vars = { A: 'a', E: '', P: 'dir/file.tar.gz' };
  const cases: Array<[string, string]> = [
    ['$A', 'a'], ['${A}', 'a'], ['x${A}y', 'xay'], ['$UNSET', ''], ['${UNSET:-d}', 'd'], ['${E:-d}', 'd'],
    ['${E-d}', ''], ['${A:+alt}', 'alt'], ['${E:+alt}', ''], ['${E+alt}', 'alt'], ['${UNSET+alt}', ''],
    ['"q $A"', 'q a'], ["'q $A'", 'q $A'], ['\\$A', '$A'], ['"\\$A"', '$A'], ['a\\ b', 'a b'],
    ['${P#*/}', 'file.tar.gz'], ['${P%.*}', 'dir/file.tar'], ['${P%%.*}', 'dir/file'], ['${P##*.}', 'gz'],
    ['$', '$'], ['${', '${'], ['"unterminated $A', 'unterminated a'], ['${UNSET:-${A}}', 'a'],
  ];
  for (const [w, want] of cases) assert.equal(expandWord(w, vars), want, w);
  assert.equal(expandWord('$UNSET ${UNSET} $A', vars, { skipUnset: true }), '$UNSET ${UNSET} a');
  assert.equal(expandWord('"x" \\$A', vars, { rawQuotes: true }), '"x" \\$A');
  assert.equal(expandWord('`$A', vars, { escape: '`' }), '$A');
  assert.deepEqual(splitWords('a "b c" d\\ e  f'), ['a', '"b c"', 'd\\ e', 'f']);
});

test('joinContinuationLines follows BuildKit', () => {
  const lines = ['RUN a \\', '  # comment', '', '   b\\', 'c', 'd'];
  assert.equal(joinContinuationLines(lines, 0, 5, '\\'), 'RUN a    bc');
  assert.equal(joinContinuationLines(['RUN a \\  ', '\\', 'b'], 0, 2, '\\'), 'RUN a b');
});
