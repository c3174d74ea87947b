// Layers with a table of contents: the footer and TOC parsing on eStargz and zstd:chunked blobs made
// here (test/support/tocLayer.ts) and on a real one (dive's eStargz fixture), bad input, and the contract: the index built from the TOC is
// the index the tar walker builds from the whole blob.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import * as path from 'node:path';
import { ImageFormatError } from '../../../../src/core/image/errors';
import { plainIndex } from '../../../../src/core/image/indexCodec';
import { BlobIndexer } from '../../../../src/core/image/tar/archiveStream';
import {
  ESTARGZ_FOOTER_SIZE, estargzToc, indexFromToc, parseEstargzFooter, tocPlanOf, zstdChunkedToc, type TocPlan,
} from '../../../../src/core/image/tar/toc';
import { decodeHeader } from '../../../../src/core/image/tar/tarWalk';
import type { LayerIndex } from '../../../../src/core/image/types';
import { repoRoot } from '../../../support/repo';
import { estargzFooter, writeEstargz, writeZstdChunked, type TocLayer, type TocTestEntry } from '../../../support/tocLayer';

const big = Buffer.alloc(300_000, 7);
for (let i = 0; i < big.length; i += 997) big[i] = i & 0xff;

/** Every kind of entry a layer holds, whiteouts and an opaque directory among them. */
const ENTRIES: TocTestEntry[] = [
  { name: './', type: 'dir', mode: 0o755 },
  { name: 'etc/', type: 'dir', mode: 0o755, mtime: 1_700_000_000 },
  { name: 'etc/passwd', type: 'reg', mode: 0o644, content: Buffer.from('root:x:0:0\n'), mtime: 1_700_000_001 },
  { name: 'etc/empty', type: 'reg', mode: 0o600, uid: 1000, gid: 1000 },
  { name: 'bin/', type: 'dir', mode: 0o755 },
  { name: 'bin/tool', type: 'reg', mode: 0o4755, content: big },
  { name: 'bin/tool-link', type: 'hardlink', linkname: 'bin/tool', mode: 0o4755 },
  { name: 'bin/sh', type: 'symlink', linkname: '/bin/busybox', mode: 0o777 },
  { name: 'dev/', type: 'dir' },
  { name: 'dev/null', type: 'char', mode: 0o666, devMajor: 1, devMinor: 3 },
  { name: 'dev/sda', type: 'block', mode: 0o660, devMajor: 8, devMinor: 0 },
  { name: 'run/fifo', type: 'fifo', mode: 0o600 },
  { name: 'var/cache/.wh..wh..opq', type: 'reg', mode: 0 },
  { name: 'var/lib/.wh.gone', type: 'reg', mode: 0 },
  { name: 'opt/' + 'very-long-directory-name/'.repeat(5) + 'file.txt', type: 'reg', content: Buffer.from('deep') },
];

async function fullRead(l: TocLayer): Promise<LayerIndex> {
  const bi = new BlobIndexer('full', l.blob.length, undefined, true, false);
  bi.write(Buffer.from(l.blob));
  await bi.pending();
  const index = await bi.end(l.diffId);
  assert.equal(bi.tarDigest, l.diffId, 'the writer made a tar whose digest it names');
  return index;
}

function plan(l: TocLayer): TocPlan {
  const p = tocPlanOf({ annotations: l.annotations, size: l.blob.length });
  assert.ok(p);
  return p;
}

function tocRead(l: TocLayer): LayerIndex {
  const p = plan(l);
  if (p.kind === 'estargz') {
    const off = parseEstargzFooter(l.blob.subarray(l.blob.length - ESTARGZ_FOOTER_SIZE), 'layer 0', l.blob.length);
    const toc = estargzToc(l.blob.subarray(off, l.blob.length - ESTARGZ_FOOTER_SIZE), p.tocDigest, 'layer 0');
    return indexFromToc(toc, { diffId: l.diffId, compression: 'gzip', label: 'layer 0' });
  }
  const toc = zstdChunkedToc(l.blob.subarray(p.offset, p.offset + p.length), p, 'layer 0');
  return indexFromToc(toc, { diffId: l.diffId, compression: 'zstd', label: 'layer 0' });
}

/** Everything but the tar's size, which a TOC does not tell. */
function comparable(l: LayerIndex): Omit<LayerIndex, 'tarBytes'> {
  const { tarBytes: _t, ...rest } = plainIndex(l);
  return rest;
}

test('eStargz: the TOC read builds the index a full read of the blob builds, the TOC entry and landmark included', async () => {
  const l = writeEstargz(ENTRIES, { chunkSize: 64 * 1024 });
  assert.ok((JSON.parse(l.tocJson.toString()) as { entries: Array<{ type: string }> }).entries.some((e) => e.type === 'chunk'), 'the big file is chunked');
  const full = await fullRead(l);
  const toc = tocRead(l);
  assert.deepEqual(comparable(toc), comparable(full));
  assert.equal(toc.tarBytes, 0);
  const paths = toc.entries.map((e) => e.path);
  assert.ok(paths.includes('/stargz.index.json'));
  assert.ok(paths.includes('/.no.prefetch.landmark'));
  assert.deepEqual(toc.whiteouts, ['/var/lib/gone']);
  assert.deepEqual(toc.opaqueDirs, ['/var/cache']);
  const tool = toc.entries.find((e) => e.path === '/bin/tool')!;
  assert.equal(tool.size, big.length);
  assert.equal(tool.mode, 0o4755);
  assert.equal(toc.entries.find((e) => e.path === '/bin/tool-link')!.linkname, '/bin/tool');
  assert.equal(toc.entries.find((e) => e.path === '/etc/empty')!.uid, 1000);
  assert.equal(toc.entries.find((e) => e.path === '/etc/passwd')!.mtime, 1_700_000_001);
});

test('eStargz with a prefetch landmark: the same index either way', async () => {
  const l = writeEstargz(ENTRIES, { prefetch: 3 });
  const toc = tocRead(l);
  assert.deepEqual(comparable(toc), comparable(await fullRead(l)));
  assert.ok(toc.entries.some((e) => e.path === '/.prefetch.landmark' && e.size === 1));
});

test('zstd:chunked: the TOC read builds the index a full read of the blob builds', async () => {
  const l = writeZstdChunked(ENTRIES);
  const toc = tocRead(l);
  assert.deepEqual(comparable(toc), comparable(await fullRead(l)));
  assert.ok(!toc.entries.some((e) => e.path.includes('stargz') || e.path.includes('landmark')));
});

test('tocPlanOf: eStargz by toc.digest, zstd:chunked by its two annotations, nothing else', () => {
  const e = writeEstargz([{ name: 'a', type: 'reg', content: Buffer.from('x') }]);
  assert.equal(plan(e).kind, 'estargz');
  const z = writeZstdChunked([{ name: 'a', type: 'reg', content: Buffer.from('x') }]);
  const p = plan(z);
  assert.equal(p.kind, 'zstd:chunked');
  // The names containers/storage gave these annotations before their rename (skopeo 1.9 writes them).
  const old = Object.fromEntries(Object.entries(z.annotations).map(([k, v]) => [k.replace('io.github.containers.', 'io.containers.'), v]));
  assert.deepEqual(tocPlanOf({ annotations: old }), p);
  assert.equal(tocPlanOf({}), undefined);
  assert.equal(tocPlanOf({ annotations: { 'containerd.io/snapshot/stargz/toc.digest': 'sha256:short' } }), undefined);
  const pos = z.annotations['io.github.containers.zstd-chunked.manifest-position'];
  assert.equal(tocPlanOf({ annotations: { ...z.annotations, 'io.github.containers.zstd-chunked.manifest-position': pos.replace(/:1$/, ':2') } }), undefined, 'an unknown manifest type');
  assert.equal(tocPlanOf({ annotations: z.annotations, size: 10 }), undefined, 'a position beyond the blob');
});

test('eStargz footer: the reference layout parses; garbage is one error naming the layer', () => {
  assert.equal(parseEstargzFooter(estargzFooter(0x1234), 'layer 2', 100_000), 0x1234);
  const bad = (b: Buffer, re: RegExp): void => {
    assert.throws(() => parseEstargzFooter(b, 'layer 2 (blob sha256:abc)', 100_000), (e: unknown) => e instanceof ImageFormatError && /^layer 2 \(blob sha256:abc\): not an eStargz footer/.test(e.message) && re.test(e.message) && !e.message.includes('\n'));
  };
  bad(Buffer.alloc(51), /no gzip header/);
  bad(estargzFooter(1).subarray(1), /50 bytes/);
  const noMagic = estargzFooter(1);
  noMagic.write('STARGY', 16 + 16, 'latin1');
  bad(noMagic, /no STARGZ magic/);
  const notHex = estargzFooter(1);
  notHex.write('zz', 16, 'latin1');
  bad(notHex, /not 16 hex digits/);
  bad(estargzFooter(200_000), /beyond the blob/);
  const sg = estargzFooter(1);
  sg[12] = 0x41;
  bad(sg, /no SG subfield/);
  const tail = estargzFooter(1);
  tail[38] = 0;
  bad(tail, /gzip member|not empty/);
});

test('eStargz TOC: a digest mismatch, a truncated member and a wrong tar entry are one error naming the layer', () => {
  const l = writeEstargz(ENTRIES.slice(0, 4));
  const off = parseEstargzFooter(l.blob.subarray(l.blob.length - 51), 'layer 1');
  const member = l.blob.subarray(off, l.blob.length - 51);
  const p = plan(l) as Extract<TocPlan, { kind: 'estargz' }>;
  assert.throws(() => estargzToc(member, 'sha256:' + '0'.repeat(64), 'layer 1'),
    (e: unknown) => e instanceof ImageFormatError && /^layer 1: its eStargz TOC does not match the toc\.digest annotation sha256:0{64}: it hashes to sha256:[0-9a-f]{64}$/.test(e.message));
  assert.throws(() => estargzToc(member.subarray(0, member.length - 20), p.tocDigest, 'layer 1'),
    (e: unknown) => e instanceof ImageFormatError && e.code === 'truncated' && /^layer 1: its eStargz TOC is not readable gzip/.test(e.message));
  // A member that holds another entry than stargz.index.json.
  const other = writeEstargz([{ name: 'x', type: 'reg', content: Buffer.from('y') }], { chunkSize: 1024 });
  const firstMemberEnd = (JSON.parse(other.tocJson.toString()) as { entries: Array<{ name: string; offset?: number }> }).entries.find((e) => e.name === 'x')!.offset!;
  assert.throws(() => estargzToc(other.blob.subarray(0, firstMemberEnd), p.tocDigest, 'layer 1'), (e: unknown) => e instanceof ImageFormatError && /instead of stargz\.index\.json/.test(e.message));
});

test('zstd:chunked TOC: a checksum mismatch and short bytes are one error naming the layer', () => {
  const l = writeZstdChunked(ENTRIES.slice(0, 4));
  const p = plan(l) as Extract<TocPlan, { kind: 'zstd:chunked' }>;
  const bytes = Buffer.from(l.blob.subarray(p.offset, p.offset + p.length));
  assert.throws(() => zstdChunkedToc(bytes.subarray(0, bytes.length - 1), p, 'layer 3'), (e: unknown) => e instanceof ImageFormatError && e.code === 'truncated' && /^layer 3: its zstd:chunked TOC is \d+ bytes instead of/.test(e.message));
  bytes[bytes.length - 1] ^= 1;
  assert.throws(() => zstdChunkedToc(bytes, p, 'layer 3'), (e: unknown) => e instanceof ImageFormatError && /^layer 3: its zstd:chunked TOC does not match the manifest-checksum annotation/.test(e.message));
});

test('a TOC that is not JSON, or has entries without names, is one error', () => {
  assert.throws(() => indexFromToc({ json: Buffer.from('{"entries": [') }, { diffId: '', compression: 'gzip', label: 'layer 0' }), /^Error: layer 0: its TOC is not JSON|layer 0: its TOC is not JSON/);
  assert.throws(() => indexFromToc({ json: Buffer.from('{"version":1}') }, { diffId: '', compression: 'gzip', label: 'layer 0' }), /layer 0: its TOC has no entries list/);
  assert.throws(() => indexFromToc({ json: Buffer.from('{"entries":[{"type":"reg"}]}') }, { diffId: '', compression: 'gzip', label: 'layer 0' }), /layer 0: its TOC has an entry without a name or type/);
});

/** The members of a (plain) tar file by name. */
function tarMembers(buf: Buffer): Map<string, Buffer> {
  const out = new Map<string, Buffer>();
  for (let off = 0; off + 512 <= buf.length;) {
    const h = decodeHeader(buf, off);
    if (!h) break;
    out.set(h.name.replace(/^\.\//, ''), buf.subarray(off + 512, off + 512 + h.size));
    off += 512 + Math.ceil(h.size / 512) * 512;
  }
  return out;
}

test('a real eStargz layer (dive\'s fixture, built by BuildKit\'s eStargz writer): the TOC read equals the full read', async () => {
  const members = tarMembers(readFileSync(path.join(repoRoot(), 'test/fixtures/dive/test-oci-estargz-image.tar')));
  const blob = (d: string): Buffer => members.get(`blobs/sha256/${d.slice(7)}`)!;
  const index = JSON.parse(members.get('index.json')!.toString()) as { manifests: Array<{ digest: string }> };
  const manifest = JSON.parse(blob(index.manifests[0].digest).toString()) as { layers: Array<{ digest: string; size: number; annotations?: Record<string, string> }>; config: { digest: string } };
  const diffIds = (JSON.parse(blob(manifest.config.digest).toString()) as { rootfs: { diff_ids: string[] } }).rootfs.diff_ids;
  assert.ok(manifest.layers.length >= 1);
  for (const [i, d] of manifest.layers.entries()) {
    const b = blob(d.digest);
    const p = tocPlanOf({ annotations: d.annotations, size: d.size });
    assert.equal(p?.kind, 'estargz');
    const l: TocLayer = { blob: b, digest: d.digest, diffId: diffIds[i], tar: Buffer.alloc(0), annotations: d.annotations!, mediaType: '', tocJson: Buffer.alloc(0) };
    const toc = tocRead(l);
    assert.deepEqual(comparable(toc), comparable(await fullRead(l)));
    assert.ok(toc.entries.some((e) => e.path === '/stargz.index.json'));
    assert.ok(toc.entries.some((e) => e.path === '/README.md'));
  }
});

test('eStargz layers made by the reference writer (test/fixtures/estargz): chunks, landmarks; the TOC read equals the full read', async () => {
  for (const name of ['no-prefetch', 'prefetch']) {
    const dir = path.join(repoRoot(), 'test/fixtures/estargz');
    const b = readFileSync(path.join(dir, `${name}.stargz`));
    const meta = JSON.parse(readFileSync(path.join(dir, `${name}.json`), 'utf8')) as { tocDigest: string; diffId: string; size: number };
    assert.equal(b.length, meta.size);
    const l: TocLayer = { blob: b, digest: '', diffId: meta.diffId, tar: Buffer.alloc(0), annotations: { 'containerd.io/snapshot/stargz/toc.digest': meta.tocDigest }, mediaType: '', tocJson: Buffer.alloc(0) };
    const toc = tocRead(l);
    assert.deepEqual(comparable(toc), comparable(await fullRead(l)));
    assert.equal(toc.tarEntries, 214 + 2, `${name}: the tar's entries, the landmark and the TOC's own`);
    assert.ok(toc.entries.some((e) => e.path === (name === 'prefetch' ? '/.prefetch.landmark' : '/.no.prefetch.landmark')));
    assert.deepEqual(toc.whiteouts, ['/var/lib/gone']);
    assert.deepEqual(toc.opaqueDirs, ['/var/cache']);
    assert.equal(toc.entries.find((e) => e.path === '/bin/big')!.size, 17 * 12000);
  }
});
