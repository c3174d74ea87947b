// Baseline for the benchmark: a bare tar header walk, written independently of src/core. For each
// file: read the 512-byte header at the current position (one positional read), take the size,
// skip the body by seeking; a member whose first block is itself a ustar header (a layer tar in a
// `docker save`) is walked the same way. No names are decoded, nothing is kept.
//
//   node out/bench/walk.js FILE...      prints {"files":N,"headers":N,"innerTars":N,"ms":T}
import { closeSync, fstatSync, openSync, readSync } from 'node:fs';

function octal(b: Buffer, off: number, len: number): number {
  if (b[off] & 0x80) {
    let v = 0;
    for (let i = off + 1; i < off + len; i++) v = v * 256 + b[i];
    return v;
  }
  let v = 0;
  for (let i = off; i < off + len; i++) {
    const c = b[i];
    if (c >= 48 && c <= 55) v = v * 8 + (c - 48);
    else if (v > 0 || c === 0) break;
  }
  return v;
}

function isUstar(b: Buffer): boolean {
  return b[257] === 0x75 && b[258] === 0x73 && b[259] === 0x74 && b[260] === 0x61 && b[261] === 0x72;
}

function allZero(b: Buffer): boolean {
  for (let i = 0; i < 512; i++) if (b[i] !== 0) return false;
  return true;
}

export interface WalkCounts { headers: number; innerTars: number }

/** Walks the tar in [start, end) of fd; walks members that are tars too when `nested`. */
export function walkTar(fd: number, start: number, end: number, nested: boolean, counts: WalkCounts, block = Buffer.alloc(512), inner = Buffer.alloc(512)): void {
  let pos = start;
  while (pos + 512 <= end) {
    if (readSync(fd, block, 0, 512, pos) < 512) return;
    pos += 512;
    if (allZero(block)) continue;
    counts.headers++;
    const size = octal(block, 124, 12);
    const type = block[156];
    const isFile = type === 0x30 || type === 0;
    if (nested && isFile && size >= 1024 && readSync(fd, inner, 0, 512, pos) === 512 && isUstar(inner)) {
      counts.innerTars++;
      walkTar(fd, pos, pos + size, false, counts, inner, Buffer.alloc(512));
    }
    pos += Math.ceil(size / 512) * 512;
  }
}

if (require.main === module) {
  const t0 = process.hrtime.bigint();
  const counts: WalkCounts = { headers: 0, innerTars: 0 };
  const files = process.argv.slice(2);
  for (const f of files) {
    const fd = openSync(f, 'r');
    try {
      walkTar(fd, 0, fstatSync(fd).size, true, counts);
    } finally {
      closeSync(fd);
    }
  }
  process.stdout.write(JSON.stringify({ files: files.length, ...counts, ms: Number(process.hrtime.bigint() - t0) / 1e6 }) + '\n');
}
