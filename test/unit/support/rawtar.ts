// Hand-made tar blocks for hostile-input tests: headers with any name bytes, any size field, PAX
// and GNU long-name records, and a checksum that is right unless told otherwise. tar-stream's
// packer refuses most of what these tests need, so the 512-byte ustar header is written by hand.

export interface RawHeader {
  /** Raw name bytes (may be non-UTF-8); at most 100 bytes fit. */
  name: Buffer | string;
  /** Type flag: '0' file, '1' hardlink, '2' symlink, '5' dir, 'x' PAX, 'g' global PAX, 'L' GNU long name. */
  type?: string;
  /** The size field as written (octal); a header for `body` gets body.length. */
  size?: number;
  mode?: number;
  linkname?: string;
  /** Write a wrong checksum. */
  badChecksum?: boolean;
}

function octal(n: number, width: number): string {
  return n.toString(8).padStart(width - 1, '0') + '\0';
}

export function header(h: RawHeader): Buffer {
  const b = Buffer.alloc(512, 0);
  const name = Buffer.isBuffer(h.name) ? h.name : Buffer.from(h.name, 'utf8');
  name.copy(b, 0, 0, Math.min(100, name.length));
  b.write(octal(h.mode ?? 0o644, 8), 100, 'latin1');
  b.write(octal(0, 8), 108, 'latin1');
  b.write(octal(0, 8), 116, 'latin1');
  const size = h.size ?? 0;
  if (size > 0o77777777777) {
    // GNU base-256 for sizes above 8 GiB.
    b[124] = 0x80;
    let v = BigInt(size);
    for (let i = 135; i > 124; i--) { b[i] = Number(v & 0xffn); v >>= 8n; }
  } else {
    b.write(octal(size, 12), 124, 'latin1');
  }
  b.write(octal(1_700_000_000, 12), 136, 'latin1');
  b.write(h.type ?? '0', 156, 'latin1');
  if (h.linkname) b.write(h.linkname.slice(0, 100), 157, 'utf8');
  b.write('ustar\u000000', 257, 'latin1');
  b.fill(0x20, 148, 156);
  let sum = 0;
  for (const x of b) sum += x;
  if (h.badChecksum) sum += 7;
  b.write(octal(sum, 7) + ' ', 148, 'latin1');
  return b;
}

function pad(body: Buffer): Buffer {
  const rem = body.length % 512;
  return rem ? Buffer.concat([body, Buffer.alloc(512 - rem)]) : body;
}

/** A header plus its body, padded to 512 bytes. */
export function member(h: Omit<RawHeader, 'size'> & { size?: number }, body: Buffer | string = Buffer.alloc(0)): Buffer {
  const data = Buffer.isBuffer(body) ? body : Buffer.from(body, 'utf8');
  return Buffer.concat([header({ ...h, size: h.size ?? data.length }), pad(data)]);
}

/** One PAX record `len key=value\n` with the length counting itself. */
export function paxRecord(key: string, value: string): string {
  const rest = ` ${key}=${value}\n`;
  let len = Buffer.byteLength(rest) + 1;
  while (String(len).length + Buffer.byteLength(rest) !== len) len = String(len).length + Buffer.byteLength(rest);
  return `${len}${rest}`;
}

/** A PAX extended header ('x') carrying `records`, to apply to the next member. */
export function pax(records: Record<string, string>): Buffer {
  return member({ name: 'PaxHeader', type: 'x' }, Object.entries(records).map(([k, v]) => paxRecord(k, v)).join(''));
}

/** The two zero blocks that end an archive. */
export const END = Buffer.alloc(1024, 0);

export function rawTar(...parts: Buffer[]): Buffer {
  return Buffer.concat([...parts, END]);
}
