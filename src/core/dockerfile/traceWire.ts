// BuildKit's build trace as the Engine API streams it: the JSON messages of the /build response,
// and the protobuf `StatusResponse` (moby/buildkit api/services/control/control.proto) that a
// {"id":"moby.buildkit.trace","aux":"<base64>"} message carries: vertexes {digest, inputs, name,
// cached, started, completed, error}, statuses, logs, warnings. The protobuf wire format is decoded
// here (only what StatusResponse needs: a few dozen lines, no dependency). Pure: no I/O.

// ---------------------------------------------------------------------------------------------
// The messages

/** One JSON message of the /build response stream (the engine adapter's BuildMessage is this type). */
export interface BuildStreamMessage {
  stream?: string;
  id?: string;
  aux?: unknown;
  status?: string;
  progress?: string;
  error?: string;
  errorDetail?: { message?: string; code?: number };
}

/** A protobuf Timestamp as milliseconds since the epoch (fractional: nanosecond precision kept). */
export type TraceTime = number;

export interface TraceVertex {
  digest: string;
  inputs: string[];
  name: string;
  cached: boolean;
  started: TraceTime | null;
  completed: TraceTime | null;
  error: string;
}

export interface TraceVertexStatus {
  id: string;
  vertex: string;
  name: string;
  current: number;
  total: number;
  timestamp: TraceTime | null;
  started: TraceTime | null;
  completed: TraceTime | null;
}

export interface TraceVertexLog {
  vertex: string;
  timestamp: TraceTime | null;
  /** 1 stdout, 2 stderr. */
  stream: number;
  msg: Uint8Array;
}

export interface TraceVertexWarning {
  vertex: string;
  level: number;
  short: string;
  detail: string[];
  url: string;
}

export interface StatusResponse {
  vertexes: TraceVertex[];
  statuses: TraceVertexStatus[];
  logs: TraceVertexLog[];
  warnings: TraceVertexWarning[];
}

export class TraceDecodeError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'TraceDecodeError';
  }
}

// ---------------------------------------------------------------------------------------------
// Protobuf wire format (only what StatusResponse needs: varint, 64-bit, length-delimited, 32-bit)

const WIRE_VARINT = 0;
const WIRE_I64 = 1;
const WIRE_LEN = 2;
const WIRE_I32 = 5;

class PbReader {
  pos = 0;
  constructor(readonly buf: Uint8Array, readonly end = buf.length) {}

  done(): boolean {
    return this.pos >= this.end;
  }

  /** A varint as a JS number (int64 read as two's complement; exact up to 2^53). */
  varint(): number {
    let result = 0;
    let mul = 1;
    const start = this.pos;
    for (let i = 0; i < 10; i++) {
      if (this.pos >= this.end) throw new TraceDecodeError('truncated varint');
      const b = this.buf[this.pos++];
      if (i < 7) {
        result += (b & 0x7f) * mul;
        mul *= 128;
        if ((b & 0x80) === 0) return result;
        continue;
      }
      if ((b & 0x80) === 0) {
        // Past 49 bits: exact arithmetic (negative int64 values take all 10 bytes).
        let v = 0n;
        for (let j = this.pos - 1; j >= start; j--) v = (v << 7n) | BigInt(this.buf[j] & 0x7f);
        return Number(BigInt.asIntN(64, v));
      }
    }
    throw new TraceDecodeError('varint too long');
  }

  key(): { field: number; wire: number } {
    const k = this.varint();
    return { field: Math.floor(k / 8), wire: k & 7 };
  }

  bytes(): Uint8Array {
    const n = this.varint();
    if (n < 0 || this.pos + n > this.end) throw new TraceDecodeError('truncated length-delimited field');
    const out = this.buf.subarray(this.pos, this.pos + n);
    this.pos += n;
    return out;
  }

  string(): string {
    return utf8(this.bytes());
  }

  sub(): PbReader {
    const b = this.bytes();
    return new PbReader(b);
  }

  skip(wire: number): void {
    switch (wire) {
      case WIRE_VARINT:
        this.varint();
        return;
      case WIRE_I64:
        this.advance(8);
        return;
      case WIRE_LEN:
        this.bytes();
        return;
      case WIRE_I32:
        this.advance(4);
        return;
      default:
        throw new TraceDecodeError(`unsupported wire type ${wire}`);
    }
  }

  private advance(n: number): void {
    if (this.pos + n > this.end) throw new TraceDecodeError('truncated fixed-size field');
    this.pos += n;
  }
}

const decoder = new TextDecoder('utf-8');
/** UTF-8 bytes as text (a log's bytes, a name). */
export function utf8(b: Uint8Array): string {
  return decoder.decode(b);
}

function readMessage(r: PbReader, on: (field: number, wire: number, r: PbReader) => boolean): void {
  while (!r.done()) {
    const { field, wire } = r.key();
    if (!on(field, wire, r)) r.skip(wire);
  }
}

function expect(wire: number, want: number, what: string): void {
  if (wire !== want) throw new TraceDecodeError(`${what}: unexpected wire type ${wire}`);
}

/** google.protobuf.Timestamp → ms since the epoch; null for an unset (0,0) timestamp. */
function readTimestamp(r: PbReader): TraceTime | null {
  let seconds = 0;
  let nanos = 0;
  readMessage(r, (f, w, rr) => {
    if (f === 1 && w === WIRE_VARINT) seconds = rr.varint();
    else if (f === 2 && w === WIRE_VARINT) nanos = rr.varint();
    else return false;
    return true;
  });
  if (seconds === 0 && nanos === 0) return null;
  // Go's zero time.Time (0001-01-01) marshals to seconds = -62135596800: treat as unset.
  if (seconds <= -62135596800) return null;
  return seconds * 1000 + nanos / 1e6;
}

function readVertex(r: PbReader): TraceVertex {
  const v: TraceVertex = { digest: '', inputs: [], name: '', cached: false, started: null, completed: null, error: '' };
  readMessage(r, (f, w, rr) => {
    switch (f) {
      case 1: expect(w, WIRE_LEN, 'Vertex.digest'); v.digest = rr.string(); return true;
      case 2: expect(w, WIRE_LEN, 'Vertex.inputs'); v.inputs.push(rr.string()); return true;
      case 3: expect(w, WIRE_LEN, 'Vertex.name'); v.name = rr.string(); return true;
      case 4: expect(w, WIRE_VARINT, 'Vertex.cached'); v.cached = rr.varint() !== 0; return true;
      case 5: expect(w, WIRE_LEN, 'Vertex.started'); v.started = readTimestamp(rr.sub()); return true;
      case 6: expect(w, WIRE_LEN, 'Vertex.completed'); v.completed = readTimestamp(rr.sub()); return true;
      case 7: expect(w, WIRE_LEN, 'Vertex.error'); v.error = rr.string(); return true;
      default: return false;
    }
  });
  return v;
}

function readStatus(r: PbReader): TraceVertexStatus {
  const s: TraceVertexStatus = { id: '', vertex: '', name: '', current: 0, total: 0, timestamp: null, started: null, completed: null };
  readMessage(r, (f, w, rr) => {
    switch (f) {
      case 1: expect(w, WIRE_LEN, 'VertexStatus.ID'); s.id = rr.string(); return true;
      case 2: expect(w, WIRE_LEN, 'VertexStatus.vertex'); s.vertex = rr.string(); return true;
      case 3: expect(w, WIRE_LEN, 'VertexStatus.name'); s.name = rr.string(); return true;
      case 4: expect(w, WIRE_VARINT, 'VertexStatus.current'); s.current = rr.varint(); return true;
      case 5: expect(w, WIRE_VARINT, 'VertexStatus.total'); s.total = rr.varint(); return true;
      case 6: expect(w, WIRE_LEN, 'VertexStatus.timestamp'); s.timestamp = readTimestamp(rr.sub()); return true;
      case 7: expect(w, WIRE_LEN, 'VertexStatus.started'); s.started = readTimestamp(rr.sub()); return true;
      case 8: expect(w, WIRE_LEN, 'VertexStatus.completed'); s.completed = readTimestamp(rr.sub()); return true;
      default: return false;
    }
  });
  return s;
}

function readLog(r: PbReader): TraceVertexLog {
  const l: TraceVertexLog = { vertex: '', timestamp: null, stream: 0, msg: new Uint8Array(0) };
  readMessage(r, (f, w, rr) => {
    switch (f) {
      case 1: expect(w, WIRE_LEN, 'VertexLog.vertex'); l.vertex = rr.string(); return true;
      case 2: expect(w, WIRE_LEN, 'VertexLog.timestamp'); l.timestamp = readTimestamp(rr.sub()); return true;
      case 3: expect(w, WIRE_VARINT, 'VertexLog.stream'); l.stream = rr.varint(); return true;
      case 4: expect(w, WIRE_LEN, 'VertexLog.msg'); l.msg = rr.bytes().slice(); return true;
      default: return false;
    }
  });
  return l;
}

function readWarning(r: PbReader): TraceVertexWarning {
  const w: TraceVertexWarning = { vertex: '', level: 0, short: '', detail: [], url: '' };
  readMessage(r, (f, wt, rr) => {
    switch (f) {
      case 1: expect(wt, WIRE_LEN, 'VertexWarning.vertex'); w.vertex = rr.string(); return true;
      case 2: expect(wt, WIRE_VARINT, 'VertexWarning.level'); w.level = rr.varint(); return true;
      case 3: expect(wt, WIRE_LEN, 'VertexWarning.short'); w.short = rr.string(); return true;
      case 4: expect(wt, WIRE_LEN, 'VertexWarning.detail'); w.detail.push(rr.string()); return true;
      case 5: expect(wt, WIRE_LEN, 'VertexWarning.url'); w.url = rr.string(); return true;
      default: return false;
    }
  });
  return w;
}

/** Decode a protobuf moby.buildkit.v1.StatusResponse. Throws TraceDecodeError on malformed input. */
export function decodeStatusResponse(bytes: Uint8Array): StatusResponse {
  const out: StatusResponse = { vertexes: [], statuses: [], logs: [], warnings: [] };
  const r = new PbReader(bytes);
  readMessage(r, (f, w, rr) => {
    if (f < 1 || f > 4) return false;
    expect(w, WIRE_LEN, 'StatusResponse');
    const sub = rr.sub();
    if (f === 1) out.vertexes.push(readVertex(sub));
    else if (f === 2) out.statuses.push(readStatus(sub));
    else if (f === 3) out.logs.push(readLog(sub));
    else out.warnings.push(readWarning(sub));
    return true;
  });
  return out;
}

/** Decode the `aux` of a `moby.buildkit.trace` message (base64 of a StatusResponse). */
export function decodeTraceAux(aux: string): StatusResponse {
  if (!/^[A-Za-z0-9+/=\s_-]*$/.test(aux)) throw new TraceDecodeError('the trace is not base64');
  return decodeStatusResponse(base64ToBytes(aux));
}

function base64ToBytes(s: string): Uint8Array {
  // atob exists in Node >= 16 and browsers; core stays free of Buffer.
  const bin = atob(s.replace(/\s+/g, '').replace(/-/g, '+').replace(/_/g, '/'));
  const out = new Uint8Array(bin.length);
  for (let i = 0; i < bin.length; i++) out[i] = bin.charCodeAt(i);
  return out;
}
