// The sha256 of the contents of chosen regular files of one layer tar, from its bytes pushed in
// order (nothing of a file is kept but its hash). A later entry at the same path wins, as in the
// merge; an entry that is not a regular file at a wanted path has no digest.
import { createHash, type Hash } from 'node:crypto';
import { normalizeEntryPath } from './paths';
import { TarParser } from './tarWalk';

export class EntryDigests {
  private readonly parser: TarParser;
  private readonly digests = new Map<string, string | undefined>();

  constructor(private readonly paths: ReadonlySet<string>) {
    this.parser = new TarParser((h) => {
      const path = normalizeEntryPath(h.name).path;
      if (!this.paths.has(path)) return null;
      if (h.type !== 'file' && h.type !== 'contiguous-file') {
        this.digests.set(path, undefined);
        return null;
      }
      const hash: Hash = createHash('sha256');
      return {
        write: (c: Buffer) => { hash.update(c); },
        end: () => { this.digests.set(path, 'sha256:' + hash.digest('hex')); },
      };
    });
  }

  write(chunk: Buffer): void {
    this.parser.push(chunk);
  }

  /** Path → content digest, for the wanted paths the tar held as regular files (after the last write). */
  result(): Map<string, string> {
    this.parser.end();
    const out = new Map<string, string>();
    for (const [p, d] of this.digests) if (d !== undefined) out.set(p, d);
    return out;
  }
}
