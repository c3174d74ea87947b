// `layerlens packages` against a real Docker Engine, on a Debian 12 image (debootstrap minbase with
// python3, test/support/debian.ts) with an apt install in one RUN and a pip install (pip and
// setuptools from Debian's own wheels, no index) in another: every dpkg and pip package's layer
// and bytes equal what the layer tars (`docker save`) and the engine's merged filesystem (`docker
// export`) say, computed here independently: the first layer whose dpkg status (or which first
// ships the RECORD) lists the package, and the regular files its own list names, each file once
// (a hardlink as its target; Debian's /bin → usr/bin symlinks followed). The plain Debian +
// Python image has no secret finding.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { copyFile, mkdir, mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import * as os from 'node:os';
import * as path from 'node:path';
import type { Readable } from 'node:stream';
import * as tar from 'tar-stream';
import * as E from '../support/engine';
import { DEBIAN_IMAGE, ensureDebianImage } from '../support/debian';

interface Row { manager: string; name: string; version: string; layer: number; bytes: number; files: number; pulledInBy: string | null; bytesWithDeps: number }

const WHEELS = '/usr/share/python-wheels';

/** Every member of a tar stream: entries (type, size, link) and the bodies `want` picks. */
async function readTar(stream: Readable, want: (p: string) => boolean): Promise<{ entries: Map<string, E.FsEntry>; files: Map<string, Buffer>; order: string[] }> {
  const ex = tar.extract();
  const entries = new Map<string, E.FsEntry>();
  const files = new Map<string, Buffer>();
  const order: string[] = [];
  await new Promise<void>((resolve, reject) => {
    ex.on('entry', (h, body, next) => {
      const p = E.normPath(h.name);
      order.push(p);
      const type: E.EntryType = h.type === 'directory' ? 'dir' : h.type === 'symlink' ? 'symlink' : h.type === 'link' ? 'hardlink' : h.type === 'file' ? 'file' : 'fifo';
      entries.set(p, { path: p, type, size: h.size ?? 0, mode: '', linkname: h.type === 'link' ? E.normPath(h.linkname ?? '') : h.linkname ?? undefined });
      if (h.type === 'file' && want(p)) {
        const parts: Buffer[] = [];
        body.on('data', (b: unknown) => parts.push(b as Buffer));
        body.on('end', () => { files.set(p, Buffer.concat(parts)); next(); });
      } else {
        body.on('end', () => next());
        body.resume();
      }
    });
    ex.on('finish', () => resolve());
    ex.on('error', reject);
    stream.on('error', reject);
    stream.pipe(ex);
  });
  return { entries, files, order };
}

/** The layer tars of `docker save`, in order: the database files each ships. */
async function saveLayers(image: string, want: (p: string) => boolean): Promise<Array<Map<string, Buffer>>> {
  const child = spawn(E.DOCKER, ['save', image], { stdio: ['ignore', 'pipe', 'inherit'], env: process.env });
  const ex = tar.extract();
  const layers = new Map<string, Map<string, Buffer>>();
  let manifest = '';
  await new Promise<void>((resolve, reject) => {
    ex.on('entry', (h, body, next) => {
      const name = h.name.replace(/^\.\//, '');
      if (name === 'manifest.json') {
        const parts: Buffer[] = [];
        body.on('data', (b: unknown) => parts.push(b as Buffer));
        body.on('end', () => { manifest = Buffer.concat(parts).toString('utf8'); next(); });
      } else if (h.type === 'file' && (name.endsWith('layer.tar') || name.startsWith('blobs/')) && (h.size ?? 0) > 1024) {
        readTar(body as unknown as Readable, want).then((r) => { layers.set(name, r.files); next(); }, () => { body.resume(); next(); });
      } else {
        body.on('end', () => next());
        body.resume();
      }
    });
    ex.on('finish', () => resolve());
    ex.on('error', reject);
    child.stdout.pipe(ex);
  });
  return (JSON.parse(manifest) as Array<{ Layers: string[] }>)[0].Layers.map((l) => layers.get(l) ?? new Map());
}

/** The engine's merged filesystem (`docker export`), hardlinks kept as such. */
async function exportEntries(image: string): Promise<Map<string, E.FsEntry>> {
  const cid = (await E.docker(['create', image, '/never-run'])).trim();
  try {
    const child = spawn(E.DOCKER, ['export', cid], { stdio: ['ignore', 'pipe', 'inherit'], env: process.env });
    return (await readTar(child.stdout, () => false)).entries;
  } finally {
    await E.run(E.DOCKER, ['rm', '-f', cid]);
  }
}

/** The regular file at `p` in `fs` (directory symlinks followed, a hardlink as its target), or undefined. */
function resolveFile(fs: Map<string, E.FsEntry>, p: string, hops = 0): string | undefined {
  if (hops > 40) return undefined;
  const parts = p.split('/').filter(Boolean);
  let cur = '';
  for (let i = 0; i < parts.length; i++) {
    const next = path.posix.normalize(`${cur}/${parts[i]}`);
    const e = fs.get(next);
    if (!e) return undefined;
    if (e.type === 'symlink' && i < parts.length - 1) {
      const target = e.linkname!.startsWith('/') ? e.linkname! : path.posix.join(cur || '/', e.linkname!);
      return resolveFile(fs, path.posix.join(target, ...parts.slice(i + 1)), hops + 1);
    }
    cur = next;
  }
  const e = fs.get(cur);
  if (e?.type === 'file') return cur;
  if (e?.type === 'hardlink') return resolveFile(fs, e.linkname!, hops + 1);
  return undefined;
}

function expected(fs: Map<string, E.FsEntry>, list: string[]): { bytes: number; files: number } {
  const seen = new Set<string>();
  let bytes = 0;
  for (const p of list) {
    const f = resolveFile(fs, p);
    if (!f || seen.has(f)) continue;
    seen.add(f);
    bytes += fs.get(f)!.size;
  }
  return { bytes, files: seen.size };
}

function installed(status: string | undefined): Set<string> {
  const out = new Set<string>();
  for (const block of (status ?? '').split('\n\n')) {
    const name = /^Package: (.+)$/m.exec(block)?.[1];
    if (name && /^Status: .* installed$/m.test(block)) out.add(name);
  }
  return out;
}

describe('layerlens packages on a Debian image with apt and pip installs', () => {
  let tag = '';
  let work = '';
  let rows: Row[] = [];
  let fs = new Map<string, E.FsEntry>();
  let layers: Array<Map<string, Buffer>> = [];

  before(async () => {
    await ensureDebianImage();
    work = await mkdtemp(path.join(os.tmpdir(), 'layerlens-packages-'));
    await mkdir(path.join(work, 'wheels'));
    const wheels = (await readdir(WHEELS)).filter((f) => f.endsWith('.whl'));
    const pip = wheels.find((w) => w.startsWith('pip-'));
    assert.ok(pip, `no pip wheel in ${WHEELS} (apt-get install python3-pip-whl)`);
    for (const w of wheels) await copyFile(path.join(WHEELS, w), path.join(work, 'wheels', w));
    await writeFile(path.join(work, 'Dockerfile'), [
      `FROM ${DEBIAN_IMAGE}`,
      'RUN apt-get update && apt-get install -y --no-install-recommends python3-six && rm -rf /var/lib/apt/lists/*',
      'COPY wheels/ /tmp/wheels/',
      `RUN python3 /tmp/wheels/${pip}/pip install --no-index --break-system-packages --no-cache-dir /tmp/wheels/*.whl && rm -rf /tmp/wheels`,
      '',
    ].join('\n'));
    tag = 'layerlens-test/packages:debian';
    await E.docker(['build', '--network=host', '-q', '-t', tag, work], { env: { DOCKER_BUILDKIT: '1' }, timeoutMs: 900_000 });
    const r = await E.cli(['packages', tag, '--json']);
    assert.equal(r.code, 0, r.stderr);
    const out = JSON.parse(r.stdout) as { schemaVersion: number; packages: Row[] };
    assert.equal(out.schemaVersion, 1);
    rows = out.packages;
    fs = await exportEntries(tag);
    layers = await saveLayers(tag, (p) => p === '/var/lib/dpkg/status' || (p.startsWith('/var/lib/dpkg/info/') && p.endsWith('.list')) || /\.dist-info\/RECORD$/.test(p));
  });

  after(async () => {
    if (work) await rm(work, { recursive: true, force: true });
    if (tag) await E.run(E.DOCKER, ['rmi', '-f', tag]);
  });

  const latest = (p: string): Buffer | undefined => [...layers].reverse().find((l) => l.has(p))?.get(p);

  it('lists every installed dpkg package, each at the first layer whose status lists it, with the bytes its .list names', () => {
    const finalStatus = installed(latest('/var/lib/dpkg/status')?.toString('utf8'));
    const dpkg = rows.filter((r) => r.manager === 'dpkg');
    assert.deepEqual(dpkg.map((r) => r.name).sort(), [...finalStatus].sort());
    assert.ok(dpkg.length > 50);
    const statusByLayer = layers.map((l) => (l.has('/var/lib/dpkg/status') ? installed(l.get('/var/lib/dpkg/status')!.toString('utf8')) : undefined));
    for (const r of dpkg) {
      const first = statusByLayer.findIndex((s) => s?.has(r.name));
      assert.equal(r.layer, first, `${r.name}: layer`);
      const list = latest(`/var/lib/dpkg/info/${r.name}:amd64.list`) ?? latest(`/var/lib/dpkg/info/${r.name}.list`);
      assert.ok(list, `${r.name}: no .list in any layer`);
      const want = expected(fs, list.toString('utf8').split('\n').filter((l) => l.startsWith('/')));
      assert.deepEqual({ bytes: r.bytes, files: r.files }, want, `${r.name}: bytes and files`);
    }
    const six = dpkg.find((r) => r.name === 'python3-six');
    assert.ok(six && six.layer === 1 && six.bytes > 0, JSON.stringify(six));
  });

  it('lists the pip installs at the layer that ships their RECORD, with the bytes RECORD names', () => {
    const pip = rows.filter((r) => r.manager === 'pip');
    const records = new Map<string, number>();
    layers.forEach((l, i) => { for (const p of l.keys()) if (p.endsWith('.dist-info/RECORD') && !records.has(p)) records.set(p, i); });
    assert.ok(pip.some((r) => r.name === 'pip') && pip.some((r) => r.name === 'setuptools'), JSON.stringify(pip));
    assert.equal(pip.length, records.size);
    for (const r of pip) {
      const rec = [...records.keys()].find((p) => path.posix.basename(path.posix.dirname(p)).toLowerCase().startsWith(`${r.name.toLowerCase()}-${r.version}.dist-info`));
      assert.ok(rec, `${r.name}: no RECORD`);
      assert.equal(r.layer, records.get(rec), `${r.name}: layer`);
      const site = path.posix.dirname(path.posix.dirname(rec));
      const paths = latest(rec)!.toString('utf8').split('\n').filter(Boolean).map((l) => path.posix.resolve(site, l.split(',')[0]));
      assert.deepEqual({ bytes: r.bytes, files: r.files }, expected(fs, paths), `${r.name}: bytes and files`);
      assert.equal(r.layer, 3);
    }
  });

  it('credits dependency-only dpkg packages to a top-level package that reaches them', () => {
    const dpkg = new Map(rows.filter((r) => r.manager === 'dpkg').map((r) => [r.name, r]));
    for (const r of dpkg.values()) {
      if (r.pulledInBy === null) continue;
      const top = dpkg.get(r.pulledInBy);
      assert.ok(top && top.pulledInBy === null, `${r.name} credited to ${r.pulledInBy}, not a top-level package`);
    }
    for (const top of dpkg.values()) {
      const credited = [...dpkg.values()].filter((r) => r.pulledInBy === top.name).reduce((n, r) => n + r.bytes, 0);
      assert.equal(top.bytesWithDeps, top.bytes + credited, top.name);
    }
    assert.ok([...dpkg.values()].some((r) => r.pulledInBy !== null));
  });

  it('--layer N lists only what layer N installed', async () => {
    const r = await E.cli(['packages', tag, '--json', '--layer', '1']);
    assert.equal(r.code, 0, r.stderr);
    const only = (JSON.parse(r.stdout) as { packages: Row[] }).packages;
    assert.deepEqual(only, rows.filter((x) => x.layer === 1));
    assert.ok(only.some((x) => x.name === 'python3-six'));
  });

  it('the plain Debian + Python image has no secret finding', async () => {
    const r = await E.cli(['secrets', DEBIAN_IMAGE, '--json']);
    assert.equal(r.code, 0, r.stdout + r.stderr);
    assert.equal((JSON.parse(r.stdout) as { found: number }).found, 0);
  });
});
