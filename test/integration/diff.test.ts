// `layerlens diff` on the real test engine: two builds of a context in which one copied file was
// edited, one added and one deleted (and a RUN after the COPY rebuilt with byte-identical output).
// The reference is the engine's own view: `docker export` of a container of each image, every
// entry's type, mode, owner, size, link target and content hash, compared path by path.
// No engine = failure (requireEngine in before()), never a skip.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdtemp, mkdir, rm, writeFile, unlink } from 'node:fs/promises';
import * as os from 'node:os';
import * as path from 'node:path';
import * as tar from 'tar-stream';
import * as E from '../support/engine';

interface Entry { type: string; mode: number; uid: number; gid: number; size: number; digest: string; link?: string }

/** Every entry of `docker export` of a container of `image`, contents hashed. */
async function exportEntries(image: string): Promise<Map<string, Entry>> {
  const cid = (await E.docker(['create', image, '/layerlens-never-run'])).trim();
  try {
    const child = spawn(E.DOCKER, ['export', cid], { stdio: ['ignore', 'pipe', 'inherit'], env: process.env });
    const ex = tar.extract();
    const out = new Map<string, Entry>();
    const links: Array<[string, string]> = [];
    const done = new Promise<void>((resolve, reject) => {
      ex.on('entry', (h, body, next) => {
        const p = E.normPath(h.name);
        const hash = createHash('sha256');
        body.on('data', (c: unknown) => { hash.update(c as Buffer); });
        body.on('end', () => {
          const type = h.type === 'file' || h.type === 'contiguous-file' ? 'file' : h.type === 'directory' ? 'dir' : h.type === 'link' ? 'hardlink' : String(h.type);
          const e: Entry = { type, mode: (h.mode ?? 0) & 0o7777, uid: h.uid ?? 0, gid: h.gid ?? 0, size: type === 'file' ? h.size ?? 0 : 0, digest: type === 'file' ? hash.digest('hex') : '' };
          if (h.type === 'symlink') e.link = h.linkname ?? '';
          if (h.type === 'link') links.push([p, E.normPath(h.linkname ?? '')]);
          if (p !== '/') out.set(p, e);
          next();
        });
      });
      ex.on('finish', () => resolve());
      ex.on('error', reject);
    });
    child.stdout.pipe(ex);
    await done;
    // A hardlink is the file it links to.
    for (const [p, to] of links) {
      const t = out.get(to);
      if (t) out.set(p, { ...t, mode: out.get(p)!.mode });
    }
    return out;
  } finally {
    await E.run(E.DOCKER, ['rm', '-f', cid]);
  }
}

/** The difference of two exports as `diff --json` files would list it. */
function exportDiff(a: Map<string, Entry>, b: Map<string, Entry>): string[] {
  const out: string[] = [];
  for (const [p, x] of a) {
    const y = b.get(p);
    if (!y) out.push(`${p} removed ${x.size} -`);
    else if (x.type !== y.type || x.mode !== y.mode || x.uid !== y.uid || x.gid !== y.gid || x.size !== y.size || x.digest !== y.digest || x.link !== y.link) {
      out.push(`${p} modified ${x.size} ${y.size}`);
    }
  }
  for (const [p, y] of b) if (!a.has(p)) out.push(`${p} added - ${y.size}`);
  return out.sort();
}

interface DiffFile { path: string; change: string; oldSize: number | null; newSize: number | null; layer: number }
interface DiffOut {
  schemaVersion: number; old: { id: string; size: number }; new: { id: string; size: number }; sizeDelta: number;
  layers: Array<{ oldLayer: number | null; newLayer: number | null; createdBy: string; oldSize: number | null; newSize: number | null }>;
  files: DiffFile[];
}

const NONCE = `${process.pid}-${Date.now()}`;
let work = '';
let ctx = '';
const OLD = `layerlens-test/diff:old-${process.pid}`;
const NEW = `layerlens-test/diff:new-${process.pid}`;

async function build(tag: string): Promise<void> {
  await E.docker(['build', '--network=none', '-q', '-t', tag, ctx], { env: { DOCKER_BUILDKIT: '1' }, timeoutMs: 300_000 });
}

describe('layerlens diff (real engine)', () => {
  before(async () => {
    await E.requireEngine();
    await E.ensureBaseImage();
    work = await mkdtemp(path.join(os.tmpdir(), 'layerlens-diff-'));
    ctx = path.join(work, 'ctx');
    await mkdir(path.join(ctx, 'app'), { recursive: true });
    await writeFile(path.join(ctx, 'Dockerfile'), [
      `FROM ${E.BASE_IMAGE}`,
      'COPY app/ /app/',
      // Rebuilt after the COPY with byte-identical output: a new layer, nothing to report.
      'RUN echo built > /built.txt && chmod 0600 /built.txt',
      '',
    ].join('\n'));
    await writeFile(path.join(ctx, 'app', 'edited.txt'), `version one ${NONCE}\n`);
    await writeFile(path.join(ctx, 'app', 'same.txt'), 'unchanged\n');
    await writeFile(path.join(ctx, 'app', 'gone.txt'), 'to be deleted\n');
    await build(OLD);
    await writeFile(path.join(ctx, 'app', 'edited.txt'), `version TWO ${NONCE}\n`);
    await writeFile(path.join(ctx, 'app', 'added.txt'), 'new file\n');
    await unlink(path.join(ctx, 'app', 'gone.txt'));
    await build(NEW);
  });

  after(async () => {
    await E.run(E.DOCKER, ['rmi', '-f', OLD, NEW]);
    if (work) await rm(work, { recursive: true, force: true });
  });

  it('equals the difference of the two images\' docker exports, content hashed', async () => {
    const r = await E.cli(['diff', OLD, NEW, '--json']);
    assert.equal(r.code, 0, r.stderr);
    const j = JSON.parse(r.stdout) as DiffOut;
    assert.equal(j.schemaVersion, 1);
    assert.equal(j.old.id, await E.imageId(OLD));
    assert.equal(j.new.id, await E.imageId(NEW));
    assert.equal(j.sizeDelta, j.new.size - j.old.size);
    const got = j.files.map((f) => `${f.path} ${f.change} ${f.oldSize ?? '-'} ${f.newSize ?? '-'}`).sort();
    const want = exportDiff(await exportEntries(OLD), await exportEntries(NEW));
    assert.deepEqual(got, want);
    // What the edit did, and nothing of the rebuilt RUN layer (/built.txt: same bytes, new layer).
    assert.deepEqual(got, [
      '/app/added.txt added - 9',
      '/app/edited.txt modified ' + Buffer.byteLength(`version one ${NONCE}\n`) + ' ' + Buffer.byteLength(`version TWO ${NONCE}\n`),
      '/app/gone.txt removed 14 -',
    ]);
    // Layers aligned by instruction: the base shared, COPY and RUN paired, each rebuilt.
    assert.deepEqual(j.layers.map((l) => [l.oldLayer, l.newLayer]), [[0, 0], [1, 1], [2, 2]]);
    assert.match(j.layers[1].createdBy, /COPY app\/ \/app\//);
    assert.equal(j.files.find((f) => f.path === '/app/added.txt')!.layer, 1);
  });

  it('compares any two sources: a docker save archive against the engine image, the same result', async () => {
    const tarPath = path.join(work, 'old.tar');
    await E.docker(['save', '-o', tarPath, OLD]);
    const viaEngine = JSON.parse((await E.cli(['diff', OLD, NEW, '--json'])).stdout) as DiffOut;
    const r = await E.cli(['diff', `docker-archive:${tarPath}`, NEW, '--json']);
    assert.equal(r.code, 0, r.stderr);
    const j = JSON.parse(r.stdout) as DiffOut;
    assert.deepEqual(j.files, viaEngine.files);
    // The text form names the three changes.
    const t = await E.cli(['diff', tarPath, NEW]);
    assert.equal(t.code, 0, t.stderr);
    assert.match(t.stdout, /modified .* \/app\/edited\.txt/);
    assert.match(t.stdout, /added .* \/app\/added\.txt/);
    assert.match(t.stdout, /removed .* \/app\/gone\.txt/);
  });

  it('bad input is one line on stderr and exit 2', async () => {
    const r = await E.cli(['diff', OLD]);
    assert.equal(r.code, 2);
    assert.equal(r.stderr.trim().split('\n')[0], 'layerlens: diff needs two sources: OLD NEW');
    const missing = await E.cli(['diff', OLD, path.join(work, 'missing.tar')]);
    assert.equal(missing.code, 2);
    assert.equal(missing.stderr.trim().split('\n').length, 1, missing.stderr);
  });
});
