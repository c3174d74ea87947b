// One layer blob (plain, gzip or zstd tar) read as a stream into a LayerIndex, for tests that
// build layers in memory: entries, whiteouts and opaque markers, with sizes. The product reads
// layers inside their image (archive, layout or engine export) through the same parser and builder.
import { createHash } from 'node:crypto';
import { CancelledError } from '../../../src/core/image/errors';
import { openDecompressed, type ByteSource } from '../../../src/core/image/tar/decompress';
import { labelled } from '../../../src/core/image/tar/archiveStream';
import { LayerIndexBuilder } from '../../../src/core/image/tar/layerBuilder';
import { TarParser } from '../../../src/core/image/tar/tarWalk';
import type { LayerIndex } from '../../../src/core/image/types';

export interface IndexLayerOptions {
  /** The diffID if already known (from the image config); otherwise computed when `hash` is set. */
  diffId?: string;
  /** Compute sha256 of the uncompressed tar (costs CPU; the config's diff_ids are used otherwise). */
  hash?: boolean;
  signal?: AbortSignal;
  /** Refuse layers with more entries than this (default 10 million). */
  maxEntries?: number;
  /** Name used in error messages, e.g. "layer 3 (sha256:ab12…)". */
  label?: string;
}

/**
 * Indexes one layer blob read as a stream. Headers go through the product's synchronous tar parser
 * (src/core/image/tar/tarWalk.ts) into its LayerIndexBuilder.
 */
export async function indexLayer(source: ByteSource, opts: IndexLayerOptions = {}): Promise<LayerIndex> {
  const label = opts.label ?? 'layer';
  const signal = opts.signal;
  if (signal?.aborted) throw new CancelledError();
  const { compression, stream } = await openDecompressed(source);
  const hash = opts.hash ? createHash('sha256') : null;
  const builder = new LayerIndexBuilder(label, opts.maxEntries ?? 10_000_000);
  const parser = new TarParser((h) => { builder.add(h); });
  let bytes = 0;
  const onAbort = (): void => { stream.destroy(new CancelledError()); };
  signal?.addEventListener('abort', onAbort, { once: true });
  try {
    for await (const chunk of stream as AsyncIterable<Buffer>) {
      bytes += chunk.length;
      hash?.update(chunk);
      parser.push(chunk);
    }
    parser.end();
  } catch (e) {
    if (signal?.aborted) throw new CancelledError();
    throw labelled(e, label);
  } finally {
    signal?.removeEventListener('abort', onAbort);
  }
  return builder.finish({ diffId: hash ? 'sha256:' + hash.digest('hex') : (opts.diffId ?? ''), tarBytes: bytes, compression });
}
