// The facts of one layer, from the analysis and its index: what it added and changed, what its
// copy-ups cost, what it deleted that still ships below, what later layers hide of it, which paths
// are write-heavy or toolchains (path rules), and the instruction it came from.
import type { Analysis } from '../../image/analysis';
import type { DockerfileInstruction, DockerfileModel } from '../../dockerfile/dockerfile';
import { posixJoin } from '../../image/tar/paths';
import { shortCreatedBy } from '../format';
import type { MappingResult } from '../../dockerfile/mapping';
import { nodePath, type MergedNode } from '../../image/merge';
import type { HistoryEntry } from '../../image/types';
import { CopyUp, DEFAULT_BIG_FILE_THRESHOLD, Deletion, ExplainOptions, InstructionRef, LayerExplanation, PathBytes, PathCategory, ShippedBelow, WriteHeavy, isContextCopy, isRun } from './model';
import { suggest } from './suggestions';

// ---------------------------------------------------------------------------------------------
// Path rules

interface PathRule { re: RegExp; category: PathCategory; what: string; cacheMount: boolean; /** Names the match instead of the matched path. */ dir?: string }

const HOME = '(?:/root|/home/[^/]+)';
const PATH_RULES: PathRule[] = [
  { re: /^\/var\/lib\/mysql(?=\/|$)/, category: 'database', what: 'MySQL/MariaDB data', cacheMount: false },
  { re: /^\/var\/lib\/postgresql(?=\/|$)/, category: 'database', what: 'PostgreSQL data', cacheMount: false },
  { re: /^\/var\/lib\/pgsql(?=\/|$)/, category: 'database', what: 'PostgreSQL data', cacheMount: false },
  { re: /^\/var\/lib\/mongodb(?=\/|$)/, category: 'database', what: 'MongoDB data', cacheMount: false },
  { re: /^\/data\/db(?=\/|$)/, category: 'database', what: 'MongoDB data', cacheMount: false },
  { re: /^\/var\/lib\/redis(?=\/|$)/, category: 'database', what: 'Redis data', cacheMount: false },
  { re: /^\/var\/lib\/elasticsearch(?=\/|$)/, category: 'database', what: 'Elasticsearch data', cacheMount: false },
  { re: /^\/var\/lib\/cassandra(?=\/|$)/, category: 'database', what: 'Cassandra data', cacheMount: false },
  { re: /^\/var\/lib\/rabbitmq(?=\/|$)/, category: 'database', what: 'RabbitMQ data', cacheMount: false },
  { re: /^\/var\/lib\/influxdb(?=\/|$)/, category: 'database', what: 'InfluxDB data', cacheMount: false },
  { re: /^\/var\/lib\/clickhouse(?=\/|$)/, category: 'database', what: 'ClickHouse data', cacheMount: false },
  { re: /^\/var\/log\/(?:dpkg\.log|apt\/|alternatives\.log|bootstrap\.log|yum\.log|dnf[^/]*\.log|apk\.log|fontconfig\.log)/, category: 'package-log', what: 'package manager logs', cacheMount: false, dir: '/var/log' },
  { re: /^\/var\/log(?=\/|$)/, category: 'log', what: 'logs', cacheMount: false },
  { re: /^\/var\/lib\/apt\/lists(?=\/|$)/, category: 'apt-lists', what: 'apt package lists', cacheMount: true },
  { re: /^\/var\/cache\/apt(?=\/|$)/, category: 'cache', what: 'apt cache', cacheMount: true },
  { re: /^\/var\/cache\/apk(?=\/|$)/, category: 'cache', what: 'apk cache', cacheMount: true },
  { re: /^\/var\/cache\/(?:dnf|yum)(?=\/|$)/, category: 'cache', what: 'dnf/yum cache', cacheMount: true },
  { re: new RegExp(`^${HOME}/\\.cache/pip(?=/|$)`), category: 'cache', what: 'pip cache', cacheMount: true },
  { re: new RegExp(`^${HOME}/\\.cache/go-build(?=/|$)`), category: 'cache', what: 'Go build cache', cacheMount: true },
  { re: new RegExp(`^${HOME}/\\.cache/yarn(?=/|$)`), category: 'cache', what: 'yarn cache', cacheMount: true },
  { re: /^\/usr\/local\/share\/\.cache\/yarn(?=\/|$)/, category: 'cache', what: 'yarn cache', cacheMount: true },
  { re: new RegExp(`^${HOME}/\\.cache(?=/|$)`), category: 'cache', what: 'user cache', cacheMount: true },
  { re: new RegExp(`^${HOME}/\\.npm(?=/|$)`), category: 'cache', what: 'npm cache', cacheMount: true },
  { re: new RegExp(`^${HOME}/\\.m2(?=/|$)`), category: 'cache', what: 'Maven repository', cacheMount: true },
  { re: new RegExp(`^${HOME}/\\.gradle(?=/|$)`), category: 'cache', what: 'Gradle cache', cacheMount: true },
  { re: new RegExp(`^${HOME}/\\.cargo/registry(?=/|$)`), category: 'cache', what: 'Cargo registry', cacheMount: true },
  { re: new RegExp(`^${HOME}/\\.composer/cache(?=/|$)`), category: 'cache', what: 'Composer cache', cacheMount: true },
  { re: /^\/tmp(?=\/|$)/, category: 'temp', what: 'temporary files', cacheMount: false },
  { re: /^\/var\/tmp(?=\/|$)/, category: 'temp', what: 'temporary files', cacheMount: false },
];

interface ToolRule { re: RegExp; what: string }
const TOOL_RULES: ToolRule[] = [
  { re: /^\/usr\/(?:lib|libexec)\/gcc(?:-cross)?(?=\/|$)/, what: 'GCC' },
  { re: /^\/usr\/bin\/(?:[\w-]+-)?(?:gcc|g\+\+|cc|c\+\+|cpp)(?:-\d+)?$/, what: 'GCC' },
  { re: /^\/usr\/lib\/llvm-[^/]+(?=\/|$)/, what: 'LLVM/Clang' },
  { re: /^\/usr\/bin\/(?:clang|clang\+\+|ld\.lld)(?:-\d+)?$/, what: 'LLVM/Clang' },
  { re: /^\/usr\/bin\/(?:[\w-]+-)?(?:ld|ld\.bfd|ld\.gold|as|objdump|objcopy|strip|ar|ranlib)$/, what: 'binutils' },
  { re: /^\/usr\/include(?=\/|$)/, what: 'C headers' },
  { re: /^\/usr\/bin\/(?:make|cmake|ninja)$/, what: 'make/CMake' },
  { re: /^\/usr\/share\/cmake(?:-[^/]+)?(?=\/|$)/, what: 'make/CMake' },
  { re: /^\/usr\/local\/go(?=\/|$)/, what: 'Go toolchain' },
  { re: /^\/usr\/lib\/go-[^/]+(?=\/|$)/, what: 'Go toolchain' },
  { re: /^(?:\/root|\/usr\/local)\/\.?rustup(?=\/|$)/, what: 'Rust toolchain' },
  { re: /^\/usr\/lib\/jvm\/[^/]*jdk[^/]*\/(?:bin\/javac|lib\/(?:ct\.sym|src\.zip)|jmods)(?=\/|$)/, what: 'JDK tools' },
];

/** Build-context files and directories that are rarely meant to be in an image. */
const UNNEEDED_CONTEXT = /(?:^|\/)(?:\.git|\.svn|\.hg|node_modules|__pycache__|\.pytest_cache|\.mypy_cache|\.venv|\.idea|\.vscode|\.DS_Store|\.env)(?=\/|$)/;

// ---------------------------------------------------------------------------------------------
// Instructions

/** The instruction a history entry records, Dockerfile-like: `RUN apt-get ...`, `COPY x /y`. */
export function historyInstruction(h: HistoryEntry | undefined): InstructionRef | undefined {
  if (!h) return undefined;
  let s = h.createdBy.trim();
  if (!s) return h.comment ? { keyword: '', text: `(${h.comment})`, origin: 'history' } : undefined;
  s = s.replace(/\s*# buildkit$/, '');
  // BuildKit: "RUN |2 A=1 B=2 /bin/sh -c cmd"; legacy: "|2 A=1 B=2 /bin/sh -c cmd".
  s = s.replace(/^RUN \|\d+ .*?(\/bin\/sh -c )/, 'RUN $1').replace(/^RUN \/bin\/sh -c /, 'RUN ');
  s = shortCreatedBy(s);
  const keyword = /^([A-Z]+)\b/.exec(s)?.[1] ?? '';
  return { keyword: keyword || 'RUN', text: keyword ? s : `RUN ${s}`, origin: 'history' };
}

/** A Dockerfile instruction as explain names it: written on one line, flags kept, COPY paths resolved. */
export function instructionRefOf(ins: DockerfileInstruction, model: DockerfileModel): InstructionRef {
  const flags = ins.flags.map((f) => (f.value === null ? `--${f.name}` : `--${f.name}=${f.value}`)).join(' ');
  const text = [ins.keyword, flags, ins.args].filter((s) => s !== '').join(' ');
  let copy: InstructionRef['copy'] = null;
  if (ins.copy) {
    let dest = ins.copy.dest;
    if (dest !== '' && !dest.startsWith('/')) {
      // Relative to the WORKDIR in effect: the last WORKDIR before this line in its stage chain.
      const wd = model.instructions.filter((i) => i.keyword === 'WORKDIR' && i.line < ins.line && i.stage >= 0 && i.stage <= ins.stage && i.workdir).pop()?.workdir;
      if (wd) dest = posixJoin(wd, dest, true);
    }
    copy = { sources: ins.copy.sources, dest, from: ins.copy.from };
  }
  return { keyword: ins.keyword, text, line: ins.line, endLine: ins.endLine, copy, origin: 'dockerfile' };
}

/** The Dockerfile instruction behind each layer, from a mapping (base and unmapped layers absent). */
export function instructionsByLayer(model: DockerfileModel, mapping: MappingResult): Map<number, InstructionRef> {
  const out = new Map<number, InstructionRef>();
  for (const m of mapping.lines) {
    if (m.layerIndex === null || m.base) continue;
    const ins = model.instructions.find((i) => i.line === m.line);
    if (ins) out.set(m.layerIndex, instructionRefOf(ins, model));
  }
  return out;
}

function instructionFor(a: Analysis, layer: number, opts: ExplainOptions): InstructionRef | undefined {
  return opts.instructionOf?.(layer) ?? historyInstruction(a.layerHistory[layer]);
}




// ---------------------------------------------------------------------------------------------
// Per-image index: who hides each layer's bytes (computed once per analysis)

interface HiddenIndex {
  byLayer: Map<number, Map<string, { byLayer: number; how: 'deleted' | 'overwritten'; bytes: number; files: number; paths: PathBytes[] }>>;
}

const hiddenIndexCache = new WeakMap<Analysis, HiddenIndex>();

function hiddenIndex(a: Analysis): HiddenIndex {
  const hit = hiddenIndexCache.get(a);
  if (hit) return hit;
  const idx: HiddenIndex = { byLayer: new Map() };
  for (const [path, n] of a.tree.walk()) {
    const top = n.live ? n.copies.length - 1 : n.copies.length;
    for (let i = 0; i < top; i++) {
      const c = n.copies[i];
      if (c.type !== 'file') continue;
      const next = n.copies[i + 1];
      // A later copy replaced it; else (no later copy, node deleted) the deleting layer hid it.
      const by = next ? next.layer : n.deletedBy;
      if (by === null || by === undefined) continue;
      const how: 'deleted' | 'overwritten' = next ? 'overwritten' : 'deleted';
      let m = idx.byLayer.get(c.layer);
      if (!m) idx.byLayer.set(c.layer, (m = new Map()));
      const key = `${by}:${how}`;
      let e = m.get(key);
      if (!e) m.set(key, (e = { byLayer: by, how, bytes: 0, files: 0, paths: [] }));
      e.bytes += c.bytes;
      e.files++;
      e.paths.push({ path, bytes: c.bytes });
    }
  }
  hiddenIndexCache.set(a, idx);
  return idx;
}

function topPaths(paths: PathBytes[], n: number): PathBytes[] {
  return [...paths].sort((x, y) => y.bytes - x.bytes || (x.path < y.path ? -1 : x.path > y.path ? 1 : 0)).slice(0, n);
}

function copyAt(n: MergedNode, layer: number): { i: number } | undefined {
  for (let i = n.copies.length - 1; i >= 0; i--) if (n.copies[i].layer === layer) return { i };
  return undefined;
}

function* subtree(n: MergedNode): Generator<MergedNode> {
  const stack = [n];
  while (stack.length) {
    const x = stack.pop()!;
    yield x;
    if (x.children) for (const c of x.children.values()) stack.push(c);
  }
}

function addShipped(map: Map<number, ShippedBelow>, layer: number, path: string, bytes: number): void {
  let e = map.get(layer);
  if (!e) map.set(layer, (e = { layer, bytes: 0, files: 0, paths: [] }));
  e.bytes += bytes;
  e.files++;
  e.paths.push({ path, bytes });
}

/** The build-context path a COPY'd image path came from, when the COPY has one source. */
export function contextPathFor(copy: InstructionRef['copy'], imagePath: string): string | null {
  if (!copy || copy.from || copy.sources.length !== 1) return null;
  const src = copy.sources[0].replace(/^\.\/+/, '').replace(/\/+$/, '');
  if (/[*?[]/.test(src) || /^[a-z]+:\/\//i.test(src) || src.startsWith('..')) return null;
  const dest = copy.dest.replace(/\/+$/, '') || '/';
  if (!dest.startsWith('/')) return null; // relative to WORKDIR: not resolvable here
  const rel = dest === '/' ? imagePath.slice(1) : imagePath.startsWith(dest + '/') ? imagePath.slice(dest.length + 1) : null;
  if (rel === null) {
    // `COPY file /dest/name`: the file itself.
    return imagePath === dest && src !== '' && src !== '.' ? src : null;
  }
  // A directory source (or ".") copies its contents into dest; a file source into dest/<name>.
  if (src === '' || src === '.') return rel;
  const base = src.slice(src.lastIndexOf('/') + 1);
  if (copy.dest.endsWith('/') && rel === base) return src; // COPY file /dir/
  return `${src}/${rel}`;
}

// ---------------------------------------------------------------------------------------------
// explainLayer

export function explainLayer(a: Analysis, layer: number, opts: ExplainOptions = {}): LayerExplanation {
  const stats = a.tree.layers[layer];
  if (!stats) throw new RangeError(`layer ${layer} does not exist (the image has ${a.tree.layers.length})`);
  const threshold = opts.bigFileThreshold ?? DEFAULT_BIG_FILE_THRESHOLD;
  const maxItems = opts.maxItems ?? 10;
  const instructions = a.tree.layers.map((_, i) => instructionFor(a, i, opts));
  const ins = instructions[layer];

  const copyUps: CopyUp[] = [];
  const deletions: Deletion[] = [];
  const written: PathBytes[] = [];
  const deletedShipped = new Map<number, ShippedBelow>();
  const overwritten = new Map<number, ShippedBelow>();
  let deletedAttributed = 0;
  // Files below `top` that this layer made invisible, credited to the lower layer that ships them.
  const hiddenBelow = (top: MergedNode, includeTop: boolean): number => {
    let bytes = 0;
    for (const n of subtree(top)) {
      if ((n === top && !includeTop) || n.deletedBy !== layer || n.type !== 'file') continue;
      let below: { layer: number; bytes: number } | undefined;
      for (let i = n.copies.length - 1; i >= 0; i--) if (n.copies[i].layer < layer) { below = n.copies[i]; break; }
      if (!below || below.bytes === 0) continue;
      addShipped(deletedShipped, below.layer, nodePath(n), below.bytes);
      bytes += below.bytes;
    }
    deletedAttributed += bytes;
    return bytes;
  };
  for (const c of stats.changes) {
    const path = nodePath(c.node);
    if (c.kind === 'deleted') {
      deletions.push({ path, how: c.how ?? 'whiteout', bytes: c.bytes });
      hiddenBelow(c.node, true);
      continue;
    }
    if (c.kind === 'modified' && c.node.children && c.node.type !== 'dir') {
      // A directory replaced by a non-directory: everything below it is hidden.
      const bytes = hiddenBelow(c.node, false);
      if (bytes > 0) deletions.push({ path, how: 'replaced', bytes });
    }
    const at = copyAt(c.node, layer);
    const copy = at ? c.node.copies[at.i] : undefined;
    if (copy?.type === 'file') written.push({ path, bytes: copy.bytes });
    if (c.kind !== 'modified' || !at || at.i === 0) continue;
    const lower = c.node.copies[at.i - 1];
    if (copy?.type !== 'file' || (lower.type !== 'file' && lower.type !== 'hardlink')) continue;
    copyUps.push({ path, bytes: copy.bytes, lowerBytes: lower.bytes, lowerLayer: lower.layer, metadataOnly: c.metadataOnly === true });
    if (lower.bytes > 0) addShipped(overwritten, lower.layer, path, lower.bytes);
  }
  copyUps.sort((x, y) => y.bytes - x.bytes || cmp(x.path, y.path));
  deletions.sort((x, y) => y.bytes - x.bytes || cmp(x.path, y.path));

  // Paths that deserve a word: write-heavy directories, toolchains, apt.
  const heavy = new Map<string, WriteHeavy>();
  const tools = new Map<string, { what: string; bytes: number; dir: string }>();
  for (const w of written) {
    for (const r of PATH_RULES) {
      const m = r.re.exec(w.path);
      if (!m) continue;
      const dir = r.dir ?? m[0];
      const key = `${r.category}:${dir}`;
      let e = heavy.get(key);
      if (!e) heavy.set(key, (e = { dir, category: r.category, what: r.what, bytes: 0, files: 0, cacheMount: r.cacheMount }));
      e.bytes += w.bytes;
      e.files++;
      break;
    }
    for (const r of TOOL_RULES) {
      const m = r.re.exec(w.path);
      if (!m) continue;
      let e = tools.get(r.what);
      if (!e) tools.set(r.what, (e = { what: r.what, bytes: 0, dir: m[0] }));
      e.bytes += w.bytes;
      break;
    }
  }
  const writeHeavy = [...heavy.values()].filter((h) => h.bytes > 0).sort((x, y) => y.bytes - x.bytes || cmp(x.dir, y.dir));
  const toolGroups = [...tools.values()].filter((t) => t.bytes > 0).sort((x, y) => y.bytes - x.bytes || cmp(x.what, y.what));
  const text = ins?.text ?? '';
  const aptInstall = isRun(ins) && /\bapt(?:-get)?\s+(?:[^;&|]*\s)?install\b/.test(text);
  const apt = {
    install: aptInstall,
    noInstallRecommends: /--no-install-recommends\b|APT::Install-Recommends\S*\s*(?:=|\s)\s*["']?(?:false|0)/.test(text),
    listsBytes: writeHeavy.filter((h) => h.category === 'apt-lists').reduce((s, h) => s + h.bytes, 0),
    cacheBytes: writeHeavy.filter((h) => h.dir === '/var/cache/apt').reduce((s, h) => s + h.bytes, 0),
  };

  const copiedCandidates: LayerExplanation['copiedCandidates'] = [];
  if (isContextCopy(ins)) {
    const seenUnneeded = new Set<string>();
    for (const w of [...written].sort((x, y) => y.bytes - x.bytes || cmp(x.path, y.path))) {
      const contextPath = contextPathFor(ins!.copy, w.path);
      const rel = contextPath ?? w.path.slice(1);
      const m = UNNEEDED_CONTEXT.exec(rel);
      if (m) {
        // Name the directory (.git, node_modules) once, not each file below it.
        const top = rel.slice(0, m.index + m[0].length).replace(/^\//, '');
        if (seenUnneeded.has(top)) continue;
        seenUnneeded.add(top);
        const prefix = w.path.slice(0, w.path.length - (rel.length - top.length));
        const bytes = written.filter((x) => x.path === prefix || x.path.startsWith(prefix + '/')).reduce((s, x) => s + x.bytes, 0);
        copiedCandidates.push({ path: prefix, contextPath: contextPath === null ? null : top, bytes, reason: 'unneeded' });
      } else if (w.bytes >= threshold) {
        copiedCandidates.push({ path: w.path, contextPath, bytes: w.bytes, reason: 'large' });
      }
    }
    copiedCandidates.sort((x, y) => y.bytes - x.bytes || cmp(x.path, y.path));
  }

  const hidden = [...(hiddenIndex(a).byLayer.get(layer)?.values() ?? [])]
    .map((h) => ({ ...h, paths: topPaths(h.paths, maxItems) }))
    .sort((x, y) => y.bytes - x.bytes || x.byLayer - y.byLayer);

  const x: LayerExplanation = {
    layer,
    layerCount: a.tree.layers.length,
    instruction: ins,
    instructions,
    diffId: a.image.layers[layer]?.diffId ?? '',
    size: a.layerSizes[layer] ?? stats.fileBytes,
    sizeDefinition: a.sizeDefinition,
    imageSize: a.totalSize,
    fileBytes: stats.fileBytes,
    entries: stats.entries,
    added: { count: stats.added, bytes: stats.addedBytes },
    modified: { count: stats.modified, bytes: stats.modifiedBytes },
    deleted: { count: stats.deleted, bytes: stats.deletedBytes },
    copyUps,
    copyUpBytes: copyUps.reduce((s, c) => s + c.bytes, 0),
    metadataOnlyBytes: copyUps.filter((c) => c.metadataOnly).reduce((s, c) => s + c.bytes, 0),
    metadataOnlyCount: copyUps.filter((c) => c.metadataOnly).length,
    bigWrites: copyUps.filter((c) => Math.max(c.bytes, c.lowerBytes) >= threshold),
    bigFileThreshold: threshold,
    deletions,
    deletedShipped: [...deletedShipped.values()].map((s) => ({ ...s, paths: topPaths(s.paths, maxItems) })).sort((p, q) => q.bytes - p.bytes || p.layer - q.layer),
    deletedUnattributed: 0,
    overwrittenBelow: [...overwritten.values()].map((s) => ({ ...s, paths: topPaths(s.paths, maxItems) })).sort((p, q) => q.bytes - p.bytes || p.layer - q.layer),
    hiddenLater: hidden,
    hiddenBytes: stats.hiddenBytes,
    largest: topPaths(written, maxItems).filter((p) => p.bytes > 0),
    writeHeavy,
    toolchain: { bytes: toolGroups.reduce((s, t) => s + t.bytes, 0), groups: toolGroups },
    apt,
    copiedCandidates: copiedCandidates.slice(0, maxItems),
    empty: stats.fileBytes === 0 && stats.deleted === 0,
    suggestions: [],
  };
  // Deletions of whole lower directories replaced by a file, and opaque directories, are counted in
  // deletedBytes; what the attribution walk found is what the breakdown can name.
  x.deletedUnattributed = Math.max(0, deletionsBytes(x) - deletedAttributed);
  x.suggestions = suggest(x);
  return x;
}

function deletionsBytes(x: LayerExplanation): number {
  return x.deletions.reduce((s, d) => s + d.bytes, 0);
}

function cmp(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}
