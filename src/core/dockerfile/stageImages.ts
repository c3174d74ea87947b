// Stage images: a stage of a multi-stage Dockerfile that the main image does not contain (an
// earlier stage, or a later one when the build has a target), built as its own target so that its
// lines get sizes from that image's history. Pure: naming, the Dockerfile text to send, and
// whether a remembered stage image still matches its stage.
import { findStage, stageChain, type DockerfileModel, type DockerfileStage } from './dockerfile';
import type { MappingResult } from './mapping';

/** How a stage is remembered: its name (lower-case: stage names are case-insensitive), else `#<index>`. */
export function stageKey(stage: Pick<DockerfileStage, 'name' | 'index'>): string {
  return stage.name !== null ? stage.name.toLowerCase() : `#${stage.index}`;
}

/** The stage a key, a name (any case) or an index (`2`, `#2`) names; -1 when none. */
export { findStage } from './dockerfile';

/** A stage's label for people: its name, else `stage <index>`. */
export function stageLabel(stage: Pick<DockerfileStage, 'name' | 'index'>): string {
  return stage.name ?? `stage ${stage.index}`;
}

function cleanTagPart(s: string): string {
  return s.toLowerCase().replace(/[^a-z0-9._-]+/g, '-').replace(/^[^a-z0-9]+|[^a-z0-9]+$/g, '') || 'x';
}

/**
 * The tag of a stage's image: `<repo>:stage-<name>` (unnamed stages `stage-<index>`), e.g.
 * `layerlens/app:stage-build`. Tags are at most 128 characters.
 */
export function stageImageTag(repo: string, stage: Pick<DockerfileStage, 'name' | 'index'>): string {
  const part = stage.name !== null ? cleanTagPart(stage.name) : String(stage.index);
  return `${repo}:${('stage-' + part).slice(0, 128)}`;
}

/** The name given to an unnamed stage in the Dockerfile sent to build it as a target. */
export const UNNAMED_STAGE_PREFIX = 'layerlens-stage-';

/**
 * What to send to build stage `index` as the target: builders take a stage name as the target,
 * so an unnamed stage gets ` AS layerlens-stage-<index>` at the end of its FROM instruction (on
 * its last line: line numbers stay, and neither builder keys its cache on stage names, so the
 * build reuses the cache of a build of the unchanged file).
 */
export function stageBuildInput(text: string, model: DockerfileModel, index: number): { dockerfileText: string; target: string } | null {
  const st = model.stages[index];
  if (!st) return null;
  if (st.name !== null) return { dockerfileText: text, target: st.name };
  const from = st.instructions.find((i) => i.keyword === 'FROM');
  if (!from) return null;
  let name = UNNAMED_STAGE_PREFIX + index;
  while (model.stages.some((s) => s.name !== null && s.name.toLowerCase() === name)) name += 'x';
  const lines = text.split('\n');
  const at = from.endLine - 1;
  if (at < 0 || at >= lines.length) return null;
  const cr = lines[at].endsWith('\r');
  const body = cr ? lines[at].slice(0, -1) : lines[at];
  lines[at] = `${body.replace(/\s+$/, '')} AS ${name}${cr ? '\r' : ''}`;
  return { dockerfileText: lines.join('\n'), target: name };
}

/**
 * What to send to build `target` (a stage name, `#<index>`/`<index>` for any stage, or null for the
 * last stage): for a named stage, the text as it is and that name; for an unnamed stage,
 * stageBuildInput's text and name (the last stage, unnamed, is built without a target). Null when
 * `target` names no stage of `model`. The build's record keeps the user's text and `target`: the
 * lines are the same.
 */
export function targetBuildInput(text: string, model: DockerfileModel, target: string | null): { dockerfileText: string; target: string | null } | null {
  if (target === null) return { dockerfileText: text, target: null };
  const index = findStage(model, target);
  if (index < 0) return null;
  const st = model.stages[index];
  if (st.name === null && index === model.stages.length - 1) return { dockerfileText: text, target: null };
  return stageBuildInput(text, model, index);
}

/** Stages whose instructions the image of `mainStage` does not hold (their lines need a stage image). */
export function stagesOutside(model: DockerfileModel, mainStage: number): number[] {
  const chain = new Set(mainStage >= 0 ? stageChain(model, mainStage) : []);
  return model.stages.filter((s) => !chain.has(s.index)).map((s) => s.index);
}

/**
 * Whether a stage image's history still belongs to its stage (mapped with `{ stage }`): a score of
 * at least `minScore` (the bar the image search uses), or a stage chain that makes no history
 * entry at all (just FROM: nothing to tell apart). A stage edited beyond recognition, or an unnamed
 * stage whose index now names another stage, is not used: its lines ask for a new build.
 */
export function stageImageMatches(mapping: MappingResult, minScore = 0.5): boolean {
  if (mapping.stage < 0) return false;
  if (mapping.score >= minScore) return true;
  return mapping.pairs.length === 0 && mapping.unmatchedHistory.length === 0
    && mapping.lines.every((l) => l.instruction === 'FROM');
}
