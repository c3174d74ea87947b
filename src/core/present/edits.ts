// Edits as the Language Server Protocol writes them (TextEdit: a 0-based range and its new text),
// with the file they apply to relative to the Dockerfile's directory. Quick fixes and the CLI's
// `suggest` use the same edits; creating a file is an edit on an empty file.
import type { DockerfileInstruction, DockerfileModel } from '../dockerfile/dockerfile';
import type { SecretFinding } from '../contents/secrets';
import { contextPathFor, instructionRefOf } from './explain';

export interface Position { line: number; character: number }
export interface FileEdit { file: string; range: { start: Position; end: Position }; newText: string }

/** One way to fix something, as edits. */
export interface Fix { title: string; edits: FileEdit[] }

/** An edit that appends `lines` to a text file holding `existing` (undefined: the file does not exist yet). */
export function appendLines(file: string, existing: string | undefined, lines: string[]): FileEdit {
  const text = existing ?? '';
  const rows = text.split('\n');
  const last = rows.length - 1;
  const prefix = text === '' || text.endsWith('\n') ? '' : '\n';
  const at = { line: last, character: rows[last].length };
  return { file, range: { start: at, end: at }, newText: prefix + lines.join('\n') + '\n' };
}

/** An edit that deletes whole lines [from, to] (1-based). */
export function deleteLines(file: string, lines: readonly string[], from: number, to: number): FileEdit {
  const end = to < lines.length ? { line: to, character: 0 } : { line: to - 1, character: lines[to - 1].length };
  return { file, range: { start: { line: from - 1, character: 0 }, end }, newText: '' };
}

/** Applies edits to a text (edits of one file, non-overlapping): for tests and the CLI. */
export function applyEdits(text: string, edits: readonly FileEdit[]): string {
  const lines = text.split('\n');
  const offset = (p: Position): number => {
    let o = 0;
    for (let i = 0; i < p.line && i < lines.length; i++) o += lines[i].length + 1;
    return o + p.character;
  };
  const sorted = [...edits].sort((a, b) => offset(b.range.start) - offset(a.range.start));
  let out = text;
  for (const e of sorted) out = out.slice(0, offset(e.range.start)) + e.newText + out.slice(offset(e.range.end));
  return out;
}

/**
 * Fixes for one secret the image ships, where one exists: a file a COPY or ADD brought from the
 * build context goes into `.dockerignore`; a build argument used by a RUN becomes a secret mount
 * (`RUN --mount=type=secret,id=…,env=…`, Dockerfile syntax 1.10 and later) and its ARG goes.
 * `dockerignore`: the context's `.dockerignore` as it is (undefined: none yet); `dockerfile`: the
 * Dockerfile's file name (edits name files relative to its directory).
 */
export function secretFixes(f: SecretFinding, model: DockerfileModel, text: string, dockerignore: string | undefined, dockerfile: string): Fix[] {
  if (f.line === null) return [];
  const ins = model.instructions.find((i) => i.line === f.line);
  if (!ins) return [];
  const lines = text.split('\n');
  if (f.path !== undefined && (ins.keyword === 'COPY' || ins.keyword === 'ADD')) {
    const ctx = contextPathFor(instructionRefOf(ins, model).copy, f.path);
    if (ctx === null) return [];
    const entry = ctx.replace(/^\/+/, '');
    if ((dockerignore ?? '').split('\n').some((l) => l.trim() === entry)) return [];
    return [{ title: `Add ${entry} to .dockerignore`, edits: [appendLines('.dockerignore', dockerignore, [entry])] }];
  }
  if (f.rule === 'build-arg' && f.name && ins.keyword === 'RUN') return buildArgFix(f.name, ins, model, lines, dockerfile);
  return [];
}

function buildArgFix(name: string, run: DockerfileInstruction, model: DockerfileModel, lines: string[], dockerfile: string): Fix[] {
  const arg = model.instructions.filter((i) => i.keyword === 'ARG' && i.stage === run.stage && i.line < run.line
    && (i.keyValues ?? []).length === 1 && i.keyValues![0].key === name).pop();
  const col = /^\s*RUN\s+/i.exec(lines[run.line - 1]);
  if (!col) return [];
  const id = name.toLowerCase().replace(/[^a-z0-9_.-]/g, '_');
  const edits: FileEdit[] = [];
  // Every RUN of the stage after the ARG that reads the variable gets the mount.
  for (const r of model.instructions) {
    if (r.keyword !== 'RUN' || r.stage !== run.stage || (arg && r.line < arg.line)) continue;
    if (!new RegExp(`\\$\\{?${name}\\b`).test(r.raw)) continue;
    const m = /^\s*RUN\s+/i.exec(lines[r.line - 1]);
    if (!m) continue;
    const at = { line: r.line - 1, character: m[0].length };
    edits.push({ file: dockerfile, range: { start: at, end: at }, newText: `--mount=type=secret,id=${id},env=${name} ` });
  }
  if (!edits.length) return [];
  if (arg) edits.push(deleteLines(dockerfile, lines, arg.line, arg.endLine));
  return [{ title: `Pass ${name} as a build secret (RUN --mount=type=secret,id=${id},env=${name}; build with --secret id=${id},env=${name})`, edits }];
}
