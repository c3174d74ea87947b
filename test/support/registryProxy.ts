// Test-only: a small HTTP server on loopback in front of a real registry, for what Distribution's
// own server does not do: the bearer-token flow (a 401 challenge naming its own /token endpoint,
// tokens issued for user and password or anonymously, refused once they are "expired"), and
// faults: 429 with Retry-After, 5xx, a connection dropped in the middle of a blob, a blob whose
// bytes are changed, Range requests ignored. Every request is logged (method, path, Range,
// Authorization) so tests can say what was and was not read.
import * as http from 'node:http';
import * as net from 'node:net';

export interface LoggedRequest { method: string; path: string; range?: string; authorization?: string; status?: number; at: number }

/** What to do with one request (called for every registry request, not for /token). */
export type Fault =
  | { kind: 'pass' }
  | { kind: 'status'; status: number; retryAfter?: string }
  /** Forward `afterBytes` of the body, then destroy the connection. */
  | { kind: 'drop'; afterBytes: number }
  /** Forward the body with the byte at `offset` changed. */
  | { kind: 'corrupt'; offset: number }
  /** Forward without the Range header (a server that ignores Range). */
  | { kind: 'no-range' };

export interface TokenAuth {
  /** Accepted credentials for the token endpoint; none: tokens are issued anonymously. */
  user?: string;
  password?: string;
  /** Tokens are refused after this many uses (the client must fetch a new one). */
  usesPerToken?: number;
}

export interface RegistryProxy {
  host: string;
  log: LoggedRequest[];
  tokensIssued(): number;
  /** Decides each request's fault (default: pass). */
  fault: (req: LoggedRequest, n: number) => Fault;
  close(): Promise<void>;
}

export async function startRegistryProxy(upstream: string, opts: { token?: TokenAuth } = {}): Promise<RegistryProxy> {
  const [upHost, upPort] = upstream.split(':');
  const log: LoggedRequest[] = [];
  const tokens = new Map<string, number>();
  let issued = 0;
  const sockets = new Set<net.Socket>();
  const proxy: RegistryProxy = {
    host: '',
    log,
    tokensIssued: () => issued,
    fault: () => ({ kind: 'pass' }),
    close: () => new Promise<void>((resolve) => {
      for (const s of sockets) s.destroy();
      server.close(() => resolve());
    }),
  };
  const server = http.createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://x');
    const entry: LoggedRequest = { method: req.method ?? 'GET', path: url.pathname, range: req.headers.range, authorization: req.headers.authorization, at: Date.now() };
    const t = opts.token;
    if (t && url.pathname === '/token') {
      const want = t.user !== undefined ? 'Basic ' + Buffer.from(`${t.user}:${t.password}`).toString('base64') : undefined;
      if (want && req.headers.authorization !== want) {
        res.writeHead(401, { 'content-type': 'application/json' }).end('{"details":"bad credentials"}');
        return;
      }
      const token = `tok-${++issued}-${Math.random().toString(36).slice(2)}`;
      tokens.set(token, 0);
      res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ token, expires_in: 300 }));
      return;
    }
    log.push(entry);
    if (t) {
      const m = /^Bearer (.+)$/.exec(req.headers.authorization ?? '');
      const uses = m ? tokens.get(m[1]) : undefined;
      if (uses === undefined || (t.usesPerToken !== undefined && uses >= t.usesPerToken)) {
        entry.status = 401;
        const repo = /^\/v2\/(.+?)\/(?:manifests|blobs)\//.exec(url.pathname)?.[1];
        res.writeHead(401, {
          'content-type': 'application/json',
          'www-authenticate': `Bearer realm="http://${proxy.host}/token",service="layerlens-test"${repo ? `,scope="repository:${repo}:pull"` : ''}`,
        }).end('{"errors":[{"code":"UNAUTHORIZED","message":"authentication required"}]}');
        return;
      }
      tokens.set(m![1], uses + 1);
    }
    const fault = proxy.fault(entry, log.length - 1);
    if (fault.kind === 'status') {
      entry.status = fault.status;
      res.writeHead(fault.status, fault.retryAfter ? { 'retry-after': fault.retryAfter } : {}).end();
      return;
    }
    const headers = { ...req.headers, host: upstream };
    delete headers.authorization;
    if (fault.kind === 'no-range') delete headers.range;
    const up = http.request({ host: upHost, port: Number(upPort), method: req.method, path: req.url, headers }, (ur) => {
      entry.status = ur.statusCode;
      const h = { ...ur.headers };
      // The upstream's redirects and challenges name the upstream: keep clients on this proxy.
      if (typeof h.location === 'string') h.location = h.location.replace(`//${upstream}`, `//${proxy.host}`);
      res.writeHead(ur.statusCode ?? 502, h);
      let sent = 0;
      ur.on('data', (c: Buffer) => {
        let chunk = c;
        if (fault.kind === 'corrupt' && fault.offset >= sent && fault.offset < sent + c.length) {
          chunk = Buffer.from(c);
          chunk[fault.offset - sent] ^= 0xff;
        }
        if (fault.kind === 'drop' && sent + chunk.length >= fault.afterBytes) {
          res.write(chunk.subarray(0, Math.max(0, fault.afterBytes - sent)));
          sent = fault.afterBytes;
          ur.destroy();
          // Let the bytes go out, then cut the connection in the middle of the body.
          setTimeout(() => res.socket?.destroy(), 20);
          return;
        }
        sent += chunk.length;
        res.write(chunk);
      });
      ur.on('end', () => res.end());
      ur.on('error', () => res.destroy());
    });
    up.on('error', () => res.destroy());
    req.pipe(up);
  });
  server.on('connection', (s) => { sockets.add(s); s.on('close', () => sockets.delete(s)); });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  proxy.host = `127.0.0.1:${(server.address() as net.AddressInfo).port}`;
  return proxy;
}
