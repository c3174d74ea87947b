// Engine failures as EngineErrors with one-line messages that name the endpoint and where it came
// from (the engine's own text, a socket error, TLS, ssh), for every request of the client
// (src/engine/docker.ts) and the export readers (src/engine/transport.ts, src/engine/rawExport.ts).
import { EngineError, type EngineEndpoint } from './types';
import { describeEndpoint } from './endpoint';
import type { SshPlan } from './ssh';

/** Where a request failed: used to build the message. */
export interface Ctx {
  endpoint: EngineEndpoint;
  what: string;
  image?: string;
  timeoutMs?: number;
  ssh?: SshPlan;
}

export interface ModemError extends Error {
  code?: string;
  errno?: number;
  syscall?: string;
  statusCode?: number;
  json?: unknown;
  reason?: string;
  level?: string;
}

export const engineName = (ep: EngineEndpoint): string => (ep.origin === 'podman' ? 'Podman engine' : 'Docker engine');

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

export function oneLine(s: string): string {
  return s.replace(/\s+/g, ' ').trim();
}

const TLS_VERIFY_CODES = new Set([
  'DEPTH_ZERO_SELF_SIGNED_CERT', 'SELF_SIGNED_CERT_IN_CHAIN', 'UNABLE_TO_VERIFY_LEAF_SIGNATURE',
  'UNABLE_TO_GET_ISSUER_CERT_LOCALLY', 'UNABLE_TO_GET_ISSUER_CERT', 'CERT_UNTRUSTED', 'CERT_SIGNATURE_FAILURE',
  'CERT_NOT_YET_VALID', 'CERT_HAS_EXPIRED', 'ERR_TLS_CERT_ALTNAME_INVALID', 'CERT_REJECTED',
  'INVALID_CA', 'UNABLE_TO_DECRYPT_CERT_SIGNATURE',
]);

/** Map any failure to an EngineError with a one-line message. */
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

export function cap(s: string): string {
  return s.charAt(0).toUpperCase() + s.slice(1);
}

export function fmtSecs(ms: number): string {
  return ms % 1000 === 0 ? `${ms / 1000} s` : `${(ms / 1000).toFixed(1)} s`;
}

/** An answer of the wrong shape. */
export function bad(ctx: Ctx, why: string): EngineError {
  return new EngineError('protocol', `Unexpected answer from ${describeEndpoint(ctx.endpoint)} (${ctx.what}): ${why}`);
}

/** The export stalled: no bytes for idleMs while the reader wanted more. */
export function exportStalled(ctx: Ctx, idleMs: number): EngineError {
  return new EngineError('unavailable', `The ${engineName(ctx.endpoint)} at ${describeEndpoint(ctx.endpoint)} stopped sending the ${ctx.what} (no data for ${fmtSecs(idleMs)})`);
}

/** The connection ended before the export did. */
export function exportDropped(ctx: Ctx): EngineError {
  return new EngineError('unavailable', `The connection to the ${engineName(ctx.endpoint)} at ${describeEndpoint(ctx.endpoint)} was dropped during the ${ctx.what}. Did the engine restart?`);
}
