// Hostile and corrupt layer tars, read through the full pipeline (docker-save archive → layers →
// merge → reports → tree model → explain) with every fs write watched: each case must end in the
// correct result or a typed ImageFormatError, never another exception, a hang or a write.
import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { indexLayer } from '../../support/indexLayer';
import { dockerSave, gzip, makeTar, zstd, chunks } from '../../support/tars';
import { END, member, pax, rawTar } from '../../support/rawtar';
import { expectFormatError, expectResult, expectResultOrFormatError, pipeline } from '../../support/hostile';

const base = async (): Promise<Buffer> => makeTar([{ name: 'bin/', type: 'directory' }, { name: 'bin/sh', size: 3000 }, { name: 'etc/', type: 'directory' }, { name: 'etc/passwd', body: 'root:x:0:0\n' }]);

async function image(...layers: Buffer[]): Promise<Buffer> {
  return dockerSave({ layers });
}

function pathsOf(r: { analysis: { tree: { walk(): Iterable<[string, { live: boolean; type: string }]> } } }): Map<string, string> {
  const m = new Map<string, string>();
  for (const [p, n] of r.analysis.tree.walk()) if (n.live) m.set(p, n.type);
  return m;
}

test('truncated layer tar: cut inside a header, inside a body, before the end blocks', async () => {
  const layer = await makeTar([{ name: 'a', size: 5000 }, { name: 'b', size: 100 }]);
  for (const cut of [100, 512 + 1000, 512 + 5120 + 200, 512 + 5120 + 512 + 50]) {
    const l = layer.subarray(0, cut);
    await expectFormatError(() => indexLayer(chunks(l, 300)), 'truncated', `indexLayer cut at ${cut}`);
    await expectFormatError(pipeline(await image(await base(), l)), 'truncated', `pipeline, layer cut at ${cut}`);
  }
  // Cut right after the last member, without the two zero blocks: every entry is whole, so the
  // layer reads (GNU tar accepts this too).
  const whole = layer.subarray(0, 512 + 5120 + 512 + 512);
  const idx = await expectResult(() => indexLayer([whole]), 'cut at the end blocks');
  assert.deepEqual(idx.entries.map((e) => e.path), ['/a', '/b']);
});

test('truncated outer archive (docker save stream cut anywhere) is a typed error', async () => {
  const arch = await image(await base(), await makeTar([{ name: 'x', size: 20000 }]));
  for (let cut = 1; cut < arch.length; cut += Math.floor(arch.length / 37)) {
    await expectFormatError(pipeline(arch.subarray(0, cut)), undefined, `outer cut at ${cut}`);
  }
});

test('bad header checksums are corrupt, in a layer and in the outer archive', async () => {
  const bad = rawTar(member({ name: 'ok', type: '0' }, 'x'), member({ name: 'evil', type: '0', badChecksum: true }, 'y'));
  await expectFormatError(() => indexLayer([bad]), 'corrupt', 'indexLayer');
  await expectFormatError(pipeline(await image(await base(), bad)), 'corrupt', 'pipeline');
  const arch = Buffer.from(await image(await base()));
  arch[20] ^= 0x40; // first member's name: the checksum no longer matches
  await expectFormatError(pipeline(arch), 'corrupt', 'outer header');
});

test('truncated and corrupt gzip / zstd layers', async () => {
  const layer = await makeTar([{ name: 'big', body: Buffer.from('0123456789abcdef'.repeat(40000)) }]);
  for (const [name, z] of [['gzip', gzip(layer)], ['zstd', zstd(layer)]] as const) {
    for (const cut of [6, Math.floor(z.length / 2), z.length - 3]) {
      await expectFormatError(() => indexLayer([z.subarray(0, cut)]), 'truncated', `${name} cut at ${cut}`);
      await expectFormatError(pipeline(await image(await base(), z.subarray(0, cut))), 'truncated', `${name} in archive, cut at ${cut}`);
    }
    const flipped = Buffer.from(z);
    flipped[Math.floor(z.length / 2)] ^= 0xff;
    await expectFormatError(() => indexLayer([flipped]), ['corrupt', 'truncated'], `${name} corrupt`);
  }
  // A whole archive compressed and cut (`docker save | gzip` interrupted).
  const arch = gzip(await image(await base(), layer));
  await expectFormatError(pipeline(arch.subarray(0, arch.length - 10)), 'truncated', 'gzip archive cut');
});

test('`../` and absolute entry names are clamped at the root and reported, never followed', async () => {
  const l = await makeTar([
    { name: '../../../../etc/cron.d/evil', body: '* * * * * root sh' },
    { name: '/abs/file', body: 'x' },
    { name: 'a/../../b', body: 'y' },
    { name: './c', body: 'z' },
    { name: '../.wh.passwd' },
  ]);
  const idx = await expectResult(() => indexLayer([l]), 'indexLayer');
  assert.deepEqual(idx.entries.map((e) => e.path), ['/etc/cron.d/evil', '/abs/file', '/b', '/c']);
  assert.deepEqual(idx.whiteouts, ['/passwd']);
  assert.ok(idx.warnings.some((w) => w.includes('climbs above the root')), idx.warnings.join('; '));
  const r = await expectResult(pipeline(await image(await base(), l)), 'pipeline');
  const live = pathsOf(r);
  assert.equal(live.get('/etc/cron.d/evil'), 'file');
  assert.equal(live.get('/abs/file'), 'file');
  for (const p of live.keys()) assert.ok(p.startsWith('/') && !p.split('/').includes('..'), p);
});

test('entries through a symlinked directory (a -> /etc, then a/passwd): nothing followed, nothing written', async () => {
  // In the same layer and across layers.
  const same = await makeTar([{ name: 'a', type: 'symlink', linkname: '/etc' }, { name: 'a/passwd', body: 'evil::0:0\n' }]);
  const lower = await makeTar([{ name: 'a', type: 'symlink', linkname: '/etc' }, { name: 'up', type: 'symlink', linkname: '../../..' }]);
  const upper = await makeTar([{ name: 'a/passwd', body: 'evil::0:0\n' }, { name: 'up/etc/shadow', body: 'x' }]);
  for (const [label, arch] of [['same layer', await image(await base(), same)], ['two layers', await image(await base(), lower, upper)]] as const) {
    const r = await expectResult(pipeline(arch), label);
    const live = pathsOf(r);
    // The layer's own entry wins: /a becomes a directory holding passwd; /etc/passwd is untouched.
    assert.equal(live.get('/a'), 'dir', label);
    assert.equal(live.get('/a/passwd'), 'file', label);
    const etc = r.analysis.tree.lookup('/etc/passwd');
    assert.equal(etc?.layer, 0, `${label}: /etc/passwd still from the base layer`);
    assert.equal(etc?.size, 11, label);
  }
});

test('symlink loops and self-links are plain entries', async () => {
  const l = await makeTar([
    { name: 'l1', type: 'symlink', linkname: 'l2' }, { name: 'l2', type: 'symlink', linkname: 'l1' },
    { name: 'self', type: 'symlink', linkname: 'self' }, { name: 'dot', type: 'symlink', linkname: '.' },
    { name: 'deep', type: 'symlink', linkname: 'deep/deep/deep' }, { name: 'l1/x', body: 'through the loop' },
  ]);
  const r = await expectResult(pipeline(await image(await base(), l)), 'loops');
  const live = pathsOf(r);
  assert.equal(live.get('/l2'), 'symlink');
  assert.equal(live.get('/self'), 'symlink');
  assert.equal(live.get('/l1'), 'dir'); // replaced by the directory that l1/x needs
  assert.equal(live.get('/l1/x'), 'file');
});

test('hardlinks to missing targets, to directories, to themselves and in cycles', async () => {
  const l = await makeTar([
    { name: 'd/', type: 'directory' },
    { name: 'h-missing', type: 'link', linkname: 'nope' }, { name: 'h-dir', type: 'link', linkname: 'd' },
    { name: 'h-self', type: 'link', linkname: 'h-self' }, { name: 'c1', type: 'link', linkname: 'c2' },
    { name: 'c2', type: 'link', linkname: 'c1' }, { name: 'h-up', type: 'link', linkname: '../../etc/passwd' },
  ]);
  const r = await expectResult(pipeline(await image(await base(), l)), 'hardlinks');
  for (const p of ['/h-missing', '/h-dir', '/h-self', '/c1', '/c2']) assert.equal(r.analysis.tree.lookup(p)?.size, 0, p);
  // A hardlink that climbs is clamped: it names the image's own /etc/passwd.
  assert.equal(r.analysis.tree.lookup('/h-up')?.size, 11);
  assert.ok(r.analysis.warnings.some((w) => w.includes('points at missing')));
});

test('duplicate entries: the last one wins, types may flip', async () => {
  const l = await makeTar([
    { name: 'f', size: 10 }, { name: 'f', size: 20 }, { name: 'f', size: 30 },
    { name: 'x', size: 5 }, { name: 'x/', type: 'directory' }, { name: 'x/y', size: 1 }, { name: 'x', size: 7 },
    { name: 'd/', type: 'directory' }, { name: 'd/', type: 'directory', mode: 0o700 },
  ]);
  const r = await expectResult(pipeline(await image(await base(), l)), 'duplicates');
  assert.equal(r.analysis.tree.lookup('/f')?.size, 30);
  assert.equal(r.analysis.tree.lookup('/x')?.type, 'file');
  assert.equal(r.analysis.tree.lookup('/x')?.size, 7);
  assert.equal(r.analysis.tree.lookup('/d')?.mode, 0o700);
});

test('PAX headers: huge or bogus sizes, long names, long link names', async () => {
  // A PAX size far beyond the data: the stream ends inside the entry.
  const huge = rawTar(pax({ size: '99999999999999999999' }), member({ name: 'f' }, 'abc'));
  await expectFormatError(() => indexLayer([huge]), 'truncated', 'pax size 1e20');
  await expectFormatError(pipeline(await image(await base(), huge)), 'truncated', 'pax size 1e20, pipeline');
  for (const size of ['-5', 'abc', '']) {
    const l = rawTar(pax({ size }), member({ name: 'f' }, 'abc'));
    await expectResultOrFormatError(pipeline(await image(await base(), l)), `pax size '${size}'`);
  }
  // A ustar size field of 64 GiB (base-256) with no data behind it.
  const b256 = Buffer.concat([member({ name: 'g', size: 2 ** 36 }), END]);
  await expectFormatError(() => indexLayer([b256]), 'truncated', 'base-256 size');
  // A PAX header record bigger than tar-stream's 4 MiB cap.
  const bigPax = Buffer.concat([member({ name: 'PaxHeader', type: 'x', size: 5 * 1024 * 1024 }), END]);
  await expectFormatError(() => indexLayer([bigPax]), ['limit', 'corrupt', 'truncated'], 'oversized PAX header');
  await expectFormatError(pipeline(await image(await base(), bigPax)), ['limit', 'corrupt', 'truncated'], 'oversized PAX header, pipeline');
  // Long names up to PATH_MAX: a PAX path, a 64 KiB PAX linkpath, a GNU long name.
  const longName = 'd/'.repeat(2000) + 'leaf';
  const gnuName = 'g/'.repeat(1500) + 'gnu';
  const l = rawTar(
    pax({ path: longName }), member({ name: 'short' }, 'data'),
    pax({ linkpath: '/x'.repeat(32_768) }), member({ name: 'ln', type: '2' }),
    member({ name: '././@LongLink', type: 'L' }, gnuName + '\0'), member({ name: 'trunc' }, 'q'),
  );
  const r = await expectResult(pipeline(await image(await base(), l)), 'long names');
  assert.equal(r.analysis.tree.lookup('/' + longName)?.size, 4);
  assert.equal(r.analysis.tree.lookup('/' + gnuName)?.size, 1);
  assert.equal(r.analysis.tree.lookup('/ln')?.linkname?.length, 65_536);
  // Beyond PATH_MAX (a 400 KB path would make a 200,000-deep tree): refused, quickly.
  for (const [label, tooLong] of [
    ['PAX path', rawTar(pax({ path: 'd/'.repeat(200_000) + 'leaf' }), member({ name: 'short' }, 'data'))],
    ['GNU long name', rawTar(member({ name: '././@LongLink', type: 'L' }, 'g/'.repeat(3000) + '\0'), member({ name: 'x' }, 'q'))],
  ] as const) {
    const t0 = Date.now();
    await expectFormatError(pipeline(await image(await base(), tooLong)), 'limit', label);
    assert.ok(Date.now() - t0 < 2000, `${label}: ${Date.now() - t0} ms`);
  }
});

test('non-UTF-8 and control-character names read as names', async () => {
  const l = rawTar(
    member({ name: Buffer.from([0x66, 0xff, 0xfe, 0x80, 0x2e, 0x62, 0x69, 0x6e]) }, 'latin'),
    member({ name: Buffer.from('tab\there\nnewline\u001b[31mred', 'utf8') }, 'ctl'),
    member({ name: Buffer.from([0xc3, 0x28]) }, 'bad utf8 pair'),
  );
  const r = await expectResult(pipeline(await image(await base(), l)), 'non-UTF-8');
  const files = [...r.analysis.tree.walk()].filter(([, n]) => n.type === 'file').map(([p]) => p);
  assert.equal(files.length, 5); // two from the base, three here
  assert.doesNotThrow(() => JSON.parse(JSON.stringify(files)));
});

test('a tar that is not a tar (random bytes, zeros, text, a JSON document) as a layer', async () => {
  const junk = [Buffer.alloc(4096, 0), Buffer.from('hello world\n'.repeat(100)), Buffer.from('{"not":"a tar"}'), Buffer.from(Array.from({ length: 3000 }, (_, i) => (i * 7919) & 0xff))];
  for (const [i, j] of junk.entries()) await expectResultOrFormatError(pipeline(await image(await base(), j)), `junk ${i}`);
  const all = readFileSync(__filename);
  await expectResultOrFormatError(pipeline(all), 'this test file as an archive');
});
