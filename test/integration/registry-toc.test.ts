// Layers with a table of contents read from a real registry (Debian's docker-registry): an image
// of two eStargz layers and a zstd:chunked one, made by the test writers (test/support/tocLayer.ts)
// as an OCI layout and pushed with `skopeo copy --preserve-digests` (the manifest keeps the
// layers' annotations: checked). `analyze --json` and `files --json` read through the TOCs equal
// the forced full read (`--full-read`) but for each layer's `toc` field; the TOC read asks only
// for parts of each blob with Range requests (a logging proxy in front of the registry), a small
// fraction of its bytes; a TOC that does not match its annotation is one error naming the layer.
// And zstd:chunked layers as a real writer makes them: skopeo's `--dest-compress-format
// zstd:chunked` (containers/storage's compressor) from plain tar layers; and a real eStargz image
// (dive's fixture, built by BuildKit), whose registry reads also equal its OCI archive's.
// Needs docker-registry, htpasswd and skopeo (a missing one fails the suite), not the engine.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { rm } from 'node:fs/promises';
import * as http from 'node:http';
import * as path from 'node:path';
import * as E from '../support/engine';
import { runCli, type CliRun } from '../support/cliRun';
import { startRegistries, type RegistryPair } from '../support/registry';
import { startRegistryProxy, type RegistryProxy } from '../support/registryProxy';
import { writeEstargz, writePlainLayer, writeTocImage, writeZstdChunked, type TocLayer, type TocTestEntry } from '../support/tocLayer';

function getJson(url: string, accept: string): Promise<unknown> {
  return new Promise((resolve, reject) => {
    http.get(url, { headers: { accept } }, (res) => {
      const parts: Buffer[] = [];
      res.on('data', (c: Buffer) => parts.push(c));
      res.on('end', () => { try { resolve(JSON.parse(Buffer.concat(parts).toString())); } catch (e) { reject(e); } });
    }).on('error', reject);
  });
}

function baseEntries(): TocTestEntry[] {
  const out: TocTestEntry[] = [
    { name: 'etc/', type: 'dir' }, { name: 'usr/', type: 'dir' }, { name: 'usr/lib/', type: 'dir' }, { name: 'var/', type: 'dir' }, { name: 'var/cache/', type: 'dir' },
    { name: 'bin/', type: 'dir' }, { name: 'bin/busybox', type: 'reg', mode: 0o755, content: randomBytes(3 * 1024 * 1024) },
    { name: 'bin/sh', type: 'symlink', linkname: 'busybox', mode: 0o777 },
    { name: 'bin/ash', type: 'hardlink', linkname: 'bin/busybox', mode: 0o755 },
    { name: 'dev/', type: 'dir' }, { name: 'dev/null', type: 'char', mode: 0o666, devMajor: 1, devMinor: 3 },
    { name: 'var/cache/big.bin', type: 'reg', content: randomBytes(2 * 1024 * 1024) },
    { name: 'etc/shadow', type: 'reg', mode: 0o640, gid: 42, content: Buffer.from('root:*:19000::::::\n') },
  ];
  for (let i = 0; i < 1500; i++) out.push({ name: `usr/lib/mod${i % 30}/file-${i}.py`, type: 'reg', mtime: 1_760_000_000 + i, content: Buffer.from(`# ${i}\n`.repeat(1 + (i % 50))) });
  // Directories of the modules after their files, as some tars order them.
  for (let m = 0; m < 30; m++) out.push({ name: `usr/lib/mod${m}/`, type: 'dir', mode: 0o755 });
  return out;
}

describe('registry: eStargz and zstd:chunked layers read through their tables of contents', () => {
  let work = '';
  let pair: RegistryPair;
  let proxy: RegistryProxy;
  let layers: TocLayer[] = [];
  const env = { LAYERLENS_CACHE: 'off' };
  const cli = (args: string[]): Promise<CliRun> => runCli(path.join(E.repoRoot(), 'dist', 'cli.js'), args, env);
  const ok = async (args: string[]): Promise<{ out: string; err: string }> => {
    const r = await cli(args);
    assert.equal(r.code, 0, `layerlens ${args.join(' ')} failed: ${r.stderr}`);
    return { out: r.stdout.toString(), err: r.stderr };
  };
  const push = async (dir: string, repoTag: string): Promise<void> => {
    await E.runOk('/usr/bin/skopeo', ['copy', '-q', '--preserve-digests', '--dest-tls-verify=false', `oci:${dir}:t`, `docker://${pair.open.host}/${repoTag}`], { timeoutMs: 600_000 });
  };

  before(async () => {
    work = await E.tempDir('registry-toc');
    pair = await startRegistries(path.join(work, 'registry'));
    proxy = await startRegistryProxy(pair.open.host);
    layers = [
      writeEstargz(baseEntries(), { chunkSize: 1024 * 1024, prefetch: 5 }),
      writeEstargz([
        { name: 'etc/', type: 'dir' },
        { name: 'etc/shadow', type: 'reg', mode: 0o600, gid: 42, content: Buffer.from('root:*:19000::::::\n') },
        { name: 'var/cache/.wh..wh..opq', type: 'reg', mode: 0 },
        { name: 'usr/lib/mod3/.wh.file-3.py', type: 'reg', mode: 0 },
        { name: 'app/', type: 'dir' }, { name: 'app/main.py', type: 'reg', content: randomBytes(1024 * 1024) },
      ]),
      writeZstdChunked([
        { name: 'app/', type: 'dir' }, { name: 'app/data.bin', type: 'reg', content: randomBytes(1024 * 1024) },
        { name: 'usr/lib/mod4/.wh.file-4.py', type: 'reg', mode: 0 },
        { name: 'opt/', type: 'dir' }, { name: 'opt/tool', type: 'reg', mode: 0o755, content: Buffer.from('#!/bin/sh\n') },
      ]),
    ];
    writeTocImage(path.join(work, 'good'), layers, 't');
    await push(path.join(work, 'good'), 'toc/app:v1');
    // The same layers, the first one's toc.digest naming other bytes.
    writeTocImage(path.join(work, 'bad'), layers, 't', (i, a) => (i === 0 ? { ...a, 'containerd.io/snapshot/stargz/toc.digest': 'sha256:' + 'ab'.repeat(32) } : a));
    await push(path.join(work, 'bad'), 'toc/app:bad');
  });
  after(async () => {
    await proxy?.close();
    await pair?.stop();
    if (work) await rm(work, { recursive: true, force: true });
  });

  it('skopeo keeps the layers\' annotations in the registry\'s manifest', async () => {
    const m = await getJson(`http://${pair.open.host}/v2/toc/app/manifests/v1`, 'application/vnd.oci.image.manifest.v1+json') as { layers: Array<{ annotations?: Record<string, string> }> };
    assert.deepEqual(m.layers.map((l) => l.annotations), layers.map((l) => l.annotations));
  });

  it('analyze --json and files --json through the TOCs equal the full read but for layers[].toc', async () => {
    const src = `registry://${proxy.host}/toc/app:v1`;
    const before = proxy.log.length;
    const toc = await ok(['analyze', '--json', src]);
    const tocLog = proxy.log.slice(before);
    const full = await ok(['analyze', '--json', '--full-read', src]);
    const a = JSON.parse(toc.out) as { layers: Array<Record<string, unknown>>; history: unknown; warnings: string[]; efficiency: number; hiddenBytes: number };
    const b = JSON.parse(full.out) as typeof a;
    assert.deepEqual(a.layers.map((l) => l.toc), ['estargz', 'estargz', 'zstd:chunked']);
    assert.deepEqual(b.layers.map((l) => l.toc), [null, null, null]);
    const strip = (l: Record<string, unknown>): Record<string, unknown> => { const { toc: _t, ...rest } = l; return rest; };
    assert.deepEqual(a.layers.map(strip), b.layers.map(strip));
    assert.deepEqual(a.history, b.history);
    assert.equal(a.efficiency, b.efficiency);
    assert.equal(a.hiddenBytes, b.hiddenBytes);
    assert.ok((a.layers[0].entries as number) > 1500);
    assert.ok((a.layers[1].deleted as number) >= 2, 'the whiteout and the opaque directory count');
    // One warning line on stderr for the image; none for the full read.
    const warn = toc.err.split('\n').filter((l) => /table of contents/.test(l));
    assert.equal(warn.length, 1, toc.err);
    assert.match(warn[0], /^layerlens: warning: 3 of 3 layers were indexed from their table of contents \(estargz, zstd:chunked\) without downloading their blobs: their diffIDs and blob digests were not checked \(--full-read reads and checks them\)$/);
    assert.equal(a.warnings.filter((w) => /table of contents/.test(w)).length, 1);
    assert.doesNotMatch(full.err, /table of contents/);

    // The TOC read asked for parts of the blobs only, a small fraction of their bytes.
    for (const l of layers) {
      const reqs = tocLog.filter((r) => r.path.endsWith(`/blobs/${l.digest}`) && r.method === 'GET');
      assert.ok(reqs.length >= 1 && reqs.length <= 2, `${reqs.length} requests for a ${l.mediaType} blob`);
      let bytes = 0;
      for (const r of reqs) {
        const m = /^bytes=(\d+)-(\d+)$/.exec(r.range ?? '');
        assert.ok(m, `a blob request without a bounded Range: ${r.range ?? '(none)'}`);
        bytes += Number(m[2]) - Number(m[1]) + 1;
      }
      assert.ok(bytes * 10 < l.blob.length, `${bytes} of ${l.blob.length} bytes asked for`);
    }
    const fullLog = proxy.log.slice(before + tocLog.length);
    for (const l of layers) {
      assert.ok(fullLog.some((r) => r.path.endsWith(`/blobs/${l.digest}`) && r.method === 'GET' && !r.range), 'the full read downloads every blob');
    }

    const files = (await ok(['files', '--json', src])).out;
    assert.ok(files.includes('"path":"/stargz.index.json"'), 'the TOC entry is in the layer tar, and shown');
    assert.ok(files.includes('"path":"/.prefetch.landmark"'));
    assert.ok(files.split('\n').length > 1500);
    assert.equal(files, (await ok(['files', '--json', '--full-read', src])).out);
    for (const n of ['0', '1', '2']) {
      assert.equal((await ok(['files', '--json', '--layer', n, src])).out, (await ok(['files', '--json', '--layer', n, '--full-read', src])).out, `files --layer ${n}`);
    }
  });

  it('a Range read whose connection drops resumes from the byte reached; a registry that ignores Range gets the blob read whole', async () => {
    const src = `registry://${proxy.host}/toc/app:v1`;
    const want = JSON.parse((await ok(['analyze', '--json', '--full-read', src])).out) as { layers: Array<Record<string, unknown>> };
    const strip = (l: Record<string, unknown>): Record<string, unknown> => { const { toc: _t, ...rest } = l; return rest; };
    // The first Range request of layer 0's blob is cut after 1000 bytes.
    let cut = false;
    proxy.fault = (r) => {
      if (!cut && r.path.endsWith(`/blobs/${layers[0].digest}`) && r.range) { cut = true; return { kind: 'drop', afterBytes: 1000 }; }
      return { kind: 'pass' };
    };
    const start = proxy.log.length;
    try {
      const a = JSON.parse((await ok(['analyze', '--json', src])).out) as typeof want;
      assert.ok(cut);
      assert.deepEqual(a.layers.map((l) => l.toc), ['estargz', 'estargz', 'zstd:chunked']);
      assert.deepEqual(a.layers.map(strip), want.layers.map(strip));
      const resumed = proxy.log.slice(start).filter((r) => r.path.endsWith(`/blobs/${layers[0].digest}`)).map((r) => r.range);
      const first = /^bytes=(\d+)-(\d+)$/.exec(resumed[0] ?? '')!;
      assert.equal(resumed[1], `bytes=${Number(first[1]) + 1000}-${first[2]}`, 'resumed from the byte reached');
      // Range stripped on its way to the registry: it answers 200 with the whole blob.
      proxy.fault = () => ({ kind: 'no-range' });
      const r = await ok(['analyze', '--json', src]);
      const b = JSON.parse(r.out) as typeof want;
      assert.deepEqual(b.layers.map((l) => l.toc), [null, null, null]);
      assert.deepEqual(b.layers, want.layers);
      assert.doesNotMatch(r.err, /table of contents/);
    } finally {
      proxy.fault = () => ({ kind: 'pass' });
    }
  });

  it('zstd:chunked layers written by skopeo (containers/storage) read through their TOCs equal the full read', async () => {
    const dir = path.join(work, 'plain');
    writeTocImage(dir, [
      writePlainLayer(baseEntries()),
      writePlainLayer([
        { name: 'etc/', type: 'dir' }, { name: 'etc/shadow', type: 'reg', mode: 0o600, gid: 42, content: Buffer.from('x\n') },
        { name: 'var/cache/.wh..wh..opq', type: 'reg', mode: 0 }, { name: 'usr/lib/mod3/.wh.file-3.py', type: 'reg', mode: 0 },
        { name: 'app/', type: 'dir' }, { name: 'app/main.py', type: 'reg', content: randomBytes(512 * 1024) },
        { name: 'app/main-link.py', type: 'hardlink', linkname: 'app/main.py' },
      ]),
    ], 't');
    await E.runOk('/usr/bin/skopeo', ['copy', '-q', '--dest-tls-verify=false', '--dest-compress-format', 'zstd:chunked', `oci:${dir}:t`, `docker://${pair.open.host}/toc/chunked:v1`], { timeoutMs: 600_000 });
    const m = await getJson(`http://${pair.open.host}/v2/toc/chunked/manifests/v1`, 'application/vnd.oci.image.manifest.v1+json') as { layers: Array<{ digest: string; size: number; annotations?: Record<string, string> }> };
    for (const l of m.layers) assert.ok(Object.keys(l.annotations ?? {}).some((k) => /zstd-chunked\.manifest-checksum$/.test(k)), JSON.stringify(l.annotations));
    const src = `registry://${proxy.host}/toc/chunked:v1`;
    const start = proxy.log.length;
    const a = JSON.parse((await ok(['analyze', '--json', src])).out) as { layers: Array<Record<string, unknown>> };
    const tocLog = proxy.log.slice(start);
    const b = JSON.parse((await ok(['analyze', '--json', '--full-read', src])).out) as typeof a;
    assert.deepEqual(a.layers.map((l) => l.toc), ['zstd:chunked', 'zstd:chunked']);
    const strip = (l: Record<string, unknown>): Record<string, unknown> => { const { toc: _t, ...rest } = l; return rest; };
    assert.deepEqual(a.layers.map(strip), b.layers.map(strip));
    for (const l of m.layers) {
      const reqs = tocLog.filter((r) => r.path.endsWith(`/blobs/${l.digest}`));
      assert.equal(reqs.length, 1);
      const r = /^bytes=(\d+)-(\d+)$/.exec(reqs[0].range ?? '')!;
      assert.ok((Number(r[2]) - Number(r[1]) + 1) * 10 < l.size);
    }
    assert.equal((await ok(['files', '--json', src])).out, (await ok(['files', '--json', '--full-read', src])).out);
    assert.equal((await ok(['files', '--json', '--layer', '1', src])).out, (await ok(['files', '--json', '--layer', '1', '--full-read', src])).out);
  });

  it('a real eStargz image (dive\'s fixture, made by BuildKit) read through its TOC equals the full read', async () => {
    const archive = path.join(E.repoRoot(), 'test', 'fixtures', 'dive', 'test-oci-estargz-image.tar');
    await E.runOk('/usr/bin/skopeo', ['copy', '-q', '--all', '--preserve-digests', '--dest-tls-verify=false', `oci-archive:${archive}`, `docker://${pair.open.host}/toc/dive:estargz`], { timeoutMs: 600_000 });
    const src = `registry://${proxy.host}/toc/dive:estargz`;
    const a = JSON.parse((await ok(['analyze', '--json', '--platform', 'linux/arm64', src])).out) as { layers: Array<Record<string, unknown>> };
    const b = JSON.parse((await ok(['analyze', '--json', '--platform', 'linux/arm64', '--full-read', src])).out) as typeof a;
    const c = JSON.parse((await ok(['analyze', '--json', '--platform', 'linux/arm64', archive])).out) as typeof a;
    assert.deepEqual(a.layers.map((l) => l.toc), ['estargz']);
    const strip = (l: Record<string, unknown>): Record<string, unknown> => { const { toc: _t, ...rest } = l; return rest; };
    assert.deepEqual(a.layers.map(strip), b.layers.map(strip));
    assert.deepEqual(b.layers, c.layers, 'the full read equals the OCI archive read');
    const files = (await ok(['files', '--json', '--platform', 'linux/arm64', src])).out;
    assert.equal(files, (await ok(['files', '--json', '--platform', 'linux/arm64', archive])).out);
    assert.match(files, /"path":"\/stargz\.index\.json"/);
  });

  it('a TOC that does not match its annotation is one error naming the layer; --full-read reads the blob and succeeds', async () => {
    const src = `registry://${pair.open.host}/toc/app:bad`;
    const r = await cli(['analyze', src]);
    assert.equal(r.code, 2);
    const lines = r.stderr.trim().split('\n');
    assert.equal(lines.length, 1, r.stderr);
    assert.match(lines[0], new RegExp(`^layerlens: registry ${pair.open.host.replace(/\./g, '\\.')}: layer 0 \\(blob sha256:[0-9a-f]{12}\\): its eStargz TOC does not match the toc\\.digest annotation sha256:(ab){32}: it hashes to sha256:[0-9a-f]{64}$`));
    await ok(['analyze', '--full-read', src]);
  });
});
