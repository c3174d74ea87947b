// Hovers on a Dockerfile's lines: the packages a RUN installed are read by the first hover on a
// layer's line (from the image's own source), kept for the analysis, and left out without a
// message when they cannot be read; a Dockerfile being typed never makes the hover fail.
import '../support/vscode-stub';
import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { stub } from '../support/vscode-stub';
import { LayerHoverProvider } from '../../../src/vscode/hover';
import { packagesForHover, packagesIfRead } from '../../../src/vscode/explain';
import { analyze, type Analysis } from '../../../src/core/image/analysis';
import { loadImage, openImageSource, parseSource, type SourceSpec } from '../../../src/sources/load';
import type { LayerLensContext } from '../../../src/vscode/context';
import { dockerSave, makeTar } from '../support/tars';

const DOCKERFILE = 'FROM base:1\nRUN apt-get install -y tool\nENV A=1\n';

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'layerlens-hover-'));

/** An image whose layer 1 (`RUN apt-get install -y tool`) installs the dpkg package `tool`. */
async function archive(name: string): Promise<string> {
  const status0 = 'Package: libc\nStatus: install ok installed\nVersion: 1\nArchitecture: amd64\n\n';
  const status1 = status0 + 'Package: tool\nStatus: install ok installed\nVersion: 2\nArchitecture: amd64\n\n';
  const layers = [
    await makeTar([{ name: 'usr/lib/libc.so', size: 1000 }, { name: 'var/lib/dpkg/status', body: status0 }, { name: 'var/lib/dpkg/info/libc.list', body: '/usr/lib/libc.so\n' }]),
    await makeTar([{ name: 'usr/bin/tool', size: 4321 }, { name: 'var/lib/dpkg/status', body: status1 }, { name: 'var/lib/dpkg/info/tool.list', body: '/usr/bin/tool\n' }]),
  ];
  const file = path.join(dir, name);
  fs.writeFileSync(file, await dockerSave({ layers, history: [
    { created_by: '/bin/sh -c #(nop) ADD file:0a1b in / ' },
    { created_by: '/bin/sh -c apt-get install -y tool' },
    { created_by: '/bin/sh -c #(nop)  ENV A=1', empty_layer: true },
  ] }));
  return file;
}

interface Harness { provider: LayerHoverProvider; logs: string[] }

/** The provider over a context that shows `analysis` (read from `source`) for every Dockerfile. */
function harness(analysis: Analysis, source: string, opts: { imageFor?: () => Promise<unknown> } = {}): Harness {
  const logs: string[] = [];
  const shown = { analysis, source };
  const ll = {
    log: (m: string) => { logs.push(m); },
    engine: { get: async () => { throw new Error('no engine in this test'); } },
    readers: { open: (spec: SourceSpec) => openImageSource(spec) },
    images: { current: shown, show: async () => shown },
    dockerfiles: { imageFor: opts.imageFor ?? (async () => ({ image: analysis.image, source })) },
  } as unknown as LayerLensContext;
  return { provider: new LayerHoverProvider(ll), logs };
}

let version = 0;
function doc(text: string): never {
  const lines = text.split('\n');
  return { getText: () => text, uri: { toString: () => 'file:///w/Dockerfile', fsPath: '/w/Dockerfile', path: '/w/Dockerfile', scheme: 'file' }, version: ++version, lineAt: (i: number) => ({ text: lines[i] ?? '' }) } as never;
}

const token = { isCancellationRequested: false, onCancellationRequested: () => ({ dispose: () => undefined }) } as never;

async function hoverText(h: Harness, text: string, line: number): Promise<string | undefined> {
  const hv = await h.provider.provideHover(doc(text), { line: line - 1, character: 0 } as never, token) as unknown as { contents: { value: string } } | undefined;
  // The markdown's escapes taken out.
  return hv?.contents.value.replace(/\\(.)/g, '$1');
}

test('the first hover on a RUN line reads the packages it installed; later hovers use what was read', async () => {
  const file = await archive('ok.tar');
  const a = analyze(await loadImage(await parseSource(file)));
  const h = harness(a, file);
  // A hover on a config-only line reads nothing.
  assert.match((await hoverText(h, DOCKERFILE, 3))!, /config/i);
  assert.equal(packagesIfRead(a), undefined);
  const first = await hoverText(h, DOCKERFILE, 2);
  assert.match(first!, /- \*\*Packages:\*\* 4\.32 kB in 1 package: tool 4\.32 kB/);
  const rows = packagesIfRead(a);
  assert.deepEqual(rows?.map((r) => [r.name, r.layer, r.bytes]).sort(), [['libc', 0, 1000], ['tool', 1, 4321]]);
  // Kept for the analysis: the image file gone, the next hover still lists them, from the same rows.
  fs.rmSync(file);
  assert.match((await hoverText(h, DOCKERFILE, 2))!, /tool 4\.32 kB/);
  assert.equal(packagesIfRead(a), rows);
  assert.deepEqual(h.logs, []);
  assert.deepEqual(stub.messages, []);
});

test('packages that cannot be read: the hover shows without them, the log says why, no message pops up', async () => {
  const file = await archive('gone.tar');
  const a = analyze(await loadImage(await parseSource(file)));
  fs.rmSync(file);
  const h = harness(a, file);
  const text = await hoverText(h, DOCKERFILE, 2);
  assert.ok(text);
  assert.match(text, /Copy-up/);
  assert.doesNotMatch(text, /Packages/);
  assert.equal(h.logs.length, 1);
  assert.match(h.logs[0], /^packages of .*gone\.tar: /);
  assert.deepEqual(stub.messages, []);
  // Failed once: not read again on every hover.
  await hoverText(h, DOCKERFILE, 2);
  assert.equal(h.logs.length, 1);
});

test('a slow read: the hover waits at most its limit, then shows without the packages; a cancelled hover stops waiting', async () => {
  const file = await archive('slow.tar');
  const a = analyze(await loadImage(await parseSource(file)));
  const ll = { log: () => undefined, readers: { open: (spec: SourceSpec) => openImageSource(spec) } };
  const t0 = Date.now();
  const never = new Promise<void>(() => undefined);
  // 0 ms: the read has not finished when the hover stops waiting (it goes on, for the next hover).
  assert.equal(await packagesForHover(ll as never, file, a, never, 0), undefined);
  let cancel!: () => void;
  const cancelled = new Promise<void>((r) => { cancel = r; });
  const waiting = packagesForHover(ll as never, path.join(dir, 'never-read.tar'), analyze(a.image), cancelled, 60_000);
  cancel();
  assert.equal(await waiting, undefined);
  assert.ok(Date.now() - t0 < 10_000);
  // The first read went on and is kept.
  for (let i = 0; i < 100 && !packagesIfRead(a); i++) await new Promise((r) => setTimeout(r, 20));
  assert.equal(packagesIfRead(a)?.length, 2);
});

test('a Dockerfile being typed: every prefix of the file, every line, never raises', async () => {
  const file = await archive('typing.tar');
  const a = analyze(await loadImage(await parseSource(file)));
  const full = 'ARG V=${X:-1\n' + DOCKERFILE + 'RUN <<EOF\necho "unterminated\nCOPY --from= \\\n  a b\nFROM\n';
  const h = harness(a, file);
  for (let n = 0; n <= full.length; n++) {
    const text = full.slice(0, n);
    const lines = text.split('\n').length;
    for (let l = 1; l <= lines + 1; l++) await hoverText(h, text, l);
  }
  // And when finding the image fails outright.
  const broken = harness(a, file, { imageFor: async () => { throw new Error('engine went away'); } });
  assert.ok(await hoverText(broken, DOCKERFILE, 2));
  assert.deepEqual(stub.messages, []);
});
