// Test bed helpers for integration tests against a real Docker Engine.
//
// The engine is the one DOCKER_HOST names (scripts/engine.sh start sets it; `npm test` does that).
// Tests must FAIL, never skip, when no engine answers: call requireEngine() in a before() hook.
// Every external process runs through execFile/spawn with argument arrays (no shell), with
// Debian's docker client /usr/bin/docker (override: LAYERLENS_DOCKER).
import { spawn, type SpawnOptions } from 'node:child_process';
import { createReadStream, existsSync, readdirSync } from 'node:fs';
import { copyFile, mkdir, mkdtemp, readFile, rm, stat, symlink, writeFile, chmod } from 'node:fs/promises';
import * as os from 'node:os';
import * as path from 'node:path';
import type { Readable } from 'node:stream';
import * as tar from 'tar-stream';
import Docker from 'dockerode';
import { repoRoot } from './repo';
export { repoRoot };

export const DOCKER = process.env.LAYERLENS_DOCKER || '/usr/bin/docker';
export const BASE_IMAGE = 'layerlens-test/busybox:latest';

// ---------------------------------------------------------------------------------------------
// Processes

export interface RunResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

export interface RunOptions {
  env?: NodeJS.ProcessEnv;
  cwd?: string;
  input?: string | Buffer;
  timeoutMs?: number;
}

/** Run a program (argument array, no shell); never throws on non-zero exit. */
export function run(cmd: string, args: readonly string[], opts: RunOptions = {}): Promise<RunResult> {
  return new Promise((resolve, reject) => {
    const so: SpawnOptions = { env: opts.env ?? process.env, cwd: opts.cwd, stdio: ['pipe', 'pipe', 'pipe'] };
    const child = spawn(cmd, args, so);
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    let timer: NodeJS.Timeout | undefined;
    if (opts.timeoutMs) timer = setTimeout(() => child.kill('SIGKILL'), opts.timeoutMs);
    child.stdout!.on('data', (b: Buffer) => out.push(b));
    child.stderr!.on('data', (b: Buffer) => err.push(b));
    child.on('error', (e) => { if (timer) clearTimeout(timer); reject(new Error(`cannot run ${cmd}: ${e.message}`)); });
    child.on('close', (code, signal) => {
      if (timer) clearTimeout(timer);
      resolve({ code, signal, stdout: Buffer.concat(out).toString('utf8'), stderr: Buffer.concat(err).toString('utf8') });
    });
    child.stdin!.on('error', () => undefined);
    child.stdin!.end(opts.input ?? '');
  });
}

/** Run a program and return stdout; throws with stderr on failure. */
export async function runOk(cmd: string, args: readonly string[], opts: RunOptions = {}): Promise<string> {
  const r = await run(cmd, args, opts);
  if (r.code !== 0) {
    throw new Error(`${cmd} ${args.join(' ')} exited ${r.code ?? r.signal}: ${r.stderr.trim().split('\n').slice(-15).join('\n')}`);
  }
  return r.stdout;
}

/** /usr/bin/docker with the test engine's environment. */
export function docker(args: readonly string[], opts: RunOptions = {}): Promise<string> {
  return runOk(DOCKER, args, { ...opts, env: { ...process.env, ...opts.env } });
}

// ---------------------------------------------------------------------------------------------
// Repository paths and the CLI


export function fixtureDir(name: string): string {
  return path.join(repoRoot(), 'test', 'fixtures', 'images', name);
}

/** Fixture names: the directories under test/fixtures/images holding a Dockerfile. */
export function fixtureNames(): string[] {
  const root = path.join(repoRoot(), 'test', 'fixtures', 'images');
  const out: string[] = [];
  for (const d of readdirSync(root, { withFileTypes: true })) {
    if (d.isDirectory() && existsSync(path.join(root, d.name, 'Dockerfile'))) out.push(d.name);
  }
  return out.sort();
}

/** The bundled CLI, `node dist/cli.js ARGS`, run from the repository root. */
export function cli(args: readonly string[], opts: RunOptions = {}): Promise<RunResult> {
  const root = repoRoot();
  return run(process.execPath, [path.join(root, 'dist', 'cli.js'), ...args], { cwd: root, timeoutMs: 300_000, ...opts });
}

// ---------------------------------------------------------------------------------------------
// The engine

/** DOCKER_HOST of the test engine. Throws (the test fails) when it is not set. */
export function engineHost(): string {
  const h = process.env.DOCKER_HOST;
  if (!h) {
    throw new Error('DOCKER_HOST is not set: start the test engine with `eval "$(scripts/engine.sh start)"` (npm test does this)');
  }
  return h;
}

/** Fails (throws) unless the test engine answers. Use in before() hooks: tests must not skip. */
export async function requireEngine(): Promise<string> {
  const host = engineHost();
  const r = await run(DOCKER, ['version', '--format', '{{.Server.Version}}'], { timeoutMs: 30_000 });
  if (r.code !== 0) {
    throw new Error(`the test engine at DOCKER_HOST=${host} does not answer: ${r.stderr.trim().split('\n')[0] ?? ''}`);
  }
  return host;
}

let dockerApi: Docker | undefined;
/** dockerode client for the test engine (DOCKER_HOST, DOCKER_CERT_PATH, DOCKER_TLS_VERIFY). */
export function api(): Docker {
  engineHost();
  dockerApi ??= new Docker();
  return dockerApi;
}

/** Serialise work across test processes (node --test runs files in parallel) on this engine. */
export async function withLock<T>(name: string, fn: () => Promise<T>, timeoutMs = 600_000): Promise<T> {
  const key = `${engineHost()}|${name}`.replace(/[^A-Za-z0-9]+/g, '_').slice(-120);
  const dir = path.join(os.tmpdir(), `layerlens-lock-${key}`);
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      await mkdir(dir);
      await writeFile(path.join(dir, 'pid'), String(process.pid));
      break;
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
      // Stale lock: its owner is gone.
      let owner = NaN;
      try { owner = parseInt(await readFile(path.join(dir, 'pid'), 'utf8'), 10); } catch { /* being written */ }
      if (owner > 0) {
        let aliveOwner = true;
        try { process.kill(owner, 0); } catch { aliveOwner = false; }
        if (!aliveOwner) { await rm(dir, { recursive: true, force: true }); continue; }
      }
      if (Date.now() > deadline) throw new Error(`timed out waiting for lock ${dir}`);
      await new Promise((r) => setTimeout(r, 250));
    }
  }
  try {
    return await fn();
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

async function imageExists(ref: string): Promise<boolean> {
  return (await run(DOCKER, ['image', 'inspect', '--format', '{{.Id}}', ref])).code === 0;
}

export async function imageId(ref: string): Promise<string> {
  return (await docker(['image', 'inspect', '--format', '{{.Id}}', ref])).trim();
}

/**
 * The base image layerlens-test/busybox:latest, made once per engine by `docker import` of a
 * rootfs holding /bin/busybox (busybox-static), a symlink to it for every applet
 * (`busybox --list-full`), and /etc, /tmp (1777), /root (0700), /var. No /dev, /proc, /sys:
 * the engine adds those for containers.
 */
export async function ensureBaseImage(): Promise<string> {
  await requireEngine();
  return withLock('base-image', async () => {
    if (await imageExists(BASE_IMAGE)) return imageId(BASE_IMAGE);
    const bb = ['/bin/busybox', '/usr/bin/busybox'].find((p) => existsSync(p));
    if (!bb) throw new Error('busybox is missing: apt-get install busybox-static');
    const applets = (await runOk(bb, ['--list-full'])).split('\n').map((s) => s.trim()).filter(Boolean);
    const tmp = await mkdtemp(path.join(os.tmpdir(), 'layerlens-rootfs-'));
    try {
      const root = path.join(tmp, 'rootfs');
      await mkdir(path.join(root, 'bin'), { recursive: true });
      await copyFile(bb, path.join(root, 'bin', 'busybox'));
      await chmod(path.join(root, 'bin', 'busybox'), 0o755);
      for (const a of applets) {
        if (a === 'bin/busybox' || a === 'linuxrc' || a.includes('..') || a.startsWith('/')) continue;
        const p = path.join(root, a);
        await mkdir(path.dirname(p), { recursive: true });
        if (!existsSync(p)) await symlink('/bin/busybox', p);
      }
      for (const d of ['etc', 'tmp', 'root', 'var']) await mkdir(path.join(root, d), { recursive: true });
      await chmod(path.join(root, 'tmp'), 0o1777);
      await chmod(path.join(root, 'root'), 0o700);
      const tarPath = path.join(tmp, 'rootfs.tar');
      await runOk('tar', ['--numeric-owner', '--owner=0', '--group=0', '-C', root, '-cf', tarPath, '.']);
      await docker([
        'import',
        '--change', 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin',
        '--change', 'CMD ["sh"]',
        '--message', 'layerlens test base: busybox-static rootfs',
        tarPath, BASE_IMAGE,
      ]);
    } finally {
      await rm(tmp, { recursive: true, force: true });
    }
    return imageId(BASE_IMAGE);
  });
}

export type Builder = 'buildkit' | 'legacy';

export interface BuildResult {
  tag: string;
  id: string;
  builder: Builder;
  seconds: number;
}

export function fixtureTag(name: string, builder: Builder): string {
  return `layerlens-test/${name}:${builder}`;
}

/**
 * Build test/fixtures/images/<name>/Dockerfile with BuildKit (DOCKER_BUILDKIT=1) or the legacy
 * builder (DOCKER_BUILDKIT=0). RUN steps get --network=none (the test daemon has no bridge).
 */
export async function buildFixture(name: string, opts: { builder: Builder; tag?: string }): Promise<BuildResult> {
  await ensureBaseImage();
  const tag = opts.tag ?? fixtureTag(name, opts.builder);
  const dir = fixtureDir(name);
  if (!existsSync(path.join(dir, 'Dockerfile'))) throw new Error(`no such fixture: ${dir}/Dockerfile`);
  return withLock(`build-${tag}`, async () => {
    const t0 = Date.now();
    await docker(['build', '--network=none', '-q', '-t', tag, dir], {
      env: { DOCKER_BUILDKIT: opts.builder === 'buildkit' ? '1' : '0' },
      timeoutMs: 600_000,
    });
    return { tag, id: await imageId(tag), builder: opts.builder, seconds: (Date.now() - t0) / 1000 };
  });
}

// ---------------------------------------------------------------------------------------------
// Filesystem sets

export type EntryType = 'file' | 'dir' | 'symlink' | 'hardlink' | 'char' | 'block' | 'fifo';

export interface FsEntry {
  path: string;
  type: EntryType;
  size: number;
  /** permission bits incl. setuid/setgid/sticky, octal, 4 digits: "0755", "1777" */
  mode: string;
  /** symlink or hardlink target, as written in the tar (absolute for hardlinks). */
  linkname?: string;
}

export function modeString(mode: number): string {
  return (mode & 0o7777).toString(8).padStart(4, '0');
}

/** "./a/b/" -> "/a/b"; "" or "./" -> "/" */
export function normPath(name: string): string {
  let p = name.replace(/^\.\//, '').replace(/^\/+/, '').replace(/\/+$/, '');
  if (p === '.' || p === '') return '/';
  p = p.split('/').filter((s) => s !== '' && s !== '.').join('/');
  return '/' + p;
}

function tarType(t: string | null | undefined): EntryType {
  switch (t) {
    case 'file':
    case 'contiguous-file':
      return 'file';
    case 'directory': return 'dir';
    case 'symlink': return 'symlink';
    case 'link': return 'hardlink';
    case 'character-device': return 'char';
    case 'block-device': return 'block';
    case 'fifo': return 'fifo';
    default: throw new Error(`unexpected tar entry type ${String(t)}`);
  }
}

/** Every entry header of a tar stream (payloads skipped), with normalized paths. */
export async function tarEntries(stream: Readable): Promise<FsEntry[]> {
  const ex = tar.extract();
  const out: FsEntry[] = [];
  const done = new Promise<void>((resolve, reject) => {
    ex.on('entry', (h, body, next) => {
      try {
        const e: FsEntry = { path: normPath(h.name), type: tarType(h.type), size: h.size ?? 0, mode: modeString(h.mode ?? 0) };
        if (h.linkname) e.linkname = e.type === 'hardlink' ? normPath(h.linkname) : h.linkname;
        out.push(e);
      } catch (err) {
        reject(err as Error);
        return;
      }
      body.on('end', () => next());
      body.resume();
    });
    ex.on('finish', () => resolve());
    ex.on('error', reject);
    stream.on('error', reject);
  });
  stream.pipe(ex);
  await done;
  return out;
}

/**
 * Hardlinks become type "file" with their target's size (and mode), since which name of a link
 * group a tar writer emits first depends on its walk order. Returns a map path -> entry.
 */
export function normalizeHardlinks(entries: Iterable<FsEntry>, lookup?: (target: string) => FsEntry | undefined): Map<string, FsEntry> {
  const m = new Map<string, FsEntry>();
  for (const e of entries) m.set(e.path, { ...e });
  for (const e of m.values()) {
    if (e.type !== 'hardlink') continue;
    const target = e.linkname ? (m.get(e.linkname) ?? lookup?.(e.linkname)) : undefined;
    e.type = 'file';
    if (target) {
      e.size = target.size;
      e.mode = target.mode;
    }
    delete e.linkname;
  }
  return m;
}

/** Paths the engine adds to every container's filesystem (not part of the image). */
export const CONTAINER_ADDED = new Set(['/.dockerenv', '/etc/hostname', '/etc/hosts', '/etc/resolv.conf', '/etc/mtab']);
export const CONTAINER_MOUNT_TREES = ['/dev', '/proc', '/sys'];

export function isContainerAdded(p: string): boolean {
  if (CONTAINER_ADDED.has(p)) return true;
  return CONTAINER_MOUNT_TREES.some((t) => p === t || p.startsWith(t + '/'));
}

/**
 * The engine's own merged view of `image`: `docker create`, `docker export`, read the tar's
 * headers, `docker rm`. Leaves out what the engine adds for a container (/.dockerenv,
 * /etc/hostname, /etc/hosts, /etc/resolv.conf, /etc/mtab, /dev, /proc, /sys and below) unless
 * the image's own layers ship that path (BuildKit leaves /dev, /proc, /sys mount-point
 * directories in the first RUN layer). Hardlinks are normalized to files (see
 * normalizeHardlinks). The root "/" itself is not included.
 */
export async function dockerExportSet(image: string, layerStats?: LayerTarStats[]): Promise<Map<string, FsEntry>> {
  const shipped = new Set<string>();
  for (const st of layerStats ?? (await imageLayerStats(image))) for (const p of st.paths) shipped.add(p);
  // The command is never run: a container only needs one to be created.
  const cid = (await docker(['create', image, '/layerlens-never-run'])).trim();
  try {
    const child = spawn(DOCKER, ['export', cid], { stdio: ['ignore', 'pipe', 'pipe'], env: process.env });
    const errs: Buffer[] = [];
    child.stderr.on('data', (b: Buffer) => errs.push(b));
    const exited = new Promise<number | null>((resolve, reject) => {
      child.on('error', reject);
      child.on('close', (code) => resolve(code));
    });
    const entries = await tarEntries(child.stdout);
    const code = await exited;
    if (code !== 0) throw new Error(`docker export ${cid} exited ${code}: ${Buffer.concat(errs).toString().trim()}`);
    const kept = entries.filter((e) => e.path !== '/' && (!isContainerAdded(e.path) || shipped.has(e.path)));
    return normalizeHardlinks(kept);
  } finally {
    await run(DOCKER, ['rm', '-f', cid]);
  }
}

/** Compare two path maps on (path, type, size, mode); sizes compared for files only. */
export function diffSets(expected: Map<string, FsEntry>, actual: Map<string, FsEntry>, max = 25): string[] {
  const problems: string[] = [];
  const fmt = (e: FsEntry): string => `${e.type} size=${e.size} mode=${e.mode}`;
  for (const [p, e] of expected) {
    const a = actual.get(p);
    if (!a) problems.push(`missing ${p} (${fmt(e)})`);
    else if (a.type !== e.type || a.mode !== e.mode || (e.type === 'file' && a.size !== e.size)) {
      problems.push(`differs ${p}: expected ${fmt(e)}, got ${fmt(a)}`);
    }
  }
  for (const [p, a] of actual) if (!expected.has(p)) problems.push(`unexpected ${p} (${fmt(a)})`);
  problems.sort();
  return problems.length > max ? [...problems.slice(0, max), `... and ${problems.length - max} more`] : problems;
}

// ---------------------------------------------------------------------------------------------
// CLI output (`layerlens files --json`, `layerlens analyze --json`)

export interface FilesJsonEntry {
  path: string;
  type?: EntryType;
  size?: number;
  mode?: string;
  layer?: number;
  hides?: number[];
  deleted?: boolean;
  deletedBy?: number;
  shippedIn?: number[];
  [k: string]: unknown;
}

export function parseNdjson(text: string): FilesJsonEntry[] {
  const out: FilesJsonEntry[] = [];
  const lines = text.split('\n');
  for (let i = 0; i < lines.length; i++) {
    const l = lines[i].trim();
    if (!l) continue;
    try {
      out.push(JSON.parse(l) as FilesJsonEntry);
    } catch {
      throw new Error(`line ${i + 1} of the NDJSON output is not JSON: ${l.slice(0, 200)}`);
    }
  }
  return out;
}

/**
 * The non-deleted entries of `files --json` as a path map, hardlinks normalized to files with
 * their target's size. The target is a field the CLI may print (`linkTarget`, `target`,
 * `linkname`, `link`) or else looked up in `hardlinkTargets` (from archiveLayerStats); without
 * either the entry keeps its own size.
 */
export function filesJsonSet(entries: FilesJsonEntry[], hardlinkTargets?: Map<string, string>): Map<string, FsEntry> {
  const fs: FsEntry[] = [];
  for (const e of entries) {
    if (e.deleted) continue;
    if (!e.type || e.mode === undefined) throw new Error(`files --json entry without type/mode: ${JSON.stringify(e)}`);
    const f: FsEntry = { path: e.path, type: e.type, size: e.size ?? 0, mode: e.mode };
    if (e.type === 'hardlink') {
      const t = e.linkTarget ?? e.target ?? e.linkname ?? e.link;
      if (typeof t === 'string') f.linkname = normPath(t);
      else if (hardlinkTargets?.has(e.path)) f.linkname = hardlinkTargets.get(e.path);
    }
    fs.push(f);
  }
  return normalizeHardlinks(fs);
}

export interface AnalyzeJson {
  schemaVersion: number;
  image: { id: string; repoTags: string[]; os: string; architecture: string; size: number };
  layers: Array<{ index: number; diffId: string; size: number; createdBy: string; entries: number; added: number; modified: number; deleted: number; hiddenBytes: number }>;
  history: Array<{ index: number; createdBy: string; emptyLayer: boolean; layerIndex: number | null }>;
  efficiency: number;
  wastedBytes: number;
  hiddenBytes: number;
}

/** Run the CLI and parse its --json / NDJSON output; throws with stderr when it fails. */
export async function cliJson(args: readonly string[]): Promise<{ stdout: string; stderr: string }> {
  const r = await cli(args);
  if (r.code !== 0) {
    throw new Error(`layerlens ${args.join(' ')} exited ${r.code ?? r.signal}; stderr: ${r.stderr.trim().slice(0, 2000)}`);
  }
  return { stdout: r.stdout, stderr: r.stderr };
}

export async function filesJson(source: string): Promise<FilesJsonEntry[]> {
  return parseNdjson((await cliJson(['files', source, '--json'])).stdout);
}

export async function analyzeJson(source: string): Promise<AnalyzeJson> {
  const { stdout } = await cliJson(['analyze', source, '--json']);
  try {
    return JSON.parse(stdout) as AnalyzeJson;
  } catch {
    throw new Error(`analyze --json output is not one JSON object: ${stdout.slice(0, 300)}`);
  }
}

// ---------------------------------------------------------------------------------------------
// Image config, history, layer sizes as the engine reports them

export interface ImageConfig {
  architecture?: string;
  os?: string;
  config?: Record<string, unknown>;
  rootfs: { type: string; diff_ids: string[] };
  history?: Array<{ created?: string; created_by?: string; comment?: string; empty_layer?: boolean }>;
}

/** The image config JSON, read from `docker save` of the image (config + manifest only). */
export async function imageConfig(image: string): Promise<ImageConfig> {
  const child = spawn(DOCKER, ['save', image], { stdio: ['ignore', 'pipe', 'pipe'], env: process.env });
  const errs: Buffer[] = [];
  child.stderr.on('data', (b: Buffer) => errs.push(b));
  const exited = new Promise<number | null>((resolve, reject) => {
    child.on('error', reject);
    child.on('close', (code) => resolve(code));
  });
  const jsons = await tarSmallFiles(child.stdout, (n) => n.endsWith('.json') && !n.includes('/'));
  const code = await exited;
  if (code !== 0) throw new Error(`docker save ${image} exited ${code}: ${Buffer.concat(errs).toString().trim()}`);
  const manifest = JSON.parse(jsons.get('manifest.json')?.toString('utf8') ?? 'null') as Array<{ Config: string }> | null;
  if (!manifest?.[0]) throw new Error(`docker save ${image}: no manifest.json`);
  const cfg = jsons.get(manifest[0].Config);
  if (!cfg) throw new Error(`docker save ${image}: config ${manifest[0].Config} missing`);
  return JSON.parse(cfg.toString('utf8')) as ImageConfig;
}

/** Contents of the tar members whose name passes `want` (everything else skipped). */
export async function tarSmallFiles(stream: Readable, want: (name: string) => boolean): Promise<Map<string, Buffer>> {
  const ex = tar.extract();
  const out = new Map<string, Buffer>();
  await new Promise<void>((resolve, reject) => {
    ex.on('entry', (h, body, next) => {
      const name = h.name.replace(/^\.\//, '');
      if (h.type === 'file' && want(name)) {
        const parts: Buffer[] = [];
        body.on('data', (b: unknown) => parts.push(b as Buffer));
        body.on('end', () => { out.set(name, Buffer.concat(parts)); next(); });
      } else {
        body.on('end', () => next());
        body.resume();
      }
    });
    ex.on('finish', () => resolve());
    ex.on('error', reject);
    stream.on('error', reject);
    stream.pipe(ex);
  });
  return out;
}

export interface EngineHistoryRow {
  createdBy: string;
  size: number;
  comment: string;
  emptyLayer: boolean;
  /** index into rootfs.diff_ids, or null for empty-layer entries */
  layerIndex: number | null;
}

/**
 * The engine's history (GET /images/{name}/history, exact byte sizes), bottom first, aligned with
 * the config's history: an entry with empty_layer has no layer; every other entry owns the next
 * diff_id. Throws if the alignment is inconsistent.
 */
export async function engineHistory(image: string): Promise<EngineHistoryRow[]> {
  const cfg = await imageConfig(image);
  const rows = (await api().getImage(image).history()) as Array<{ CreatedBy: string; Size: number; Comment: string }>;
  const bottomFirst = [...rows].reverse();
  const hist = cfg.history ?? [];
  if (hist.length !== bottomFirst.length) {
    throw new Error(`history length mismatch for ${image}: config ${hist.length}, API ${bottomFirst.length}`);
  }
  let li = 0;
  const out: EngineHistoryRow[] = bottomFirst.map((r, i) => {
    const empty = hist[i].empty_layer === true;
    if (!empty && r.CreatedBy !== (hist[i].created_by ?? '')) {
      throw new Error(`history misaligned at ${i}: API "${r.CreatedBy}" vs config "${hist[i].created_by ?? ''}"`);
    }
    return { createdBy: r.CreatedBy, size: r.Size, comment: r.Comment, emptyLayer: empty, layerIndex: empty ? null : li++ };
  });
  if (li !== cfg.rootfs.diff_ids.length) {
    throw new Error(`${image}: ${li} non-empty history entries but ${cfg.rootfs.diff_ids.length} layers`);
  }
  return out;
}

/** Per layer (bottom first) the engine's history Size. */
export async function engineLayerSizes(image: string): Promise<number[]> {
  return (await engineHistory(image)).filter((h) => !h.emptyLayer).map((h) => h.size);
}

// ---------------------------------------------------------------------------------------------
// Archives and OCI layouts

/** `docker save -o PATH IMAGE` */
export async function saveArchive(image: string, file: string): Promise<string> {
  await mkdir(path.dirname(path.resolve(file)), { recursive: true });
  await docker(['save', '-o', file, image], { timeoutMs: 600_000 });
  return file;
}

export type Compression = 'gzip' | 'zstd';

/**
 * An OCI image layout of `image` in `dir` (replaced), via Debian's skopeo:
 * `skopeo copy docker-archive:TAR oci:DIR:latest` (layers gzip, skopeo's default for OCI), or with
 * `--dest-compress --dest-compress-format zstd` (skopeo 1.9 supports zstd). Verifies the
 * layer media types and blob magic bytes match the requested compression.
 * Note: skopeo re-serialises the config for OCI, so the config digest differs from the image id.
 */
export async function ociLayout(image: string, dir: string, compression: Compression, archive?: string): Promise<string> {
  const tmp = archive ? undefined : await mkdtemp(path.join(os.tmpdir(), 'layerlens-save-'));
  try {
    const tarPath = archive ?? path.join(tmp!, 'image.tar');
    if (!archive) await saveArchive(image, tarPath);
    await rm(dir, { recursive: true, force: true });
    await mkdir(path.dirname(path.resolve(dir)), { recursive: true });
    const args = ['--insecure-policy', 'copy', '-q'];
    if (compression === 'zstd') args.push('--dest-compress', '--dest-compress-format', 'zstd');
    args.push(`docker-archive:${path.resolve(tarPath)}`, `oci:${path.resolve(dir)}:latest`);
    await runOk('skopeo', args, { timeoutMs: 600_000 });
    await checkOciCompression(dir, compression);
    return dir;
  } finally {
    if (tmp) await rm(tmp, { recursive: true, force: true });
  }
}

async function blobPath(dir: string, digest: string): Promise<string> {
  const [alg, hex] = digest.split(':');
  return path.join(dir, 'blobs', alg, hex);
}

async function checkOciCompression(dir: string, compression: Compression): Promise<void> {
  const index = JSON.parse(await readFile(path.join(dir, 'index.json'), 'utf8')) as { manifests: Array<{ digest: string }> };
  for (const m of index.manifests) {
    const man = JSON.parse(await readFile(await blobPath(dir, m.digest), 'utf8')) as { layers: Array<{ mediaType: string; digest: string }> };
    for (const l of man.layers) {
      const want = compression === 'gzip' ? '+gzip' : '+zstd';
      if (!l.mediaType.endsWith(want)) throw new Error(`OCI layout ${dir}: layer ${l.digest} has mediaType ${l.mediaType}, wanted ${want}`);
      const fd = await readFile(await blobPath(dir, l.digest));
      const magic = compression === 'gzip' ? [0x1f, 0x8b] : [0x28, 0xb5, 0x2f, 0xfd];
      if (!magic.every((b, i) => fd[i] === b)) throw new Error(`OCI layout ${dir}: blob ${l.digest} lacks ${compression} magic bytes`);
    }
  }
}

/**
 * Per layer (bottom first, in manifest order) of a `docker save` archive: the sum of regular-file
 * sizes in the layer tar (hardlink entries carry no bytes, so each file counts once), the total
 * length of symlink targets, the hardlinks and the paths the layer ships (whiteouts excluded).
 * Independent of the CLI: the archive-size definition.
 */
export interface LayerTarStats {
  regularBytes: number;
  symlinkTargetBytes: number;
  entries: number;
  /** hardlink path -> target path, both normalized */
  hardlinks: Map<string, string>;
  /** every path in the layer tar except whiteout markers */
  paths: Set<string>;
}

/** Layer stats from a `docker save` stream, in one pass (manifest.json may come last). */
export async function saveStreamLayerStats(stream: Readable, what: string): Promise<LayerTarStats[]> {
  const stats = new Map<string, LayerTarStats>();
  let manifestText: string | undefined;
  const ex = tar.extract();
  await new Promise<void>((resolve, reject) => {
    ex.on('entry', (h, body, next) => {
      const name = h.name.replace(/^\.\//, '');
      if (h.type === 'file' && name === 'manifest.json') {
        const parts: Buffer[] = [];
        body.on('data', (b: unknown) => parts.push(b as Buffer));
        body.on('end', () => { manifestText = Buffer.concat(parts).toString('utf8'); next(); });
      } else if (h.type === 'file' && (name.endsWith('/layer.tar') || name.startsWith('blobs/'))) {
        // docker save layer tars are uncompressed (blobs/ for newer OCI-style saves).
        tarEntries(body as unknown as Readable).then((es) => {
          const st: LayerTarStats = { regularBytes: 0, symlinkTargetBytes: 0, entries: es.length, hardlinks: new Map(), paths: new Set() };
          for (const e of es) {
            if (e.type === 'file') st.regularBytes += e.size;
            if (e.type === 'symlink') st.symlinkTargetBytes += Buffer.byteLength(e.linkname ?? '');
            if (e.type === 'hardlink' && e.linkname) st.hardlinks.set(e.path, e.linkname);
            if (!path.posix.basename(e.path).startsWith('.wh.')) st.paths.add(e.path);
          }
          stats.set(name, st);
          next();
        }, () => {
          // Not a tar (e.g. a config blob under blobs/): skip it.
          body.resume();
          next();
        });
      } else {
        body.on('end', () => next());
        body.resume();
      }
    });
    ex.on('finish', () => resolve());
    ex.on('error', reject);
    stream.on('error', reject);
    stream.pipe(ex);
  });
  const manifest = JSON.parse(manifestText ?? 'null') as Array<{ Layers: string[] }> | null;
  if (!manifest?.[0]) throw new Error(`${what}: no manifest.json`);
  return manifest[0].Layers.map((l) => {
    const s = stats.get(l);
    if (!s) throw new Error(`${what}: layer ${l} not found`);
    return s;
  });
}

export async function archiveLayerStats(archive: string): Promise<LayerTarStats[]> {
  return saveStreamLayerStats(createReadStream(archive), archive);
}

/** Layer stats of an engine image, streamed from `docker save` (nothing written to disk). */
export async function imageLayerStats(image: string): Promise<LayerTarStats[]> {
  const child = spawn(DOCKER, ['save', image], { stdio: ['ignore', 'pipe', 'pipe'], env: process.env });
  const errs: Buffer[] = [];
  child.stderr.on('data', (b: Buffer) => errs.push(b));
  const exited = new Promise<number | null>((resolve, reject) => {
    child.on('error', reject);
    child.on('close', (code) => resolve(code));
  });
  const st = await saveStreamLayerStats(child.stdout, `docker save ${image}`);
  const code = await exited;
  if (code !== 0) throw new Error(`docker save ${image} exited ${code}: ${Buffer.concat(errs).toString().trim()}`);
  return st;
}

/** Hardlink path -> target over all layers (upper layers override lower ones). */
export function hardlinkTargets(stats: LayerTarStats[]): Map<string, string> {
  const m = new Map<string, string>();
  for (const s of stats) for (const [p, t] of s.hardlinks) m.set(p, t);
  return m;
}

/** Memoise an async computation (shared by the tests of one describe block). */
export function lazy<T>(fn: () => Promise<T>): () => Promise<T> {
  let p: Promise<T> | undefined;
  return () => (p ??= fn());
}

/** A temp directory for one test file's artefacts. */
export async function tempDir(prefix: string): Promise<string> {
  return mkdtemp(path.join(os.tmpdir(), `layerlens-${prefix}-`));
}

/** Size of a file in bytes. */
export async function fileSize(p: string): Promise<number> {
  return (await stat(p)).size;
}
