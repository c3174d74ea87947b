// layerlens: the terminal face of the Layer Lens core. Every command reads the image through the
// same parser as the extension. Errors print one line and exit 2; a failed CI rule exits 1.
import { promises as fs } from 'node:fs';
import { CancelledError, ImageFormatError } from '../core/image/errors';
import { explainText } from '../core/present/explain';
import { analyzeJson, analyzeText, fileJsonChunks, fileLine, fileRecords, layerChangeRecords } from '../core/present/report';
import { diveExportJson } from '../core/present/diveExport';
import { EngineError } from '../engine/types';
import { cmdCat } from './cat';
import { cmdCi } from './ci';
import { cmdDiff } from './diff';
import { Out, UsageError, load, loadWithReader, needSource, type Args } from './common';

const USAGE = `Usage: layerlens <command> [options]

Commands:
  analyze SOURCE [--json]                 layers with sizes, changes and waste, then totals
  files SOURCE [--json] [--layer N]       the merged filesystem (or one layer's changes)
  cat SOURCE PATH [--layer N]             the bytes of the file at PATH as the image shows it
                                          (or as layer N ships it), to stdout
  lines DOCKERFILE [--image SOURCE] [--json] [--target STAGE]
        [--stage-image STAGE=SOURCE ...]  each instruction's layer size (and cache status);
                                          other stages' lines from their own images
  ci SOURCE [--lowest-efficiency F] [--highest-wasted-bytes N]
            [--highest-user-wasted-percent P] [--highest-secrets N] [--ci-config FILE]
            [--baseline BASE [--highest-size-growth N|P%]]
            [--format text|json|markdown]
                                          dive's CI rules, the most secrets the image may
                                          ship (when set), and the size growth against BASE
                                          (a source or a saved analyze --json); exit 1 when
                                          one fails
  explain SOURCE --layer N [--dockerfile PATH] [--target STAGE]
                                          one layer's copy-on-write costs and suggestions
  diff OLD NEW [--json]                   two images compared: layers aligned, files added,
                                          removed and modified (contents hashed)
  build DOCKERFILE [-t TAG] [--target STAGE] [--build-arg K=V ...] [--context DIR] [--json]
                                          build through the engine and record each line's
                                          cache result (shared with the extension)
  history DOCKERFILE [--json]             the recorded builds of a Dockerfile: time, size
                                          of the layers above the base, each line's result
  secrets SOURCE [--json] [--dockerfile PATH [--target STAGE]]
                                          credentials the image ships, in any layer or its
                                          history (values masked); exit 1 when one is found
  suggest DOCKERFILE --image SOURCE [--target STAGE] [--json]
                                          suggestions with the bytes each saves and the
                                          edits that apply it
  packages SOURCE [--layer N] [--json]    the packages dpkg, apk, pip and npm installed, with
                                          their bytes and the layer that installed them
  export SOURCE                           dive's JSON export (dive --json): each layer's id,
                                          digest, size, command and tar headers; dive's figures

SOURCE: docker://NAME or NAME (engine), docker-archive:PATH[:REF] or PATH.tar (docker save,
        plain, gzip or zstd), oci:DIR[:REF] or a directory holding index.json (OCI image layout).
        REF names one image of several: a tag (app = docker.io/library/app:latest), an OCI ref
        name or index entry digest (sha256:…), or @N (the N-th); a source of several images
        needs one.
        registry://HOST[:PORT]/REPO[:TAG|@DIGEST]: an image in a registry, read without pulling
Options: --platform os/arch[/variant]  --host URL (engine, overrides DOCKER_HOST)
         --no-cache (neither read nor fill the layer cache; also LAYERLENS_CACHE=off)
         --no-verify (do not check layers read from files against their digests)
         --insecure-registry HOST[:PORT] (repeatable: may use plain http; loopback always may)
         --full-read (registry: read eStargz and zstd:chunked layers whole, checked, not
                     from their table of contents)
Exit codes: 0 ok, 1 a CI rule failed or a secret was found, 2 error.`;

const VALUE_FLAGS = new Set(['layer', 'platform', 'host', 'lowest-efficiency', 'highest-wasted-bytes',
  'highest-user-wasted-percent', 'highest-secrets', 'ci-config', 'baseline', 'highest-size-growth', 'format', 'image', 'dockerfile', 'target',
  'build-arg', 'stage-image', 'tag', 'context', 'insecure-registry']);
const LIST_FLAGS = new Set(['stage-image', 'build-arg', 'insecure-registry']);
const BOOL_FLAGS = new Set(['json', 'help', 'no-cache', 'no-verify', 'full-read']);

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
    if (a === '-t') {
      const v = argv[++i];
      if (v === undefined) throw new UsageError('-t needs a value');
      flags.set('tag', v);
      continue;
    }
    positional.push(a);
  }
  return { command: positional.shift() ?? '', positional, flags, lists };
}

async function cmdAnalyze(args: Args, out: Out): Promise<number> {
  const a = await load(needSource(args), args);
  if (args.flags.has('json')) await out.line(JSON.stringify(analyzeJson(a)));
  else await out.line(analyzeText(a, process.stdout.columns ?? 120).trimEnd());
  return 0;
}

async function cmdFiles(args: Args, out: Out): Promise<number> {
  const a = await load(needSource(args), args, { dive: 'lazy', index: 'keep' });
  const json = args.flags.has('json');
  const layerFlag = args.flags.get('layer');
  if (typeof layerFlag === 'string') {
    const n = Number(layerFlag);
    if (!Number.isInteger(n) || n < 0 || n >= a.layerStats.length) {
      throw new UsageError(`--layer must be a layer index from 0 to ${a.layerStats.length - 1}`);
    }
    for (const r of layerChangeRecords(a, n)) {
      await out.line(json ? JSON.stringify(r) : `${r.change.padEnd(8)} ${r.mode} ${`${r.uid}:${r.gid}`.padEnd(11)} ${r.type.padEnd(8)} ${String(r.bytes).padStart(12)}  ${r.path}${r.linkname !== undefined ? (r.type === 'symlink' ? ` -> ${r.linkname}` : ` => ${r.linkname}`) : ''}${r.metadataOnly ? '  (metadata only: whole file copied up)' : ''}`);
    }
    return 0;
  }
  if (json) for (const chunk of fileJsonChunks(a)) await out.bytes(chunk);
  else for (const r of fileRecords(a)) await out.line(fileLine(r));
  return 0;
}

async function cmdExport(args: Args, out: Out): Promise<number> {
  const a = await load(needSource(args), args);
  for (const part of diveExportJson(a)) await out.line(part);
  return 0;
}

async function cmdExplain(args: Args, out: Out): Promise<number> {
  const source = needSource(args);
  const layerFlag = args.flags.get('layer');
  if (typeof layerFlag !== 'string') throw new UsageError('explain needs --layer N (a layer index, see `layerlens analyze`)');
  const dockerfileFlag = args.flags.get('dockerfile');
  const dockerfileText = typeof dockerfileFlag === 'string'
    ? await fs.readFile(dockerfileFlag, 'utf8').catch((e: NodeJS.ErrnoException) => { throw new UsageError(`cannot read Dockerfile ${dockerfileFlag}: ${e.message}`); })
    : undefined;
  const { analysis: a, reader } = await loadWithReader(source, args, { dive: 'lazy', index: 'keep' });
  const n = Number(layerFlag);
  if (!Number.isInteger(n) || n < 0 || n >= a.layerStats.length) {
    throw new UsageError(`--layer must be a layer index from 0 to ${a.layerStats.length - 1}`);
  }
  const byLayer = dockerfileText !== undefined
    ? (await import('./dockerfileCommands')).instructionsOfLayers(args, a, dockerfileText, dockerfileFlag as string)
    : undefined;
  const text = explainText(a, n, {
    instructionOf: byLayer ? (l) => byLayer.get(l) : undefined,
    dockerfile: typeof dockerfileFlag === 'string' ? dockerfileFlag : undefined,
    // The package readers (and, through them, the Dockerfile parser) load only when a command needs them.
    packages: await (await import('./contents')).packagesOf(a, reader),
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
  const cmdLines = async (a: Args, o: Out): Promise<number> => (await import('./dockerfileCommands')).cmdLines(a, o);
  const cmdBuild = async (a: Args, o: Out): Promise<number> => (await import('./build')).cmdBuild(a, o);
  const cmdHistory = async (a: Args, o: Out): Promise<number> => (await import('./build')).cmdHistory(a, o);
  const cmdSuggest = async (a: Args, o: Out): Promise<number> => (await import('./dockerfileCommands')).cmdSuggest(a, o);
  const cmdSecrets = async (a: Args, o: Out): Promise<number> => (await import('./contents')).cmdSecrets(a, o);
  const cmdPackages = async (a: Args, o: Out): Promise<number> => (await import('./contents')).cmdPackages(a, o);
  const commands: Record<string, (a: Args, o: Out) => Promise<number>> = {
    analyze: cmdAnalyze, files: cmdFiles, cat: cmdCat, lines: cmdLines, ci: cmdCi, explain: cmdExplain, diff: cmdDiff, build: cmdBuild, history: cmdHistory,
    secrets: cmdSecrets, packages: cmdPackages, suggest: cmdSuggest, export: cmdExport,
  };
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
