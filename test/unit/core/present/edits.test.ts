// Edits as LSP TextEdits: appending to a file (or creating it), deleting lines, applying them; the
// secret fixes: a .dockerignore entry for a file a COPY brought, a secret mount for a build arg.
import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import { parseDockerfile } from '../../../../src/core/dockerfile/dockerfile';
import type { SecretFinding } from '../../../../src/core/contents/secrets';
import { appendLines, applyEdits, deleteLines, reshippedBytes, secretFixes } from '../../../../src/core/present/edits';
import type { CopyUp, LayerExplanation } from '../../../../src/core/present/explain/model';

test('append to an existing file, to one without a final newline, and create one', () => {
  assert.equal(applyEdits('a\n', [appendLines('.dockerignore', 'a\n', ['b'])]), 'a\nb\n');
  assert.equal(applyEdits('a', [appendLines('.dockerignore', 'a', ['b', 'c'])]), 'a\nb\nc\n');
  const create = appendLines('.dockerignore', undefined, ['x']);
  assert.deepEqual(create.range, { start: { line: 0, character: 0 }, end: { line: 0, character: 0 } });
  assert.equal(applyEdits('', [create]), 'x\n');
});

test('delete lines, at the end of a file too', () => {
  const lines = ['a', 'b', 'c'];
  assert.equal(applyEdits(lines.join('\n'), [deleteLines('D', lines, 2, 2)]), 'a\nc');
  assert.equal(applyEdits(lines.join('\n'), [deleteLines('D', lines, 3, 3)]), 'a\nb\n');
});

const TEXT = 'FROM base\nARG NPM_TOKEN\nCOPY keys/deploy.pem /root/.ssh/id_rsa\nRUN echo "$NPM_TOKEN" | wc -c\nRUN true\n';
const finding = (f: Partial<SecretFinding>): SecretFinding => ({ rule: 'x', layer: 1, line: null, deletedBy: null, at: 1, message: 'm', ...f });

test('secret fixes: .dockerignore for a copied file; a secret mount for a build arg, its ARG removed', () => {
  const model = parseDockerfile(TEXT);
  const [ign] = secretFixes(finding({ path: '/root/.ssh/id_rsa', line: 3 }), model, TEXT, 'node_modules\n', 'Dockerfile');
  assert.equal(ign.title, 'Add keys/deploy.pem to .dockerignore');
  assert.equal(applyEdits('node_modules\n', ign.edits), 'node_modules\nkeys/deploy.pem\n');
  assert.deepEqual(secretFixes(finding({ path: '/root/.ssh/id_rsa', line: 3 }), model, TEXT, 'keys/deploy.pem\n', 'Dockerfile'), []);

  const [arg] = secretFixes(finding({ rule: 'build-arg', name: 'NPM_TOKEN', history: 3, line: 4 }), model, TEXT, undefined, 'Dockerfile');
  assert.ok(arg.edits.every((e) => e.file === 'Dockerfile'));
  assert.equal(applyEdits(TEXT, arg.edits), 'FROM base\nCOPY keys/deploy.pem /root/.ssh/id_rsa\nRUN --mount=type=secret,id=npm_token,env=NPM_TOKEN echo "$NPM_TOKEN" | wc -c\nRUN true\n');
  // No line, or a line no fix fits: nothing.
  assert.deepEqual(secretFixes(finding({ path: '/x', line: null }), model, TEXT, undefined, 'Dockerfile'), []);
  assert.deepEqual(secretFixes(finding({ rule: 'github/GITHUB_TOKEN', history: 4, line: 5 }), model, TEXT, undefined, 'Dockerfile'), []);
});

test('reshippedBytes: what later chmod/chown layers copy up again of the files a layer wrote, chained', () => {
  const up = (path: string, lowerLayer: number, bytes: number, metadataOnly = true): CopyUp => ({ path, bytes, lowerBytes: bytes, lowerLayer, metadataOnly });
  const layer = (n: number, copyUps: CopyUp[]): LayerExplanation => ({ layer: n, copyUps } as unknown as LayerExplanation);
  const later = [
    layer(2, [up('/app/.venv/a', 1, 100), up('/app/.venv/b', 1, 50), up('/app/main.py', 1, 7), up('/app/.venv/c', 0, 9)]),
    layer(3, [up('/app/.venv/a', 2, 100), up('/app/.venv/b', 2, 60, false)]), // a chmod again; b rewritten
    layer(4, [up('/app/.venv/b', 3, 60)]), // a copy of b's rewritten version: not the COPY's file
  ];
  // a: 100 at layer 2 and again at 3; b: 50 at layer 2 only; main.py is not under .venv; c came from layer 0.
  assert.equal(reshippedBytes(1, ['/app/.venv'], later), 250);
  assert.equal(reshippedBytes(1, ['/app/.venv/a'], later), 200);
  assert.equal(reshippedBytes(1, ['/app/.ven'], later), 0);
  assert.equal(reshippedBytes(1, ['/app/.venv'], []), 0);
});
