// `layerlens cat SOURCE PATH [--layer N]`: the bytes of one version of a file, to stdout. Without
// --layer, the version the final image shows (the merged view: the top-most layer that provides
// PATH, after whiteouts and opaque directories); with it, the version layer N ships. Only a regular
// file has bytes: anything else at PATH (a directory, a symlink, a device, a deletion, nothing) is
// one line on stderr and exit 2. A hardlink is read through to its target in the same layer.
// Any size: the bytes wait in a spool (memory up to a bound, then a temporary file that only the
// open descriptor holds) until the layer's digests are checked, then go to stdout; a layer that
// fails its check writes nothing. An uncompressed layer in a file that was checked before (the
// cache's record for this very file) is written straight from the entry's offset.
import { EntryNotFoundError, type ImageSource, type SpoolOptions } from '../sources/imageSource';
import { normalizeEntryPath } from '../core/image/tar/paths';
import type { Analysis } from '../core/image/analysis';
import type { EntryType, LayerEntry } from '../core/image/types';
import { UsageError, loadWithReader, type Args, type Out } from './common';

const KIND: Record<EntryType, string> = {
  file: 'a regular file', dir: 'a directory', symlink: 'a symlink', hardlink: 'a hardlink', char: 'a character device', block: 'a block device', fifo: 'a FIFO',
};

function notAFile(path: string, type: EntryType, linkname: string | undefined, where: string): UsageError {
  const what = type === 'symlink' ? `a symlink to ${linkname ?? '?'}` : KIND[type];
  return new UsageError(`${path} is ${what}${where}, not a regular file`);
}

export interface Version { layer: number; type: EntryType; linkname?: string }

/** The last entry at `path` in layer `n` of the analysis. */
function lastEntry(a: Analysis, n: number, path: string): LayerEntry | undefined {
  let entry: LayerEntry | undefined;
  for (const e of a.image.layers[n].entries) if (e.path === path) entry = e;
  return entry;
}

/**
 * The path whose bytes a version has: a hardlink's target in the same layer (hop by hop, as the
 * layer's index has them), else the path itself. UsageError when a target is not in that layer.
 */
function bytesPath(a: Analysis, v: Version, path: string): string {
  let p = path;
  let linkname = v.linkname;
  for (let hop = 0; hop < 8; hop++) {
    const e = hop === 0 ? { type: v.type, linkname } : lastEntry(a, v.layer, p);
    if (!e) throw new UsageError(`${path} is a hardlink to ${v.linkname ?? '?'}, which layer ${v.layer} does not hold`);
    if (e.type !== 'hardlink') return p;
    if (!e.linkname) throw new UsageError(`${path} is a hardlink without a target in layer ${v.layer}`);
    p = e.linkname;
    linkname = e.linkname;
  }
  throw new UsageError(`${path}: too many hardlink hops in layer ${v.layer}`);
}

/**
 * Writes the bytes of `path` in layer `layer` (a version the analysis found) through `write`,
 * after its layer was read to the end and checked. What it found when that is not a regular file.
 */
export async function copyVersion(
  reader: ImageSource, a: Analysis, v: Version, path: string, write: (chunk: Buffer) => Promise<void>, spool?: SpoolOptions,
): Promise<{ spilled: boolean }> {
  const n = v.layer;
  const target = bytesPath(a, v, path);
  let got;
  try {
    got = await reader.copyFile(a.image.diffIds[n], target, write, { tarBytes: a.image.layers[n].tarBytes, spool });
  } catch (e) {
    // A hardlink is read inside its layer only: a target the layer lacks is not looked for elsewhere.
    if (e instanceof EntryNotFoundError) {
      throw new UsageError(v.type === 'hardlink' ? `${path} is a hardlink to ${v.linkname ?? '?'}, which layer ${n} does not hold` : `${path} is not in layer ${n} as read now (${e.message})`);
    }
    throw e;
  }
  if (got.type !== 'file') throw notAFile(path, got.type, got.linkname, ` in layer ${n}`);
  return { spilled: got.spilled };
}

/** The version of `path` the final image shows (throws when it is not a file there). */
function visibleVersion(a: Analysis, path: string): Version {
  const node = a.tree.lookup(path);
  if (!node || node.layer < 0) throw new UsageError(`${path} is not in the image`);
  if (!node.live) throw new UsageError(`${path} is not in the image: deleted in layer ${node.deletedBy ?? '?'}`);
  if (node.type !== 'file' && node.type !== 'hardlink') throw notAFile(path, node.type, node.linkname, ' in the image');
  return { layer: node.layer, type: node.type, linkname: node.linkname };
}

/** Layer n's own version of `path` (the last entry, as the merge takes it; throws when it is not a file). */
function layerVersion(a: Analysis, n: number, path: string): Version {
  const layer = a.image.layers[n];
  const entry = lastEntry(a, n, path);
  if (!entry) {
    const deleted = layer.whiteouts.some((w) => w === path || path.startsWith(w + '/'));
    throw new UsageError(deleted ? `${path} is deleted in layer ${n}` : `${path} is not in layer ${n}`);
  }
  if (entry.type !== 'file' && entry.type !== 'hardlink') throw notAFile(path, entry.type, entry.linkname, ` in layer ${n}`);
  return { layer: n, type: entry.type, linkname: entry.linkname };
}

export async function cmdCat(args: Args, out: Out): Promise<number> {
  const [source, rawPath, extra] = args.positional;
  if (!source || !rawPath) throw new UsageError('cat needs a SOURCE and a PATH');
  if (extra !== undefined) throw new UsageError(`unexpected argument '${extra}'`);
  const path = normalizeEntryPath(rawPath).path;
  if (path === '/') throw new UsageError('/ is a directory, not a regular file');
  const layerFlag = args.flags.get('layer');
  const { analysis: a, reader } = await loadWithReader(source, args, { dive: 'lazy' });
  let v: Version;
  if (typeof layerFlag === 'string') {
    const n = Number(layerFlag);
    if (!Number.isInteger(n) || n < 0 || n >= a.image.layers.length) {
      throw new UsageError(`--layer must be a layer index from 0 to ${a.image.layers.length - 1}`);
    }
    v = layerVersion(a, n, path);
  } else {
    v = visibleVersion(a, path);
  }
  await out.flush();
  await copyVersion(reader, a, v, path, (chunk) => out.bytes(chunk));
  return 0;
}
