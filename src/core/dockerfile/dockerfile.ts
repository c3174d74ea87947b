// The Dockerfile model: what a Dockerfile says, line by line and stage by stage, as Docker's own
// builders will read it. Structure (instructions, ranges, flags, heredocs, properties) comes from
// dockerfile-ast; this module adds what the builders do on top of it: how continuation lines are
// joined into the logical line, ARG/ENV substitution with build-arg overrides, stage names and
// dependencies, the SHELL in effect, WORKDIR resolution. Pure: no I/O. Never throws on any input:
// whatever cannot be understood is reported in `diagnostics`.

import { DockerfileParser } from 'dockerfile-ast';
import type { Dockerfile as AstDockerfile, Instruction as AstInstruction, Heredoc as AstHeredoc, Flag as AstFlag, Property as AstProperty } from 'dockerfile-ast';
import { posixJoin } from '../image/tar/paths';
import { expandWord, splitWords } from './expand';

/** How a RUN/CMD/ENTRYPOINT/SHELL/... gives its command. `none` for instructions without one. */
export type CommandForm = 'shell' | 'exec' | 'heredoc' | 'none';

export interface DockerfileFlag {
  name: string;
  /** null for a flag without `=value` (e.g. `--link`). */
  value: string | null;
}

export interface DockerfileHeredoc {
  /** The delimiter word, without quotes (`EOF` for `<<"EOF"`). */
  name: string;
  /** 1-based line of the `<<NAME` operator. */
  line: number;
  /** 1-based last line (the terminator line, or the last line of the file if unterminated). */
  endLine: number;
  /** The body exactly as written, every line followed by "\n" (what BuildKit receives). */
  content: string;
  /** `<<-NAME`: leading tabs are stripped from body lines and terminator. */
  chomp: boolean;
  /** False when the delimiter is quoted (`<<'EOF'`, `<<"EOF"`): no variable expansion in the body. */
  expand: boolean;
  terminated: boolean;
}

export interface KeyValue {
  key: string;
  /**
   * After quote removal and variable substitution. For ARG: the value the build gives it
   * (build-arg override, else the default, else the global ARG's value), null if none.
   */
  value: string | null;
  /** ARG only: the default as written in the file, substituted (null without `=`). */
  default?: string | null;
}

export interface CopySpec {
  /** `--from=` value after substitution, or null. */
  from: string | null;
  /** Index of the stage `--from` names (by name or number), when it is an earlier stage. */
  fromStage: number | null;
  /** Source paths after substitution (not heredoc sources). */
  sources: string[];
  /** Names of heredoc sources (`COPY <<EOF /dest`). */
  heredocSources: string[];
  /** Destination after substitution ('' when missing in a half-typed line). */
  dest: string;
  chown: string | null;
  chmod: string | null;
  link: boolean;
  parents: boolean;
}

/** A build argument visible to an instruction, with the value the build gives it. */
export interface ScopedArg {
  key: string;
  /** build-arg override, else the default (substituted), else the global ARG's value; null if none. */
  value: string | null;
}

export interface DockerfileInstruction {
  /** Position among all instructions of the file, 0-based. */
  index: number;
  /** Upper-case keyword (`RUN`); for an unknown word, that word upper-cased. */
  keyword: string;
  /** 1-based first line. */
  line: number;
  /** 1-based last line: continuation lines, comments inside them and heredoc bodies included. */
  endLine: number;
  /** Stage index, or -1 for instructions before the first FROM (global ARGs). */
  stage: number;
  /** Exact source text of the lines [line, endLine]. */
  raw: string;
  /**
   * The argument text as the builders see it: continuation lines joined the way Docker joins them
   * (escape + newline removed, comment lines and empty continuation lines dropped, indentation of
   * continuation lines kept), builder flags (`--from=...`) removed, trimmed. For heredoc
   * instructions, only the part before the bodies (`<<EOF`, `cat <<EOF > /x`).
   */
  args: string;
  flags: DockerfileFlag[];
  form: CommandForm;
  /** The JSON array of an exec-form instruction. */
  execArgs: string[] | null;
  heredocs: DockerfileHeredoc[];
  /**
   * `args` after ARG/ENV substitution as the builder does it for this keyword (quotes removed for
   * ENV, LABEL, ARG, COPY/ADD, WORKDIR, USER, ...). For RUN/CMD/ENTRYPOINT/HEALTHCHECK the text
   * with known variables substituted and unknown ones left as written (what BuildKit shows as the
   * step name), for change detection.
   */
  expanded: string;
  /** ENV, LABEL, ARG: the pairs, substituted. */
  keyValues: KeyValue[] | null;
  /** COPY and ADD. */
  copy: CopySpec | null;
  /** WORKDIR: the absolute directory after this instruction (relative paths resolved). */
  workdir: string | null;
  /** The shell prepended to shell-form commands for this instruction (after a SHELL: the new one). */
  shell: string[];
  /** Stage ARGs declared before this instruction (in order; redeclarations repeated as written). */
  argsInScope: ScopedArg[];
  /** Variables set by ENV in this stage and the stages it derives from, before this instruction. */
  envInScope: Record<string, string>;
  /** RUN: `--mount ... from=X` values; ONBUILD: none. */
  mountFrom: string[];
  /** RUN --network / --security: as flags; nothing extra. ONBUILD: the trigger keyword and text. */
  onbuild: { keyword: string; args: string } | null;
}

export interface DockerfileStage {
  index: number;
  /** `FROM ... AS name` (as written; stage lookup is case-insensitive), or null. */
  name: string | null;
  /** 1-based line of the FROM, and the last line of the stage's last instruction. */
  line: number;
  endLine: number;
  /** The base as written after FROM (before substitution), or null when missing. */
  baseRaw: string | null;
  /** The base after global ARG substitution ('scratch', an image ref, or a stage name). */
  baseImage: string | null;
  /** The earlier stage the FROM names, or null for an image. */
  baseStage: number | null;
  /** `--platform=` value after substitution, or null. */
  platform: string | null;
  /** The FROM instruction first, then the stage's instructions in order. */
  instructions: DockerfileInstruction[];
  /** Stages this stage needs (FROM <stage>, COPY --from, RUN --mount from=), sorted. */
  dependsOn: number[];
  /** Images (not stages) named by COPY --from / RUN --mount from=. */
  externalImages: string[];
}

export interface DockerfileDiagnostic {
  /** 1-based lines. */
  line: number;
  endLine: number;
  severity: 'error' | 'warning';
  message: string;
}

export interface DockerfileModel {
  /** The escape character (`\` unless the `escape` directive says otherwise). */
  escape: string;
  directives: Array<{ name: string; value: string; line: number }>;
  /** ARGs before the first FROM, with their values for this build. */
  globalArgs: ScopedArg[];
  /** Every instruction in file order (global ARGs, FROMs and stage instructions). */
  instructions: DockerfileInstruction[];
  stages: DockerfileStage[];
  diagnostics: DockerfileDiagnostic[];
  /** The build args the model was computed with. */
  buildArgs: Record<string, string>;
}

export interface ParseOptions {
  /** `--build-arg` values; they override ARG defaults (global and stage). */
  buildArgs?: Record<string, string>;
}

/** Keywords the builders know (BuildKit's list). */
export const KNOWN_KEYWORDS: ReadonlySet<string> = new Set([
  'ADD', 'ARG', 'CMD', 'COPY', 'ENTRYPOINT', 'ENV', 'EXPOSE', 'FROM', 'HEALTHCHECK', 'LABEL',
  'MAINTAINER', 'ONBUILD', 'RUN', 'SHELL', 'STOPSIGNAL', 'USER', 'VOLUME', 'WORKDIR',
]);

/** Default shell for shell-form commands on Linux. */
export const DEFAULT_SHELL: readonly string[] = ['/bin/sh', '-c'];

/** Args the builders define themselves; the legacy builder leaves them out of `|N` unless declared. */
export const BUILTIN_ARGS: ReadonlySet<string> = new Set([
  'HTTP_PROXY', 'http_proxy', 'HTTPS_PROXY', 'https_proxy', 'FTP_PROXY', 'ftp_proxy', 'NO_PROXY',
  'no_proxy', 'ALL_PROXY', 'all_proxy',
]);

// ---------------------------------------------------------------------------------------------
// Logical lines

function escapeRegExp(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&');
}

function isCommentLine(line: string): boolean {
  return /^\s*#/.test(line);
}

/**
 * Join the physical lines [from, to] (0-based, inclusive) into the builders' logical line:
 * BuildKit's parser rules (a line ending in the escape char continues; continuation lines keep
 * their indentation; comment lines and empty lines inside a continuation are dropped).
 */
export function joinContinuationLines(lines: readonly string[], from: number, to: number, escape: string): string {
  const e = escapeRegExp(escape);
  const cont = new RegExp('([^' + e + '])' + e + '[ \\t]*$|^' + e + '[ \\t]*$');
  const trim = (l: string): [string, boolean] => (cont.test(l) ? [l.replace(cont, '$1'), true] : [l, false]);
  let first = (lines[from] ?? '').replace(/\r$/, '');
  if (from === 0) first = first.replace(/^\uFEFF/, '');
  let [buf, more] = trim(first.replace(/^\s+/, ''));
  for (let i = from + 1; more && i <= to && i < lines.length; i++) {
    const l = lines[i].replace(/\r$/, '');
    if (isCommentLine(l)) continue;
    if (l.trim() === '') continue;
    const [t, m] = trim(l);
    buf += t;
    more = m;
  }
  return buf;
}

/** Remove the keyword and the builder flags from a logical line: [keyword, flags text, rest]. */
function splitLogical(line: string, escape: string): { keyword: string; rest: string } {
  const t = line.trim();
  const m = /^(\S+)(?:\s+([\s\S]*))?$/.exec(t);
  if (!m) return { keyword: '', rest: '' };
  let rest = m[2] ?? '';
  // Skip builder flags: words starting with `--` before the first other word (BuildKit's
  // extractBuilderFlags; quotes and escapes inside a flag word are honoured).
  let pos = 0;
  for (;;) {
    while (pos < rest.length && /\s/.test(rest[pos])) pos++;
    if (!(rest[pos] === '-' && rest[pos + 1] === '-')) break;
    let quote: string | null = null;
    let word = '';
    for (; pos < rest.length; pos++) {
      const ch = rest[pos];
      if (quote === null && /\s/.test(ch)) break;
      if (ch === escape && pos + 1 < rest.length) {
        word += rest[++pos];
        continue;
      }
      if (quote === null && (ch === '"' || ch === "'")) quote = ch;
      else if (quote === ch) quote = null;
      else word += ch;
    }
    if (word === '--') break;
  }
  rest = rest.slice(pos).trim();
  return { keyword: m[1], rest };
}

function tryExecForm(rest: string): string[] | null {
  const t = rest.replace(/^\s+/, '');
  if (!t.startsWith('[')) return null;
  try {
    const v: unknown = JSON.parse(t);
    if (Array.isArray(v) && v.every((x) => typeof x === 'string')) return v as string[];
  } catch {
    // shell form
  }
  return null;
}

// ---------------------------------------------------------------------------------------------
// Parsing

interface StageState {
  args: ScopedArg[];
  /** Variables for substitution: ARG values then ENV (ENV wins). */
  env: Map<string, string>;
  envOnly: Map<string, string>;
  shell: string[];
  workdir: string;
}

/** Parse Dockerfile text into the model. Never throws. */
export function parseDockerfile(text: string, options: ParseOptions = {}): DockerfileModel {
  const buildArgs = { ...(options.buildArgs ?? {}) };
  const model: DockerfileModel = {
    escape: '\\', directives: [], globalArgs: [], instructions: [], stages: [], diagnostics: [], buildArgs,
  };
  let ast: AstDockerfile;
  try {
    ast = DockerfileParser.parse(text);
  } catch (err) {
    model.diagnostics.push({ line: 1, endLine: 1, severity: 'error', message: `could not parse: ${(err as Error).message}` });
    return model;
  }
  try {
    build(model, ast, text, buildArgs);
  } catch (err) {
    // A bug or an input the library handles unexpectedly: keep what was built so far.
    model.diagnostics.push({ line: 1, endLine: 1, severity: 'error', message: `internal error while reading the Dockerfile: ${(err as Error).message}` });
  }
  return model;
}

function safe<T>(f: () => T, fallback: T): T {
  try {
    return f();
  } catch {
    return fallback;
  }
}

function flagsOf(ins: AstInstruction): AstFlag[] {
  const g = (ins as unknown as { getFlags?: () => AstFlag[] }).getFlags;
  return typeof g === 'function' ? safe(() => g.call(ins), []) : [];
}

function heredocsOf(ins: AstInstruction): AstHeredoc[] {
  const g = (ins as unknown as { getHeredocs?: () => AstHeredoc[] }).getHeredocs;
  return typeof g === 'function' ? safe(() => g.call(ins), []) : [];
}

function propertiesOf(ins: AstInstruction): AstProperty[] {
  const g = (ins as unknown as { getProperties?: () => AstProperty[] }).getProperties;
  return typeof g === 'function' ? safe(() => g.call(ins), []) : [];
}

function build(model: DockerfileModel, ast: AstDockerfile, text: string, buildArgs: Record<string, string>): void {
  const lines = text.split('\n');
  const escape = safe(() => ast.getEscapeCharacter(), '\\') || '\\';
  model.escape = escape;
  for (const d of safe(() => ast.getDirectives(), [])) {
    model.directives.push({ name: safe(() => d.getName(), ''), value: safe(() => d.getValue(), ''), line: d.getRange().start.line + 1 });
  }
  const diag = (line: number, endLine: number, severity: 'error' | 'warning', message: string): void => {
    model.diagnostics.push({ line, endLine, severity, message });
  };

  const globalVars = new Map<string, string>();
  const stageStates: StageState[] = [];
  let state: StageState | null = null;
  let stage: DockerfileStage | null = null;
  const instructions = safe(() => ast.getInstructions(), []);

  for (const ins of instructions) {
    const range = ins.getRange();
    const line = range.start.line + 1;
    const endLine = Math.max(line, range.end.line + 1);
    const keyword = (safe(() => ins.getKeyword(), '') || '').toUpperCase();
    const rawText = lines.slice(line - 1, endLine).join('\n');

    // Heredocs: the logical line stops before the first body.
    const astHeredocs = ['RUN', 'COPY', 'ADD'].includes(keyword) ? heredocsOf(ins) : [];
    let logicalEnd = endLine - 1;
    const heredocs: DockerfileHeredoc[] = [];
    for (const h of astHeredocs) {
      const start = h.getStartRange();
      const opText = lines[start.start.line]?.slice(start.start.character, start.end.character) ?? '';
      const chomp = /^<<-/.test(opText);
      const quoted = /^<<-?\s*["']/.test(opText);
      const delim = h.getDelimiterRange();
      const contentRange = h.getContentRange();
      // Bodies follow each other: the first starts after the line of the operators, the next one
      // after the previous terminator.
      const prev = heredocs[heredocs.length - 1];
      const bodyFrom = prev ? prev.endLine : start.start.line + 1;
      const bodyTo = delim ? delim.start.line - 1 : contentRange ? contentRange.end.line : bodyFrom - 1;
      let content = '';
      for (let i = bodyFrom; i <= bodyTo && i < lines.length; i++) content += lines[i].replace(/\r$/, '') + '\n';
      heredocs.push({
        name: safe(() => h.getName(), ''),
        line: start.start.line + 1,
        endLine: (delim ? delim.end.line : Math.max(bodyTo, bodyFrom - 1)) + 1,
        content,
        chomp,
        expand: !quoted,
        terminated: delim !== null,
      });
      if (heredocs.length === 1) logicalEnd = start.start.line;
      if (!delim) diag(start.start.line + 1, endLine, 'error', `unterminated heredoc <<${safe(() => h.getName(), '')}`);
    }
    const logical = joinContinuationLines(lines, line - 1, Math.min(logicalEnd, endLine - 1), escape);
    const { rest } = splitLogical(logical, escape);

    const flags: DockerfileFlag[] = flagsOf(ins).map((f) => ({ name: safe(() => f.getName(), ''), value: safe(() => f.getValue(), null) }));
    const flag = (name: string): DockerfileFlag | undefined => flags.find((f) => f.name.toLowerCase() === name);

    const out: DockerfileInstruction = {
      index: model.instructions.length,
      keyword,
      line,
      endLine,
      stage: stage ? stage.index : -1,
      raw: rawText,
      args: rest,
      flags,
      form: 'none',
      execArgs: null,
      heredocs,
      expanded: rest,
      keyValues: null,
      copy: null,
      workdir: null,
      shell: state ? [...state.shell] : [...DEFAULT_SHELL],
      argsInScope: state ? state.args.map((a) => ({ ...a })) : [],
      envInScope: state ? Object.fromEntries(state.envOnly) : {},
      mountFrom: [],
      onbuild: null,
    };
    if (keyword && !KNOWN_KEYWORDS.has(keyword)) {
      diag(line, endLine, 'error', `unknown instruction: ${keyword}`);
    }

    if (keyword === 'FROM') {
      const imageRaw = safe(() => (ins as unknown as { getImage(): string | null }).getImage(), null);
      const nameRaw = safe(() => (ins as unknown as { getBuildStage(): string | null }).getBuildStage(), null);
      const words = splitWords(rest, escape);
      // `FROM image AS name` (AS case-insensitive); the library is used for the values it gives.
      const baseRaw = imageRaw ?? (words[0] ?? null);
      let name = nameRaw;
      if (name === null && words.length >= 3 && words[1].toLowerCase() === 'as') name = words[2];
      if (words.length === 2 && words[1].toLowerCase() === 'as') diag(line, endLine, 'error', 'FROM ... AS needs a stage name');
      const baseImage = baseRaw === null ? null : expandWord(baseRaw, globalVars, { escape });
      if (baseRaw === null) diag(line, endLine, 'error', 'FROM needs an image');
      else if (/\$/.test(baseRaw) && baseImage === '') diag(line, endLine, 'error', `FROM ${baseRaw}: the image name is empty after ARG substitution`);
      const platformFlag = flag('platform');
      const platform = platformFlag ? (platformFlag.value === null ? null : expandWord(platformFlag.value, globalVars, { escape, skipUnset: true })) : null;
      let baseStage: number | null = null;
      if (baseImage) {
        const lower = baseImage.toLowerCase();
        const found = model.stages.findIndex((s) => s.name !== null && s.name.toLowerCase() === lower);
        if (found >= 0) baseStage = found;
      }
      if (name !== null && model.stages.some((s) => s.name !== null && s.name.toLowerCase() === name!.toLowerCase())) {
        diag(line, endLine, 'error', `duplicate stage name ${name}`);
      }
      const idx = model.stages.length;
      out.stage = idx;
      out.expanded = [baseImage ?? '', ...(name !== null ? ['AS', name] : [])].join(' ').trim();
      stage = {
        index: idx, name, line, endLine, baseRaw, baseImage, baseStage, platform,
        instructions: [out], dependsOn: baseStage !== null ? [baseStage] : [], externalImages: [],
      };
      model.stages.push(stage);
      const parent = baseStage !== null ? stageStates[baseStage] : undefined;
      state = {
        args: [],
        env: new Map(parent ? parent.envOnly : []),
        envOnly: new Map(parent ? parent.envOnly : []),
        shell: parent ? [...parent.shell] : [...DEFAULT_SHELL],
        workdir: parent ? parent.workdir : '/',
      };
      stageStates.push(state);
      out.shell = [...state.shell];
      out.argsInScope = [];
      out.envInScope = Object.fromEntries(state.envOnly);
      model.instructions.push(out);
      continue;
    }

    if (!stage || !state) {
      // Before the first FROM only ARG is allowed (global build args, usable in FROM lines).
      if (keyword === 'ARG') {
        out.keyValues = readArgs(ins, lines, escape, globalVars, buildArgs, null, model.globalArgs);
        for (const kv of out.keyValues) {
          const value = kv.value;
          model.globalArgs.push({ key: kv.key, value });
          if (value !== null) globalVars.set(kv.key, value);
        }
        out.expanded = out.keyValues.map((kv) => (kv.value === null ? kv.key : `${kv.key}=${kv.value}`)).join(' ');
      } else if (keyword) {
        diag(line, endLine, 'error', `${keyword} before the first FROM (only ARG may come first)`);
      }
      model.instructions.push(out);
      continue;
    }

    const st: StageState = state;
    const vars = st.env;
    switch (keyword) {
      case 'RUN':
      case 'CMD':
      case 'ENTRYPOINT': {
        const exec = heredocs.length === 0 ? tryExecForm(rest) : null;
        if (exec) {
          out.form = 'exec';
          out.execArgs = exec;
        } else {
          out.form = heredocs.length > 0 && keyword === 'RUN' ? 'heredoc' : rest === '' ? 'none' : 'shell';
        }
        out.expanded = expandWord(rest, vars, { escape, skipUnset: true, rawQuotes: true });
        if (keyword === 'RUN') {
          for (const f of flags) {
            if (f.name.toLowerCase() !== 'mount' || f.value === null) continue;
            for (const opt of f.value.split(',')) {
              const [k, v] = opt.split('=');
              if (k?.trim().toLowerCase() === 'from' && v) out.mountFrom.push(expandWord(v.trim(), vars, { escape }));
            }
          }
          if (rest === '' && heredocs.length === 0) diag(line, endLine, 'warning', 'RUN needs a command');
        }
        break;
      }
      case 'SHELL': {
        const exec = tryExecForm(rest);
        if (exec && exec.length > 0) {
          st.shell = exec;
          out.form = 'exec';
          out.execArgs = exec;
        } else {
          diag(line, endLine, 'error', 'SHELL needs a JSON array, e.g. SHELL ["/bin/bash", "-c"]');
        }
        out.shell = [...st.shell];
        break;
      }
      case 'ENV':
      case 'LABEL': {
        const kvs: KeyValue[] = [];
        for (const p of propertiesOf(ins)) {
          const key = expandWord(rawOf(lines, p, 'name', escape) ?? safe(() => p.getName(), ''), vars, { escape });
          const rawValue = rawOf(lines, p, 'value', escape);
          const value = rawValue === null ? (safe(() => p.getValue(), null) ?? '') : expandWord(rawValue, vars, { escape });
          kvs.push({ key, value });
        }
        out.keyValues = kvs;
        out.expanded = kvs.map((kv) => `${kv.key}=${kv.value ?? ''}`).join(' ');
        if (keyword === 'ENV') {
          for (const kv of kvs) {
            st.env.set(kv.key, kv.value ?? '');
            st.envOnly.set(kv.key, kv.value ?? '');
          }
        }
        if (kvs.length === 0) diag(line, endLine, 'warning', `${keyword} needs at least one key=value`);
        break;
      }
      case 'ARG': {
        const kvs = readArgs(ins, lines, escape, vars, buildArgs, globalVars, model.globalArgs);
        out.keyValues = kvs;
        for (const kv of kvs) {
          st.args.push({ key: kv.key, value: kv.value });
          // An ARG does not override an ENV of the same name for substitution.
          if (kv.value !== null && !st.envOnly.has(kv.key)) st.env.set(kv.key, kv.value);
        }
        out.expanded = kvs.map((kv) => (kv.value === null ? kv.key : `${kv.key}=${kv.value}`)).join(' ');
        if (kvs.length === 0) diag(line, endLine, 'warning', 'ARG needs a name');
        break;
      }
      case 'COPY':
      case 'ADD': {
        const exec = heredocs.length === 0 ? tryExecForm(rest) : null;
        let words = exec ?? splitWords(rest, escape);
        const heredocSources: string[] = [];
        if (heredocs.length > 0) {
          const names = new Set(heredocs.map((h) => h.name));
          words = words.filter((w) => {
            const m = /^<<-?\s*["']?([^"']*)["']?$/.exec(w);
            if (m && names.has(m[1])) {
              heredocSources.push(m[1]);
              return false;
            }
            return true;
          });
        }
        const expandedWords = exec ? words.map((w) => expandWord(w, vars, { escape, rawQuotes: true })) : words.map((w) => expandWord(w, vars, { escape }));
        const dest = expandedWords.length > 0 && (heredocSources.length > 0 || expandedWords.length >= 2) ? expandedWords[expandedWords.length - 1] : '';
        const sources = dest === '' ? expandedWords : expandedWords.slice(0, -1);
        const fromFlag = keyword === 'COPY' ? flag('from') : undefined;
        const from = fromFlag && fromFlag.value !== null ? expandWord(fromFlag.value, vars, { escape }) : null;
        let fromStage: number | null = null;
        if (from !== null) {
          const lower = from.toLowerCase();
          const byName = model.stages.findIndex((s, i) => i < stage!.index && s.name !== null && s.name.toLowerCase() === lower);
          if (byName >= 0) fromStage = byName;
          else if (/^\d+$/.test(from) && Number(from) < stage.index) fromStage = Number(from);
        }
        const f = (n: string): string | null => {
          const v = flag(n);
          return v && v.value !== null ? expandWord(v.value, vars, { escape }) : null;
        };
        const boolFlag = (n: string): boolean => {
          const v = flag(n);
          return v !== undefined && (v.value === null || v.value === 'true');
        };
        out.copy = { from, fromStage, sources, heredocSources, dest, chown: f('chown'), chmod: f('chmod'), link: boolFlag('link'), parents: boolFlag('parents') };
        out.form = exec ? 'exec' : heredocs.length > 0 ? 'heredoc' : 'shell';
        out.expanded = [...sources, ...heredocSources.map((h) => '<<' + h), dest].filter((x) => x !== '').join(' ');
        if (dest === '') diag(line, endLine, 'error', `${keyword} needs a source and a destination`);
        if (from !== null && fromFlag) {
          if (fromStage !== null) addDep(stage, fromStage);
          else if (from !== '') addExternal(stage, from);
        }
        break;
      }
      case 'WORKDIR': {
        const p = expandWord(rest, vars, { escape });
        if (p === '') diag(line, endLine, 'error', 'WORKDIR needs a path');
        else st.workdir = posixJoin(st.workdir, p);
        out.workdir = st.workdir;
        out.expanded = p;
        break;
      }
      case 'USER':
      case 'STOPSIGNAL':
      case 'MAINTAINER': {
        out.expanded = keyword === 'MAINTAINER' ? rest : expandWord(rest, vars, { escape });
        break;
      }
      case 'EXPOSE':
      case 'VOLUME': {
        const exec = keyword === 'VOLUME' ? tryExecForm(rest) : null;
        const words = exec ?? splitWords(rest, escape).map((w) => expandWord(w, vars, { escape }));
        out.form = exec ? 'exec' : 'none';
        out.execArgs = exec;
        out.expanded = (exec ? exec.map((w) => expandWord(w, vars, { escape })) : words).join(' ');
        break;
      }
      case 'HEALTHCHECK': {
        const m = /^(\S+)\s*([\s\S]*)$/.exec(rest);
        const sub = m ? m[1].toUpperCase() : '';
        if (sub === 'CMD') {
          const exec = tryExecForm(m![2]);
          out.form = exec ? 'exec' : 'shell';
          out.execArgs = exec;
        }
        out.expanded = expandWord(rest, vars, { escape, skipUnset: true, rawQuotes: true });
        break;
      }
      case 'ONBUILD': {
        const m = /^(\S+)\s*([\s\S]*)$/.exec(rest);
        out.onbuild = m ? { keyword: m[1].toUpperCase(), args: m[2] } : null;
        if (!m) diag(line, endLine, 'warning', 'ONBUILD needs an instruction');
        break;
      }
      default:
        break;
    }
    for (const from of out.mountFrom) {
      const lower = from.toLowerCase();
      const byName = model.stages.findIndex((s, i) => i < stage!.index && s.name !== null && s.name.toLowerCase() === lower);
      if (byName >= 0) addDep(stage, byName);
      else if (/^\d+$/.test(from) && Number(from) < stage.index) addDep(stage, Number(from));
      else addExternal(stage, from);
    }
    stage.instructions.push(out);
    stage.endLine = Math.max(stage.endLine, endLine);
    model.instructions.push(out);
  }
  if (model.stages.length === 0) {
    model.diagnostics.push({ line: 1, endLine: Math.max(1, lines.length), severity: 'error', message: 'no FROM instruction' });
  }
}

function addDep(stage: DockerfileStage, dep: number): void {
  if (dep === stage.index || stage.dependsOn.includes(dep)) return;
  stage.dependsOn.push(dep);
  stage.dependsOn.sort((a, b) => a - b);
}

function addExternal(stage: DockerfileStage, ref: string): void {
  if (!stage.externalImages.includes(ref)) stage.externalImages.push(ref);
}

/** Raw source text of a property's name or value (quotes and escapes as written). */
function rawOf(lines: readonly string[], p: AstProperty, which: 'name' | 'value', escape: string): string | null {
  const r = safe(() => (which === 'name' ? p.getNameRange() : p.getValueRange()), null);
  if (!r) return null;
  if (r.start.line === r.end.line) return (lines[r.start.line] ?? '').slice(r.start.character, r.end.character);
  // A value spanning continuation lines: join as the builders do, from the value's start.
  const first = (lines[r.start.line] ?? '').slice(r.start.character);
  const tail = lines.slice(r.start.line + 1, r.end.line + 1).map((l, i, a) => (i === a.length - 1 ? l.slice(0, r.end.character) : l));
  return joinContinuationLines([first, ...tail], 0, tail.length, escape);
}

function readArgs(
  ins: AstInstruction,
  lines: readonly string[],
  escape: string,
  vars: ReadonlyMap<string, string>,
  buildArgs: Record<string, string>,
  globalVars: ReadonlyMap<string, string> | null,
  globalArgs: readonly ScopedArg[],
): KeyValue[] {
  const out: KeyValue[] = [];
  for (const p of propertiesOf(ins)) {
    const key = safe(() => p.getName(), '');
    if (!key) continue;
    const rawValue = rawOf(lines, p, 'value', escape);
    const hasDefault = safe(() => p.getValue(), null) !== null || rawValue !== null;
    let value: string | null = null;
    const def = hasDefault ? expandWord(rawValue ?? safe(() => p.getValue(), '') ?? '', vars, { escape }) : null;
    if (Object.prototype.hasOwnProperty.call(buildArgs, key)) value = buildArgs[key];
    else if (def !== null) value = def;
    else if (globalVars && globalVars.has(key)) value = globalVars.get(key) ?? null;
    else if (globalVars && globalArgs.some((g) => g.key === key)) value = null;
    out.push({ key, value, default: def });
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
// Stage helpers

/**
 * The stage `ref` names: a stage name (case-insensitive), else an index (`2` or `#2`: how Layer
 * Lens names unnamed stages, e.g. as a build target). -1 when none.
 */
export function findStage(model: DockerfileModel, ref: string): number {
  const lower = ref.toLowerCase();
  const named = model.stages.findIndex((s) => s.name !== null && s.name.toLowerCase() === lower);
  if (named >= 0) return named;
  const m = /^#?(\d+)$/.exec(ref);
  if (m && Number(m[1]) < model.stages.length) return Number(m[1]);
  return -1;
}

/**
 * The stage a build produces: the one `target` names (findStage: a name, or `#<index>` for an
 * unnamed stage), else the last. -1 if none.
 */
export function targetStageIndex(model: DockerfileModel, target?: string | null): number {
  if (target) {
    const i = findStage(model, target);
    if (i >= 0) return i;
  }
  return model.stages.length - 1;
}

/**
 * The stages whose instructions end up in the history of `stageIndex`'s image: the stage, the
 * stage its FROM names, and so on, root first.
 */
export function stageChain(model: DockerfileModel, stageIndex: number): number[] {
  const chain: number[] = [];
  let cur: number | null = stageIndex;
  while (cur !== null && cur >= 0 && cur < model.stages.length && !chain.includes(cur)) {
    chain.unshift(cur);
    cur = model.stages[cur].baseStage;
  }
  return chain;
}

/** Every stage `stageIndex` needs, directly or not (itself excluded), sorted. */
export function stageDependencies(model: DockerfileModel, stageIndex: number): number[] {
  const seen = new Set<number>();
  const visit = (i: number): void => {
    for (const d of model.stages[i]?.dependsOn ?? []) {
      if (!seen.has(d)) {
        seen.add(d);
        visit(d);
      }
    }
  };
  visit(stageIndex);
  seen.delete(stageIndex);
  return [...seen].sort((a, b) => a - b);
}

/** The instruction whose lines contain the 1-based `line`, or null. */
export function instructionAtLine(model: DockerfileModel, line: number): DockerfileInstruction | null {
  return model.instructions.find((i) => i.line <= line && line <= i.endLine) ?? null;
}
