// Baseline for the benchmark: a bare tar header walk, written independently of src/core. For each
// file: read the 512-byte header at the current position (one positional read), take the size,
// skip the body by seeking; a member whose first block is itself a ustar header (a layer tar in a
// `docker save`) is walked the same way. No names are decoded, nothing is kept. With --window N,
// reads go through one window of N bytes (positional reads of N bytes, as a reader that skips
// bodies but reads ahead would do), so tars of many small files cost what reading them costs.
//
//   node out/bench/walk.js [--window N] FILE...   prints {"files":N,"headers":N,"innerTars":N,"ms":T}
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

/** The window reads go through (0: none, every header is its own 512-byte read). */
let windowSize = 0;
let win = Buffer.alloc(0);
let winFd = -1;
let winStart = 0;
let winLen = 0;

/** Reads 512 bytes at pos into b, through the window when there is one. */
function read(fd: number, b: Buffer, pos: number): number {
  if (windowSize === 0) return readSync(fd, b, 0, 512, pos);
  if (fd !== winFd || pos < winStart || pos + 512 > winStart + winLen) {
    winFd = fd;
    winStart = pos;
    winLen = readSync(fd, win, 0, windowSize, pos);
  }
  const n = Math.max(0, Math.min(512, winStart + winLen - pos));
  win.copy(b, 0, pos - winStart, pos - winStart + n);
  return n;
}

/** Walks the tar in [start, end) of fd; walks members that are tars too when `nested`. */
export function walkTar(fd: number, start: number, end: number, nested: boolean, counts: WalkCounts, block = Buffer.alloc(512), inner = Buffer.alloc(512)): void {
  let pos = start;
  while (pos + 512 <= end) {
    if (read(fd, block, pos) < 512) return;
    pos += 512;
    if (allZero(block)) continue;
    counts.headers++;
    const size = octal(block, 124, 12);
    const type = block[156];
    const isFile = type === 0x30 || type === 0;
    if (nested && isFile && size >= 1024 && read(fd, inner, pos) === 512 && isUstar(inner)) {
      counts.innerTars++;
      walkTar(fd, pos, pos + size, false, counts, inner, Buffer.alloc(512));
    }
    pos += Math.ceil(size / 512) * 512;
  }
}

if (require.main === module) {
  const t0 = process.hrtime.bigint();
  const counts: WalkCounts = { headers: 0, innerTars: 0 };
  const args = process.argv.slice(2);
  const w = args.indexOf('--window');
  if (w >= 0) {
    windowSize = Number(args[w + 1]);
    win = Buffer.alloc(windowSize);
    args.splice(w, 2);
  }
  const files = args;
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
