// The builds of each Dockerfile, shared by the CLI and the extension through the cache directory:
// one JSON file per Dockerfile (by its absolute path) under <cache>/builds-v1/, the last
// BUILD_HISTORY builds oldest first, written atomically (temp file + rename). Two kinds of record:
// Layer Lens's own builds (`layerlens build`, Build Image: BuildKit's trace, every line's result)
// and builds seen through the engine (a new image whose history matches the Dockerfile, however it
// was built): for those, the context is snapshotted when the image is first seen, and a file
// modified after the image was created is recorded as unknown (its content at build time is not
// known). A damaged file is ignored; the store never makes a command fail.
import { createHash } from 'node:crypto';
import { mkdirSync, readFileSync, renameSync, statSync, writeFileSync } from 'node:fs';
import * as nodePath from 'node:path';
import { normalizeImageRef, type BuilderKind } from '../core/dockerfile/buildTrace';
import { stagesToBuild, type BuildRecord, type ContextManifest } from '../core/dockerfile/cachePredict';
import { recoverBuildArgs, type RecoveredBuildArgs } from '../core/dockerfile/buildArgs';
import { parseDockerfile, type DockerfileModel } from '../core/dockerfile/dockerfile';
import { mapHistory } from '../core/dockerfile/mapping';
import type { HistoryEntry } from '../core/image/types';
import type { EngineClient } from '../engine/types';
import { contextManifest } from './contextManifest';

/** A build as stored: its record, where its context was, and the context files' mtimes then. */
export interface StoredBuild {
  record: BuildRecord;
  /** Absolute context directory and the Dockerfile's path inside it (POSIX). */
  contextDir: string;
  dockerfileRel: string;
  /** mtime per context file when the manifest was made (lets the next manifest skip unchanged files). */
  mtimes: Record<string, number>;
  /** The image's layer sizes by instruction (core/present/lines sizesByInstruction), once its lines were shown. */
  sizes?: Record<string, number>;
}

export const BUILD_HISTORY = 20;

/** A mapping score at which an image's history matches every instruction of its stage chain: built from this text. */
export const FULL_MATCH = 0.999;
const FORMAT = 1;

interface StoreFile { format: number; dockerfile: string; builds: StoredBuild[] }

function validBuild(b: unknown): b is StoredBuild {
  const s = b as StoredBuild;
  return typeof s === 'object' && s !== null && typeof s.contextDir === 'string' && typeof s.dockerfileRel === 'string'
    && typeof s.record === 'object' && s.record !== null && s.record.version === 1 && typeof s.record.dockerfileText === 'string'
    && typeof s.record.lines === 'object' && Array.isArray(s.record.stages);
}

export class BuildStore {
  readonly dir: string;
  private readonly mem = new Map<string, { stamp: string; builds: StoredBuild[] }>();

  constructor(root: string, private readonly log: (line: string) => void = () => undefined) {
    this.dir = nodePath.join(root, 'builds-v1');
  }

  private file(dockerfile: string): string {
    return nodePath.join(this.dir, createHash('sha256').update(nodePath.resolve(dockerfile)).digest('hex').slice(0, 40) + '.json');
  }

  /** Every stored build of the Dockerfile, oldest first (re-read when the file changed on disk). */
  history(dockerfile: string): StoredBuild[] {
    const f = this.file(dockerfile);
    let stamp: string;
    try {
      const st = statSync(f);
      stamp = `${st.mtimeMs}:${st.size}:${st.ino}`;
    } catch {
      this.mem.delete(f);
      return [];
    }
    const m = this.mem.get(f);
    if (m && m.stamp === stamp) return m.builds;
    let builds: StoredBuild[] = [];
    try {
      const doc = JSON.parse(readFileSync(f, 'utf8')) as StoreFile;
      if (doc.format === FORMAT && doc.dockerfile === nodePath.resolve(dockerfile) && Array.isArray(doc.builds)) builds = doc.builds.filter(validBuild);
    } catch (e) {
      this.log(`ignoring the damaged build records ${f}: ${(e as Error).message}`);
    }
    this.mem.set(f, { stamp, builds });
    return builds;
  }

  /** The last build that did not fail. */
  last(dockerfile: string): StoredBuild | undefined {
    const h = this.history(dockerfile);
    for (let i = h.length - 1; i >= 0; i--) if (!h[i].record.failed) return h[i];
    return undefined;
  }

  /** The stored build that made image `id`. */
  byImage(dockerfile: string, id: string): StoredBuild | undefined {
    return this.history(dockerfile).find((b) => b.record.imageId === id);
  }

  /** Keeps the layer sizes of a recorded image's lines (once: an image's sizes never change). */
  setSizes(dockerfile: string, imageId: string, sizes: Record<string, number>): void {
    const b = this.byImage(dockerfile, imageId);
    if (!b || b.sizes) return;
    this.write(dockerfile, this.history(dockerfile).map((x) => (x === b ? { ...x, sizes } : x)));
  }

  /**
   * The sizes of the last build with sizes before the one that made `imageId` (undefined when
   * `imageId` is not recorded, or no build before it has sizes): what "since last build" compares with.
   */
  previousSizes(dockerfile: string, imageId: string): Record<string, number> | undefined {
    const h = this.history(dockerfile);
    let i = h.findIndex((b) => b.record.imageId === imageId);
    if (i < 0) return undefined;
    for (i--; i >= 0; i--) if (h[i].sizes && h[i].record.imageId !== imageId) return h[i].sizes;
    return undefined;
  }

  /**
   * The build Compare with Previous Build compares `imageId` with: the last successful build with
   * another image before the one that made `imageId`, or the last one when no record knows
   * `imageId` (an image not recorded is newer than every record). Undefined when there is none.
   */
  previousBuild(dockerfile: string, imageId: string): StoredBuild | undefined {
    const h = this.history(dockerfile);
    const at = h.findIndex((b) => b.record.imageId === imageId);
    for (let i = (at < 0 ? h.length : at) - 1; i >= 0; i--) {
      const r = h[i].record;
      if (!r.failed && r.imageId !== null && r.imageId !== imageId) return h[i];
    }
    return undefined;
  }

  /** Adds a build (a build of an image already recorded replaces that record). */
  add(dockerfile: string, s: StoredBuild): void {
    const id = s.record.imageId;
    this.write(dockerfile, [...this.history(dockerfile).filter((b) => id === null || b.record.imageId !== id), s].slice(-BUILD_HISTORY));
  }

  private write(dockerfile: string, builds: StoredBuild[]): void {
    const f = this.file(dockerfile);
    const doc: StoreFile = { format: FORMAT, dockerfile: nodePath.resolve(dockerfile), builds };
    try {
      mkdirSync(this.dir, { recursive: true });
      const tmp = `${f}.${process.pid}.${Date.now()}.tmp`;
      writeFileSync(tmp, JSON.stringify(doc));
      renameSync(tmp, f);
    } catch (e) {
      this.log(`cannot store the build record ${f}: ${(e as Error).message}`);
    }
    this.mem.delete(f);
  }
}

// ---------------------------------------------------------------------------------------------
// Builds seen through the engine

/** An image found for a Dockerfile, as the engine describes it. */
export interface SeenImage {
  id: string;
  /** A name it goes by (a tag, else its id). */
  name: string;
  /** When the image was created (ms since the epoch; the config's `created`). */
  createdMs: number;
  /**
   * `created_by` and comment of its history, oldest first (to tell BuildKit from the legacy builder,
   * and to read back the build args its RUN entries hold).
   */
  history: ReadonlyArray<{ createdBy: string; comment?: string; emptyLayer?: boolean; layerIndex?: number | null }>;
}

export interface SeenBuildInput {
  dockerfile: string;
  dockerfileText: string;
  model: DockerfileModel;
  /** The stage the image's history matches (its target). */
  stage: number;
  contextDir: string;
  image: SeenImage;
  engine: EngineClient;
}

type SeenHistory = SeenImage['history'];

function historyEntries(history: SeenHistory): HistoryEntry[] {
  return history.map((h, index) => ({ index, createdBy: h.createdBy, comment: h.comment, emptyLayer: h.emptyLayer ?? false, layerIndex: h.layerIndex ?? null }));
}

/** The build args an image's history shows for this Dockerfile text and stage (core/dockerfile/buildArgs). */
export function seenBuildArgs(dockerfileText: string, history: SeenHistory, stage: number): RecoveredBuildArgs {
  const plain = parseDockerfile(dockerfileText);
  const h = historyEntries(history);
  return recoverBuildArgs(plain, h, mapHistory(plain, h, { stage }));
}

/**
 * Whether an image was built from this Dockerfile text: its history's mapping onto the stage
 * (`score`, made with the ARG defaults) is a full match, or becomes one with the build args its
 * RUN entries show (`RUN |1 A=two …` is what `--build-arg A=two` writes where the default writes
 * `RUN |1 A=one …`).
 */
export function builtFrom(dockerfileText: string, history: SeenHistory, stage: number, score: number): boolean {
  if (score >= FULL_MATCH) return true;
  if (score < 0.9) return false;
  const args = seenBuildArgs(dockerfileText, history, stage).args;
  if (Object.keys(args).length === 0) return false;
  return mapHistory(parseDockerfile(dockerfileText, { buildArgs: args }), historyEntries(history), { stage }).score >= FULL_MATCH;
}

/** BuildKit writes `buildkit.dockerfile.v0` as the comment of the history entries it makes. */
export function builderOf(history: SeenImage['history']): BuilderKind {
  return history.some((h) => h.comment === 'buildkit.dockerfile.v0' || /# buildkit$/.test(h.createdBy)) ? 'buildkit' : 'legacy';
}

/**
 * The record of a build seen through the engine, made now: the context as it is, every file
 * modified after the image's creation time marked unknown; no per-line results (the builder's
 * trace was not seen). Its build args are those its history's RUN entries show
 * (core/dockerfile/buildArgs); the ARGs the history cannot show are listed as unknown. Undefined (with the reason) when the Dockerfile itself changed after the
 * image was created: the text it was built from is not known.
 */
export async function recordSeenBuild(store: BuildStore, input: SeenBuildInput): Promise<{ stored?: StoredBuild; skipped?: string }> {
  const known = store.byImage(input.dockerfile, input.image.id);
  if (known) return { stored: known };
  const dockerfileRel = nodePath.relative(input.contextDir, input.dockerfile).split(nodePath.sep).join('/');
  const m = await contextManifest(input.contextDir, { keep: [dockerfileRel] });
  const created = input.image.createdMs;
  const files: ContextManifest['files'] = {};
  const unknown: string[] = [];
  for (const [p, info] of Object.entries(m.manifest.files)) {
    const mtime = m.mtimes[p];
    if (info.type !== 'dir' && (mtime === undefined || !Number.isFinite(created) || mtime > created)) {
      files[p] = { ...info, sha256: '', unknown: true };
      unknown.push(p);
    } else files[p] = info;
  }
  if (unknown.includes(dockerfileRel)) return { skipped: `${dockerfileRel} was modified after ${input.image.name} was created` };
  const builder = builderOf(input.image.history);
  const st = input.model.stages[input.stage];
  const target = input.stage === input.model.stages.length - 1 ? null : st?.name ?? `#${input.stage}`;
  const baseImages: Record<string, string> = {};
  for (const s of input.model.stages) {
    if (s.baseStage !== null || !s.baseImage || s.baseImage.toLowerCase() === 'scratch') continue;
    try {
      baseImages[normalizeImageRef(s.baseImage)] = (await input.engine.inspectImage(s.baseImage)).id;
    } catch {
      // not a local image: nothing to compare later
    }
  }
  // A value the history shows that differs from the ARG's default was given.
  const recovered = seenBuildArgs(input.dockerfileText, input.image.history, input.stage);
  const record: BuildRecord = {
    version: 1,
    builder,
    dockerfileText: input.dockerfileText,
    buildArgs: recovered.args,
    ...(recovered.unknown.length > 0 ? { buildArgsUnknown: recovered.unknown } : {}),
    target,
    stages: stagesToBuild(input.model, builder, target),
    lines: {},
    context: { files },
    baseImages,
    tag: input.image.name,
    imageId: input.image.id,
    finishedAt: created,
    durationMs: 0,
    origin: 'engine',
  };
  const stored: StoredBuild = { record, contextDir: input.contextDir, dockerfileRel, mtimes: m.mtimes };
  store.add(input.dockerfile, stored);
  return { stored };
}
