// `layerlens suggest` against a real Docker Engine: for each suggestion with edits, applying its
// edits alone (to a copy of the build context) and rebuilding shrinks the image by its savesBytes,
// within 5 % or 64 KiB. The Dockerfile: a RUN that writes files a later `RUN rm` deletes (the
// fold), and a COPY of the whole context carrying a 2 MB node_modules (the .dockerignore entry).
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { cp, mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { randomBytes } from 'node:crypto';
import * as os from 'node:os';
import * as path from 'node:path';
import * as E from '../support/engine';
import { DEBIAN_IMAGE, ensureDebianImage } from '../support/debian';

interface Pos { line: number; character: number }
interface Edit { file: string; range: { start: Pos; end: Pos }; newText: string }
interface Suggestion { id: string; line: number; kind: string; savesBytes: number; edits: Edit[] }

function applyEdits(text: string, edits: Edit[]): string {
  const lines = text.split('\n');
  const offset = (p: Pos): number => lines.slice(0, p.line).reduce((n, l) => n + l.length + 1, 0) + p.character;
  let out = text;
  for (const e of [...edits].sort((a, b) => offset(b.range.start) - offset(a.range.start))) {
    out = out.slice(0, offset(e.range.start)) + e.newText + out.slice(offset(e.range.end));
  }
  return out;
}

async function build(dir: string, tag: string): Promise<number> {
  await E.docker(['build', '--network=none', '-q', '-t', tag, dir], { env: { DOCKER_BUILDKIT: '1' }, timeoutMs: 600_000 });
  return (await E.analyzeJson(tag)).image.size;
}

/** Each suggestion's edits alone, applied to a copy of `ctx` and rebuilt: the image shrinks by savesBytes (5 % or 64 KiB). */
async function checkSavings(work: string, ctx: string, suggestions: Suggestion[], before0: number, tagBase: string, tags: string[]): Promise<void> {
  for (const s of suggestions) {
    const copy = path.join(work, s.kind);
    await cp(ctx, copy, { recursive: true });
    for (const file of new Set(s.edits.map((e) => e.file))) {
      const p = path.join(copy, file);
      const text = await readFile(p, 'utf8').catch(() => '');
      await writeFile(p, applyEdits(text, s.edits.filter((e) => e.file === file)));
    }
    const tag = `${tagBase}:${s.kind}`;
    tags.push(tag);
    const after0 = await build(copy, tag);
    const saved = before0 - after0;
    const tolerance = Math.max(0.05 * s.savesBytes, 64 * 1024);
    assert.ok(Math.abs(saved - s.savesBytes) <= tolerance, `${s.id}: saved ${saved} B, said ${s.savesBytes} B`);
  }
}

async function suggest(dockerfile: string, tag: string): Promise<Suggestion[]> {
  const r = await E.cli(['suggest', dockerfile, '--image', tag, '--json']);
  assert.equal(r.code, 0, r.stderr);
  const out = JSON.parse(r.stdout) as { schemaVersion: number; suggestions: Suggestion[] };
  assert.equal(out.schemaVersion, 1);
  return out.suggestions;
}

// The second image: Debian 12 with Python (test/support/debian.ts). A COPY of a context
// holding a virtualenv (.venv) and data; a RUN (python3) that writes a tool and its build cache; a
// cleanup RUN two lines later (a LABEL between); a `chmod -R` that re-ships everything under /app
// and /opt/tool; a last RUN that deletes data the COPY added (and the chmod re-shipped). Each
// suggestion's edits, applied alone and rebuilt, must save what it says, the chmod's copies included.
describe('layerlens suggest on Debian + Python with a chmod -R: applying a suggestion\'s edits saves what it says', () => {
  let work = '';
  const tags: string[] = [];
  let suggestions: Suggestion[] = [];
  let before0 = 0;

  before(async () => {
    await ensureDebianImage();
    work = await mkdtemp(path.join(os.tmpdir(), 'layerlens-suggest-deb-'));
    const ctx = path.join(work, 'ctx');
    await mkdir(path.join(ctx, '.venv', 'lib'), { recursive: true });
    await mkdir(path.join(ctx, 'data'), { recursive: true });
    await writeFile(path.join(ctx, '.venv', 'lib', 'site.bin'), randomBytes(1_000_000));
    await writeFile(path.join(ctx, 'data', 'fixtures.bin'), randomBytes(800_000));
    await writeFile(path.join(ctx, 'app.py'), 'print("hi")\n');
    await writeFile(path.join(ctx, 'Dockerfile'), [
      `FROM ${DEBIAN_IMAGE}`,
      'COPY . /app/',
      'RUN python3 -c "import os; os.makedirs(\'/opt/tool/cache\'); open(\'/opt/tool/lib.bin\', \'wb\').write(os.urandom(2000000)); open(\'/opt/tool/cache/build.bin\', \'wb\').write(os.urandom(1500000))"',
      'LABEL stage=cleanup',
      'RUN rm -rf /opt/tool/cache',
      'RUN chmod -R g+w /app /opt/tool',
      'RUN rm -rf /app/data',
      '',
    ].join('\n'));
    const tag = 'layerlens-test/suggest-deb:before';
    tags.push(tag);
    before0 = await build(ctx, tag);
    suggestions = await suggest(path.join(ctx, 'Dockerfile'), tag);
  });

  after(async () => {
    if (work) await rm(work, { recursive: true, force: true });
    for (const t of tags) await E.run(E.DOCKER, ['rmi', '-f', t]);
  });

  it('offers .venv for .dockerignore (with what the chmod -R ships again of it), the fold of line 5 into line 3, and of line 7 into the chmod', () => {
    assert.deepEqual(suggestions.map((s) => `${s.kind}:${s.line}`).sort(), ['dockerignore:2', 'fold-cleanup:5', 'fold-cleanup:7'], JSON.stringify(suggestions));
    const ignore = suggestions.find((s) => s.kind === 'dockerignore')!;
    assert.deepEqual(ignore.edits.map((e) => e.newText), ['.venv\n']);
    // 1 MB copied by line 2, and the same file again in the chmod -R's layer.
    assert.equal(ignore.savesBytes, 2_000_000);
    // /opt/tool/cache, deleted before the chmod: only line 3's copy.
    assert.equal(suggestions.find((s) => s.line === 5)!.savesBytes, 1_500_000);
    // /app/data: the copy the chmod -R made (line 2's own copy still ships: a COPY is not folded).
    assert.equal(suggestions.find((s) => s.line === 7)!.savesBytes, 800_000);
  });

  it('each suggestion\'s edits alone, rebuilt, shrink the image by savesBytes (within 5 % or 64 KiB)', async () => {
    await checkSavings(work, path.join(work, 'ctx'), suggestions, before0, 'layerlens-test/suggest-deb', tags);
  });
});

describe('layerlens suggest: applying a suggestion\'s edits saves what it says', () => {
  let work = '';
  const tags: string[] = [];
  let suggestions: Suggestion[] = [];
  let before0 = 0;

  before(async () => {
    await E.ensureBaseImage();
    work = await mkdtemp(path.join(os.tmpdir(), 'layerlens-suggest-'));
    const ctx = path.join(work, 'ctx');
    await mkdir(path.join(ctx, 'node_modules', 'dep'), { recursive: true });
    await writeFile(path.join(ctx, 'node_modules', 'dep', 'blob.bin'), randomBytes(2_000_000));
    await writeFile(path.join(ctx, 'app.sh'), 'echo hi\n');
    await writeFile(path.join(ctx, 'Dockerfile'), [
      `FROM ${E.BASE_IMAGE}`,
      'RUN mkdir -p /build && head -c 3000000 /dev/urandom > /build/sdk.tar && head -c 500000 /dev/urandom > /build/cache.bin',
      'LABEL stage=cleanup',
      'RUN rm -rf /build',
      'COPY . /app/',
      '',
    ].join('\n'));
    const tag = 'layerlens-test/suggest:before';
    tags.push(tag);
    before0 = await build(ctx, tag);
    const r = await E.cli(['suggest', path.join(ctx, 'Dockerfile'), '--image', tag, '--json']);
    assert.equal(r.code, 0, r.stderr);
    const out = JSON.parse(r.stdout) as { schemaVersion: number; suggestions: Suggestion[] };
    assert.equal(out.schemaVersion, 1);
    suggestions = out.suggestions;
  });

  after(async () => {
    if (work) await rm(work, { recursive: true, force: true });
    for (const t of tags) await E.run(E.DOCKER, ['rmi', '-f', t]);
  });

  it('offers the fold and the .dockerignore entry, each with its savings', () => {
    assert.deepEqual(suggestions.map((s) => s.kind).sort(), ['dockerignore', 'fold-cleanup'], JSON.stringify(suggestions));
    for (const s of suggestions) assert.ok(s.savesBytes > 0 && s.edits.length > 0);
  });

  it('each suggestion\'s edits alone, rebuilt, shrink the image by savesBytes (within 5 % or 64 KiB)', async () => {
    for (const s of suggestions) {
      const ctx = path.join(work, s.kind);
      await cp(path.join(work, 'ctx'), ctx, { recursive: true });
      for (const file of new Set(s.edits.map((e) => e.file))) {
        const p = path.join(ctx, file);
        const text = await readFile(p, 'utf8').catch(() => '');
        await writeFile(p, applyEdits(text, s.edits.filter((e) => e.file === file)));
      }
      const tag = `layerlens-test/suggest:${s.kind}`;
      tags.push(tag);
      const after0 = await build(ctx, tag);
      const saved = before0 - after0;
      const tolerance = Math.max(0.05 * s.savesBytes, 64 * 1024);
      assert.ok(Math.abs(saved - s.savesBytes) <= tolerance, `${s.id}: saved ${saved} B, said ${s.savesBytes} B`);
    }
  });
});
