// Benchmark helper: what an analysis keeps in memory. Reads a `docker save` file (no cache),
// analyzes it, forces a GC and prints the heap the analysis retains and the merged path count.
//
//   node --expose-gc out/bench/heap.js FILE     prints {"paths":N,"entries":N,"retainedBytes":N,"bytesPerPath":N}
import { analyze } from '../src/core/image/analysis';
import { loadImage } from '../src/sources/load';

function heap(): number {
  (globalThis as { gc?: () => void }).gc?.();
  return process.memoryUsage().heapUsed;
}

if (require.main === module) {
  void (async () => {
    const before = heap();
    const image = await loadImage({ kind: 'docker-archive', path: process.argv[2] });
    const a = analyze(image);
    const after = heap();
    let paths = 0;
    for (const _ of a.tree.walk()) paths++;
    const entries = image.layers.reduce((n, l) => n + l.entries.length, 0);
    const retainedBytes = after - before;
    process.stdout.write(JSON.stringify({ paths, entries, retainedBytes, bytesPerPath: Math.round(retainedBytes / paths), keep: a.layerSizes.length }) + '\n');
  })();
}
