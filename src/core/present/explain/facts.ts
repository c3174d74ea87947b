// The facts of one layer, from the analysis and its index: what it added and changed, what its
// copy-ups cost, what it deleted that still ships below, what later layers hide of it, which paths
// are write-heavy or toolchains (path rules), and the instruction it came from.
import type { Analysis } from '../../image/analysis';
import type { DockerfileInstruction, DockerfileModel } from '../../dockerfile/dockerfile';
import { posixJoin } from '../../image/tar/paths';
import { shortCreatedBy } from '../format';
import type { MappingResult } from '../../dockerfile/mapping';
import { HOW, KINDS, type ImageIndex } from '../../image/index/imageIndex';
import { Column } from '../../image/index/columns';
import { T_DIR, T_FILE, T_HARDLINK } from '../../image/index/layerTable';
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

/** Any of the path and toolchain rules (a path that fails it needs no rule tried). */
const ANY_RULE = new RegExp([...PATH_RULES, ...TOOL_RULES].map((r) => `(?:${r.re.source})`).join('|'));

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
// Per-image: who hides each layer's bytes (one pass over the index's columns, once per analysis)

/** Node ids with a byte count each, as two growing typed columns (no object per path). */
export class NodeBytes {
  private readonly n = new Column(Int32Array, 64);
  private readonly b = new Column(Float64Array, 64);
  sum = 0;
  push(node: number, bytes: number): void {
    this.n.push(node);
    this.b.push(bytes);
    this.sum += bytes;
  }
  get length(): number {
    return this.n.length;
  }
  /** The nodes and their bytes so far (views, valid until the next push). */
  get nodes(): Int32Array {
    return this.n.view();
  }
  get bytes(): Float64Array {
    return this.b.view();
  }
}

interface HiddenGroup { byLayer: number; how: 'deleted' | 'overwritten'; files: NodeBytes }

const hiddenIndexCache = new WeakMap<ImageIndex, Map<number, Map<string, HiddenGroup>>>();

/** Per layer, its file copies a later layer replaced or deleted, grouped by that layer and how. */
function hiddenIndex(ix: ImageIndex): Map<number, Map<string, HiddenGroup>> {
  const hit = hiddenIndexCache.get(ix);
  if (hit) return hit;
  const byLayer = new Map<number, Map<string, HiddenGroup>>();
  for (let n = 1; n < ix.nodeCount; n++) {
    if (!ix.exists[n]) continue;
    const first = ix.copyStart[n];
    const last = ix.copyStart[n + 1];
    for (let k = first, top = first + ix.hiddenCount(n); k < top; k++) {
      if (ix.copyType[k] !== T_FILE) continue;
      // A later copy replaced it; else (no later copy, node deleted) the deleting layer hid it.
      const by = k + 1 < last ? ix.copyLayer[k + 1] : ix.deletedBy[n];
      if (by < 0) continue;
      const how: 'deleted' | 'overwritten' = k + 1 < last ? 'overwritten' : 'deleted';
      let m = byLayer.get(ix.copyLayer[k]);
      if (!m) byLayer.set(ix.copyLayer[k], (m = new Map()));
      const key = `${by}:${how}`;
      let g = m.get(key);
      if (!g) m.set(key, (g = { byLayer: by, how, files: new NodeBytes() }));
      g.files.push(n, ix.copyBytes[k]);
    }
  }
  hiddenIndexCache.set(ix, byLayer);
  return byLayer;
}

function cmpPathBytes(x: PathBytes, y: PathBytes): number {
  return y.bytes - x.bytes || cmp(x.path, y.path);
}

/**
 * The `n` largest of `files`, ties by path (with `positiveOnly`, of those with bytes): only the
 * entries at or above the n-th largest byte count get a path string.
 */
function topNodes(files: NodeBytes, n: number, path: (node: number) => string, positiveOnly = false): PathBytes[] {
  if (n <= 0 || files.length === 0) return [];
  const bytes = files.bytes, nodes = files.nodes;
  const sorted = bytes.slice().sort();
  const cut = sorted[Math.max(0, sorted.length - n)];
  const out: PathBytes[] = [];
  for (let i = 0; i < bytes.length; i++) {
    const b = bytes[i];
    if (b >= cut && (!positiveOnly || b > 0)) out.push({ path: path(nodes[i]), bytes: b });
  }
  return out.sort(cmpPathBytes).slice(0, n);
}

function addShipped(map: Map<number, NodeBytes>, layer: number, node: number, bytes: number): void {
  let e = map.get(layer);
  if (!e) map.set(layer, (e = new NodeBytes()));
  e.push(node, bytes);
}

function shippedBelow(map: Map<number, NodeBytes>, maxItems: number, path: (node: number) => string): ShippedBelow[] {
  return [...map].map(([layer, f]) => ({ layer, bytes: f.sum, files: f.length, paths: topNodes(f, maxItems, path) }))
    .sort((p, q) => q.bytes - p.bytes || p.layer - q.layer);
}

/** What one layer did, path by path, read from the index's columns. */
export interface LayerWrites {
  /** The regular files the layer ships, with the bytes it ships for each, in the merge's order. */
  written: NodeBytes;
  copyUps: CopyUp[];
  deletions: Deletion[];
  /** Per lower layer: the files this layer's deletions made invisible that it still ships. */
  deletedShipped: Map<number, NodeBytes>;
  /** Per lower layer: the lower copies this layer's copy-ups replaced. */
  overwritten: Map<number, NodeBytes>;
  /** Bytes the deletions hid that deletedShipped names. */
  deletedAttributed: number;
}

/** The changes of `layer` in the index, each with its copies: what it wrote, copied up and deleted. */
export function layerWrites(ix: ImageIndex, layer: number, path: (node: number) => string = ix.pathNamer()): LayerWrites {
  const w: LayerWrites = { written: new NodeBytes(), copyUps: [], deletions: [], deletedShipped: new Map(), overwritten: new Map(), deletedAttributed: 0 };
  // Files at and below `top` that this layer made invisible, credited to the lower layer that ships them.
  const hiddenBelow = (top: number, includeTop: boolean): number => {
    let bytes = 0;
    const stack = [top];
    while (stack.length) {
      const n = stack.pop()!;
      for (let k = ix.childStart[n]; k < ix.childStart[n + 1]; k++) stack.push(ix.childList[k]);
      if ((n === top && !includeTop) || ix.deletedBy[n] !== layer || ix.type[n] !== T_FILE) continue;
      // The highest copy below this layer.
      let below = -1;
      for (let k = ix.copyStart[n + 1] - 1; k >= ix.copyStart[n]; k--) if (ix.copyLayer[k] < layer) { below = k; break; }
      if (below < 0 || ix.copyBytes[below] === 0) continue;
      addShipped(w.deletedShipped, ix.copyLayer[below], n, ix.copyBytes[below]);
      bytes += ix.copyBytes[below];
    }
    w.deletedAttributed += bytes;
    return bytes;
  };
  const c = ix.layers[layer].changes;
  for (let i = 0; i < c.length; i++) {
    const n = c.node[i];
    const kind = KINDS[c.kind[i]];
    if (kind === 'deleted') {
      w.deletions.push({ path: path(n), how: HOW[c.how[i]] ?? 'whiteout', bytes: c.bytes[i] });
      hiddenBelow(n, true);
      continue;
    }
    if (kind === 'modified' && ix.type[n] !== T_DIR && ix.childStart[n + 1] > ix.childStart[n]) {
      // A directory replaced by a non-directory: everything below it is hidden.
      const bytes = hiddenBelow(n, false);
      if (bytes > 0) w.deletions.push({ path: path(n), how: 'replaced', bytes });
    }
    // The layer's own copy: its last one.
    let at = -1;
    for (let k = ix.copyStart[n + 1] - 1; k >= ix.copyStart[n]; k--) if (ix.copyLayer[k] === layer) { at = k; break; }
    if (at < 0) continue;
    const isFile = ix.copyType[at] === T_FILE;
    if (isFile) w.written.push(n, ix.copyBytes[at]);
    if (kind !== 'modified' || at === ix.copyStart[n] || !isFile) continue;
    const lower = at - 1;
    if (ix.copyType[lower] !== T_FILE && ix.copyType[lower] !== T_HARDLINK) continue;
    w.copyUps.push({ path: path(n), bytes: ix.copyBytes[at], lowerBytes: ix.copyBytes[lower], lowerLayer: ix.copyLayer[lower], metadataOnly: c.meta[i] === 1 });
    if (ix.copyBytes[lower] > 0) addShipped(w.overwritten, ix.copyLayer[lower], n, ix.copyBytes[lower]);
  }
  return w;
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
  const stats = a.layerStats[layer];
  if (!stats) throw new RangeError(`layer ${layer} does not exist (the image has ${a.layerStats.length})`);
  const threshold = opts.bigFileThreshold ?? DEFAULT_BIG_FILE_THRESHOLD;
  const maxItems = opts.maxItems ?? 10;
  const instructions = a.layerStats.map((_, i) => instructionFor(a, i, opts));
  const ins = instructions[layer];
  const ix = a.index;
  const pathOf = ix.pathNamer();
  const { written, copyUps, deletions, deletedShipped, overwritten, deletedAttributed } = layerWrites(ix, layer, pathOf);
  copyUps.sort(cmpPathBytes);
  deletions.sort(cmpPathBytes);

  // Paths that deserve a word: write-heavy directories, toolchains, apt.
  const heavy = new Map<string, WriteHeavy>();
  const tools = new Map<string, { what: string; bytes: number; dir: string }>();
  const writtenNodes = written.nodes, writtenBytes = written.bytes;
  for (let i = 0; i < writtenNodes.length; i++) {
    const path = pathOf(writtenNodes[i]);
    // Most paths match no rule: one test of them all first.
    if (!ANY_RULE.test(path)) continue;
    const w = { path, bytes: writtenBytes[i] };
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
    const files = Array.from(writtenNodes, (n, i) => ({ path: pathOf(n), bytes: writtenBytes[i] }));
    for (const w of [...files].sort(cmpPathBytes)) {
      const contextPath = contextPathFor(ins!.copy, w.path);
      const rel = contextPath ?? w.path.slice(1);
      const m = UNNEEDED_CONTEXT.exec(rel);
      if (m) {
        // Name the directory (.git, node_modules) once, not each file below it.
        const top = rel.slice(0, m.index + m[0].length).replace(/^\//, '');
        if (seenUnneeded.has(top)) continue;
        seenUnneeded.add(top);
        const prefix = w.path.slice(0, w.path.length - (rel.length - top.length));
        const bytes = files.filter((x) => x.path === prefix || x.path.startsWith(prefix + '/')).reduce((s, x) => s + x.bytes, 0);
        copiedCandidates.push({ path: prefix, contextPath: contextPath === null ? null : top, bytes, reason: 'unneeded' });
      } else if (w.bytes >= threshold) {
        copiedCandidates.push({ path: w.path, contextPath, bytes: w.bytes, reason: 'large' });
      }
    }
    copiedCandidates.sort((x, y) => y.bytes - x.bytes || cmp(x.path, y.path));
  }

  const hidden = [...(hiddenIndex(ix).get(layer)?.values() ?? [])]
    .map((h) => ({ byLayer: h.byLayer, how: h.how, bytes: h.files.sum, files: h.files.length, paths: topNodes(h.files, maxItems, pathOf) }))
    .sort((x, y) => y.bytes - x.bytes || x.byLayer - y.byLayer || cmp(x.how, y.how));

  const x: LayerExplanation = {
    layer,
    layerCount: a.layerStats.length,
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
    deletedShipped: shippedBelow(deletedShipped, maxItems, pathOf),
    deletedUnattributed: 0,
    overwrittenBelow: shippedBelow(overwritten, maxItems, pathOf),
    hiddenLater: hidden,
    hiddenBytes: stats.hiddenBytes,
    largest: topNodes(written, maxItems, pathOf, true),
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
