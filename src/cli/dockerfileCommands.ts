// The Dockerfile side of the CLI (`lines`, and `explain --dockerfile`): loaded on first use, so
// that \`analyze\` and \`files\` never load the Dockerfile parser (dist/vendor/dockerfile-ast.js).
import { promises as fs } from 'node:fs';
import * as path from 'node:path';
import { cacheFacts, type LineCacheFact } from '../core/dockerfile/cachePredict';
import type { Analysis } from '../core/image/analysis';
import { parseDockerfile, type DockerfileModel } from '../core/dockerfile/dockerfile';
import { explainLayer, instructionsByLayer, type InstructionRef } from '../core/present/explain';
import { editSuggestions } from '../core/present/edits';
import { formatBytes } from '../core/present/format';
import { SCHEMA_VERSION } from '../core/present/report';
import { bestStageMapping, mapHistory, type MappingResult } from '../core/dockerfile/mapping';
import { lineOfMapping, type LineOf } from '../core/contents/secrets';
import { lineInfos, linesMargin, sizesByInstruction, withDeletions, withSizeDeltas, type StageImageLines } from '../core/present/lines';
import type { QuickImage } from '../core/image/quickImage';
import { findStage, stageImageMatches, stageLabel, stagesOutside } from '../core/dockerfile/stageImages';
import { entrySizes, findBestImage, quickImageFromAnalysis, quickImageFromEngine } from '../sources/dockerfileImage';
import { HistoryCache } from '../sources/historyCache';
import { cliCacheRoot } from '../sources/indexCache';
import { parseSource } from '../sources/load';
import { builtFrom, recordSeenBuild } from '../sources/buildStore';
import { contextManifest } from '../sources/contextManifest';
import { buildArgsOf, cliBuildStore } from './build';
import { UsageError, engineFactory, load, needSource, openSource, type Args, type Out } from './common';

/** `--target STAGE` (a stage name, or an index for any stage): its index; undefined without the flag. */
function targetFlag(args: Args, model: DockerfileModel, file: string): number | undefined {
  const target = args.flags.get('target');
  if (target === undefined) return undefined;
  const index = typeof target === 'string' ? findStage(model, target) : -1;
  if (index < 0) throw new UsageError(`--target: ${file} has no stage '${typeof target === 'string' ? target : ''}' (stages: ${model.stages.map((s) => s.name ?? String(s.index)).join(', ')})`);
  return index;
}

export async function cmdLines(args: Args, out: Out): Promise<number> {
  const file = needSource(args);
  const text = await fs.readFile(file, 'utf8').catch((e: NodeJS.ErrnoException) => {
    throw new UsageError(`cannot read ${file}: ${e.code === 'ENOENT' ? 'no such file' : e.message}`);
  });
  const model = parseDockerfile(text);
  // --target: the stage the image was built for (default: the stage its history matches best).
  const stage = targetFlag(args, model, file);
  const imageFlag = args.flags.get('image');
  // --stage-image STAGE=SOURCE: checked before any image is read.
  const stageImages = (args.lists.get('stage-image') ?? []).map((v) => {
    const eq = v.indexOf('=');
    if (eq <= 0 || eq === v.length - 1) throw new UsageError(`--stage-image needs STAGE=SOURCE (a stage name or index, then an image source), not '${v}'`);
    const ref = v.slice(0, eq);
    const index = findStage(model, ref);
    if (index < 0) throw new UsageError(`--stage-image: ${file} has no stage '${ref}' (stages: ${model.stages.map((s) => s.name ?? String(s.index)).join(', ')})`);
    return { ref, index, source: v.slice(eq + 1) };
  });
  // The analysis of --image when it was read whole (an archive or layout): lines that only delete say what they failed to save.
  let analyzed: Analysis | undefined;
  const quick = async (source: string): Promise<QuickImage> => {
    const spec = await parseSource(source);
    if (spec.kind === 'engine') return quickImageFromEngine(await engineFactory(args)(), spec.name);
    // A registry image: the manifest and the config only (compressed sizes), no layer read.
    const reader = (await openSource(source, args)).reader;
    if (reader.quickImage) return reader.quickImage();
    const a = await load(source, args, { dive: 'lazy' });
    if (source === imageFlag) analyzed = a;
    return quickImageFromAnalysis(a);
  };
  let q: QuickImage;
  let note: string;
  let source: string;
  let fromEngine = false;
  if (typeof imageFlag === 'string') {
    q = await quick(imageFlag);
    source = imageFlag;
    note = `image ${imageFlag}`;
    fromEngine = (await parseSource(imageFlag)).kind === 'engine';
  } else {
    fromEngine = true;
    // Image histories are cached by id next to the layer indexes (an id's history never changes).
    const cache = new HistoryCache(cliCacheRoot(process.env), { log: process.env.LAYERLENS_DEBUG ? (l) => process.stderr.write(l + '\n') : undefined });
    const match = await findBestImage(await engineFactory(args)(), model, { stage, cache });
    await cache.flush();
    if (!match) throw new UsageError(`no local image matches ${file}${stage === undefined ? '' : ` (stage ${stageLabel(model.stages[stage])})`}; build it, or name one with --image`);
    q = match.image;
    source = match.name;
    note = `image ${match.name} (history matches ${Math.round(match.score * 100)} %)`;
  }
  const mapping = stage !== undefined ? mapHistory(model, q.history, { stage, entrySizes: entrySizes(q) }) : bestStageMapping(model, q.history, { entrySizes: entrySizes(q) });
  if (mapping.stage >= 0 && mapping.stage !== model.stages.length - 1) note += `, stage ${stageLabel(model.stages[mapping.stage])}`;
  const outside = new Set(stagesOutside(model, mapping.stage));
  const stageLines: StageImageLines[] = [];
  for (const si of stageImages) {
    const st = model.stages[si.index];
    if (!outside.has(si.index)) throw new UsageError(`--stage-image ${si.ref}: ${stageLabel(st)} is in the image's own stage chain; its lines already come from ${source}`);
    const sq = await quick(si.source);
    const sizes = entrySizes(sq);
    const m = mapHistory(model, sq.history, { stage: si.index, entrySizes: sizes });
    if (!stageImageMatches(m)) process.stderr.write(`layerlens: warning: ${si.source} matches stage ${stageLabel(st)} poorly (${Math.round(m.score * 100)} %); sizes may be wrong\n`);
    stageLines.push({ source: si.source, mapping: m, entrySizes: sizes });
    note += `; stage ${stageLabel(st)}: ${si.source}`;
  }
  const facts = await cacheStatus(args, { file, text, model, mapping, image: q, name: source, fromEngine });
  if (facts.note) note += `; ${facts.note}`;
  const plain = lineInfos(mapping, entrySizes(q), facts.facts, model, stageLines);
  const a = analyzed;
  const infos = a ? withDeletions(plain, (layer) => { const x = explainLayer(a, layer); return { count: x.deleted.count, shipped: x.deletedShipped }; }) : plain;
  // Sizes against the previous build of the file: this image's sizes are kept with its record.
  const store = cliBuildStore();
  if (store) {
    const abs = path.resolve(file);
    if (store.byImage(abs, q.id)) store.setSizes(abs, q.id, sizesByInstruction(infos, model));
    const previous = store.previousSizes(abs, q.id);
    if (previous) withSizeDeltas(infos, model, previous);
  }
  if (args.flags.has('json')) {
    // `image`: the image whose layers `layerIndex` counts (a stage image for lines mapped from one).
    await out.line(JSON.stringify(infos.map((i) => ({
      line: i.line, endLine: i.endLine, instruction: i.instruction, stage: i.stage, layerIndex: i.layerIndex,
      size: i.size, cache: i.cache, reason: i.reason ?? null, kind: i.kind, image: i.stageImage ?? source, sizeDelta: i.sizeDelta ?? null,
      ...(i.deletes ? { deletes: i.deletes } : {}),
    }))));
  } else {
    await out.line(`# ${file}: ${note}`);
    await out.line(linesMargin(text.replace(/\n$/, ''), infos));
  }
  return 0;
}


/**
 * Each line's cache status, from the build store of the cache directory: the record of the image
 * shown, else the last build of the file. An engine image whose history matches the Dockerfile
 * fully and that no record knows is a build seen through the engine: it is recorded now, with a
 * snapshot of its context (files modified after the image was created are unknown).
 */
async function cacheStatus(args: Args, x: {
  file: string; text: string; model: DockerfileModel; mapping: MappingResult; image: QuickImage; name: string; fromEngine: boolean;
}): Promise<{ facts?: Map<number, LineCacheFact>; note?: string }> {
  const store = cliBuildStore();
  if (!store) return {};
  const file = path.resolve(x.file);
  const contextFlag = args.flags.get('context');
  let stored = store.byImage(file, x.image.id);
  let note: string | undefined;
  const engine = x.fromEngine ? await engineFactory(args)() : undefined;
  if (!stored && engine && builtFrom(x.text, x.image.history, x.mapping.stage, x.mapping.score)) {
    const inspect = await engine.inspectImage(x.image.id);
    const seen = await recordSeenBuild(store, {
      dockerfile: file, dockerfileText: x.text, model: x.model, stage: x.mapping.stage,
      contextDir: path.resolve(typeof contextFlag === 'string' ? contextFlag : path.dirname(file)),
      image: { id: x.image.id, name: x.name, createdMs: inspect.created ? Date.parse(inspect.created) : NaN, history: x.image.history },
      engine,
    });
    if (seen.skipped) process.stderr.write(`layerlens: warning: not recording ${x.name} as a build of ${x.file}: ${seen.skipped}\n`);
    else {
      stored = seen.stored;
      note = 'build seen through the engine recorded';
    }
  }
  stored ??= store.last(file);
  if (!stored) return { note };
  const s = stored;
  const contextDir = typeof contextFlag === 'string' ? path.resolve(contextFlag) : s.contextDir;
  const current = await contextManifest(contextDir, {
    keep: [s.dockerfileRel],
    previous: s.record.context ? { manifest: s.record.context, mtimes: s.mtimes } : null,
  }).catch((e: Error) => {
    process.stderr.write(`layerlens: warning: cannot read the build context ${contextDir}: ${e.message}\n`);
    return null;
  });
  // Base images' current ids (a re-pulled or rebuilt base rebuilds everything).
  const baseImageIds: Record<string, string> = {};
  if (engine) {
    for (const ref of Object.keys(s.record.baseImages ?? {})) {
      try { baseImageIds[ref] = (await engine.inspectImage(ref)).id; } catch { /* gone: nothing to compare */ }
    }
  }
  const given = buildArgsOf(args);
  const buildArgs = (args.lists.get('build-arg') ?? []).length > 0 ? given : { ...s.record.buildArgs };
  const facts = cacheFacts(s.record, x.text, current?.manifest ?? null, buildArgs, { target: s.record.target, baseImageIds });
  const when = new Date(s.record.finishedAt).toISOString().replace(/\.\d+Z$/, 'Z');
  return { facts, note: note ?? `cache status from the ${s.record.origin === 'engine' ? 'build seen through the engine' : 'Layer Lens build'} of ${s.record.tag} (${when})` };
}

/** explain --dockerfile: each layer's instruction, by the stage's history mapping. */
export function instructionsOfLayers(args: Args, a: Analysis, dockerfileText: string, dockerfile: string): Map<number, InstructionRef> {
  const model = parseDockerfile(dockerfileText);
  const sizes = a.image.history.map((h) => (h.layerIndex === null ? 0 : a.layerSizes[h.layerIndex] ?? 0));
  const stage = targetFlag(args, model, dockerfile);
  return instructionsByLayer(model, stage !== undefined ? mapHistory(model, a.image.history, { entrySizes: sizes, stage }) : bestStageMapping(model, a.image.history, { entrySizes: sizes }));
}

/** The Dockerfile line of each layer and history entry (base image layers and entries: the stage's FROM line). */
export function linesOfImage(args: Args, a: Analysis, dockerfileText: string, dockerfile: string): LineOf {
  const model = parseDockerfile(dockerfileText);
  const sizes = a.image.history.map((h) => (h.layerIndex === null ? 0 : a.layerSizes[h.layerIndex] ?? 0));
  const stage = targetFlag(args, model, dockerfile);
  const mapping = stage !== undefined ? mapHistory(model, a.image.history, { entrySizes: sizes, stage }) : bestStageMapping(model, a.image.history, { entrySizes: sizes });
  return lineOfMapping(mapping);
}

/** `suggest DOCKERFILE --image SOURCE [--target STAGE] [--json]`: suggestions with their savings and edits. */
export async function cmdSuggest(args: Args, out: Out): Promise<number> {
  const file = needSource(args);
  const imageFlag = args.flags.get('image');
  if (typeof imageFlag !== 'string') throw new UsageError('suggest needs --image SOURCE (the image the Dockerfile built)');
  const text = await fs.readFile(file, 'utf8').catch((e: NodeJS.ErrnoException) => {
    throw new UsageError(`cannot read ${file}: ${e.code === 'ENOENT' ? 'no such file' : e.message}`);
  });
  const model = parseDockerfile(text);
  const stage = targetFlag(args, model, file);
  const a = await load(imageFlag, args, { dive: 'lazy' });
  const sizes = a.image.history.map((h) => (h.layerIndex === null ? 0 : a.layerSizes[h.layerIndex] ?? 0));
  const mapping = stage !== undefined ? mapHistory(model, a.image.history, { entrySizes: sizes, stage }) : bestStageMapping(model, a.image.history, { entrySizes: sizes });
  const byLayer = instructionsByLayer(model, mapping);
  // BuildKit reads <Dockerfile>.dockerignore next to the Dockerfile instead, when it exists.
  const specific = file + '.dockerignore';
  const ignoreFile = (await fs.stat(specific).then(() => true, () => false)) ? specific : path.join(path.dirname(file), '.dockerignore');
  const ignore = await fs.readFile(ignoreFile, 'utf8').catch(() => undefined);
  const rows = editSuggestions(model, mapping, text, path.basename(file), ignore, (layer) => explainLayer(a, layer, { instructionOf: (l) => byLayer.get(l) }))
    .map((s) => ({ ...s, edits: s.edits.map((e) => (e.file === '.dockerignore' ? { ...e, file: path.relative(path.dirname(file), ignoreFile) } : e)) }));
  if (args.flags.has('json')) {
    await out.line(JSON.stringify({ schemaVersion: SCHEMA_VERSION, suggestions: rows.map(({ title: _t, ...r }) => r) }));
  } else {
    for (const r of rows) await out.line(`line ${r.line}: ${r.title}: saves ${formatBytes(r.savesBytes)}`);
    if (!rows.length) await out.line('No suggestion with edits for this image');
  }
  return 0;
}
