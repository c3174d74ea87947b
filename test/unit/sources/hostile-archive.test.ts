// Hostile image archives around the layers: manifests that point at missing blobs or outside the
// archive, digests that try path traversal, huge and deeply nested JSON, JSON of the wrong shape,
// member links that loop or leave the archive. Read through the full pipeline (and the on-disk OCI
// layout loader and the file-version reader), with every fs write watched.
import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync, symlinkSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { loadImage, openImageSource, type SourceSpec } from '../../../src/sources/load';
import { configFor, dockerSave, makeTar, ociLayout, writeLayout, sha256, tarOfFiles, type TEntry } from '../support/tars';
import { expectFormatError, expectResult, expectResultOrFormatError, pipeline } from '../support/hostile';
import { END, member, pax, rawTar } from '../support/rawtar';

/** One file version through the file-version reader (the `layerlens:` documents, `layerlens cat`). */
const readLayerEntry = (spec: SourceSpec, req: { diffId: string; path: string }) => openImageSource(spec).readFile(req.diffId, req.path);

const layer0 = (): Promise<Buffer> => makeTar([{ name: 'etc/', type: 'directory' }, { name: 'etc/passwd', body: 'root:x:0:0\n' }]);

/** A docker-save archive with a hand-written manifest and config. */
async function saveWith(opts: { manifest?: unknown; config?: unknown; layers?: Buffer[]; extra?: TEntry[] }): Promise<Buffer> {
  const layers = opts.layers ?? [await layer0()];
  const config = opts.config === undefined ? configFor({ layers }) : Buffer.isBuffer(opts.config) ? opts.config : Buffer.from(typeof opts.config === 'string' ? opts.config : JSON.stringify(opts.config));
  const entries: TEntry[] = layers.map((l, i) => ({ name: `l${i}/layer.tar`, body: l }));
  entries.push({ name: 'config.json', body: config }, ...(opts.extra ?? []));
  const manifest = opts.manifest === undefined
    ? [{ Config: 'config.json', RepoTags: ['t:1'], Layers: layers.map((_, i) => `l${i}/layer.tar`) }]
    : opts.manifest;
  entries.push({ name: 'manifest.json', body: typeof manifest === 'string' ? manifest : JSON.stringify(manifest) });
  return makeTar(entries);
}

test('a manifest pointing at missing blobs: missing layer, missing config, OCI index to a missing manifest', async () => {
  await expectFormatError(pipeline(await saveWith({ manifest: [{ Config: 'config.json', Layers: ['l0/layer.tar', 'gone/layer.tar'] }], config: configFor({ layers: [await layer0(), await layer0()] }) })), 'missing', 'missing layer');
  await expectFormatError(pipeline(await saveWith({ manifest: [{ Config: 'nope.json', Layers: ['l0/layer.tar'] }] })), 'missing', 'missing config');
  const oci = ociLayout({ layers: [await layer0()] }, 'gzip');
  const idx = JSON.parse(oci.get('index.json')!.toString());
  idx.manifests[0].digest = sha256('not here');
  oci.set('index.json', Buffer.from(JSON.stringify(idx)));
  await expectFormatError(pipeline(await tarOfFiles(oci)), 'missing', 'OCI manifest blob missing');
  const oci2 = ociLayout({ layers: [await layer0()] }, 'zstd');
  for (const [k] of oci2) if (k.startsWith('blobs/') && oci2.get(k)![0] === 0x28) oci2.delete(k);
  await expectFormatError(pipeline(await tarOfFiles(oci2)), 'missing', 'OCI layer blob missing');
});

test('manifest paths that climb out of the archive name archive members, never host files', async () => {
  for (const p of ['../../../../etc/passwd', '/etc/passwd', '../../../../proc/self/environ']) {
    await expectFormatError(pipeline(await saveWith({ manifest: [{ Config: 'config.json', Layers: [p] }] })), 'missing', `layer ${p}`);
    await expectFormatError(pipeline(await saveWith({ manifest: [{ Config: p, Layers: ['l0/layer.tar'] }] })), 'missing', `config ${p}`);
  }
  // `../l0/layer.tar` is clamped to the archive's own l0/layer.tar: that reads.
  await expectResult(pipeline(await saveWith({ manifest: [{ Config: '../config.json', Layers: ['../../l0/layer.tar'] }] })), 'clamped');
});

test('archive member links: a loop is a link cycle; links that leave the archive resolve to nothing', async () => {
  const base = { manifest: [{ Config: 'config.json', Layers: ['loop/layer.tar'] }] };
  const loop = await expectFormatError(pipeline(await saveWith({ ...base, extra: [
    { name: 'loop/layer.tar', type: 'symlink', linkname: '../loop2/layer.tar' },
    { name: 'loop2/layer.tar', type: 'symlink', linkname: '../loop/layer.tar' }] })), 'corrupt', 'link loop');
  assert.match(loop.message, /loop\/layer\.tar is a link cycle/);
  await expectFormatError(pipeline(await saveWith({ ...base, extra: [
    { name: 'loop/layer.tar', type: 'symlink', linkname: '/etc/passwd' }] })), 'missing', 'absolute link');
  await expectFormatError(pipeline(await saveWith({ ...base, extra: [
    { name: 'loop/layer.tar', type: 'link', linkname: '../../../../etc/shadow' }] })), 'missing', 'hardlink out');
  // A manifest.json that is itself a link out of the archive: not an image archive.
  await expectFormatError(pipeline(await makeTar([{ name: 'manifest.json', type: 'symlink', linkname: '/etc/passwd' }])), 'corrupt', 'manifest link');
});

test('digests that try path traversal are refused before they become paths', async () => {
  const evil = ['sha256:../../../../etc/passwd', 'sha256:/etc/passwd', '../../etc/passwd', 'sha256:' + 'a'.repeat(63) + '/', 'sha512:' + 'a'.repeat(128)];
  for (const d of evil) {
    // In a tar (docker save 25+ / OCI-in-tar): index → manifest, manifest → config, manifest → layer.
    for (const where of ['index', 'config', 'layer'] as const) {
      const oci = ociLayout({ layers: [await layer0()] }, 'none');
      const idx = JSON.parse(oci.get('index.json')!.toString());
      if (where === 'index') idx.manifests[0].digest = d;
      else {
        const mPath = 'blobs/sha256/' + idx.manifests[0].digest.slice(7);
        const m = JSON.parse(oci.get(mPath)!.toString());
        if (where === 'config') m.config.digest = d; else m.layers[0].digest = d;
        const mb = Buffer.from(JSON.stringify(m));
        oci.set('blobs/sha256/' + sha256(mb).slice(7), mb);
        idx.manifests[0].digest = sha256(mb);
      }
      oci.set('index.json', Buffer.from(JSON.stringify(idx)));
      await expectFormatError(pipeline(await tarOfFiles(oci)), ['corrupt', 'missing'], `${where} digest ${d} in a tar`);
      // As a layout on disk (written before the watch starts).
      const dir = mkdtempSync(path.join(os.tmpdir(), 'll-oci-'));
      try {
        writeLayout(dir, oci);
        const e = await expectFormatError(() => loadImage({ kind: 'oci', dir }), ['corrupt', 'missing'], `${where} digest ${d} on disk`);
        assert.doesNotMatch(e.message, /root:x/, 'no host file content in the message');
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    }
  }
});

test('huge and deeply nested JSON documents', async () => {
  const deep = (n: number): string => '['.repeat(n) + ']'.repeat(n);
  const deepObj = (n: number): string => '{"a":'.repeat(n) + '1' + '}'.repeat(n);
  for (const [label, manifest] of [
    ['nested arrays 1e6', deep(1_000_000)], ['nested objects 1e5', deepObj(100_000)],
    ['5 MB of layers', JSON.stringify([{ Config: 'config.json', Layers: Array.from({ length: 200_000 }, (_, i) => `l${i}/layer.tar`) }])],
    ['not JSON', '{"Config": '], ['empty list', '[]'], ['null', 'null'], ['a number', '5'],
  ] as const) {
    const t0 = Date.now();
    await expectFormatError(pipeline(await saveWith({ manifest })), ['corrupt', 'missing', 'limit'], label);
    assert.ok(Date.now() - t0 < 10_000, `${label}: ${Date.now() - t0} ms`);
  }
  for (const [label, config] of [['nested config', deep(1_000_000)], ['nested history', `{"rootfs":{"diff_ids":[]},"history":${deep(200_000)}}`]] as const) {
    await expectResultOrFormatError(pipeline(await saveWith({ config })), label);
  }
  // A manifest bigger than the 16 MiB document cap is not buffered: the archive has no manifest.
  const big = JSON.stringify([{ Config: 'config.json', Layers: ['l0/layer.tar'], Pad: 'x'.repeat(17 * 1024 * 1024) }]);
  await expectFormatError(pipeline(await saveWith({ manifest: big })), 'corrupt', '17 MiB manifest');
});

test('JSON of the wrong shape: every field a string, a number, null, an object', async () => {
  const l = await layer0();
  const good = { Config: 'config.json', RepoTags: ['t:1'], Layers: ['l0/layer.tar'] };
  const cfg = JSON.parse(configFor({ layers: [l] }).toString());
  const weird: unknown[] = [5, 'x', null, { a: 1 }, [1, 2], true, -1, 1e308];
  for (const w of weird) {
    for (const k of ['Config', 'RepoTags', 'Layers'] as const) {
      await expectResultOrFormatError(pipeline(await saveWith({ manifest: [{ ...good, [k]: w }] })), `manifest ${k}=${JSON.stringify(w)}`);
    }
    await expectResultOrFormatError(pipeline(await saveWith({ manifest: [{ ...good, Layers: [w] }] })), `manifest Layers=[${JSON.stringify(w)}]`);
    await expectResultOrFormatError(pipeline(await saveWith({ manifest: [w] })), `manifest [${JSON.stringify(w)}]`);
    for (const k of ['history', 'rootfs', 'config', 'os', 'architecture'] as const) {
      await expectResultOrFormatError(pipeline(await saveWith({ config: { ...cfg, [k]: w } })), `config ${k}=${JSON.stringify(w)}`);
    }
    await expectResultOrFormatError(pipeline(await saveWith({ config: { ...cfg, rootfs: { diff_ids: w } } })), `config diff_ids=${JSON.stringify(w)}`);
    await expectResultOrFormatError(pipeline(await saveWith({ config: { ...cfg, history: [w] } })), `config history=[${JSON.stringify(w)}]`);
    await expectResultOrFormatError(pipeline(await saveWith({ config: { ...cfg, config: { Env: w, Cmd: w, Labels: w, OnBuild: w, User: w } } })), `config.config=${JSON.stringify(w)}`);
    await expectResultOrFormatError(pipeline(await saveWith({ config: { ...cfg, history: [{ created_by: w, empty_layer: w, created: w, comment: w }] } })), `history entry fields ${JSON.stringify(w)}`);
    // The OCI side: index, manifest and descriptors of the wrong shape.
    for (const mut of ['manifests', 'digest', 'platform', 'annotations', 'layers', 'config', 'mediaType'] as const) {
      const oci = ociLayout({ layers: [l] }, 'none');
      const idx = JSON.parse(oci.get('index.json')!.toString());
      if (mut === 'manifests') idx.manifests = w;
      else if (mut === 'digest' || mut === 'platform' || mut === 'annotations' || mut === 'mediaType') idx.manifests[0][mut] = w;
      else {
        const mPath = 'blobs/sha256/' + idx.manifests[0].digest.slice(7);
        const m = JSON.parse(oci.get(mPath)!.toString());
        m[mut] = w;
        const mb = Buffer.from(JSON.stringify(m));
        oci.set('blobs/sha256/' + sha256(mb).slice(7), mb);
        idx.manifests[0].digest = sha256(mb);
      }
      oci.set('index.json', Buffer.from(JSON.stringify(idx)));
      await expectResultOrFormatError(pipeline(await tarOfFiles(oci)), `OCI ${mut}=${JSON.stringify(w)}`);
    }
  }
});

test('the file-version reader (layerlens: documents) returns layer bytes, never host files', async () => {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'll-read-'));
  try {
    const l0 = await layer0();
    const l1 = await makeTar([{ name: 'a', type: 'symlink', linkname: '/etc' }, { name: 'a/passwd', body: 'from the layer\n' },
      { name: 'up', type: 'symlink', linkname: '../../../../..' }, { name: 'h', type: 'link', linkname: '../../../../etc/hostname' }]);
    const file = path.join(dir, 'img.tar');
    writeFileSync(file, await dockerSave({ layers: [l0, l1] }));
    symlinkSync('/etc/hostname', path.join(dir, 'hostlink'));
    const spec = { kind: 'docker-archive' as const, path: file };
    const passwd = await expectResult(() => readLayerEntry(spec, { diffId: sha256(l1), path: '/a/passwd' }), 'a/passwd');
    assert.equal(passwd.data.toString(), 'from the layer\n');
    const link = await expectResult(() => readLayerEntry(spec, { diffId: sha256(l1), path: '/a' }), 'symlink a');
    assert.equal(link.type, 'symlink');
    assert.equal(link.data.toString(), '/etc', 'a symlink shows its target text, never the target');
    // A hardlink out of the layer to a path the layer lacks: not found, not the host's file.
    await assert.rejects(() => readLayerEntry(spec, { diffId: sha256(l1), path: '/h' }), (e: Error) => e.name === 'EntryNotFoundError');
    await assert.rejects(() => readLayerEntry(spec, { diffId: sha256(l1), path: '/up/etc/hostname' }), (e: Error) => e.name === 'EntryNotFoundError');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('the file-version reader with manifests, configs and indexes of the wrong shape: typed errors only', async () => {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'll-read-'));
  const typed = (e: unknown): boolean => ['ImageFormatError', 'EntryNotFoundError'].includes((e as Error)?.name);
  try {
    const l = await layer0();
    const diffId = sha256(l);
    const cfg = JSON.parse(configFor({ layers: [l] }).toString());
    let n = 0;
    for (const w of [5, null, 'x', { a: 1 }, [null], [5]]) {
      const variants: Array<[unknown, unknown]> = [
        [[{ Config: w, Layers: ['l0/layer.tar'] }], cfg], [[w], cfg], [[{ Config: 'config.json', Layers: [w] }], cfg],
        [[{ Config: 'config.json', Layers: ['l0/layer.tar'] }], { ...cfg, rootfs: { diff_ids: w } }],
        [[{ Config: 'config.json', Layers: ['l0/layer.tar'] }], { ...cfg, rootfs: w }],
      ];
      for (const [manifest, config] of variants) {
        const file = path.join(dir, `v${n++}.tar`);
        writeFileSync(file, await saveWith({ manifest, config }));
        await readLayerEntry({ kind: 'docker-archive', path: file }, { diffId, path: '/etc/passwd' })
          .then(() => undefined, (e) => assert.ok(typed(e), `${JSON.stringify(manifest)}: ${(e as Error).stack}`));
      }
      const oci = ociLayout({ layers: [l] }, 'none');
      oci.set('index.json', Buffer.from(JSON.stringify({ schemaVersion: 2, manifests: w })));
      const layout = path.join(dir, `oci${n++}`);
      writeLayout(layout, oci);
      await readLayerEntry({ kind: 'oci', dir: layout }, { diffId, path: '/etc/passwd' })
        .then(() => undefined, (e) => assert.ok(typed(e), `index manifests ${JSON.stringify(w)}: ${(e as Error).stack}`));
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('the file-version reader walks headers as the analysis does: PAX sizes that are not sizes, huge long-name records', async () => {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'll-read-'));
  try {
    const same = async (file: string, label: string): Promise<void> => {
      const spec = { kind: 'docker-archive' as const, path: file };
      const t0 = Date.now();
      const analyzed = await expectFormatError(() => loadImage(spec), undefined, `${label}: analysis`);
      const read = await expectFormatError(() => readLayerEntry(spec, { diffId: sha256('x'), path: '/a' }), analyzed.code, `${label}: file version`);
      assert.equal(read.message, analyzed.message, `${label}: the same error`);
      assert.ok(Date.now() - t0 < 2000);
    };
    for (const size of ['-1024', '-512', 'abc', '1e400', '99999999999999999999']) {
      const file = path.join(dir, 'p.tar');
      writeFileSync(file, rawTar(member({ name: 'a' }, 'x'), pax({ size }), member({ name: 'manifest.json' }, '[]'), member({ name: 'b' }, 'y')));
      await same(file, `PAX size ${size}`);
    }
    const file = path.join(dir, 'L.tar');
    writeFileSync(file, Buffer.concat([member({ name: '././@LongLink', type: 'L', size: 2 ** 40 }), END]));
    await same(file, 'a 1 TiB long-name record');
    await expectFormatError(() => loadImage({ kind: 'docker-archive', path: file }), 'limit', 'a 1 TiB long-name record');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
