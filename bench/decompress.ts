// Baseline for the benchmark: decompress layer blobs and throw the bytes away — with the same
// decompressors Layer Lens reads with and the least machinery around them: 1 MiB positional
// reads; zstd through fzstd's decoder called directly (synchronous), gzip through zlib's gunzip
// (threadpool) with 128 KiB output chunks, written with backpressure. One blob after the other.
//
//   node out/bench/decompress.js BLOB...     prints {"blobs":N,"bytesIn":N,"bytesOut":N,"ms":T}
import { closeSync, fstatSync, openSync, readSync } from 'node:fs';
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

if (require.main === module) {
  void (async () => {
    const t0 = process.hrtime.bigint();
    let bytesIn = 0;
    let bytesOut = 0;
    for (const f of process.argv.slice(2)) {
      const r = await one(f);
      bytesIn += r.inBytes;
      bytesOut += r.outBytes;
    }
    process.stdout.write(JSON.stringify({ blobs: process.argv.length - 2, bytesIn, bytesOut, ms: Number(process.hrtime.bigint() - t0) / 1e6 }) + '\n');
  })();
}
