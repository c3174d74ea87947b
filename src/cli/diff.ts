// `layerlens diff OLD NEW [--json]`: two images from any sources compared path by path. The image
// indexes decide what they can (src/core/image/index/diff.ts); files equal in metadata and size
// but shipped by different layers are read through their sources, each such layer once, and their
// contents hashed (diffImages, src/sources/load.ts).
import { diffJson, diffText } from '../core/present/diff';
import { diffImages } from '../sources/load';
import { UsageError, loadWithReader, type Args, type Out } from './common';

export async function cmdDiff(args: Args, out: Out): Promise<number> {
  const [oldSource, newSource, extra] = args.positional;
  if (!oldSource || !newSource) throw new UsageError('diff needs two sources: OLD NEW');
  if (extra !== undefined) throw new UsageError(`unexpected argument '${extra}'`);
  const old = await loadWithReader(oldSource, args, { dive: 'lazy' });
  const neu = await loadWithReader(newSource, args, { dive: 'lazy' });
  const files = await diffImages(old, neu);
  const j = diffJson(old.analysis, neu.analysis, files);
  if (args.flags.has('json')) await out.line(JSON.stringify(j));
  else await out.line(diffText(j, { old: oldSource, new: newSource }, process.stdout.columns ?? 120).trimEnd());
  return 0;
}
