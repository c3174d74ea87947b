// Seed archives for the fuzzer: the shipped example image (decompressed, whole and with file
// bodies cut to 2 KiB so a case costs milliseconds instead of a second), and in-memory images in
// every layout Layer Lens reads (docker save ≤24 with manifest last or first, OCI-in-tar with
// gzip and zstd layers, a gzip-compressed save) whose layers hold whiteouts, opaque directories,
// hardlinks, symlinks and copy-ups.
import { readFileSync, readdirSync, statSync } from 'node:fs';
import * as path from 'node:path';
import { gunzipSync, gzipSync } from 'node:zlib';
import * as tar from 'tar-stream';
import { dockerSave, makeTar, ociLayout, tarOfFiles, type ImageSpec } from '../unit/support/tars';
import { repoRoot } from '../support/repo';
export { repoRoot };

export interface Seed {
  name: string;
  buf: Buffer;
  /** Compress the mutated bytes before reading (mutations inside a `docker save | gzip`). */
  gzipAfter?: boolean;
}


async function collect(s: AsyncIterable<Buffer>): Promise<Buffer> {
  const parts: Buffer[] = [];
  for await (const c of s) parts.push(c);
  return Buffer.concat(parts);
}

/** Re-packs an image archive with every file body inside its layer tars (`*.tar` members) cut to `max` bytes. */
export async function slimTar(buf: Buffer, max = 2048, inLayer = false): Promise<Buffer> {
  const ex = tar.extract();
  const pack = tar.pack();
  const out = collect(pack as unknown as AsyncIterable<Buffer>);
  const done = (async () => {
    for await (const e of ex) {
      const h = e.header;
      const body = await collect(e as unknown as AsyncIterable<Buffer>);
      const slim = h.type !== 'file' ? undefined : inLayer ? body.subarray(0, max) : h.name.endsWith('.tar') ? await slimTar(body, max, true) : body;
      const hdr = { name: h.name, type: h.type ?? 'file', mode: h.mode, uid: h.uid, gid: h.gid, mtime: h.mtime, linkname: h.linkname ?? undefined, uname: h.uname, gname: h.gname };
      if (slim) pack.entry(hdr, slim); else pack.entry(hdr);
    }
    pack.finalize();
  })();
  ex.end(buf);
  await done;
  return out;
}

async function memSpec(): Promise<ImageSpec> {
  const l0 = await makeTar([
    { name: 'bin/', type: 'directory' }, { name: 'bin/busybox', size: 3000, mode: 0o755 },
    { name: 'bin/sh', type: 'symlink', linkname: 'busybox' }, { name: 'bin/ls', type: 'link', linkname: 'bin/busybox' },
    { name: 'etc/', type: 'directory' }, { name: 'etc/passwd', body: 'root:x:0:0:root:/root:/bin/sh\n' },
    { name: 'var/cache/apt/', type: 'directory' }, { name: 'var/cache/apt/pkg.bin', size: 5000 },
    { name: 'dev/null', type: 'character-device' }, { name: 'tmp/fifo', type: 'fifo' },
  ]);
  const l1 = await makeTar([
    { name: 'var/cache/apt/.wh.pkg.bin' }, { name: 'etc/.wh..wh..opq' }, { name: 'etc/hostname', body: 'box\n' },
    { name: 'bin/busybox', size: 3000, mode: 0o700 }, { name: 'app/', type: 'directory' }, { name: 'app/data', size: 1200 },
  ]);
  const l2 = await makeTar([]);
  const l3 = await makeTar([{ name: 'app/data', size: 1300 }, { name: '.wh.tmp' }, { name: 'app/link', type: 'symlink', linkname: '../etc/hostname' }]);
  return {
    layers: [l0, l1, l2, l3],
    history: [
      { created_by: 'ADD rootfs.tar / # buildkit' }, { created_by: 'ENV A=1', empty_layer: true },
      { created_by: 'RUN /bin/sh -c rm -rf /var/cache/apt && chmod 700 /bin/busybox # buildkit' },
      { created_by: 'WORKDIR /app # buildkit' }, { created_by: 'COPY data /app/ # buildkit' }, { created_by: 'CMD ["sh"]', empty_layer: true },
    ],
    tag: 'fuzz:1',
  };
}

export interface CorpusOptions {
  /** Include the whole example archive (76 MB decompressed; about a second per case). */
  fullExample?: boolean;
}

export async function buildCorpus(opts: CorpusOptions = {}): Promise<Seed[]> {
  const root = repoRoot();
  const seeds: Seed[] = [];
  const examplePath = path.join(root, 'example', 'image.tar.gz');
  const example = gunzipSync(readFileSync(examplePath));
  seeds.push({ name: 'example-slim', buf: await slimTar(example) });
  if (opts.fullExample) seeds.push({ name: 'example', buf: example });
  const spec = await memSpec();
  const save = await dockerSave(spec);
  seeds.push({ name: 'save', buf: save });
  seeds.push({ name: 'save-manifest-first', buf: await dockerSave(spec, { manifestFirst: true }) });
  seeds.push({ name: 'save-gzip', buf: save, gzipAfter: true });
  seeds.push({ name: 'save.gz', buf: gzipSync(save) });
  seeds.push({ name: 'oci-gzip', buf: await tarOfFiles(ociLayout(spec, 'gzip')) });
  seeds.push({ name: 'oci-zstd', buf: await tarOfFiles(ociLayout(spec, 'zstd')) });
  seeds.push({ name: 'oci-plain', buf: await tarOfFiles(ociLayout(spec, 'none')) });
  return seeds;
}

/** Real Dockerfiles (test fixtures and the example) and recorded histories. */
export function dockerfileCorpus(): { dockerfiles: Array<{ name: string; text: string }>; histories: Array<{ name: string; history: unknown[] }> } {
  const root = repoRoot();
  const dockerfiles: Array<{ name: string; text: string }> = [];
  const walk = (dir: string): void => {
    for (const n of readdirSync(dir)) {
      const p = path.join(dir, n);
      if (statSync(p).isDirectory()) walk(p);
      else if (n === 'Dockerfile' || n.endsWith('.Dockerfile')) dockerfiles.push({ name: path.relative(root, p), text: readFileSync(p, 'utf8') });
    }
  };
  walk(path.join(root, 'test', 'fixtures'));
  dockerfiles.push({ name: 'example/Dockerfile', text: readFileSync(path.join(root, 'example', 'Dockerfile'), 'utf8') });
  const hdir = path.join(root, 'test', 'fixtures', 'histories');
  const histories = readdirSync(hdir).filter((f) => f.endsWith('.json')).map((f) => {
    const j = JSON.parse(readFileSync(path.join(hdir, f), 'utf8')) as { history?: unknown[] };
    return { name: f, history: Array.isArray(j.history) ? j.history : [] };
  }).filter((h) => h.history.length > 0);
  return { dockerfiles: dockerfiles.sort((a, b) => a.name.localeCompare(b.name)), histories };
}
