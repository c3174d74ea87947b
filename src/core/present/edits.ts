// Edits as the Language Server Protocol writes them (TextEdit: a 0-based range and its new text),
// with the file they apply to relative to the Dockerfile's directory. Quick fixes and the CLI's
// `suggest` use the same edits; creating a file is an edit on an empty file.
import type { DockerfileInstruction, DockerfileModel } from '../dockerfile/dockerfile';
import type { SecretFinding } from '../contents/secrets';
import type { MappingResult } from '../dockerfile/mapping';
import { contextPathFor, dockerignoreEntries, foldCleanupPlan, instructionRefOf, type FoldPlan, type LayerExplanation } from './explain';

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

/** A suggestion with the bytes it saves and the edits that apply it (`layerlens suggest`, the quick fixes). */
export interface EditSuggestion {
  /** `<kind>:<line>`: stable while the Dockerfile does not change. */
  id: string;
  /** The Dockerfile line it is offered on, 1-based. */
  line: number;
  kind: 'fold-cleanup' | 'dockerignore';
  /** Bytes the image would no longer ship, from the image index. */
  savesBytes: number;
  title: string;
  edits: FileEdit[];
}

/** The fold of a cleanup RUN into the RUN that created its files, as edits of the Dockerfile. */
export function foldEdits(plan: FoldPlan, lines: readonly string[], dockerfile: string): FileEdit[] {
  const lastK = lines[plan.appendLine - 1].replace(/\r$/, '');
  return [
    { file: dockerfile, range: { start: { line: plan.appendLine - 1, character: plan.appendColumn }, end: { line: plan.appendLine - 1, character: lastK.length } }, newText: plan.appendText },
    deleteLines(dockerfile, lines, plan.deleteFrom, plan.deleteTo),
  ];
}

/**
 * Bytes later layers ship again of the files layer `from` wrote under `paths` only because they
 * changed their mode or owner (a `chmod -R`, a `chown -R`: the whole file copied up, again at each
 * such layer). Files a COPY no longer brings are not copied up either, so a `.dockerignore` entry
 * saves these too. `laterLayers`: the explanations of the layers above `from`, bottom first.
 */
export function reshippedBytes(from: number, paths: readonly string[], laterLayers: readonly LayerExplanation[]): number {
  const under = (p: string): boolean => paths.some((q) => p === q || p.startsWith(q.endsWith('/') ? q : q + '/'));
  /** Per file: the layer whose copy the next copy-up must come from (its chain back to `from`). */
  const last = new Map<string, number>();
  let bytes = 0;
  for (const x of laterLayers) {
    for (const c of x.copyUps) {
      if (!c.metadataOnly || !under(c.path) || c.lowerLayer !== (last.get(c.path) ?? from)) continue;
      bytes += c.bytes;
      last.set(c.path, x.layer);
    }
  }
  return bytes;
}

/**
 * Every suggestion of the image's layers that has edits: folding a `RUN rm …` into the RUN that
 * created the files, and `.dockerignore` entries for build-context files a COPY carried.
 * `explain(layer)`: the layer's explanation with the Dockerfile's instructions.
 */
export function editSuggestions(
  model: DockerfileModel, mapping: MappingResult, text: string, dockerfile: string, dockerignore: string | undefined,
  explain: (layer: number) => LayerExplanation,
): EditSuggestion[] {
  const lines = text.split('\n');
  const out: EditSuggestion[] = [];
  const explained = new Map<number, LayerExplanation>();
  const explainOnce = (layer: number): LayerExplanation => {
    let x = explained.get(layer);
    if (!x) explained.set(layer, (x = explain(layer)));
    return x;
  };
  const later = [...new Set(mapping.lines.map((l) => l.layerIndex).filter((l): l is number => l !== null))].sort((p, q) => p - q);
  for (const m of mapping.lines) {
    if (m.layerIndex === null || m.base) continue;
    const ins = model.instructions.find((i) => i.line === m.line);
    if (!ins) continue;
    const x = explainOnce(m.layerIndex);
    if (ins.keyword === 'RUN') {
      const plan = foldCleanupPlan(lines, model, mapping, ins, x);
      if (plan) {
        out.push({
          id: `fold-cleanup:${ins.line}`, line: ins.line, kind: 'fold-cleanup', savesBytes: plan.bytes,
          title: `Fold this cleanup into the RUN on line ${plan.creator.line}`, edits: foldEdits(plan, lines, dockerfile),
        });
      }
    } else if (ins.keyword === 'COPY' || ins.keyword === 'ADD') {
      const add = dockerignoreEntries(model, ins, x, dockerignore ?? '');
      if (!add.length) continue;
      const ignored = x.copiedCandidates.filter((c) => c.contextPath !== null && add.includes(c.contextPath));
      const bytes = ignored.reduce((n, c) => n + c.bytes, 0)
        + reshippedBytes(x.layer, ignored.map((c) => c.path), later.filter((l) => l > x.layer).map(explainOnce));
      out.push({
        id: `dockerignore:${ins.line}`, line: ins.line, kind: 'dockerignore', savesBytes: bytes,
        title: `Add ${add.join(', ')} to .dockerignore`, edits: [appendLines('.dockerignore', dockerignore, add)],
      });
    }
  }
  return out;
}
