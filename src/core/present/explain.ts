// Copy-on-write explained with the image's own numbers: what one layer costs and why, as data
// (`explainLayer`), and the same facts rendered for a hover (markdown), the "Explain This Layer"
// report (blocks rendered to HTML) and the CLI (plain text). Pure: no I/O, no vscode.
//
// Facts this module states, and why they hold for image layers and OverlayFS:
// - A layer is a tar of whole files. Changing any part of a file from a lower layer (one appended
//   byte, a chmod or chown) stores the entire file again in the new layer; under overlay2 the build
//   container's write first copies the whole file up into its writable layer ("copy-up"), and that
//   layer becomes the new image layer. The lower copy stays in its layer.
// - Deleting in a later layer writes a whiteout: the file disappears from the merged view but the
//   layer below still holds and ships its bytes. Only not writing them (deleting in the same RUN, or
//   not copying them) keeps them out of the image.
// - Instructions that only change the image config (ENV, LABEL, CMD, EXPOSE, USER, ...) add a
//   history entry without a layer: 0 bytes. WORKDIR (and a RUN that writes nothing) can still make a
//   real layer holding no file content.
// - At run time a container's writes to image files go through the storage driver (copy-up into the
//   container's writable layer, lost with the container); a volume bypasses the storage driver.
import type { Analysis } from '../image/analysis';
import type { DockerfileInstruction, DockerfileModel } from '../dockerfile/dockerfile';
import { posixJoin } from '../image/tar/paths';
import { formatBytes, formatPercent, mdEscape, plural, shortCreatedBy } from './format';
import type { MappingResult } from '../dockerfile/mapping';
import { nodePath, type DeleteHow, type MergedNode } from '../image/merge';
import type { HistoryEntry } from '../image/types';

export const DEFAULT_BIG_FILE_THRESHOLD = 10_000_000;
/** Toolchain bytes below this are not worth a multi-stage suggestion. */
export const MULTI_STAGE_MIN_BYTES = 1_000_000;

// ---------------------------------------------------------------------------------------------
// What explain needs from the Dockerfile ↔ image mapping

/** A Dockerfile instruction (or, without a Dockerfile, a history entry) behind a layer. */
export interface InstructionRef {
  /** Upper-case keyword: RUN, COPY, ... ('' when unknown). */
  keyword: string;
  /** The instruction as the user wrote it, on one line (continuations joined). */
  text: string;
  /** 1-based Dockerfile lines, when the instruction comes from a Dockerfile. */
  line?: number;
  endLine?: number;
  /** COPY/ADD: sources and destination as written (after substitution); from: `--from` value. */
  copy?: { sources: string[]; dest: string; from: string | null } | null;
  /** Where the text comes from. */
  origin: 'dockerfile' | 'history';
}

export interface ExplainOptions {
  /** The instruction behind a layer, from the Dockerfile mapping. Missing: the history entry is used. */
  instructionOf?: (layer: number) => InstructionRef | undefined;
  /** Modified files at least this big are called out (setting layerLens.hover.bigFileThreshold). */
  bigFileThreshold?: number;
  /** How many paths lists show. */
  maxItems?: number;
}

// ---------------------------------------------------------------------------------------------
// The data

export interface PathBytes {
  path: string;
  bytes: number;
}

export interface CopyUp {
  path: string;
  /** Bytes this layer stores for the file (the whole file). */
  bytes: number;
  /** Bytes of the lower copy, still shipped in `lowerLayer`. */
  lowerBytes: number;
  lowerLayer: number;
  /** Same size, different mode/owner: what a chmod/chown does. */
  metadataOnly: boolean;
}

export interface Deletion {
  path: string;
  how: DeleteHow;
  /** Live file bytes the deletion made invisible. */
  bytes: number;
}

/** Bytes one lower layer still ships although this layer deleted or replaced them. */
export interface ShippedBelow {
  layer: number;
  bytes: number;
  files: number;
  /** Largest paths first. */
  paths: PathBytes[];
}

/** Bytes of this layer that a later layer made invisible. */
export interface HiddenLater {
  byLayer: number;
  how: 'deleted' | 'overwritten';
  bytes: number;
  files: number;
  paths: PathBytes[];
}

export type PathCategory = 'database' | 'log' | 'package-log' | 'cache' | 'temp' | 'apt-lists';

export interface WriteHeavy {
  /** The rule's directory (e.g. /var/lib/mysql) or, for home caches, the matched directory. */
  dir: string;
  category: PathCategory;
  /** What lives there ("MySQL data", "pip cache"). */
  what: string;
  bytes: number;
  files: number;
  /** Package-manager cache that a `RUN --mount=type=cache` can hold instead of the layer. */
  cacheMount: boolean;
}

export type SuggestionId = 'fold-cleanup' | 'apt-lists' | 'apt-no-recommends' | 'apt-cache' | 'dockerignore'
  | 'multi-stage' | 'cache-mount' | 'volume' | 'tmp-mount' | 'fold-chmod' | 'fold-change';

export interface Suggestion {
  id: SuggestionId;
  /** One line, inline markup (see `code`/`bold`). */
  text: string;
  /** Bytes the suggestion would keep out of the image (0 when it is not about size). */
  bytes: number;
  /** Paths it names (image paths; for dockerignore: build-context paths). */
  paths?: string[];
  /** The layer it concerns when not this one (e.g. the RUN to fold a cleanup into). */
  layer?: number;
}

export interface LayerExplanation {
  layer: number;
  layerCount: number;
  instruction: InstructionRef | undefined;
  /** The instruction behind every layer of the image (for naming other layers). */
  instructions: Array<InstructionRef | undefined>;
  diffId: string;
  size: number;
  sizeDefinition: Analysis['sizeDefinition'];
  imageSize: number;
  /** Regular-file bytes in the layer tar. */
  fileBytes: number;
  entries: number;
  added: { count: number; bytes: number };
  modified: { count: number; bytes: number };
  deleted: { count: number; bytes: number };
  copyUps: CopyUp[];
  copyUpBytes: number;
  metadataOnlyBytes: number;
  metadataOnlyCount: number;
  bigWrites: CopyUp[];
  bigFileThreshold: number;
  deletions: Deletion[];
  /** What this layer's deletions hid, by the lower layer that still ships it. */
  deletedShipped: ShippedBelow[];
  /** Deleted bytes whose shipping layer cannot be told (paths recreated later). */
  deletedUnattributed: number;
  /** Lower copies this layer replaced, by the lower layer that still ships them. */
  overwrittenBelow: ShippedBelow[];
  /** This layer's bytes that later layers made invisible. */
  hiddenLater: HiddenLater[];
  hiddenBytes: number;
  largest: PathBytes[];
  writeHeavy: WriteHeavy[];
  toolchain: { bytes: number; groups: Array<{ what: string; bytes: number; dir: string }> };
  apt: { install: boolean; noInstallRecommends: boolean; listsBytes: number; cacheBytes: number };
  /** COPY/ADD: large or usually-unneeded files, with their build-context paths when known. */
  copiedCandidates: Array<{ path: string; contextPath: string | null; bytes: number; reason: 'large' | 'unneeded' }>;
  empty: boolean;
  suggestions: Suggestion[];
}

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

/** `RUN ...` trimmed to `max` characters. */
export function shortInstruction(ins: InstructionRef | undefined, max = 72): string {
  if (!ins) return '(unknown instruction)';
  const t = ins.text.replace(/\s+/g, ' ').trim();
  return t.length > max ? t.slice(0, max - 1) + '…' : t;
}

function isRun(ins: InstructionRef | undefined): boolean {
  return ins?.keyword === 'RUN';
}

function isContextCopy(ins: InstructionRef | undefined): boolean {
  return (ins?.keyword === 'COPY' || ins?.keyword === 'ADD') && !(ins.copy?.from);
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

// ---------------------------------------------------------------------------------------------
// Suggestions: each only when this layer's data supports it

function layerName(x: LayerExplanation, layer: number): string {
  const ins = x.instructions[layer];
  const where = ins?.line !== undefined ? `line ${ins.line}` : `layer ${layer}`;
  return `${where} (${code(shortInstruction(ins, 40))})`;
}

function suggest(x: LayerExplanation): Suggestion[] {
  const out: Suggestion[] = [];
  const ins = x.instruction;

  // Fold a later cleanup into the RUN that created the files (this layer created them).
  for (const h of x.hiddenLater) {
    if (h.how !== 'deleted' || h.bytes === 0 || !isRun(ins)) continue;
    out.push({
      id: 'fold-cleanup', layer: h.byLayer, bytes: h.bytes, paths: h.paths.map((p) => p.path),
      text: `Delete these files in this RUN instead of in ${layerName(x, h.byLayer)}: ${formatBytes(h.bytes)} would not ship.`,
    });
  }
  // ... or this layer deleted files an earlier RUN created.
  for (const s of x.deletedShipped) {
    if (s.bytes === 0 || s.layer === x.layer) continue;
    const creator = x.instructions[s.layer];
    if (!isRun(creator)) continue;
    out.push({
      id: 'fold-cleanup', layer: s.layer, bytes: s.bytes, paths: s.paths.map((p) => p.path),
      text: `Move this cleanup into the RUN that created the files, ${layerName(x, s.layer)}: ${formatBytes(s.bytes)} would not ship.`,
    });
  }

  // Changes to lower files (chmod/chown, appends, edits): make them where the files are written.
  const byLower = new Map<number, { meta: CopyUp[]; content: CopyUp[] }>();
  for (const c of x.copyUps) {
    if (c.lowerBytes === 0) continue;
    let e = byLower.get(c.lowerLayer);
    if (!e) byLower.set(c.lowerLayer, (e = { meta: [], content: [] }));
    (c.metadataOnly ? e.meta : e.content).push(c);
  }
  for (const [layer, e] of byLower) {
    const creator = x.instructions[layer];
    const sum = (cs: CopyUp[]): number => cs.reduce((n, c) => n + c.lowerBytes, 0);
    if ((isContextCopy(creator) || creator?.copy?.from) && e.meta.length > 0) {
      out.push({
        id: 'fold-chmod', layer, bytes: sum(e.meta), paths: e.meta.slice(0, 10).map((c) => c.path),
        text: `Set mode and owner while copying, with ${code(`${creator!.keyword} --chmod=… --chown=…`)} on ${layerName(x, layer)}, instead of changing them here: the ${formatBytes(sum(e.meta))} copied there would not ship twice.`,
      });
    } else if (isRun(creator) && isRun(ins)) {
      const all = [...e.meta, ...e.content];
      const what = e.content.length === 0 ? 'mode and owner changes' : e.meta.length === 0 ? 'changes' : 'changes (content, mode, owner)';
      out.push({
        id: 'fold-change', layer, bytes: sum(all), paths: all.slice(0, 10).map((c) => c.path),
        text: `If these ${what} can be made in the RUN that creates the files, ${layerName(x, layer)}, make them there: the ${formatBytes(sum(all))} written there would not ship twice.`,
      });
    }
  }

  if (x.apt.install && !x.apt.noInstallRecommends) {
    out.push({
      id: 'apt-no-recommends', bytes: 0,
      text: `Add ${code('--no-install-recommends')} to ${code('apt-get install')}: apt then installs the packages' dependencies but not their recommended packages (check that nothing you use needs them).`,
    });
  }
  if (x.apt.listsBytes > 0 && isRun(ins)) {
    out.push({
      id: 'apt-lists', bytes: x.apt.listsBytes, paths: ['/var/lib/apt/lists'],
      text: `End this RUN with ${code('rm -rf /var/lib/apt/lists/*')}: the package lists (${formatBytes(x.apt.listsBytes)}) are only needed while installing; removed in a later RUN they would still ship here.`,
    });
  }

  const cached = x.writeHeavy.filter((h) => h.cacheMount && h.category !== 'apt-lists');
  if (cached.length > 0 && isRun(ins)) {
    const bytes = cached.reduce((s, h) => s + h.bytes, 0);
    const targets = cached.map((h) => h.dir);
    out.push({
      id: 'cache-mount', bytes, paths: targets,
      text: `Use ${targets.map((t) => code(`RUN --mount=type=cache,target=${t}${t === '/var/cache/apt' ? ',sharing=locked' : ''}`)).join(', ')}: the ${joinWords(cached.map((h) => h.what))} (${formatBytes(bytes)}) then stays in the builder's cache between builds instead of shipping in this layer.`
        + (targets.includes('/var/cache/apt') ? ` (Debian and Ubuntu images delete downloaded packages through ${code('/etc/apt/apt.conf.d/docker-clean')}; remove that file to keep them cached.)` : ''),
    });
  }

  const volumes = x.writeHeavy.filter((h) => h.category === 'database' || h.category === 'log');
  for (const v of volumes) {
    out.push({
      id: 'volume', bytes: 0, paths: [v.dir],
      text: `Keep ${v.what} in a volume at run time (${code(`VOLUME ${v.dir}`)} after the steps that fill it, or ${code(`docker run -v NAME:${v.dir}`)}): writes to a volume bypass the storage driver (no copy-up of image files), and a named volume keeps the data when the container is removed.`,
    });
  }

  const temp = x.writeHeavy.filter((h) => h.category === 'temp');
  if (temp.length > 0 && isRun(ins)) {
    const bytes = temp.reduce((s, h) => s + h.bytes, 0);
    out.push({
      id: 'tmp-mount', bytes, paths: temp.map((h) => h.dir),
      text: `Remove the temporary files in this RUN, or mount ${temp.map((h) => code(`RUN --mount=type=tmpfs,target=${h.dir}`)).join(', ')} so they never reach the layer (${formatBytes(bytes)}).`,
    });
  }

  if (x.toolchain.bytes >= MULTI_STAGE_MIN_BYTES) {
    out.push({
      id: 'multi-stage', bytes: x.toolchain.bytes, paths: x.toolchain.groups.map((g) => g.dir),
      text: `This layer ships ${formatBytes(x.toolchain.bytes)} of toolchain (${joinWords(x.toolchain.groups.map((g) => g.what))}). If the program does not need it at run time, build in a separate stage and ${code('COPY --from=<stage>')} only the results into the final one.`,
    });
  }

  if (x.copiedCandidates.length > 0) {
    const named = x.copiedCandidates.filter((c) => c.contextPath !== null);
    const bytes = x.copiedCandidates.reduce((s, c) => s + c.bytes, 0);
    if (named.length > 0) {
      out.push({
        id: 'dockerignore', bytes: named.reduce((s, c) => s + c.bytes, 0), paths: named.map((c) => c.contextPath!),
        text: `If the image does not need them, add to ${code('.dockerignore')}: ${named.map((c) => code(c.contextPath!)).join(', ')} (${formatBytes(named.reduce((s, c) => s + c.bytes, 0))} copied by this line).`,
      });
    } else {
      out.push({
        id: 'dockerignore', bytes, paths: [],
        text: `If the image does not need ${x.copiedCandidates.map((c) => code(c.path)).join(', ')} (${formatBytes(bytes)}), exclude their build-context sources in ${code('.dockerignore')}.`,
      });
    }
  }
  // Biggest savings first; advice without a byte count keeps its place after them.
  return out.map((s, i) => ({ s, i })).sort((p, q) => q.s.bytes - p.s.bytes || p.i - q.i).map((p) => p.s);
}

function joinWords(ws: string[]): string {
  const u = [...new Set(ws)];
  return u.length <= 1 ? (u[0] ?? '') : `${u.slice(0, -1).join(', ')} and ${u[u.length - 1]}`;
}

// ---------------------------------------------------------------------------------------------
// Quick-fix plans (pure; src/vscode/quickFixes.ts turns them into edits)

function normIgnore(s: string): string {
  return s.trim().replace(/^\.\/+/, '').replace(/^\/+/, '').replace(/\/+$/, '');
}

/** True when an instruction other than `except` names `p` (or something below it) as a source. */
function referencedElsewhere(model: DockerfileModel, except: DockerfileInstruction, p: string): boolean {
  const hits = (s: string): boolean => {
    const n = normIgnore(s);
    return n !== '' && n !== '.' && (n === p || n.startsWith(p + '/'));
  };
  for (const ins of model.instructions) {
    if (ins === except) continue;
    if (ins.copy && !ins.copy.from && ins.copy.sources.some(hits)) return true;
    for (const f of ins.flags) {
      if (f.name.toLowerCase() !== 'mount' || !f.value) continue;
      const opts = f.value.split(',').map((o) => o.split('='));
      if (opts.some(([k]) => k?.trim() === 'from')) continue;
      if (opts.some(([k, v]) => (k?.trim() === 'source' || k?.trim() === 'src') && v !== undefined && hits(v))) return true;
    }
  }
  return false;
}

/**
 * `.dockerignore` entries for the large or usually-unneeded build-context files a COPY/ADD layer
 * carries: the explanation's dockerignore paths that no other instruction names and that the
 * existing ignore file (its text) does not list yet. Empty when there is nothing to add.
 */
export function dockerignoreEntries(model: DockerfileModel, ins: DockerfileInstruction, x: LayerExplanation, existing: string): string[] {
  const s = x.suggestions.find((g) => g.id === 'dockerignore');
  if (!s?.paths?.length) return [];
  const have = new Set(existing.split(/\r?\n/).map(normIgnore));
  // A source that is itself one of the paths (COPY big.iso /x) is the point of the line: keep it.
  const own = new Set((ins.copy?.sources ?? []).map(normIgnore));
  return s.paths.map(normIgnore).filter((p) => p !== '' && !have.has(p) && !own.has(p) && !referencedElsewhere(model, ins, p));
}

const RM_PART = /^rm(?:\s+-[a-zA-Z]+)*(?:\s+\/[^\s;&|<>$`'"()\\]*)+$/;
/** Instructions that neither touch nor see files: a cleanup may move across them. */
const NEUTRAL = new Set(['LABEL', 'EXPOSE', 'ENV', 'ARG', 'CMD', 'ENTRYPOINT', 'HEALTHCHECK', 'STOPSIGNAL', 'MAINTAINER']);

/** `rm -rf /a /b && rm /c`: the command, when the RUN does nothing but rm absolute paths. */
export function rmOnlyCommand(ins: DockerfileInstruction): string | undefined {
  if (ins.keyword !== 'RUN' || ins.form !== 'shell' || ins.flags.length > 0 || ins.heredocs.length > 0) return undefined;
  const text = ins.args.trim();
  if (text === '' || /[;|$`'"\n#]/.test(text)) return undefined;
  const parts = text.split('&&').map((p) => p.trim().replace(/\s+/g, ' '));
  if (!parts.every((p) => RM_PART.test(p))) return undefined;
  return parts.join(' && ');
}

export interface FoldPlan {
  /** The RUN that created the files, and the `RUN rm …` to fold into it. */
  creator: DockerfileInstruction;
  cleanup: DockerfileInstruction;
  /** The rm command appended to the creator. */
  rm: string;
  /** Bytes the creator's layer would no longer ship. */
  bytes: number;
  /** Insert `appendText` at 1-based `appendLine`, 0-based `appendColumn` (end of the creator's text). */
  appendLine: number;
  appendColumn: number;
  appendText: string;
  /** Delete the cleanup's lines [deleteFrom, deleteTo] (1-based, inclusive). */
  deleteFrom: number;
  deleteTo: number;
}

/**
 * Folding a later `RUN rm …` into the RUN that created the files it deletes, when that is safe and
 * local: the cleanup is nothing but `rm` of absolute paths (no variables, quotes or other commands);
 * everything it hides was shipped by one earlier RUN of the same stage (shell form, same shell, no
 * flags or heredocs, its last line without a comment); only config-only instructions lie between;
 * both lines map to the image with confidence. `lines` is the Dockerfile's text split into lines.
 */
export function foldCleanupPlan(lines: readonly string[], model: DockerfileModel, mapping: MappingResult, cleanup: DockerfileInstruction, x: LayerExplanation): FoldPlan | undefined {
  const rm = rmOnlyCommand(cleanup);
  if (!rm) return undefined;
  const mapM = mapping.lines.find((l) => l.line === cleanup.line);
  if (!mapM || mapM.layerIndex !== x.layer || mapM.confidence < 0.8) return undefined;
  if (x.added.count > 0 || x.modified.bytes > 0 || x.deletedUnattributed > 0 || x.deletedShipped.length !== 1) return undefined;
  const shipped = x.deletedShipped[0];
  if (shipped.bytes === 0) return undefined;
  const mapK = mapping.lines.find((l) => l.layerIndex === shipped.layer && !l.base);
  if (!mapK || mapK.confidence < 0.8) return undefined;
  const k = model.instructions.find((i) => i.line === mapK.line);
  if (!k || k.keyword !== 'RUN' || k.form !== 'shell' || k.heredocs.length > 0 || k.flags.length > 0) return undefined;
  if (k.stage !== cleanup.stage || k.line >= cleanup.line || k.shell.join('\0') !== cleanup.shell.join('\0')) return undefined;
  const between = model.instructions.filter((i) => i.line > k.endLine && i.line < cleanup.line);
  if (!between.every((i) => NEUTRAL.has(i.keyword))) return undefined;
  const kArgs = k.args.trim();
  if (kArgs === '' || /[;&|]$/.test(kArgs) || kArgs.endsWith(model.escape)) return undefined;
  const last = lines[k.endLine - 1];
  if (last === undefined || last.includes('#') || last.trimEnd().endsWith(model.escape)) return undefined;
  const indent = k.endLine > k.line ? (/^[ \t]*/.exec(lines[k.line] ?? '')?.[0] || ' ') : ' ';
  const end = last.replace(/\r$/, '').trimEnd().length;
  return {
    creator: k, cleanup, rm, bytes: shipped.bytes,
    appendLine: k.endLine, appendColumn: end, appendText: ` ${model.escape}\n${indent}&& ${rm}`,
    deleteFrom: cleanup.line, deleteTo: cleanup.endLine,
  };
}

// ---------------------------------------------------------------------------------------------
// Inline markup shared by the renderers: code spans and bold, as private-use characters so plain
// text (paths, commands) never has to be escaped by the code that writes sentences.

const C0 = '\uE000';
const C1 = '\uE001';
const B0 = '\uE002';
const B1 = '\uE003';
const MARKS = /[\uE000-\uE003]/g;

export function code(s: string): string {
  return C0 + s.replace(MARKS, '') + C1;
}

export function bold(s: string): string {
  return B0 + s + B1;
}

type Seg = { t: 'text' | 'code' | 'bold'; s: string };

function segments(s: string): Seg[] {
  const out: Seg[] = [];
  const re = /\uE000([^\uE001]*)\uE001|\uE002([^\uE003]*)\uE003/g;
  let last = 0;
  for (let m = re.exec(s); m; m = re.exec(s)) {
    if (m.index > last) out.push({ t: 'text', s: s.slice(last, m.index) });
    out.push(m[1] !== undefined ? { t: 'code', s: m[1] } : { t: 'bold', s: m[2] });
    last = re.lastIndex;
  }
  if (last < s.length) out.push({ t: 'text', s: s.slice(last) });
  return out;
}

function mdCode(s: string): string {
  const longest = Math.max(0, ...(s.match(/`+/g) ?? []).map((r) => r.length));
  const fence = '`'.repeat(longest + 1);
  const pad = s.startsWith('`') || s.endsWith('`') ? ' ' : '';
  return `${fence}${pad}${s}${pad}${fence}`;
}

export function inlineMarkdown(s: string): string {
  return segments(s).map((g) => (g.t === 'code' ? mdCode(g.s) : g.t === 'bold' ? `**${inlineMarkdown(g.s)}**` : mdEscape(g.s))).join('');
}

export function inlineText(s: string): string {
  return segments(s).map((g) => (g.t === 'code' ? `\`${g.s}\`` : g.t === 'bold' ? inlineText(g.s) : g.s)).join('');
}

export function htmlEscape(s: string): string {
  return s.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!);
}

export function inlineHtml(s: string): string {
  return segments(s).map((g) => (g.t === 'code' ? `<code>${htmlEscape(g.s)}</code>` : g.t === 'bold' ? `<strong>${inlineHtml(g.s)}</strong>` : htmlEscape(g.s))).join('');
}

// ---------------------------------------------------------------------------------------------
// Sentences (shared by the hover and the report)

function layerRef(x: LayerExplanation, layer: number): string {
  const ins = x.instructions[layer];
  const line = ins?.line !== undefined ? `, line ${ins.line}` : '';
  return `layer ${layer}${line} (${code(shortInstruction(ins, 40))})`;
}

function signedBytes(n: number): string {
  return n >= 0 ? `+${n.toLocaleString('en-US')} B` : `−${(-n).toLocaleString('en-US')} B`;
}

function copyUpSentence(x: LayerExplanation): string | undefined {
  if (x.copyUps.length === 0) return undefined;
  const lower = x.copyUps.reduce((s, c) => s + c.lowerBytes, 0);
  const verb = isRun(x.instruction) ? 'changed' : 'replaced';
  let s = `${bold('Copy-up:')} ${plural(x.copyUps.length, 'file')} that existed in lower layers ${x.copyUps.length === 1 ? 'was' : 'were'} ${verb} here and stored again in full: ${formatBytes(x.copyUpBytes)}. A layer holds whole files, so even one appended byte or a chmod/chown ships the entire file; the lower ${x.copyUps.length === 1 ? 'copy' : 'copies'} (${formatBytes(lower)}) still ${x.copyUps.length === 1 ? 'ships' : 'ship'} too.`;
  if (x.metadataOnlyCount > 0) {
    s += ` ${plural(x.metadataOnlyCount, 'file')} kept ${x.metadataOnlyCount === 1 ? 'its' : 'their'} size and only changed mode or owner (what chmod/chown do): ${formatBytes(x.metadataOnlyBytes)} re-shipped for that.`;
  }
  return s;
}

function bigWriteSentence(c: CopyUp): string {
  if (c.metadataOnly) {
    return `${bold('Big file:')} ${code(c.path)} (${formatBytes(c.bytes)}) only changed mode or owner, and all ${formatBytes(c.bytes)} were stored again in this layer.`;
  }
  const delta = c.bytes - c.lowerBytes;
  const change = delta === 0 ? 'kept its size' : `changed by ${signedBytes(delta)}`;
  return `${bold('Big file:')} ${code(c.path)} (${formatBytes(c.lowerBytes)} in layer ${c.lowerLayer}) ${change}, and all ${formatBytes(c.bytes)} were stored again in this layer.`;
}

function deletedShippedSentence(x: LayerExplanation): string | undefined {
  const total = x.deletedShipped.reduce((s, d) => s + d.bytes, 0);
  if (total === 0) return undefined;
  const parts = x.deletedShipped.map((d) => `${formatBytes(d.bytes)} still ${d.bytes === 1 ? 'ships' : 'ship'} in ${layerRef(x, d.layer)}`);
  return `${bold('Deleted but still shipped:')} this layer hides ${formatBytes(total)} of files but cannot remove them from the image: ${parts.join('; ')}. Deleting files in the same RUN that creates them keeps them out of every layer.`;
}

function hiddenLaterSentence(x: LayerExplanation): string | undefined {
  if (x.hiddenBytes === 0) return undefined;
  const parts = x.hiddenLater.map((h) => `${formatBytes(h.bytes)} ${h.how === 'deleted' ? 'deleted' : 'overwritten'} by ${layerRef(x, h.byLayer)}`);
  return `${bold('Hidden later:')} ${formatBytes(x.hiddenBytes)} of this layer are invisible in the final image but still shipped: ${parts.join('; ')}.`;
}

function writeHeavySentence(h: WriteHeavy): string {
  const what = `${plural(h.files, 'file')}, ${formatBytes(h.bytes)}`;
  switch (h.category) {
    case 'database':
    case 'log':
      return `${bold('Write-heavy path:')} ${code(h.dir)} (${h.what}: ${what}) is in the image. At run time the first write to any image file copies the whole file up into the container's writable layer, which is deleted with the container; a volume bypasses the storage driver.`;
    case 'package-log':
      return `${bold('Package manager logs:')} ${code(h.dir)} (${what}) ships in this layer.`;
    case 'apt-lists':
      return `${bold('Package lists:')} ${code(h.dir)} (${what}) ships in this layer; it is only needed while installing.`;
    case 'cache':
      return `${bold('Cache:')} ${code(h.dir)} (${h.what}: ${what}) ships in this layer.`;
    case 'temp':
      return `${bold('Temporary files:')} ${code(h.dir)} (${what}) ships in this layer.`;
  }
}

function emptySentence(x: LayerExplanation): string | undefined {
  if (!x.empty) return undefined;
  const kw = x.instruction?.keyword;
  const why = kw === 'WORKDIR' ? 'WORKDIR made a layer of its own for its directory' : 'the step changed no file content';
  return `${bold('Empty layer:')} 0 B of file content (${plural(x.entries, 'tar entry', 'tar entries')}: directories, links or metadata only). ${why[0].toUpperCase()}${why.slice(1)}: the image still carries one more layer for it.`;
}

// ---------------------------------------------------------------------------------------------
// Hover (concise markdown)

export interface HoverOptions {
  /** Appends a link that runs this command with the layer index (e.g. layerLens.explainLayer). */
  explainCommand?: string;
}

function countsLine(x: LayerExplanation): string {
  return `${x.added.count} added (${formatBytes(x.added.bytes)}) · ${x.modified.count} modified (${formatBytes(x.modified.bytes)}) · ${x.deleted.count} deleted (${formatBytes(x.deleted.bytes)} hidden)`;
}

function sizeLine(x: LayerExplanation): string {
  const share = x.imageSize > 0 && x.size > 0 ? ` (${formatPercent(x.size / x.imageSize)} of ${formatBytes(x.imageSize)})` : '';
  return `${formatBytes(x.size)}${share}`;
}

export function hoverMarkdown(x: LayerExplanation, opts: HoverOptions = {}): string {
  const lines: string[] = [];
  lines.push(inlineMarkdown(`${bold(`Layer ${x.layer}`)} of ${x.layerCount} · ${sizeLine(x)}`));
  lines.push('');
  lines.push(inlineMarkdown(countsLine(x)));
  const bullets: string[] = [];
  const e = emptySentence(x);
  if (e) bullets.push(e);
  for (const b of x.bigWrites.slice(0, 3)) bullets.push(bigWriteSentence(b));
  const cu = copyUpSentence(x);
  if (cu && !(x.copyUps.length === 1 && x.bigWrites.length === 1)) bullets.push(cu);
  else if (cu && x.copyUps[0].lowerBytes > 0) bullets.push(`The lower copy (${formatBytes(x.copyUps[0].lowerBytes)}) still ships in ${layerRef(x, x.copyUps[0].lowerLayer)}: a layer holds whole files.`);
  const ds = deletedShippedSentence(x);
  if (ds) bullets.push(ds);
  const hl = hiddenLaterSentence(x);
  if (hl) bullets.push(hl);
  const covered = new Set(x.suggestions.flatMap((s) => (s.id === 'dockerignore' ? [] : s.paths ?? [])));
  for (const h of x.writeHeavy.filter((w) => w.category !== 'package-log' && !(covered.has(w.dir) && w.category !== 'database' && w.category !== 'log')).slice(0, 3)) {
    bullets.push(writeHeavySentence(h));
  }
  for (const s of x.suggestions.slice(0, 3)) bullets.push(`${bold('Suggestion:')} ${s.text}`);
  if (bullets.length) {
    lines.push('');
    for (const b of bullets) lines.push(`- ${inlineMarkdown(b)}`);
  }
  if (opts.explainCommand) {
    lines.push('');
    lines.push(`[Explain this layer](command:${opts.explainCommand}?${encodeURIComponent(JSON.stringify([x.layer]))})`);
  }
  return lines.join('\n') + '\n';
}

/** Hover for an instruction that only changed the image config (history entry without a layer). */
export function configOnlyHoverMarkdown(ins: InstructionRef): string {
  const kw = ins.keyword || 'This instruction';
  if (kw === 'RUN' || kw === 'COPY' || kw === 'ADD' || kw === 'WORKDIR') {
    return inlineMarkdown(`${bold('0 B · no layer')}: the image history records this ${code(kw)} step without a layer (the builder found no filesystem change to commit).`) + '\n';
  }
  const lines = [
    inlineMarkdown(`${bold('0 B · no layer')}: ${code(kw)} only changes the image configuration (a few bytes of JSON), so the build adds a history entry and no filesystem layer.`),
  ];
  if (kw === 'ARG') lines.push('', inlineMarkdown(`A build argument is not set in the container's environment, but its value is recorded in the image history (${code('docker history')} shows it with the RUN steps that use it): never pass secrets this way.`));
  return lines.join('\n') + '\n';
}

/** Hover for FROM: the base image's layers. */
export function baseHoverMarkdown(a: Analysis, layers: number[]): string {
  const bytes = layers.reduce((s, l) => s + (a.layerSizes[l] ?? 0), 0);
  const share = a.totalSize > 0 ? ` (${formatPercent(bytes / a.totalSize)} of ${formatBytes(a.totalSize)})` : '';
  const hidden = layers.reduce((s, l) => s + (a.tree.layers[l]?.hiddenBytes ?? 0), 0);
  const lines = [inlineMarkdown(`${bold('Base image')}: ${plural(layers.length, 'layer')}${layers.length ? ` (${layers.length === 1 ? `layer ${layers[0]}` : `layers ${layers[0]}–${layers[layers.length - 1]}`})` : ''} · ${formatBytes(bytes)}${share}`)];
  if (hidden > 0) {
    lines.push('', inlineMarkdown(`${formatBytes(hidden)} of it is hidden by later layers but still shipped: deleting base-image files in this Dockerfile never makes the image smaller.`));
  }
  return lines.join('\n') + '\n';
}

/** Hover for a line the mapping could not find in the image's history. */
export function unmappedHoverMarkdown(): string {
  return inlineMarkdown('Layer Lens cannot match this line to the image\'s history: the Dockerfile may have changed since the image was built. Rebuild to see what it costs.') + '\n';
}

/** Hover for an instruction of a stage that is not part of the shown image. */
export function notInImageHoverMarkdown(stage: string | null): string {
  const name = stage ? ` ${code(stage)}` : '';
  return inlineMarkdown(`This stage${name} is not part of the shown image: only the final stage's layers ship, and this stage's files reach the image only through ${code('COPY --from')}.`) + '\n';
}

/** The one line shown while no analysed image belongs to the Dockerfile. */
export function unknownImageHoverMarkdown(): string {
  return inlineMarkdown(`Layer Lens: no image for this Dockerfile yet — run ${bold('Layer Lens: Build Image')} (or ${code('docker build -t NAME .')} then ${bold('Layer Lens: Open Image…')}) to see what each line costs.`) + '\n';
}

// ---------------------------------------------------------------------------------------------
// The report, as blocks

export type Block =
  | { kind: 'heading'; level: 1 | 2; text: string }
  | { kind: 'para'; text: string }
  | { kind: 'list'; items: string[] }
  | { kind: 'table'; head: string[]; rows: string[][]; align: Array<'left' | 'right'> }
  | { kind: 'bars'; title: string; bars: Array<{ layer: number; label: string; value: number; display: string; current: boolean; hint: string }> };

export function reportBlocks(a: Analysis, x: LayerExplanation, opts: { dockerfile?: string; maxItems?: number } = {}): Block[] {
  const b: Block[] = [];
  const ins = x.instruction;
  b.push({ kind: 'heading', level: 1, text: `Layer ${x.layer} of ${x.layerCount}: ${code(shortInstruction(ins, 100))}` });
  const facts: string[] = [];
  if (ins?.line !== undefined) {
    const lines = ins.endLine !== undefined && ins.endLine !== ins.line ? `lines ${ins.line}–${ins.endLine}` : `line ${ins.line}`;
    facts.push(`${bold('Dockerfile:')} ${opts.dockerfile ? `${code(opts.dockerfile)} ` : ''}${lines}`);
  } else if (ins) {
    facts.push(`${bold('Instruction:')} from the image history (no Dockerfile given)`);
  }
  if (x.diffId) facts.push(`${bold('Diff ID:')} ${code(x.diffId)} (digest of the uncompressed layer tar)`);
  const def = x.sizeDefinition === 'engine-history' ? 'as the engine reports it' : 'regular-file bytes in the layer tar';
  facts.push(`${bold('Size:')} ${sizeLine(x)}, ${def}; ${plural(x.entries, 'tar entry', 'tar entries')}`);
  b.push({ kind: 'list', items: facts });

  b.push({ kind: 'heading', level: 2, text: 'Changes' });
  b.push({
    kind: 'table', head: ['', 'Paths', 'Bytes'], align: ['left', 'right', 'right'],
    rows: [
      ['Added', String(x.added.count), formatBytes(x.added.bytes)],
      ['Modified', String(x.modified.count), formatBytes(x.modified.bytes)],
      ['Deleted', String(x.deleted.count), `${formatBytes(x.deleted.bytes)} hidden`],
    ],
  });
  const e = emptySentence(x);
  if (e) b.push({ kind: 'para', text: e });
  const current = x.layer;
  b.push({
    kind: 'bars', title: 'Layer sizes',
    bars: a.layerSizes.map((v, i) => ({
      layer: i, label: `${i}`, value: v, display: formatBytes(v), current: i === current,
      hint: shortInstruction(x.instructions[i], 60),
    })),
  });

  if (x.largest.length > 0) {
    b.push({ kind: 'heading', level: 2, text: 'Largest files' });
    b.push({ kind: 'table', head: ['Path', 'Bytes'], align: ['left', 'right'], rows: x.largest.map((p) => [code(p.path), formatBytes(p.bytes)]) });
  }

  if (x.copyUps.length > 0) {
    b.push({ kind: 'heading', level: 2, text: 'Copy-up cost' });
    b.push({ kind: 'para', text: copyUpSentence(x)! });
    const items = x.bigWrites.map(bigWriteSentence);
    if (items.length) b.push({ kind: 'list', items });
    b.push({
      kind: 'table', head: ['Path', 'Stored here', 'Lower copy', 'Change'], align: ['left', 'right', 'right', 'left'],
      rows: x.copyUps.slice(0, opts.maxItems ?? 10).map((c) => [
        code(c.path), formatBytes(c.bytes), `${formatBytes(c.lowerBytes)} in layer ${c.lowerLayer}`,
        c.metadataOnly ? 'mode/owner only' : c.bytes === c.lowerBytes ? 'content, same size' : signedBytes(c.bytes - c.lowerBytes),
      ]),
    });
  }

  b.push({ kind: 'heading', level: 2, text: 'What this layer hides' });
  const hides: string[] = [];
  const ds = deletedShippedSentence(x);
  if (ds) hides.push(ds);
  for (const d of x.deletions.slice(0, opts.maxItems ?? 10)) {
    const how = d.how === 'opaque' ? 'emptied directory (opaque)' : d.how === 'replaced' ? 'replaced' : 'deleted';
    hides.push(`${code(d.path)}: ${how}, ${formatBytes(d.bytes)} hidden`);
  }
  if (x.deletedUnattributed > 0) hides.push(`${formatBytes(x.deletedUnattributed)} of the hidden bytes belong to paths a later layer recreated.`);
  for (const o of x.overwrittenBelow) {
    hides.push(`Overwrites ${plural(o.files, 'file')} of ${layerRef(x, o.layer)}, whose ${formatBytes(o.bytes)} still ship there.`);
  }
  b.push(hides.length ? { kind: 'list', items: hides } : { kind: 'para', text: 'Nothing: this layer neither deletes nor overwrites lower files.' });

  b.push({ kind: 'heading', level: 2, text: 'What hides it later' });
  const hl = hiddenLaterSentence(x);
  if (hl) {
    b.push({ kind: 'para', text: hl });
    const items = x.hiddenLater.flatMap((h) => h.paths.slice(0, 5).map((p) => `${code(p.path)} (${formatBytes(p.bytes)}) ${h.how} by layer ${h.byLayer}`));
    if (items.length) b.push({ kind: 'list', items });
  } else {
    b.push({ kind: 'para', text: 'Nothing: every byte of this layer is visible in the final image.' });
  }

  if (x.writeHeavy.length > 0) {
    b.push({ kind: 'heading', level: 2, text: 'Paths that deserve a second look' });
    b.push({ kind: 'list', items: x.writeHeavy.map(writeHeavySentence) });
  }

  b.push({ kind: 'heading', level: 2, text: 'Waste' });
  const waste: string[] = [];
  waste.push(`${formatBytes(x.hiddenBytes)} of this layer ${x.hiddenBytes === x.fileBytes && x.fileBytes > 0 ? '(all of it) ' : ''}is shipped but invisible in the final image.`);
  if (x.copyUpBytes > 0) waste.push(`${formatBytes(x.copyUpBytes)} re-ships files that lower layers already hold.`);
  const cacheBytes = x.writeHeavy.filter((h) => h.category !== 'database' && h.category !== 'log').reduce((s, h) => s + h.bytes, 0);
  if (cacheBytes > 0) waste.push(`${formatBytes(cacheBytes)} are caches, package lists or temporary files.`);
  b.push({ kind: 'list', items: waste });

  b.push({ kind: 'heading', level: 2, text: 'Suggestions' });
  if (x.suggestions.length) b.push({ kind: 'list', items: x.suggestions.map((s) => s.text) });
  else b.push({ kind: 'para', text: 'None: nothing in this layer\'s data points to a cheaper way to write it.' });

  return b;
}

// ---------------------------------------------------------------------------------------------
// Renderers

/** A size chart as text bars (the plain-text report; the Markdown one in the tests). */
export function textBars(b: Extract<Block, { kind: 'bars' }>, width = 30): string {
  const max = Math.max(1, ...b.bars.map((x) => x.value));
  const lw = Math.max(...b.bars.map((x) => x.label.length));
  const dw = Math.max(...b.bars.map((x) => x.display.length));
  return b.bars.map((x) => {
    const n = x.value > 0 ? Math.max(1, Math.round((x.value / max) * width)) : 0;
    const bar = '█'.repeat(n).padEnd(width);
    return `${x.current ? '▶' : ' '} ${x.label.padStart(lw)} ${bar} ${x.display.padStart(dw)}  ${x.hint}`;
  }).join('\n');
}

function wrap(text: string, width: number, indent: string, first = indent): string {
  const words = text.split(/ +/);
  const lines: string[] = [];
  let cur = first;
  let empty = true;
  for (const w of words) {
    if (!empty && cur.length + 1 + w.length > width) {
      lines.push(cur);
      cur = indent + w;
    } else {
      cur += (empty ? '' : ' ') + w;
    }
    empty = false;
  }
  lines.push(cur);
  return lines.join('\n');
}

export function renderText(blocks: Block[], width = 100): string {
  const out: string[] = [];
  for (const b of blocks) {
    switch (b.kind) {
      case 'heading': {
        const t = inlineText(b.text);
        out.push(b.level === 1 ? `${t}\n${'='.repeat(Math.min(width, t.length))}` : `${t}\n${'-'.repeat(Math.min(width, t.length))}`);
        break;
      }
      case 'para': out.push(wrap(inlineText(b.text), width, '')); break;
      case 'list': out.push(b.items.map((i) => wrap(inlineText(i), width, '  ', '- ')).join('\n')); break;
      case 'table': {
        const rows = [b.head, ...b.rows].map((r) => r.map((c) => inlineText(c).replace(/`/g, '')));
        const widths = b.head.map((_, i) => Math.max(...rows.map((r) => r[i].length)));
        out.push(rows.map((r) => r.map((c, i) => (b.align[i] === 'right' ? c.padStart(widths[i]) : c.padEnd(widths[i]))).join('  ').trimEnd()).join('\n'));
        break;
      }
      case 'bars': out.push(`${b.title}\n${'-'.repeat(b.title.length)}\n\n${textBars(b)}`); break;
    }
  }
  return out.join('\n\n') + '\n';
}

/** The report as an HTML fragment (no scripts, no styles: the webview supplies those). */
export function renderHtml(blocks: Block[]): string {
  const out: string[] = [];
  for (const b of blocks) {
    switch (b.kind) {
      case 'heading': out.push(`<h${b.level}>${inlineHtml(b.text)}</h${b.level}>`); break;
      case 'para': out.push(`<p>${inlineHtml(b.text)}</p>`); break;
      case 'list': out.push(`<ul>${b.items.map((i) => `<li>${inlineHtml(i)}</li>`).join('')}</ul>`); break;
      case 'table': {
        const cell = (tag: string, c: string, i: number): string => `<${tag}${b.align[i] === 'right' ? ' class="num"' : ''}>${inlineHtml(c)}</${tag}>`;
        out.push(`<table><thead><tr>${b.head.map((c, i) => cell('th', c, i)).join('')}</tr></thead><tbody>${b.rows.map((r) => `<tr>${r.map((c, i) => cell('td', c, i)).join('')}</tr>`).join('')}</tbody></table>`);
        break;
      }
      case 'bars': out.push(htmlBars(b)); break;
    }
  }
  return out.join('\n');
}

function htmlBars(b: Extract<Block, { kind: 'bars' }>): string {
  const max = Math.max(1, ...b.bars.map((x) => x.value));
  const rowH = 18;
  const labelW = 40;
  const barW = 360;
  const h = b.bars.length * rowH;
  const rows = b.bars.map((x, i) => {
    const w = x.value > 0 ? Math.max(1, Math.round((x.value / max) * barW)) : 0;
    const y = i * rowH;
    const cls = x.current ? 'bar current' : 'bar';
    return `<g data-layer="${x.layer}"><title>${htmlEscape(`layer ${x.label}: ${x.display} — ${x.hint}`)}</title>`
      + `<text class="label" x="${labelW - 6}" y="${y + 13}" text-anchor="end">${htmlEscape(x.label)}</text>`
      + `<rect class="${cls}" x="${labelW}" y="${y + 3}" width="${w}" height="${rowH - 6}"></rect>`
      + `<text class="value" x="${labelW + w + 6}" y="${y + 13}">${htmlEscape(x.display)}</text></g>`;
  }).join('');
  return `<figure class="bars"><figcaption>${htmlEscape(b.title)}</figcaption>`
    + `<svg role="img" aria-label="${htmlEscape(b.title)}" width="${labelW + barW + 90}" height="${h}" viewBox="0 0 ${labelW + barW + 90} ${h}">${rows}</svg></figure>`;
}

/** The whole report for one layer, as text (the CLI's `explain`). */
export function explainText(a: Analysis, layer: number, opts: ExplainOptions & { dockerfile?: string; width?: number } = {}): string {
  return renderText(reportBlocks(a, explainLayer(a, layer, opts), opts), opts.width ?? 100);
}
