// Typed errors of the pure core. Each carries a one-line message fit to show a user as is.

export type FormatErrorCode =
  | 'truncated'        // the stream ended inside an entry or a compressed frame
  | 'corrupt'          // bad checksum, bad compressed data, unparsable JSON
  | 'unsupported'      // a format or media type we do not read
  | 'missing'          // a manifest names a blob or layer the archive does not hold
  | 'limit';           // input exceeds a safety limit (entry count, metadata size, path length)

export class ImageFormatError extends Error {
  constructor(readonly code: FormatErrorCode, message: string) {
    super(message);
    this.name = 'ImageFormatError';
  }
}

/** Thrown when an AbortSignal fires; callers treat it as a quiet cancel. */
export class CancelledError extends Error {
  constructor() {
    super('Cancelled');
    this.name = 'CancelledError';
  }
}

export function throwIfAborted(signal: AbortSignal | undefined): void {
  if (signal?.aborted) throw new CancelledError();
}
