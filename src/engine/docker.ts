// EngineClient over dockerode (Docker Engine API; Podman's Docker-compatible API works the same).
//
// - The endpoint comes from endpoint.ts; the transport (src/engine/transport.ts) is made on
//   the client's first request, and dockerode with it.
// - Requests go through dockerode's modem (`modem.dial`, the call dockerode's Image.inspect/history/
//   get use) so each one can carry an AbortSignal; dockerode 5's Image methods do not accept one.
// - ping/inspect/history/listImages have a timeout (EngineClientOptions.timeoutMs). The export stream
//   has none overall (it can take minutes) but fails with a clear error when the engine sends
//   nothing for exportIdleTimeoutMs while the consumer is ready for more.
// - Every failure is an EngineError with a one-line message naming the endpoint and where it came
//   from (src/engine/errors.ts).
import type { IncomingMessage } from 'node:http';
import type { Readable } from 'node:stream';
import {
  EngineError,
  type EngineClient, type EngineEndpoint, type EngineHistoryItem, type EngineImageInspect,
  type EngineImageSummary, type BuildMessage, type BuildOptions, type EngineEvent, type EventStreamOptions,
} from './types';
import { describeEndpoint } from './endpoint';
import { rawGet, rawTargetOf } from './rawExport';
import { bad, cap, engineName, exportDropped, exportStalled, oneLine, toEngineError, type Ctx } from './errors';
import { guardExport, openTransport, type Modem, type Transport, type TransportOptions } from './transport';

export interface EngineClientOptions extends Partial<TransportOptions> {
  /** Timeout for ping, inspect, history and listImages, in ms (default 20000). */
  timeoutMs?: number;
  /**
   * The export stream fails when the engine sends no data for this long while the reader is
   * waiting for more (default 60000 ms; 0 disables). Also bounds the wait for the response headers.
   */
  exportIdleTimeoutMs?: number;
}

export const DEFAULT_TIMEOUT_MS = 20_000;
export const DEFAULT_EXPORT_IDLE_TIMEOUT_MS = 60_000;

/**
 * Image references as the API path segment: names, tags, digests and ids. Refuses anything that
 * could leave the /images/{name}/... route (empty, '..' segments, '?', '#', '%', spaces, controls).
 */
export function checkImageRef(name: string): string {
  const ok = name.length > 0 && name.length <= 1024
    && /^[A-Za-z0-9][A-Za-z0-9._\-/:@]*$/.test(name)
    && !name.split('/').some((seg) => seg === '' || seg === '.' || seg === '..');
  if (!ok) throw new EngineError('not-found', `Invalid image reference ${JSON.stringify(name)}`);
  return name;
}

// --- response shapes ----------------------------------------------------------------------------

type Json = Record<string, unknown>;
const isObj = (v: unknown): v is Json => typeof v === 'object' && v !== null && !Array.isArray(v);
const str = (v: unknown, d = ''): string => (typeof v === 'string' ? v : d);
const num = (v: unknown, d = 0): number => (typeof v === 'number' && Number.isFinite(v) ? v : d);
const strs = (v: unknown): string[] => (Array.isArray(v) ? v.filter((x): x is string => typeof x === 'string') : []);
/**
 * Docker's familiar form: Podman reports "docker.io/library/x:1" / "docker.io/u/x:1" where dockerd
 * reports "x:1" / "u/x:1"; normalize so both engines show the same names.
 */
export function familiarName(ref: string): string {
  for (const p of ['docker.io/', 'index.docker.io/']) {
    if (ref.startsWith(p)) {
      const rest = ref.slice(p.length);
      const lib = 'library/';
      return rest.startsWith(lib) && !rest.slice(lib.length).includes('/') ? rest.slice(lib.length) : rest;
    }
  }
  return ref;
}
const tags = (v: unknown): string[] => strs(v)
  .filter((t) => t !== '<none>:<none>' && t !== '<none>@<none>')
  .map(familiarName);

function parseBuildMessage(line: string, ctx: Ctx): BuildMessage {
  let v: unknown;
  try {
    v = JSON.parse(line);
  } catch {
    throw bad(ctx, `not JSON: ${JSON.stringify(line.slice(0, 80))}`);
  }
  if (!isObj(v)) throw bad(ctx, `not a JSON object: ${JSON.stringify(line.slice(0, 80))}`);
  const out: BuildMessage = {};
  if (typeof v.stream === 'string') out.stream = v.stream;
  if (typeof v.id === 'string') out.id = v.id;
  if (v.aux !== undefined) out.aux = v.aux;
  if (typeof v.status === 'string') out.status = v.status;
  if (typeof v.progress === 'string') out.progress = v.progress;
  if (typeof v.error === 'string') out.error = v.error;
  if (isObj(v.errorDetail)) {
    out.errorDetail = {};
    if (typeof v.errorDetail.message === 'string') out.errorDetail.message = v.errorDetail.message;
    if (typeof v.errorDetail.code === 'number') out.errorDetail.code = v.errorDetail.code;
  }
  return out;
}

// --- the client ---------------------------------------------------------------------------------

/** Create the engine client for a resolved endpoint. Never throws; problems surface from each call. */
export function createEngineClient(endpoint: EngineEndpoint, options: EngineClientOptions = {}): EngineClient {
  const timeoutMs = options.timeoutMs ?? DEFAULT_TIMEOUT_MS;
  const idleMs = options.exportIdleTimeoutMs ?? DEFAULT_EXPORT_IDLE_TIMEOUT_MS;
  let opened: Promise<Transport> | undefined;

  /**
   * The modem, from the transport made on the first request (dockerode is loaded then); `ctx`
   * learns the ssh plan, which its errors name.
   */
  async function modem(ctx: Ctx): Promise<Modem> {
    opened ??= openTransport(endpoint, { ...options, timeoutMs }).catch((e: unknown): Transport => ({
      configError: e instanceof EngineError ? e
        : new EngineError('unavailable', `Cannot set up a client for ${describeEndpoint(endpoint)}: ${oneLine(e instanceof Error ? e.message : String(e))}`),
    }));
    const t = await opened;
    ctx.ssh = t.ssh;
    if (t.configError) throw t.configError;
    if (!t.modem) throw new EngineError('unavailable', `No client for ${describeEndpoint(endpoint)}`);
    return t.modem;
  }

  /** A JSON API call with timeout + cancellation. */
  async function call(what: string, path: string, statusCodes: Record<number, string | boolean>,
    signal: AbortSignal | undefined, image?: string): Promise<unknown> {
    const ctx: Ctx = { endpoint, what, image, timeoutMs };
    if (signal?.aborted) throw new EngineError('aborted', `${cap(what)} was cancelled`);
    const m = await modem(ctx);
    const timeout = AbortSignal.timeout(timeoutMs);
    const combined = signal ? AbortSignal.any([signal, timeout]) : timeout;
    return new Promise((resolve, reject) => {
      m.dial({ path, method: 'GET', abortSignal: combined, statusCodes }, (err, data) => {
        if (err) reject(toEngineError(err, ctx, { user: signal, timeout }));
        else resolve(data);
      });
    });
  }

  return {
    endpoint,

    async ping(signal?: AbortSignal): Promise<void> {
      const data = await call('ping', '/_ping', { 200: true, 500: 'server error' }, signal);
      const text = Buffer.isBuffer(data) ? data.toString('utf8') : String(data);
      if (text.trim() !== 'OK') {
        throw bad({ endpoint, what: 'ping' }, `expected "OK", got ${JSON.stringify(text.slice(0, 80))}`);
      }
    },

    async inspectImage(name: string, signal?: AbortSignal): Promise<EngineImageInspect> {
      const ref = checkImageRef(name);
      const ctx: Ctx = { endpoint, what: `inspect of '${name}'`, image: name };
      const data = await call(ctx.what, `/images/${ref}/json`, { 200: true, 404: 'no such image', 500: 'server error' }, signal, name);
      if (!isObj(data) || typeof data.Id !== 'string') throw bad(ctx, 'no image Id in the inspect answer');
      const rootfs = isObj(data.RootFS) ? data.RootFS : {};
      const out: EngineImageInspect = {
        id: data.Id,
        repoTags: tags(data.RepoTags),
        size: num(data.Size),
        os: str(data.Os),
        architecture: str(data.Architecture),
        diffIds: strs(rootfs.Layers),
      };
      if (typeof data.Created === 'string') out.created = data.Created;
      return out;
    },

    async history(name: string, signal?: AbortSignal): Promise<EngineHistoryItem[]> {
      const ref = checkImageRef(name);
      const ctx: Ctx = { endpoint, what: `history of '${name}'`, image: name };
      const data = await call(ctx.what, `/images/${ref}/history`, { 200: true, 404: 'no such image', 500: 'server error' }, signal, name);
      if (!Array.isArray(data)) throw bad(ctx, 'the history is not a list');
      return data.map((h: unknown): EngineHistoryItem => {
        const r = isObj(h) ? h : {};
        return {
          id: str(r.Id),
          created: num(r.Created),
          createdBy: str(r.CreatedBy),
          size: num(r.Size),
          comment: str(r.Comment),
          tags: tags(r.Tags),
        };
      });
    },

    async listImages(signal?: AbortSignal): Promise<EngineImageSummary[]> {
      const ctx: Ctx = { endpoint, what: 'image list' };
      const data = await call(ctx.what, '/images/json', { 200: true, 400: 'bad parameter', 500: 'server error' }, signal);
      if (!Array.isArray(data)) throw bad(ctx, 'the image list is not a list');
      return data.filter(isObj).map((r): EngineImageSummary => ({
        id: str(r.Id),
        repoTags: tags(r.RepoTags),
        created: num(r.Created),
        size: num(r.Size),
      }));
    },

    exportImage(name: string, signal?: AbortSignal): Promise<Readable> {
      return exportStream(name, signal);
    },

    build(contextTar: Readable, opts: BuildOptions, signal?: AbortSignal): AsyncIterable<BuildMessage> {
      return buildStream(contextTar, opts, signal);
    },

    events(signal: AbortSignal, opts: EventStreamOptions = {}): AsyncIterable<EngineEvent> {
      return eventStream(signal, opts);
    },
  };

  /** GET /events?filters={"type":["image"]}, reconnecting with backoff until `signal` aborts. */
  async function* eventStream(signal: AbortSignal, opts: EventStreamOptions): AsyncGenerator<EngineEvent> {
    const ctx: Ctx = { endpoint, what: 'event stream' };
    const minMs = opts.minBackoffMs ?? 1000;
    const maxMs = opts.maxBackoffMs ?? 30_000;
    let failures = 0;
    while (!signal.aborted) {
      let res: IncomingMessage | undefined;
      let error: EngineError;
      const onAbort = (): void => { res?.destroy(); };
      try {
        const m = await modem(ctx);
        res = await new Promise<IncomingMessage>((resolve, reject) => {
          m.dial({
            path: '/events?', method: 'GET', isStream: true, abortSignal: signal,
            statusCodes: { 200: true, 400: 'bad parameter', 500: 'server error' },
            options: { filters: { type: ['image'] } },
          }, (err, data) => (err ? reject(err) : resolve(data as IncomingMessage)));
        });
        signal.addEventListener('abort', onAbort, { once: true });
        failures = 0;
        opts.onState?.('connected');
        let buf = '';
        for await (const chunk of res as AsyncIterable<Buffer | string>) {
          buf += typeof chunk === 'string' ? chunk : chunk.toString('utf8');
          let i: number;
          while ((i = buf.indexOf('\n')) >= 0) {
            const line = buf.slice(0, i).trim();
            buf = buf.slice(i + 1);
            const ev = line ? parseEvent(line) : undefined;
            if (ev) yield ev;
          }
          if (buf.length > 1 << 20) buf = ''; // a line longer than 1 MiB is not an event
        }
        error = new EngineError('unavailable', `The ${engineName(endpoint)} at ${describeEndpoint(endpoint)} closed the event stream. Did the engine restart?`);
      } catch (e) {
        if (signal.aborted) return;
        error = toEngineError(e, ctx);
      } finally {
        signal.removeEventListener('abort', onAbort);
        if (res && !res.destroyed) res.destroy();
      }
      if (signal.aborted) return;
      opts.onState?.('disconnected', error);
      const wait = Math.min(maxMs, minMs * 2 ** Math.min(failures++, 16));
      await sleep(wait * (0.8 + 0.4 * Math.random()), signal);
    }
  }

  /** POST /build: send the tar, then yield the NDJSON messages of the response. */
  async function* buildStream(contextTar: Readable, opts: BuildOptions, signal?: AbortSignal): AsyncGenerator<BuildMessage> {
    if (opts.tag) checkImageRef(opts.tag);
    const what = `build of '${opts.tag}'`;
    const ctx: Ctx = { endpoint, what };
    if (signal?.aborted) throw new EngineError('aborted', `${cap(what)} was cancelled`);
    const m = await modem(ctx);
    const query: Record<string, unknown> = { dockerfile: opts.dockerfile, t: opts.tag, version: opts.version, rm: true, forcerm: true };
    if (opts.buildargs && Object.keys(opts.buildargs).length > 0) query.buildargs = opts.buildargs;
    if (opts.target) query.target = opts.target;
    if (opts.networkmode) query.networkmode = opts.networkmode;
    if (opts.nocache) query.nocache = true;
    // A failing context stream (unreadable file) must end the request, not hang it.
    const local = new AbortController();
    const reqSignal = signal ? AbortSignal.any([signal, local.signal]) : local.signal;
    let contextError: Error | undefined;
    const onContextError = (e: Error): void => {
      contextError = e;
      local.abort();
    };
    contextTar.once('error', onContextError);
    let res: IncomingMessage;
    try {
      res = await new Promise<IncomingMessage>((resolve, reject) => {
        m.dial({
          path: '/build?', method: 'POST', isStream: true, abortSignal: reqSignal, file: contextTar,
          statusCodes: { 200: true, 400: 'bad parameter', 500: 'server error' }, options: query,
        } as Parameters<Modem['dial']>[0], (err, data) => {
          if (err) reject(err);
          else resolve(data as IncomingMessage);
        });
      });
    } catch (e) {
      contextTar.off('error', onContextError);
      if (contextError) throw new EngineError('unavailable', `Cannot send the build context: ${oneLine(contextError.message)}`);
      throw toEngineError(e, ctx, { user: signal });
    }
    const onAbort = (): void => {
      res.destroy(new EngineError('aborted', `${cap(what)} was cancelled`));
    };
    signal?.addEventListener('abort', onAbort, { once: true });
    let buf = '';
    try {
      for await (const chunk of res as AsyncIterable<Buffer | string>) {
        buf += typeof chunk === 'string' ? chunk : chunk.toString('utf8');
        let i: number;
        while ((i = buf.indexOf('\n')) >= 0) {
          const line = buf.slice(0, i).trim();
          buf = buf.slice(i + 1);
          if (line) yield parseBuildMessage(line, ctx);
        }
      }
      if (buf.trim()) yield parseBuildMessage(buf.trim(), ctx);
      if (!res.complete) {
        throw new EngineError('unavailable', `The ${what} from ${describeEndpoint(endpoint)} ended early (incomplete response)`);
      }
    } catch (e) {
      if (signal?.aborted) throw new EngineError('aborted', `${cap(what)} was cancelled`);
      if (contextError) throw new EngineError('unavailable', `Cannot send the build context: ${oneLine(contextError.message)}`);
      throw toEngineError(e, ctx, { user: signal });
    } finally {
      signal?.removeEventListener('abort', onAbort);
      contextTar.off('error', onContextError);
      // The consumer stopped early (or the build ended): release the connection.
      if (!res.destroyed) res.destroy();
    }
  }

  async function exportStream(name: string, signal?: AbortSignal): Promise<Readable> {
    const ref = checkImageRef(name);
    const what = `export of '${name}'`;
    const ctx: Ctx = { endpoint, what, image: name, timeoutMs: idleMs || undefined };
    if (signal?.aborted) throw new EngineError('aborted', `${cap(what)} was cancelled`);
    const m = await modem(ctx);
    // Docker Engine 20.10 copies the whole image into a staging directory before it sends the
    // response headers (measured 2026-11-26 on a 2-core Debian 12 machine: 12–14 s for a 1.25 GB
    // image, over 60 s for 3.3 GB while the machine was loaded; docs/performance.md). So the wait for headers is not bounded by the idle timeout alone: every idle period
    // the engine is pinged, and the wait goes on while it answers (it is working); it ends with
    // the idle-timeout error when a ping fails or does not answer within the idle period. The body
    // is then guarded chunk by chunk.
    const headerTimeout = new AbortController();
    const reqSignal = signal ? AbortSignal.any([signal, headerTimeout.signal]) : headerTimeout.signal;
    let headerTimer: NodeJS.Timeout | undefined;
    const watch = (): void => {
      headerTimer = setTimeout(() => {
        const probe = AbortSignal.timeout(Math.min(idleMs, timeoutMs));
        m.dial({ path: '/_ping', method: 'GET', abortSignal: probe, statusCodes: { 200: true } }, (err) => {
          if (reqSignal.aborted || headerTimer === undefined) return;
          if (err) headerTimeout.abort();
          else watch();
        });
      }, idleMs);
    };
    if (idleMs > 0) watch();
    // Unix socket or plain TCP: the export is read off the socket by rawGet (src/engine/rawExport.ts),
    // with the same errors; TLS, ssh and named pipes take dockerode's request below.
    const raw = rawTargetOf(endpoint, options.env ?? process.env);
    if (raw) {
      try {
        return await rawGet(raw, `/images/${ref}/get`, {
          signal: reqSignal, idleMs,
          errors: {
            stalled: () => exportStalled(ctx, idleMs),
            dropped: () => exportDropped(ctx),
            // The user's cancel, or the header wait given up (a ping failed): worded as the dockerode path words them.
            aborted: () => toEngineError(Object.assign(new Error('The operation was aborted'), { name: 'AbortError' }), ctx, { user: signal, timeout: headerTimeout.signal }),
            failed: (e) => toEngineError(e, ctx, { user: signal, timeout: headerTimeout.signal }),
          },
        });
      } catch (e) {
        throw toEngineError(e, ctx, { user: signal, timeout: headerTimeout.signal });
      } finally {
        if (headerTimer) clearTimeout(headerTimer);
        headerTimer = undefined;
      }
    }
    let res: IncomingMessage;
    try {
      res = await new Promise<IncomingMessage>((resolve, reject) => {
        m.dial({
          path: `/images/${ref}/get`, method: 'GET', isStream: true, abortSignal: reqSignal,
          statusCodes: { 200: true, 404: 'no such image', 500: 'server error' },
        }, (err, data) => {
          if (err) reject(toEngineError(err, ctx, { user: signal, timeout: headerTimeout.signal }));
          else resolve(data as IncomingMessage);
        });
      });
    } finally {
      if (headerTimer) clearTimeout(headerTimer);
      headerTimer = undefined;
    }
    return guardExport(res, ctx, idleMs, signal);
  }
}

function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const done = (): void => { clearTimeout(timer); signal.removeEventListener('abort', done); resolve(); };
    const timer = setTimeout(done, ms);
    signal.addEventListener('abort', done, { once: true });
  });
}

/** One /events line as an EngineEvent; undefined for lines that are not JSON objects. */
export function parseEvent(line: string): EngineEvent | undefined {
  let v: unknown;
  try { v = JSON.parse(line); } catch { return undefined; }
  if (!isObj(v)) return undefined;
  const actor = isObj(v.Actor) ? v.Actor : {};
  const attrs = isObj(actor.Attributes) ? actor.Attributes : {};
  const ev: EngineEvent = {
    type: str(v.Type, str(v.type)),
    action: str(v.Action, str(v.status)),
    id: str(actor.ID, str(v.id)),
    time: num(v.time),
  };
  if (typeof attrs.name === 'string') ev.name = attrs.name;
  return ev;
}
