// Test-only helper: start and stop an ADDITIONAL Docker Engine (dockerd) with its own data-root,
// exec-root, pidfile and socket, optionally also listening on tcp://127.0.0.1:PORT with TLS
// (--tlsverify). Needs root and Debian's docker.io (dockerd 20.10); the daemon starts its own
// managed containerd under its exec-root. No network setup: --iptables=false --bridge=none.
//
//   const tls = await generateTls(dir + '/certs');
//   const d = await startDockerd({ tcpPort: 'auto', tls });
//   ... DOCKER_HOST=d.tcpHost, DOCKER_CERT_PATH=tls.dir, DOCKER_TLS_VERIFY=1 (see d.clientEnv())
//   await d.stop({ remove: true });
import { spawn, execFile, type ChildProcess } from 'node:child_process';
import { mkdir, mkdtemp, readFile, writeFile, rm, open } from 'node:fs/promises';
import { existsSync, readFileSync } from 'node:fs';
import * as http from 'node:http';
import * as https from 'node:https';
import * as net from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import { promisify } from 'node:util';
import type { TlsFiles } from './tls';

const execFileP = promisify(execFile);

export interface DockerdOptions {
  /** State directory (created); default: a fresh mkdtemp under os.tmpdir(). */
  dir?: string;
  /** Also listen on tcp://127.0.0.1:PORT ('auto' picks a free port). */
  tcpPort?: number | 'auto';
  /** With tcpPort: serve TLS and require client certs (--tlsverify). */
  tls?: TlsFiles;
  /** Extra dockerd arguments. */
  extraArgs?: string[];
  /** dockerd binary (default: 'dockerd' from PATH). */
  dockerdPath?: string;
  /** How long to wait for the daemon to answer /_ping (default 90 s). */
  timeoutMs?: number;
}

export interface Dockerd {
  dir: string;
  dataRoot: string;
  execRoot: string;
  pidFile: string;
  logFile: string;
  socketPath: string;
  /** unix://<socketPath> */
  unixHost: string;
  /** tcp://127.0.0.1:PORT when tcpPort was given. */
  tcpHost?: string;
  tcpPort?: number;
  tls?: TlsFiles;
  pid: number;
  /** Environment for a client: over tcp (+TLS) if configured, else the unix socket. */
  clientEnv(): Record<string, string>;
  /** Last lines of the daemon's log (for error messages). */
  logTail(lines?: number): string;
  /** SIGTERM, wait (SIGKILL after timeoutMs), clean leftover containerd + mounts; remove dir if asked. */
  stop(opts?: { remove?: boolean; timeoutMs?: number }): Promise<void>;
}

// sun_path is 108 bytes; containerd puts "containerd/containerd.sock.ttrpc" under the exec-root.
const MAX_SOCK = 100;

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.unref();
    srv.on('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const addr = srv.address();
      const port = typeof addr === 'object' && addr ? addr.port : 0;
      srv.close(() => resolve(port));
    });
  });
}

/** GET /_ping on a unix socket; resolves true on HTTP 200. */
export function pingUnix(socketPath: string, timeoutMs = 2000): Promise<boolean> {
  return new Promise((resolve) => {
    const req = http.request({ socketPath, path: '/_ping', method: 'GET', timeout: timeoutMs }, (res) => {
      res.resume();
      resolve(res.statusCode === 200);
    });
    req.on('error', () => resolve(false));
    req.on('timeout', () => { req.destroy(); resolve(false); });
    req.end();
  });
}

/** GET /_ping over tcp (with client certs when tls is given). */
export function pingTcp(port: number, tls?: TlsFiles, timeoutMs = 2000): Promise<boolean> {
  return new Promise((resolve) => {
    const onRes = (res: http.IncomingMessage): void => { res.resume(); resolve(res.statusCode === 200); };
    const base = { host: '127.0.0.1', port, path: '/_ping', method: 'GET', timeout: timeoutMs };
    const req = tls
      ? https.request({
        ...base,
        ca: readFileSync(tls.caCert),
        cert: readFileSync(tls.clientCert),
        key: readFileSync(tls.clientKey),
        servername: 'localhost',
      }, onRes)
      : http.request(base, onRes);
    req.on('error', () => resolve(false));
    req.on('timeout', () => { req.destroy(); resolve(false); });
    req.end();
  });
}

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

async function waitExit(pid: number, timeoutMs: number): Promise<boolean> {
  const end = Date.now() + timeoutMs;
  while (Date.now() < end) {
    if (!alive(pid)) return true;
    // A zombie child of ours counts as exited once reaped by the 'exit' handler.
    await sleep(100);
  }
  return !alive(pid);
}

/** Mount points at or under `dir` (deepest first), from /proc/self/mountinfo. */
async function mountsUnder(dir: string): Promise<string[]> {
  let text: string;
  try {
    text = await readFile('/proc/self/mountinfo', 'utf8');
  } catch {
    return [];
  }
  const unescape = (s: string): string => s.replace(/\\([0-7]{3})/g, (_, o: string) => String.fromCharCode(parseInt(o, 8)));
  const out: string[] = [];
  for (const line of text.split('\n')) {
    const f = line.split(' ');
    if (f.length < 5) continue;
    const mp = unescape(f[4]);
    if (mp === dir || mp.startsWith(dir + '/')) out.push(mp);
  }
  return out.sort((a, b) => b.length - a.length);
}

export async function startDockerd(opts: DockerdOptions = {}): Promise<Dockerd> {
  const dir = path.resolve(opts.dir ?? (await mkdtemp(path.join(os.tmpdir(), 'll-dockerd-'))));
  await mkdir(dir, { recursive: true });
  const dataRoot = path.join(dir, 'root');
  let execRoot = path.join(dir, 'exec');
  if (execRoot.length + '/containerd/containerd.sock.ttrpc'.length > MAX_SOCK) {
    execRoot = await mkdtemp(path.join(os.tmpdir(), 'll-x-'));
  }
  let socketPath = path.join(dir, 'docker.sock');
  if (socketPath.length > MAX_SOCK) socketPath = path.join(execRoot, 'docker.sock');
  const pidFile = path.join(dir, 'docker.pid');
  const logFile = path.join(dir, 'dockerd.log');
  const configFile = path.join(dir, 'daemon.json');
  await mkdir(dataRoot, { recursive: true });
  await mkdir(execRoot, { recursive: true });
  // Own (empty) config file so /etc/docker/daemon.json cannot interfere.
  await writeFile(configFile, '{}\n');

  if (existsSync(pidFile)) {
    const old = parseInt((await readFile(pidFile, 'utf8')).trim(), 10);
    if (old > 0 && alive(old)) throw new Error(`a dockerd (pid ${old}) already runs with state dir ${dir}`);
    await rm(pidFile, { force: true });
  }
  await rm(socketPath, { force: true });

  let tcpPort: number | undefined;
  if (opts.tcpPort !== undefined) tcpPort = opts.tcpPort === 'auto' ? await freePort() : opts.tcpPort;
  if (opts.tls && tcpPort === undefined) throw new Error('startDockerd: tls needs tcpPort');

  const args = [
    '--host', `unix://${socketPath}`,
    '--data-root', dataRoot,
    '--exec-root', execRoot,
    '--pidfile', pidFile,
    '--config-file', configFile,
    '--iptables=false',
    '--ip-masq=false',
    '--bridge=none',
  ];
  if (tcpPort !== undefined) {
    args.push('--host', `tcp://127.0.0.1:${tcpPort}`);
    if (opts.tls) {
      args.push('--tlsverify', '--tlscacert', opts.tls.caCert, '--tlscert', opts.tls.serverCert, '--tlskey', opts.tls.serverKey);
    }
  }
  args.push(...(opts.extraArgs ?? []));

  const log = await open(logFile, 'a');
  let child: ChildProcess;
  try {
    child = spawn(opts.dockerdPath ?? 'dockerd', args, { stdio: ['ignore', log.fd, log.fd], detached: false });
  } finally {
    await log.close();
  }
  let exited: { code: number | null; signal: NodeJS.Signals | null } | undefined;
  let spawnError: Error | undefined;
  child.on('exit', (code, signal) => { exited = { code, signal }; });
  child.on('error', (e) => { spawnError = e; });
  const pid = child.pid ?? -1;
  // Best effort: do not leave an orphan daemon when the test process exits without stop().
  const onExit = (): void => { if (!exited && pid > 0) { try { process.kill(pid, 'SIGTERM'); } catch { /* gone */ } } };
  process.on('exit', onExit);

  const logTail = (lines = 30): string => {
    try {
      return readFileSync(logFile, 'utf8').trimEnd().split('\n').slice(-lines).join('\n');
    } catch {
      return '';
    }
  };

  const d: Dockerd = {
    dir, dataRoot, execRoot, pidFile, logFile, socketPath,
    unixHost: `unix://${socketPath}`,
    tcpHost: tcpPort !== undefined ? `tcp://127.0.0.1:${tcpPort}` : undefined,
    tcpPort,
    tls: opts.tls,
    pid,
    logTail,
    clientEnv() {
      if (tcpPort === undefined) return { DOCKER_HOST: `unix://${socketPath}` };
      const env: Record<string, string> = { DOCKER_HOST: `tcp://127.0.0.1:${tcpPort}` };
      if (opts.tls) {
        env.DOCKER_CERT_PATH = opts.tls.dir;
        env.DOCKER_TLS_VERIFY = '1';
      }
      return env;
    },
    async stop(so = {}) {
      const t = so.timeoutMs ?? 30_000;
      if (!exited && pid > 0 && alive(pid)) {
        try { process.kill(pid, 'SIGTERM'); } catch { /* gone */ }
        if (!(await waitExit(pid, t))) {
          try { process.kill(pid, 'SIGKILL'); } catch { /* gone */ }
          await waitExit(pid, 5000);
        }
      }
      process.removeListener('exit', onExit);
      // A managed containerd normally exits with dockerd; kill it if it did not.
      const ctrPid = path.join(execRoot, 'containerd', 'containerd.pid');
      if (existsSync(ctrPid)) {
        const cp = parseInt((await readFile(ctrPid, 'utf8')).trim(), 10);
        if (cp > 0 && alive(cp)) {
          try { process.kill(cp, 'SIGTERM'); } catch { /* gone */ }
          if (!(await waitExit(cp, 10_000))) { try { process.kill(cp, 'SIGKILL'); } catch { /* gone */ } }
        }
      }
      for (const root of new Set([dir, execRoot])) {
        for (const mp of await mountsUnder(root)) {
          await execFileP('umount', ['-l', mp]).catch(() => undefined);
        }
      }
      if (so.remove) {
        await rm(dir, { recursive: true, force: true });
        if (!execRoot.startsWith(dir + '/')) await rm(execRoot, { recursive: true, force: true });
      }
    },
  };

  const deadline = Date.now() + (opts.timeoutMs ?? 90_000);
  for (;;) {
    if (spawnError) throw new Error(`cannot start dockerd: ${spawnError.message}`);
    if (exited) {
      throw new Error(`dockerd exited early (code ${exited.code}, signal ${exited.signal}); log ${logFile}:\n${logTail()}`);
    }
    const unixOk = await pingUnix(socketPath, 1000);
    const tcpOk = tcpPort === undefined || !unixOk ? unixOk : await pingTcp(tcpPort, opts.tls, 1000);
    if (unixOk && tcpOk) return d;
    if (Date.now() > deadline) {
      await d.stop();
      throw new Error(`dockerd did not answer within ${opts.timeoutMs ?? 90_000} ms; log ${logFile}:\n${logTail()}`);
    }
    await sleep(200);
  }
}
