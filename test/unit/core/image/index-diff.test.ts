// Two image indexes compared (src/core/image/index/diff.ts), contents hashed from the layer tars
// (src/core/image/tar/entryDigests.ts), against a reference: each image's final filesystem
// applied by hand from the same entries (whiteouts, opaque directories, then entries in order)
// and the two compared path by path on type, mode, size, link target and content.
import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import { buildImageIndex } from '../../../../src/core/image/index/imageIndex';
import { layerTableOf } from '../../../../src/core/image/index/layerTable';
import { compareIndexes, entriesToHash, settleDiff, type FileDiff } from '../../../../src/core/image/index/diff';
import { EntryDigests } from '../../../../src/core/image/tar/entryDigests';
import type { LayerIndex } from '../../../../src/core/image/types';
import { indexLayer } from '../../support/indexLayer';
import { member, pax, rawTar } from '../../support/rawtar';
import { Rng } from '../../../fuzz/mutate';

type Ent =
  | { kind: 'file'; path: string; mode: number; body: string }
  | { kind: 'dir'; path: string; mode: number }
  | { kind: 'symlink'; path: string; link: string }
  | { kind: 'hardlink'; path: string; target: string; mode: number }
  | { kind: 'whiteout'; path: string }
  | { kind: 'opaque'; path: string };

interface Layer { ents: Ent[]; stamp?: number }

function tarOf(l: Layer): Buffer {
  const parts: Buffer[] = [];
  // A rebuilt layer: the same entries, another mtime record (other bytes, another diffID).
  if (l.stamp !== undefined) parts.push(pax({ mtime: String(l.stamp) }));
  for (const e of l.ents) {
    const name = e.path.slice(1);
    if (e.kind === 'file') parts.push(member({ name, mode: e.mode }, e.body));
    else if (e.kind === 'dir') parts.push(member({ name: name + '/', type: '5', mode: e.mode }));
    else if (e.kind === 'symlink') parts.push(member({ name, type: '2', linkname: e.link, mode: 0o777 }));
    else if (e.kind === 'hardlink') parts.push(member({ name, type: '1', linkname: e.target.slice(1), mode: e.mode }));
    else if (e.kind === 'whiteout') {
      const i = name.lastIndexOf('/');
      parts.push(member({ name: name.slice(0, i + 1) + '.wh.' + name.slice(i + 1) }));
    } else parts.push(member({ name: name + '/.wh..wh..opq' }));
  }
  return rawTar(...parts);
}

interface Node { type: 'file' | 'dir' | 'symlink'; mode: number; body: string; link?: string }

/** The final filesystem by hand (hardlinks become the file they link to, as a container sees them). */
function apply(layers: Layer[]): Map<string, Node> {
  const fs = new Map<string, Node>();
  const drop = (p: string, self: boolean): void => {
    for (const k of [...fs.keys()]) if ((self && k === p) || k.startsWith(p + '/')) fs.delete(k);
  };
  for (const l of layers) {
    for (const e of l.ents) if (e.kind === 'opaque' && fs.get(e.path)?.type === 'dir') drop(e.path, false);
    for (const e of l.ents) if (e.kind === 'whiteout') drop(e.path, true);
    for (const e of l.ents) {
      if (e.kind === 'whiteout' || e.kind === 'opaque') continue;
      const parts = e.path.split('/').slice(1, -1);
      for (let i = 1; i <= parts.length; i++) {
        const p = '/' + parts.slice(0, i).join('/');
        if (!fs.has(p)) fs.set(p, { type: 'dir', mode: 0o755, body: '' });
      }
      const old = fs.get(e.path);
      if (e.kind === 'dir') {
        fs.set(e.path, { type: 'dir', mode: e.mode, body: '' });
        continue;
      }
      if (old?.type === 'dir') drop(e.path, false);
      if (e.kind === 'file') fs.set(e.path, { type: 'file', mode: e.mode, body: e.body });
      else if (e.kind === 'symlink') fs.set(e.path, { type: 'symlink', mode: 0o777, body: '', link: e.link });
      else fs.set(e.path, { type: 'file', mode: e.mode, body: fs.get(e.target)?.body ?? '' });
    }
  }
  return fs;
}

function referenceDiff(a: Map<string, Node>, b: Map<string, Node>): string[] {
  const out: string[] = [];
  const size = (n: Node): number => (n.type === 'file' ? Buffer.byteLength(n.body) : 0);
  for (const [p, x] of a) {
    const y = b.get(p);
    if (!y) out.push(`${p} removed ${size(x)} -`);
    else if (x.type !== y.type || x.mode !== y.mode || x.body !== y.body || x.link !== y.link) out.push(`${p} modified ${size(x)} ${size(y)}`);
  }
  for (const [p, y] of b) if (!a.has(p)) out.push(`${p} added - ${size(y)}`);
  return out.sort();
}

async function indexed(layers: Layer[]): Promise<{ tars: Buffer[]; idx: LayerIndex[] }> {
  const tars = layers.map(tarOf);
  return { tars, idx: await Promise.all(tars.map((t) => indexLayer([t], { hash: true }))) };
}

/** compareIndexes, then every content check answered by hashing the layer tars. */
async function productDiff(old: Layer[], neu: Layer[]): Promise<{ files: FileDiff[]; read: number; sameLayer: number; checks: number }> {
  const a = await indexed(old), b = await indexed(neu);
  const side = (x: { idx: LayerIndex[] }) => ({ index: buildImageIndex(x.idx.map(layerTableOf)), diffIds: x.idx.map((l) => l.diffId) });
  const d = compareIndexes(side(a), side(b));
  let read = 0;
  const hash = (x: { tars: Buffer[] }, wanted: Map<number, Set<string>>): Map<number, Map<string, string>> => {
    const m = new Map<number, Map<string, string>>();
    for (const [layer, paths] of wanted) {
      read++;
      const h = new EntryDigests(paths);
      // In odd chunks, as a stream would hand them over.
      const t = x.tars[layer];
      for (let i = 0; i < t.length; i += 700) h.write(t.subarray(i, i + 700));
      m.set(layer, h.result());
    }
    return m;
  };
  const da = hash(a, entriesToHash(d, 'old')), db = hash(b, entriesToHash(d, 'new'));
  const files = settleDiff(d, (s, layer, entry) => (s === 'old' ? da : db).get(layer)?.get(entry));
  return { files, read, sameLayer: d.sameLayer, checks: d.checks.length };
}

const render = (files: FileDiff[]): string[] => files.map((f) => `${f.path} ${f.change} ${f.oldSize ?? '-'} ${f.newSize ?? '-'}`).sort();

test('diff: a hand-made pair: edited, added, removed, chmod, a byte-identical rebuilt layer, file → directory', async () => {
  const base: Layer = { ents: [{ kind: 'dir', path: '/etc', mode: 0o755 }, { kind: 'file', path: '/etc/os', mode: 0o644, body: 'base' }] };
  const app = (body: string, extra: Ent[]): Layer => ({
    ents: [
      { kind: 'dir', path: '/app', mode: body === 'one' ? 0o755 : 0o750 },
      { kind: 'file', path: '/app/a.txt', mode: 0o644, body },
      { kind: 'file', path: '/app/same.txt', mode: 0o644, body: 'same' },
      ...extra,
    ],
  });
  const old: Layer[] = [base, app('one', [{ kind: 'file', path: '/app/gone.txt', mode: 0o644, body: 'bye' }, { kind: 'file', path: '/app/x', mode: 0o644, body: 'x' }]), { ents: [{ kind: 'file', path: '/srv', mode: 0o600, body: 'srv' }] }];
  const neu: Layer[] = [base, app('two', [{ kind: 'file', path: '/app/new.txt', mode: 0o644, body: 'hello' }, { kind: 'file', path: '/app/x/y', mode: 0o644, body: 'y' }]), { stamp: 42, ents: [{ kind: 'file', path: '/srv', mode: 0o640, body: 'srv' }] }];
  const r = await productDiff(old, neu);
  assert.deepEqual(render(r.files), [
    '/app modified 0 0',
    '/app/a.txt modified 3 3',
    '/app/gone.txt removed 3 -',
    '/app/new.txt added - 5',
    '/app/x modified 1 0',
    '/app/x/y added - 1',
    '/srv modified 3 3',
  ]);
  assert.deepEqual(render(r.files), referenceDiff(apply(old), apply(neu)));
  // The layer of the new image that provides each path.
  assert.deepEqual(r.files.map((f) => f.layer), [1, 1, 1, 1, 1, 1, 2]);
  // /etc and /etc/os: the same base layer in both, not read. a.txt and same.txt: one content check each.
  assert.equal(r.sameLayer, 2);
  assert.equal(r.checks, 2);
  assert.equal(r.read, 2);
});

test('diff: a rebuilt layer with byte-identical files reports nothing', async () => {
  const l: Layer = { ents: [{ kind: 'dir', path: '/d', mode: 0o755 }, { kind: 'file', path: '/d/f', mode: 0o644, body: 'content' }, { kind: 'symlink', path: '/d/s', link: 'f' }] };
  const r = await productDiff([l], [{ ...l, stamp: 7 }]);
  assert.deepEqual(r.files, []);
  assert.equal(r.sameLayer, 0);
  assert.equal(r.checks, 1);
});

/** Random layers over disjoint names: d* are always directories, f* never (hardlinks to a file of the same layer). */
function randomLayer(r: Rng, top: boolean): Ent[] {
  const ents: Ent[] = [];
  const dir = (): string => '/' + Array.from({ length: 1 + r.int(2) }, () => 'd' + r.int(3)).join('/');
  const files: Array<{ path: string; mode: number }> = [];
  // A hardlink's target is not written again in its layer (tar writers link to the last copy).
  const linked = new Set<string>();
  for (let i = 1 + r.int(8); i > 0; i--) {
    const p = `${dir()}/f${r.int(4)}`;
    if (linked.has(p)) continue;
    const k = r.int(10);
    if (k < 5) { const mode = r.chance(0.2) ? 0o600 : 0o644; ents.push({ kind: 'file', path: p, mode, body: 'xy'.repeat(r.int(3)) + r.pick(['a', 'b', '']) }); files.push({ path: p, mode }); }
    // Directories keep mode 0755 here: a directory deleted and then recreated implicitly (by an
    // entry below it) keeps the deleted one's mode in the merge, where an engine makes it 0755.
    else if (k < 6) ents.push({ kind: 'dir', path: dir(), mode: 0o755 });
    else if (k < 7) ents.push({ kind: 'symlink', path: p, link: r.pick(['f0', '../f1']) });
    else if (k < 8 && files.length) { const t = r.pick(files); if (t.path !== p) { ents.push({ kind: 'hardlink', path: p, target: t.path, mode: t.mode }); linked.add(t.path); } }
    else if (k < 9 && !top) ents.push({ kind: 'whiteout', path: r.chance(0.5) ? dir() : p });
    else if (!top) ents.push({ kind: 'opaque', path: dir() });
  }
  return ents;
}

test('diff: random image pairs equal the reference filesystems compared', async () => {
  let changed = 0, rebuilt = 0, identical = 0;
  for (let c = 0; c < 300; c++) {
    const r = new Rng(20261208 + c);
    const base: Layer[] = Array.from({ length: 1 + r.int(2) }, (_, i) => ({ ents: randomLayer(r, i === 0) }));
    const old: Layer[] = [...base];
    const neu: Layer[] = [...base];
    for (let i = r.int(4); i >= 0; i--) {
      const ents = randomLayer(r, false);
      old.push({ ents });
      const what = r.int(3);
      if (what === 0) neu.push({ ents });
      else if (what === 1) neu.push({ ents, stamp: c + 1 });
      else {
        // Mutated: some entries dropped, some edited, some added.
        // A hardlink whose target was dropped goes too (a tar links only to a file it holds).
        const kept = ents.filter(() => !r.chance(0.2));
        const m = kept.filter((e) => e.kind !== 'hardlink' || kept.some((t) => t.kind === 'file' && t.path === e.target))
          .map((e) => (e.kind === 'file' && r.chance(0.3) ? { ...e, body: e.body + 'z' } : e.kind === 'file' && r.chance(0.2) ? { ...e, mode: 0o755 } : e));
        neu.push({ ents: [...m, ...randomLayer(r, false).filter((e) => e.kind !== 'hardlink')] });
      }
    }
    if (r.chance(0.3)) neu.push({ ents: randomLayer(r, false).filter((e) => e.kind !== 'hardlink') });
    const got = await productDiff(old, neu);
    const want = referenceDiff(apply(old), apply(neu));
    assert.deepEqual(render(got.files), want, `case ${c}`);
    if (want.length) changed++;
    else if (got.checks > 0) rebuilt++;
    else identical++;
  }
  // The cases reach what they are meant to: real changes, rebuilt-but-identical stacks, identical stacks.
  assert.ok(changed > 150 && rebuilt > 5 && identical > 5, `${changed} ${rebuilt} ${identical}`);
});
