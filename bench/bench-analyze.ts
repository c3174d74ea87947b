// Benchmark: `layerlens analyze IMG --json > /dev/null` against `docker save IMG > /dev/null` on
// the same image in the same run; prints both times, the ratio and the CLI's peak RSS.
//
//   node out/bench/bench-analyze.js [--image T] [--runs N] [--size-mb N] [--files N] [--json]
//
// Without --image it uses (and generates if missing, via bench/gen-image) the image
// layerlens-bench/generated:latest (default 320 MB, 12000 files). Needs DOCKER_HOST
// (eval "$(scripts/engine.sh start)") and a built CLI (node scripts/build.mjs -> dist/cli.js).
// Runs alternate save/analyze; the medians are reported. Peak RSS comes from a preloaded hook
// that writes process.resourceUsage().maxRSS of the CLI process when it exits.
import { spawn } from 'node:child_process';
import { existsSync, openSync, closeSync, readFileSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import * as os from 'node:os';
import * as path from 'node:path';
import { DEFAULT_TAG, DOCKER, ensureEngine, generateImage } from './gen-image';
import { repoRoot } from '../test/support/repo';

interface Options {
  image?: string;
  runs: number;
  sizeMb?: number;
  files?: number;
  json: boolean;
}


/** Run with stdout to /dev/null; returns wall seconds. Throws on non-zero exit. */
function timed(cmd: string, args: string[], env?: NodeJS.ProcessEnv): Promise<number> {
  return new Promise((resolve, reject) => {
    const devnull = openSync('/dev/null', 'w');
    const t0 = process.hrtime.bigint();
    const c = spawn(cmd, args, { stdio: ['ignore', devnull, 'pipe'], env: { ...process.env, ...env } });
    const err: Buffer[] = [];
    c.stderr!.on('data', (b: Buffer) => err.push(b));
    c.on('error', (e) => { closeSync(devnull); reject(e); });
    c.on('close', (code) => {
      const secs = Number(process.hrtime.bigint() - t0) / 1e9;
      closeSync(devnull);
      if (code !== 0) reject(new Error(`${path.basename(cmd)} ${args.join(' ')} exited ${code}: ${Buffer.concat(err).toString().trim().slice(0, 500)}`));
      else resolve(secs);
    });
  });
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = Math.floor(s.length / 2);
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
}

async function inspect(image: string): Promise<{ id: string; size: number } | undefined> {
  return new Promise((resolve) => {
    const c = spawn(DOCKER, ['image', 'inspect', '--format', '{{.Id}} {{.Size}}', image], { stdio: ['ignore', 'pipe', 'ignore'] });
    const out: Buffer[] = [];
    c.stdout.on('data', (b: Buffer) => out.push(b));
    c.on('error', () => resolve(undefined));
    c.on('close', (code) => {
      if (code !== 0) return resolve(undefined);
      const [id, size] = Buffer.concat(out).toString().trim().split(' ');
      resolve({ id, size: Number(size) });
    });
  });
}

function parseArgs(argv: string[]): Options {
  const o: Options = { runs: 3, json: false };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    const val = (): string => {
      const v = argv[++i];
      if (v === undefined) throw new Error(`${a} needs a value`);
      return v;
    };
    if (a === '--image') o.image = val();
    else if (a === '--runs') o.runs = Math.max(1, Math.floor(Number(val())));
    else if (a === '--size-mb') o.sizeMb = Number(val());
    else if (a === '--files') o.files = Number(val());
    else if (a === '--json') o.json = true;
    else if (a === '-h' || a === '--help') {
      process.stdout.write('usage: node out/bench/bench-analyze.js [--image T] [--runs N (3)] [--size-mb N] [--files N] [--json]\n');
      process.exit(0);
    } else throw new Error(`unknown argument ${a}`);
  }
  return o;
}

async function main(): Promise<void> {
  const o = parseArgs(process.argv.slice(2));
  await ensureEngine();
  const root = repoRoot();
  const cliPath = path.join(root, 'dist', 'cli.js');
  if (!existsSync(cliPath)) throw new Error(`${cliPath} is missing: run node scripts/build.mjs`);

  const image = o.image ?? DEFAULT_TAG;
  let info = await inspect(image);
  if (!info) {
    if (o.image) throw new Error(`image ${image} not found in the engine`);
    await generateImage({ tag: image, sizeMb: o.sizeMb, files: o.files });
    info = await inspect(image);
    if (!info) throw new Error(`image ${image} still missing after generating it`);
  }

  const tmp = await mkdtemp(path.join(os.tmpdir(), 'layerlens-bench-'));
  try {
    const hook = path.join(tmp, 'rss-hook.js');
    await writeFile(hook, [
      "'use strict';",
      "const fs = require('fs');",
      "process.on('exit', () => {",
      '  const u = process.resourceUsage();',
      "  try { fs.writeFileSync(process.env.LAYERLENS_BENCH_RSS_OUT, JSON.stringify({ maxRSSKiB: u.maxRSS, userUs: u.userCPUTime, systemUs: u.systemCPUTime })); } catch {}",
      '});',
      '',
    ].join('\n'));

    const saveTimes: number[] = [];
    const cliTimes: number[] = [];
    const rss: number[] = [];
    const cpu: number[] = [];
    for (let r = 0; r < o.runs; r++) {
      saveTimes.push(await timed(DOCKER, ['save', image]));
      const rssOut = path.join(tmp, `rss-${r}.json`);
      cliTimes.push(await timed(process.execPath, ['--require', hook, cliPath, 'analyze', image, '--json'], { LAYERLENS_BENCH_RSS_OUT: rssOut }));
      const u = JSON.parse(readFileSync(rssOut, 'utf8')) as { maxRSSKiB: number; userUs: number; systemUs: number };
      rss.push(u.maxRSSKiB);
      cpu.push((u.userUs + u.systemUs) / 1e6);
      if (!o.json) {
        process.stderr.write(`run ${r + 1}/${o.runs}: docker save ${saveTimes[r].toFixed(2)} s, layerlens analyze ${cliTimes[r].toFixed(2)} s, peak RSS ${(rss[r] / 1024).toFixed(0)} MiB\n`);
      }
    }
    const save = median(saveTimes);
    const cli = median(cliTimes);
    const result = {
      image,
      imageId: info.id,
      imageBytes: info.size,
      runs: o.runs,
      dockerSaveSeconds: save,
      analyzeSeconds: cli,
      ratio: cli / save,
      analyzePeakRssMiB: Math.max(...rss) / 1024,
      analyzeCpuSeconds: median(cpu),
      dockerSaveMBps: info.size / 1e6 / save,
      host: { cpus: os.cpus().length, loadavg: os.loadavg().map((x) => Number(x.toFixed(2))) },
    };
    if (o.json) {
      process.stdout.write(JSON.stringify(result) + '\n');
    } else {
      process.stdout.write([
        `image            ${image} (${info.id.slice(0, 19)}), ${(info.size / 1e6).toFixed(1)} MB`,
        `docker save      ${save.toFixed(2)} s (median of ${o.runs}; ${result.dockerSaveMBps.toFixed(0)} MB/s, stdout to /dev/null)`,
        `layerlens analyze ${cli.toFixed(2)} s (median of ${o.runs}; --json to /dev/null; CPU ${result.analyzeCpuSeconds.toFixed(2)} s)`,
        `ratio            ${result.ratio.toFixed(2)} (analyze / save)`,
        `peak RSS         ${result.analyzePeakRssMiB.toFixed(0)} MiB (layerlens analyze)`,
        `host             ${result.host.cpus} CPUs, load ${result.host.loadavg.join(' ')}`,
        '',
      ].join('\n'));
    }
  } finally {
    await rm(tmp, { recursive: true, force: true });
  }
}

main().catch((e: Error) => {
  process.stderr.write(`bench-analyze: ${e.message}\n`);
  process.exit(1);
});
