// Secrets that ship: credentials in any copy of a file any layer ships (a file deleted or replaced
// by a later layer still ships below), and in the image config's history (build args BuildKit and
// the legacy builder record in RUN entries, tokens written into RUN text).
//
// Keys and tokens are recognised by secretlint's recommended rule set (@secretlint/core with
// @secretlint/secretlint-rule-preset-recommend: private keys by their PEM header, AWS key pairs, GCP
// service-account JSON, GitHub, npm, Slack, … tokens), loaded on first use. Four rules of Layer
// Lens's own cover what that set does not: a `.env` file with key-like names holding values, a
// Docker config.json with `auths` credentials, a shipped `.git` directory, and a secret-named build
// argument with a value.
//
// Content is read only for candidates: files named like credentials (up to 1 MiB) and small files
// (up to 64 KiB), text only. The caller reads them (src/sources, in memory, never written) and
// hands them in; no value found is kept: every finding carries a redacted message only.
import { createHash } from 'node:crypto';
import type { ImageIndex } from '../image/index/imageIndex';
import { T_DIR, T_FILE } from '../image/index/layerTable';
import type { HistoryEntry } from '../image/types';
import { parseCreatedBy, type MappingResult } from '../dockerfile/mapping';

/** Small files are read whatever their name. */
export const SMALL_FILE_BYTES = 64 * 1024;
/** Files named like credentials are read up to this size. */
export const NAMED_FILE_BYTES = 1024 * 1024;

/** One credential found. Exactly one of `path` and `history` is set. */
export interface SecretFinding {
  /** Which rule found it: a secretlint rule and message (`aws/AWSSecretAccessKey`), or `dotenv`, `docker-config-auth`, `git-directory`, `build-arg`. */
  rule: string;
  /** The file that holds it (absolute path in the image). */
  path?: string;
  /** The history entry whose `created_by` holds it. */
  history?: number;
  /** The layer that ships this copy of the file; for history findings the entry's layer (null: it made none). */
  layer: number | null;
  /** The Dockerfile line that shipped it, 1-based; null when no Dockerfile is mapped or the line is not known. */
  line: number | null;
  /** The layer that deleted or replaced this copy (it still ships in `layer`); null when the final image shows it. */
  deletedBy: number | null;
  /** The line inside the file or the history text, 1-based. */
  at: number;
  /** What was found, with the value masked. */
  message: string;
  /** build-arg findings: the argument's name. */
  name?: string;
}

/** A hit inside one text, before it is placed in the image. */
export interface SecretHit {
  rule: string;
  at: number;
  message: string;
  /** A digest of the value (to tell one value found twice), never shown. */
  fingerprint?: string;
  /** build-arg hits: the argument's name. */
  name?: string;
}

/** The digest a hit carries of its value. */
export function fingerprint(value: string): string {
  return createHash('sha256').update(value).digest('hex').slice(0, 16);
}

/** Recognises keys and tokens in a text (secretlint, or a stand-in in tests). */
export interface SecretLinter {
  lint(filePath: string, text: string): Promise<SecretHit[]>;
}

const NAMED = /(?:^|\/)(?:\.env(?:\.[^/]+)?|[^/]+\.env|id_(?:rsa|dsa|ecdsa|ed25519)|[^/]+\.(?:pem|key|p8|ppk|asc)|\.npmrc|\.pypirc|\.netrc|\.git-credentials|\.pgpass|\.htpasswd|credentials(?:\.json)?|config\.json|[^/]*service[-_]?account[^/]*\.json|[^/]*secret[^/]*)$/i;
const DOTENV = /(?:^|\/)(?:\.env(?:\.[^/]+)?|[^/]+\.env)$/;
const DOCKER_CONFIG = /(?:^|\/)(?:config|auth)\.json$/;
/** Names of variables and build args that hold secrets (not `KEY` alone: GPG_KEY names a public key). */
export const SECRET_NAME = /(?:SECRET|TOKEN|PASSW(?:OR)?D|PASSWD|API_?KEY|ACCESS_?KEY|PRIVATE_?KEY|CREDENTIALS?|AUTH(?!OR))/i;

/** Whether a file copy of `size` bytes at `path` is read for secrets. */
export function isSecretCandidate(path: string, size: number): boolean {
  if (size <= 0) return false;
  if (size <= SMALL_FILE_BYTES) return true;
  return size <= NAMED_FILE_BYTES && NAMED.test(path);
}

/** Per layer, the paths of the file copies it ships that are read for secrets (every layer, hidden copies included). */
export function secretCandidates(ix: ImageIndex): Map<number, Set<string>> {
  const out = new Map<number, Set<string>>();
  for (let n = 1; n < ix.nodeCount; n++) {
    const from = ix.copyStart[n], to = ix.copyStart[n + 1];
    if (from === to) continue;
    let path: string | undefined;
    for (let i = from; i < to; i++) {
      if (ix.copyType[i] !== T_FILE) continue;
      path ??= ix.pathOf(n);
      if (!isSecretCandidate(path, ix.copyBytes[i])) continue;
      const L = ix.copyLayer[i];
      let set = out.get(L);
      if (!set) out.set(L, (set = new Set()));
      set.add(path);
    }
  }
  return out;
}

/** Text that looks binary (a NUL byte in its first 8 KiB) is not linted. */
export function isText(data: Uint8Array): boolean {
  return !data.subarray(0, 8192).includes(0);
}

/** `.env` lines whose key names a secret and whose value is set (not empty, not a `${VAR}` reference). */
export function dotenvHits(text: string): SecretHit[] {
  const hits: SecretHit[] = [];
  text.split('\n').forEach((raw, i) => {
    const m = /^\s*(?:export\s+)?([A-Za-z_][A-Za-z0-9_.]*)\s*=\s*(.*?)\s*$/.exec(raw);
    if (!m || !SECRET_NAME.test(m[1])) return;
    const value = m[2].replace(/^(['"])(.*)\1$/, '$2');
    if (value === '' || /^\$\{?[A-Za-z_]/.test(value)) return;
    hits.push({ rule: 'dotenv', at: i + 1, message: `${m[1]} is set in a .env file: ${mask(value)}` });
  });
  return hits;
}

/** A Docker client config whose `auths` hold credentials (`auth`, `identitytoken`, `password`). */
export function dockerConfigHits(text: string): SecretHit[] {
  if (!text.includes('"auths"')) return [];
  let doc: unknown;
  try { doc = JSON.parse(text); } catch { return []; }
  const auths = (doc as { auths?: unknown })?.auths;
  if (!auths || typeof auths !== 'object') return [];
  const hits: SecretHit[] = [];
  const lines = text.split('\n');
  for (const [registry, v] of Object.entries(auths as Record<string, unknown>)) {
    if (!v || typeof v !== 'object') continue;
    const cred = ['auth', 'identitytoken', 'password'].find((k) => typeof (v as Record<string, unknown>)[k] === 'string' && (v as Record<string, string>)[k] !== '');
    if (!cred) continue;
    const at = Math.max(0, lines.findIndex((l) => l.includes(JSON.stringify(registry)))) + 1;
    hits.push({ rule: 'docker-config-auth', at, message: `a Docker config holds ${cred} credentials for ${registry}` });
  }
  return hits;
}

/** A value masked: a fixed run of `*`, whatever its length. */
export function mask(_value: string): string {
  return '********';
}

/** Every hit in one file's text: secretlint's, and the rules of Layer Lens's own that fit the file's name. */
export async function fileHits(path: string, data: Uint8Array, linter: SecretLinter): Promise<SecretHit[]> {
  if (!isText(data)) return [];
  const text = Buffer.from(data.buffer, data.byteOffset, data.byteLength).toString('utf8');
  const hits = await linter.lint(path, text);
  const lines = new Set(hits.map((h) => h.at));
  // A .env line a key rule already reported is not reported twice.
  if (DOTENV.test(path)) for (const h of dotenvHits(text)) if (!lines.has(h.at)) hits.push(h);
  if (DOCKER_CONFIG.test(path)) hits.push(...dockerConfigHits(text));
  return hits;
}

/**
 * Every hit in the config's history: build args with secret names, and what the linter finds in
 * the text. A value is reported once, at the first entry that records it (the builders record a
 * build arg in every RUN after its ARG), as a build arg when it is one.
 */
export async function historyHits(history: readonly HistoryEntry[], linter: SecretLinter): Promise<Array<SecretHit & { history: number }>> {
  const out: Array<SecretHit & { history: number }> = [];
  const seen = new Set<string>();
  for (const h of history) {
    if (!h.createdBy) continue;
    const parsed = parseCreatedBy(h.createdBy);
    for (const arg of parsed.buildArgs ?? []) {
      if (arg.value === '' || !SECRET_NAME.test(arg.key)) continue;
      const fp = fingerprint(arg.value);
      if (seen.has(fp)) continue;
      seen.add(fp);
      out.push({ history: h.index, rule: 'build-arg', at: 1, message: `build argument ${arg.key} is recorded in the image's history: ${mask(arg.value)}`, fingerprint: fp, name: arg.key });
    }
    for (const hit of await linter.lint(`history/${h.index}`, h.createdBy)) {
      const fp = hit.fingerprint;
      if (fp !== undefined) {
        if (seen.has(fp)) continue;
        seen.add(fp);
      }
      out.push({ ...hit, history: h.index });
    }
  }
  return out;
}

/** The layer that deleted or replaced the copy layer `L` ships of node `n`; null when that copy is what the image shows. */
export function copyFate(ix: ImageIndex, n: number, L: number): number | null {
  const from = ix.copyStart[n], to = ix.copyStart[n + 1];
  for (let i = from; i < to; i++) {
    if (ix.copyLayer[i] !== L) continue;
    if (i + 1 < to) return ix.copyLayer[i + 1];
    return ix.live[n] ? null : ix.deletedBy[n] >= 0 ? ix.deletedBy[n] : null;
  }
  return null;
}

/** Each `.git` directory the image ships (by name: no content read), once per layer that ships it. */
export function gitDirectoryHits(ix: ImageIndex): Array<{ path: string; layer: number; deletedBy: number | null }> {
  const out: Array<{ path: string; layer: number; deletedBy: number | null }> = [];
  for (let n = 1; n < ix.nodeCount; n++) {
    if (ix.nameOf(n) !== '.git' || ix.type[n] !== T_DIR) continue;
    // Only a repository: one holding HEAD.
    const head = ix.names.indexOf('HEAD');
    if (head < 0 || ix.childByName(n, head) < 0) continue;
    const layers = new Set<number>();
    for (let i = ix.copyStart[n]; i < ix.copyStart[n + 1]; i++) layers.add(ix.copyLayer[i]);
    for (const L of layers) out.push({ path: ix.pathOf(n), layer: L, deletedBy: copyFate(ix, n, L) });
  }
  return out;
}

/** How the image's layers and history entries map to Dockerfile lines (absent: no Dockerfile). */
export interface LineOf {
  layer(layer: number): number | null;
  history(index: number): number | null;
}

/** Reads the candidate files of one layer (src/sources: ImageSource.readFiles). */
export type ReadLayerFiles = (layer: number, want: (path: string, size: number) => boolean, maxBytes: number) => Promise<Array<{ path: string; data: Uint8Array }>>;

export interface SecretScan {
  findings: SecretFinding[];
  /** Layers read, files linted, bytes linted. */
  layersRead: number;
  filesRead: number;
  bytesRead: number;
}

/**
 * Every secret the image ships, in layer order (then path, then line), history findings last.
 * `read` is called once per layer that holds candidates.
 */
export async function scanSecrets(ix: ImageIndex, history: readonly HistoryEntry[], read: ReadLayerFiles, linter: SecretLinter, lineOf?: LineOf): Promise<SecretScan> {
  const findings: SecretFinding[] = [];
  const candidates = secretCandidates(ix);
  let filesRead = 0, bytesRead = 0;
  const layers = [...candidates.keys()].sort((x, y) => x - y);
  for (const L of layers) {
    const paths = candidates.get(L)!;
    const files = await read(L, (p) => paths.has(p), NAMED_FILE_BYTES);
    files.sort((x, y) => (x.path < y.path ? -1 : x.path > y.path ? 1 : 0));
    for (const f of files) {
      filesRead++;
      bytesRead += f.data.byteLength;
      const hits = await fileHits(f.path, f.data, linter);
      if (!hits.length) continue;
      const deletedBy = copyFate(ix, ix.lookup(f.path), L);
      for (const h of hits.sort((x, y) => x.at - y.at)) {
        findings.push({ rule: h.rule, path: f.path, layer: L, line: lineOf?.layer(L) ?? null, deletedBy, at: h.at, message: h.message });
      }
    }
  }
  for (const g of gitDirectoryHits(ix)) {
    findings.push({ rule: 'git-directory', path: g.path, layer: g.layer, line: lineOf?.layer(g.layer) ?? null, deletedBy: g.deletedBy, at: 1, message: `a .git directory ships (${g.path})` });
  }
  findings.sort((x, y) => (x.layer ?? -1) - (y.layer ?? -1) || (x.path! < y.path! ? -1 : x.path! > y.path! ? 1 : 0) || x.at - y.at);
  for (const h of await historyHits(history, linter)) {
    const entry = history[h.history];
    findings.push({
      rule: h.rule, history: h.history, layer: entry?.layerIndex ?? null, line: lineOf?.history(h.history) ?? null, deletedBy: null, at: h.at, message: h.message,
      ...(h.name !== undefined ? { name: h.name } : {}),
    });
  }
  return { findings, layersRead: layers.length, filesRead, bytesRead };
}

/** LineOf from a Dockerfile mapping: a layer's or entry's own line, else (base image) the FROM line of the chain's first stage. */
export function lineOfMapping(mapping: MappingResult): LineOf {
  const from = mapping.lines.find((l) => l.base);
  return {
    layer: (L) => mapping.lines.find((l) => l.layerIndex === L && !l.base)?.line ?? (from?.base && L < from.base.layerCount ? from.line : null),
    history: (i) => mapping.lines.find((l) => l.historyIndex === i && !l.base)?.line ?? (i < mapping.baseEntryCount && from ? from.line : null),
  };
}
