// Test-only fault injection between a client and an engine socket, on loopback only: a proxy that
// listens on 127.0.0.1:PORT or a unix socket and forwards to the engine's unix socket, and can
// throttle the engine's answers, stall them, or drop the connection after some bytes. Also a
// socket that accepts and immediately closes, and one that accepts and never answers.
import * as net from 'node:net';

export type FaultMode =
  | { kind: 'pass' }
  /** Engine → client at most bytesPerSec. */
  | { kind: 'throttle'; bytesPerSec: number }
  /** Forward `afterBytes` of the engine's answer, then send nothing more (connection kept open). */
  | { kind: 'stall'; afterBytes: number }
  /** Forward `afterBytes` of the engine's answer, then reset both sides. */
  | { kind: 'drop'; afterBytes: number }
  /** Accept and close at once, without reading. */
  | { kind: 'close' }
  /** Accept and never answer. */
  | { kind: 'silent' };

export interface FaultProxy {
  /** DOCKER_HOST for clients: tcp://127.0.0.1:PORT or unix://PATH. */
  host: string;
  /** Engine → client bytes forwarded so far (all connections). */
  forwarded(): number;
  connections(): number;
  close(): Promise<void>;
}

export async function startFaultProxy(mode: FaultMode, upstreamSocket: string, listen: { unixPath?: string } = {}): Promise<FaultProxy> {
  let forwarded = 0;
  let connections = 0;
  const sockets = new Set<net.Socket>();
  const server = net.createServer((client) => {
    connections++;
    sockets.add(client);
    client.on('close', () => sockets.delete(client));
    client.on('error', () => undefined);
    if (mode.kind === 'close') { client.destroy(); return; }
    if (mode.kind === 'silent') { client.resume(); return; }
    const up = net.createConnection(upstreamSocket);
    sockets.add(up);
    up.on('close', () => { sockets.delete(up); client.destroy(); });
    up.on('error', () => client.destroy());
    client.on('close', () => up.destroy());
    client.pipe(up);
    let sent = 0;
    up.on('data', (chunk: Buffer) => {
      if (mode.kind === 'pass') { forwarded += chunk.length; client.write(chunk); return; }
      if (mode.kind === 'stall' || mode.kind === 'drop') {
        const room = Math.max(0, mode.afterBytes - sent);
        const part = chunk.subarray(0, room);
        if (part.length) { sent += part.length; forwarded += part.length; client.write(part); }
        if (sent >= mode.afterBytes) {
          if (mode.kind === 'drop') { client.resetAndDestroy(); up.destroy(); }
          else up.pause(); // stall: keep both connections open, forward nothing more
        }
        return;
      }
      // throttle: pause the engine side until this chunk's time share has passed.
      up.pause();
      forwarded += chunk.length;
      client.write(chunk);
      setTimeout(() => up.resume(), Math.ceil((chunk.length / mode.bytesPerSec) * 1000));
    });
    up.on('end', () => client.end());
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    if (listen.unixPath) server.listen(listen.unixPath, () => resolve());
    else server.listen(0, '127.0.0.1', () => resolve());
  });
  const addr = server.address();
  const host = typeof addr === 'string' ? `unix://${addr}` : `tcp://127.0.0.1:${(addr as net.AddressInfo).port}`;
  return {
    host,
    forwarded: () => forwarded,
    connections: () => connections,
    close: () => new Promise<void>((resolve) => {
      for (const s of sockets) s.destroy();
      server.close(() => resolve());
    }),
  };
}
