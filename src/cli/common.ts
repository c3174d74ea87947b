// What the CLI's commands share: arguments, output, errors, and reading a source into an Analysis.
import type { Analysis } from '../core/image/analysis';
import { parsePlatform } from '../core/image/oci';
import { resolveEndpointFromProcess } from '../engine/endpoint';
import type { EngineClient } from '../engine/types';
import { analyzeWithCache } from '../sources/analysisCache';
import { cliCache, type LayerIndexCache } from '../sources/indexCache';
import { openImageSource, parseSource, type ImageSource, type SourceOptions } from '../sources/load';

export class UsageError extends Error {}

export interface Args {
  command: string;
  positional: string[];
  flags: Map<string, string | true>;
  /** Repeatable options (LIST_FLAGS), every value in order. */
  lists: Map<string, string[]>;
}

/** Writes lines with backpressure; a closed pipe (`| head`) ends quietly. */
export class Out {
  private buf: string[] = [];
  private size = 0;
  async line(s: string): Promise<void> {
    this.buf.push(s);
    this.size += s.length + 1;
    if (this.size > 64 * 1024) await this.flush();
  }
  /** Bytes as they are (after the lines written so far). */
  async bytes(b: Buffer): Promise<void> {
    await this.flush();
    if (b.length && !process.stdout.write(b)) await new Promise<void>((r) => process.stdout.once('drain', () => r()));
  }
  async flush(): Promise<void> {
    if (this.buf.length === 0) return;
    const text = this.buf.join('\n') + '\n';
    this.buf = [];
    this.size = 0;
    if (!process.stdout.write(text)) await new Promise<void>((r) => process.stdout.once('drain', () => r()));
  }
}

/** The reader of a source as the command's options say (platform, engine, cache, --no-verify). */
export async function openSource(source: string, args: Args): Promise<{ reader: ImageSource; cache?: LayerIndexCache }> {
  const spec = await parseSource(source);
  const platform = args.flags.get('platform');
  // Per-layer indexes by diffID, engine images' documents by digest, analysis summaries by stack
  // of layers ($XDG_CACHE_HOME/layerlens; --no-cache or LAYERLENS_CACHE=off: none).
  const cache = args.flags.has('no-cache') ? undefined : cliCache(process.env, process.env.LAYERLENS_DEBUG ? (l) => process.stderr.write(l + '\n') : undefined);
  const reader = openImageSource(spec, {
    platform: typeof platform === 'string' ? parsePlatform(platform) : undefined,
    engine: engineFactory(args),
    cache,
    verify: !args.flags.has('no-verify'),
    registry: registryOptions(args),
  });
  return { reader, cache };
}

/**
 * `dive: 'lazy'`: dive's figures only if the command reads them (see analyze()). `index: 'keep'`:
 * the command reads the merged tree, so the image index is kept in the cache for the next run.
 */
export interface LoadAnalysisOptions {
  dive?: 'eager' | 'lazy';
  index?: 'keep';
}

/**
 * The analysis of a source, its warnings on stderr (every command that reads an image says what
 * was odd about it).
 */
export async function load(source: string, args: Args, opts: LoadAnalysisOptions = {}): Promise<Analysis> {
  return (await loadWithReader(source, args, opts)).analysis;
}

/** load(), and the reader it used (to read files from the same image, as checked). */
export async function loadWithReader(source: string, args: Args, opts: LoadAnalysisOptions = {}): Promise<{ analysis: Analysis; reader: ImageSource }> {
  const { reader, cache } = await openSource(source, args);
  const analysis = analyzeWithCache(await reader.load(), cache, opts);
  printWarnings(analysis.warnings);
  return { analysis, reader };
}

const MAX_WARNINGS = 20;

function printWarnings(warnings: string[]): void {
  const lines = warnings.slice(0, MAX_WARNINGS).map((w) => `layerlens: warning: ${w}\n`);
  if (warnings.length > MAX_WARNINGS) lines.push(`layerlens: warning: … ${warnings.length - MAX_WARNINGS} more (analyze --json lists them all)\n`);
  if (lines.length) process.stderr.write(lines.join(''));
}

/** --insecure-registry HOST (repeatable), --full-read, and LAYERLENS_REGISTRY_PARALLEL (blobs read at once). */
export function registryOptions(args: Args): SourceOptions['registry'] {
  const parallel = Number(process.env.LAYERLENS_REGISTRY_PARALLEL);
  return {
    insecure: args.lists.get('insecure-registry') ?? [],
    parallel: Number.isInteger(parallel) && parallel > 0 ? parallel : undefined,
    fullRead: args.flags.has('full-read'),
  };
}

export function needSource(args: Args): string {
  const s = args.positional[0];
  if (!s) throw new UsageError(`${args.command} needs a SOURCE`);
  if (args.positional.length > 1) throw new UsageError(`unexpected argument '${args.positional[1]}'`);
  return s;
}

export function engineFactory(args: Args): () => Promise<EngineClient> {
  const host = args.flags.get('host');
  // Loaded on first use: the engine client (dockerode, ssh2) is most of the CLI's start-up time,
  // and archive or layout sources never need it.
  return async () => (await import('../engine/docker')).createEngineClient(resolveEndpointFromProcess(typeof host === 'string' ? { host, hostOrigin: '--host' } : {}));
}
