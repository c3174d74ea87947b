// Resolve the container engine endpoint the way the docker CLI does (docker/cli
// cli/command/cli.go resolveContextName + resolveDefaultDockerEndpoint, cli/flags/options.go,
// opts/hosts.go, cli/context/store), as a pure function of (env, home dir, a file reader), so it
// can be unit-tested without touching the machine.
//
// Precedence (first match wins), as in the CLI:
//   1. `context` option (like `docker --context NAME`)
//   2. `host` option (like `docker -H HOST`; the machine-scoped VS Code setting feeds it)
//   3. DOCKER_HOST (non-empty)                       -> the default context with that host
//   4. DOCKER_CONTEXT (non-empty)                    -> that context
//   5. `currentContext` in $DOCKER_CONFIG/config.json (default ~/.docker/config.json)
//   6. the default context: unix:///var/run/docker.sock; with TLS enabled by env, tcp://localhost:2376
// Giving both `context` and `host` is an error, as `docker --context X -H Y` is.
// Layer Lens addition (not in the CLI): when nothing at all is configured and the default socket
// does not exist, Podman's Docker-compatible sockets are tried ($XDG_RUNTIME_DIR/podman/podman.sock,
// then /run/podman/podman.sock).
//
// TLS for the default context (DOCKER_HOST / host option / nothing): enabled when DOCKER_TLS_VERIFY
// or DOCKER_TLS is non-empty (any value, even "0", as in the CLI); verification on iff
// DOCKER_TLS_VERIFY is non-empty. Files from DOCKER_CERT_PATH, else the config dir: ca.pem is
// required (the CLI fails when it is missing), cert.pem and key.pem are used when present.
// TLS for a named context: the files under contexts/tls/<sha256(name)>/docker/, plus SkipTLSVerify.
// TLS only applies to tcp endpoints (the CLI ignores it for unix/npipe sockets and ssh).
import { createHash } from 'node:crypto';
import * as nodeFs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { EngineError, type EngineEndpoint } from './types';

/** The file access the resolver needs; tests pass an in-memory implementation. */
export interface FsReader {
  /** File contents, or undefined when the file does not exist. Other errors throw. */
  readFile(file: string): Buffer | undefined;
  /** Whether something exists at this path (used for socket files). */
  exists(file: string): boolean;
}

export type EnvLike = Readonly<Record<string, string | undefined>>;

export interface ResolveEndpointInput {
  env: EnvLike;
  homeDir: string;
  fs: FsReader;
  /**
   * Machine-scoped engine host (DOCKER_HOST syntax), like `docker -H`. Wins over DOCKER_HOST and
   * contexts. Empty/whitespace means "not set".
   */
  host?: string;
  /** Where `host` came from, used in messages (default 'setting'). */
  hostOrigin?: string;
  /** Context name, like `docker --context`. Wins over everything. Empty means "not set". */
  context?: string;
}

/** The endpoint plus non-fatal remarks (e.g. an unreadable config.json the CLI would warn about). */
export interface ResolvedEndpoint extends EngineEndpoint {
  warnings: string[];
}

/** An endpoint configuration problem (bad DOCKER_HOST, missing context, missing ca.pem...). */
export class EndpointConfigError extends EngineError {
  constructor(message: string) {
    super('unavailable', message);
    this.name = 'EndpointConfigError';
  }
}

export const DEFAULT_UNIX_SOCKET = '/var/run/docker.sock';
export const DEFAULT_NAMED_PIPE = '//./pipe/docker_engine';
const DEFAULT_TCP_HOST = 'localhost';
const DEFAULT_HTTP_PORT = 2375;
const DEFAULT_TLS_PORT = 2376;
export const PODMAN_ROOTFUL_SOCKET = '/run/podman/podman.sock';

/** The context store directory name of a context: hex sha256 of its name (as the CLI). */
export function contextId(name: string): string {
  return createHash('sha256').update(name, 'utf8').digest('hex');
}

/** $DOCKER_CONFIG, else ~/.docker. */
export function dockerConfigDir(env: EnvLike, homeDir: string): string {
  const d = env.DOCKER_CONFIG;
  return d ? d : path.join(homeDir, '.docker');
}

const nonEmpty = (v: string | undefined): v is string => v !== undefined && v !== '';

interface ParsedHost {
  kind: EngineEndpoint['kind'];
  url: string;
  socketPath?: string;
  host?: string;
  port?: number;
  username?: string;
}

/**
 * Parse a DOCKER_HOST-style value as the CLI's opts.ParseHost does, and split it into parts.
 * `what` names the source in error messages (e.g. 'DOCKER_HOST').
 * Normalizes like the CLI: "" -> default socket (or tcp://localhost:2376 when defaultToTLS),
 * "host:port" / "tcp://" -> tcp with default host localhost and port 2375, "unix://" -> the default
 * socket. Throws EndpointConfigError with a one-line message on bad values.
 */
export function parseDockerHost(value: string, defaultToTLS: boolean, what = 'DOCKER_HOST'): ParsedHost {
  const raw = value.trim();
  const bad = (why: string): EndpointConfigError =>
    new EndpointConfigError(`Invalid ${what} ${JSON.stringify(value)}: ${why}`);
  if (raw === '') {
    return defaultToTLS
      ? tcpParts(DEFAULT_TCP_HOST, DEFAULT_TLS_PORT, '')
      : { kind: 'unix', url: `unix://${DEFAULT_UNIX_SOCKET}`, socketPath: DEFAULT_UNIX_SOCKET };
  }
  if (hasControlChars(raw)) throw bad('it contains control characters');
  const sep = raw.indexOf('://');
  const proto = sep >= 0 ? raw.slice(0, sep) : 'tcp';
  const rest = sep >= 0 ? raw.slice(sep + 3) : raw;
  switch (proto) {
    case 'tcp':
      return parseTcp(rest, bad);
    case 'unix': {
      if (rest.includes('://')) throw bad('expected a socket path after unix://');
      const socketPath = rest === '' ? DEFAULT_UNIX_SOCKET : rest;
      return { kind: 'unix', url: `unix://${socketPath}`, socketPath };
    }
    case 'npipe': {
      if (rest.includes('://')) throw bad('expected a pipe path after npipe://');
      const socketPath = rest === '' ? DEFAULT_NAMED_PIPE : rest;
      return { kind: 'npipe', url: `npipe://${socketPath}`, socketPath };
    }
    case 'ssh':
      return parseSsh(raw, bad);
    case 'fd':
      throw bad('fd:// (systemd socket activation) is only meaningful for dockerd, not for a client');
    case 'http':
    case 'https':
      throw bad(`use tcp://${rest} (with DOCKER_TLS_VERIFY=1 for TLS) instead of ${proto}://`);
    default:
      throw bad(`unsupported scheme "${proto}://" (use unix://, tcp://, ssh:// or npipe://)`);
  }
}

function hasControlChars(s: string): boolean {
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c < 0x20 || c === 0x7f) return true;
  }
  return false;
}

function tcpParts(host: string, port: number, urlPath: string): ParsedHost {
  const h = host.includes(':') ? `[${host}]` : host;
  return { kind: 'tcp', url: `tcp://${h}:${port}${urlPath}`, host, port };
}

function parseTcp(rest: string, bad: (why: string) => EndpointConfigError): ParsedHost {
  // opts.ParseTCPAddr: "" -> tcp://localhost:2375; missing host -> localhost; missing port -> 2375.
  if (rest === '') return tcpParts(DEFAULT_TCP_HOST, DEFAULT_HTTP_PORT, '');
  if (rest.includes('://')) throw bad('expected host:port after tcp://');
  let addr = rest;
  if (addr.startsWith(':')) addr = DEFAULT_TCP_HOST + addr;
  if (addr.endsWith(']:')) addr += String(DEFAULT_HTTP_PORT);
  let u: URL;
  try {
    u = new URL(`tcp://${addr}`);
  } catch {
    throw bad('expected tcp://HOST:PORT');
  }
  if (u.username || u.password) throw bad('credentials are not allowed in a tcp:// address');
  if (u.search || u.hash) throw bad('query strings and fragments are not allowed');
  // WHATWG URL drops default ports only for special schemes; tcp is not special, so u.port is kept.
  let host = u.hostname;
  if (host.startsWith('[') && host.endsWith(']')) host = host.slice(1, -1);
  if (host === '') host = DEFAULT_TCP_HOST;
  // "host" and "host:" both get the default port, as in the CLI.
  const port = u.port !== '' ? Number(u.port) : DEFAULT_HTTP_PORT;
  if (!Number.isInteger(port) || port <= 0 || port > 65535) throw bad('the port must be 1-65535');
  const urlPath = u.pathname === '/' ? '' : u.pathname;
  return tcpParts(host, port, urlPath);
}

function parseSsh(raw: string, bad: (why: string) => EndpointConfigError): ParsedHost {
  // cli/connhelper/ssh ParseURL: user optional, no password, host required, no query/fragment.
  let u: URL;
  try {
    u = new URL(raw);
  } catch {
    throw bad('expected ssh://[USER@]HOST[:PORT]');
  }
  if (u.password) throw bad('plain-text passwords are not supported in ssh:// URLs (use ssh-agent or a key)');
  if (u.search) throw bad('query parameters are not allowed in ssh:// URLs');
  if (u.hash) throw bad('fragments are not allowed in ssh:// URLs');
  let host = u.hostname;
  if (host.startsWith('[') && host.endsWith(']')) host = host.slice(1, -1);
  if (host === '') throw bad('the ssh host name is empty');
  if (u.pathname !== '' && u.pathname !== '/') {
    // Recent CLIs run `docker --host unix://PATH system dial-stdio` for this; docker-modem can only
    // run plain `docker system dial-stdio`, so say so rather than silently ignoring the path.
    throw bad('a remote socket path after the host is not supported; configure DOCKER_HOST on the remote host instead');
  }
  let port: number | undefined;
  if (u.port !== '') {
    port = Number(u.port);
    if (!Number.isInteger(port) || port <= 0 || port > 65535) throw bad('the port must be 1-65535');
  }
  const username = u.username ? decodeURIComponent(u.username) : undefined;
  const h = host.includes(':') ? `[${host}]` : host;
  const url = `ssh://${username ? `${u.username}@` : ''}${h}${port !== undefined ? `:${port}` : ''}`;
  return { kind: 'ssh', url, host, port, username };
}

interface ContextMeta {
  Name?: unknown;
  Endpoints?: { docker?: { Host?: unknown; SkipTLSVerify?: unknown } };
}

function readText(fs: FsReader, file: string): string | undefined {
  const b = fs.readFile(file);
  return b === undefined ? undefined : b.toString('utf8');
}

/** `currentContext` from config.json, or undefined; problems become warnings like the CLI's. */
function readCurrentContext(fs: FsReader, configDir: string, warnings: string[]): string | undefined {
  const file = path.join(configDir, 'config.json');
  let text: string | undefined;
  try {
    text = readText(fs, file);
  } catch (e) {
    warnings.push(`Cannot read ${file}: ${(e as Error).message}`);
    return undefined;
  }
  if (text === undefined || text.trim() === '') return undefined;
  try {
    const cfg: unknown = JSON.parse(text);
    if (cfg && typeof cfg === 'object' && 'currentContext' in cfg) {
      const cc = (cfg as { currentContext: unknown }).currentContext;
      if (typeof cc === 'string' && cc !== '') return cc;
    }
  } catch (e) {
    warnings.push(`Error loading ${file} (ignored, as the docker CLI does): ${(e as Error).message}`);
  }
  return undefined;
}

function resolveNamedContext(
  name: string, how: string, fs: FsReader, configDir: string,
): EngineEndpoint {
  const id = contextId(name);
  const metaFile = path.join(configDir, 'contexts', 'meta', id, 'meta.json');
  const text = readText(fs, metaFile);
  if (text === undefined) {
    throw new EndpointConfigError(
      `Docker context "${name}" (${how}) not found: ${metaFile} does not exist (see \`docker context ls\`)`);
  }
  let meta: ContextMeta;
  try {
    meta = JSON.parse(text) as ContextMeta;
  } catch (e) {
    throw new EndpointConfigError(`Docker context "${name}": cannot parse ${metaFile}: ${(e as Error).message}`);
  }
  const ep = meta && typeof meta === 'object' ? meta.Endpoints?.docker : undefined;
  if (!ep || typeof ep !== 'object') {
    throw new EndpointConfigError(`Docker context "${name}" has no docker endpoint (${metaFile})`);
  }
  const hostValue = typeof ep.Host === 'string' ? ep.Host : '';
  const skipVerify = ep.SkipTLSVerify === true;
  // The CLI hands the stored Host to the client as is; an empty Host means the client default.
  const parsed = parseDockerHost(hostValue, false, `Host in docker context "${name}"`);
  const origin = `context:${name}`;
  const out: EngineEndpoint = { ...parsed, origin };
  if (parsed.kind === 'tcp') {
    const tlsDir = path.join(configDir, 'contexts', 'tls', id, 'docker');
    const ca = fs.readFile(path.join(tlsDir, 'ca.pem'));
    const cert = fs.readFile(path.join(tlsDir, 'cert.pem'));
    const key = fs.readFile(path.join(tlsDir, 'key.pem'));
    const hasData = ca !== undefined || cert !== undefined || key !== undefined;
    if (hasData || skipVerify) {
      out.tls = { verify: !skipVerify };
      if (ca) out.tls.ca = ca;
      if (cert && key) {
        out.tls.cert = cert;
        out.tls.key = key;
      }
    }
  }
  return out;
}

function resolveDefaultContext(
  hostValue: string, origin: string, env: EnvLike, fs: FsReader, configDir: string,
): EngineEndpoint {
  const tlsVerify = nonEmpty(env.DOCKER_TLS_VERIFY);
  const tlsOn = tlsVerify || nonEmpty(env.DOCKER_TLS);
  const what = origin === 'DOCKER_HOST' ? 'DOCKER_HOST' : `engine host (${origin})`;
  const parsed = parseDockerHost(hostValue, tlsOn, what);
  const out: EngineEndpoint = { ...parsed, origin };
  if (tlsOn && parsed.kind === 'tcp') {
    const certDir = nonEmpty(env.DOCKER_CERT_PATH) ? env.DOCKER_CERT_PATH : configDir;
    const caFile = path.join(certDir, 'ca.pem');
    const ca = fs.readFile(caFile);
    if (ca === undefined) {
      const by = tlsVerify ? 'DOCKER_TLS_VERIFY' : 'DOCKER_TLS';
      throw new EndpointConfigError(
        `TLS is on (${by} is set) but ${caFile} does not exist; set DOCKER_CERT_PATH to the directory holding ca.pem, cert.pem and key.pem`);
    }
    const cert = fs.readFile(path.join(certDir, 'cert.pem'));
    const key = fs.readFile(path.join(certDir, 'key.pem'));
    out.tls = { verify: tlsVerify, ca };
    if (cert && key) {
      out.tls.cert = cert;
      out.tls.key = key;
    }
  }
  return out;
}

/** Resolve the endpoint; see the file header for the rules. Throws EndpointConfigError. */
export function resolveEndpoint(input: ResolveEndpointInput): ResolvedEndpoint {
  const { env, homeDir, fs } = input;
  const warnings: string[] = [];
  const configDir = dockerConfigDir(env, homeDir);
  const optHost = input.host?.trim() ? input.host : undefined;
  const optContext = input.context?.trim() ? input.context.trim() : undefined;
  if (optHost !== undefined && optContext !== undefined) {
    throw new EndpointConfigError('Conflicting options: an engine host and a docker context are both set; set only one');
  }

  let ep: EngineEndpoint;
  if (optContext !== undefined) {
    ep = optContext === 'default'
      ? resolveDefaultContext(env.DOCKER_HOST ?? '', nonEmpty(env.DOCKER_HOST) ? 'DOCKER_HOST' : 'default', env, fs, configDir)
      : resolveNamedContext(optContext, 'from the context option', fs, configDir);
  } else if (optHost !== undefined) {
    ep = resolveDefaultContext(optHost, input.hostOrigin ?? 'setting', env, fs, configDir);
    if (nonEmpty(env.DOCKER_HOST)) warnings.push(`DOCKER_HOST is ignored because the engine host is set (${ep.origin})`);
  } else if (nonEmpty(env.DOCKER_HOST)) {
    ep = resolveDefaultContext(env.DOCKER_HOST, 'DOCKER_HOST', env, fs, configDir);
    if (nonEmpty(env.DOCKER_CONTEXT)) warnings.push('DOCKER_CONTEXT is ignored because DOCKER_HOST is set');
  } else {
    let name: string | undefined;
    let how = '';
    if (nonEmpty(env.DOCKER_CONTEXT)) {
      name = env.DOCKER_CONTEXT;
      how = 'from DOCKER_CONTEXT';
    } else {
      name = readCurrentContext(fs, configDir, warnings);
      how = `currentContext in ${path.join(configDir, 'config.json')}`;
    }
    if (name !== undefined && name !== 'default') {
      ep = resolveNamedContext(name, how, fs, configDir);
    } else {
      ep = resolveDefaultContext('', 'default', env, fs, configDir);
      if (ep.kind === 'unix' && ep.socketPath === DEFAULT_UNIX_SOCKET && !fs.exists(DEFAULT_UNIX_SOCKET)) {
        const podman = findPodmanSocket(env, fs);
        if (podman) ep = { kind: 'unix', url: `unix://${podman}`, socketPath: podman, origin: 'podman' };
      }
    }
  }
  return { ...ep, warnings };
}

/** Podman's Docker-compatible sockets, rootless first. */
export function podmanSocketCandidates(env: EnvLike): string[] {
  const out: string[] = [];
  if (nonEmpty(env.XDG_RUNTIME_DIR)) out.push(path.join(env.XDG_RUNTIME_DIR, 'podman', 'podman.sock'));
  out.push(PODMAN_ROOTFUL_SOCKET);
  return out;
}

function findPodmanSocket(env: EnvLike, fs: FsReader): string | undefined {
  return podmanSocketCandidates(env).find((p) => fs.exists(p));
}

/** FsReader over the real file system. */
export const nodeFsReader: FsReader = {
  readFile(file: string): Buffer | undefined {
    try {
      return nodeFs.readFileSync(file);
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      if (code === 'ENOENT' || code === 'ENOTDIR') return undefined;
      throw new EndpointConfigError(`Cannot read ${file}: ${(e as Error).message}`);
    }
  },
  exists(file: string): boolean {
    return nodeFs.existsSync(file);
  },
};

/** resolveEndpoint over this process: process.env, os.homedir() and the real file system. */
export function resolveEndpointFromProcess(
  options: { host?: string; hostOrigin?: string; context?: string; env?: EnvLike } = {},
): ResolvedEndpoint {
  return resolveEndpoint({
    env: options.env ?? process.env,
    homeDir: os.homedir(),
    fs: nodeFsReader,
    host: options.host,
    hostOrigin: options.hostOrigin,
    context: options.context,
  });
}

/** "unix:///var/run/docker.sock (from DOCKER_HOST)" -- for messages. */
export function describeEndpoint(ep: EngineEndpoint): string {
  const from = ep.origin === 'default' ? 'default'
    : ep.origin === 'podman' ? 'Podman socket'
      : ep.origin.startsWith('context:') ? `docker context "${ep.origin.slice(8)}"`
        : `from ${ep.origin}`;
  return `${ep.url} (${from})`;
}
