// A layer's index read from header bytes (LayerIndexBuilder.raw, which makes no string for a name it
// has seen) is the index read from decoded headers (LayerIndexBuilder.add), column for column: the
// seek walker and the push parser, in any chunking, on GNU tar's formats, hand-made headers and a
// generated tree of ordinary, dotted, non-ASCII, prefixed and linked names, whiteouts included.
import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { linkSync, mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { LayerIndexBuilder } from '../../../../src/core/image/tar/layerBuilder';
import { RAW_TAKEN, TarParser, TarSeekWalker, bufferAccess } from '../../../../src/core/image/tar/tarWalk';
import type { LayerTable } from '../../../../src/core/image/index/layerTable';
import { END, member, pax, rawTar } from '../../support/rawtar';

const META = { diffId: 'sha256:x', tarBytes: 0, compression: 'none' as const };

/** Decoded headers only: every entry through add(). */
function decoded(buf: Buffer): LayerTable {
  const b = new LayerIndexBuilder('t');
  const w = new TarSeekWalker(bufferAccess(buf), 0, buf.length);
  for (let e = w.next(); e; e = w.next()) b.add(e.header);
  return b.finish(META);
}

/** The seek walker with the raw path; `taken` counts the entries raw() took. */
function seekRaw(buf: Buffer, taken: { n: number }): LayerTable {
  const b = new LayerIndexBuilder('t');
  const sink = { raw: (x: Buffer, off: number): boolean => { const ok = b.raw(x, off); if (ok) taken.n++; return ok; } };
  const w = new TarSeekWalker(bufferAccess(buf), 0, buf.length);
  for (let e = w.nextOrRaw(sink); e; e = w.nextOrRaw(sink)) if (e !== RAW_TAKEN) b.add(e.header);
  return b.finish(META);
}

function parseRaw(buf: Buffer, chunk: number): LayerTable {
  const b = new LayerIndexBuilder('t');
  const p = new TarParser((h) => { b.add(h); }, undefined, b);
  for (let i = 0; i < buf.length; i += chunk) p.push(buf.subarray(i, i + chunk));
  p.end();
  return b.finish(META);
}

function columns(t: LayerTable): unknown {
  return { ...t.cols, tarEntries: t.tarEntries, tarFileBytes: t.tarFileBytes, whiteouts: t.whiteouts, opaqueDirs: t.opaqueDirs, warnings: t.warnings };
}

/** Every reading gives the decoded-header index; returns how many entries the raw path took. */
function same(buf: Buffer, label: string): number {
  const ref = columns(decoded(buf));
  const taken = { n: 0 };
  assert.deepEqual(columns(seekRaw(buf, taken)), ref, `${label}: seek walker, raw headers`);
  for (const chunk of [1, 511, 512, 513, 4096, buf.length]) assert.deepEqual(columns(parseRaw(buf, chunk)), ref, `${label}: push parser, chunks of ${chunk}`);
  return taken.n;
}

test('GNU tar formats: the raw header path builds the decoded path\'s index', () => {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'layerlens-rawhdr-'));
  try {
    const root = path.join(dir, 'root');
    mkdirSync(path.join(root, 'a'.repeat(70), 'b'.repeat(70), 'c'.repeat(30)), { recursive: true });
    writeFileSync(path.join(root, 'a'.repeat(70), 'b'.repeat(70), 'c'.repeat(30), 'f'.repeat(50)), 'deep');
    writeFileSync(path.join(root, 'small'), 'x'.repeat(700));
    linkSync(path.join(root, 'small'), path.join(root, 'hard'));
    symlinkSync('../t'.repeat(10), path.join(root, 'link'));
    mkdirSync(path.join(root, 'etc', '.hidden'), { recursive: true });
    writeFileSync(path.join(root, 'etc', '.wh.gone'), '');
    writeFileSync(path.join(root, 'etc', '.wh..wh..opq'), '');
    writeFileSync(path.join(root, 'etc', 'caf\u00e9'), 'utf8 name');
    for (const format of ['gnu', 'oldgnu', 'posix', 'ustar']) {
      const buf = execFileSync('tar', ['--format=' + format, '--numeric-owner', '-C', root, '-cf', '-', '.'], { maxBuffer: 1 << 26 });
      same(buf, `tar --format=${format}`);
      // `./name` entries all start with '.': the raw path leaves every one to add(). The posix
      // format gives every entry a PAX record, which the raw path leaves to add() too.
      if (format === 'posix') continue;
      const plain = execFileSync('tar', ['--format=' + format, '--numeric-owner', '-C', root, '-cf', '-', 'small', 'hard', 'link', 'etc'], { maxBuffer: 1 << 26 });
      assert.ok(same(plain, `tar --format=${format} (relative names)`) >= 4, `${format}: the raw path took the plain names`);
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('hand-made headers and a generated tree: prefixes, dots, slashes, non-ASCII, links, whiteouts, PAX', () => {
  const members: Buffer[] = [];
  const names = ['usr/', 'usr/lib/', 'usr/lib/a.so', 'usr/lib//double', 'usr/./lib/b', 'usr/lib/../c', 'usr/lib/.wh.a.so', 'usr/.wh..wh..opq',
    'trailing/', 'file-as-dir/', '.dot', 'a/.dot/x', 'caf\u00e9/x', 'usr/lib/x/y/z/deep', 'usr/lib/x/y/z/deeper', 'usr/lib/x/w', '/abs/path', './rel'];
  for (const n of names) {
    const dir = n.endsWith('/') && n !== 'file-as-dir/';
    members.push(member({ name: n, type: dir ? '5' : '0' }, dir ? '' : 'body'));
  }
  for (let d = 0; d < 40; d++) for (let f = 0; f < 5; f++) members.push(member({ name: `tree/d${d % 7}/sub${d}/f${f}.js`, mode: 0o600 + f }, 'x'.repeat(f)));
  members.push(member({ name: 'links/sym', type: '2', linkname: '../usr/lib/a.so' }));
  members.push(member({ name: 'links/hard', type: '1', linkname: 'usr/lib/a.so' }));
  members.push(member({ name: 'links/hard2', type: '1', linkname: './usr/../usr/lib/a.so' }));
  members.push(member({ name: Buffer.from([0x66, 0xff, 0x2f, 0x67]) }, 'latin1 bytes'));
  members.push(member({ name: 'dev/null', type: '3' }), member({ name: 'dev/fifo', type: '6' }), member({ name: 'odd', type: 'Z' }));
  members.push(pax({ path: 'p/'.repeat(60) + 'leaf' }), member({ name: 'short' }, 'pax named'), member({ name: 'after-pax' }, 'plain again'));
  // A ustar prefix: the name split in two fields.
  const long = 'q'.repeat(90) + '/' + 'r'.repeat(90);
  const h = member({ name: 'r'.repeat(90) }, 'prefixed');
  h.write('q'.repeat(90), 345, 'latin1');
  h.fill(0x20, 148, 156);
  let sum = 0;
  for (let i = 0; i < 512; i++) sum += h[i];
  h.write(sum.toString(8).padStart(6, '0') + '\0 ', 148, 'latin1');
  members.push(h);
  const buf = rawTar(...members);
  const n = same(buf, 'generated');
  assert.ok(n >= 200, `the raw path took the ordinary names (${n})`);
  assert.ok(decoded(buf).cols.names.includes('r'.repeat(90)) && long.length > 100);
  same(Buffer.concat([member({ name: 'a' }, 'A'), Buffer.alloc(2048), member({ name: 'b' }, 'B'), END]), 'zero blocks between entries');
});
