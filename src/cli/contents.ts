// What the bytes are: `layerlens secrets` (credentials that ship, in any layer or in the history)
// and the secrets count of the `ci` rule highestSecrets. Files are read from the image's own reader
// (checked with their layers), held in memory, never written.
import { promises as fs } from 'node:fs';
import type { Analysis } from '../core/image/analysis';
import { scanSecrets, type LineOf, type SecretFinding, type SecretScan } from '../core/contents/secrets';
import { secretlintLinter } from '../core/contents/secretlint';
import { SCHEMA_VERSION } from '../core/present/report';
import type { ImageSource } from '../sources/imageSource';
import { UsageError, loadWithReader, needSource, type Args, type Out } from './common';

/** Every secret the image ships, files read through `reader`. */
export async function secretsOf(a: Analysis, reader: ImageSource, lineOf?: LineOf): Promise<SecretScan> {
  const linter = await secretlintLinter();
  return scanSecrets(a.index, a.image.history, (layer, want, maxBytes) =>
    reader.readFiles(a.image.diffIds[layer], want, { maxBytes, tarBytes: a.image.layers[layer].tarBytes }), linter, lineOf);
}

/** `--dockerfile PATH [--target STAGE]`: the Dockerfile line of each layer and history entry. */
export async function lineOfFlag(args: Args, a: Analysis): Promise<LineOf | undefined> {
  const file = args.flags.get('dockerfile');
  if (typeof file !== 'string') return undefined;
  const text = await fs.readFile(file, 'utf8').catch((e: NodeJS.ErrnoException) => { throw new UsageError(`cannot read Dockerfile ${file}: ${e.message}`); });
  return (await import('./dockerfileCommands')).linesOfImage(args, a, text, file);
}

function where(f: SecretFinding): string {
  if (f.path !== undefined) {
    const fate = f.deletedBy === null ? '' : ` (deleted or replaced in layer ${f.deletedBy}: still ships in layer ${f.layer})`;
    return `${f.path}:${f.at}${fate}`;
  }
  return `history entry ${f.history}${f.layer === null ? '' : ` (layer ${f.layer})`}`;
}

export function secretRecord(f: SecretFinding): Record<string, unknown> {
  const place = f.path !== undefined ? { path: f.path } : { history: f.history };
  return { rule: f.rule, ...place, layer: f.layer, line: f.line, deletedBy: f.deletedBy, at: f.at, message: f.message, ...(f.name !== undefined ? { name: f.name } : {}) };
}

export async function cmdSecrets(args: Args, out: Out): Promise<number> {
  const source = needSource(args);
  const { analysis: a, reader } = await loadWithReader(source, args, { dive: 'lazy' });
  const lineOf = await lineOfFlag(args, a);
  const scan = await secretsOf(a, reader, lineOf);
  const found = scan.findings;
  if (args.flags.has('json')) {
    await out.line(JSON.stringify({
      schemaVersion: SCHEMA_VERSION, found: found.length, findings: found.map(secretRecord),
      read: { layers: scan.layersRead, files: scan.filesRead, bytes: scan.bytesRead },
    }));
  } else {
    await out.line(`layerlens secrets: ${a.image.repoTags[0] ?? a.image.id.slice(0, 19)} (${scan.filesRead} files read in ${scan.layersRead} layers, and ${a.image.history.length} history entries)`);
    for (const f of found) {
      const layer = f.layer === null ? '-' : String(f.layer);
      const line = f.line === null ? '' : `  line ${f.line}`;
      await out.line(`  layer ${layer}${line}  ${where(f)}  ${f.rule}: ${f.message}`);
    }
    await out.line(found.length ? `${found.length} secret${found.length === 1 ? '' : 's'} found (values masked)` : 'No secret found');
  }
  return found.length ? 1 : 0;
}
