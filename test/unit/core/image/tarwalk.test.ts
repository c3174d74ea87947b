// Our tar header reader (push parser and seek walker) against tar-stream on the same inputs: every
// header field, every body, and the same outcome (entries, or an error of the same kind) for
// ustar/GNU/PAX archives from tar-stream's packer, GNU tar and hand-made headers.
import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, mkdirSync, rmSync, symlinkSync, writeFileSync, linkSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as tar from 'tar-stream';
import { toFormatError } from '../../../../src/core/image/tar/decompress';
import { ImageFormatError } from '../../../../src/core/image/errors';
import { TarParser, TarSeekWalker, bufferAccess, decodeHeader } from '../../../../src/core/image/tar/tarWalk';
import { makeTar } from '../../support/tars';
import { END, member, pax, rawTar } from '../../support/rawtar';

interface Rec { name: string; type: string | null; size: number; mode: number; uid: number; gid: number; mtime: number; linkname: string | null; pax: Record<string, string> | null; body: string }
type Outcome = { entries: Rec[]; error?: string };

function errorKind(e: unknown): string {
  const f = toFormatError(e, 'x');
  return f instanceof ImageFormatError ? f.code : `other: ${(e as Error).message}`;
}

async function viaTarStream(buf: Buffer, chunk = 1000): Promise<Outcome> {
  const entries: Rec[] = [];
  const ex = tar.extract();
  const feed = (async () => {
    for (let i = 0; i < buf.length; i += chunk) {
      if (!ex.write(buf.subarray(i, i + chunk))) await new Promise<void>((r) => ex.once('drain', () => r()));
    }
    (ex as unknown as NodeJS.WritableStream).end();
  })().catch(() => undefined);
  try {
    for await (const e of ex) {
      const h = e.header;
      const parts: Buffer[] = [];
      // A directory's entry stream never ends when its size field is not 0 (tar-stream has no body for it).
      if (h.type !== 'directory') for await (const c of e as unknown as AsyncIterable<Buffer>) parts.push(c);
      entries.push({
        name: h.name, type: h.type ?? null, size: h.size ?? 0, mode: h.mode ?? 0, uid: h.uid ?? 0, gid: h.gid ?? 0,
        mtime: h.mtime ? h.mtime.getTime() / 1000 : 0, linkname: h.linkname ?? null, pax: (h.pax as Record<string, string> | null) ?? null,
        body: Buffer.concat(parts).toString('hex'),
      });
    }
    await feed;
    return { entries };
  } catch (e) {
    return { entries, error: errorKind(e) };
  }
}

function viaParser(buf: Buffer, chunk: number): Outcome {
  const entries: Rec[] = [];
  const p = new TarParser((h) => {
    const parts: Buffer[] = [];
    const rec: Rec = { name: h.name, type: h.type, size: h.size, mode: h.mode, uid: h.uid, gid: h.gid, mtime: h.mtime, linkname: h.linkname, pax: h.pax, body: '' };
    entries.push(rec);
    return { write: (b) => parts.push(Buffer.from(b)), end: () => { rec.body = Buffer.concat(parts).toString('hex'); } };
  });
  try {
    for (let i = 0; i < buf.length; i += chunk) p.push(buf.subarray(i, i + chunk));
    p.end();
    return { entries };
  } catch (e) {
    return { entries, error: errorKind(e) };
  }
}

function viaSeek(buf: Buffer): Outcome {
  const entries: Rec[] = [];
  const w = new TarSeekWalker(bufferAccess(buf), 0, buf.length);
  try {
    for (let e = w.next(); e; e = w.next()) {
      const h = e.header;
      const size = h.type === 'directory' ? 0 : h.size;
      entries.push({
        name: h.name, type: h.type, size: h.size, mode: h.mode, uid: h.uid, gid: h.gid, mtime: h.mtime, linkname: h.linkname, pax: h.pax,
        body: buf.subarray(e.dataOffset, e.dataOffset + size).toString('hex'),
      });
    }
    return { entries };
  } catch (e) {
    return { entries, error: errorKind(e) };
  }
}

/**
 * All three readers agree; returns tar-stream's outcome. On broken input the error kind must match;
 * tar-stream may stop reporting entries a little earlier (it fails while the body is read).
 */
async function same(buf: Buffer, label: string): Promise<Outcome> {
  const ref = await viaTarStream(buf);
  for (const chunk of [1, 7, 511, 512, 513, 4096, buf.length || 1]) {
    const got = viaParser(buf, chunk);
    if (ref.error) {
      assert.equal(got.error, ref.error, `${label}: push parser (chunks of ${chunk}) error kind`);
      assert.deepEqual(got.entries.slice(0, ref.entries.length).map((e) => e.name), ref.entries.map((e) => e.name), `${label}: entries before the error`);
    } else {
      assert.deepEqual(got, ref, `${label}: push parser (chunks of ${chunk})`);
    }
  }
  const seek = viaSeek(buf);
  if (ref.error) {
    assert.equal(seek.error, ref.error, `${label}: seek walker error kind`);
    assert.deepEqual(seek.entries.slice(0, ref.entries.length).map((e) => e.name), ref.entries.map((e) => e.name), `${label}: seek entries before the error`);
  } else {
    assert.deepEqual(seek, ref, `${label}: seek walker`);
  }
  return ref;
}

/** A raw 512-byte header with every field under control (prefix, GNU magic, odd number fields). */
function rawHeader(f: { name: string; prefix?: string; type?: string; size?: string | Buffer; mode?: string; mtime?: string; linkname?: string; gnu?: boolean; magic?: string }): Buffer {
  const b = Buffer.alloc(512, 0);
  b.write(f.name, 0, 'utf8');
  b.write(f.mode ?? '0000644\0', 100, 'latin1');
  b.write('0000000\0', 108, 'latin1');
  b.write('0000000\0', 116, 'latin1');
  if (Buffer.isBuffer(f.size)) f.size.copy(b, 124); else b.write(f.size ?? '00000000000\0', 124, 'latin1');
  b.write(f.mtime ?? '14644222400\0', 136, 'latin1');
  b.write(f.type ?? '0', 156, 'latin1');
  if (f.linkname) b.write(f.linkname, 157, 'utf8');
  if (f.magic !== undefined) b.write(f.magic, 257, 'latin1');
  else if (f.gnu) b.write('ustar  \0', 257, 'latin1');
  else b.write('ustar\u000000', 257, 'latin1');
  if (f.prefix) b.write(f.prefix, 345, 'utf8');
  b.fill(0x20, 148, 156);
  let sum = 0;
  for (const x of b) sum += x;
  b.write(sum.toString(8).padStart(6, '0') + '\0 ', 148, 'latin1');
  return b;
}

function body(s: string | Buffer): Buffer {
  const d = Buffer.isBuffer(s) ? s : Buffer.from(s);
  const pad = d.length % 512 ? 512 - (d.length % 512) : 0;
  return Buffer.concat([d, Buffer.alloc(pad)]);
}

test('tar-stream packer output: files, dirs, links, long names (PAX), odd modes', async () => {
  const long = 'very/'.repeat(40) + 'long-name.txt';
  const buf = await makeTar([
    { name: './', type: 'directory' }, { name: 'etc/', type: 'directory', mode: 0o700 },
    { name: 'etc/passwd', body: 'root:x:0:0\n' }, { name: 'bin/sh', type: 'symlink', linkname: 'busybox' },
    { name: 'bin/busybox', size: 100_000, mode: 0o4755, uid: 1234 }, { name: 'bin/ls', type: 'link', linkname: 'bin/busybox' },
    { name: long, size: 3 }, { name: 'l', type: 'symlink', linkname: 'x/'.repeat(80) + 'target' },
    { name: 'fifo', type: 'fifo' }, { name: 'empty', size: 0 }, { name: 'exact', size: 512 }, { name: 'üñí/çødé', body: 'utf8' },
  ]);
  const r = await same(buf, 'packer');
  assert.equal(r.error, undefined);
  assert.ok(r.entries.some((e) => e.name === long));
});

test('GNU tar archives in every format (gnu, oldgnu, posix, ustar, v7) read the same', async (t) => {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'layerlens-tarwalk-'));
  try {
    const root = path.join(dir, 'root');
    const deep = path.join(root, 'a'.repeat(60), 'b'.repeat(60), 'c'.repeat(60));
    mkdirSync(deep, { recursive: true });
    writeFileSync(path.join(deep, 'f'.repeat(90)), 'deep file');
    writeFileSync(path.join(root, 'small'), 'x'.repeat(700));
    linkSync(path.join(root, 'small'), path.join(root, 'hard'));
    symlinkSync('t'.repeat(150), path.join(root, 'longlink'));
    symlinkSync('short', path.join(root, 'shortlink'));
    mkdirSync(path.join(root, 'empty-dir'));
    writeFileSync(path.join(root, '.wh..wh..opq'), '');
    for (const format of ['gnu', 'oldgnu', 'posix', 'ustar', 'v7']) {
      let buf: Buffer;
      try {
        buf = execFileSync('tar', ['--format=' + format, '--numeric-owner', '-C', root, '-cf', '-', '.'], { maxBuffer: 1 << 26, stdio: ['ignore', 'pipe', 'ignore'] });
      } catch (e) {
        // ustar and v7 refuse names this long: pack what they can.
        buf = (e as { stdout?: Buffer }).stdout ?? Buffer.alloc(0);
        if (buf.length === 0) { t.diagnostic(`tar --format=${format} produced nothing`); continue; }
      }
      const r = await same(buf, `tar --format=${format}`);
      if (format !== 'v7') assert.equal(r.error, undefined, `${format}: ${r.error}`);
      else assert.equal(r.error, 'corrupt', 'v7 headers have no magic: an unknown format for tar-stream and for us');
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('hand-made headers: ustar prefix, GNU magic, long names and links, PAX and global PAX', async () => {
  const gnuLong = 'g/'.repeat(120) + 'name';
  const cases: Array<[string, Buffer]> = [
    ['ustar prefix', Buffer.concat([rawHeader({ name: 'file', prefix: 'p'.repeat(150), size: '00000000005\0' }), body('hello'), END])],
    ['GNU magic', Buffer.concat([rawHeader({ name: 'gnu-file', gnu: true, size: '00000000003\0' }), body('abc'), END])],
    ['GNU long name and long link', Buffer.concat([
      rawHeader({ name: '././@LongLink', type: 'L', size: (gnuLong.length + 1).toString(8).padStart(11, '0') + '\0', gnu: true }), body(gnuLong + '\0'),
      rawHeader({ name: '././@LongLink', type: 'K', size: '00000000311\0', gnu: true }), body('k'.repeat(200) + '\0'),
      rawHeader({ name: 'short', type: '2', gnu: true, linkname: 'trunc' }), END])],
    ['GNU long name type N', Buffer.concat([rawHeader({ name: 'x', type: 'N', size: '00000000004\0' }), body('nnn\0'), rawHeader({ name: 'y' }), END])],
    ['PAX path, linkpath, size', rawTar(pax({ path: 'p/'.repeat(100) + 'leaf', linkpath: 'l'.repeat(300), size: '3' }), member({ name: 'short', type: '2' }, 'abc'))],
    ['global PAX merged only into a local PAX record', rawTar(
      member({ name: 'GlobalHead', type: 'g' }, '19 path=global-name\n'), member({ name: 'plain' }, 'one'),
      pax({ mtime: '1' }), member({ name: 'with-local' }, 'two'))],
    ['type-0 name with a trailing slash (tar-stream keeps it a file)', Buffer.concat([rawHeader({ name: 'olddir/', type: '\0' }), END])],
    ['directory with a size field: no body is skipped', Buffer.concat([rawHeader({ name: 'd', type: '5', size: '00000001000\0' }), rawHeader({ name: 'next' }), END])],
    ['octal fields with spaces, NULs and trailing junk', Buffer.concat([
      rawHeader({ name: 'spaces', size: '     12    \0', mode: '  755 \0\0', mtime: '\x00'.repeat(8) + '017\x00' }), body('x'.repeat(10)), END])],
    ['base-256 size', Buffer.concat([rawHeader({ name: 'b256', size: Buffer.from([0x80, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 3]) }), body('abc'), END])],
    ['zero blocks in the middle are skipped', Buffer.concat([member({ name: 'a' }, 'A'), Buffer.alloc(2048), member({ name: 'b' }, 'B'), END])],
    ['no end blocks at all', Buffer.concat([member({ name: 'a' }, 'A'), member({ name: 'b' }, 'B')])],
    ['non-UTF-8 name', rawTar(member({ name: Buffer.from([0x66, 0xff, 0xfe, 0x80]) }, 'z'))],
    ['unknown type flag', rawTar(member({ name: 'weird', type: 'Z' }, 'q'))],
  ];
  for (const [label, buf] of cases) {
    const r = await same(buf, label);
    assert.equal(r.error, undefined, `${label}: ${r.error}`);
  }
});

test('broken input fails the same way: truncation anywhere, bad checksum, unknown magic, huge PAX', async () => {
  const good = await makeTar([{ name: 'a', size: 5000 }, { name: 'b', size: 100 }, { name: 'p/'.repeat(80) + 'c', size: 10 }]);
  for (let cut = 1; cut < good.length; cut += 97) await same(good.subarray(0, cut), `cut at ${cut}`);
  const bad = Buffer.from(good);
  bad[148] ^= 1;
  assert.equal((await same(bad, 'bad checksum')).error, 'corrupt');
  const noMagic = rawHeader({ name: 'x', magic: 'nomagic' });
  assert.equal((await same(Buffer.concat([noMagic, END]), 'unknown magic')).error, 'corrupt');
  const bigPax = Buffer.concat([member({ name: 'PaxHeader', type: 'x', size: 5 * 1024 * 1024 }), END]);
  assert.equal(viaParser(bigPax, 4096).error, 'limit');
  assert.equal(viaSeek(bigPax).error, 'limit');
  const hugeSize = rawTar(pax({ size: '99999999999999999999' }), member({ name: 'f' }, 'abc'));
  assert.equal((await same(hugeSize, 'pax size 1e20')).error, 'truncated');
  assert.equal((await same(rawTar(pax({ size: '-5' }), member({ name: 'f' }, 'abc')), 'negative pax size')).error, 'corrupt');
});

test('decodeHeader: an all-zero block is no header', () => {
  assert.equal(decodeHeader(Buffer.alloc(512)), null);
});

test('the seek walker reads headers only: a 64 MiB body is never read', () => {
  const big = 64 * 1024 * 1024;
  const head = member({ name: 'big', size: big });
  const tail = Buffer.concat([member({ name: 'after' }, 'x'), END]);
  const size = head.length + big + tail.length;
  let read = 0;
  const access = {
    size,
    readInto(t: Buffer, len: number, pos: number): number {
      const n = Math.min(len, size - pos);
      for (let i = 0; i < n; i++) {
        const p = pos + i;
        t[i] = p < head.length ? head[p] : p < head.length + big ? 0x61 : tail[p - head.length - big];
      }
      read += n;
      return n;
    },
  };
  const w = new TarSeekWalker(access, 0, size);
  const names: string[] = [];
  for (let e = w.next(); e; e = w.next()) names.push(e.header.name);
  assert.deepEqual(names, ['big', 'after']);
  assert.ok(read < 200 * 1024, `read ${read} bytes`);
});

test('decodeHeader: the checksum is checked the same at every alignment (word-at-a-time and byte-at-a-time sums)', () => {
  const good = rawHeader({ name: 'dir/ñame', size: '00000001750\0', mode: '0100755\0', linkname: 'x' });
  // The same block at byte offsets 0..7 of a fresh ArrayBuffer: 4-aligned blocks take the word path.
  const at = (block: Buffer, off: number): Buffer => {
    const b = Buffer.from(new ArrayBuffer(off + 512 + 8), off, 512);
    block.copy(b);
    return b;
  };
  for (let off = 0; off < 8; off++) {
    const h = decodeHeader(at(good, off));
    assert.equal(h?.name, 'dir/ñame', `offset ${off}`);
    assert.equal(h?.size, 0o1750);
  }
  // Any one byte changed outside the checksum field (148..155) is caught, at every alignment; a
  // byte raised by 1 and another lowered by 1 in the other 16-bit lane of a word are caught too.
  for (const pos of [0, 1, 2, 3, 99, 100, 147, 156, 157, 257, 300, 344, 345, 508, 509, 510, 511]) {
    for (let off = 0; off < 4; off++) {
      const bad = at(good, off);
      bad[pos] ^= 0x40;
      assert.throws(() => decodeHeader(bad), (e: unknown) => e instanceof ImageFormatError && e.code === 'corrupt', `byte ${pos} at offset ${off}`);
    }
  }
  // Random bytes everywhere (many 0xff: the lanes' sums run high), a checksum summed byte by byte:
  // every such block is accepted at every alignment.
  let seed = 7;
  const rnd = (): number => { seed = (seed * 1103515245 + 12345) >>> 0; return seed >>> 24; };
  for (let k = 0; k < 200; k++) {
    const b = Buffer.alloc(512);
    for (let i = 0; i < 512; i++) b[i] = k % 2 ? rnd() | 0xc0 : rnd();
    b.write('ustar\0', 257, 'latin1');
    b[124] = 0x30; b.fill(0, 125, 136); // size 0
    b.fill(0x20, 148, 156);
    let sum = 0;
    for (const x of b) sum += x;
    b.write(sum.toString(8).padStart(6, '0') + '\0 ', 148, 'latin1');
    for (let off = 0; off < 4; off++) assert.ok(decodeHeader(at(b, off)) !== undefined, `random block ${k} at offset ${off}`);
  }
  // A block whose bytes are all 0xff (no carry between lanes may wrap): rejected as a bad checksum, not read.
  const ones = Buffer.alloc(512, 0xff);
  for (let off = 0; off < 4; off++) assert.throws(() => decodeHeader(at(ones, off)), (e: unknown) => e instanceof ImageFormatError && e.code === 'corrupt');
});
