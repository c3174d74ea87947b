// Where to hash a `docker save` file's layers so that checking them bounds a first read instead of
// adding to it. In one process, on one file (generated: random bodies, so no cache or compression
// helps; or --file), each way N times, fastest and median wall time:
//   walk            the analysis's header walk alone (scanArchive + indexArchiveLayers)
//   hash            every layer member's sha256 in this thread (1 MiB reads)
//   walk+hash       both in this thread (the digest check without a worker)
//   walk|worker     the walk, the layers hashed on a layer worker meanwhile (what loads do)
//   walk|subtle     the walk, each member read whole and hashed by crypto.subtle.digest (the
//                   thread pool) meanwhile
// Then the CLI as a process: `analyze` with and without --no-verify, without the cache and with an
// empty one, and a re-analysis with the cache the checked run filled (the check remembered:
// nothing hashed).
//
//   node out/bench/bench-verify.js [--mb 1000] [--layers 4] [--files 20000] [--runs 5] [--file F] [--dir D]
import { spawnSync } from 'node:child_process';
import { createHash, randomBytes, subtle } from 'node:crypto';
import { closeSync, existsSync, mkdirSync, openSync, readSync, rmSync, statSync, writeSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import * as path from 'node:path';
import { indexArchiveLayers, scanArchive } from '../src/core/image/tar/archiveSeek';
import { checkRanges } from '../src/sources/digests';
import { openFileAccess } from '../src/sources/fastRead';
import { repoRoot } from '../test/support/repo';

const arg = (name: string, dflt: string): string => { const i = process.argv.indexOf(`--${name}`); return i > 0 ? process.argv[i + 1] : dflt; };
const runs = Number(arg('runs', '5'));
const dir = arg('dir', path.join(tmpdir(), 'layerlens-bench-verify'));

/** A tar header block for a regular file (ustar, octal fields, checksum). */
function header(name: string, size: number): Buffer {
  const h = Buffer.alloc(512);
  h.write(name, 0, 100);
  h.write('0000644\0', 100);
  h.write('0000000\0', 108);
  h.write('0000000\0', 116);
  h.write(size.toString(8).padStart(11, '0') + '\0', 124);
  h.write('00000000000\0', 136);
  h.write('        ', 148);
  h[156] = 0x30;
  h.write('ustar\0' + '00', 257);
  let sum = 0;
  for (const b of h) sum += b;
  h.write(sum.toString(8).padStart(6, '0') + '\0 ', 148);
  return h;
}

const pad = (n: number): Buffer => Buffer.alloc((512 - (n % 512)) % 512);

/** A `docker save` of `layers` layers of `files` random files each, about `mb` MB in all. */
function generate(file: string, mb: number, layers: number, files: number): void {
  const rnd = randomBytes(8 << 20);
  const tars: Buffer[] = [];
  for (let l = 0; l < layers; l++) {
    const parts: Buffer[] = [];
    const per = Math.floor((mb * 1e6) / layers / files);
    for (let i = 0; i < files; i++) {
      const size = Math.floor(Math.random() * 2 * per);
      const at = Math.floor(Math.random() * (rnd.length - size));
      parts.push(header(`l${l}/d${i % 100}/f${i}`, size), rnd.subarray(at, at + size), pad(size));
    }
    parts.push(Buffer.alloc(1024));
    tars.push(Buffer.concat(parts));
  }
  const diffIds = tars.map((t) => 'sha256:' + createHash('sha256').update(t).digest('hex'));
  const config = Buffer.from(JSON.stringify({ architecture: 'amd64', os: 'linux', rootfs: { type: 'layers', diff_ids: diffIds }, history: diffIds.map((_, i) => ({ created_by: `RUN ${i}` })) }));
  const manifest = Buffer.from(JSON.stringify([{ Config: 'config.json', RepoTags: ['bench/verify:latest'], Layers: tars.map((_, i) => `l${i}/layer.tar`) }]));
  const fd = openSync(file, 'w');
  try {
    tars.forEach((t, i) => { writeSync(fd, header(`l${i}/layer.tar`, t.length)); writeSync(fd, t); writeSync(fd, pad(t.length)); });
    for (const [name, b] of [['config.json', config], ['manifest.json', manifest]] as const) { writeSync(fd, header(name, b.length)); writeSync(fd, b); writeSync(fd, pad(b.length)); }
    writeSync(fd, Buffer.alloc(1024));
  } finally {
    closeSync(fd);
  }
}

async function walk(file: string): Promise<void> {
  const f = openFileAccess(file);
  try {
    await indexArchiveLayers(f.access, scanArchive(f.access));
  } finally {
    f.close();
  }
}

function members(file: string): Array<{ offset: number; size: number }> {
  const f = openFileAccess(file);
  try {
    return scanArchive(f.access).layerMembers.map((m) => ({ offset: m.offset, size: m.size }));
  } finally {
    f.close();
  }
}

function hashHere(file: string, ms: Array<{ offset: number; size: number }>): void {
  const fd = openSync(file, 'r');
  const b = Buffer.allocUnsafe(1 << 20);
  try {
    for (const m of ms) {
      const h = createHash('sha256');
      for (let at = m.offset; at < m.offset + m.size;) {
        const n = readSync(fd, b, 0, Math.min(b.length, m.offset + m.size - at), at);
        h.update(b.subarray(0, n));
        at += n;
      }
      h.digest();
    }
  } finally {
    closeSync(fd);
  }
}

async function hashSubtle(file: string, ms: Array<{ offset: number; size: number }>): Promise<void> {
  const fd = openSync(file, 'r');
  try {
    await Promise.all(ms.map(async (m) => {
      const b = Buffer.allocUnsafe(m.size);
      readSync(fd, b, 0, m.size, m.offset);
      await subtle.digest('SHA-256', b);
    }));
  } finally {
    closeSync(fd);
  }
}

/** Checks through checkRanges with the diffIDs the archive names, on `workers` workers. */
function check(file: string, ms: Array<{ offset: number; size: number }>, diffIds: string[], workers: string): Promise<void> {
  process.env.LAYERLENS_HASH_WORKERS = workers;
  const c = checkRanges(ms.map((m, i) => ({ path: file, offset: m.offset, size: m.size, want: { label: `layer ${i}`, diffId: diffIds[i] } })));
  return Promise.all(c.done).then(() => undefined).finally(() => c.close());
}

async function time(fn: () => unknown): Promise<number> {
  const t0 = process.hrtime.bigint();
  await fn();
  return Number(process.hrtime.bigint() - t0) / 1e6;
}

const min = (xs: number[]): number => Math.min(...xs);
const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

async function main(): Promise<void> {
  mkdirSync(dir, { recursive: true });
  let file = arg('file', '');
  if (!file) {
    file = path.join(dir, 'save.tar');
    if (!existsSync(file)) generate(file, Number(arg('mb', '1000')), Number(arg('layers', '4')), Number(arg('files', '20000')));
  }
  const ms = members(file);
  const bytes = ms.reduce((a, m) => a + m.size, 0);
  const diffIds = ms.map((m) => { const h = createHash('sha256'); const fd = openSync(file, 'r'); const b = Buffer.allocUnsafe(m.size); readSync(fd, b, 0, m.size, m.offset); closeSync(fd); return 'sha256:' + h.update(b).digest('hex'); });
  process.stdout.write(`${file}: ${(statSync(file).size / 1e9).toFixed(2)} GB, ${ms.length} layers, ${(bytes / 1e9).toFixed(2)} GB of layer tars; load average ${loadavg().map((x) => x.toFixed(1)).join(' ')}\n`);
  const results: Record<string, number[]> = { walk: [], hash: [], 'walk+hash': [], 'walk|worker': [], 'walk|subtle': [] };
  for (let r = 0; r < runs; r++) {
    results.walk.push(await time(() => walk(file)));
    results.hash.push(await time(() => hashHere(file, ms)));
    results['walk+hash'].push(await time(async () => { const c = check(file, ms, diffIds, '0'); await walk(file); await c; }));
    results['walk|worker'].push(await time(async () => { const c = check(file, ms, diffIds, '1'); await walk(file); await c; }));
    results['walk|subtle'].push(await time(async () => { const h = hashSubtle(file, ms); await walk(file); await h; }));
  }
  for (const [k, xs] of Object.entries(results)) {
    process.stdout.write(`  ${k.padEnd(12)} fastest ${min(xs).toFixed(0).padStart(6)} ms, median ${median(xs).toFixed(0).padStart(6)} ms${k === 'hash' ? ` (${(bytes / 1e6 / (min(xs) / 1000)).toFixed(0)} MB/s)` : ''}\n`);
  }
  // The CLI, as a user runs it.
  const cli = path.join(repoRoot(), 'dist', 'cli.js');
  if (!existsSync(cli)) { process.stdout.write('  (dist/cli.js missing: npm run build for the CLI figures)\n'); return; }
  const cache = path.join(dir, 'cache');
  const proc = (args: string[]): number => {
    const t0 = process.hrtime.bigint();
    const r = spawnSync(process.execPath, [cli, 'analyze', file, '--json', ...args], { env: { ...process.env, LAYERLENS_CACHE_DIR: cache, LAYERLENS_HASH_WORKERS: '' }, stdio: ['ignore', 'ignore', 'pipe'] });
    if (r.status !== 0) throw new Error(`layerlens analyze ${args.join(' ')}: ${r.stderr.toString()}`);
    return Number(process.hrtime.bigint() - t0) / 1e6;
  };
  const rows: Array<[string, string[], boolean, number[]]> = [
    ['analyze --no-cache --no-verify', ['--no-cache', '--no-verify'], false, []],
    ['analyze --no-cache (checked)', ['--no-cache'], false, []],
    ['analyze --no-verify, cold cache', ['--no-verify'], true, []],
    ['analyze, cold cache (checked)', [], true, []],
    ['re-analysis (checked, remembered)', [], false, []],
  ];
  for (let r = 0; r < runs; r++) {
    for (const [, args, fresh, xs] of rows) {
      if (fresh) rmSync(cache, { recursive: true, force: true });
      xs.push(proc(args));
    }
  }
  rmSync(cache, { recursive: true, force: true });
  for (const [k, , , xs] of rows) {
    process.stdout.write(`  ${k.padEnd(38)} fastest ${min(xs).toFixed(0).padStart(6)} ms, median ${median(xs).toFixed(0).padStart(6)} ms\n`);
  }
}

void main();
