// layerlens: the terminal face of the Layer Lens core. Every command reads the image through the
// same parser as the extension. Errors print one line and exit 2; a failed CI rule exits 1.
import { promises as fs } from 'node:fs';
import { parse as parseYaml } from 'yaml';
import { analyze, type Analysis } from '../core/analysis';
import { DIVE_DEFAULT_RULES, evaluateCi, parseRuleValue, rulesFromDocument, type CiRules } from '../core/ci';
import { CancelledError, ImageFormatError } from '../core/errors';
import { explainText, instructionsByLayer, type InstructionRef } from '../core/explain';
import { parsePlatform } from '../core/oci';
import { SCHEMA_VERSION, analyzeJson, analyzeText, fileLine, fileRecords, layerChangeRecords } from '../core/report';
import { resolveEndpointFromProcess } from '../engine/endpoint';
import { EngineError } from '../engine/types';
import { loadImage, parseSource } from '../sources/load';
import { cliCache, cliCacheRoot } from '../sources/indexCache';
import { HistoryCache } from '../sources/historyCache';
import { entrySizes, findBestImage, quickImageFromAnalysis, quickImageFromEngine } from '../sources/dockerfileImage';
import { parseDockerfile, type DockerfileModel } from '../core/dockerfile';
import { bestStageMapping, mapHistory } from '../core/mapping';
import { lineInfos, linesMargin, type StageImageLines } from '../core/lines';
import { findStage, stageImageMatches, stageLabel, stagesOutside } from '../core/stageImages';
import type { QuickImage } from '../core/quickImage';
import type { EngineClient } from '../engine/types';

const USAGE = `Usage: layerlens <command> [options]

Commands:
  analyze SOURCE [--json]                 layers with sizes, changes and waste, then totals
  files SOURCE [--json] [--layer N]       the merged filesystem (or one layer's changes)
  lines DOCKERFILE [--image SOURCE] [--json] [--target STAGE]
        [--stage-image STAGE=SOURCE ...]  each instruction's layer size (and cache status);
                                          other stages' lines from their own images
  ci SOURCE [--lowest-efficiency F] [--highest-wasted-bytes N]
            [--highest-user-wasted-percent P] [--ci-config FILE]
                                          dive's CI rules; exit 1 when one fails
  explain SOURCE --layer N [--dockerfile PATH] [--target STAGE]
                                          one layer's copy-on-write costs and suggestions

SOURCE: docker://NAME or NAME (engine), docker-archive:PATH or PATH.tar (docker save),
        oci:DIR[:REF] or a directory holding index.json (OCI image layout)
Options: --platform os/arch[/variant]  --host URL (engine, overrides DOCKER_HOST)
Exit codes: 0 ok, 1 a CI rule failed, 2 error.`;

class UsageError extends Error {}

interface Args {
  command: string;
  positional: string[];
  flags: Map<string, string | true>;
  /** Repeatable options (LIST_FLAGS), every value in order. */
  lists: Map<string, string[]>;
}

const VALUE_FLAGS = new Set(['layer', 'platform', 'host', 'lowest-efficiency', 'highest-wasted-bytes',
  'highest-user-wasted-percent', 'ci-config', 'image', 'dockerfile', 'target', 'build-arg', 'stage-image']);
const LIST_FLAGS = new Set(['stage-image']);
const BOOL_FLAGS = new Set(['json', 'help']);

export function parseArgs(argv: string[]): Args {
  const positional: string[] = [];
  const flags = new Map<string, string | true>();
  const lists = new Map<string, string[]>();
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === '--') { positional.push(...argv.slice(i + 1)); break; }
    if (a.startsWith('--')) {
      const eq = a.indexOf('=');
      const name = eq > 0 ? a.slice(2, eq) : a.slice(2);
      if (BOOL_FLAGS.has(name)) { flags.set(name, true); continue; }
      if (!VALUE_FLAGS.has(name)) throw new UsageError(`unknown option --${name}`);
      const v = eq > 0 ? a.slice(eq + 1) : argv[++i];
      if (v === undefined) throw new UsageError(`--${name} needs a value`);
      flags.set(name, v);
      if (LIST_FLAGS.has(name)) lists.set(name, [...(lists.get(name) ?? []), v]);
      continue;
    }
    if (a === '-h') { flags.set('help', true); continue; }
    positional.push(a);
  }
  return { command: positional.shift() ?? '', positional, flags, lists };
}

/** Writes lines with backpressure; a closed pipe (`| head`) ends quietly. */
class Out {
  private buf: string[] = [];
  private size = 0;
  async line(s: string): Promise<void> {
    this.buf.push(s);
    this.size += s.length + 1;
    if (this.size > 64 * 1024) await this.flush();
  }
  async flush(): Promise<void> {
    if (this.buf.length === 0) return;
    const text = this.buf.join('\n') + '\n';
    this.buf = [];
    this.size = 0;
    if (!process.stdout.write(text)) await new Promise<void>((r) => process.stdout.once('drain', () => r()));
  }
}

async function load(source: string, args: Args): Promise<Analysis> {
  const spec = await parseSource(source);
  const platform = args.flags.get('platform');
  const image = await loadImage(spec, {
    platform: typeof platform === 'string' ? parsePlatform(platform) : undefined,
    engine: engineFactory(args),
    // Per-layer indexes by diffID ($XDG_CACHE_HOME/layerlens; LAYERLENS_CACHE=off disables it).
    cache: cliCache(process.env, process.env.LAYERLENS_DEBUG ? (l) => process.stderr.write(l + '\n') : undefined),
  });
  return analyze(image);
}

function needSource(args: Args): string {
  const s = args.positional[0];
  if (!s) throw new UsageError(`${args.command} needs a SOURCE`);
  if (args.positional.length > 1) throw new UsageError(`unexpected argument '${args.positional[1]}'`);
  return s;
}

async function cmdAnalyze(args: Args, out: Out): Promise<number> {
  const a = await load(needSource(args), args);
  if (args.flags.has('json')) await out.line(JSON.stringify(analyzeJson(a)));
  else await out.line(analyzeText(a, process.stdout.columns ?? 120).trimEnd());
  return 0;
}

async function cmdFiles(args: Args, out: Out): Promise<number> {
  const a = await load(needSource(args), args);
  const json = args.flags.has('json');
  const layerFlag = args.flags.get('layer');
  if (typeof layerFlag === 'string') {
    const n = Number(layerFlag);
    if (!Number.isInteger(n) || n < 0 || n >= a.tree.layers.length) {
      throw new UsageError(`--layer must be a layer index from 0 to ${a.tree.layers.length - 1}`);
    }
    for (const r of layerChangeRecords(a, n)) {
      await out.line(json ? JSON.stringify(r) : `${r.change.padEnd(8)} ${r.mode} ${r.type.padEnd(8)} ${String(r.bytes).padStart(12)}  ${r.path}${r.metadataOnly ? '  (metadata only: whole file copied up)' : ''}`);
    }
    return 0;
  }
  for (const r of fileRecords(a)) await out.line(json ? JSON.stringify(r) : fileLine(r));
  return 0;
}

function engineFactory(args: Args): () => Promise<EngineClient> {
  const host = args.flags.get('host');
  // Loaded on first use: the engine client (dockerode, ssh2) is most of the CLI's start-up time,
  // and archive or layout sources never need it.
  return async () => (await import('../engine/docker')).createEngineClient(resolveEndpointFromProcess(typeof host === 'string' ? { host, hostOrigin: '--host' } : {}));
}

/** `--target STAGE` (a stage name, or an index for any stage): its index; undefined without the flag. */
function targetFlag(args: Args, model: DockerfileModel, file: string): number | undefined {
  const target = args.flags.get('target');
  if (target === undefined) return undefined;
  const index = typeof target === 'string' ? findStage(model, target) : -1;
  if (index < 0) throw new UsageError(`--target: ${file} has no stage '${typeof target === 'string' ? target : ''}' (stages: ${model.stages.map((s) => s.name ?? String(s.index)).join(', ')})`);
  return index;
}

async function cmdLines(args: Args, out: Out): Promise<number> {
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
  const quick = async (source: string): Promise<QuickImage> => {
    const spec = await parseSource(source);
    if (spec.kind === 'engine') return quickImageFromEngine(await engineFactory(args)(), spec.name);
    return quickImageFromAnalysis(await load(source, args));
  };
  let q: QuickImage;
  let note: string;
  let source: string;
  if (typeof imageFlag === 'string') {
    q = await quick(imageFlag);
    source = imageFlag;
    note = `image ${imageFlag}`;
  } else {
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
  const infos = lineInfos(mapping, entrySizes(q), undefined, model, stageLines);
  if (args.flags.has('json')) {
    // `image`: the image whose layers `layerIndex` counts (a stage image for lines mapped from one).
    await out.line(JSON.stringify(infos.map((i) => ({
      line: i.line, endLine: i.endLine, instruction: i.instruction, stage: i.stage, layerIndex: i.layerIndex,
      size: i.size, cache: i.cache, reason: i.reason ?? null, kind: i.kind, image: i.stageImage ?? source,
    }))));
  } else {
    await out.line(`# ${file}: ${note}`);
    await out.line(linesMargin(text.replace(/\n$/, ''), infos));
  }
  return 0;
}

async function cmdCi(args: Args, out: Out): Promise<number> {
  const source = needSource(args);
  let rules: CiRules = { ...DIVE_DEFAULT_RULES };
  const cfgFlag = args.flags.get('ci-config');
  const cfgPath = typeof cfgFlag === 'string' ? cfgFlag : '.layerlens-ci.yaml';
  const text = await fs.readFile(cfgPath, 'utf8').catch((e: NodeJS.ErrnoException) => {
    if (e.code === 'ENOENT' && typeof cfgFlag !== 'string') return null;
    throw new UsageError(`cannot read CI config ${cfgPath}: ${e.message}`);
  });
  if (text !== null) {
    try { rules = rulesFromDocument(parseYaml(text)); } catch (e) { throw new UsageError(`${cfgPath}: ${(e as Error).message}`); }
  }
  const flagRule = (flag: string, rule: keyof CiRules): void => {
    const v = args.flags.get(flag);
    if (typeof v === 'string') {
      try { rules[rule] = parseRuleValue(rule, v); } catch (e) { throw new UsageError(`--${flag}: ${(e as Error).message}`); }
    }
  };
  flagRule('lowest-efficiency', 'lowestEfficiency');
  flagRule('highest-wasted-bytes', 'highestWastedBytes');
  flagRule('highest-user-wasted-percent', 'highestUserWastedPercent');
  const a = await load(source, args);
  const res = evaluateCi(a, rules);
  if (args.flags.has('json')) {
    await out.line(JSON.stringify({ schemaVersion: SCHEMA_VERSION, pass: res.pass, rules: res.results, efficiency: a.dive.efficiency, wastedBytes: a.dive.wastedBytes, userWastedPercent: a.dive.userWastedPercent }));
  } else {
    await out.line(`layerlens ci: ${a.image.repoTags[0] ?? a.image.id.slice(0, 19)}`);
    for (const l of res.lines) await out.line(l);
  }
  return res.pass ? 0 : 1;
}

async function cmdExplain(args: Args, out: Out): Promise<number> {
  const source = needSource(args);
  const layerFlag = args.flags.get('layer');
  if (typeof layerFlag !== 'string') throw new UsageError('explain needs --layer N (a layer index, see `layerlens analyze`)');
  const dockerfileFlag = args.flags.get('dockerfile');
  const dockerfileText = typeof dockerfileFlag === 'string'
    ? await fs.readFile(dockerfileFlag, 'utf8').catch((e: NodeJS.ErrnoException) => { throw new UsageError(`cannot read Dockerfile ${dockerfileFlag}: ${e.message}`); })
    : undefined;
  const a = await load(source, args);
  const n = Number(layerFlag);
  if (!Number.isInteger(n) || n < 0 || n >= a.tree.layers.length) {
    throw new UsageError(`--layer must be a layer index from 0 to ${a.tree.layers.length - 1}`);
  }
  let byLayer: Map<number, InstructionRef> | undefined;
  if (dockerfileText !== undefined) {
    const model = parseDockerfile(dockerfileText);
    const sizes = a.image.history.map((h) => (h.layerIndex === null ? 0 : a.layerSizes[h.layerIndex] ?? 0));
    const stage = targetFlag(args, model, dockerfileFlag as string);
    byLayer = instructionsByLayer(model, stage !== undefined ? mapHistory(model, a.image.history, { entrySizes: sizes, stage }) : bestStageMapping(model, a.image.history, { entrySizes: sizes }));
  }
  const text = explainText(a, n, {
    instructionOf: byLayer ? (l) => byLayer!.get(l) : undefined,
    dockerfile: typeof dockerfileFlag === 'string' ? dockerfileFlag : undefined,
    width: Math.min(120, process.stdout.columns ?? 100),
  });
  await out.line(text.trimEnd());
  return 0;
}

export function errorLine(e: unknown): string {
  if (e instanceof EngineError || e instanceof ImageFormatError || e instanceof UsageError) return e.message;
  const err = e as NodeJS.ErrnoException;
  if (err?.code === 'ENOENT' && err.path) return `no such file: ${err.path}`;
  if (err?.code === 'EACCES' && err.path) return `permission denied: ${err.path}`;
  return `internal error: ${err?.message ?? String(e)} (set LAYERLENS_DEBUG=1 for details)`;
}

export async function main(argv: string[]): Promise<number> {
  const out = new Out();
  process.stdout.on('error', (e: NodeJS.ErrnoException) => { if (e.code === 'EPIPE') process.exit(0); });
  let args: Args;
  try {
    args = parseArgs(argv);
  } catch (e) {
    process.stderr.write(`layerlens: ${errorLine(e)}\n${USAGE}\n`);
    return 2;
  }
  if (args.flags.has('help') || args.command === 'help' || args.command === '') {
    process.stdout.write(USAGE + '\n');
    return args.command === '' && !args.flags.has('help') ? 2 : 0;
  }
  const commands: Record<string, (a: Args, o: Out) => Promise<number>> = { analyze: cmdAnalyze, files: cmdFiles, lines: cmdLines, ci: cmdCi, explain: cmdExplain };
  const cmd = commands[args.command];
  if (!cmd) {
    process.stderr.write(`layerlens: unknown command '${args.command}'\n${USAGE}\n`);
    return 2;
  }
  try {
    const code = await cmd(args, out);
    await out.flush();
    return code;
  } catch (e) {
    await out.flush().catch(() => undefined);
    if (e instanceof CancelledError) return 130;
    if (process.env.LAYERLENS_DEBUG) process.stderr.write(String((e as Error)?.stack ?? e) + '\n');
    process.stderr.write(`layerlens: ${errorLine(e)}\n`);
    return 2;
  }
}

if (require.main === module) {
  main(process.argv.slice(2)).then((code) => { process.exitCode = code; });
}
