// How the client reaches the engine: dockerode's modem set up for the resolved endpoint (unix, named
// pipe, tcp with or without TLS, ssh), and the guard on an export's response stream.
// - The transport is made on a client's first request (openTransport): dockerode, with docker-modem
//   and ssh2, is loaded then, so commands that never reach an engine never load it.
// - dockerode's own environment parsing is bypassed (docker-modem reads DOCKER_HOST/DOCKER_CERT_PATH
//   in its constructor and would otherwise override what the resolver chose, or throw on values
//   the docker CLI accepts).
import { X509Certificate } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import * as https from 'node:https';
import * as os from 'node:os';
import { PassThrough, type Readable } from 'node:stream';
import * as tls from 'node:tls';
import type Dockerode from 'dockerode';
import { EngineError, type EngineEndpoint } from './types';
import { describeEndpoint, nodeFsReader, type EnvLike, type FsReader } from './endpoint';
import type { SshPlan, SshSettings } from './ssh';
import { watchIdle } from './idleWatch';
import { cap, exportDropped, exportStalled, oneLine, toEngineError, type Ctx, type ModemError } from './errors';

/** What a transport is made from, besides the endpoint. */
export interface TransportOptions {
  timeoutMs: number;
  /** ssh:// endpoints: agent, keys and known_hosts (defaults from env and the home directory). */
  ssh?: SshSettings;
  /** Environment for SSH_AUTH_SOCK and USER (default process.env). */
  env?: EnvLike;
  /** Home directory for ~/.ssh (default os.homedir()). */
  homeDir?: string;
  /** File access for ssh keys/known_hosts (default the real file system). */
  fs?: FsReader;
}

export interface Modem {
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

/** An endpoint's transport: its modem, or why there can be none; the ssh plan of an ssh:// endpoint. */
export interface Transport {
  modem?: Modem;
  configError?: EngineError;
  ssh?: SshPlan;
}

/**
 * The transport for an endpoint, made on an engine client's first request: ssh2 (for ssh://) and
 * dockerode are loaded here. No connection is made. A problem with the endpoint's settings is its
 * configError.
 */
export async function openTransport(ep: EngineEndpoint, o: TransportOptions): Promise<Transport> {
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
      const { planSsh } = await import('./ssh');
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
    const Docker = (await import('dockerode')).default;
    const docker = withoutDockerHostEnv(() => new Docker(opts));
    return { modem: docker.modem as unknown as Modem, ssh };
  } catch (e) {
    return { configError: new EngineError('unavailable', `Cannot set up a client for ${at}: ${oneLine((e as Error).message)}`), ssh };
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

/**
 * Pass the response through with backpressure, turning a stall (no bytes for idleMs while the reader
 * wants more), a dropped connection or a cancellation into an EngineError on the returned stream.
 */
export function guardExport(res: IncomingMessage, ctx: Ctx, idleMs: number, signal?: AbortSignal): Readable {
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
