// The image model shared by every part of Layer Lens. Pure data: no I/O, no vscode.

/** Entry types as the CLI's JSON names them. */
export type EntryType = 'file' | 'dir' | 'symlink' | 'hardlink' | 'char' | 'block' | 'fifo';

/** One entry of one layer tar, after path normalization. Whiteout markers are kept as flags. */
export interface LayerEntry {
  /** Absolute path without trailing slash ("/" never appears: the root is implicit). */
  path: string;
  type: EntryType;
  /** Bytes of content in the tar (0 for everything but regular files). */
  size: number;
  /** Permission bits plus setuid/setgid/sticky (mode & 0o7777). */
  mode: number;
  uid: number;
  gid: number;
  /** Symlink target or hardlink target (hardlink targets are absolute, normalized paths). */
  linkname?: string;
  /** mtime in seconds since the epoch. */
  mtime: number;
}

/** The tar header of a whiteout marker: its fields as written, the path it deletes aside. */
export interface WhiteoutHead {
  type: EntryType;
  mode: number;
  uid: number;
  gid: number;
  size: number;
  linkname?: string;
}

/** What one layer tar holds: its entries, its whiteouts and its opaque directories. */
export interface LayerIndex {
  /** sha256 of the uncompressed tar ("sha256:…"), computed while reading. */
  diffId: string;
  /** Regular entries (no whiteout markers), in tar order. */
  entries: LayerEntry[];
  /** Paths deleted by `.wh.NAME` markers (the deleted path, not the marker's). */
  whiteouts: string[];
  /** Directories marked opaque by `.wh..wh..opq`. */
  opaqueDirs: string[];
  /**
   * The header of each `.wh.NAME` marker, in the order of `whiteouts` (what dive's export lists for
   * it). Absent for an index built without its tar (in-memory images): then each is read as the
   * plain marker the engines write (a regular file, mode 0, owner 0:0, empty).
   */
  whiteoutHeads?: WhiteoutHead[];
  /** Sum of regular-file sizes (a hardlink counts once: its tar entry has no content). */
  tarFileBytes: number;
  /** Number of tar entries read, markers included. */
  tarEntries: number;
  /** Bytes of the uncompressed tar stream. */
  tarBytes: number;
  /** How the blob was compressed (detected from its bytes). */
  compression: 'gzip' | 'zstd' | 'none';
  /** Oddities seen while reading (escaping paths, unknown entry types), at most a few dozen. */
  warnings: string[];
}

/** One entry of the image config's history, aligned with layers. */
export interface HistoryEntry {
  index: number;
  createdBy: string;
  created?: string;
  comment?: string;
  emptyLayer: boolean;
  /** Index of the layer this entry created, or null for config-only entries. */
  layerIndex: number | null;
}

export interface ImageConfigSummary {
  os: string;
  architecture: string;
  variant?: string;
  env?: string[];
  cmd?: string[];
  entrypoint?: string[];
  workingDir?: string;
  user?: string;
  labels?: Record<string, string>;
  onBuild?: string[];
}

/** Everything read about an image, from any source, before merging. */
export interface ImageData {
  /** Image id ("sha256:…", the config digest). */
  id: string;
  repoTags: string[];
  config: ImageConfigSummary;
  /** diff_ids from the config, bottom first. */
  diffIds: string[];
  /** One per diffId, bottom first. The same LayerIndex object may appear twice if two layers are identical. */
  layers: LayerIndex[];
  history: HistoryEntry[];
  /**
   * Per layer, bottom first: the directory of the archive member it was read from, the first part
   * of its path in the manifest (a `docker save` layer's id, `blobs` in an OCI layout), which is
   * what dive calls a layer's id. Absent when the layers were not read from members (a registry
   * image; an engine image the cache knows whole, so not exported).
   */
  layerIds?: string[];
  /**
   * Layer sizes as the engine reports them (history `Size`), bottom first, when the source is an
   * engine; undefined for archives and layouts.
   */
  engineLayerSizes?: number[];
  /**
   * Per layer, bottom first, when any layer's index was built from its table of contents (a
   * registry's eStargz or zstd:chunked layer, read with Range requests): that format, else null.
   * Such a layer's blob was not downloaded: its diffID, blob digest and tar size were not checked.
   */
  tocLayers?: Array<'estargz' | 'zstd:chunked' | null>;
  /** Which source the data came from, for messages and size definitions. */
  source: { kind: 'engine' | 'docker-archive' | 'oci' | 'registry'; ref: string };
  /** Oddities met while reading (history/layer count mismatches and the like). */
  warnings: string[];
}
