// The image export (GET /images/{id}/get) read straight off the socket, for engines reached over a
// unix socket or plain TCP. Every other call goes through dockerode; this one moves the whole image
// (a gigabyte or more): its body took 4.2–4.4 s through dockerode's request, Node's HTTP parser
// and a guarding PassThrough, and 2.4–2.6 s read this way (the engine's own rate; the same
// 1.25 GB image, alternated runs, measured 2026-11-26 on a 2-core Debian 12 machine;
// docs/performance.md). The socket reads into 1 MiB slabs (`onread` with a buffer
// generator), HTTP/1.1 framing (chunked or Content-Length) is undone here, and the body goes out
// as views into the slabs: no copy, no per-read allocation by the socket. The body lends its
// memory (releaseChunk, src/core/image/tar/decompress.ts): a slab whose chunks the reader has all released
// is read into again, so a whole export turns over a handful of slabs instead of a thousand.
// The guard is built in: a stall (no bytes for idleMs while the reader wants more), a dropped
// connection and a cancellation end the stream with an error made by the caller (same texts as the
// dockerode path). TLS and ssh endpoints keep the dockerode path (src/engine/docker.ts).
import * as net from 'node:net';
import { Readable } from 'node:stream';
import { releaseChunk, type LendingSource } from '../core/image/tar/decompress';
import { watchIdle, type IdleWatch } from './idleWatch';
import type { EngineEndpoint } from './types';

/** Where to connect for a raw read, or undefined when the endpoint needs TLS, ssh or a named pipe. */
export interface RawTarget { socketPath?: string; host?: string; port?: number }

export function rawTargetOf(ep: EngineEndpoint, env: Readonly<Record<string, string | undefined>> = process.env): RawTarget | undefined {
  if (env.LAYERLENS_RAW_EXPORT === 'off') return undefined;
  if (ep.kind === 'unix' && ep.socketPath) return { socketPath: ep.socketPath };
  if (ep.kind === 'tcp' && !ep.tls && ep.host && ep.port) return { host: ep.host, port: ep.port };
  return undefined;
}

/** The errors the stream ends with; the caller words them (src/engine/docker.ts). */
export interface RawErrors {
  /** No bytes for idleMs while the reader wanted more. */
  stalled(): Error;
  /** The connection ended before the response did. */
  dropped(): Error;
  /** The signal fired. */
  aborted(): Error;
  /** A socket error (before or after the headers). */
  failed(e: Error): Error;
}

/** A response whose status is not 200: its status and body text (JSON with `message`, usually). */
export class RawHttpStatus extends Error {
  constructor(readonly statusCode: number, readonly json: unknown, text: string) {
    super(`(HTTP code ${statusCode}) ${text}`);
    this.name = 'RawHttpStatus';
  }
}

const SLAB = 1 << 20;
const MIN_READ = 64 * 1024;
const MAX_HEAD = 64 * 1024;
const MAX_ERROR_BODY = 1 << 20;
const MAX_SPARE = 4;

type Framing = 'chunked' | 'length' | 'close';

/** A slab and what still uses it: body chunks not yet released, the socket, the response head. */
interface Slab { buf: Buffer; chunks: number; current: boolean; pinned: boolean }

/**
 * Sends GET `path` and resolves once the response headers are in: with the body as a Readable for
 * status 200, or rejects with RawHttpStatus (the body read whole) for any other status, or with
 * errors.failed()/dropped()/aborted() when there is no response.
 */
export function rawGet(target: RawTarget, path: string, opts: { signal?: AbortSignal; idleMs: number; errors: RawErrors }): Promise<Readable> {
  return new Promise<Readable>((resolve, reject) => {
    const { errors, signal, idleMs } = opts;
    if (signal?.aborted) { reject(errors.aborted()); return; }
    // Slabs come back once the reader has released every chunk of them (releaseChunk) and the
    // socket has moved on to the next: reused, they spare the GC. V8 counts every new slab as
    // external memory and answers 64 MiB of it with a full collection (~40 in the export of a
    // 1.25 GB image, measured 2026-11-27 on a 2-core Debian 12 machine), so fresh slabs cost more
    // CPU than the reading. The bookkeeping is weak: a slab whose chunks a
    // reader drops without releasing them (the export's file reader releases nothing) is the GC's.
    const lent = new WeakMap<ArrayBufferLike, Slab>();
    const spare: Buffer[] = [];
    const takeSlab = (): Slab => {
      const sl: Slab = { buf: spare.pop() ?? Buffer.allocUnsafe(SLAB), chunks: 0, current: true, pinned: false };
      lent.set(sl.buf.buffer, sl);
      return sl;
    };
    const recycleIfFree = (sl: Slab): void => {
      if (sl.chunks > 0 || sl.current || sl.pinned) return;
      lent.delete(sl.buf.buffer);
      if (spare.length < MAX_SPARE) spare.push(sl.buf);
    };
    let current = takeSlab();
    let used = 0;
    let settled = false;
    // Response parsing state.
    let head: Buffer[] = [];
    let headLen = 0;
    let status = 0;
    let framing: Framing = 'close';
    let remaining = 0; // body bytes left: of the current chunk, or of the Content-Length
    let phase: 'head' | 'size' | 'data' | 'data-crlf' | 'trailer' | 'done' = 'head';
    let line = '';
    let errorBody: Buffer[] | null = null;
    let errorLen = 0;
    let watch: IdleWatch | undefined;

    const body: Readable & LendingSource = new Readable({
      highWaterMark: SLAB,
      read(): void {
        watch?.touch();
        if (sock.isPaused()) sock.resume();
      },
      destroy(err, cb): void {
        cleanup();
        sock.destroy();
        cb(err);
      },
    });

    // An error can end the body before the reader attaches: it finds it in the stream's state
    // (async iteration, pipeline and finished() all check `errored`), so no listener is needed to
    // see it, but without one Node would treat the 'error' event as an uncaught exception.
    body.on('error', () => undefined);
    body[releaseChunk] = (chunk: Uint8Array): void => {
      const sl = lent.get(chunk.buffer);
      if (!sl || sl.chunks === 0) return;
      sl.chunks--;
      recycleIfFree(sl);
    };

    const cleanup = (): void => {
      watch?.stop();
      signal?.removeEventListener('abort', onAbort);
    };
    const fail = (err: Error): void => {
      cleanup();
      sock.destroy();
      if (!settled) { settled = true; reject(err); return; }
      if (!body.destroyed) body.destroy(err);
    };
    const onAbort = (): void => fail(errors.aborted());
    signal?.addEventListener('abort', onAbort, { once: true });

    /** Body bytes: to the reader (a view into the slab, which is not reused before the reader releases it). */
    const emit = (buf: Buffer, from: number, to: number): boolean => {
      if (to <= from) return true;
      if (errorBody) {
        if (errorLen < MAX_ERROR_BODY) { errorBody.push(Buffer.from(buf.subarray(from, to))); errorLen += to - from; }
        return true;
      }
      const sl = lent.get(buf.buffer);
      if (sl) sl.chunks++;
      return body.push(buf.subarray(from, to));
    };

    const finish = (): void => {
      phase = 'done';
      cleanup();
      if (errorBody) {
        const text = Buffer.concat(errorBody).toString('utf8');
        let json: unknown = text;
        try { json = JSON.parse(text); } catch { /* plain text */ }
        settled = true;
        sock.destroy();
        reject(new RawHttpStatus(status, json, text.trim()));
        return;
      }
      body.push(null);
      sock.end();
    };

    const startBody = (headers: string): void => {
      const lines = headers.split('\r\n');
      const m = /^HTTP\/1\.[01] (\d{3})/.exec(lines[0] ?? '');
      if (!m) throw new Error(`not an HTTP response: ${JSON.stringify((lines[0] ?? '').slice(0, 80))}`);
      status = Number(m[1]);
      let length = -1;
      for (const l of lines.slice(1)) {
        const k = l.indexOf(':');
        if (k < 0) continue;
        const name = l.slice(0, k).trim().toLowerCase();
        const value = l.slice(k + 1).trim();
        if (name === 'transfer-encoding' && /chunked/i.test(value)) framing = 'chunked';
        else if (name === 'content-length' && framing !== 'chunked') {
          if (!/^\d+$/.test(value)) throw new Error(`bad Content-Length: ${JSON.stringify(value.slice(0, 40))}`);
          length = Number(value);
        }
      }
      if (framing !== 'chunked' && length >= 0) { framing = 'length'; remaining = length; }
      phase = framing === 'chunked' ? 'size' : 'data';
      if (status !== 200) { errorBody = []; return; }
      settled = true;
      resolve(body);
      watch = watchIdle(idleMs, {
        readerBehind: () => sock.isPaused() || body.readableLength >= body.readableHighWaterMark,
        onStall: () => fail(errors.stalled()),
      });
    };

    /** Parses what one read brought: [from, to) of buf. Returns false when the reader wants no more for now. */
    const parse = (buf: Buffer, from: number, to: number): boolean => {
      let i = from;
      let more = true;
      while (i < to && phase !== 'done') {
        if (phase === 'head') {
          // Look for the blank line, also when it straddles two reads.
          head.push(buf.subarray(i, to));
          headLen += to - i;
          const all = head.length === 1 ? head[0] : Buffer.concat(head);
          const end = all.indexOf('\r\n\r\n');
          if (end < 0) {
            if (headLen > MAX_HEAD) throw new Error(`response headers longer than ${MAX_HEAD} bytes`);
            head = [Buffer.from(all)];
            return true;
          }
          const consumedHere = end + 4 - (headLen - (to - i));
          startBody(all.subarray(0, end).toString('latin1'));
          head = [];
          i += consumedHere;
          if ((phase as string) === 'data' && framing === 'length' && remaining === 0) { finish(); return true; }
          continue;
        }
        if (phase === 'size' || phase === 'data-crlf' || phase === 'trailer') {
          const nl = buf.indexOf(10, i);
          const stop = nl < 0 || nl >= to ? to : nl;
          line += buf.toString('latin1', i, stop);
          if (line.length > 4096) throw new Error('chunk header line too long');
          if (stop === to) return more;
          i = stop + 1;
          const l = line.replace(/\r$/, '');
          line = '';
          if (phase === 'data-crlf') {
            if (l !== '') throw new Error('chunk data not followed by CRLF');
            phase = 'size';
          } else if (phase === 'trailer') {
            if (l === '') { finish(); return more; }
          } else {
            const size = parseInt(l.split(';')[0], 16);
            if (!/^[0-9a-fA-F]+/.test(l) || !Number.isSafeInteger(size)) throw new Error(`bad chunk size ${JSON.stringify(l.slice(0, 40))}`);
            if (size === 0) phase = 'trailer';
            else { remaining = size; phase = 'data'; }
          }
          continue;
        }
        // phase === 'data'
        if (framing === 'close') {
          more = emit(buf, i, to) && more;
          return more;
        }
        const n = Math.min(remaining, to - i);
        more = emit(buf, i, i + n) && more;
        i += n;
        remaining -= n;
        if (remaining === 0) {
          if (framing === 'length') { finish(); return more; }
          phase = 'data-crlf';
        }
      }
      return more;
    };

    const onRead = (n: number, buf: Uint8Array): boolean => {
      const b = buf as Buffer;
      used += n;
      watch?.touch();
      // The response head is kept as views until it is whole: its slab is never reused.
      if (phase === 'head') { const sl = lent.get(b.buffer); if (sl) sl.pinned = true; }
      try {
        // Backpressure: pause() (not a `false` return, which stops reading without marking the
        // socket paused, so resume() would not start it again); read() resumes.
        if (!parse(b, 0, n) && !sock.destroyed) sock.pause();
      } catch (e) {
        fail(errors.failed(e as Error));
      }
      return true;
    };

    const sock = net.connect({
      ...(target.socketPath ? { path: target.socketPath } : { host: target.host!, port: target.port! }),
      onread: {
        // Each read goes into the unused tail of the current slab, or the next slab (a spare one
        // whose chunks were all released, or a new one) when little is left.
        buffer: (): Uint8Array => {
          if (SLAB - used < MIN_READ) {
            const old = current;
            current = takeSlab();
            used = 0;
            old.current = false;
            recycleIfFree(old);
          }
          return current.buf.subarray(used);
        },
        callback: onRead,
      },
    });
    sock.setNoDelay(true);
    sock.on('connect', () => {
      const host = target.socketPath ? 'docker' : `${target.host}:${target.port}`;
      sock.write(`GET ${path} HTTP/1.1\r\nHost: ${host}\r\nUser-Agent: layer-lens\r\nAccept: */*\r\nConnection: close\r\n\r\n`);
    });
    sock.on('error', (e) => { if (phase !== 'done') fail(errors.failed(e)); });
    sock.on('close', () => {
      if (phase === 'done') return;
      // Without a length, the end of the connection ends the body.
      if (phase === 'data' && framing === 'close') { finish(); return; }
      fail(settled || status ? errors.dropped() : errors.failed(Object.assign(new Error('socket hang up'), { code: 'ECONNRESET' })));
    });
  });
}
