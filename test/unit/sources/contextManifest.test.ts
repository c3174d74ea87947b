// Unit tests of the build context (src/sources/contextManifest.ts, no vscode inside): .dockerignore
// as the docker CLI reads it, the walk, the manifest (sizes, then hashes; unchanged files not read
// again), and the tar sent to the engine (exactly the manifest's files, uid/gid 0, overrides).
import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { chmod, mkdir, mkdtemp, rm, symlink, utimes, writeFile } from 'node:fs/promises';
import * as os from 'node:os';
import * as path from 'node:path';
import * as tar from 'tar-stream';
import {
  DockerignoreMatcher, chooseContextDir, contextManifest, packContext, parseDockerignore, walkContext,
} from '../../../src/sources/contextManifest';

describe('.dockerignore', () => {
  test('parsing: comments, blank lines, !exceptions, leading /, cleaning', () => {
    const ps = parseDockerignore('\uFEFF# comment\n\n  *.log  \n!keep.log\n/abs/./x/../y\n  # not a comment (leading space)\n! spaced\nsub/\n');
    assert.deepEqual(ps.map((p) => [p.pattern, p.exclusion]), [
      ['*.log', false], ['keep.log', true], ['abs/y', false], ['# not a comment (leading space)', false], ['spaced', true], ['sub', false],
    ]);
  });

  test('matching as moby/patternmatcher: * ? ** [..], parent directories, last match wins', () => {
    const m = new DockerignoreMatcher('*.log\n!keep.log\n**/tmp\ndocs/*.md\n!docs/README.md\nb?n\n[xy].txt\nnode_modules\n');
    const cases: Array<[string, boolean]> = [
      ['a.log', true], ['keep.log', false], ['dir/a.log', false],
      ['tmp', true], ['a/b/tmp', true], ['a/tmp/file', true], ['tmpx', false],
      ['docs/a.md', true], ['docs/README.md', false], ['docs/sub/a.md', false],
      ['bin', true], ['bin/x', true], ['bun', true], ['bn', false],
      ['x.txt', true], ['z.txt', false],
      ['node_modules', true], ['node_modules/a/b.js', true], ['src/node_modules', false],
    ];
    for (const [p, want] of cases) assert.equal(m.ignores(p), want, p);
  });

  test('**: at the start, the end and in the middle', () => {
    const m = new DockerignoreMatcher('a/**\n**/*.o\nx/**/y\n');
    assert.ok(m.ignores('a/b/c'));
    assert.ok(m.ignores('deep/er/k.o') && m.ignores('k.o'));
    assert.ok(m.ignores('x/y') && m.ignores('x/1/2/y') && !m.ignores('x/1/z'));
  });

  test('the Dockerfile and .dockerignore are always sent; skipping whole directories only without exceptions', () => {
    const m = new DockerignoreMatcher('*\n', ['Dockerfile', '.dockerignore', 'docker/app.Dockerfile']);
    assert.ok(!m.ignores('Dockerfile') && !m.ignores('.dockerignore') && !m.ignores('docker/app.Dockerfile'));
    assert.ok(m.ignores('src'));
    assert.ok(m.canSkipDir('src'));
    assert.ok(!m.canSkipDir('docker'), 'holds the Dockerfile');
    const e = new DockerignoreMatcher('src\n!src/keep\n');
    assert.ok(!e.canSkipDir('src'));
    assert.ok(e.ignores('src/x') && !e.ignores('src/keep'));
  });
});

describe('walk, manifest and tar', () => {
  let dir = '';
  before(async () => {
    dir = await mkdtemp(path.join(os.tmpdir(), 'll-ctx-'));
    await mkdir(path.join(dir, 'src', 'sub'), { recursive: true });
    await mkdir(path.join(dir, 'node_modules', 'm'), { recursive: true });
    await mkdir(path.join(dir, 'empty'));
    await writeFile(path.join(dir, 'Dockerfile'), 'FROM x\nCOPY . /app\n');
    await writeFile(path.join(dir, '.dockerignore'), 'node_modules\n*.log\nDockerfile\n');
    await writeFile(path.join(dir, 'src', 'a.py'), 'print(1)\n');
    await writeFile(path.join(dir, 'src', 'sub', 'b.txt'), 'b');
    await chmod(path.join(dir, 'src', 'a.py'), 0o755);
    await writeFile(path.join(dir, 'x.log'), 'log');
    await writeFile(path.join(dir, 'node_modules', 'm', 'index.js'), 'x');
    await writeFile(path.join(dir, 'big.bin'), Buffer.alloc(3 << 20, 7));
    await symlink('src/a.py', path.join(dir, 'link'));
  });
  after(async () => {
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  test('the walk: sorted, ignored entries and directories left out, symlinks as links', async () => {
    const seen: string[] = [];
    for await (const e of walkContext(dir, { keep: ['Dockerfile'] })) seen.push(`${e.type} ${e.rel}`);
    assert.deepEqual(seen, [
      'file .dockerignore', 'file Dockerfile', 'file big.bin', 'dir empty', 'symlink link', 'dir src', 'file src/a.py', 'dir src/sub', 'file src/sub/b.txt',
    ]);
  });

  test('the manifest: sizes, modes, sha256; unchanged files are not read again', async () => {
    const first = await contextManifest(dir, { keep: ['Dockerfile'] });
    const f = first.manifest.files;
    assert.equal(f['src/a.py'].sha256, createHash('sha256').update('print(1)\n').digest('hex'));
    assert.equal(f['src/a.py'].mode, 0o755);
    assert.equal(f['big.bin'].size, 3 << 20);
    assert.deepEqual(f.link, { size: 8, sha256: createHash('sha256').update('src/a.py').digest('hex'), mode: f.link.mode, type: 'symlink' });
    assert.equal(f.empty.type, 'dir');
    assert.ok(first.bytesHashed >= 3 << 20);
    const again = await contextManifest(dir, { keep: ['Dockerfile'], previous: { manifest: first.manifest, mtimes: first.mtimes } });
    assert.equal(again.bytesHashed, 0, 'nothing read: same sizes and mtimes');
    assert.deepEqual(again.manifest, first.manifest);
    // Same size, new mtime: read and hashed again (same hash). New content: new hash.
    const later = new Date(Date.now() + 5000);
    await utimes(path.join(dir, 'src', 'sub', 'b.txt'), later, later);
    await writeFile(path.join(dir, 'src', 'a.py'), 'print(2)\n');
    const third = await contextManifest(dir, { keep: ['Dockerfile'], previous: { manifest: again.manifest, mtimes: again.mtimes } });
    assert.equal(third.bytesHashed, 1 + 9);
    assert.equal(third.manifest.files['src/sub/b.txt'].sha256, f['src/sub/b.txt'].sha256);
    assert.notEqual(third.manifest.files['src/a.py'].sha256, f['src/a.py'].sha256);
  });

  test('the tar holds exactly the manifest, uid/gid 0, with the Dockerfile override', async () => {
    const override = Buffer.from('FROM y\n');
    const packed = packContext(dir, { keep: ['Dockerfile'], overrides: new Map([['Dockerfile', override]]) });
    const ex = tar.extract();
    const got: Record<string, { type: string; size: number; sha: string; uid: number; gid: number; mode: number; linkname?: string }> = {};
    const done = new Promise<void>((resolve, reject) => {
      ex.on('entry', (h, body, next) => {
        const hash = createHash('sha256');
        body.on('data', (c: unknown) => hash.update(c as Buffer));
        body.on('end', () => {
          got[h.name.replace(/\/$/, '')] = { type: h.type, size: h.size ?? 0, sha: hash.digest('hex'), uid: h.uid ?? -1, gid: h.gid ?? -1, mode: h.mode ?? 0, ...(h.linkname ? { linkname: h.linkname } : {}) };
          next();
        });
      });
      ex.on('finish', resolve);
      ex.on('error', reject);
    });
    packed.tar.pipe(ex);
    await done;
    const m = await packed.manifest;
    assert.deepEqual(Object.keys(got).sort(), Object.keys(m.manifest.files).sort());
    for (const [p, e] of Object.entries(got)) {
      const want = m.manifest.files[p];
      assert.equal(e.uid, 0, p);
      assert.equal(e.gid, 0, p);
      assert.equal(e.mode & 0o7777, want.mode, p);
      if (e.type === 'file') {
        assert.equal(e.sha, want.sha256, p);
        assert.equal(e.size, want.size, p);
      }
    }
    assert.equal(got.Dockerfile.sha, createHash('sha256').update(override).digest('hex'));
    assert.equal(got.link.type, 'symlink');
    assert.equal(got.link.linkname, 'src/a.py');
  });

  test('a cancelled pack fails the tar stream and the manifest', async () => {
    const ac = new AbortController();
    ac.abort();
    const packed = packContext(dir, { signal: ac.signal });
    await assert.rejects(packed.manifest, /Cancel|abort/i);
  });

  test('context directory: the Dockerfile\'s, unless its sources live at the workspace root', async () => {
    const root = await mkdtemp(path.join(os.tmpdir(), 'll-root-'));
    try {
      await mkdir(path.join(root, 'docker'), { recursive: true });
      await mkdir(path.join(root, 'src'));
      await writeFile(path.join(root, 'src', 'main.py'), '');
      assert.equal(await chooseContextDir(path.join(root, 'docker'), root, ['src', 'src/main.py']), root);
      assert.equal(await chooseContextDir(path.join(root, 'docker'), root, []), path.join(root, 'docker'));
      await mkdir(path.join(root, 'docker', 'src'));
      assert.equal(await chooseContextDir(path.join(root, 'docker'), root, ['src']), path.join(root, 'docker'));
      assert.equal(await chooseContextDir(root, root, ['src']), root);
      assert.equal(await chooseContextDir('/elsewhere', root, ['src']), '/elsewhere');
    } finally {
      await rm(root, { recursive: true, force: true });
    }
  });
});
