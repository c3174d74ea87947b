// Package databases on in-memory images: apk's installed file, npm package directories (nested
// node_modules excluded), pip's egg-info and dist-info (RECORD paths relative to site-packages,
// REQUESTED, Requires-Dist credit), dpkg's status and lists (Depends credit, the first layer whose
// status lists a package, directory symlinks and hardlinks counted once).
import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import { analyze } from '../../../../src/core/image/analysis';
import type { ImageData, LayerIndex } from '../../../../src/core/image/types';
import { FilesCollector } from '../../../../src/core/image/tar/layerRead';
import { readPackages, stanzas, type PackageRow } from '../../../../src/core/contents/packages';
import { indexLayer } from '../../support/indexLayer';
import { makeTar, type TEntry } from '../../support/tars';

async function rows(layers: TEntry[][]): Promise<PackageRow[]> {
  const tars: Buffer[] = [];
  const idx: LayerIndex[] = [];
  for (const l of layers) { const t = await makeTar(l); tars.push(t); idx.push(await indexLayer([t], { hash: true })); }
  const data: ImageData = {
    id: 'sha256:' + 'ef'.repeat(32), repoTags: ['pkgs:test'], config: { os: 'linux', architecture: 'amd64' }, diffIds: idx.map((l) => l.diffId), layers: idx,
    history: idx.map((_, i) => ({ index: i, createdBy: `RUN ${i}`, emptyLayer: false, layerIndex: i })), source: { kind: 'docker-archive', ref: 'mem' }, warnings: [],
  };
  const a = analyze(data);
  return readPackages(a.index, async (L, want, max) => { const c = new FilesCollector(want, max); c.write(tars[L]); return c.result(); });
}

const file = (name: string, size: number): TEntry => ({ name, size });
const body = (name: string, text: string): TEntry => ({ name, body: text });

test('stanzas: continuation lines and repeated headers', () => {
  const [a, b] = stanzas('Package: a\nDescription: x\n more\n\nName: b\nRequires-Dist: c\nRequires-Dist: d\n');
  assert.equal(a.get('Description'), 'x\nmore');
  assert.equal(b.get('Requires-Dist'), 'c\nd');
});

test('dpkg: layer of first listing, bytes through /bin → usr/bin and a hardlink once, Depends credit', async () => {
  const status1 = 'Package: libc\nStatus: install ok installed\nVersion: 1\nArchitecture: amd64\n\n';
  const status2 = status1 + 'Package: tool\nStatus: install ok installed\nVersion: 2\nArchitecture: amd64\nDepends: libx (>= 1), libc\n\nPackage: libx\nStatus: install ok installed\nVersion: 3\nArchitecture: amd64\n\nPackage: gone\nStatus: deinstall ok config-files\nVersion: 1\n\n';
  const r = await rows([
    [{ name: 'bin', type: 'symlink', linkname: 'usr/bin' }, file('usr/lib/libc.so', 1000), body('var/lib/dpkg/status', status1), body('var/lib/dpkg/info/libc:amd64.list', '/.\n/usr\n/usr/lib/libc.so\n')],
    [file('usr/bin/tool', 300), { name: 'usr/bin/tool2', type: 'link', linkname: 'usr/bin/tool' }, file('usr/lib/libx.so', 50),
      body('var/lib/dpkg/status', status2), body('var/lib/dpkg/info/tool:amd64.list', '/bin/tool\n/usr/bin/tool2\n/usr/bin\n'), body('var/lib/dpkg/info/libx.list', '/usr/lib/libx.so\n/usr/lib/missing\n')],
  ]);
  const by = new Map(r.map((x) => [x.name, x]));
  assert.deepEqual([...by.keys()].sort(), ['libc', 'libx', 'tool']);
  assert.deepEqual([by.get('libc')!.layer, by.get('libc')!.bytes, by.get('libc')!.files], [0, 1000, 1]);
  assert.deepEqual([by.get('tool')!.layer, by.get('tool')!.bytes, by.get('tool')!.files], [1, 300, 1]);
  assert.equal(by.get('libx')!.pulledInBy, 'tool');
  assert.equal(by.get('libc')!.pulledInBy, 'tool');
  assert.equal(by.get('tool')!.bytesWithDeps, 300 + 50 + 1000);
});

test('apk, npm, pip egg-info and dist-info', async () => {
  const r = await rows([
    [body('lib/apk/db/installed', 'P:musl\nV:1.2\nF:lib\nR:ld-musl.so.1\n\nP:busybox\nV:1.36\nF:bin\nR:busybox\n'), file('lib/ld-musl.so.1', 700), file('bin/busybox', 900)],
    [body('app/node_modules/left/package.json', '{"name":"left","version":"1.0.0"}'), file('app/node_modules/left/index.js', 40),
      body('app/node_modules/left/node_modules/inner/package.json', '{"name":"inner","version":"0.1.0"}'), file('app/node_modules/left/node_modules/inner/i.js', 7),
      body('app/node_modules/@s/right/package.json', '{"name":"@s/right","version":"2.0.0"}')],
    [body('usr/lib/py/site/req-2.0.dist-info/METADATA', 'Metadata-Version: 2.1\nName: req\nVersion: 2.0\nRequires-Dist: idna\nRequires-Dist: extra-only ; extra == "x"\n\nbody\n'),
      body('usr/lib/py/site/req-2.0.dist-info/RECORD', 'req/__init__.py,sha256=x,100\n../../bin/req,,\nreq-2.0.dist-info/RECORD,,\n'),
      body('usr/lib/py/site/req-2.0.dist-info/REQUESTED', ''), file('usr/lib/py/site/req/__init__.py', 100), file('usr/lib/bin/req', 10),
      body('usr/lib/py/site/idna-3.dist-info/METADATA', 'Name: idna\nVersion: 3\n'), body('usr/lib/py/site/idna-3.dist-info/RECORD', 'idna/core.py,,\n'), file('usr/lib/py/site/idna/core.py', 33),
      body('usr/lib/py/site/old.egg-info/PKG-INFO', 'Name: old\nVersion: 0.9\n'), body('usr/lib/py/site/old.egg-info/installed-files.txt', '../old.py\nPKG-INFO\n'), file('usr/lib/py/site/old.py', 11)],
  ]);
  const by = new Map(r.map((x) => [`${x.manager}:${x.name}`, x]));
  assert.deepEqual([by.get('apk:musl')!.bytes, by.get('apk:busybox')!.bytes, by.get('apk:busybox')!.layer], [700, 900, 0]);
  const len = (s: string): number => Buffer.byteLength(s);
  // Its own files, package.json included, not the nested package's.
  assert.equal(by.get('npm:left')!.bytes, 40 + len('{"name":"left","version":"1.0.0"}'));
  assert.equal(by.get('npm:inner')!.bytes, 7 + len('{"name":"inner","version":"0.1.0"}'));
  assert.equal(by.get('npm:@s/right')!.version, '2.0.0');
  const req = by.get('pip:req')!;
  const recordBytes = Buffer.byteLength('req/__init__.py,sha256=x,100\n../../bin/req,,\nreq-2.0.dist-info/RECORD,,\n');
  assert.deepEqual([req.layer, req.bytes, req.files], [2, 100 + 10 + recordBytes, 3]);
  assert.equal(by.get('pip:idna')!.pulledInBy, 'req');
  assert.equal(req.bytesWithDeps, req.bytes + 33);
  assert.equal(by.get('pip:old')!.version, '0.9');
  assert.equal(by.get('pip:old')!.bytes, 11 + len('Name: old\nVersion: 0.9\n') + len('../old.py\nPKG-INFO\n'));
});

test('a layer\'s packages in a sentence, by bytes', async () => {
  const { packagesSentence } = await import('../../../../src/core/present/explain/sentences');
  const row = (name: string, bytes: number, layer = 2): PackageRow => ({ manager: 'dpkg', name, version: '1', layer, bytes, files: 1, pulledInBy: null, bytesWithDeps: bytes });
  const rows = [row('a', 1_000_000), row('b', 18_000_000), row('c', 500), row('z', 5, 1)];
  assert.equal(packagesSentence(rows, 2, 2), '19 MB in 3 packages: b 18 MB, a 1 MB, …');
  assert.equal(packagesSentence(rows, 1), '5 B in 1 package: z 5 B');
  assert.equal(packagesSentence(rows, 0), undefined);
});
