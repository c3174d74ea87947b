// Build args read back from an image's history (src/core/dockerfile/buildArgs.ts). The histories
// are those Docker Engine 20.10 wrote for this Dockerfile (legacy builder and BuildKit) with
// `--build-arg A=two --build-arg B=bee`.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { recoverBuildArgs } from '../../../../src/core/dockerfile/buildArgs';
import { parseDockerfile } from '../../../../src/core/dockerfile/dockerfile';
import { mapHistory } from '../../../../src/core/dockerfile/mapping';
import type { HistoryEntry } from '../../../../src/core/image/types';

const TEXT = [
  'FROM ba-base:1',
  'ARG A=one',
  'ARG B',
  'ARG UNUSED=x',
  'RUN ["/bin/busybox","true"]',
  'RUN /bin/busybox echo $A > /a',
  'ENV A=envwins',
  'RUN /bin/busybox echo hi',
  'ARG LATE=z',
  'COPY x /x',
  '',
].join('\n');

function entries(createdBy: string[]): HistoryEntry[] {
  return createdBy.map((c, index) => ({ index, createdBy: c, emptyLayer: false, layerIndex: null }));
}

function recover(text: string, createdBy: string[]): ReturnType<typeof recoverBuildArgs> {
  const model = parseDockerfile(text);
  const h = entries(createdBy);
  return recoverBuildArgs(model, h, mapHistory(model, h));
}

test('legacy builder: given values that differ from the defaults; an ARG read by no RUN is unknown', () => {
  const r = recover(TEXT, [
    '',
    '/bin/sh -c #(nop)  ARG A=one',
    '/bin/sh -c #(nop)  ARG B',
    '/bin/sh -c #(nop)  ARG UNUSED=x',
    '|3 A=two B=bee UNUSED=x /bin/busybox true',
    '|3 A=two B=bee UNUSED=x /bin/sh -c /bin/busybox echo $A > /a',
    '/bin/sh -c #(nop)  ENV A=envwins',
    '|2 B=bee UNUSED=x /bin/sh -c /bin/busybox echo hi',
    '/bin/sh -c #(nop)  ARG LATE=z',
    '/bin/sh -c #(nop) COPY file:abc in /x ',
  ]);
  assert.deepEqual(r.args, { A: 'two', B: 'bee' });
  assert.deepEqual(r.unknown, ['LATE']);
});

test('BuildKit: every ARG in scope is written (an ENV of the same name wins, and is not taken for the arg)', () => {
  const r = recover(TEXT, [
    '',
    'ARG A=one',
    'ARG B',
    'ARG UNUSED=x',
    'RUN |3 A=two B=bee UNUSED=x /bin/busybox true # buildkit',
    'RUN |3 A=two B=bee UNUSED=x /bin/sh -c /bin/busybox echo $A > /a # buildkit',
    'ENV A=envwins',
    'RUN |3 A=envwins B=bee UNUSED=x /bin/sh -c /bin/busybox echo hi # buildkit',
    'ARG LATE=z',
    'COPY x /x # buildkit',
  ]);
  assert.deepEqual(r.args, { A: 'two', B: 'bee' });
  assert.deepEqual(r.unknown, ['LATE']);
});

test('defaults are not taken for given args; an ARG without a value left out by the legacy builder was not given', () => {
  const r = recover(TEXT, [
    '',
    '/bin/sh -c #(nop)  ARG A=one',
    '/bin/sh -c #(nop)  ARG B',
    '/bin/sh -c #(nop)  ARG UNUSED=x',
    '|2 A=one UNUSED=x /bin/busybox true',
    '|2 A=one UNUSED=x /bin/sh -c /bin/busybox echo $A > /a',
    '/bin/sh -c #(nop)  ENV A=envwins',
    '|1 UNUSED=x /bin/sh -c /bin/busybox echo hi',
  ]);
  assert.deepEqual(r.args, {});
  assert.deepEqual(r.unknown, ['LATE']);
});

test('a global ARG used only in FROM, and an ARG hidden by an ENV at every RUN, are unknown', () => {
  const text = 'ARG VERSION=1\nFROM base:${VERSION}\nENV MODE=prod\nARG MODE=dev\nRUN echo $MODE\n';
  const r = recover(text, ['', 'ENV MODE=prod', 'ARG MODE=dev', 'RUN |1 MODE=prod /bin/sh -c echo $MODE # buildkit']);
  assert.deepEqual(r.args, {});
  assert.deepEqual(r.unknown, ['MODE', 'VERSION']);
});
