// HTTP to one registry, as docker reaches it: https with the system's CAs plus
// /etc/docker/certs.d/HOST/ (`*.crt` CAs, `*.cert` + `*.key` a client certificate); plain http
// only for a loopback host or one listed as insecure, and then only after https failed (docker's
// order). Every request:
// - authenticates on a 401 challenge: `Basic` with the host's credentials, or `Bearer`: the token
//   endpoint the challenge names (realm, service, scope), anonymously or with the credentials
//   (an identity token by the refresh-token grant); one token is shared by concurrent requests
//   and fetched again when the registry refuses it (tokens expire);
// - retries 429 (after its Retry-After) and 5xx answers and dropped connections, with exponential
//   backoff and jitter, up to `retries` times;
// - follows redirects (blob storage elsewhere), without credentials to another host.
// Errors are RegistryError: one line naming the registry and what failed.
import { readdirSync, readFileSync } from 'node:fs';
import * as http from 'node:http';
import * as https from 'node:https';
import * as nodePath from 'node:path';
import * as tls from 'node:tls';
import { CancelledError, ImageFormatError, type FormatErrorCode } from '../../core/image/errors';
import { credentialsFor, type Credentials } from './credentials';
import { isLoopback, type RegistryRef } from './reference';

/** How registries are reached (the CLI's flags, the extension's settings). */
export interface RegistryOptions {
  /** Hosts (HOST[:PORT]) that may be reached over plain http; loopback hosts always may. */
  insecure?: readonly string[];
  /** Docker's per-registry certificate directories (default /etc/docker/certs.d). */
  certsDir?: string;
  /** The docker CLI's configuration directory (default $DOCKER_CONFIG, else ~/.docker). */
  dockerConfigDir?: string;
  /** Blobs read at once (default 3, docker's max-concurrent-downloads). */
  parallel?: number;
  /** Retries of one request (default 5). */
  retries?: number;
  /** The first backoff delay in ms (default 500; doubled at each retry, at most 10 s). */
  backoffMs?: number;
  /**
   * Read every layer blob whole, checked against its digests, even where the layer carries a table
   * of contents (eStargz, zstd:chunked) that lets its index be read with Range requests (`--full-read`).
   */
  fullRead?: boolean;
}

export type RegistryErrorKind = 'unauthorized' | 'denied' | 'not-found' | 'unreachable' | 'protocol' | 'digest';

const CODES: Record<RegistryErrorKind, FormatErrorCode> = {
  unauthorized: 'unsupported', denied: 'unsupported', 'not-found': 'missing', unreachable: 'truncated', protocol: 'unsupported', digest: 'corrupt',
};

export class RegistryError extends ImageFormatError {
  constructor(readonly kind: RegistryErrorKind, message: string) {
    super(CODES[kind], message);
    this.name = 'RegistryError';
  }
}

const SYSTEM_BUNDLES = ['/etc/ssl/certs/ca-certificates.crt', '/etc/pki/tls/certs/ca-bundle.crt', '/etc/ssl/ca-bundle.pem', '/etc/ssl/cert.pem'];
let systemCas: string[] | undefined;

/** The system's CA bundle (Debian's, Red Hat's, SUSE's, Alpine's path) and Node's own roots. */
function systemCertificates(): string[] {
  if (systemCas) return systemCas;
  const out = [...tls.rootCertificates];
  for (const f of SYSTEM_BUNDLES) {
    try {
      out.push(readFileSync(f, 'utf8'));
      break;
    } catch {
      // the next path
    }
  }
  return (systemCas = out);
}

/** TLS options for `host`: the system CAs plus certs.d/HOST/*.crt, and a client certificate there. */
export function tlsOptionsFor(host: string, certsDir = '/etc/docker/certs.d'): https.AgentOptions {
  const dir = nodePath.join(certsDir, host.replace(/[[\]]/g, ''));
  const ca = [...systemCertificates()];
  const opts: https.AgentOptions = {};
  let names: string[] = [];
  try {
    names = readdirSync(dir);
  } catch {
    // no directory for this host
  }
  for (const n of names.sort()) {
    const p = nodePath.join(dir, n);
    if (n.endsWith('.crt')) ca.push(readFileSync(p, 'utf8'));
    if (n.endsWith('.cert')) {
      const key = nodePath.join(dir, n.slice(0, -'.cert'.length) + '.key');
      try {
        opts.key = readFileSync(key);
        opts.cert = readFileSync(p);
      } catch {
        throw new ImageFormatError('missing', `${p} has no matching ${key}`);
      }
    }
  }
  opts.ca = ca;
  return opts;
}

/** A request's outcome: the response (any status), its body left to read. */
type Response = http.IncomingMessage;

const sleep = (ms: number, signal?: AbortSignal): Promise<void> => new Promise((resolve, reject) => {
  if (signal?.aborted) { reject(new CancelledError()); return; }
  const t = setTimeout(() => { signal?.removeEventListener('abort', onAbort); resolve(); }, ms);
  const onAbort = (): void => { clearTimeout(t); reject(new CancelledError()); };
  signal?.addEventListener('abort', onAbort, { once: true });
});

/** Drains and discards a response body (so its socket goes back to the pool). */
function discard(res: Response): void {
  res.resume();
  res.on('error', () => undefined);
}

/** A whole (small) body, at most `max` bytes. */
export async function readBody(res: Response, max: number, what: string): Promise<Buffer> {
  const parts: Buffer[] = [];
  let n = 0;
  for await (const c of res as AsyncIterable<Buffer>) {
    n += c.length;
    if (n > max) {
      res.destroy();
      throw new RegistryError('protocol', `${what} is larger than ${max} bytes`);
    }
    parts.push(c);
  }
  return Buffer.concat(parts);
}

/** Network failures worth another try: the connection was refused, reset, timed out or cut. */
export function isRetryableNetworkError(e: unknown): boolean {
  const err = e as NodeJS.ErrnoException;
  if (!err || err instanceof ImageFormatError || err instanceof CancelledError) return false;
  return ['ECONNRESET', 'ECONNREFUSED', 'EPIPE', 'ETIMEDOUT', 'EAI_AGAIN', 'ENETUNREACH', 'EHOSTUNREACH', 'ERR_STREAM_PREMATURE_CLOSE', 'UND_ERR_SOCKET'].includes(err.code ?? '')
    || /socket hang up|aborted|premature/i.test(err.message ?? '');
}

/** The Retry-After of a response in ms (seconds or an HTTP date), capped at a minute. */
export function retryAfterMs(value: string | undefined, now = Date.now()): number | undefined {
  if (!value) return undefined;
  const s = Number(value);
  const ms = Number.isFinite(s) ? s * 1000 : Date.parse(value) - now;
  return Number.isFinite(ms) ? Math.min(60_000, Math.max(0, ms)) : undefined;
}

/** `Bearer realm="…",service="…"` → scheme and parameters (quoted or bare values). */
export function parseChallenge(header: string | string[] | undefined): { scheme: string; params: Record<string, string> } | undefined {
  const all = Array.isArray(header) ? header : header ? [header] : [];
  const parsed = all.map((h) => {
    const m = /^\s*([A-Za-z]+)\s*(.*)$/.exec(h);
    if (!m) return undefined;
    const params: Record<string, string> = {};
    const re = /([A-Za-z_]+)\s*=\s*(?:"((?:[^"\\]|\\.)*)"|([^,\s]*))\s*,?/g;
    for (let p = re.exec(m[2]); p; p = re.exec(m[2])) params[p[1].toLowerCase()] = p[2] !== undefined ? p[2].replace(/\\(.)/g, '$1') : p[3];
    return { scheme: m[1].toLowerCase(), params };
  }).filter((c): c is { scheme: string; params: Record<string, string> } => !!c);
  return parsed.find((c) => c.scheme === 'bearer') ?? parsed.find((c) => c.scheme === 'basic');
}

export interface RequestOptions {
  method?: 'GET' | 'HEAD';
  accept?: string;
  /** Ask for the bytes from this offset on (a resumed blob). */
  rangeFrom?: number;
  /** Ask for the bytes from `rangeFrom` to this offset, included (a part of a blob). */
  rangeTo?: number;
  signal?: AbortSignal;
}

export class RegistryTransport {
  private scheme: 'https' | 'http' | undefined;
  private readonly httpsAgent: https.Agent;
  private readonly httpAgent: http.Agent;
  /** The Authorization header in use, and the refresh in flight. */
  private authorization: string | undefined;
  private refreshing: Promise<void> | undefined;
  private creds: Promise<Credentials | undefined> | undefined;
  readonly retries: number;
  private readonly backoffMs: number;
  /** What the requests of this transport did (tests and LAYERLENS_DEBUG). */
  readonly stats = { requests: 0, retries: 0, resumes: 0, tokens: 0, rangeRequests: 0, rangeBytes: 0 };

  constructor(readonly ref: RegistryRef, private readonly opts: RegistryOptions = {}) {
    const sockets = (opts.parallel ?? 3) + 2;
    this.httpsAgent = new https.Agent({ keepAlive: true, maxSockets: sockets, ...tlsOptionsFor(ref.host, opts.certsDir) });
    this.httpAgent = new http.Agent({ keepAlive: true, maxSockets: sockets });
    this.retries = opts.retries ?? 5;
    this.backoffMs = opts.backoffMs ?? 500;
  }

  /** Plain http is allowed: a loopback host, or one the user listed as insecure. */
  get mayUseHttp(): boolean {
    const h = this.ref.host;
    return isLoopback(h) || (this.opts.insecure ?? []).some((i) => i.toLowerCase() === h || i.toLowerCase() === this.ref.apiHost);
  }

  close(): void {
    this.httpsAgent.destroy();
    this.httpAgent.destroy();
  }

  /** The delay before retry `attempt` (1-based): exponential, with jitter, at most 10 s. */
  backoff(attempt: number): number {
    const base = Math.min(10_000, this.backoffMs * 2 ** (attempt - 1));
    return Math.round(base * (0.5 + Math.random() / 2));
  }

  private get what(): string {
    return `registry ${this.ref.host}`;
  }

  private credentials(): Promise<Credentials | undefined> {
    this.creds ??= credentialsFor(this.ref.host, { configDir: this.opts.dockerConfigDir });
    return this.creds;
  }

  /** One HTTP exchange, no retry: the response with its headers (body unread). */
  private send(url: URL, headers: Record<string, string>, method: string, signal?: AbortSignal): Promise<Response> {
    this.stats.requests++;
    const isHttps = url.protocol === 'https:';
    const mod = isHttps ? https : http;
    const agent = url.host === this.ref.apiHost ? (isHttps ? this.httpsAgent : this.httpAgent) : undefined;
    return new Promise((resolve, reject) => {
      const req = mod.request(url, { method, headers: { 'user-agent': 'layerlens', ...headers }, agent, signal, timeout: 60_000 }, resolve);
      req.on('timeout', () => req.destroy(Object.assign(new Error(`no answer from ${url.host} within 60 s`), { code: 'ETIMEDOUT' })));
      req.on('error', (e) => reject(signal?.aborted ? new CancelledError() : e));
      req.end();
    });
  }

  private url(path: string): URL {
    return new URL(`${this.scheme ?? 'https'}://${this.ref.apiHost}${path}`);
  }

  /**
   * A request to the registry (`path` from `/v2/`): authenticated, retried, redirected. Resolves
   * with a 2xx response or a 404 (the caller names what was not found); anything else throws.
   */
  async request(path: string, o: RequestOptions = {}): Promise<Response> {
    const method = o.method ?? 'GET';
    let url = this.url(path);
    let attempt = 0;
    let authTries = 0;
    for (let redirects = 0; ;) {
      const headers: Record<string, string> = {};
      if (o.accept) headers.accept = o.accept;
      if (o.rangeTo !== undefined) headers.range = `bytes=${o.rangeFrom ?? 0}-${o.rangeTo}`;
      else if (o.rangeFrom) headers.range = `bytes=${o.rangeFrom}-`;
      const sameHost = url.host === this.ref.apiHost;
      const auth = this.authorization;
      if (sameHost && auth) headers.authorization = auth;
      let res: Response;
      try {
        res = await this.send(url, headers, method, o.signal);
      } catch (e) {
        if (e instanceof CancelledError || o.signal?.aborted) throw new CancelledError();
        if (sameHost && this.scheme !== 'https' && url.protocol === 'https:' && this.mayUseHttp) {
          // docker's order for an insecure registry: https first, then plain http.
          this.scheme = 'http';
          url = this.url(path);
          continue;
        }
        if (isRetryableNetworkError(e) && attempt < this.retries) {
          attempt++;
          this.stats.retries++;
          await sleep(this.backoff(attempt), o.signal);
          continue;
        }
        throw this.networkError(e, url);
      }
      if (sameHost) this.scheme ??= url.protocol === 'https:' ? 'https' : 'http';
      const status = res.statusCode ?? 0;
      if (status === 401 && sameHost && authTries < 2) {
        // A refused token (expired, or another request's) is fetched again once.
        discard(res);
        authTries++;
        await this.refreshAuthorization(auth, res.headers['www-authenticate']);
        continue;
      }
      if (status >= 300 && status < 400 && res.headers.location && redirects < 5) {
        discard(res);
        redirects++;
        url = new URL(res.headers.location, url);
        if (url.protocol === 'http:' && !(url.host === this.ref.apiHost ? this.mayUseHttp : isLoopback(url.host))) {
          throw new RegistryError('protocol', `${this.what} redirects to ${url.origin}, plain http on a host not listed as insecure`);
        }
        continue;
      }
      if ((status === 429 || status >= 500) && attempt < this.retries) {
        discard(res);
        attempt++;
        this.stats.retries++;
        await sleep(retryAfterMs(res.headers['retry-after'] as string | undefined) ?? this.backoff(attempt), o.signal);
        continue;
      }
      if ((status >= 200 && status < 300) || status === 404) return res;
      const body = method === 'GET' ? (await readBody(res, 64 * 1024, 'an error answer').catch(() => Buffer.alloc(0))).toString('utf8') : '';
      throw this.statusError(status, body, !!auth);
    }
  }

  /** After a 401: a new Authorization from the challenge (one refresh at a time, shared). */
  private async refreshAuthorization(used: string | undefined, challengeHeader: string | string[] | undefined): Promise<void> {
    if (this.authorization !== used) return; // another request refreshed it meanwhile
    if (!this.refreshing) {
      this.refreshing = this.authorize(challengeHeader).finally(() => { this.refreshing = undefined; });
    }
    await this.refreshing;
  }

  private async authorize(challengeHeader: string | string[] | undefined): Promise<void> {
    const challenge = parseChallenge(challengeHeader);
    // Credentials are looked up (a helper run) only once the registry asks for them.
    const creds = await this.credentials();
    if (!challenge) throw this.unauthorized(creds, 'it asked for authentication without a challenge it could follow');
    // A registry token from config.json is tried as is, before the challenge's own flow.
    if (challenge.scheme === 'bearer' && creds?.registryToken && this.authorization !== `Bearer ${creds.registryToken}`) {
      this.authorization = `Bearer ${creds.registryToken}`;
      return;
    }
    if (challenge.scheme === 'basic') {
      if (creds?.username === undefined || creds.password === undefined) throw this.unauthorized(creds, 'it wants a user name and password');
      if (this.authorization?.startsWith('Basic ')) throw this.unauthorized(creds, 'it refused the user name and password');
      this.authorization = 'Basic ' + Buffer.from(`${creds.username}:${creds.password}`).toString('base64');
      return;
    }
    this.authorization = `Bearer ${await this.fetchToken(challenge.params, creds)}`;
  }

  /** The token endpoint (the challenge's realm): a bearer token for this repository. */
  private async fetchToken(params: Record<string, string>, creds: Credentials | undefined): Promise<string> {
    let realm: URL;
    try {
      realm = new URL(params.realm ?? '');
    } catch {
      throw new RegistryError('protocol', `${this.what} names no usable token endpoint (realm '${params.realm ?? ''}')`);
    }
    if (realm.protocol !== 'https:' && !(realm.protocol === 'http:' && (isLoopback(realm.host) || (this.mayUseHttp && this.scheme === 'http')))) {
      throw new RegistryError('protocol', `${this.what} names a token endpoint at ${realm.origin}: only https (or http on a loopback or insecure registry) is used`);
    }
    const scope = params.scope ?? `repository:${this.ref.repo}:pull`;
    const headers: Record<string, string> = {};
    let method = 'GET';
    let body: string | undefined;
    if (creds?.identityToken) {
      method = 'POST';
      headers['content-type'] = 'application/x-www-form-urlencoded';
      body = new URLSearchParams({ grant_type: 'refresh_token', refresh_token: creds.identityToken, service: params.service ?? '', scope, client_id: 'layerlens' }).toString();
    } else {
      if (params.service) realm.searchParams.set('service', params.service);
      for (const s of scope.split(' ')) realm.searchParams.append('scope', s);
      if (creds?.username !== undefined && creds.password !== undefined) {
        headers.authorization = 'Basic ' + Buffer.from(`${creds.username}:${creds.password}`).toString('base64');
      }
    }
    for (let attempt = 0; ; attempt++) {
      this.stats.tokens++;
      let res: Response;
      try {
        res = await this.sendBody(realm, headers, method, body);
      } catch (e) {
        if (isRetryableNetworkError(e) && attempt < this.retries) { await sleep(this.backoff(attempt + 1)); continue; }
        throw this.networkError(e, realm);
      }
      const status = res.statusCode ?? 0;
      if ((status === 429 || status >= 500) && attempt < this.retries) {
        discard(res);
        await sleep(retryAfterMs(res.headers['retry-after'] as string | undefined) ?? this.backoff(attempt + 1));
        continue;
      }
      if (status === 401 || status === 403) {
        discard(res);
        throw this.unauthorized(creds, `its token endpoint ${realm.origin}${realm.pathname} refused ${creds ? 'the credentials' : 'an anonymous request'}`);
      }
      const text = (await readBody(res, 1024 * 1024, 'the token answer')).toString('utf8');
      if (status !== 200) throw new RegistryError('protocol', `${this.what}: its token endpoint answered ${status}`);
      try {
        const doc = JSON.parse(text) as { token?: unknown; access_token?: unknown };
        const t = typeof doc.token === 'string' && doc.token ? doc.token : doc.access_token;
        if (typeof t === 'string' && t) return t;
      } catch {
        // reported below
      }
      throw new RegistryError('protocol', `${this.what}: its token endpoint gave no token`);
    }
  }

  private sendBody(url: URL, headers: Record<string, string>, method: string, body?: string): Promise<Response> {
    const mod = url.protocol === 'https:' ? https : http;
    const tlsOpts = url.protocol === 'https:' ? tlsOptionsFor(url.host, this.opts.certsDir) : {};
    return new Promise((resolve, reject) => {
      const req = mod.request(url, { method, headers: { 'user-agent': 'layerlens', ...headers }, timeout: 60_000, ...tlsOpts }, resolve);
      req.on('timeout', () => req.destroy(Object.assign(new Error(`no answer from ${url.host} within 60 s`), { code: 'ETIMEDOUT' })));
      req.on('error', reject);
      req.end(body);
    });
  }

  private unauthorized(creds: Credentials | undefined, why: string): RegistryError {
    const hint = creds ? `with the credentials from ${creds.from}` : `no credentials for ${this.ref.host} in config.json (docker login ${this.ref.host})`;
    return new RegistryError('unauthorized', `${this.what}: unauthorized to read ${this.ref.repo}: ${why}; ${hint}`);
  }

  private statusError(status: number, body: string, authed: boolean): RegistryError {
    let detail = '';
    try {
      const doc = JSON.parse(body) as { errors?: Array<{ code?: string; message?: string }> };
      const e = doc.errors?.[0];
      if (e) detail = `: ${e.code ?? ''}${e.message ? ` ${e.message}` : ''}`.trimEnd();
    } catch {
      // not a registry error document
    }
    if (status === 401) return new RegistryError('unauthorized', `${this.what}: unauthorized to read ${this.ref.repo}${authed ? ' (credentials refused)' : ''}${detail}`);
    if (status === 403) return new RegistryError('denied', `${this.what}: access to ${this.ref.repo} denied${detail}`);
    if (status === 429) return new RegistryError('unreachable', `${this.what}: too many requests (429) after ${this.retries} retries`);
    return new RegistryError(status >= 500 ? 'unreachable' : 'protocol', `${this.what} answered ${status}${detail}`);
  }

  networkError(e: unknown, url: URL): RegistryError {
    const err = e as NodeJS.ErrnoException;
    const tlsHint = /certificate|self[- ]signed|unable to verify|SSL|EPROTO/i.test(`${err?.code ?? ''} ${err?.message ?? ''}`)
      ? ` (a private CA goes in /etc/docker/certs.d/${this.ref.host}/ca.crt${this.mayUseHttp ? '' : `; a plain-http registry must be listed as insecure: --insecure-registry ${this.ref.host}`})` : '';
    // One line: OpenSSL's messages carry a newline and its source location; keep the reason.
    let msg = (err?.message ?? String(e)).replace(/\s+/g, ' ').trim();
    const ssl = /SSL routines:[^:]*:([^:]+):/.exec(msg);
    if (ssl) msg = `TLS handshake failed: ${ssl[1]}`;
    return new RegistryError('unreachable', `cannot reach ${this.what} at ${url.origin}: ${err?.code && !msg.includes(err.code) ? `${err.code} ` : ''}${msg}${tlsHint}`);
  }
}
