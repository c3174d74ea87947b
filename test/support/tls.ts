// Test-only TLS material for a Docker Engine listening on tcp://127.0.0.1 with --tlsverify.
// Generates, with the `openssl` CLI (execFile, argument arrays, no shell):
//   ca.pem / ca-key.pem                 a self-signed CA
//   server-cert.pem / server-key.pem    server cert, SAN IP:127.0.0.1, DNS:localhost, serverAuth
//   cert.pem / key.pem                  client cert, clientAuth
// The file names follow the docker CLI's DOCKER_CERT_PATH convention (ca.pem, cert.pem, key.pem),
// so `dir` can be used directly as DOCKER_CERT_PATH.
import { execFile } from 'node:child_process';
import { mkdir, writeFile, chmod, rm } from 'node:fs/promises';
import * as path from 'node:path';
import { promisify } from 'node:util';

const execFileP = promisify(execFile);

export interface TlsFiles {
  /** Directory holding everything; usable as DOCKER_CERT_PATH. */
  dir: string;
  caCert: string;
  caKey: string;
  serverCert: string;
  serverKey: string;
  clientCert: string;
  clientKey: string;
}

export interface TlsOptions {
  /** Extra SAN entries for the server cert, e.g. ['IP:10.0.0.5', 'DNS:myhost']. */
  extraSans?: string[];
  /** Validity in days (default 2). */
  days?: number;
}

async function openssl(args: string[], cwd: string): Promise<void> {
  try {
    await execFileP('openssl', args, { cwd, maxBuffer: 4 * 1024 * 1024 });
  } catch (e) {
    const err = e as { stderr?: string; message: string };
    throw new Error(`openssl ${args[0]} failed: ${(err.stderr || err.message).trim()}`);
  }
}

/** Create CA, server and client certificates in `dir` (created if missing; old files replaced). */
export async function generateTls(dir: string, opts: TlsOptions = {}): Promise<TlsFiles> {
  const abs = path.resolve(dir);
  await mkdir(abs, { recursive: true });
  const days = String(opts.days ?? 2);
  const f: TlsFiles = {
    dir: abs,
    caCert: path.join(abs, 'ca.pem'),
    caKey: path.join(abs, 'ca-key.pem'),
    serverCert: path.join(abs, 'server-cert.pem'),
    serverKey: path.join(abs, 'server-key.pem'),
    clientCert: path.join(abs, 'cert.pem'),
    clientKey: path.join(abs, 'key.pem'),
  };
  const serverCsr = path.join(abs, 'server.csr');
  const clientCsr = path.join(abs, 'client.csr');
  const serverExt = path.join(abs, 'server-ext.cnf');
  const clientExt = path.join(abs, 'client-ext.cnf');
  const serial = path.join(abs, 'ca.srl');

  // CA (self-signed, with CA:true so OpenSSL 3 / Go accept it as an issuer).
  await openssl(['genrsa', '-out', f.caKey, '2048'], abs);
  await openssl([
    'req', '-x509', '-new', '-key', f.caKey, '-sha256', '-days', days,
    '-subj', '/CN=layerlens-test-ca',
    '-addext', 'basicConstraints=critical,CA:TRUE',
    '-addext', 'keyUsage=critical,keyCertSign,cRLSign',
    '-out', f.caCert,
  ], abs);

  // Server.
  const sans = ['IP:127.0.0.1', 'DNS:localhost', ...(opts.extraSans ?? [])];
  for (const s of sans) {
    if (!/^(IP|DNS):[A-Za-z0-9.:*-]+$/.test(s)) throw new Error(`bad SAN entry: ${s}`);
  }
  await writeFile(serverExt, [
    `subjectAltName=${sans.join(',')}`,
    'extendedKeyUsage=serverAuth',
    'keyUsage=critical,digitalSignature,keyEncipherment',
    'basicConstraints=CA:FALSE',
    '',
  ].join('\n'));
  await openssl(['genrsa', '-out', f.serverKey, '2048'], abs);
  await openssl(['req', '-new', '-key', f.serverKey, '-subj', '/CN=localhost', '-out', serverCsr], abs);
  await openssl([
    'x509', '-req', '-in', serverCsr, '-CA', f.caCert, '-CAkey', f.caKey,
    '-CAcreateserial', '-CAserial', serial, '-days', days, '-sha256',
    '-extfile', serverExt, '-out', f.serverCert,
  ], abs);

  // Client.
  await writeFile(clientExt, [
    'extendedKeyUsage=clientAuth',
    'keyUsage=critical,digitalSignature,keyEncipherment',
    'basicConstraints=CA:FALSE',
    '',
  ].join('\n'));
  await openssl(['genrsa', '-out', f.clientKey, '2048'], abs);
  await openssl(['req', '-new', '-key', f.clientKey, '-subj', '/CN=layerlens-test-client', '-out', clientCsr], abs);
  await openssl([
    'x509', '-req', '-in', clientCsr, '-CA', f.caCert, '-CAkey', f.caKey,
    '-CAserial', serial, '-days', days, '-sha256',
    '-extfile', clientExt, '-out', f.clientCert,
  ], abs);

  await Promise.all([serverCsr, clientCsr, serverExt, clientExt].map((p) => rm(p, { force: true })));
  await Promise.all([f.caKey, f.serverKey, f.clientKey].map((p) => chmod(p, 0o600)));
  return f;
}
