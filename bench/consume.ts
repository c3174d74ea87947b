// Baseline for the benchmark: the engine's export stream consumed by Layer Lens's engine client
// and thrown away (no parsing) — the transport floor under `layerlens analyze IMAGE`. Each chunk
// is handed back (releaseChunk) as the analysis reader hands it back, so the raw reader reuses its
// slabs here as it does there.
//
//   node out/bench/consume.js IMAGE     prints {"bytes":N,"headersMs":T,"ms":T}
import { releaseChunk, type LendingSource } from '../src/core/image/tar/decompress';
import { createEngineClient } from '../src/engine/docker';
import { resolveEndpointFromProcess } from '../src/engine/endpoint';

if (require.main === module) {
  void (async () => {
    const t0 = performance.now();
    const engine = createEngineClient(resolveEndpointFromProcess({}));
    const inspect = await engine.inspectImage(process.argv[2]);
    const stream = await engine.exportImage(inspect.id);
    const headersMs = performance.now() - t0;
    let bytes = 0;
    const release = (stream as LendingSource)[releaseChunk];
    await new Promise<void>((resolve, reject) => {
      stream.on('data', (b: Buffer) => { bytes += b.length; release?.(b); });
      stream.on('end', resolve);
      stream.on('error', reject);
    });
    process.stdout.write(JSON.stringify({ bytes, headersMs, ms: performance.now() - t0 }) + '\n');
  })();
}
