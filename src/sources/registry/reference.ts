// A registry source string: `registry://HOST[:PORT]/REPO[:TAG|@DIGEST]` (a tag and a digest may
// both be given: the digest wins, as with docker pull). HOST is always the first component, so a
// one-word host (`registry://localhost:5000/app`) needs no dot. Docker Hub is `docker.io`
// (`registry://docker.io/alpine` is `library/alpine`), whose API lives at registry-1.docker.io
// and whose credentials docker keeps under `https://index.docker.io/v1/`.
import { ImageFormatError } from '../../core/image/errors';

export interface RegistryRef {
  /** The host (and port) as written, lower case: the key of certs.d and of the insecure list. */
  host: string;
  /** The host the API is reached at (docker.io → registry-1.docker.io). */
  apiHost: string;
  repo: string;
  tag?: string;
  digest?: string;
}

export const REGISTRY_PREFIX = 'registry://';

const COMPONENT = '[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*';
const REPO_RE = new RegExp(`^${COMPONENT}(?:/${COMPONENT})*$`);
const HOST_RE = /^(?:[a-zA-Z0-9](?:[a-zA-Z0-9-]*[a-zA-Z0-9])?(?:\.[a-zA-Z0-9](?:[a-zA-Z0-9-]*[a-zA-Z0-9])?)*|\[[0-9a-fA-F:.]+\])(?::[0-9]{1,5})?$/;
const TAG_RE = /^[\w][\w.-]{0,127}$/;
const DIGEST_RE = /^sha256:[a-f0-9]{64}$/;

const HUB = new Set(['docker.io', 'index.docker.io', 'registry-1.docker.io']);

function bad(s: string, why: string): ImageFormatError {
  return new ImageFormatError('unsupported', `'${s}' is not a registry reference (${why}); write registry://HOST[:PORT]/REPO[:TAG|@sha256:DIGEST]`);
}

/** Parses `registry://…`; one clear error for anything else. */
export function parseRegistryRef(s: string): RegistryRef {
  if (!s.startsWith(REGISTRY_PREFIX)) throw bad(s, `it does not start with ${REGISTRY_PREFIX}`);
  let rest = s.slice(REGISTRY_PREFIX.length);
  const slash = rest.indexOf('/');
  if (slash <= 0) throw bad(s, 'no repository after the host');
  const host = rest.slice(0, slash).toLowerCase();
  if (!HOST_RE.test(host)) throw bad(s, `invalid host '${rest.slice(0, slash)}'`);
  rest = rest.slice(slash + 1);
  let digest: string | undefined;
  const at = rest.indexOf('@');
  if (at >= 0) {
    digest = rest.slice(at + 1);
    if (!DIGEST_RE.test(digest)) throw bad(s, `invalid digest '${digest}'`);
    rest = rest.slice(0, at);
  }
  let tag: string | undefined;
  const colon = rest.lastIndexOf(':');
  if (colon > rest.lastIndexOf('/')) {
    tag = rest.slice(colon + 1);
    if (!TAG_RE.test(tag)) throw bad(s, `invalid tag '${tag}'`);
    rest = rest.slice(0, colon);
  }
  if (!REPO_RE.test(rest)) throw bad(s, `invalid repository '${rest}' (lower case letters, digits, separators)`);
  const hub = HUB.has(host);
  const repo = hub && !rest.includes('/') ? `library/${rest}` : rest;
  return { host: hub ? 'docker.io' : host, apiHost: hub ? 'registry-1.docker.io' : host, repo, tag: digest ? tag : (tag ?? 'latest'), digest };
}

/** The reference as a source string (what messages and `image.source` show). */
export function formatRegistryRef(r: RegistryRef): string {
  return `${REGISTRY_PREFIX}${r.host}/${r.repo}${r.tag ? ':' + r.tag : ''}${r.digest ? '@' + r.digest : ''}`;
}

/** What the manifest is fetched by: the digest when there is one, else the tag. */
export function manifestRef(r: RegistryRef): string {
  return r.digest ?? r.tag ?? 'latest';
}

/** A loopback host (localhost, 127.0.0.0/8, ::1), with or without a port. */
export function isLoopback(host: string): boolean {
  const h = host.startsWith('[') ? host.slice(1, host.indexOf(']')) : host.replace(/:\d+$/, '');
  return h === 'localhost' || h === '::1' || /^127(?:\.\d{1,3}){3}$/.test(h);
}

/**
 * The registry reference of an image name as docker reads it (a FROM line's base):
 * `alpine:3.20` → `registry://docker.io/library/alpine:3.20`, `ghcr.io/org/app` →
 * `registry://ghcr.io/org/app:latest`. The first component is a registry host when it has a dot
 * or a port, or is `localhost`. Undefined for `scratch` and anything that is no image name.
 */
export function registryRefOfImageName(name: string): string | undefined {
  if (!name || name === 'scratch' || name.includes('$')) return undefined;
  const slash = name.indexOf('/');
  const first = slash > 0 ? name.slice(0, slash) : '';
  const hasHost = first !== '' && (first.includes('.') || first.includes(':') || first === 'localhost');
  const s = REGISTRY_PREFIX + (hasHost ? name : `docker.io/${name}`);
  try {
    parseRegistryRef(s);
    return s;
  } catch {
    return undefined;
  }
}
