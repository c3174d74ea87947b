// Baseline for the benchmark: decompress layer blobs and throw the bytes away — with the same
// decompressors Layer Lens reads with and the least machinery around them: 1 MiB positional
// reads; zstd through fzstd's decoder called directly (synchronous), gzip through zlib's gunzip
// (threadpool) with 128 KiB output chunks, written with backpressure. One blob after the other, or
// with --jobs N on N threads at once.
//
//   node out/bench/decompress.js [--jobs N] BLOB...   prints {"blobs":N,"jobs":N,"bytesIn":N,"bytesOut":N,"ms":T}
import { closeSync, fstatSync, openSync, readSync, statSync } from 'node:fs';
import { isMainThread, parentPort, Worker, workerData } from 'node:worker_threads';
import { createGunzip } from 'node:zlib';
import { Decompress } from 'fzstd';

async function one(file: string): Promise<{ inBytes: number; outBytes: number }> {
  const fd = openSync(file, 'r');
  let inBytes = 0;
  let outBytes = 0;
  try {
    const size = fstatSync(fd).size;
    const head = Buffer.alloc(4);
    readSync(fd, head, 0, 4, 0);
    const gzip = head[0] === 0x1f && head[1] === 0x8b;
    const gz = gzip ? createGunzip({ chunkSize: 128 * 1024 }) : null;
    const zs = gzip ? null : new Decompress((c: Uint8Array) => { outBytes += c.length; });
    const ended = gz ? new Promise<void>((resolve, reject) => { gz.on('data', (c: Buffer) => { outBytes += c.length; }); gz.on('end', resolve); gz.on('error', reject); }) : null;
    for (let at = 0; at < size;) {
      const b = Buffer.allocUnsafe(Math.min(1 << 20, size - at));
      const n = readSync(fd, b, 0, b.length, at);
      if (n <= 0) break;
      at += n;
      inBytes += n;
      if (gz) {
        if (!gz.write(n === b.length ? b : b.subarray(0, n))) await new Promise<void>((r) => gz.once('drain', () => r()));
      } else {
        zs!.push(n === b.length ? b : b.subarray(0, n));
      }
    }
    if (gz) { gz.end(); await ended; } else zs!.push(new Uint8Array(0), true);
  } finally {
    closeSync(fd);
  }
  return { inBytes, outBytes };
}

async function sequence(files: string[]): Promise<{ bytesIn: number; bytesOut: number }> {
  let bytesIn = 0;
  let bytesOut = 0;
  for (const f of files) {
    const r = await one(f);
    bytesIn += r.inBytes;
    bytesOut += r.outBytes;
  }
  return { bytesIn, bytesOut };
}

if (!isMainThread) {
  void sequence(workerData as string[]).then((r) => parentPort!.postMessage(r));
} else if (require.main === module) {
  // `--jobs N`: N worker threads, each decompressing its share of the blobs (biggest first, each to
  // the least loaded thread) one after the other — the parallel baseline.
  void (async () => {
    const args = process.argv.slice(2);
    const j = args.indexOf('--jobs');
    const jobs = j >= 0 ? Math.max(1, Number(args.splice(j, 2)[1])) : 1;
    const t0 = process.hrtime.bigint();
    let r: { bytesIn: number; bytesOut: number };
    if (jobs === 1) {
      r = await sequence(args);
    } else {
      const shares: Array<{ files: string[]; bytes: number }> = Array.from({ length: jobs }, () => ({ files: [], bytes: 0 }));
      for (const f of [...args].sort((a, b) => statSync(b).size - statSync(a).size)) {
        const least = shares.reduce((m, s) => (s.bytes < m.bytes ? s : m));
        least.files.push(f);
        least.bytes += statSync(f).size;
      }
      const parts = await Promise.all(shares.filter((s) => s.files.length).map((s) => new Promise<{ bytesIn: number; bytesOut: number }>((resolve, reject) => {
        const w = new Worker(__filename, { workerData: s.files });
        w.once('message', resolve);
        w.once('error', reject);
      })));
      r = parts.reduce((a, b) => ({ bytesIn: a.bytesIn + b.bytesIn, bytesOut: a.bytesOut + b.bytesOut }));
    }
    process.stdout.write(JSON.stringify({ blobs: args.length, jobs, ...r, ms: Number(process.hrtime.bigint() - t0) / 1e6 }) + '\n');
  })();
}
