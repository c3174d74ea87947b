// Seeded mutations of image archives and Dockerfiles. Every case is reproducible from (seed index,
// case seed): the same numbers give the same bytes.

/** xorshift32: small, fast, deterministic. */
export class Rng {
  private s: number;
  constructor(seed: number) { this.s = (seed >>> 0) || 0x9e3779b9; }
  next(): number {
    let x = this.s;
    x ^= x << 13; x >>>= 0;
    x ^= x >>> 17;
    x ^= x << 5; x >>>= 0;
    this.s = x;
    return x;
  }
  int(n: number): number { return n <= 0 ? 0 : this.next() % n; }
  pick<T>(a: readonly T[]): T { return a[this.int(a.length)]; }
  chance(p: number): boolean { return this.next() / 0x100000000 < p; }
}

/** Offsets of the ustar headers in a tar (outer members and, since members are 512-aligned, nested layer tars too). */
export function headerOffsets(b: Buffer): number[] {
  const out: number[] = [];
  for (let o = 0; o + 512 <= b.length; o += 512) {
    if (b[o + 257] === 0x75 && b.toString('latin1', o + 257, o + 262) === 'ustar') out.push(o);
  }
  return out;
}

function octalField(n: number, width: number): Buffer {
  return Buffer.from(n.toString(8).padStart(width - 1, '0').slice(-(width - 1)) + '\0', 'latin1');
}

/** Recomputes a header's checksum so the parser gets past it and meets the edited field. */
export function fixChecksum(b: Buffer, o: number): void {
  b.fill(0x20, o + 148, o + 156);
  let sum = 0;
  for (let i = o; i < o + 512; i++) sum += b[i];
  b.write(sum.toString(8).padStart(6, '0') + '\0 ', o + 148, 'latin1');
}

const NAMES = ['../../../etc/passwd', '/etc/shadow', '', '.', '..', '/', 'a/../../b', '.wh.x', '.wh..wh..opq', 'x/.wh..wh..opq',
  '.wh..wh.plnk/1', 'manifest.json', 'index.json', 'blobs/sha256/', '\u00ff\u00fe', 'a'.repeat(100), 'layer.tar', 'oci-layout', 'repositories'];
const TYPES = ['0', '1', '2', '3', '4', '5', '6', '7', 'x', 'g', 'L', 'K', 'S', 'V', '\0', 'Z'];
const INTERESTING = [0x00, 0xff, 0x7f, 0x80, 0x30, 0x2f, 0x2e, 0x20, 0x7b, 0x5b, 0x22];

export type Mutation = (b: Buffer, r: Rng, headers: number[]) => { buf: Buffer; what: string };

const bitflip: Mutation = (b, r) => {
  const c = Buffer.from(b);
  const n = 1 + r.int(8);
  for (let i = 0; i < n; i++) { const at = r.int(c.length); c[at] ^= 1 << r.int(8); }
  return { buf: c, what: `bitflip×${n}` };
};

const byteset: Mutation = (b, r) => {
  const c = Buffer.from(b);
  const at = r.int(c.length);
  const n = 1 + r.int(4);
  for (let i = 0; i < n && at + i < c.length; i++) c[at + i] = r.pick(INTERESTING);
  return { buf: c, what: `byteset@${at}` };
};

const truncate: Mutation = (b, r) => {
  const at = r.chance(0.5) ? r.int(b.length) : Math.floor(r.int(Math.ceil(b.length / 512))) * 512;
  return { buf: b.subarray(0, at), what: `truncate@${at}` };
};

function span(b: Buffer, r: Rng): [number, number] {
  const aligned = r.chance(0.5);
  const len = aligned ? 512 * (1 + r.int(8)) : 1 + r.int(4096);
  const at = aligned ? 512 * r.int(Math.max(1, Math.floor(b.length / 512))) : r.int(b.length);
  return [at, Math.min(b.length, at + len)];
}

const chunkDup: Mutation = (b, r) => {
  const [s, e] = span(b, r);
  const to = r.chance(0.5) ? 512 * r.int(Math.max(1, Math.floor(b.length / 512))) : r.int(b.length);
  return { buf: Buffer.concat([b.subarray(0, to), b.subarray(s, e), b.subarray(to)]), what: `dup[${s},${e})→${to}` };
};

const chunkRemove: Mutation = (b, r) => {
  const [s, e] = span(b, r);
  return { buf: Buffer.concat([b.subarray(0, s), b.subarray(e)]), what: `remove[${s},${e})` };
};

const chunkSwap: Mutation = (b, r) => {
  const [s1, e1] = span(b, r);
  const [s2, e2] = span(b, r);
  if (e1 > s2 && e2 > s1) return chunkRemove(b, r, []);
  const [a, c] = s1 < s2 ? [[s1, e1], [s2, e2]] : [[s2, e2], [s1, e1]];
  return { buf: Buffer.concat([b.subarray(0, a[0]), b.subarray(c[0], c[1]), b.subarray(a[1], c[0]), b.subarray(a[0], a[1]), b.subarray(c[1])]), what: `swap[${a}]⇄[${c}]` };
};

const headerEdit: Mutation = (b, r, headers) => {
  if (headers.length === 0) return bitflip(b, r, headers);
  const c = Buffer.from(b);
  const o = r.pick(headers);
  if (o + 512 > c.length) return bitflip(b, r, headers);
  const field = r.pick(['size', 'size', 'type', 'name', 'linkname', 'mode', 'checksum', 'magic', 'zero']);
  switch (field) {
    case 'size': {
      const cur = parseInt(c.toString('latin1', o + 124, o + 135).replace(/\0.*$/, '') || '0', 8) || 0;
      const v = r.pick([0, 1, 511, 512, 513, cur + 1, Math.max(0, cur - 1), cur * 2, cur + 512, 0o77777777777, -1]);
      if (v === -1) { c[o + 124] = 0x80; for (let i = o + 125; i < o + 136; i++) c[i] = 0xff; } // base-256, huge
      else octalField(v, 12).copy(c, o + 124);
      break;
    }
    case 'type': c[o + 156] = r.pick(TYPES).charCodeAt(0); break;
    case 'name': { c.fill(0, o, o + 100); Buffer.from(r.pick(NAMES), 'latin1').copy(c, o, 0, 100); break; }
    case 'linkname': { c.fill(0, o + 157, o + 257); Buffer.from(r.pick(NAMES), 'latin1').copy(c, o + 157, 0, 100); break; }
    case 'mode': c.write(r.pick(['7777777', '0000000', 'zzzzzzz', '\0\0\0\0\0\0\0']), o + 100, 'latin1'); break;
    case 'checksum': c.write(r.pick(['0000000', '       ', 'zzzzzz']), o + 148, 'latin1'); break;
    case 'magic': c.write(r.pick(['ustar ', 'xxxxx', '\0\0\0\0\0']), o + 257, 'latin1'); break;
    case 'zero': c.fill(0, o, o + 512); break;
  }
  if (field !== 'checksum' && field !== 'zero' && r.chance(0.85)) fixChecksum(c, o);
  return { buf: c, what: `header@${o}.${field}` };
};

const JSON_TOKENS = ['{', '}', '[', ']', '"', ',', ':', 'null', '0', '-1', '1e999', '"sha256:../../x"', '""', '[]', '{}', '\\u0000', '9'.repeat(30)];

/** Edits the body of a JSON member (manifest, config, index) and rewrites its header to fit. */
const jsonEdit: Mutation = (b, r, headers) => {
  const docs = headers.filter((o) => {
    const size = parseInt(b.toString('latin1', o + 124, o + 135).replace(/\0.*$/, '') || '0', 8) || 0;
    const first = b[o + 512];
    return size > 1 && size < 1 << 20 && o + 512 + size <= b.length && (first === 0x7b || first === 0x5b);
  });
  if (docs.length === 0) return byteset(b, r, headers);
  const o = r.pick(docs);
  const size = parseInt(b.toString('latin1', o + 124, o + 135).replace(/\0.*$/, ''), 8);
  let text = b.toString('latin1', o + 512, o + 512 + size);
  const edits = 1 + r.int(3);
  for (let i = 0; i < edits; i++) {
    const at = r.int(text.length);
    const op = r.int(4);
    if (op === 0) text = text.slice(0, at) + text.slice(at + 1 + r.int(20));
    else if (op === 1) text = text.slice(0, at) + r.pick(JSON_TOKENS) + text.slice(at);
    else if (op === 2) {
      // Replace one string value with another JSON value.
      const q = text.indexOf('"', at);
      const q2 = q >= 0 ? text.indexOf('"', q + 1) : -1;
      if (q2 > q) text = text.slice(0, q) + r.pick(JSON_TOKENS.slice(7)) + text.slice(q2 + 1);
    } else {
      // Change one hex digit of a digest (a blob that no longer exists).
      const m = /[a-f0-9]{64}/g;
      m.lastIndex = at;
      const hit = m.exec(text);
      if (hit) text = text.slice(0, hit.index + 5) + (text[hit.index + 5] === 'a' ? 'b' : 'a') + text.slice(hit.index + 6);
    }
  }
  const body = Buffer.from(text, 'latin1');
  const hdr = Buffer.from(b.subarray(o, o + 512));
  octalField(body.length, 12).copy(hdr, 124);
  fixChecksum(hdr, 0);
  const oldEnd = o + 512 + Math.ceil(size / 512) * 512;
  const pad = Buffer.alloc((512 - (body.length % 512)) % 512);
  return { buf: Buffer.concat([b.subarray(0, o), hdr, body, pad, b.subarray(oldEnd)]), what: `json@${o}` };
};

export const MUTATIONS: Array<[string, Mutation, number]> = [
  ['bitflip', bitflip, 3], ['byteset', byteset, 2], ['truncate', truncate, 2], ['chunkDup', chunkDup, 2],
  ['chunkRemove', chunkRemove, 2], ['chunkSwap', chunkSwap, 1], ['headerEdit', headerEdit, 5], ['jsonEdit', jsonEdit, 3],
];
const WEIGHTED = MUTATIONS.flatMap(([, m, w]) => Array<Mutation>(w).fill(m));

/** One to three stacked mutations of `seed`. */
export function mutateArchive(seed: Buffer, r: Rng): { buf: Buffer; what: string[] } {
  let buf = seed;
  const what: string[] = [];
  const n = 1 + (r.chance(0.6) ? 0 : r.int(3));
  for (let i = 0; i < n; i++) {
    const m = r.pick(WEIGHTED)(buf, r, headerOffsets(buf));
    buf = m.buf;
    what.push(m.what);
  }
  return { buf, what };
}

const DOCKERFILE_JUNK = ['\\', '`', '\n', '"', "'", '$', '${', '}', '<<', '<<-EOF', 'EOF', '[', ']', '--', '=', ' ', '\t', '#', '\r\n',
  'FROM ', 'AS ', 'RUN ', 'COPY --from=', 'COPY ', 'ADD ', 'ONBUILD ', 'ARG ', 'ENV ', 'SHELL [', 'HEALTHCHECK ', '{', ':-', '# escape=`\n',
  '# syntax=x\n', '--mount=type=cache,target=', '\u0000', '\uFFFF', 'FROM scratch\n', 'WORKDIR ', 'USER ', '&&', '|', ';'];

/** Edits of a Dockerfile as a person typing would make them (and worse). */
export function mutateDockerfile(text: string, r: Rng): { text: string; what: string[] } {
  let t = text;
  const what: string[] = [];
  const n = 1 + r.int(5);
  for (let i = 0; i < n; i++) {
    const at = r.int(t.length + 1);
    switch (r.int(6)) {
      case 0: { const len = 1 + r.int(16); t = t.slice(0, at) + t.slice(at + len); what.push(`del@${at}+${len}`); break; }
      case 1: { const j = r.pick(DOCKERFILE_JUNK); t = t.slice(0, at) + j + t.slice(at); what.push(`ins@${at}`); break; }
      case 2: { t = t.slice(0, at); what.push(`cut@${at}`); break; }
      case 3: {
        const lines = t.split('\n');
        const a = r.int(lines.length);
        lines.splice(r.int(lines.length + 1), 0, lines[a] ?? '');
        t = lines.join('\n');
        what.push(`dupline${a}`);
        break;
      }
      case 4: {
        const lines = t.split('\n');
        const a = r.int(lines.length);
        const b = r.int(lines.length);
        [lines[a], lines[b]] = [lines[b], lines[a]];
        t = lines.join('\n');
        what.push(`swap${a},${b}`);
        break;
      }
      default: {
        // A character typed in the middle of a word.
        t = t.slice(0, at) + String.fromCharCode(32 + r.int(95)) + t.slice(at);
        what.push(`char@${at}`);
      }
    }
  }
  return { text: t, what };
}
