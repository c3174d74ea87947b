// `layerlens diff OLD NEW [--json]`: two images from any sources compared path by path. The image
// indexes decide what they can (src/core/image/index/diff.ts); files equal in metadata and size
// but shipped by different layers are read through their sources, each such layer once, and their
// contents hashed.
import type { Analysis } from '../core/image/analysis';
import { compareIndexes, entriesToHash, settleDiff } from '../core/image/index/diff';
import { diffJson, diffText } from '../core/present/diff';
import type { ImageSource } from '../sources/load';
import { UsageError, loadWithReader, type Args, type Out } from './common';

/** Per layer read, the digests of the wanted entries. */
async function digestsOf(a: Analysis, reader: ImageSource, wanted: Map<number, Set<string>>): Promise<Map<number, Map<string, string>>> {
  const out = new Map<number, Map<string, string>>();
  for (const [layer, paths] of wanted) {
    out.set(layer, await reader.hashEntries(a.image.diffIds[layer], paths, { tarBytes: a.image.layers[layer].tarBytes }));
  }
  return out;
}

export async function cmdDiff(args: Args, out: Out): Promise<number> {
  const [oldSource, newSource, extra] = args.positional;
  if (!oldSource || !newSource) throw new UsageError('diff needs two sources: OLD NEW');
  if (extra !== undefined) throw new UsageError(`unexpected argument '${extra}'`);
  const old = await loadWithReader(oldSource, args, { dive: 'lazy' });
  const neu = await loadWithReader(newSource, args, { dive: 'lazy' });
  const a = old.analysis, b = neu.analysis;
  const d = compareIndexes({ index: a.index, diffIds: a.image.diffIds }, { index: b.index, diffIds: b.image.diffIds });
  const oldDigests = await digestsOf(a, old.reader, entriesToHash(d, 'old'));
  const newDigests = await digestsOf(b, neu.reader, entriesToHash(d, 'new'));
  const files = settleDiff(d, (side, layer, entry) => (side === 'old' ? oldDigests : newDigests).get(layer)?.get(entry));
  const j = diffJson(a, b, files);
  if (args.flags.has('json')) await out.line(JSON.stringify(j));
  else await out.line(diffText(j, { old: oldSource, new: newSource }, process.stdout.columns ?? 120).trimEnd());
  return 0;
}
