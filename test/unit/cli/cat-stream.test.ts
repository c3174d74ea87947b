// `layerlens cat` keeps memory bounded for any file size: the bytes wait in a spool (memory up to a
// bound, then a temporary file only the open descriptor holds) until the layer's digests are
// checked. In-process (copyVersion with a small memory bound), from plain and gzip `docker save`
// files and OCI layouts (zstd and uncompressed blobs): a file past the bound goes to a temporary
// file, the bytes written equal the layer tar's, and no temporary file is left (nor visible while
// it is in use); an uncompressed layer the reader checked before is written straight from the
// file, with no spool; a layer rewritten after its manifest was written writes nothing.
// As a process: a file larger than the default bound (SPOOL_MEMORY_BYTES) comes out whole from
// plain, gzip and OCI sources, and a rewritten layer is one line, exit 2 and no byte on stdout,
// with TMPDIR left empty both times.
import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { analyze } from '../../../src/core/image/analysis';
import { copyVersion } from '../../../src/cli/cat';
import { SPOOL_MEMORY_BYTES } from '../../../src/sources/imageSource';
import { openImageSource, parseSource } from '../../../src/sources/load';
import { CLI_BUNDLE } from '../../support/repo';
import { runCli } from '../../support/cliRun';
import { withDir } from '../support/tmpdir';
import { dockerSave, gzip, makeTar, ociLayout, writeLayout, type ImageSpec } from '../support/tars';

const CLI = CLI_BUNDLE;

async function spec(big: Buffer): Promise<ImageSpec> {
  return {
    layers: [
      await makeTar([{ name: 'etc/', type: 'directory' }, { name: 'etc/conf', body: 'one\n' }, { name: 'big', body: Buffer.from('an older copy') }]),
      // The same path twice in one layer: the last entry is the version (the spool starts over).
      await makeTar([{ name: 'big', body: Buffer.from('replaced below') }, { name: 'big', body: big }, { name: 'hard', type: 'link', linkname: 'big' }]),
    ],
    tag: 'cat:stream',
  };
}

const rewritten = async (): Promise<Buffer> => makeTar([{ name: 'big', body: Buffer.from('evil\n') }]);

test('copyVersion: a file past the memory bound is spooled to a temporary file, written whole after the check, and nothing is left', async () => {
  await withDir('cat-stream', async (dir) => {
    const big = randomBytes(200_000);
    const s = await spec(big);
    const file = path.join(dir, 'img.tar');
    fs.writeFileSync(file, await dockerSave(s));
    fs.writeFileSync(path.join(dir, 'img.tar.gz'), gzip(fs.readFileSync(file)));
    writeLayout(path.join(dir, 'oci'), ociLayout(s, 'zstd'));
    writeLayout(path.join(dir, 'oci-plain'), ociLayout(s, 'none'));
    const tmp = path.join(dir, 'tmp');
    fs.mkdirSync(tmp);
    // [source, read by seeking (an uncompressed tar in a file)]
    const sources: Array<[string, boolean]> = [[file, true], [path.join(dir, 'img.tar.gz'), false], [`oci:${path.join(dir, 'oci')}`, false], [`oci:${path.join(dir, 'oci-plain')}`, true]];
    for (const [source, seekable] of sources) {
      const loaded = openImageSource(await parseSource(source), {});
      const a = analyze(await loaded.load());
      // A reader that has not checked the layer yet, and the one whose load() checked it.
      for (const which of ['unchecked', 'checked'] as const) {
        for (const [p, type] of [['/big', 'file'], ['/hard', 'hardlink']] as const) {
          const reader = which === 'checked' ? loaded : openImageSource(await parseSource(source), {});
          const what = `${source} (${which}) ${p}`;
          const parts: Buffer[] = [];
          let seen = -1;
          const r = await copyVersion(reader, a, { layer: 1, type, linkname: type === 'hardlink' ? '/big' : undefined }, p, async (c) => {
            // While in use, the temporary file has no name (POSIX: unlinked as soon as it is open).
            if (seen < 0 && process.platform !== 'win32') seen = fs.readdirSync(tmp).length;
            parts.push(Buffer.from(c));
          }, { memoryBytes: 4096, tmpDir: tmp });
          // Checked before and read by seeking: straight from the file at the entry's offset; else spooled.
          assert.equal(r.spilled, !(seekable && which === 'checked'), `${what}: spilled`);
          assert.ok(Buffer.concat(parts).equals(big), `${what}: the layer tar's bytes`);
          if (process.platform !== 'win32') assert.equal(seen, 0);
          assert.deepEqual(fs.readdirSync(tmp), [], `${what}: no temporary file left`);
        }
      }
      // Under the bound: held in memory.
      const small: Buffer[] = [];
      const r = await copyVersion(openImageSource(await parseSource(source), {}), a, { layer: 0, type: 'file' }, '/etc/conf', async (c) => { small.push(c); }, { memoryBytes: 4096, tmpDir: tmp });
      assert.equal(r.spilled, false);
      assert.equal(Buffer.concat(small).toString(), 'one\n');
    }
    // Layer 1 rewritten (manifest and config as they were): the check fails at the end, nothing is written, nothing is left.
    const bad = path.join(dir, 'bad.tar');
    fs.writeFileSync(bad, await dockerSave(s, { bodies: new Map([[1, await rewritten()]]) }));
    const reader = openImageSource(await parseSource(bad), {});
    const good = analyze(await openImageSource(await parseSource(file), {}).load());
    let written = 0;
    await assert.rejects(
      copyVersion(reader, good, { layer: 1, type: 'file' }, '/big', async (c) => { written += c.length; }, { memoryBytes: 1, tmpDir: tmp }),
      /does not match its diffID/,
    );
    assert.equal(written, 0);
    assert.deepEqual(fs.readdirSync(tmp), []);
  });
});

test('cat as a process: a file larger than the memory bound, whole from plain, gzip and OCI sources; a rewritten layer: one line, exit 2, no byte; TMPDIR left empty', async () => {
  await withDir('cat-stream-cli', async (dir) => {
    const big = randomBytes(SPOOL_MEMORY_BYTES * 3 + 123);
    const s = await spec(big);
    const save = await dockerSave(s);
    fs.writeFileSync(path.join(dir, 'img.tar'), save);
    fs.writeFileSync(path.join(dir, 'img.tar.gz'), gzip(save));
    writeLayout(path.join(dir, 'oci'), ociLayout(s, 'gzip'));
    const tmp = path.join(dir, 'tmp');
    fs.mkdirSync(tmp);
    const env = { LAYERLENS_CACHE_DIR: path.join(dir, 'cache'), TMPDIR: tmp };
    for (const source of [path.join(dir, 'img.tar'), path.join(dir, 'img.tar.gz'), `oci:${path.join(dir, 'oci')}`]) {
      for (const p of ['/big', '/hard']) {
        const r = await runCli(CLI, ['cat', source, p], env);
        assert.equal(r.code, 0, `${source} ${p}: ${r.stderr}`);
        assert.ok(r.stdout.equals(big), `${source} ${p}: the layer tar's bytes (${r.stdout.length} of ${big.length})`);
        assert.deepEqual(fs.readdirSync(tmp), [], `${source} ${p}: no temporary file left`);
      }
    }
    const bad = path.join(dir, 'bad.tar');
    fs.writeFileSync(bad, await dockerSave(s, { bodies: new Map([[1, await rewritten()]]) }));
    const r = await runCli(CLI, ['cat', bad, '/big'], { ...env, LAYERLENS_CACHE: 'off' });
    assert.equal(r.code, 2);
    assert.equal(r.stdout.length, 0, 'nothing on stdout');
    const lines = r.stderr.split('\n').filter((l) => l);
    assert.equal(lines.length, 1, r.stderr);
    assert.match(lines[0], /^layerlens: layer 1 \(.*\) does not match its diffID sha256:[a-f0-9]{64}/);
    assert.deepEqual(fs.readdirSync(tmp), []);
  });
});
