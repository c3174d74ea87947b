// A cold analysis of an image in a registry against the floor of reading it: `skopeo copy
// docker://… dir:…` of the same image (every blob downloaded and digest-checked, written to disk,
// nothing decompressed). Target: layerlens ≤ 1.2 × skopeo.
//
//   node out/bench/bench-registry.js [--file SAVE.tar] [--mb 1600] [--files 40000] [--runs 3] [--dir D]
//
// Without --file, a `docker save` file of about --mb MB in 8 layers is generated (40 % random
// bytes, 60 % text-like: gzip shrinks it as it does real images), pushed with skopeo to Debian's
// docker-registry on loopback (skopeo gzips the layers). Each run: skopeo copy into an empty
// directory, then `layerlens analyze --json` with an empty cache directory (LAYERLENS_CACHE_DIR),
// alternately; medians and the ratio. Then `layerlens lines` against the same image (manifest and
// config only) and a warm analysis (every layer in the cache).
//
//   node out/bench/bench-registry.js --estargz [--mb 400] [--files 8000] [--runs 3] [--dir D]
//
// With --estargz: an image of 4 eStargz layers (test/support/tocLayer.ts; the same mix of random
// and text-like bytes, files of random sizes) as an OCI layout, pushed with `skopeo copy
// --preserve-digests` (its annotations kept); each run, alternately, a cold `layerlens analyze
// --json` that reads each layer's table of contents with Range requests, and one with --full-read
// (every blob downloaded, hashed and walked); medians and the ratio.
import { spawn, spawnSync } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { closeSync, existsSync, mkdirSync, openSync, rmSync, statSync, writeFileSync, writeSync } from 'node:fs';
import { cpus, loadavg, tmpdir } from 'node:os';
import * as path from 'node:path';
import { push, startRegistries } from '../test/support/registry';
import { startRegistryProxy } from '../test/support/registryProxy';
import { writeEstargz, writeTocImage, type TocLayer, type TocTestEntry } from '../test/support/tocLayer';
import { repoRoot } from '../test/support/repo';

const arg = (name: string, dflt: string): string => { const i = process.argv.indexOf(`--${name}`); return i > 0 ? process.argv[i + 1] : dflt; };
const runs = Number(arg('runs', '3'));
const dir = arg('dir', path.join(tmpdir(), 'layerlens-bench-registry'));

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

/** Text-like bytes: words drawn at random from a small vocabulary (gzip: about 3:1). */
function textPool(bytes: number): Buffer {
  const words = 'the layer image file build cache registry manifest config blob digest node module index tar gzip size bytes const function return export import async await true false null'.split(' ');
  const parts: string[] = [];
  let n = 0;
  while (n < bytes) {
    const w = words[Math.floor(Math.random() * words.length)] + (Math.random() < 0.1 ? '\n' : ' ');
    parts.push(w);
    n += w.length;
  }
  return Buffer.from(parts.join('')).subarray(0, bytes);
}

/** A `docker save` of 8 layers, about `mb` MB of `files` files. */
function generate(file: string, mb: number, files: number): void {
  const layers = 8;
  const rnd = randomBytes(16 << 20);
  const txt = textPool(16 << 20);
  const per = Math.floor((mb * 1e6) / files);
  const fd = openSync(file, 'w');
  const diffIds: string[] = [];
  try {
    for (let l = 0; l < layers; l++) {
      const parts: Buffer[] = [];
      for (let i = 0; i < files / layers; i++) {
        const size = Math.floor(Math.random() * 2 * per);
        const pool = i % 5 < 2 ? rnd : txt;
        const at = Math.floor(Math.random() * (pool.length - size));
        parts.push(header(`l${l}/d${i % 100}/f${i}`, size), pool.subarray(at, at + size), pad(size));
      }
      parts.push(Buffer.alloc(1024));
      const tar = Buffer.concat(parts);
      diffIds.push('sha256:' + createHash('sha256').update(tar).digest('hex'));
      writeSync(fd, header(`l${l}/layer.tar`, tar.length));
      writeSync(fd, tar);
      writeSync(fd, pad(tar.length));
    }
    const config = Buffer.from(JSON.stringify({ architecture: 'amd64', os: 'linux', rootfs: { type: 'layers', diff_ids: diffIds }, history: diffIds.map((_, i) => ({ created_by: `RUN ${i}` })) }));
    const manifest = Buffer.from(JSON.stringify([{ Config: 'config.json', RepoTags: ['bench/registry:latest'], Layers: diffIds.map((_, i) => `l${i}/layer.tar`) }]));
    for (const [name, b] of [['config.json', config], ['manifest.json', manifest]] as const) { writeSync(fd, header(name, b.length)); writeSync(fd, b); writeSync(fd, pad(b.length)); }
    writeSync(fd, Buffer.alloc(1024));
  } finally {
    closeSync(fd);
  }
}

function timed(cmd: string, args: string[], env: NodeJS.ProcessEnv = process.env): number {
  const t0 = process.hrtime.bigint();
  const r = spawnSync(cmd, args, { env, stdio: ['ignore', 'ignore', 'pipe'], maxBuffer: 64 << 20 });
  const s = Number(process.hrtime.bigint() - t0) / 1e9;
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(' ')} exited ${r.status}: ${String(r.stderr).trim()}`);
  return s;
}

const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

/** 4 eStargz layers, about `mb` MB of `files` files in all, as an OCI layout at `layout`. */
function generateEstargz(layout: string, mb: number, files: number): { blobBytes: number; files: number } {
  const rnd = randomBytes(16 << 20);
  const txt = textPool(16 << 20);
  const per = Math.floor((mb * 1e6) / files);
  const layers: TocLayer[] = [];
  let blobBytes = 0;
  for (let l = 0; l < 4; l++) {
    const entries: TocTestEntry[] = [];
    for (let d = 0; d < 100; d++) entries.push({ name: `l${l}/d${d}/`, type: 'dir' });
    for (let i = 0; i < files / 4; i++) {
      const size = Math.floor(Math.random() * 2 * per);
      const pool = i % 5 < 2 ? rnd : txt;
      const at = Math.floor(Math.random() * (pool.length - size));
      entries.push({ name: `l${l}/d${i % 100}/f${i}`, type: 'reg', content: pool.subarray(at, at + size) });
    }
    const layer = writeEstargz(entries);
    blobBytes += layer.blob.length;
    layers.push({ ...layer, tar: Buffer.alloc(0) });
  }
  rmSync(layout, { recursive: true, force: true });
  writeTocImage(layout, layers, 'bench');
  return { blobBytes, files };
}

async function estargzBench(): Promise<void> {
  const mb = Number(arg('mb', '400'));
  const files = Number(arg('files', '8000'));
  const layout = path.join(dir, 'estargz-layout');
  process.stderr.write(`generating ${layout} (${mb} MB, ${files} files, eStargz)…\n`);
  const g = generateEstargz(layout, mb, files);
  const regs = await startRegistries(path.join(dir, 'registry'));
  try {
    const host = regs.open.host;
    const t0 = Date.now();
    timed('/usr/bin/skopeo', ['copy', '-q', '--preserve-digests', '--dest-tls-verify=false', `oci:${layout}:bench`, `docker://${host}/bench/estargz:1`]);
    const pushS = (Date.now() - t0) / 1000;
    const src = `registry://${host}/bench/estargz:1`;
    const cli = path.join(repoRoot(), 'dist', 'cli.js');
    const cache = path.join(dir, 'cache');
    const env = { ...process.env, LAYERLENS_CACHE_DIR: cache, LAYERLENS_CACHE: '' };
    const toc: number[] = [];
    const full: number[] = [];
    for (let i = 0; i < runs; i++) {
      rmSync(cache, { recursive: true, force: true });
      toc.push(timed(process.execPath, [cli, 'analyze', '--json', src], env));
      rmSync(cache, { recursive: true, force: true });
      full.push(timed(process.execPath, [cli, 'analyze', '--json', '--full-read', src], env));
    }
    process.stdout.write(`analyze via TOC  ${toc.map((x) => x.toFixed(2)).join(' ')} s (median ${median(toc).toFixed(2)})\n--full-read      ${full.map((x) => x.toFixed(2)).join(' ')} s (median ${median(full).toFixed(2)})\n`);
    // One more TOC read through a logging proxy (not timed): the blob bytes it asked for.
    const proxy = await startRegistryProxy(host);
    let asked = 0;
    let blobRequests = 0;
    try {
      rmSync(cache, { recursive: true, force: true });
      // Spawned asynchronously: the proxy runs in this process's event loop.
      const code = await new Promise<number | null>((resolve, reject) => {
        const c = spawn(process.execPath, [cli, 'analyze', '--json', `registry://${proxy.host}/bench/estargz:1`], { env, stdio: 'ignore' });
        c.on('error', reject);
        c.on('close', resolve);
      });
      if (code !== 0) throw new Error(`analyze through the proxy exited ${code}`);
      for (const r of proxy.log) {
        if (!/\/blobs\//.test(r.path)) continue;
        const m = /^bytes=(\d+)-(\d+)$/.exec(r.range ?? '');
        if (!m) continue; // the config
        blobRequests++;
        asked += Number(m[2]) - Number(m[1]) + 1;
      }
    } finally {
      await proxy.close();
    }
    const rows = [
      `date             ${new Date().toISOString().slice(0, 10)}, ${cpus().length} cores (${cpus()[0]?.model ?? '?'}), load ${loadavg().map((x) => x.toFixed(2)).join(' ')}, node ${process.version}`,
      `TOC read asks    ${blobRequests} Range requests, ${(asked / 1e6).toFixed(2)} MB of ${(g.blobBytes / 1e6).toFixed(0)} MB of blobs (${((asked / g.blobBytes) * 100).toFixed(2)} %)`,
      `image            4 eStargz layers, ${g.files} files, ${(g.blobBytes / 1e6).toFixed(0)} MB of blobs (push ${pushS.toFixed(1)} s)`,
      `ratio            full read / TOC = ${(median(full) / median(toc)).toFixed(1)} ×`,
    ];
    process.stdout.write(rows.join('\n') + '\n');
  } finally {
    await regs.stop();
  }
}

async function main(): Promise<void> {
  mkdirSync(dir, { recursive: true });
  if (process.argv.includes('--estargz')) { await estargzBench(); return; }
  let file = arg('file', '');
  if (!file) {
    file = path.join(dir, 'image.tar');
    const mb = Number(arg('mb', '1600'));
    if (!existsSync(file) || Math.abs(statSync(file).size / 1e6 - mb) > mb * 0.1) {
      process.stderr.write(`generating ${file} (${mb} MB)…\n`);
      generate(file, mb, Number(arg('files', '40000')));
    }
  }
  const regs = await startRegistries(path.join(dir, 'registry'));
  try {
    const host = regs.open.host;
    const t0 = Date.now();
    await push(file, host, 'bench/registry:1');
    const pushS = (Date.now() - t0) / 1000;
    const ref = `${host}/bench/registry:1`;
    const cli = path.join(repoRoot(), 'dist', 'cli.js');
    const out = path.join(dir, 'skopeo-dir');
    const cache = path.join(dir, 'cache');
    const env = { ...process.env, LAYERLENS_CACHE_DIR: cache, LAYERLENS_CACHE: '' };
    const sk: number[] = [];
    const ll: number[] = [];
    for (let i = 0; i < runs; i++) {
      rmSync(out, { recursive: true, force: true });
      sk.push(timed('/usr/bin/skopeo', ['copy', '-q', '--src-tls-verify=false', `docker://${ref}`, `dir:${out}`]));
      rmSync(cache, { recursive: true, force: true });
      ll.push(timed(process.execPath, [cli, 'analyze', '--json', `registry://${ref}`], env));
    }
    const blobBytes = spawnSync('du', ['-sb', out]).stdout.toString().split('\t')[0];
    rmSync(out, { recursive: true, force: true });
    const warm = timed(process.execPath, [cli, 'analyze', '--json', `registry://${ref}`], env);
    const dockerfile = path.join(dir, 'Dockerfile');
    writeFileSync(dockerfile, 'FROM scratch\n' + Array.from({ length: 8 }, (_, i) => `RUN ${i}\n`).join(''));
    const lines = timed(process.execPath, [cli, 'lines', dockerfile, '--image', `registry://${ref}`], { ...env, LAYERLENS_CACHE: 'off' });
    const rows = [
      `date             ${new Date().toISOString().slice(0, 10)}, ${cpus().length} cores (${cpus()[0]?.model ?? '?'}), load ${loadavg().map((x) => x.toFixed(2)).join(' ')}, node ${process.version}`,
      `image            ${file}: ${(statSync(file).size / 1e6).toFixed(0)} MB as docker save, ${(Number(blobBytes) / 1e6).toFixed(0)} MB of blobs in the registry (push ${pushS.toFixed(1)} s)`,
      `skopeo copy      ${sk.map((x) => x.toFixed(2)).join(' ')} s (median ${median(sk).toFixed(2)})`,
      `layerlens cold   ${ll.map((x) => x.toFixed(2)).join(' ')} s (median ${median(ll).toFixed(2)})`,
      `ratio            ${(median(ll) / median(sk)).toFixed(2)} × skopeo (target ≤ 1.2)`,
      `layerlens warm   ${warm.toFixed(2)} s (every layer from the cache: manifest and config only)`,
      `layerlens lines  ${lines.toFixed(2)} s (manifest and config, no cache)`,
    ];
    process.stdout.write(rows.join('\n') + '\n');
  } finally {
    await regs.stop();
  }
}

main().catch((e) => { process.stderr.write(`bench-registry: ${(e as Error).message}\n`); process.exit(1); });
