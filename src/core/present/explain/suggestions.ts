// Suggestions for a layer, each only when its data supports it, and the quick-fix plans behind some
// of them (pure; src/vscode/quickFixes.ts turns them into edits).
import type { DockerfileInstruction, DockerfileModel } from '../../dockerfile/dockerfile';
import { formatBytes } from '../format';
import type { MappingResult } from '../../dockerfile/mapping';
import { CopyUp, LayerExplanation, MULTI_STAGE_MIN_BYTES, Suggestion, isContextCopy, isRun, shortInstruction } from './model';
import { code } from './markup';

// ---------------------------------------------------------------------------------------------
// Suggestions: each only when this layer's data supports it

function layerName(x: LayerExplanation, layer: number): string {
  const ins = x.instructions[layer];
  const where = ins?.line !== undefined ? `line ${ins.line}` : `layer ${layer}`;
  return `${where} (${code(shortInstruction(ins, 40))})`;
}

export function suggest(x: LayerExplanation): Suggestion[] {
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
