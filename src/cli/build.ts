// `layerlens build DOCKERFILE [-t TAG] [--target STAGE] [--build-arg K=V …] [--context DIR] [--json]`:
// the CLI twin of the extension's Build Image. Builds through the engine (BuildKit, else the
// legacy builder; an engine without a bridge network gets networkmode host), follows the
// builder's trace line by line, and records the build in the cache directory's build store,
// which the extension reads too (src/sources/buildStore.ts).
import { promises as fs } from 'node:fs';
import * as path from 'node:path';
import { CancelledError } from '../core/image/errors';
import { runBuild } from '../engine/build';
import { findStage, parseDockerfile } from '../core/dockerfile/dockerfile';
import { targetBuildInput } from '../core/dockerfile/stageImages';
import { mapImageHistory } from '../core/dockerfile/mapping';
import { formatBytes, seconds } from '../core/present/format';
import { historyRows, signedBytes, sizeDeltas } from '../core/present/buildHistory';
import { lineInfos, sizesByInstruction } from '../core/present/lines';
import { entrySizes, quickImageFromEngine } from '../sources/dockerfileImage';
import { SCHEMA_VERSION } from '../core/present/report';
import { BuildStore } from '../sources/buildStore';
import { packContext } from '../sources/contextManifest';
import { cliCacheRoot } from '../sources/indexCache';
import { UsageError, engineFactory, needSource, type Args, type Out } from './common';

/** `--build-arg K=V` (repeatable); `--build-arg K` takes K from the environment, as docker does (skipped when unset). */
export function buildArgsOf(args: Args): Record<string, string> {
  const out: Record<string, string> = {};
  for (const v of args.lists.get('build-arg') ?? []) {
    const eq = v.indexOf('=');
    if (eq === 0) throw new UsageError(`--build-arg needs K=V, not '${v}'`);
    if (eq < 0) {
      const env = process.env[v];
      if (env !== undefined) out[v] = env;
    } else out[v.slice(0, eq)] = v.slice(eq + 1);
  }
  return out;
}

/** The build store of the cache directory (undefined when LAYERLENS_CACHE=off). */
export function cliBuildStore(): BuildStore | undefined {
  const root = cliCacheRoot(process.env);
  return root === undefined ? undefined : new BuildStore(root, process.env.LAYERLENS_DEBUG ? (l) => process.stderr.write(l + '\n') : undefined);
}

const cleanTag = (s: string): string => s.toLowerCase().replace(/[^a-z0-9._-]+/g, '-').replace(/^[^a-z0-9]+|[^a-z0-9]+$/g, '') || 'image';

export async function cmdBuild(args: Args, out: Out): Promise<number> {
  const file = path.resolve(needSource(args));
  const bytes = await fs.readFile(file).catch((e: NodeJS.ErrnoException) => {
    throw new UsageError(`cannot read ${file}: ${e.code === 'ENOENT' ? 'no such file' : e.message}`);
  });
  const text = bytes.toString('utf8');
  const buildArgs = buildArgsOf(args);
  const model = parseDockerfile(text, { buildArgs });
  const targetFlag = args.flags.get('target');
  let target: string | null = null;
  if (typeof targetFlag === 'string') {
    const i = findStage(model, targetFlag);
    if (i < 0) throw new UsageError(`--target: ${file} has no stage '${targetFlag}' (stages: ${model.stages.map((s) => s.name ?? String(s.index)).join(', ')})`);
    target = model.stages[i].name ?? `#${i}`;
  }
  const sent = targetBuildInput(text, model, target);
  if (!sent) throw new UsageError(`--target: ${file} has no stage '${String(targetFlag)}'`);
  const contextFlag = args.flags.get('context');
  const contextDir = path.resolve(typeof contextFlag === 'string' ? contextFlag : path.dirname(file));
  const st = await fs.stat(contextDir).catch(() => null);
  if (!st?.isDirectory()) throw new UsageError(`the build context ${contextDir} is not a directory`);
  const dockerfileRel = path.relative(contextDir, file).split(path.sep).join('/');
  if (dockerfileRel.startsWith('../')) throw new UsageError(`${file} is not inside the build context ${contextDir}`);
  const store = cliBuildStore();
  const tagFlag = args.flags.get('tag');
  const prev = store?.last(file);
  const tag = typeof tagFlag === 'string' ? tagFlag
    : prev && prev.record.target === target && prev.record.origin !== 'engine' ? prev.record.tag
      : `layerlens/${cleanTag(path.basename(contextDir))}:${target ? cleanTag(target.replace(/^#(?=\d+$)/, 'stage-')) : 'dev'}`;
  const sentBytes = sent.dockerfileText === text ? bytes : Buffer.from(sent.dockerfileText, 'utf8');
  const engine = await engineFactory(args)();
  const ac = new AbortController();
  const onSigint = (): void => ac.abort();
  process.once('SIGINT', onSigint);
  const tty = process.stderr.isTTY === true;
  let lastStep = '';
  let outcome;
  try {
    outcome = await runBuild({
      engine,
      pack: () => packContext(contextDir, { keep: [dockerfileRel], overrides: new Map([[dockerfileRel, sentBytes]]), signal: ac.signal }),
      dockerfileRel, dockerfileText: text, tag, buildArgs, target,
      ...(sent.dockerfileText !== text || sent.target !== target ? { sent } : {}),
      signal: ac.signal,
      log: process.env.LAYERLENS_DEBUG ? (l) => process.stderr.write(`layerlens: ${l}\n`) : undefined,
      onStep: tty ? (step, done, total) => {
        if (step === lastStep) return;
        lastStep = step;
        process.stderr.write(`[${done}/${total}] ${step.length > 100 ? step.slice(0, 99) + '…' : step}\n`);
      } : undefined,
    });
  } catch (e) {
    if (ac.signal.aborted) throw new CancelledError();
    throw e;
  } finally {
    process.removeListener('SIGINT', onSigint);
  }
  const rec = outcome.record;
  rec.origin = 'layerlens';
  store?.add(file, { record: rec, contextDir, dockerfileRel, mtimes: outcome.mtimes });
  if (store && rec.imageId && !outcome.failed) {
    // The image's layer sizes per line, kept with the record: the next build's lines compare with them.
    try {
      const q = await quickImageFromEngine(engine, rec.imageId);
      const sizes = entrySizes(q);
      const m = mapImageHistory(model, q.history, { target, entrySizes: sizes });
      store.setSizes(file, rec.imageId, sizesByInstruction(lineInfos(m, sizes), model));
    } catch (e) {
      if (process.env.LAYERLENS_DEBUG) process.stderr.write(`layerlens: sizes of ${tag}: ${(e as Error).message}\n`);
    }
  }
  const lines = Object.entries(rec.lines).map(([line, l]) => ({
    line: Number(line), endLine: l.endLine, instruction: l.keyword, stage: l.stage,
    cache: l.failed ? 'failed' : l.cache, durationMs: l.durationMs,
  })).sort((a, b) => a.line - b.line);
  if (args.flags.has('json')) {
    await out.line(JSON.stringify({
      schemaVersion: SCHEMA_VERSION, dockerfile: file, tag, imageId: rec.imageId, builder: rec.builder, target,
      durationMs: rec.durationMs, failed: outcome.failed, error: outcome.error ?? null, errorLine: outcome.errorLine ?? null, lines,
    }));
  } else {
    for (const l of lines) await out.line(`line ${String(l.line).padEnd(4)} ${l.instruction.padEnd(8)} ${l.cache === 'built' ? `built in ${seconds(l.durationMs)}` : l.cache}`);
    if (!outcome.failed) await out.line(`built ${tag} (${rec.imageId ?? '?'}) with ${rec.builder} in ${seconds(rec.durationMs)}`);
  }
  if (outcome.failed) {
    await out.flush();
    throw new UsageError(`build failed${outcome.errorLine ? ` at line ${outcome.errorLine}` : ''}: ${(outcome.error ?? 'unknown error').split('\n')[0]}`);
  }
  return 0;
}

/**
 * `layerlens history DOCKERFILE [--json]`: the recorded builds of the file, oldest first, with
 * their time, origin, size of the layers above the base (when the image's lines were shown or
 * built by Layer Lens), and what each line did; a bar per build shows the size's trend.
 */
export async function cmdHistory(args: Args, out: Out): Promise<number> {
  const file = path.resolve(needSource(args));
  const store = cliBuildStore();
  if (!store) throw new UsageError('build records are off (LAYERLENS_CACHE=off)');
  const builds = historyRows(store.history(file));
  if (args.flags.has('json')) {
    await out.line(JSON.stringify({ schemaVersion: SCHEMA_VERSION, dockerfile: file, builds }));
    return 0;
  }
  if (builds.length === 0) {
    await out.line(`no build of ${file} recorded yet (layerlens build, Build Image, or lines after a build)`);
    return 0;
  }
  const max = Math.max(1, ...builds.map((b) => b.size ?? 0));
  const deltas = sizeDeltas(builds);
  for (const [i, b] of builds.entries()) {
    const bar = b.size === null ? ''.padEnd(20) : '█'.repeat(Math.max(1, Math.round((b.size / max) * 20))).padEnd(20);
    const d = deltas[i];
    const delta = d !== null && d !== 0 ? ` (${signedBytes(d)})` : '';
    const counts = b.lines.length ? ` · ${b.lines.filter((l) => l.cache === 'built').length} built, ${b.lines.filter((l) => l.cache === 'cached').length} cached` : '';
    const took = b.durationMs !== null ? ` in ${seconds(b.durationMs)}` : '';
    const how = b.origin === 'engine' ? 'seen through the engine' : `${b.builder}${took}${counts}`;
    await out.line(`${b.finishedAt.replace(/\.\d+Z$/, 'Z')}  ${bar} ${(b.size === null ? '?' : formatBytes(b.size)).padStart(9)}${delta}  ${b.tag}${b.failed ? ' FAILED' : ''} · ${how}${b.unknownFiles ? ` · ${b.unknownFiles} file(s) unknown` : ''}`);
  }
  return 0;
}
