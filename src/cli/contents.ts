// What the bytes are: `layerlens secrets` (credentials that ship, in any layer or in the history),
// the secrets count of the `ci` rule highestSecrets, and `layerlens packages` (packages per layer). Files are read from the image's own reader
// (checked with their layers), held in memory, never written.
import { promises as fs } from 'node:fs';
import type { Analysis } from '../core/image/analysis';
import { scanSecrets, type LineOf, type SecretFinding, type SecretScan } from '../core/contents/secrets';
import { secretlintLinter } from '../core/contents/secretlint';
import { readPackages, type PackageRow } from '../core/contents/packages';
import { formatBytes } from '../core/present/format';
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

/** Every package the image's package databases list, files read through `reader`. */
export async function packagesOf(a: Analysis, reader: ImageSource): Promise<PackageRow[]> {
  return readPackages(a.index, (layer, want, maxBytes) =>
    reader.readFiles(a.image.diffIds[layer], want, { maxBytes, tarBytes: a.image.layers[layer].tarBytes }));
}

export async function cmdPackages(args: Args, out: Out): Promise<number> {
  const source = needSource(args);
  const { analysis: a, reader } = await loadWithReader(source, args, { dive: 'lazy' });
  const layerFlag = args.flags.get('layer');
  let only: number | undefined;
  if (typeof layerFlag === 'string') {
    only = Number(layerFlag);
    if (!Number.isInteger(only) || only < 0 || only >= a.image.layers.length) throw new UsageError(`--layer must be a layer index from 0 to ${a.image.layers.length - 1}`);
  }
  const rows = (await packagesOf(a, reader)).filter((r) => only === undefined || r.layer === only);
  if (args.flags.has('json')) {
    await out.line(JSON.stringify({ schemaVersion: SCHEMA_VERSION, managersRead: ['dpkg', 'apk', 'pip', 'npm'], packages: rows }));
    return 0;
  }
  await out.line(`layerlens packages: ${a.image.repoTags[0] ?? a.image.id.slice(0, 19)}${only === undefined ? '' : `, layer ${only}`} (dpkg, apk, pip, npm; rpm is not read)`);
  await out.line(`${'LAYER'.padEnd(6)}${'MANAGER'.padEnd(8)}${'SIZE'.padStart(10)}${'FILES'.padStart(7)}  NAME VERSION${''}`);
  for (const r of rows) {
    const credit = r.pulledInBy ? `  (pulled in by ${r.pulledInBy})` : r.bytesWithDeps > r.bytes ? `  (${formatBytes(r.bytesWithDeps)} with what it pulled in)` : '';
    await out.line(`${String(r.layer).padEnd(6)}${r.manager.padEnd(8)}${formatBytes(r.bytes).padStart(10)}${String(r.files).padStart(7)}  ${r.name} ${r.version}${credit}`);
  }
  const total = rows.reduce((n, r) => n + r.bytes, 0);
  await out.line(`${rows.length} packages, ${formatBytes(total)}`);
  return 0;
}
