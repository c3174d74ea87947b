// Reads a docker-save archive whose layer holds N empty files (default a million) through the full
// pipeline and prints one JSON line: entries, milliseconds, peak RSS. Run by the unit tier
// (test/stress/hostile-scale.test.ts) in a child process with a heap cap and a timeout.
//   node out/test/fuzz/scale.js [N] [--same-name]
import { bigSave } from '../unit/support/bigtar';
import { runPipeline } from './pipeline';
import { layerTableOf } from '../../src/core/image/index/layerTable';

async function main(): Promise<void> {
  const count = Number(process.argv[2] ?? 1_000_000);
  const sameName = process.argv.includes('--same-name');
  let peak = process.memoryUsage().rss;
  const sample = setInterval(() => { peak = Math.max(peak, process.memoryUsage().rss); }, 25);
  const t0 = Date.now();
  const r = await runPipeline(bigSave(count, { sameName }));
  const ms = Date.now() - t0;
  clearInterval(sample);
  peak = Math.max(peak, process.memoryUsage().rss);
  const layer = r.analysis.image.layers[0];
  process.stdout.write(JSON.stringify({
    count, sameName, tarEntries: layer.tarEntries, entries: layerTableOf(layer).entryCount, livePaths: r.analysis.tree.root.count,
    ms, peakRssMB: Math.round(peak / 2 ** 20),
  }) + '\n');
}

main().catch((e: Error) => { process.stderr.write(`${e.name}: ${e.message}\n`); process.exit(1); });
