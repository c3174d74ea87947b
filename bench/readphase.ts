// Benchmark helper: the layer-reading phase of a `docker save` file alone (loadImage, no merge),
// with an empty layer cache and then with the cache that first read filled, in one process.
//
//   node out/bench/readphase.js FILE CACHEDIR     prints {"coldMs":T,"warmMs":T,"hits":N}
import { rmSync } from 'node:fs';
import { LayerIndexCache } from '../src/sources/indexCache';
import { loadImage } from '../src/sources/load';

if (require.main === module) {
  void (async () => {
    const [file, dir] = process.argv.slice(2);
    rmSync(dir, { recursive: true, force: true });
    // Warm up the code (JIT) on a first read without a cache, so both timed reads run the same code.
    await loadImage({ kind: 'docker-archive', path: file });
    const cache = new LayerIndexCache(dir);
    let t0 = performance.now();
    await loadImage({ kind: 'docker-archive', path: file }, { cache });
    const coldMs = performance.now() - t0;
    t0 = performance.now();
    await loadImage({ kind: 'docker-archive', path: file }, { cache });
    const warmMs = performance.now() - t0;
    rmSync(dir, { recursive: true, force: true });
    process.stdout.write(JSON.stringify({ coldMs, warmMs, hits: cache.stats.hits }) + '\n');
  })();
}
