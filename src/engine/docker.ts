// EngineClient over dockerode (Docker Engine API; Podman's Docker-compatible API works the same).
//
// - The endpoint comes from endpoint.ts; dockerode's own environment parsing is bypassed (docker-modem
//   reads DOCKER_HOST/DOCKER_CERT_PATH in its constructor and would otherwise override what the
//   resolver chose, or throw on values the docker CLI accepts).
// - Requests go through dockerode's modem (`modem.dial`, the call dockerode's Image.inspect/history/
//   get use) so each one can carry an AbortSignal; dockerode 5's Image methods do not accept one.
// - ping/inspect/history/listImages have a timeout (EngineClientOptions.timeoutMs). The export stream
//   has none overall (it can take minutes) but fails with a clear error when the engine sends
//   nothing for exportIdleTimeoutMs while the consumer is ready for more.
// - Every failure is an EngineError with a one-line message naming the endpoint and where it came from.
import { X509Certificate } from 'node:crypto';
import * as https from 'node:https';
import * as tls from 'node:tls';
import * as os from 'node:os';
import { PassThrough, type Readable } from 'node:stream';
import Dockerode from 'dockerode';
import type { IncomingMessage } from 'node:http';
import {
  EngineError,
  type EngineClient, type EngineEndpoint, type EngineHistoryItem, type EngineImageInspect,
  type EngineImageSummary, type BuildMessage, type BuildOptions, type EngineEvent, type EventStreamOptions,
} from './types';
import { describeEndpoint, nodeFsReader, type EnvLike, type FsReader } from './endpoint';
import { planSsh, type SshPlan, type SshSettings } from './ssh';
import { rawGet, rawTargetOf } from './rawExport';
import { watchIdle } from './idleWatch';

export interface EngineClientOptions {
  /** Timeout for ping, inspect, history and listImages, in ms (default 20000). */
  timeoutMs?: number;
  /**
   * The export stream fails when the engine sends no data for this long while the reader is
   * waiting for more (default 60000 ms; 0 disables). Also bounds the wait for the response headers.
   */
  exportIdleTimeoutMs?: number;
  /** ssh:// endpoints: agent, keys and known_hosts (defaults from env and the home directory). */
  ssh?: SshSettings;
  /** Environment for SSH_AUTH_SOCK and USER (default process.env). */
  env?: EnvLike;
  /** Home directory for ~/.ssh (default os.homedir()). */
  homeDir?: string;
  /** File access for ssh keys/known_hosts (default the real file system). */
  fs?: FsReader;
}

export const DEFAULT_TIMEOUT_MS = 20_000;
export const DEFAULT_EXPORT_IDLE_TIMEOUT_MS = 60_000;

/** Where a request failed: used to build the message. */
interface Ctx {
  endpoint: EngineEndpoint;
  what: string;
  image?: string;
  timeoutMs?: number;
  ssh?: SshPlan;
}

interface ModemError extends Error {
  code?: string;
  errno?: number;
  syscall?: string;
  statusCode?: number;
  json?: unknown;
  reason?: string;
  level?: string;
}

const engineName = (ep: EngineEndpoint): string => (ep.origin === 'podman' ? 'Podman engine' : 'Docker engine');

function hint(ep: EngineEndpoint): string {
  switch (ep.kind) {
    case 'ssh':
      return 'Is sshd running on that host?';
    case 'tcp':
      return 'Is the engine listening there (dockerd -H tcp://...)?';
    default:
      if (ep.origin === 'podman') return 'Is the Podman service running (systemctl --user start podman.socket)?';
      return ep.origin === 'default'
        ? 'Is dockerd running? (Podman sockets were looked for too.)'
        : 'Is dockerd running?';
  }
}

/** The engine's own error text from an HTTP error response, one line. */
function engineMessage(e: ModemError): string {
  const j = e.json;
  let m: string | undefined;
  if (j && typeof j === 'object' && 'message' in j && typeof (j as { message: unknown }).message === 'string') {
    m = (j as { message: string }).message;
  } else if (typeof j === 'string') {
    m = j;
  } else if (Buffer.isBuffer(j)) {
    m = j.toString('utf8');
  }
  if (!m) m = e.message.replace(/^\(HTTP code \d+\)\s*/, '');
  return oneLine(m);
}

function oneLine(s: string): string {
  return s.replace(/\s+/g, ' ').trim();
}

const TLS_VERIFY_CODES = new Set([
  'DEPTH_ZERO_SELF_SIGNED_CERT', 'SELF_SIGNED_CERT_IN_CHAIN', 'UNABLE_TO_VERIFY_LEAF_SIGNATURE',
  'UNABLE_TO_GET_ISSUER_CERT_LOCALLY', 'UNABLE_TO_GET_ISSUER_CERT', 'CERT_UNTRUSTED', 'CERT_SIGNATURE_FAILURE',
  'CERT_NOT_YET_VALID', 'CERT_HAS_EXPIRED', 'ERR_TLS_CERT_ALTNAME_INVALID', 'CERT_REJECTED',
  'INVALID_CA', 'UNABLE_TO_DECRYPT_CERT_SIGNATURE',
]);

/** Map any failure to an EngineError with a one-line message. Exported for unit tests. */
export function toEngineError(err: unknown, ctx: Ctx, signals?: { user?: AbortSignal; timeout?: AbortSignal }): EngineError {
  if (err instanceof EngineError) return err;
  const ep = ctx.endpoint;
  const at = describeEndpoint(ep);
  const name = engineName(ep);
  const e = (err instanceof Error ? err : new Error(String(err))) as ModemError;
  const code = e.code ?? '';
  const msg = e.message ?? '';

  if (signals?.user?.aborted) return new EngineError('aborted', `${cap(ctx.what)} was cancelled`);
  if (signals?.timeout?.aborted || code === 'ETIMEDOUT' || /timed out while waiting for handshake/i.test(msg)) {
    const secs = ctx.timeoutMs !== undefined ? ` within ${fmtSecs(ctx.timeoutMs)}` : '';
    return new EngineError('unavailable', `The ${name} at ${at} did not answer${secs} (${ctx.what}). Is it overloaded or unreachable?`);
  }
  if (e.name === 'AbortError' || code === 'ABORT_ERR') return new EngineError('aborted', `${cap(ctx.what)} was cancelled`);

  if (typeof e.statusCode === 'number') {
    const s = e.statusCode;
    const text = engineMessage(e);
    if (s === 404 && ctx.image !== undefined) {
      return new EngineError('not-found', `Image '${ctx.image}' not found in the ${name} at ${at}`);
    }
    if (s === 400 && /HTTP request to an HTTPS server/i.test(text)) {
      return new EngineError('protocol', `The ${name} at ${at} expects TLS: set DOCKER_TLS_VERIFY=1 and DOCKER_CERT_PATH (or use a context with TLS)`);
    }
    if (s === 401 || s === 403) return new EngineError('permission', `The ${name} at ${at} refused ${ctx.what} (HTTP ${s}): ${text}`);
    if (ctx.image !== undefined && /no such image|reference does not exist|image not known|failed to get digest .*no such file/i.test(text)) {
      return new EngineError('not-found', `Image '${ctx.image}' not found in the ${name} at ${at}`);
    }
    return new EngineError('protocol', `The ${name} at ${at} failed ${ctx.what} (HTTP ${s}): ${text}`);
  }

  // SSH (ssh2 sets err.level).
  if (ep.kind === 'ssh') {
    const problem = ctx.ssh?.lastHostKeyProblem();
    if (problem && /verification failed|host denied/i.test(msg)) {
      return new EngineError('permission', `SSH host key check failed for ${at}: ${problem}`);
    }
    if (e.level === 'client-authentication' || /authentication methods failed/i.test(msg)) {
      const skipped = ctx.ssh?.skippedKeys.length ? `; skipped keys: ${ctx.ssh.skippedKeys.join(', ')}` : '';
      const none = ctx.ssh && !ctx.ssh.hasCredentials
        ? ' (no ssh-agent in SSH_AUTH_SOCK and no usable ~/.ssh/id_* key)' : '';
      return new EngineError('permission', `SSH authentication to ${at} failed${none}${skipped}`);
    }
    if (code === 'ECONNRESET' || /socket hang up/i.test(msg)) {
      return new EngineError('unavailable',
        `The SSH connection to ${at} opened but \`docker system dial-stdio\` did not answer: is the docker CLI on the remote PATH and the remote engine running?`);
    }
  }

  switch (code) {
    case 'ENOENT':
      return new EngineError('unavailable', `Cannot reach the ${name} at ${at}: no such socket. ${hint(ep)}`);
    case 'ECONNREFUSED':
      return new EngineError('unavailable', `Cannot reach the ${name} at ${at}: connection refused. ${hint(ep)}`);
    case 'EACCES':
    case 'EPERM':
      return new EngineError('permission', ep.kind === 'unix'
        ? `Permission denied on ${at}: add your user to the 'docker' group (sudo usermod -aG docker $USER, then log in again) or use rootless Docker/Podman`
        : `Permission denied reaching ${at}`);
    case 'ENOTFOUND':
    case 'EAI_AGAIN':
      return new EngineError('unavailable', `Cannot reach the ${name} at ${at}: host name not found`);
    case 'EHOSTUNREACH':
    case 'ENETUNREACH':
      return new EngineError('unavailable', `Cannot reach the ${name} at ${at}: host unreachable`);
    case 'ECONNRESET':
    case 'EPIPE':
      return new EngineError('unavailable', `The connection to the ${name} at ${at} was dropped (${ctx.what}). Did the engine restart?`);
    default:
      break;
  }
  if (TLS_VERIFY_CODES.has(code)) {
    return new EngineError('protocol', `TLS: the certificate of ${at} is not trusted (${code}): check ca.pem (DOCKER_CERT_PATH) and that the server certificate names this host`);
  }
  if (/certificate required|bad certificate|unknown ca|alert.*certificate|CERTIFICATE_REQUIRED/i.test(msg) || /ALERT_(BAD|UNKNOWN|CERTIFICATE)/.test(code)) {
    return new EngineError('permission', `TLS: the engine at ${at} rejected the client certificate: check cert.pem and key.pem (DOCKER_CERT_PATH)`);
  }
  if (/wrong version number|packet length too long|ERR_SSL_/i.test(msg + ' ' + code) || code === 'EPROTO') {
    return new EngineError('protocol', `TLS handshake with ${at} failed (${oneLine(msg)}): does the engine speak TLS on that port?`);
  }
  if (/^(Parse Error|HPE_)/i.test(msg) || code.startsWith('HPE_')) {
    return new EngineError('protocol', `${at} did not answer like a Docker engine (${ctx.what}): ${oneLine(msg)}`);
  }
  if (/aborted/i.test(msg)) {
    return new EngineError('unavailable', `The connection to the ${name} at ${at} was dropped (${ctx.what}). Did the engine restart?`);
  }
  return new EngineError('unavailable', `${cap(ctx.what)} failed on the ${name} at ${at}: ${oneLine(msg || String(err))}`);
}

function cap(s: string): string {
  return s.charAt(0).toUpperCase() + s.slice(1);
}

function fmtSecs(ms: number): string {
  return ms % 1000 === 0 ? `${ms / 1000} s` : `${(ms / 1000).toFixed(1)} s`;
}

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

function bad(ctx: Ctx, why: string): EngineError {
  return new EngineError('protocol', `Unexpected answer from ${describeEndpoint(ctx.endpoint)} (${ctx.what}): ${why}`);
}

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

interface Modem {
  dial(options: {
    path: string; method: string; isStream?: boolean; abortSignal?: AbortSignal; file?: Readable;
    statusCodes: Record<number, string | boolean>; options?: Record<string, unknown>;
  }, cb: (err: ModemError | null, data: unknown) => void): void;
}

/** docker-modem reads DOCKER_HOST (and then DOCKER_CERT_PATH...) in its constructor; hide it. */
function withoutDockerHostEnv<T>(fn: () => T): T {
  const had = Object.prototype.hasOwnProperty.call(process.env, 'DOCKER_HOST');
  const saved = process.env.DOCKER_HOST;
  if (had) delete process.env.DOCKER_HOST;
  try {
    return fn();
  } finally {
    if (had) process.env.DOCKER_HOST = saved;
  }
}

interface Transport {
  modem?: Modem;
  configError?: EngineError;
  ssh?: SshPlan;
}

function buildTransport(ep: EngineEndpoint, o: Required<Pick<EngineClientOptions, 'timeoutMs'>> & EngineClientOptions): Transport {
  const at = describeEndpoint(ep);
  let opts: Dockerode.DockerOptions & { agent?: https.Agent };
  let ssh: SshPlan | undefined;
  switch (ep.kind) {
    case 'unix':
      if (!ep.socketPath) return { configError: new EngineError('unavailable', `No socket path in ${at}`) };
      opts = { socketPath: ep.socketPath, host: undefined, protocol: 'http' };
      break;
    case 'npipe':
      if (process.platform !== 'win32') {
        return { configError: new EngineError('unavailable', `Cannot use ${at}: named pipes (npipe://) exist only on Windows`) };
      }
      opts = { socketPath: (ep.socketPath ?? '//./pipe/docker_engine').replace(/\//g, '\\'), host: undefined, protocol: 'http' };
      break;
    case 'tcp': {
      if (!ep.host || !ep.port) return { configError: new EngineError('unavailable', `No host or port in ${at}`) };
      if (/^tcp:\/\/[^/]+\/./.test(ep.url)) {
        return { configError: new EngineError('unavailable', `Cannot use ${at}: a URL path after host:port is not supported`) };
      }
      if (ep.tls) {
        const key = ep.tls.key?.toString('utf8');
        if (key && /ENCRYPTED/.test(key)) {
          return { configError: new EngineError('unavailable', `Cannot use ${at}: the TLS private key (key.pem) is encrypted; encrypted keys are not supported (as in the docker CLI)`) };
        }
        let agent: https.Agent;
        try {
          // Fail early and clearly on unusable PEM files (the CLI does too) rather than at connect.
          if (ep.tls.ca) checkCaPem(ep.tls.ca);
          tls.createSecureContext({ ca: ep.tls.ca, cert: ep.tls.cert, key: ep.tls.key });
          agent = new https.Agent({
            ca: ep.tls.ca, cert: ep.tls.cert, key: ep.tls.key,
            rejectUnauthorized: ep.tls.verify, keepAlive: true, maxSockets: 16,
          });
        } catch (e) {
          return { configError: new EngineError('unavailable', `Cannot use the TLS files for ${at}: ${oneLine((e as Error).message)}`) };
        }
        opts = { host: ep.host, port: ep.port, protocol: 'https', socketPath: undefined, agent };
      } else {
        opts = { host: ep.host, port: ep.port, protocol: 'http', socketPath: undefined };
      }
      break;
    }
    case 'ssh': {
      if (!ep.host) return { configError: new EngineError('unavailable', `No host in ${at}`) };
      const env = o.env ?? process.env;
      const username = ep.username ?? env.USER ?? safeUserName();
      ssh = planSsh({ host: ep.host, port: ep.port ?? 22, username }, o.ssh ?? {}, env, o.homeDir ?? os.homedir(),
        o.fs ?? nodeFsReader, o.timeoutMs);
      if (!ssh.hasCredentials) {
        const skipped = ssh.skippedKeys.length ? ` (skipped: ${ssh.skippedKeys.join(', ')})` : '';
        return {
          configError: new EngineError('permission',
            `No SSH credentials for ${at}: start ssh-agent (SSH_AUTH_SOCK) or create ~/.ssh/id_ed25519${skipped}`),
          ssh,
        };
      }
      opts = {
        protocol: 'ssh', host: ep.host, port: ep.port ?? 22, username, socketPath: undefined,
        sshOptions: ssh.config,
      };
      break;
    }
    default:
      return { configError: new EngineError('unavailable', `Unsupported endpoint ${at}`) };
  }
  try {
    const docker = withoutDockerHostEnv(() => new Dockerode(opts));
    return { modem: docker.modem as unknown as Modem, ssh };
  } catch (e) {
    return { configError: new EngineError('unavailable', `Cannot set up a client for ${at}: ${oneLine((e as Error).message)}`) };
  }
}

/** Node silently ignores a CA file without certificates; the docker CLI says "ca.pem seems invalid". */
function checkCaPem(ca: Buffer): void {
  const blocks = ca.toString('utf8').match(/-----BEGIN CERTIFICATE-----[\s\S]*?-----END CERTIFICATE-----/g) ?? [];
  if (blocks.length === 0) throw new Error('ca.pem holds no PEM certificate');
  for (const b of blocks) {
    try {
      new X509Certificate(b);
    } catch (e) {
      throw new Error(`ca.pem seems invalid (${oneLine((e as Error).message)})`);
    }
  }
}

function safeUserName(): string {
  try {
    return os.userInfo().username;
  } catch {
    return 'root';
  }
}

/** Create the engine client for a resolved endpoint. Never throws; problems surface from each call. */
export function createEngineClient(endpoint: EngineEndpoint, options: EngineClientOptions = {}): EngineClient {
  const timeoutMs = options.timeoutMs ?? DEFAULT_TIMEOUT_MS;
  const idleMs = options.exportIdleTimeoutMs ?? DEFAULT_EXPORT_IDLE_TIMEOUT_MS;
  const t = buildTransport(endpoint, { ...options, timeoutMs });

  function modem(): Modem {
    if (t.configError) throw t.configError;
    if (!t.modem) throw new EngineError('unavailable', `No client for ${describeEndpoint(endpoint)}`);
    return t.modem;
  }

  /** A JSON API call with timeout + cancellation. */
  async function call(what: string, path: string, statusCodes: Record<number, string | boolean>,
    signal: AbortSignal | undefined, image?: string): Promise<unknown> {
    const ctx: Ctx = { endpoint, what, image, timeoutMs, ssh: t.ssh };
    if (signal?.aborted) throw new EngineError('aborted', `${cap(what)} was cancelled`);
    const m = modem();
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
    const ctx: Ctx = { endpoint, what: 'event stream', ssh: t.ssh };
    const minMs = opts.minBackoffMs ?? 1000;
    const maxMs = opts.maxBackoffMs ?? 30_000;
    let failures = 0;
    while (!signal.aborted) {
      let res: IncomingMessage | undefined;
      let error: EngineError;
      const onAbort = (): void => { res?.destroy(); };
      try {
        const m = modem();
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
    const ctx: Ctx = { endpoint, what, ssh: t.ssh };
    if (signal?.aborted) throw new EngineError('aborted', `${cap(what)} was cancelled`);
    const m = modem();
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
    const ctx: Ctx = { endpoint, what, image: name, timeoutMs: idleMs || undefined, ssh: t.ssh };
    if (signal?.aborted) throw new EngineError('aborted', `${cap(what)} was cancelled`);
    const m = modem();
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

/** The export stalled: no bytes for idleMs while the reader wanted more. */
function exportStalled(ctx: Ctx, idleMs: number): EngineError {
  return new EngineError('unavailable', `The ${engineName(ctx.endpoint)} at ${describeEndpoint(ctx.endpoint)} stopped sending the ${ctx.what} (no data for ${fmtSecs(idleMs)})`);
}

/** The connection ended before the export did. */
function exportDropped(ctx: Ctx): EngineError {
  return new EngineError('unavailable', `The connection to the ${engineName(ctx.endpoint)} at ${describeEndpoint(ctx.endpoint)} was dropped during the ${ctx.what}. Did the engine restart?`);
}

/**
 * Pass the response through with backpressure, turning a stall (no bytes for idleMs while the reader
 * wants more), a dropped connection or a cancellation into an EngineError on the returned stream.
 */
function guardExport(res: IncomingMessage, ctx: Ctx, idleMs: number, signal?: AbortSignal): Readable {
  const out = new PassThrough({ highWaterMark: 1 << 20 });
  const at = describeEndpoint(ctx.endpoint);
  let done = false;

  const finish = (err?: EngineError): void => {
    if (done) return;
    done = true;
    watch.stop();
    signal?.removeEventListener('abort', onAbort);
    if (err) {
      res.unpipe(out);
      res.destroy();
      out.destroy(err);
    }
  };
  const onAbort = (): void => finish(new EngineError('aborted', `${cap(ctx.what)} was cancelled`));
  // A full buffer means the reader is slow, not the engine.
  const watch = watchIdle(idleMs, { readerBehind: () => out.writableNeedDrain, onStall: () => finish(exportStalled(ctx, idleMs)) });

  res.on('data', () => watch.touch());
  out.on('drain', () => watch.touch());
  res.on('error', (e) => finish(toEngineError(e, ctx, { user: signal })));
  res.on('aborted', () => finish(exportDropped(ctx)));
  res.on('end', () => {
    if (!res.complete) {
      finish(new EngineError('unavailable', `The ${ctx.what} from ${at} ended early (incomplete response)`));
    } else {
      finish();
    }
  });
  // The reader gave up early: stop pulling from the engine.
  out.on('close', () => {
    if (!done) {
      done = true;
      watch.stop();
      signal?.removeEventListener('abort', onAbort);
      res.destroy();
    }
  });
  if (signal?.aborted) {
    onAbort();
    return out;
  }
  if (signal) signal.addEventListener('abort', onAbort, { once: true });
  res.pipe(out);
  return out;
}
