import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import { indexLayer } from '../../support/indexLayer';
import { sniffCompression } from '../../../../src/core/image/tar/decompress';
import { ImageFormatError } from '../../../../src/core/image/errors';
import { chunks, gzip, makeTar, sha256, zstd } from '../../support/tars';

const sample = (): Promise<Buffer> => makeTar([
  { name: './', type: 'directory' },
  { name: 'etc/', type: 'directory' },
  { name: 'etc/passwd', size: 10 },
  { name: 'etc/.wh.shadow' },
  { name: 'var/cache/.wh..wh..opq' },
  { name: 'bin/sh', type: 'symlink', linkname: 'busybox' },
  { name: 'bin/busybox', size: 100, mode: 0o4755 },
  { name: 'bin/ls', type: 'link', linkname: 'bin/busybox' },
  { name: '.wh..wh.plnk/123', size: 5 },
]);

test('a layer tar becomes entries, whiteouts and opaque dirs, with sizes and modes', async () => {
  const raw = await sample();
  const l = await indexLayer(chunks(raw), { hash: true });
  assert.equal(l.diffId, sha256(raw));
  assert.equal(l.compression, 'none');
  assert.deepEqual(l.entries.map((e) => [e.path, e.type, e.size]), [
    ['/etc', 'dir', 0], ['/etc/passwd', 'file', 10], ['/bin/sh', 'symlink', 0],
    ['/bin/busybox', 'file', 100], ['/bin/ls', 'hardlink', 0],
  ]);
  assert.equal(l.entries[3].mode, 0o4755);
  assert.equal(l.entries[2].linkname, 'busybox');
  assert.equal(l.entries[4].linkname, '/bin/busybox');
  assert.deepEqual(l.whiteouts, ['/etc/shadow']);
  assert.deepEqual(l.opaqueDirs, ['/var/cache']);
  assert.equal(l.tarFileBytes, 110, 'regular files only; the hardlink counts once and AUFS metadata not at all');
  assert.equal(l.tarEntries, 9);
  assert.equal(l.tarBytes, raw.length);
});

test('gzip and zstd blobs are detected by magic bytes and give the same index', async () => {
  const raw = await sample();
  const plain = await indexLayer([raw]);
  for (const [kind, blob] of [['gzip', gzip(raw)], ['zstd', zstd(raw)]] as const) {
    assert.equal(sniffCompression(blob), kind);
    const l = await indexLayer(chunks(blob, 3), { hash: true });
    assert.equal(l.compression, kind);
    assert.equal(l.diffId, sha256(raw), `${kind}: the diffID is the digest of the uncompressed tar`);
    assert.deepEqual(l.entries, plain.entries);
  }
});

test('truncated and corrupt blobs give typed errors, never a hang', async () => {
  const raw = await sample();
  const cases: Array<[string, Buffer, string]> = [
    ['truncated tar', raw.subarray(0, 700), 'truncated'],
    ['truncated gzip', gzip(raw).subarray(0, 60), 'truncated'],
    ['truncated zstd', zstd(raw).subarray(0, 40), 'truncated'],
  ];
  const badGzip = gzip(raw);
  badGzip[badGzip.length - 6] ^= 0xff; // CRC
  cases.push(['gzip with a bad checksum', badGzip, 'corrupt']);
  const badTar = Buffer.from(raw);
  badTar[512 + 148] ^= 0x01; // header checksum of the second entry
  cases.push(['tar with a bad header checksum', badTar, 'corrupt']);
  for (const [what, blob, code] of cases) {
    await assert.rejects(indexLayer([blob]), (e: unknown) => {
      assert.ok(e instanceof ImageFormatError, `${what}: ${String(e)}`);
      assert.equal(e.code, code, `${what}: ${e.message}`);
      return true;
    });
  }
});

test('names that climb above the root are clamped and reported', async () => {
  const raw = await makeTar([{ name: '../../etc/evil', size: 3 }, { name: '/abs/file', size: 1 }]);
  const l = await indexLayer([raw]);
  assert.deepEqual(l.entries.map((e) => e.path), ['/etc/evil', '/abs/file']);
  assert.equal(l.warnings.length, 1);
  assert.match(l.warnings[0], /climbs above the root/);
});

test('an entry limit stops hostile layers with a typed error', async () => {
  const raw = await makeTar(Array.from({ length: 20 }, (_, i) => ({ name: `f${i}` })));
  await assert.rejects(indexLayer([raw], { maxEntries: 10 }), (e: unknown) => e instanceof ImageFormatError && e.code === 'limit');
});

test('an empty layer (0 bytes or only end blocks) has no entries', async () => {
  assert.equal((await indexLayer([Buffer.alloc(1024)])).entries.length, 0);
  assert.equal((await indexLayer([])).entries.length, 0);
});
