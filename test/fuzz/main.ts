// `npm run fuzz`: many thousands of cases (default 6000 archive, 2000 file-version reader and 4000
// Dockerfile cases, the whole example archive among the seeds). Prints progress, then a summary and every crash or hang with
// what replays it; exits 1 if there was any. Options:
//   --archives N  --readers N  --dockerfiles N  --seed S  --budget-min M  --no-full-example  --json FILE
import { writeFileSync } from 'node:fs';
import { describeFailures, runFuzz } from './harness';

function flag(name: string): string | undefined {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? process.argv[i + 1] : undefined;
}

async function main(): Promise<number> {
  const archiveCases = Number(flag('archives') ?? 6000);
  const dockerfileCases = Number(flag('dockerfiles') ?? 4000);
  const readerCases = Number(flag('readers') ?? 2000);
  const seed = Number(flag('seed') ?? 0x5eed);
  const budget = flag('budget-min');
  const jsonOut = flag('json');
  let last = 0;
  const stats = await runFuzz({
    archiveCases, dockerfileCases, readerCases, seed, fullExample: !process.argv.includes('--no-full-example'),
    budgetMs: budget ? Number(budget) * 60_000 : undefined,
    onProgress: (done, total, s) => {
      if (Date.now() - last < 5000 && done !== total) return;
      last = Date.now();
      process.stdout.write(`fuzz: ${done}/${total} cases, ${s.crashes.length} crashes, ${s.hangs.length} hangs\n`);
    },
  });
  const typed = Object.entries(stats.typed).sort((a, b) => b[1] - a[1]).map(([k, v]) => `${k} ${v}`).join(', ');
  process.stdout.write([
    `fuzz: seed ${seed}; seeds ${stats.seeds.join(', ')}`,
    `fuzz: ${stats.cases} cases (${stats.archiveCases} archives, ${stats.readerCases} file-version reads, ${stats.dockerfileCases} Dockerfiles) in ${(stats.ms / 1000).toFixed(1)} s; slowest case ${stats.slowestMs} ms`,
    `fuzz: ${stats.ok} read fine, typed errors: ${typed || 'none'}`,
    `fuzz: crashes ${stats.crashes.length}, hangs ${stats.hangs.length}`,
  ].join('\n') + '\n');
  if (jsonOut) writeFileSync(jsonOut, JSON.stringify({ seed, ...stats }, null, 2));
  if (stats.crashes.length || stats.hangs.length) {
    process.stdout.write(describeFailures(stats) + '\n');
    return 1;
  }
  return 0;
}

main().then((c) => { process.exitCode = c; }, (e: Error) => { process.stderr.write(`fuzz: ${e.stack}\n`); process.exitCode = 2; });
