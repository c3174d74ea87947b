// The build args of an image built elsewhere (a terminal, compose, a task), read back from its
// history. Both builders write the ARGs in scope of a RUN into that RUN's `created_by`:
// `RUN |2 A=1 B=2 /bin/sh -c …` (BuildKit) or `|2 A=1 B=2 /bin/sh -c …` (the legacy builder), each
// with the value the build gave it (its `--build-arg`, else the ARG's default), except ARGs that an
// ENV of the same name hides (the ENV's value is written, or nothing). Nothing else in an image
// holds them: the config's `created_by` of ARG lines (legacy `#(nop) ARG A=one`) is the text as
// written, and the engine keeps no BuildKit provenance with an image.
//
// What the history cannot tell, and is therefore reported as not recovered: an ARG read by no RUN
// (used only in FROM, COPY, ENV, LABEL…, or declared after the stage's last RUN), an ARG hidden by an
// ENV at every RUN that sees it, and an ARG of a stage the image does not contain. A value equal to
// the ARG's default is the default whether or not it was given: it is left out, as a build that
// gives nothing builds the same.
import type { DockerfileModel } from './dockerfile';
import { parseCreatedBy, type MappingResult } from './mapping';
import type { HistoryEntry } from '../image/types';

export interface RecoveredBuildArgs {
  /** Args whose value in the history differs from the Dockerfile's default: they were given. */
  args: Record<string, string>;
  /** Declared ARGs of the image's stages whose values the history does not show, sorted. */
  unknown: string[];
}

/**
 * The build args an image was built with, from the RUN entries its history mapping paired with the
 * Dockerfile's RUN instructions (`model` parsed without build args, so that ARG values are defaults).
 */
export function recoverBuildArgs(model: DockerfileModel, history: readonly HistoryEntry[], mapping: MappingResult): RecoveredBuildArgs {
  const args: Record<string, string> = {};
  const seen = new Set<string>();
  for (const p of mapping.pairs) {
    const ins = model.instructions[p.instructionIndex];
    const h = history[p.historyIndex];
    if (!ins || !h || ins.keyword !== 'RUN') continue;
    const parsed = parseCreatedBy(h.createdBy);
    if (parsed.keyword !== 'RUN') continue;
    const written = new Map((parsed.buildArgs ?? []).map((a) => [a.key, a.value] as const));
    // The legacy builder writes no `|N` at all when no ARG has a value: every ARG in scope then had none.
    for (const a of ins.argsInScope) {
      if (a.key in ins.envInScope) continue;
      const v = written.get(a.key);
      if (v === undefined) {
        // BuildKit writes every ARG in scope (`K=` without a value); the legacy builder leaves out
        // ARGs without a value: absent means not given and no default.
        if (a.value === null) seen.add(a.key);
        continue;
      }
      seen.add(a.key);
      if (v !== (a.value ?? '')) args[a.key] = v;
    }
  }
  const declared = new Set<string>();
  for (const ins of model.instructions) {
    if (ins.keyword !== 'ARG' || !(ins.stage < 0 || mapping.chain.includes(ins.stage))) continue;
    for (const kv of ins.keyValues ?? []) declared.add(kv.key);
  }
  return { args, unknown: [...declared].filter((k) => !seen.has(k)).sort() };
}
