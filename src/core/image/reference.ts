// Image references as Docker names them (`ubuntu`, `ubuntu:22.04`, `ghcr.io/org/app:1.0`,
// `localhost:5000/app@sha256:…`), compared in their full form: `ubuntu` is
// `docker.io/library/ubuntu:latest`, as `docker save` and `docker load` read it. Used to pick an
// image out of a source that holds several (a `docker save` of many tags, an OCI layout).
import { ImageFormatError } from './errors';

/**
 * The full form of a reference: registry (docker.io when the first component is not a host),
 * `library/` for a one-component Docker Hub name, and `:latest` when it has neither tag nor digest.
 * Undefined for what is not a reference (empty, or with an empty component).
 */
export function fullReference(ref: string): string | undefined {
  const at = ref.indexOf('@');
  const digest = at >= 0 ? ref.slice(at) : '';
  let name = at >= 0 ? ref.slice(0, at) : ref;
  let tag = '';
  const colon = name.lastIndexOf(':');
  if (colon > name.lastIndexOf('/')) {
    tag = name.slice(colon);
    name = name.slice(0, colon);
  }
  if (!name || name.split('/').some((c) => c === '') || tag === ':') return undefined;
  const slash = name.indexOf('/');
  const first = slash < 0 ? '' : name.slice(0, slash);
  let domain = 'docker.io';
  let path = name;
  if (first && (first.includes('.') || first.includes(':') || first === 'localhost')) {
    domain = first === 'index.docker.io' ? 'docker.io' : first;
    path = name.slice(slash + 1);
  }
  if (domain === 'docker.io' && !path.includes('/')) path = `library/${path}`;
  if (!tag && !digest) tag = ':latest';
  return `${domain}/${path}${tag}${digest}`;
}

/** The two name the same image (`ubuntu` and `docker.io/library/ubuntu:latest` do). */
export function sameReference(a: string, b: string): boolean {
  if (a === b) return true;
  const fa = fullReference(a);
  return fa !== undefined && fa === fullReference(b);
}

/** `@N`: the N-th image of a source (skopeo's source index), for sources whose images have no name. */
export function sourceIndex(ref: string): number | undefined {
  return /^@\d{1,6}$/.test(ref) ? Number(ref.slice(1)) : undefined;
}

/**
 * A source holds no image by the reference asked for, or several images and no reference was
 * given: the message lists what it holds (one line).
 */
export class ImageChoiceError extends ImageFormatError {
  constructor(what: string, readonly held: string[]) {
    const list = held.length > 12 ? [...held.slice(0, 12), `… ${held.length - 12} more`] : held;
    super('missing', `${what}; it holds: ${list.join(', ') || 'no image'}`);
  }
}
