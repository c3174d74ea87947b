// Layers read from files are checked against their digests: a layer rewritten with other valid tar
// bytes (manifest and config as they were) is an error naming the layer, for the analysis and the
// file-version reader, in every file form (docker save plain, gzip, zstd; OCI layouts with plain,
// gzip and zstd blobs; OCI layouts packed in a tar), hashed in this thread or on a worker. An
// OCI blob is also checked against its blob digest, and the documents against theirs.
// --no-verify reads it anyway and says so. The check is remembered with the cache record, by the
// file's identity: an unchanged file is not hashed again, and a record made without the check does
// not stand for one.
import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { gzipSync } from 'node:zlib';
import { ImageFormatError } from '../../../src/core/image/errors';
import type { ImageData } from '../../../src/core/image/types';
import { NOT_VERIFIED } from '../../../src/sources/imageSource';
import { LayerIndexCache } from '../../../src/sources/indexCache';
import { loadImage, openImageSource, type SourceSpec } from '../../../src/sources/load';
import { dockerSave, gzip, makeTar, ociLayout, sha256, tarOfFiles, writeLayout, zstd, type ImageSpec } from '../support/tars';
import { withDir } from '../support/tmpdir';

const base = (): Promise<Buffer> => makeTar([{ name: 'etc/', type: 'directory' }, { name: 'etc/passwd', body: 'root:x:0:0\n' }]);
const good = (): Promise<Buffer> => makeTar([{ name: 'etc/conf', body: 'two\n' }]);
/** Other valid tar bytes for layer 1: a file of its own, and the same size as good() when `sameSize`. */
const evil = (sameSize = false): Promise<Buffer> => makeTar(sameSize ? [{ name: 'etc/conf', body: 'owt\n' }] : [{ name: 'etc/conf', body: 'two\n' }, { name: 'etc/evil', body: 'evil\n' }]);

type Form = 'save' | 'save.gz' | 'save.zst' | 'oci-none' | 'oci-gzip' | 'oci-zstd' | 'oci-in-tar' | 'oci-gzip-in-tar';
const FORMS: Form[] = ['save', 'save.gz', 'save.zst', 'oci-none', 'oci-gzip', 'oci-zstd', 'oci-in-tar', 'oci-gzip-in-tar'];

/** The image of `spec` in form `form` under dir, layer 1's bytes replaced by `layer1` when given. */
async function write(dir: string, form: Form, spec: ImageSpec, layer1?: Buffer): Promise<SourceSpec> {
  if (form.startsWith('save')) {
    const save = await dockerSave(spec, { bodies: layer1 ? new Map([[1, layer1]]) : undefined });
    const file = path.join(dir, `img.${form}`);
    fs.writeFileSync(file, form === 'save.gz' ? gzip(save) : form === 'save.zst' ? zstd(save) : save);
    return { kind: 'docker-archive', path: file };
  }
  const compress = form === 'oci-gzip' || form === 'oci-gzip-in-tar' ? 'gzip' : form === 'oci-zstd' ? 'zstd' : 'none';
  const files = ociLayout(spec, compress);
  if (layer1) {
    // The blob keeps its name (the manifest's digest); its bytes are another tar's.
    const pack = compress === 'gzip' ? gzip : compress === 'zstd' ? zstd : (b: Buffer) => b;
    const name = [...files.keys()].find((k) => k.startsWith('blobs/') && files.get(k)!.equals(pack(spec.layers[1])));
    assert.ok(name, 'the blob of layer 1');
    files.set(name, pack(layer1));
  }
  if (form.endsWith('-in-tar')) {
    const file = path.join(dir, `${form}.tar`);
    fs.writeFileSync(file, await tarOfFiles(files));
    return { kind: 'docker-archive', path: file };
  }
  const layout = path.join(dir, form);
  writeLayout(layout, files);
  return { kind: 'oci', dir: layout };
}

async function withHashWorkers<T>(n: string, fn: () => Promise<T>): Promise<T> {
  const before = process.env.LAYERLENS_HASH_WORKERS;
  process.env.LAYERLENS_HASH_WORKERS = n;
  try {
    return await fn();
  } finally {
    if (before === undefined) delete process.env.LAYERLENS_HASH_WORKERS; else process.env.LAYERLENS_HASH_WORKERS = before;
  }
}

const paths = (img: ImageData): string[][] => img.layers.map((l) => l.entries.map((e) => e.path));

function isMismatch(e: unknown, label: string): boolean {
  assert.ok(e instanceof ImageFormatError, `${label}: ${String(e)}`);
  assert.equal(e.code, 'corrupt', label);
  assert.match(e.message, /^layer 1 \(.*\) does not match its diffID sha256:[a-f0-9]{64}: its tar hashes to sha256:[a-f0-9]{64} /, label);
  assert.ok(!e.message.includes('\n'), `${label}: one line`);
  return true;
}

test('a layer rewritten with other tar bytes: the analysis fails naming it, in every file form, hashed here or on a worker; --no-verify reads it and says so', async () => {
  await withDir('digests', async (dir) => {
    const spec = { layers: [await base(), await good()] };
    const bad = await evil();
    for (const form of FORMS) {
      const ok = await write(dir, form, spec);
      const okImage = await loadImage(ok);
      assert.deepEqual(paths(okImage), [['/etc', '/etc/passwd'], ['/etc/conf']], form);
      assert.ok(!okImage.warnings.includes(NOT_VERIFIED), form);
      const src = await write(dir, form, spec, bad);
      for (const workers of ['0', '1']) {
        await withHashWorkers(workers, () => assert.rejects(loadImage(src), (e) => isMismatch(e, `${form}, ${workers} hash worker(s)`)));
      }
      const unchecked = await loadImage(src, { verify: false });
      assert.deepEqual(paths(unchecked), [['/etc', '/etc/passwd'], ['/etc/conf', '/etc/evil']], `${form}: the new files under the old diffID`);
      assert.equal(unchecked.diffIds[1], sha256(spec.layers[1]));
      assert.ok(unchecked.warnings.includes(NOT_VERIFIED), `${form}: says it was not checked`);
    }
  });
});

test('the file-version reader: a rewritten layer is never read as the one named; --no-verify reads it', async () => {
  await withDir('digests', async (dir) => {
    const spec = { layers: [await base(), await good()] };
    const d1 = sha256(spec.layers[1]);
    for (const form of FORMS) {
      const src = await write(dir, form, spec, await evil());
      // Compressed as a whole, a layer is found by its hash: no member is layer 1 any more.
      await assert.rejects(openImageSource(src).readFile(d1, '/etc/evil'), (e: unknown) =>
        form === 'save.gz' || form === 'save.zst' ? e instanceof ImageFormatError && e.code === 'missing' : isMismatch(e, form));
      await assert.rejects(async () => { for await (const c of await openImageSource(src).openLayer(d1)) void c; }, (e: unknown) =>
        form === 'save.gz' || form === 'save.zst' ? e instanceof ImageFormatError && e.code === 'missing' : isMismatch(e, `${form}: openLayer`));
      if (form === 'save.gz' || form === 'save.zst') continue;
      const e = await openImageSource(src, { verify: false }).readFile(d1, '/etc/evil');
      assert.equal(e.data.toString(), 'evil\n', form);
    }
  });
});

test('an OCI blob is checked against its blob digest (same tar, other compressed bytes), and the config against its digest', async () => {
  await withDir('digests', async (dir) => {
    const spec = { layers: [await base(), await good()] };
    const files = ociLayout(spec, 'gzip');
    const blob = [...files.keys()].find((k) => files.get(k)!.equals(gzip(spec.layers[1])))!;
    files.set(blob, gzipSync(spec.layers[1], { level: 1, memLevel: 1 }));
    assert.ok(!files.get(blob)!.equals(gzip(spec.layers[1])));
    writeLayout(path.join(dir, 'recompressed'), files);
    const src = { kind: 'oci' as const, dir: path.join(dir, 'recompressed') };
    const blobMismatch = (e: unknown): boolean => e instanceof ImageFormatError && /^layer 1 \(blob .*\) does not match its blob digest sha256:[a-f0-9]{64}: its blob hashes to /.test(e.message);
    await assert.rejects(loadImage(src), blobMismatch);
    await assert.rejects(openImageSource(src).readFile(sha256(spec.layers[1]), '/etc/conf'), blobMismatch);
    // The config rewritten in place (its name, the manifest's digest, kept).
    const files2 = ociLayout(spec, 'none');
    const config = [...files2.keys()].find((k) => files2.get(k)!.toString().includes('"rootfs"'))!;
    files2.set(config, Buffer.from(files2.get(config)!.toString().replace('"os":"linux"', '"os":"plan9"')));
    writeLayout(path.join(dir, 'config'), files2);
    await assert.rejects(loadImage({ kind: 'oci', dir: path.join(dir, 'config') }), (e: unknown) =>
      e instanceof ImageFormatError && /^the image config sha256:[a-f0-9]{64} does not match its digest/.test(e.message));
    assert.equal((await loadImage({ kind: 'oci', dir: path.join(dir, 'config') }, { verify: false })).config.os, 'plan9');
  });
});

/** Rewrites a file in place (same inode and size), keeping its (whole-second) mtime: the same file identity. */
function rewriteKeepingIdentity(file: string, bytes: Buffer): void {
  const st = fs.statSync(file);
  assert.equal(bytes.length, st.size);
  fs.writeFileSync(file, bytes);
  fs.utimesSync(file, st.atimeMs / 1000, st.mtimeMs / 1000);
  const after = fs.statSync(file);
  assert.equal(after.ino, st.ino);
  assert.equal(after.mtimeMs, st.mtimeMs);
}

/** Other bytes for `file` of its very size: layer 1 rewritten (`build` makes the file's bytes from a layer 1). */
async function sameSize(file: string, build: (layer1: Buffer) => Buffer | Promise<Buffer>): Promise<Buffer> {
  const size = fs.statSync(file).size;
  for (const word of ['owt', 'tow', 'wot', 'abc', 'xyz', 'qqq', 'zzz', 'aaa', 'bob', 'cat', 'dog', 'emu']) {
    const b = await build(await makeTar([{ name: 'etc/conf', body: word + '\n' }]));
    if (b.length === size && !b.equals(fs.readFileSync(file))) return b;
  }
  return assert.fail(`no rewrite of ${file} of its size`);
}

test('the check is remembered by the file\'s identity: not hashed again; a record made without the check is checked', async () => {
  await withDir('digests', async (dir) => {
    const spec = { layers: [await base(), await good()] };
    for (const form of ['save', 'save.gz', 'oci-none', 'oci-gzip'] as const) {
      for (const first of ['checked', 'unchecked'] as const) {
        const sub = path.join(dir, `${form}-${first}`);
        fs.mkdirSync(sub);
        const cache = new LayerIndexCache(path.join(sub, 'cache'));
        const src = await write(sub, form, spec);
        // The file that holds layer 1, and other bytes of its size for it (layer 1 rewritten).
        let target: string;
        let bytes: Buffer;
        if (src.kind === 'oci') {
          const pack = form === 'oci-gzip' ? gzip : (b: Buffer) => b;
          target = path.join(src.dir, 'blobs', 'sha256', sha256(pack(spec.layers[1])).slice(7));
          bytes = await sameSize(target, pack);
        } else {
          assert.equal(src.kind, 'docker-archive');
          target = (src as { path: string }).path;
          bytes = await sameSize(target, async (l1) => {
            const save = await dockerSave(spec, { bodies: new Map([[1, l1]]) });
            return form === 'save.gz' ? gzip(save) : save;
          });
        }
        fs.utimesSync(target, 1_700_000_000, 1_700_000_000); // whole seconds: restored exactly below
        await loadImage(src, { cache, verify: first === 'checked' });
        rewriteKeepingIdentity(target, bytes);
        if (first === 'checked') {
          // Remembered: neither read nor hashed again (hashing would fail).
          const again = await loadImage(src, { cache });
          assert.deepEqual(paths(again), [['/etc', '/etc/passwd'], ['/etc/conf']], `${form}: from the cache`);
        } else {
          // Indexed without the check: that record does not stand for one, so the bytes are hashed.
          await assert.rejects(loadImage(src, { cache }), (e) => isMismatch(e, `${form}: checked now`));
        }
      }
    }
  });
});
