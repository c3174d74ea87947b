// The narrow interface Layer Lens needs from a container engine (Docker or Podman's Docker API).
// Only the calls we use; everything else in the product goes through this, so engine images and
// saved/OCI archives reach the same parser (the export stream is a `docker save` archive).
import type { Readable } from 'node:stream';
import type { BuildStreamMessage } from '../core/dockerfile/traceWire';

/** Where the engine was found, as the docker CLI would resolve it. */
export interface EngineEndpoint {
  kind: 'unix' | 'tcp' | 'ssh' | 'npipe';
  /** The DOCKER_HOST-style URL, e.g. unix:///var/run/docker.sock, tcp://h:2376, ssh://u@h:22 */
  url: string;
  /** How it was chosen: 'DOCKER_HOST', 'context:NAME', 'default', 'podman'. */
  origin: string;
  socketPath?: string;
  host?: string;
  port?: number;
  username?: string;
  tls?: { ca?: Buffer; cert?: Buffer; key?: Buffer; verify: boolean };
}

export interface EngineImageInspect {
  id: string;
  repoTags: string[];
  size: number;
  os: string;
  architecture: string;
  created?: string;
  /** rootfs diff_ids as the engine reports them, bottom first. */
  diffIds: string[];
}

/** One `docker history` row, as the API returns it (newest first). */
export interface EngineHistoryItem {
  id: string;
  created: number;
  createdBy: string;
  size: number;
  comment: string;
  tags: string[];
}

export interface EngineImageSummary {
  id: string;
  repoTags: string[];
  created: number;
  size: number;
}

/**
 * One JSON message of the POST /build response stream, as the engine sends it: `id`
 * `moby.buildkit.trace` (aux: base64 protobuf StatusResponse) or `moby.image.id` (aux: {ID}).
 */
export type BuildMessage = BuildStreamMessage;

export interface BuildOptions {
  /** Path of the Dockerfile inside the context tar. */
  dockerfile: string;
  /** Name to tag the result with (`t`). */
  tag: string;
  buildargs?: Record<string, string>;
  /** Stage to build (empty/undefined: the last). */
  target?: string;
  /** '2' BuildKit, '1' the legacy builder. */
  version: '1' | '2';
  /** `networkmode` for RUN steps (e.g. 'host', 'none'); engine default when unset. */
  networkmode?: string;
  nocache?: boolean;
}

/** One engine event (GET /events), reduced to what Layer Lens reacts to. */
export interface EngineEvent {
  /** 'image', 'container', … (only image events are asked for). */
  type: string;
  /** e.g. tag, untag, delete, load, import, pull, push, save. */
  action: string;
  /** The image id (or reference) the event is about. */
  id: string;
  /** The reference named in the event, when the engine gives one (Actor.Attributes.name). */
  name?: string;
  /** Seconds since the epoch. */
  time: number;
}

export interface EventStreamOptions {
  /** Told when the stream connects, and when it drops (with why) before a reconnect. */
  onState?: (state: 'connected' | 'disconnected', error?: EngineError) => void;
  /** First and longest wait between reconnects, in ms (defaults 1000 and 30000; doubled per failure). */
  minBackoffMs?: number;
  maxBackoffMs?: number;
}

export interface EngineClient {
  readonly endpoint: EngineEndpoint;
  ping(signal?: AbortSignal): Promise<void>;
  inspectImage(name: string, signal?: AbortSignal): Promise<EngineImageInspect>;
  history(name: string, signal?: AbortSignal): Promise<EngineHistoryItem[]>;
  listImages(signal?: AbortSignal): Promise<EngineImageSummary[]>;
  /** GET /images/{name}/get: the image as a `docker save` tar stream. */
  exportImage(name: string, signal?: AbortSignal): Promise<Readable>;
  /**
   * POST /build with a tar context: the response's JSON messages as they arrive. Errors before the
   * stream starts (bad options, unsupported builder version) and transport failures are
   * EngineErrors; a failing step arrives as a message with `error`.
   */
  build(contextTar: Readable, opts: BuildOptions, signal?: AbortSignal): AsyncIterable<BuildMessage>;
  /**
   * GET /events for images, as they happen. Never ends on its own: when the engine is unreachable
   * or the connection drops, it waits (exponential backoff) and reconnects; it ends when `signal`
   * aborts. Errors are reported through `opts.onState`, never thrown.
   */
  events(signal: AbortSignal, opts?: EventStreamOptions): AsyncIterable<EngineEvent>;
}

/** Errors the adapter raises; each has a one-line message fit for users. */
export class EngineError extends Error {
  constructor(
    readonly code: 'unavailable' | 'permission' | 'not-found' | 'protocol' | 'aborted',
    message: string,
  ) {
    super(message);
    this.name = 'EngineError';
  }
}
