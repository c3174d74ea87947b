// Dockerfile instructions ↔ image history entries.
//
// An image's config history lists one entry per step that built it, bottom first: the base
// image's own entries, then one per instruction of the stage chain that made the image (the stage,
// the stage its FROM names, ...), ONBUILD triggers of the base in between. This module predicts
// the `created_by` text each builder writes for an instruction, reads `created_by` back into
// (builder, keyword, text), and aligns the two sequences (an order-preserving alignment whose
// leading history entries are free: they are the base). Pure: no I/O, never throws.
//
// created_by forms, learnt from moby/buildkit frontend/dockerfile/dockerfile2llb (commitToHistory
// and the dispatch* functions) and moby/moby builder/dockerfile (dispatchers.go, internals.go), and
// checked against histories recorded with engines 20.10.24 (BuildKit v0.8) and 26.1.5 (BuildKit
// v0.13), test/fixtures/histories:
//   BuildKit  RUN [|N K=v ...] <shell...> <cmd> # buildkit     (exec form: the array joined by spaces)
//             COPY [--chown=u] [--chmod=m] src... dest # buildkit   (no --from; heredocs as <<NAME)
//             ADD ... # buildkit, WORKDIR /abs, ENV K=v ..., LABEL K=v ..., ARG K[=default] ...,
//             CMD ["a" "b"] (Go %q), ENTRYPOINT [...], EXPOSE map[80/tcp:{}] or [80/tcp],
//             USER u, VOLUME [/a /b], STOPSIGNAL s, SHELL [/bin/sh -c], HEALTHCHECK &{...}
//             (no entry for FROM or ONBUILD)
//   legacy    <shell...> #(nop)  KEYWORD args            (two spaces; the SHELL in effect)
//             <shell...> #(nop) WORKDIR /abs | COPY file:<hash> in <dest>  | ADD dir:<hash> in <dest>
//             [|N K=v ... (sorted, only args with a value, not shadowed by ENV)] <shell...> <cmd>
//             for RUN (exec form: the array joined by spaces); ONBUILD recorded as a nop entry.

import type { HistoryEntry } from '../image/types';
import {
  BUILTIN_ARGS, findStage, stageChain, targetStageIndex,
  type DockerfileInstruction, type DockerfileModel, type ScopedArg,
} from './dockerfile';

export type BuilderKind = 'buildkit' | 'legacy' | 'unknown';

/** A `created_by` string taken apart. */
export interface ParsedCreatedBy {
  /** `buildkit` (`KEYWORD ...` forms), `legacy` (`#(nop)` forms and bare RUN commands), `unknown`. */
  builder: BuilderKind;
  /** Upper-case instruction keyword, or null (empty created_by, e.g. `docker import`). */
  keyword: string | null;
  /**
   * The instruction's text without decorations: no `# buildkit`, no `<shell> #(nop)`, no `|N ...`.
   * For RUN: the command as run (`/bin/sh -c echo hi`, or the exec array joined by spaces).
   */
  text: string;
  /** RUN: the `|N K=v ...` build args, in the order written; null without them. */
  buildArgs: Array<{ key: string; value: string }> | null;
  /** legacy nop entries: the shell before `#(nop)`. */
  shell: string | null;
}

/** One line of the mapping, for every instruction of the mapped stage chain. */
export interface LineMapping {
  /** 1-based first and last line of the instruction. */
  line: number;
  endLine: number;
  /** Upper-case keyword. */
  instruction: string;
  stage: number;
  /** Index of the history entry this instruction made, or null. */
  historyIndex: number | null;
  /** Index of the layer it made, or null (config-only entry, empty layer, or unmatched). */
  layerIndex: number | null;
  /** 0..1: 1 when the history text is exactly what the builder writes for this instruction. */
  confidence: number;
  /** The matched entry made no layer (ENV, CMD..., a RUN or WORKDIR that changed nothing). */
  emptyLayer?: boolean;
  /** FROM lines: what the image holds below this stage's own entries. */
  base?: BaseInfo;
}

export interface BaseInfo {
  /** History entries below the stage: [0, entryCount). */
  entryCount: number;
  /** Layers among them. */
  layerCount: number;
  /** Their total size, when layer sizes were given (sum of the sizes of these entries). */
  size: number | null;
  /** History indexes made by the base image's ONBUILD triggers (after the base's own entries). */
  onbuildEntries: number[];
}

export interface MatchedPair {
  /** Index into `model.instructions`. */
  instructionIndex: number;
  historyIndex: number;
  /** 0..1 */
  similarity: number;
}

export interface MappingResult {
  /** The stage mapped (its image is the one the history belongs to). */
  stage: number;
  /** The stages whose instructions are in this image, root first. */
  chain: number[];
  /** The builder that wrote the matched entries (majority), or unknown. */
  builder: BuilderKind;
  /** Entries before the first instruction's entry that belong to the base image. */
  baseEntryCount: number;
  /** One per instruction of the chain stages, in file order (FROM lines included). */
  lines: LineMapping[];
  pairs: MatchedPair[];
  /** Entries above the base that no instruction matched (ONBUILD triggers are not listed here). */
  unmatchedHistory: number[];
  /**
   * How well the history matches the chain's instructions, 0..1 (for finding the local image a
   * Dockerfile built): the sum of the matched pairs' similarities divided by the number of
   * instructions that make history entries plus the entries above the base no instruction
   * explains. 1 for an image built from exactly this file; 0 for an unrelated one. A stage without
   * history-making instructions (just `FROM x`) scores 0: nothing tells its image apart from the base.
   */
  score: number;
}

export interface MapOptions {
  /** Stage whose image the history is (index or name); default the last stage. */
  stage?: number | string;
  /** Layer sizes per history entry (engine `Size`, same indexes as `history`), for FROM totals. */
  entrySizes?: readonly number[];
  /**
   * Number of history entries of the base image, when known (e.g. from the base image's own
   * history): separates the base's entries from ONBUILD trigger entries that follow them.
   */
  baseHistoryLength?: number;
}

// ---------------------------------------------------------------------------------------------
// Reading created_by

const KEYWORDS = new Set([
  'ADD', 'ARG', 'CMD', 'COPY', 'ENTRYPOINT', 'ENV', 'EXPOSE', 'HEALTHCHECK', 'LABEL', 'MAINTAINER',
  'ONBUILD', 'RUN', 'SHELL', 'STOPSIGNAL', 'USER', 'VOLUME', 'WORKDIR',
]);

/** Take a `created_by` string apart. */
export function parseCreatedBy(createdBy: string): ParsedCreatedBy {
  const s = createdBy ?? '';
  if (s.trim() === '') return { builder: 'unknown', keyword: null, text: '', buildArgs: null, shell: null };
  const nop = /^([\s\S]*?)\s*#\(nop\)\s+(\S+)(?:\s([\s\S]*))?$/.exec(s);
  if (nop) {
    return { builder: 'legacy', keyword: nop[2].toUpperCase(), text: (nop[3] ?? '').replace(/^ +/, '').replace(/\s+$/, ''), buildArgs: null, shell: nop[1] };
  }
  const kw = /^([A-Z]+)(?:\s([\s\S]*))?$/.exec(s);
  if (kw && KEYWORDS.has(kw[1])) {
    let text = kw[2] ?? '';
    let builder: BuilderKind = 'unknown';
    if (/ # buildkit$/.test(text)) {
      text = text.slice(0, -' # buildkit'.length);
      builder = 'buildkit';
    } else if (kw[1] !== 'RUN' && kw[1] !== 'COPY' && kw[1] !== 'ADD') {
      builder = 'buildkit';
    }
    let buildArgs: ParsedCreatedBy['buildArgs'] = null;
    if (kw[1] === 'RUN') [buildArgs, text] = splitBuildArgs(text);
    return { builder, keyword: kw[1], text, buildArgs, shell: null };
  }
  // Anything else is a legacy RUN: `[|N K=v ...] <cmd...>`.
  const [buildArgs, text] = splitBuildArgs(s);
  return { builder: 'legacy', keyword: 'RUN', text, buildArgs, shell: null };
}

function splitBuildArgs(text: string): [ParsedCreatedBy['buildArgs'], string] {
  const m = /^\|(\d+) /.exec(text);
  if (!m) return [null, text];
  const n = Number(m[1]);
  let rest = text.slice(m[0].length);
  const args: Array<{ key: string; value: string }> = [];
  // K=v words; a value holding spaces continues until the next ` K=` (best effort).
  while (args.length < n) {
    const km = /^([A-Za-z_][A-Za-z0-9_]*)=/.exec(rest);
    if (!km) break;
    rest = rest.slice(km[0].length);
    const remaining = n - args.length - 1;
    let end: number;
    if (remaining > 0) {
      const next = /\s(?=[A-Za-z_][A-Za-z0-9_]*=)/.exec(rest);
      end = next ? next.index : rest.indexOf(' ');
    } else {
      end = rest.indexOf(' ');
    }
    if (end < 0) end = rest.length;
    args.push({ key: km[1], value: rest.slice(0, end) });
    rest = rest.slice(end + 1);
  }
  return [args, rest];
}

// ---------------------------------------------------------------------------------------------
// Writing created_by (what each builder records for an instruction)

/** Go's %q for one string (strconv.Quote), enough for command lines. */
export function goQuote(s: string): string {
  let out = '"';
  for (const ch of s) {
    const c = ch.codePointAt(0) ?? 0;
    if (ch === '"') out += '\\"';
    else if (ch === '\\') out += '\\\\';
    else if (ch === '\n') out += '\\n';
    else if (ch === '\t') out += '\\t';
    else if (ch === '\r') out += '\\r';
    else if (c === 7) out += '\\a';
    else if (c === 8) out += '\\b';
    else if (c === 12) out += '\\f';
    else if (c === 11) out += '\\v';
    else if (c < 0x20 || c === 0x7f) out += '\\x' + c.toString(16).padStart(2, '0');
    else out += ch;
  }
  return out + '"';
}

/** Go's %q of a []string: `["a" "b"]`. */
export function goQuoteList(list: readonly string[]): string {
  return '[' + list.map(goQuote).join(' ') + ']';
}

/** Parse Go's %q of a []string back (`["a" "b"]`); null when it is not one. */
export function parseGoQuoteList(text: string): string[] | null {
  const t = text.trim();
  if (!t.startsWith('[') || !t.endsWith(']')) return null;
  const out: string[] = [];
  const re = /"((?:[^"\\]|\\.)*)"/g;
  let m: RegExpExecArray | null;
  while ((m = re.exec(t)) !== null) {
    const body = m[1]
      .replace(/\\x([0-9a-fA-F]{2})/g, (_x, h: string) => '\\u00' + h)
      .replace(/\\a/g, '\\u0007')
      .replace(/\\v/g, '\\u000b')
      .replace(/\\'/g, "'");
    try {
      out.push(JSON.parse('"' + body + '"') as string);
    } catch {
      out.push(m[1]);
    }
  }
  return out;
}

function jsonStrings(text: string): string[] | null {
  try {
    const v: unknown = JSON.parse(text);
    return Array.isArray(v) && v.every((x) => typeof x === 'string') ? (v as string[]) : null;
  } catch {
    return null;
  }
}

function shellFormCommand(ins: DockerfileInstruction): string {
  return [...ins.shell, ins.args].join(' ');
}

/** The command a RUN runs, as both builders print it after the build args (without them). */
export function runCommandText(ins: DockerfileInstruction): string {
  if (ins.form === 'exec' && ins.execArgs) return ins.execArgs.join(' ');
  if (ins.form === 'heredoc' && ins.heredocs.length > 0) {
    const single = /^<<-?\s*(["']?)([^\s"'<]+)\1$/.exec(ins.args.trim());
    if (single && ins.heredocs.length === 1) {
      const h = ins.heredocs[0];
      const data = h.chomp ? h.content.replace(/^\t+/gm, '') : h.content;
      if (data.startsWith('#!')) return [...ins.shell, '/dev/pipes/' + h.name].join(' ');
      return [...ins.shell, data].join(' ');
    }
    let cmd = ins.args;
    for (const h of ins.heredocs) cmd += '\n' + h.content + h.name;
    return [...ins.shell, cmd].join(' ');
  }
  return shellFormCommand(ins);
}

function buildkitRunArgs(args: readonly ScopedArg[], env: Record<string, string>, dedupe: boolean): string[] {
  const out: Array<[string, string]> = [];
  const at = new Map<string, number>();
  for (const a of args) {
    const v = Object.prototype.hasOwnProperty.call(env, a.key) ? env[a.key] : (a.value ?? '');
    if (dedupe && at.has(a.key)) {
      out[at.get(a.key)!] = [a.key, v];
    } else {
      at.set(a.key, out.length);
      out.push([a.key, v]);
    }
  }
  return out.map(([k, v]) => `${k}=${v}`);
}

function legacyRunArgs(args: readonly ScopedArg[], env: Record<string, string>): string[] {
  const vals = new Map<string, string>();
  for (const a of args) {
    if (a.value === null) continue;
    vals.set(a.key, a.value);
  }
  const out: string[] = [];
  for (const [k, v] of vals) {
    if (Object.prototype.hasOwnProperty.call(env, k)) continue;
    if (BUILTIN_ARGS.has(k) && !args.some((a) => a.key === k)) continue;
    out.push(`${k}=${v}`);
  }
  return out.sort();
}

function withArgs(args: string[], cmd: string): string {
  return args.length > 0 ? `|${args.length} ${args.join(' ')} ${cmd}` : cmd;
}

function exposePorts(ins: DockerfileInstruction): string[] {
  const out = new Set<string>();
  for (const w of ins.expanded.split(/\s+/).filter(Boolean)) {
    const m = /^(?:.*:)?(\d+)(?:-(\d+))?(?:\/(\w+))?$/.exec(w);
    if (!m) continue;
    const proto = (m[3] ?? 'tcp').toLowerCase();
    const lo = Number(m[1]);
    const hi = m[2] !== undefined ? Number(m[2]) : lo;
    for (let p = lo; p <= hi && p - lo < 65536; p++) out.add(`${p}/${proto}`);
  }
  return [...out].sort();
}

function volumes(ins: DockerfileInstruction): string[] {
  return ins.expanded.split(/\s+/).filter(Boolean);
}

function cmdArray(ins: DockerfileInstruction): string[] {
  if (ins.form === 'exec' && ins.execArgs) return ins.execArgs;
  return [...ins.shell, ins.args];
}

/**
 * The `created_by` texts a builder may write for an instruction (several when builder versions
 * differ). Empty when it cannot be predicted exactly (legacy COPY/ADD hold a content hash;
 * HEALTHCHECK prints a Go struct). Legacy COPY/ADD give a pattern via `legacyCopyPattern`.
 */
export function expectedCreatedBy(ins: DockerfileInstruction, builder: 'buildkit' | 'legacy'): string[] {
  const kw = ins.keyword;
  const nop = (msg: string, spaces = 2): string => `${ins.shell.join(' ')} #(nop)${' '.repeat(spaces)}${msg}`;
  const kvText = (): string => (ins.keyValues ?? []).map((kv) => `${kv.key}=${kv.value ?? ''}`).join(' ');
  const uniq = (xs: string[]): string[] => [...new Set(xs)];
  switch (kw) {
    case 'RUN': {
      const cmd = runCommandText(ins);
      if (builder === 'buildkit') {
        return uniq([true, false].map((d) => `RUN ${withArgs(buildkitRunArgs(ins.argsInScope, ins.envInScope, d), cmd)} # buildkit`));
      }
      return ins.form === 'heredoc' ? [] : [withArgs(legacyRunArgs(ins.argsInScope, ins.envInScope), cmd)];
    }
    case 'COPY':
    case 'ADD': {
      const c = ins.copy;
      if (!c) return [];
      if (builder === 'legacy') return [];
      const parts = [...c.sources, ...c.heredocSources.map((h) => '<<' + h), c.dest];
      const flags: string[] = [];
      if (c.parents) flags.push('--parents');
      if (c.chown !== null) flags.push('--chown=' + c.chown);
      if (c.chmod !== null) flags.push('--chmod=' + c.chmod);
      return uniq([`${kw} ${[...flags, ...parts].join(' ')} # buildkit`, `${kw} ${parts.join(' ')} # buildkit`]);
    }
    case 'ENV':
    case 'LABEL':
      return builder === 'buildkit' ? [`${kw} ${kvText()}`] : [nop(`${kw} ${kvText()}`)];
    case 'ARG': {
      const kvs = ins.keyValues ?? [];
      const written = kvs.map((kv) => (kv.default !== undefined && kv.default !== null ? `${kv.key}=${kv.default}` : kv.key)).join(' ');
      const resolved = kvs.map((kv) => (kv.value !== null ? `${kv.key}=${kv.value}` : kv.key)).join(' ');
      return builder === 'buildkit' ? uniq([`ARG ${written}`, `ARG ${resolved}`]) : [nop(`ARG ${written}`)];
    }
    case 'WORKDIR':
      if (ins.workdir === null) return [];
      return builder === 'buildkit' ? [`WORKDIR ${ins.workdir}`] : [nop(`WORKDIR ${ins.workdir}`, 1)];
    case 'CMD':
    case 'ENTRYPOINT': {
      const msg = `${kw} ${goQuoteList(cmdArray(ins))}`;
      return builder === 'buildkit' ? [msg] : [nop(msg)];
    }
    case 'EXPOSE': {
      const ports = exposePorts(ins);
      if (builder === 'buildkit') return [`EXPOSE map[${ports.map((p) => p + ':{}').join(' ')}]`, `EXPOSE [${ports.join(' ')}]`];
      // The legacy builder prints the ports as written, sorted as strings.
      return [nop(`EXPOSE ${ins.expanded.split(/\s+/).filter(Boolean).sort().join(' ')}`)];
    }
    case 'VOLUME': {
      const msg = `VOLUME [${volumes(ins).join(' ')}]`;
      return builder === 'buildkit' ? [msg] : [nop(msg)];
    }
    case 'USER':
    case 'STOPSIGNAL': {
      const msg = `${kw} ${ins.expanded}`;
      return builder === 'buildkit' ? [msg] : [nop(msg)];
    }
    case 'MAINTAINER': {
      const msg = `MAINTAINER ${ins.args}`;
      return builder === 'buildkit' ? [msg] : [nop(msg)];
    }
    case 'SHELL': {
      const msg = `SHELL [${ins.shell.join(' ')}]`;
      return builder === 'buildkit' ? [msg] : [nop(msg)];
    }
    case 'ONBUILD':
      return builder === 'legacy' ? [nop(`ONBUILD ${ins.args}`)] : [];
    case 'HEALTHCHECK': {
      const forms = healthcheckForms(ins);
      return builder === 'buildkit' ? forms.map((f) => `HEALTHCHECK ${f}`) : forms.filter((f) => f.startsWith('&')).map((f) => nop(`HEALTHCHECK ${f}`));
    }
    default:
      return [];
  }
}

/** Go's time.Duration String(). */
function goDuration(ns: number): string {
  if (ns === 0) return '0s';
  const sign = ns < 0 ? '-' : '';
  let u = Math.abs(ns);
  const frac = (x: number): string => String(Number(x.toFixed(9)));
  if (u < 1e3) return `${sign}${u}ns`;
  if (u < 1e6) return `${sign}${frac(u / 1e3)}µs`;
  if (u < 1e9) return `${sign}${frac(u / 1e6)}ms`;
  const h = Math.floor(u / 3.6e12);
  u -= h * 3.6e12;
  const m = Math.floor(u / 6e10);
  u -= m * 6e10;
  return sign + (h > 0 ? `${h}h` : '') + (h > 0 || m > 0 ? `${m}m` : '') + `${frac(u / 1e9)}s`;
}

/** Go's time.ParseDuration, in nanoseconds; null when malformed. */
function parseGoDuration(text: string): number | null {
  const units: Record<string, number> = { ns: 1, us: 1e3, 'µs': 1e3, 'μs': 1e3, ms: 1e6, s: 1e9, m: 6e10, h: 3.6e12 };
  const t = text.trim();
  if (t === '0') return 0;
  const re = /(\d+(?:\.\d*)?|\.\d+)(ns|us|µs|μs|ms|s|m|h)/gy;
  let total = 0;
  let pos = 0;
  const neg = t.startsWith('-');
  const body = t.replace(/^[-+]/, '');
  re.lastIndex = 0;
  let m: RegExpExecArray | null;
  while (pos < body.length && (m = re.exec(body)) !== null) {
    total += Number(m[1]) * units[m[2]];
    pos = re.lastIndex;
  }
  if (pos !== body.length || body === '') return null;
  return Math.round(neg ? -total : total);
}

/** Go's %q of an int (a rune literal). */
function goQuoteRune(n: number): string {
  if (n >= 0x20 && n < 0x7f && n !== 0x27 && n !== 0x5c) return `'${String.fromCharCode(n)}'`;
  if (n === 0x27) return "'\\''";
  if (n === 0x5c) return "'\\\\'";
  if (n >= 0 && n < 0x100) return `'\\x${n.toString(16).padStart(2, '0')}'`;
  return `'${String.fromCodePoint(n)}'`;
}

/**
 * HEALTHCHECK texts: `&{["CMD-SHELL" "x"] "30s" "0s" "0s" '\x00'}` (BuildKit v0.8, legacy 20.10),
 * the same with StartInterval (engines 25+), and `{Test:[CMD-SHELL x] Interval:30s ...}` (newer BuildKit).
 */
function healthcheckForms(ins: DockerfileInstruction): string[] {
  const m = /^(\S+)\s*([\s\S]*)$/.exec(ins.args);
  if (!m) return [];
  const sub = m[1].toUpperCase();
  let test: string[];
  if (sub === 'NONE') test = ['NONE'];
  else if (sub === 'CMD') test = ins.execArgs ? ['CMD', ...ins.execArgs] : ['CMD-SHELL', m[2].trim()];
  else return [];
  const flag = (n: string): string => {
    const f = ins.flags.find((x) => x.name.toLowerCase() === n);
    const v = f && f.value !== null ? parseGoDuration(f.value) : 0;
    return goDuration(v ?? 0);
  };
  const retriesFlag = ins.flags.find((x) => x.name.toLowerCase() === 'retries');
  const retries = retriesFlag && retriesFlag.value !== null && /^\d+$/.test(retriesFlag.value) ? Number(retriesFlag.value) : 0;
  const [iv, to, sp, si] = ['interval', 'timeout', 'start-period', 'start-interval'].map(flag);
  const q = (d: string): string => goQuote(d);
  return [
    `&{${goQuoteList(test)} ${q(iv)} ${q(to)} ${q(sp)} ${goQuoteRune(retries)}}`,
    `&{${goQuoteList(test)} ${q(iv)} ${q(to)} ${q(sp)} ${q(si)} ${goQuoteRune(retries)}}`,
    `{Test:[${test.join(' ')}] Interval:${iv} Timeout:${to} StartPeriod:${sp} StartInterval:${si} Retries:${retries}}`,
  ];
}

/** Legacy COPY/ADD entries: `<shell> #(nop) COPY [--chown=u ]<file|dir|multi>:<sha256> in <dest> ` (20.10: no space after the chown). */
export function legacyCopyPattern(ins: DockerfileInstruction): RegExp | null {
  if ((ins.keyword !== 'COPY' && ins.keyword !== 'ADD') || !ins.copy) return null;
  const esc = (s: string): string => s.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&');
  // Engine 20.10 writes no space between the --chown flag and the hash.
  const chown = ins.copy.chown !== null ? esc(`--chown=${ins.copy.chown}`) + ' ?' : '';
  return new RegExp(`^${esc(ins.shell.join(' '))} #\\(nop\\) ${ins.keyword} ${chown}\\S+:[0-9a-f]+ in ${esc(ins.copy.dest)} $`);
}

/** Instructions that leave a history entry (FROM does not; ONBUILD only with the legacy builder). */
export function makesHistoryEntry(ins: DockerfileInstruction): 'always' | 'legacy-only' | 'never' {
  if (ins.keyword === 'FROM' || ins.stage < 0) return 'never';
  if (ins.keyword === 'ONBUILD') return 'legacy-only';
  return KEYWORDS.has(ins.keyword) ? 'always' : 'never';
}

// ---------------------------------------------------------------------------------------------
// Similarity

function norm(s: string): string {
  return s.replace(/\s+/g, ' ').trim();
}

function tokens(s: string): string[] {
  return norm(s).split(' ').filter(Boolean);
}

/** Sørensen–Dice over token multisets, 0..1. */
function dice(a: readonly string[], b: readonly string[]): number {
  if (a.length === 0 && b.length === 0) return 1;
  if (a.length === 0 || b.length === 0) return 0;
  const counts = new Map<string, number>();
  for (const t of a) counts.set(t, (counts.get(t) ?? 0) + 1);
  let common = 0;
  for (const t of b) {
    const c = counts.get(t) ?? 0;
    if (c > 0) {
      common++;
      counts.set(t, c - 1);
    }
  }
  return (2 * common) / (a.length + b.length);
}

function jaccard(a: Iterable<string>, b: Iterable<string>): number {
  const A = new Set(a);
  const B = new Set(b);
  if (A.size === 0 && B.size === 0) return 1;
  let inter = 0;
  for (const x of A) if (B.has(x)) inter++;
  return inter / (A.size + B.size - inter);
}

/** Keys of a `K=v K2=v2` text whose values may hold spaces: the words `K=` that start a pair. */
function keysOf(text: string, known: readonly string[]): string[] {
  const out: string[] = [];
  for (const k of known) if (text === `${k}=` || text.startsWith(`${k}=`) || text.includes(` ${k}=`)) out.push(k);
  return out;
}

interface Expected {
  ins: DockerfileInstruction;
  optional: boolean;
  exact: Set<string>;
  copyPattern: RegExp | null;
}

function expectedFor(ins: DockerfileInstruction): Expected {
  const exact = new Set<string>([...expectedCreatedBy(ins, 'buildkit'), ...expectedCreatedBy(ins, 'legacy')]);
  return { ins, optional: makesHistoryEntry(ins) === 'legacy-only', exact, copyPattern: legacyCopyPattern(ins) };
}

/**
 * How likely it is that history entry `createdBy` was made by `ins`, 0..1. 1 for the exact text a
 * builder writes; below 1 for the same instruction written differently (other builder version,
 * unknown base SHELL, build args not known); low but positive for the same keyword with another
 * text (an edited line); 0 for another keyword.
 */
export function instructionSimilarity(ins: DockerfileInstruction, createdBy: string): number {
  return similarity(expectedFor(ins), createdBy, parseCreatedBy(createdBy));
}

function similarity(e: Expected, raw: string, h: ParsedCreatedBy): number {
  const ins = e.ins;
  if (h.keyword === null || h.keyword !== ins.keyword) return 0;
  if (e.exact.has(raw)) return 1;
  if (e.copyPattern && e.copyPattern.test(raw)) return 1;
  const low = (d: number): number => 0.1 + 0.5 * d;
  switch (ins.keyword) {
    case 'RUN': {
      const want = norm(runCommandText(ins));
      let got = norm(h.text);
      // Some tools write an exec-form RUN as its JSON array.
      if (got.startsWith('[')) {
        const arr = jsonStrings(got) ?? parseGoQuoteList(got);
        if (arr) got = norm(arr.join(' '));
      }
      if (got === want) return 0.97;
      // Same command under another shell (a SHELL set by the base image) or a different prefix.
      const cmd = ins.form === 'exec' ? want : norm(ins.form === 'heredoc' ? runCommandText(ins).slice(ins.shell.join(' ').length) : ins.args);
      if (cmd !== '' && got.endsWith(' ' + cmd)) return 0.9;
      const shell = norm(ins.shell.join(' ')) + ' ';
      const gotCmd = ins.form !== 'exec' && got.startsWith(shell) ? got.slice(shell.length) : got;
      return low(dice(tokens(cmd), tokens(gotCmd)));
    }
    case 'COPY':
    case 'ADD': {
      const c = ins.copy;
      if (!c) return 0.1;
      if (h.builder === 'legacy') {
        const m = /^(?:--chown=\S*?\s*(?=\w+:[0-9a-f]+ in ))?\S+ in ([\s\S]*?)\s*$/.exec(h.text);
        if (m && m[1] === c.dest) return 0.95;
        return low(m ? dice(tokens(c.dest), tokens(m[1])) : 0);
      }
      const words = tokens(h.text).filter((w) => !w.startsWith('--'));
      const want = [...c.sources, ...c.heredocSources.map((x) => '<<' + x), c.dest];
      if (words.join(' ') === want.join(' ')) return 0.97;
      if (words[words.length - 1] === c.dest) return 0.35 + 0.5 * dice(want.slice(0, -1), words.slice(0, -1));
      return low(dice(want, words));
    }
    case 'ENV':
    case 'LABEL': {
      const kvs = ins.keyValues ?? [];
      const want = kvs.map((kv) => `${kv.key}=${kv.value ?? ''}`).join(' ');
      if (norm(h.text) === norm(want)) return 0.97;
      const keys = kvs.map((kv) => kv.key);
      const found = keysOf(h.text, keys);
      const otherKeys = (h.text.match(/(?:^| )[^\s=]+=/g) ?? []).length;
      const j = keys.length === 0 ? 0 : found.length / Math.max(keys.length, otherKeys);
      return j >= 1 ? 0.7 : low(j);
    }
    case 'ARG': {
      const keys = (ins.keyValues ?? []).map((kv) => kv.key);
      const got = tokens(h.text).map((w) => w.split('=')[0]);
      const j = jaccard(keys, got);
      return j >= 1 ? 0.9 : low(j);
    }
    case 'WORKDIR': {
      const got = h.text.trim();
      if (ins.workdir !== null && got === ins.workdir) return 0.97;
      const want = ins.expanded.replace(/\/+$/, '');
      if (want !== '' && (got === want || got.endsWith('/' + want.replace(/^\.?\//, '')))) return 0.8;
      return 0.2;
    }
    case 'CMD':
    case 'ENTRYPOINT': {
      const got = parseGoQuoteList(h.text);
      const want = cmdArray(ins);
      if (!got) return 0.2;
      if (got.join('\u0000') === want.join('\u0000')) return 0.97;
      if (ins.form !== 'exec' && got[got.length - 1] === ins.args) return 0.85;
      return low(dice(tokens(want.join(' ')), tokens(got.join(' '))));
    }
    case 'EXPOSE': {
      const got = new Set<string>();
      for (const m of h.text.matchAll(/(\d+)(?:-(\d+))?(?:\/(\w+))?/g)) {
        const lo = Number(m[1]);
        const hi = m[2] !== undefined ? Number(m[2]) : lo;
        for (let p = lo; p <= hi && p - lo < 65536; p++) got.add(`${p}/${(m[3] ?? 'tcp').toLowerCase()}`);
      }
      const j = jaccard(exposePorts(ins), got);
      return j >= 1 ? 0.97 : low(j);
    }
    case 'VOLUME': {
      const got = h.text.replace(/^\[|\]$/g, '');
      const j = jaccard(volumes(ins), tokens(got));
      return j >= 1 ? 0.97 : low(j);
    }
    case 'HEALTHCHECK': {
      const m = /^(\S+)\s*([\s\S]*)$/.exec(ins.args);
      const sub = m ? m[1].toUpperCase() : '';
      if (sub === 'NONE') return /NONE/.test(h.text) ? 0.95 : 0.3;
      const cmd = m ? (ins.execArgs ?? [m[2]]) : [];
      const got = parseGoQuoteList((/\[[^\]]*\]/.exec(h.text) ?? [''])[0]) ?? [];
      if (cmd.length > 0 && got.slice(1).join(' ') === cmd.join(' ')) return 0.95;
      return low(dice(tokens(cmd.join(' ')), tokens(got.join(' '))));
    }
    case 'SHELL': {
      const got = h.text.replace(/^\[|\]$/g, '');
      return norm(got) === norm(ins.shell.join(' ')) ? 0.97 : low(dice(ins.shell, tokens(got)));
    }
    case 'ONBUILD':
      return norm(h.text) === norm(ins.args) ? 0.97 : low(dice(tokens(ins.args), tokens(h.text)));
    default:
      return norm(h.text) === norm(ins.expanded) || norm(h.text) === norm(ins.args) ? 0.97 : low(dice(tokens(ins.expanded), tokens(h.text)));
  }
}

// ---------------------------------------------------------------------------------------------
// Alignment

/** Cost of an instruction the history does not hold. */
const GAP_INSTRUCTION = 0.5;
/** Cost of a history entry above the base that no instruction made. */
const GAP_HISTORY = 0.5;

/**
 * What matching a pair adds to the alignment. A weak pair (same keyword, different text: an
 * edited line) is worth less than leaving the instruction out (-GAP_INSTRUCTION) unless its texts
 * are alike (similarity ≥ 0.3), so that a new instruction at the top of a stage is not paired with
 * the base image's last entry; it is still worth more than leaving both out (-GAP_INSTRUCTION
 * - GAP_HISTORY), so that an edited line keeps its old entry.
 */
function matchGain(sim: number): number {
  if (sim >= 0.5) return sim;
  return Math.max(-0.99, -0.98 + 2.4 * (sim - 0.1));
}

function resolveStage(model: DockerfileModel, stage: number | string | undefined): number {
  if (typeof stage === 'number') return stage >= 0 && stage < model.stages.length ? stage : -1;
  return targetStageIndex(model, stage ?? null);
}

/**
 * The stage chain and the expected entries of its instructions: they depend on the model and the
 * stage alone, so they are computed once per model and stage (a best-match search scores one
 * model against dozens of histories). Models are not changed after parsing.
 */
const expectedCache = new WeakMap<DockerfileModel, Map<number, { chain: number[]; items: Expected[] }>>();
function expectedItems(model: DockerfileModel, stage: number): { chain: number[]; items: Expected[] } {
  let byStage = expectedCache.get(model);
  if (!byStage) { byStage = new Map(); expectedCache.set(model, byStage); }
  let r = byStage.get(stage);
  if (!r) {
    const chain = stage >= 0 ? stageChain(model, stage) : [];
    const chainIns = chain.flatMap((s) => model.stages[s].instructions);
    r = { chain, items: chainIns.filter((i) => makesHistoryEntry(i) !== 'never').map(expectedFor) };
    byStage.set(stage, r);
  }
  return r;
}

/**
 * Map the instructions of a stage (default: the last) and of the stages it derives from to the
 * history entries of that stage's image.
 */
export function mapHistory(model: DockerfileModel, history: readonly HistoryEntry[], options: MapOptions = {}): MappingResult {
  try {
    return mapHistoryUnsafe(model, history, options);
  } catch {
    return { stage: -1, chain: [], builder: 'unknown', baseEntryCount: history.length, lines: [], pairs: [], unmatchedHistory: [], score: 0 };
  }
}

function mapHistoryUnsafe(model: DockerfileModel, history: readonly HistoryEntry[], options: MapOptions): MappingResult {
  const stage = resolveStage(model, options.stage);
  const { chain, items } = expectedItems(model, stage);
  const parsed = history.map((h) => parseCreatedBy(h.createdBy));
  const n = items.length;
  const m = history.length;

  // sim[i][j]
  const sim: Float64Array[] = [];
  for (let i = 0; i < n; i++) {
    const row = new Float64Array(m);
    for (let j = 0; j < m; j++) row[j] = similarity(items[i], history[j].createdBy, parsed[j]);
    sim.push(row);
  }
  const gapE = (i: number): number => (items[i].optional ? 0 : GAP_INSTRUCTION);

  // best[i][j]: best score aligning items[i..] with history[j..] (all above the base).
  const W = m + 1;
  const best = new Float64Array((n + 1) * W);
  const move = new Uint8Array((n + 1) * W); // 0 end, 1 match, 2 skip instruction, 3 skip entry
  for (let i = n; i >= 0; i--) {
    for (let j = m; j >= 0; j--) {
      const k = i * W + j;
      if (i === n && j === m) {
        best[k] = 0;
        continue;
      }
      let v = -Infinity;
      let mv = 0;
      if (i < n && j < m && sim[i][j] > 0) {
        const s = matchGain(sim[i][j]) + best[(i + 1) * W + j + 1];
        if (s > v) {
          v = s;
          mv = 1;
        }
      }
      if (i < n) {
        const s = -gapE(i) + best[(i + 1) * W + j];
        if (s > v) {
          v = s;
          mv = 2;
        }
      }
      if (j < m) {
        const s = -GAP_HISTORY + best[i * W + j + 1];
        if (s > v + 1e-12) {
          v = s;
          mv = 3;
        }
      }
      best[k] = v;
      move[k] = mv;
    }
  }
  // The base: a free prefix of the history (its length given, or the best one; the longest among
  // equal scores).
  const knownBase = options.baseHistoryLength !== undefined && options.baseHistoryLength >= 0 ? Math.min(options.baseHistoryLength, m) : null;
  let baseEnd = 0;
  if (knownBase !== null) baseEnd = knownBase;
  else for (let b = 0; b <= m; b++) if (best[b] >= best[baseEnd] - 1e-9) baseEnd = b;

  const pairs: MatchedPair[] = [];
  const unmatched: number[] = [];
  const matchedIns = new Map<number, { j: number; s: number }>();
  for (let i = 0, j = baseEnd; i < n || j < m;) {
    const mv = move[i * W + j];
    if (mv === 1) {
      pairs.push({ instructionIndex: items[i].ins.index, historyIndex: j, similarity: sim[i][j] });
      matchedIns.set(items[i].ins.index, { j, s: sim[i][j] });
      i++;
      j++;
    } else if (mv === 2) {
      i++;
    } else if (mv === 3) {
      unmatched.push(j);
      j++;
    } else {
      break;
    }
  }

  // ONBUILD triggers of the base image run first, right after the base's own entries.
  let baseEntries = baseEnd;
  const onbuild: number[] = [];
  if (knownBase !== null) {
    // Entries between the base and the first matched one: only ONBUILD triggers come there.
    const first = pairs.length > 0 ? Math.min(...pairs.map((p) => p.historyIndex)) : m;
    while (unmatched.length > 0 && unmatched[0] < first) onbuild.push(unmatched.shift()!);
  } else {
    const triggers = onbuildTriggersBefore(parsed, baseEnd);
    if (triggers > 0) {
      baseEntries = baseEnd - triggers;
      for (let j = baseEntries; j < baseEnd; j++) onbuild.push(j);
    }
  }

  // Builder: majority of matched entries.
  let bk = 0;
  let lg = 0;
  for (const p of pairs) {
    const b = parsed[p.historyIndex].builder;
    if (b === 'buildkit') bk++;
    else if (b === 'legacy') lg++;
  }
  const builder: BuilderKind = bk > lg ? 'buildkit' : lg > bk ? 'legacy' : 'unknown';

  // Lines.
  const lines: LineMapping[] = [];
  const sizes = options.entrySizes;
  const layersBelow = (end: number): number => history.slice(0, end).filter((h) => !h.emptyLayer).length;
  const sizeBelow = (end: number): number | null => {
    if (!sizes) return null;
    let t = 0;
    for (let j = 0; j < end; j++) t += sizes[j] ?? 0;
    return t;
  };
  let lastMatched = -1;
  for (let c = 0; c < chain.length; c++) {
    const st = model.stages[chain[c]];
    for (const ins of st.instructions) {
      const base: LineMapping = { line: ins.line, endLine: ins.endLine, instruction: ins.keyword, stage: st.index, historyIndex: null, layerIndex: null, confidence: 0 };
      if (ins.keyword === 'FROM') {
        const end = c === 0 ? baseEntries : Math.max(lastMatched + 1, baseEnd);
        base.base = {
          entryCount: end,
          layerCount: layersBelow(end),
          size: sizeBelow(end),
          onbuildEntries: c === 0 ? onbuild : [],
        };
        base.confidence = pairs.length > 0 ? 1 : 0;
      } else {
        const hit = matchedIns.get(ins.index);
        if (hit) {
          const h = history[hit.j];
          base.historyIndex = hit.j;
          base.layerIndex = h.emptyLayer ? null : h.layerIndex;
          base.emptyLayer = h.emptyLayer;
          base.confidence = Math.round(hit.s * 1000) / 1000;
          lastMatched = Math.max(lastMatched, hit.j);
        }
      }
      lines.push(base);
    }
  }
  lines.sort((a, b) => a.line - b.line);

  const score = computeScore(items, pairs, unmatched.length);
  return { stage, chain: [...chain], builder, baseEntryCount: baseEntries, lines, pairs, unmatchedHistory: unmatched, score };
}

/**
 * Legacy bases record their ONBUILD instructions as `#(nop)  ONBUILD X` entries; the triggers
 * then run as the first steps of the child. Count how many entries right before `end` are those
 * triggers (0 when the base's last ONBUILD entries do not line up with them).
 */
function onbuildTriggersBefore(parsed: readonly ParsedCreatedBy[], end: number): number {
  const triggers: Array<{ keyword: string; text: string }> = [];
  for (let j = 0; j < end; j++) {
    const p = parsed[j];
    if (p.builder === 'legacy' && p.keyword === 'ONBUILD') {
      const m = /^(\S+)\s*([\s\S]*)$/.exec(p.text);
      if (m) triggers.push({ keyword: m[1].toUpperCase(), text: m[2] });
    }
  }
  for (let k = Math.min(triggers.length, end); k > 0; k--) {
    const t = triggers.slice(triggers.length - k);
    const start = end - k;
    // The ONBUILD entries must be below the trigger entries.
    let ok = true;
    for (let q = 0; q < k && ok; q++) {
      const p = parsed[start + q];
      if (p.keyword !== t[q].keyword) ok = false;
      else if (p.keyword === 'RUN' && !norm(p.text).endsWith(norm(t[q].text))) ok = false;
    }
    if (ok) return k;
  }
  return 0;
}

function computeScore(items: readonly Expected[], pairs: readonly MatchedPair[], unmatchedHistory: number): number {
  const matchedOptional = pairs.filter((p) => items.some((e) => e.ins.index === p.instructionIndex && e.optional)).length;
  const required = items.filter((e) => !e.optional).length + matchedOptional;
  const denom = required + unmatchedHistory;
  if (denom === 0) return 0;
  const total = pairs.reduce((t, p) => t + p.similarity, 0);
  return Math.max(0, Math.min(1, total / denom));
}

/**
 * Map the history of an image of this Dockerfile whose stage may be unknown. `target`: the target
 * the image was built for, when known (a build record's; null: the last stage); otherwise, or when
 * it names no stage of the file any more, the stage whose mapping scores best (an image built with
 * `--target build` holds the `build` chain, not the last stage's). On a tie the later stage wins: a
 * stage that adds no history entry to the stage it derives from has the same history.
 */
export function mapImageHistory(
  model: DockerfileModel, history: readonly HistoryEntry[],
  options: Omit<MapOptions, 'stage'> & { target?: string | null } = {},
): MappingResult {
  const { target, ...rest } = options;
  if (target === null) return mapHistory(model, history, rest);
  if (target !== undefined) {
    const known = findStage(model, target);
    if (known >= 0) return mapHistory(model, history, { ...rest, stage: known });
  }
  return bestStageMapping(model, history, rest);
}

/** The mapping of the stage whose chain matches `history` best (ties: the later stage). */
export function bestStageMapping(model: DockerfileModel, history: readonly HistoryEntry[], options: Omit<MapOptions, 'stage'> = {}): MappingResult {
  let best = mapHistory(model, history, options);
  for (let i = model.stages.length - 2; i >= 0 && best.score < 1; i--) {
    const r = mapHistory(model, history, { ...options, stage: i });
    if (r.score > best.score) best = r;
  }
  return best;
}
