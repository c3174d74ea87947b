// `layerlens cat` (node dist/cli.js) against a real Docker Engine: the bytes of a file version from
// the engine image (docker://), its `docker save` archive (plain, gzip, zstd) and OCI layouts
// (gzip, zstd) equal the bytes of that file in the layer tar `docker save` wrote: the visible
// version (the top-most layer that ships it), layer N's with --layer, a hardlink read inside its
// layer; a directory, a symlink or a deleted file is one line and exit 2.
// No engine = failure (requireEngine in before()), never a skip.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import * as path from 'node:path';
import { gzipSync } from 'node:zlib';
import * as tar from 'tar-stream';
import * as E from '../support/engine';
import { runCli, type CliRun } from '../support/cliRun';

/** node dist/cli.js ARGS with stdout as bytes. */
function cliRaw(args: string[], env: NodeJS.ProcessEnv): Promise<CliRun> {
  return runCli(path.join(E.repoRoot(), 'dist', 'cli.js'), args, env);
}

/** What one layer tar ships: regular files (a hardlink as its target's bytes in the same tar), and the other entries' types. */
interface LayerFiles { files: Map<string, Buffer>; types: Map<string, string>; hardlinks: Map<string, string> }

async function layerFiles(layer: Buffer): Promise<LayerFiles> {
  const ex = tar.extract();
  const files = new Map<string, Buffer>();
  const types = new Map<string, string>();
  const hardlinks = new Map<string, string>();
  const abs = (n: string): string => '/' + n.replace(/^\.?\/+/, '').replace(/\/$/, '');
  await new Promise<void>((resolve, reject) => {
    ex.on('entry', (h, body, next) => {
      const parts: Buffer[] = [];
      body.on('data', (b: unknown) => parts.push(b as Buffer));
      body.on('end', () => {
        const p = abs(h.name);
        types.set(p, h.type ?? 'file');
        if (h.type === 'file') files.set(p, Buffer.concat(parts));
        if (h.type === 'link') hardlinks.set(p, abs(h.linkname ?? ''));
        next();
      });
    });
    ex.on('finish', resolve);
    ex.on('error', reject);
    ex.end(layer);
  });
  for (const [p, target] of hardlinks) {
    const b = files.get(target);
    if (b) files.set(p, b);
  }
  return { files, types, hardlinks };
}

describe('layerlens cat on an engine image and its files', () => {
  let tag = '';
  let work = '';
  let layers: LayerFiles[] = [];
  const sources: string[] = [];
  let env: NodeJS.ProcessEnv = {};

  before(async () => {
    await E.requireEngine();
    tag = (await E.buildFixture('fs-changes', { builder: 'buildkit' })).tag;
    work = await E.tempDir('cat');
    env = { LAYERLENS_CACHE_DIR: path.join(work, 'cache') };
    const archive = await E.saveArchive(tag, path.join(work, 'image.tar'));
    // The layer tars as `docker save` wrote them, bottom first.
    const members = await E.tarSmallFiles((await import('node:fs')).createReadStream(archive), () => true);
    const manifest = JSON.parse(members.get('manifest.json')!.toString()) as Array<{ Layers: string[] }>;
    layers = await Promise.all(manifest[0].Layers.map((l) => layerFiles(members.get(l)!)));
    const save = readFileSync(archive);
    writeFileSync(path.join(work, 'image.tar.gz'), gzipSync(save, { level: 1 }));
    await E.runOk('zstd', ['-q', '-3', '-f', archive, '-o', path.join(work, 'image.tar.zst')]);
    sources.push(`docker://${tag}`, archive, path.join(work, 'image.tar.gz'), path.join(work, 'image.tar.zst'),
      `oci:${await E.ociLayout(tag, path.join(work, 'oci-gzip'), 'gzip', archive)}`,
      `oci:${await E.ociLayout(tag, path.join(work, 'oci-zstd'), 'zstd', archive)}`);
  });
  after(async () => {
    if (work) await rm(work, { recursive: true, force: true });
  });

  /** The layer whose version of `p` the image shows: the top-most that ships it (the paths below are never deleted). */
  const top = (p: string): number => {
    for (let i = layers.length - 1; i >= 0; i--) if (layers[i].types.has(p)) return i;
    return assert.fail(`no layer ships ${p}`);
  };

  it('the visible version of a file, and layer N\'s, are the layer tar\'s bytes, from every source', async () => {
    const paths = ['/data/overwrite.txt', '/data/big.bin', '/data/links/target.txt', '/data/links/hard-to-lower.txt', '/data/chmod.sh', '/bin/busybox'];
    const lowest = layers.findIndex((l) => l.files.has('/data/overwrite.txt'));
    assert.equal(layers[lowest].files.get('/data/overwrite.txt')!.toString(), 'one\n');
    assert.equal(layers[top('/data/overwrite.txt')].files.get('/data/overwrite.txt')!.toString(), 'two-and-longer\n');
    // ln makes hardlinks in one layer: one to a file of that layer, one to a lower file (copied up).
    for (const p of ['/data/links/target.txt', '/data/links/hard-to-lower.txt']) assert.ok(layers[top(p)].hardlinks.has(p), `${p} is a hardlink in its layer`);
    for (const source of sources) {
      for (const p of paths) {
        const r = await cliRaw(['cat', source, p], env);
        assert.equal(r.code, 0, `${source} ${p}: ${r.stderr}`);
        const want = layers[top(p)].files.get(p)!;
        assert.ok(r.stdout.equals(want), `${source} ${p}: ${r.stdout.length} bytes, the layer tar has ${want.length}`);
      }
      const r = await cliRaw(['cat', source, '/data/overwrite.txt', '--layer', String(lowest)], env);
      assert.equal(r.code, 0, `${source}: ${r.stderr}`);
      assert.equal(r.stdout.toString(), 'one\n', source);
    }
  });

  it('a directory, a symlink, a deleted file, a file a layer lacks: one line, exit 2', async () => {
    const deletedIn = layers.findIndex((l) => l.types.has('/data/.wh.delete-me.txt'));
    assert.ok(deletedIn > 0);
    const cases: Array<[string[], RegExp]> = [
      [['/data/keep'], /^layerlens: \/data\/keep is a directory in the image, not a regular file$/],
      [['/data/links/rel-sym'], /^layerlens: \/data\/links\/rel-sym is a symlink to target\.txt in the image, not a regular file$/],
      [['/data/delete-me.txt'], new RegExp(`^layerlens: /data/delete-me\\.txt is not in the image: deleted in layer ${deletedIn}$`)],
      [['/data/overwrite.txt', '--layer', '0'], /^layerlens: \/data\/overwrite\.txt is not in layer 0$/],
    ];
    for (const [args, want] of cases) {
      const r = await cliRaw(['cat', `docker://${tag}`, ...args], env);
      assert.equal(r.code, 2, args.join(' '));
      assert.equal(r.stdout.length, 0);
      assert.match(r.stderr.trimEnd(), want);
      assert.equal(r.stderr.trimEnd().split('\n').length, 1, r.stderr);
    }
  });
});
