// The image index benchmark (`npm run bench` runs it with the other bench/bench-*.ts): a
// `docker save` file of a node_modules-like tree — 1M small files in 100k directories, then a second
// layer that rewrites every 10th file and whites out every 50th directory: 1.2M tar entries — and
// the CLI's `analyze --json` and `files --json` on it, each as a ratio against the floor measured in
// the same run: a process that visits every header (of the outer tar and of each layer tar) with
// positional reads in 64 KiB windows, skipping bodies and building nothing (bench/walk.ts).
// The runs alternate floor / analyze / files (cache off), then each command twice with the cache
// (cold: an empty cache directory; warm: what the cold run stored); medians are reported, with each
// CLI run's peak RSS, and the warm / cold ratio with the CLI's start-up taken off.
//
//   node out/bench/bench-index.js [--runs N] [--dirs N] [--files-per-dir N] [--dir DIR] [--json FILE]
//
// The archive is written once to --dir (default $TMPDIR/layerlens-bench) and reused. Needs a build
// (dist/cli.js, out/bench/walk.js): npm run bench builds first. No Docker Engine needed.
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { closeSync, existsSync, mkdirSync, openSync, readFileSync, readSync, renameSync, rmSync, statSync, writeFileSync, writeSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { repoRoot } from '../test/support/repo';

interface Options { runs: number; dirs: number; perDir: number; dir: string; json?: string }

/** Where the archives of the benches live unless --dir says otherwise. */
export const DEFAULT_BENCH_DIR = path.join(os.tmpdir(), 'layerlens-bench');

/** What the archive's generator needs: its shape and the folder it is kept in. */
export type ArchiveShape = Pick<Options, 'dirs' | 'perDir' | 'dir'>;

function parseArgs(argv: string[]): Options {
  const o: Options = { runs: 3, dirs: 100_000, perDir: 10, dir: DEFAULT_BENCH_DIR };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    const val = (): string => { const v = argv[++i]; if (v === undefined) throw new Error(`${a} needs a value`); return v; };
    if (a === '--runs') o.runs = Math.max(1, Number(val()));
    else if (a === '--dirs') o.dirs = Math.max(1, Number(val()));
    else if (a === '--files-per-dir') o.perDir = Math.max(1, Number(val()));
    else if (a === '--dir') o.dir = path.resolve(val());
    else if (a === '--json') o.json = val();
    else throw new Error(`unknown argument ${a}`);
  }
  return o;
}

// ---------------------------------------------------------------------------------------------
// The archive

function octal(n: number, width: number): string {
  return n.toString(8).padStart(width - 1, '0') + '\0';
}

/** A ustar header (name ≤ 100 bytes, or split into prefix/name at a '/'). */
function header(name: string, type: '0' | '5', size: number, mode: number): Buffer {
  const b = Buffer.alloc(512, 0);
  let prefix = '';
  let base = name;
  if (Buffer.byteLength(name) > 100) {
    const cut = name.lastIndexOf('/');
    prefix = name.slice(0, cut);
    base = name.slice(cut + 1);
  }
  b.write(base, 0, 'utf8');
  b.write(octal(mode, 8), 100, 'latin1');
  b.write(octal(0, 8), 108, 'latin1');
  b.write(octal(0, 8), 116, 'latin1');
  b.write(octal(size, 12), 124, 'latin1');
  b.write(octal(1_700_000_000, 12), 136, 'latin1');
  b.write(type, 156, 'latin1');
  b.write('ustar\0' + '00', 257, 'latin1');
  b.write(prefix, 345, 'utf8');
  b.fill(0x20, 148, 156);
  let sum = 0;
  for (let i = 0; i < 512; i++) sum += b[i];
  b.write(octal(sum, 7) + ' ', 148, 'latin1');
  return b;
}

/** Writes a tar made of `parts()` to fd at its current end; returns its size and sha256. */
class TarOut {
  private readonly hash = createHash('sha256');
  private buf: Buffer[] = [];
  private pending = 0;
  size = 0;
  constructor(private readonly fd: number) {}
  push(b: Buffer): void {
    this.buf.push(b);
    this.hash.update(b);
    this.size += b.length;
    this.pending += b.length;
    if (this.pending >= 4 << 20) this.flush();
  }
  flush(): void {
    if (this.pending === 0) return;
    writeSync(this.fd, Buffer.concat(this.buf));
    this.buf = [];
    this.pending = 0;
  }
  digest(): string {
    return 'sha256:' + this.hash.digest('hex');
  }
}

const pad = (n: number): Buffer => Buffer.alloc((512 - (n % 512)) % 512);

/** Layer 0: dirs × perDir small files; layer 1: every 10th file rewritten, every 50th directory whited out. */
function writeLayer(file: string, layer: 0 | 1, o: ArchiveShape): { size: number; diffId: string; entries: number } {
  const fd = openSync(file, 'w');
  const out = new TarOut(fd);
  const body = Buffer.alloc(512, 0x61);
  let entries = 0;
  const dirName = (d: number): string => `app/node_modules/pkg-${d}/`;
  if (layer === 0) {
    out.push(header('app/', '5', 0, 0o755));
    out.push(header('app/node_modules/', '5', 0, 0o755));
    entries += 2;
  }
  for (let d = 0; d < o.dirs; d++) {
    const dir = dirName(d);
    if (layer === 1 && d % 50 === 0) {
      out.push(header(`app/node_modules/.wh.pkg-${d}`, '0', 0, 0o644));
      entries++;
      continue;
    }
    if (layer === 0) { out.push(header(dir, '5', 0, 0o755)); entries++; }
    for (let f = 0; f < o.perDir; f++) {
      const i = d * o.perDir + f;
      if (layer === 1 && i % 10 !== 0) continue;
      const size = ((i * 7919) % 400) + (layer === 1 ? 7 : 1);
      out.push(header(`${dir}${f === 0 ? 'package.json' : `lib/file-${f}.js`}`, '0', size, 0o644));
      out.push(body.subarray(0, size));
      out.push(pad(size));
      entries++;
    }
  }
  out.push(Buffer.alloc(1024));
  out.flush();
  closeSync(fd);
  return { size: out.size, diffId: out.digest(), entries };
}

/**
 * The `docker save` file (written once, reused while its parameters are the same):
 * `<dir>/index-<dirs>x<perDir>.tar`, all its directories under app/node_modules.
 */
export function ensureArchive(o: ArchiveShape): { file: string; entries: number } {
  mkdirSync(o.dir, { recursive: true });
  const file = path.join(o.dir, `index-${o.dirs}x${o.perDir}.tar`);
  const meta = file + '.json';
  if (existsSync(file) && existsSync(meta)) return { file, entries: (JSON.parse(readFileSync(meta, 'utf8')) as { entries: number }).entries };
  const t0 = Date.now();
  const layers = [0, 1].map((l) => {
    const f = path.join(o.dir, `index-layer${l}.tar`);
    return { f, ...writeLayer(f, l as 0 | 1, o) };
  });
  const config = Buffer.from(JSON.stringify({
    architecture: 'amd64', os: 'linux',
    rootfs: { type: 'layers', diff_ids: layers.map((l) => l.diffId) },
    history: [{ created_by: 'COPY node_modules /app/node_modules # buildkit' }, { created_by: 'RUN npm rebuild && npm prune # buildkit' }],
  }));
  const configName = createHash('sha256').update(config).digest('hex') + '.json';
  const tmp = file + '.tmp';
  const fd = openSync(tmp, 'w');
  const member = (name: string, data: Buffer): void => {
    writeSync(fd, header(name, '0', data.length, 0o644));
    writeSync(fd, data);
    writeSync(fd, pad(data.length));
  };
  for (const [i, l] of layers.entries()) {
    writeSync(fd, header(`l${i}/`, '5', 0, 0o755));
    writeSync(fd, header(`l${i}/layer.tar`, '0', l.size, 0o644));
    const src = openSync(l.f, 'r');
    const chunk = Buffer.alloc(8 << 20);
    for (let at = 0; at < l.size;) {
      const n = readSync(src, chunk, 0, chunk.length, at);
      writeSync(fd, chunk.subarray(0, n));
      at += n;
    }
    closeSync(src);
    writeSync(fd, pad(l.size));
    rmSync(l.f);
  }
  member(configName, config);
  member('manifest.json', Buffer.from(JSON.stringify([{ Config: configName, RepoTags: ['layerlens-bench/node-modules:1'], Layers: layers.map((_, i) => `l${i}/layer.tar`) }])));
  writeSync(fd, Buffer.alloc(1024));
  closeSync(fd);
  renameSync(tmp, file);
  const entries = layers.reduce((a, l) => a + l.entries, 0);
  writeFileSync(meta, JSON.stringify({ entries }));
  process.stderr.write(`wrote ${file}: ${entries} layer entries, ${(statSync(file).size / 1e9).toFixed(2)} GB in ${((Date.now() - t0) / 1000).toFixed(1)} s\n`);
  return { file, entries };
}

// ---------------------------------------------------------------------------------------------
// Runs

export interface Run { seconds: number; rssMiB: number }

/** A `--require` hook in `dir` that writes the process's peak RSS to $LAYERLENS_BENCH_RSS_OUT at exit. */
export function rssHook(dir: string, name: string): string {
  const hook = path.join(dir, name);
  writeFileSync(hook, "process.on('exit', () => { try { require('fs').writeFileSync(process.env.LAYERLENS_BENCH_RSS_OUT, JSON.stringify({ maxRSSKiB: process.resourceUsage().maxRSS })); } catch {} });\n");
  return hook;
}

/** One Node process (`args`) with the RSS hook: wall seconds and peak RSS. */
export function run(args: string[], hook: string, rssFile: string, env: NodeJS.ProcessEnv = {}): Promise<Run> {
  return new Promise((resolve, reject) => {
    const t0 = process.hrtime.bigint();
    const devnull = openSync('/dev/null', 'w');
    const c = spawn(process.execPath, ['--require', hook, ...args], { stdio: ['ignore', devnull, 'pipe'], env: { ...process.env, ...env, LAYERLENS_BENCH_RSS_OUT: rssFile } });
    closeSync(devnull);
    let err = '';
    c.stderr!.on('data', (b: Buffer) => { err += b.toString(); });
    c.on('error', reject);
    c.on('close', (code) => {
      const seconds = Number(process.hrtime.bigint() - t0) / 1e9;
      if (code !== 0) return reject(new Error(`${args.join(' ')} exited ${code}: ${err.trim().slice(-500)}`));
      const h = JSON.parse(readFileSync(rssFile, 'utf8')) as { maxRSSKiB: number };
      resolve({ seconds, rssMiB: h.maxRSSKiB / 1024 });
    });
  });
}

const median = (xs: number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};

async function main(): Promise<void> {
  const o = parseArgs(process.argv.slice(2));
  const root = repoRoot();
  const cli = path.join(root, 'dist', 'cli.js');
  const walk = path.join(root, 'out', 'bench', 'walk.js');
  for (const f of [cli, walk]) if (!existsSync(f)) throw new Error(`${f} is missing: run node scripts/build.mjs`);
  const { file, entries } = ensureArchive(o);
  const hook = rssHook(o.dir, 'index-rss-hook.js');
  const rssFile = path.join(o.dir, 'index-rss.json');
  const noCache = { LAYERLENS_CACHE: 'off' };
  // With the cache as users have it: a cold run fills an empty cache directory, the warm run after
  // it reads what the cold one stored. `startup`: the CLI's own start (--help), taken off both
  // before the warm / cold ratio is formed.
  const cacheDir = path.join(o.dir, 'cache');
  const withCache = { LAYERLENS_CACHE_DIR: cacheDir };
  const rows: Record<string, Run[]> = {
    floor: [], analyze: [], files: [], startup: [], 'analyze (cold cache)': [], 'analyze (warm cache)': [], 'files (cold cache)': [], 'files (warm cache)': [],
  };
  for (let i = 0; i < o.runs; i++) {
    rows.floor.push(await run([walk, '--window', '65536', file], hook, rssFile));
    rows.analyze.push(await run([cli, 'analyze', '--json', file], hook, rssFile, noCache));
    rows.files.push(await run([cli, 'files', '--json', file], hook, rssFile, noCache));
    rows.startup.push(await run([cli, '--help'], hook, rssFile, noCache));
    for (const cmd of ['analyze', 'files']) {
      rmSync(cacheDir, { recursive: true, force: true });
      rows[`${cmd} (cold cache)`].push(await run([cli, cmd, '--json', file], hook, rssFile, withCache));
      rows[`${cmd} (warm cache)`].push(await run([cli, cmd, '--json', file], hook, rssFile, withCache));
    }
  }
  rmSync(cacheDir, { recursive: true, force: true });
  const floor = median(rows.floor.map((r) => r.seconds));
  const med = (k: string): number => median(rows[k].map((r) => r.seconds));
  const startup = med('startup');
  const report = {
    date: new Date().toISOString().slice(0, 10),
    machine: `${os.cpus().length} cores, ${(os.totalmem() / 2 ** 30).toFixed(0)} GiB, Node ${process.version}, ${os.platform()}`,
    archive: { file, layerEntries: entries, bytes: statSync(file).size },
    runs: o.runs,
    floorSeconds: floor,
    rows: Object.fromEntries(Object.entries(rows).map(([k, rs]) => [k, {
      seconds: median(rs.map((r) => r.seconds)), ratioToFloor: median(rs.map((r) => r.seconds)) / floor,
      peakRssMiB: Math.max(...rs.map((r) => r.rssMiB)), allSeconds: rs.map((r) => +r.seconds.toFixed(3)),
    }])),
    warmToCold: {
      analyze: (med('analyze (warm cache)') - startup) / (med('analyze (cold cache)') - startup),
      files: (med('files (warm cache)') - startup) / (med('files (cold cache)') - startup),
    },
  };
  process.stdout.write(`image index: ${entries} layer entries (${(report.archive.bytes / 1e9).toFixed(2)} GB), ${o.runs} runs, medians; ${report.date}, ${report.machine}\n`);
  for (const [k, r] of Object.entries(report.rows)) {
    process.stdout.write(`  ${k.padEnd(22)} ${r.seconds.toFixed(2).padStart(7)} s  ${r.ratioToFloor.toFixed(2).padStart(6)}× floor  peak RSS ${r.peakRssMiB.toFixed(0).padStart(5)} MiB\n`);
  }
  process.stdout.write(`  re-analysis from the cache, start-up taken off: analyze ${report.warmToCold.analyze.toFixed(3)}× cold, files ${report.warmToCold.files.toFixed(3)}× cold\n`);
  if (o.json) writeFileSync(o.json, JSON.stringify(report, null, 2) + '\n');
}

if (require.main === module) {
  main().catch((e: unknown) => {
    process.stderr.write(`bench-index: ${(e as Error).stack ?? e}\n`);
    process.exit(1);
  });
}
