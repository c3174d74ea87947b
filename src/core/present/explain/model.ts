// What explaining a layer takes and gives: the instruction a layer came from, the options, and
// the explanation's data (copy-ups, deletions, bytes shipped below, write-heavy paths, suggestions).
import type { Analysis } from '../../image/analysis';
import { type DeleteHow } from '../../image/merge';

export const DEFAULT_BIG_FILE_THRESHOLD = 10_000_000;
/** Toolchain bytes below this are not worth a multi-stage suggestion. */
export const MULTI_STAGE_MIN_BYTES = 1_000_000;

// ---------------------------------------------------------------------------------------------
// What explain needs from the Dockerfile ↔ image mapping

/** A Dockerfile instruction (or, without a Dockerfile, a history entry) behind a layer. */
export interface InstructionRef {
  /** Upper-case keyword: RUN, COPY, ... ('' when unknown). */
  keyword: string;
  /** The instruction as the user wrote it, on one line (continuations joined). */
  text: string;
  /** 1-based Dockerfile lines, when the instruction comes from a Dockerfile. */
  line?: number;
  endLine?: number;
  /** COPY/ADD: sources and destination as written (after substitution); from: `--from` value. */
  copy?: { sources: string[]; dest: string; from: string | null } | null;
  /** Where the text comes from. */
  origin: 'dockerfile' | 'history';
}

export interface ExplainOptions {
  /** The instruction behind a layer, from the Dockerfile mapping. Missing: the history entry is used. */
  instructionOf?: (layer: number) => InstructionRef | undefined;
  /** Modified files at least this big are called out (setting layerLens.hover.bigFileThreshold). */
  bigFileThreshold?: number;
  /** How many paths lists show. */
  maxItems?: number;
}

// ---------------------------------------------------------------------------------------------
// The data

export interface PathBytes {
  path: string;
  bytes: number;
}

export interface CopyUp {
  path: string;
  /** Bytes this layer stores for the file (the whole file). */
  bytes: number;
  /** Bytes of the lower copy, still shipped in `lowerLayer`. */
  lowerBytes: number;
  lowerLayer: number;
  /** Same size, different mode/owner: what a chmod/chown does. */
  metadataOnly: boolean;
}

export interface Deletion {
  path: string;
  how: DeleteHow;
  /** Live file bytes the deletion made invisible. */
  bytes: number;
}

/** Bytes one lower layer still ships although this layer deleted or replaced them. */
export interface ShippedBelow {
  layer: number;
  bytes: number;
  files: number;
  /** Largest paths first. */
  paths: PathBytes[];
}

/** Bytes of this layer that a later layer made invisible. */
export interface HiddenLater {
  byLayer: number;
  how: 'deleted' | 'overwritten';
  bytes: number;
  files: number;
  paths: PathBytes[];
}

export type PathCategory = 'database' | 'log' | 'package-log' | 'cache' | 'temp' | 'apt-lists';

export interface WriteHeavy {
  /** The rule's directory (e.g. /var/lib/mysql) or, for home caches, the matched directory. */
  dir: string;
  category: PathCategory;
  /** What lives there ("MySQL data", "pip cache"). */
  what: string;
  bytes: number;
  files: number;
  /** Package-manager cache that a `RUN --mount=type=cache` can hold instead of the layer. */
  cacheMount: boolean;
}

export type SuggestionId = 'fold-cleanup' | 'apt-lists' | 'apt-no-recommends' | 'apt-cache' | 'dockerignore'
  | 'multi-stage' | 'cache-mount' | 'volume' | 'tmp-mount' | 'fold-chmod' | 'fold-change';

export interface Suggestion {
  id: SuggestionId;
  /** One line, inline markup (see `code`/`bold`). */
  text: string;
  /** Bytes the suggestion would keep out of the image (0 when it is not about size). */
  bytes: number;
  /** Paths it names (image paths; for dockerignore: build-context paths). */
  paths?: string[];
  /** The layer it concerns when not this one (e.g. the RUN to fold a cleanup into). */
  layer?: number;
}

export interface LayerExplanation {
  layer: number;
  layerCount: number;
  instruction: InstructionRef | undefined;
  /** The instruction behind every layer of the image (for naming other layers). */
  instructions: Array<InstructionRef | undefined>;
  diffId: string;
  size: number;
  sizeDefinition: Analysis['sizeDefinition'];
  imageSize: number;
  /** Regular-file bytes in the layer tar. */
  fileBytes: number;
  entries: number;
  added: { count: number; bytes: number };
  modified: { count: number; bytes: number };
  deleted: { count: number; bytes: number };
  copyUps: CopyUp[];
  copyUpBytes: number;
  metadataOnlyBytes: number;
  metadataOnlyCount: number;
  bigWrites: CopyUp[];
  bigFileThreshold: number;
  deletions: Deletion[];
  /** What this layer's deletions hid, by the lower layer that still ships it. */
  deletedShipped: ShippedBelow[];
  /** Deleted bytes whose shipping layer cannot be told (paths recreated later). */
  deletedUnattributed: number;
  /** Lower copies this layer replaced, by the lower layer that still ships them. */
  overwrittenBelow: ShippedBelow[];
  /** This layer's bytes that later layers made invisible. */
  hiddenLater: HiddenLater[];
  hiddenBytes: number;
  largest: PathBytes[];
  writeHeavy: WriteHeavy[];
  toolchain: { bytes: number; groups: Array<{ what: string; bytes: number; dir: string }> };
  apt: { install: boolean; noInstallRecommends: boolean; listsBytes: number; cacheBytes: number };
  /** COPY/ADD: large or usually-unneeded files, with their build-context paths when known. */
  copiedCandidates: Array<{ path: string; contextPath: string | null; bytes: number; reason: 'large' | 'unneeded' }>;
  empty: boolean;
  suggestions: Suggestion[];
}

export function isRun(ins: InstructionRef | undefined): boolean {
  return ins?.keyword === 'RUN';
}

export function isContextCopy(ins: InstructionRef | undefined): boolean {
  return (ins?.keyword === 'COPY' || ins?.keyword === 'ADD') && !(ins.copy?.from);
}

/** `RUN ...` trimmed to `max` characters. */
export function shortInstruction(ins: InstructionRef | undefined, max = 72): string {
  if (!ins) return '(unknown instruction)';
  const t = ins.text.replace(/\s+/g, ' ').trim();
  return t.length > max ? t.slice(0, max - 1) + '…' : t;
}
