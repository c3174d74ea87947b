// What the CLI's commands share: arguments, output, errors, and reading a source into an Analysis.
import type { Analysis } from '../core/image/analysis';
import { parsePlatform } from '../core/image/oci';
import { resolveEndpointFromProcess } from '../engine/endpoint';
import type { EngineClient } from '../engine/types';
import { analyzeWithCache } from '../sources/analysisCache';
import { cliCache } from '../sources/indexCache';
import { loadImage, parseSource } from '../sources/load';

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
  async flush(): Promise<void> {
    if (this.buf.length === 0) return;
    const text = this.buf.join('\n') + '\n';
    this.buf = [];
    this.size = 0;
    if (!process.stdout.write(text)) await new Promise<void>((r) => process.stdout.once('drain', () => r()));
  }
}

/** `dive: 'lazy'`: dive's figures only if the command reads them (see analyze()). */
export async function load(source: string, args: Args, opts: { dive?: 'eager' | 'lazy' } = {}): Promise<Analysis> {
  const spec = await parseSource(source);
  const platform = args.flags.get('platform');
  // Per-layer indexes by diffID, engine images' documents by digest, analysis summaries by stack
  // of layers ($XDG_CACHE_HOME/layerlens; --no-cache or LAYERLENS_CACHE=off: none).
  const cache = args.flags.has('no-cache') ? undefined : cliCache(process.env, process.env.LAYERLENS_DEBUG ? (l) => process.stderr.write(l + '\n') : undefined);
  const image = await loadImage(spec, {
    platform: typeof platform === 'string' ? parsePlatform(platform) : undefined,
    engine: engineFactory(args),
    cache,
  });
  return analyzeWithCache(image, cache, opts);
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
