// A worker thread (bundled as dist/blobworker.js) that reads layer blobs, one job at a time:
// - index: reads a blob file, decompresses it (gzip through zlib, zstd through fzstd) and walks
//   the tar with the same code as the in-process path (indexLayerAt), then hands the index back as
//   one indexCodec record, transferred without a copy; with `digests`, the blob and its tar are
//   hashed as they are read;
// - digest: hashes a byte range of a file (a layer in a `docker save`, an uncompressed blob) while
//   the caller walks its headers (src/sources/digests.ts).
// src/sources/blobPool.ts runs a few of these so the layers of a compressed OCI layout decompress
// on all cores instead of one after the other.
import { parentPort } from 'node:worker_threads';
import { indexLayerAt, type BlobDigests } from '../core/image/tar/archiveSeek';
import { ImageFormatError } from '../core/image/errors';
import { transferableIndex } from '../core/image/indexCodec';
import type { BlobJob, BlobResult } from '../sources/blobPool';
import { digestFileRange } from '../sources/digests';
import { openFileAccess } from '../sources/fastRead';

const port = parentPort;

async function run(job: BlobJob): Promise<BlobResult> {
  if (job.kind === 'digest') {
    return { id: job.id, ok: true, digests: await digestFileRange(job.path, job.offset, job.size) };
  }
  const f = openFileAccess(job.path);
  try {
    const digests: BlobDigests | undefined = job.digests ? {} : undefined;
    const layer = await indexLayerAt(f.access, 0, f.stat.size, { label: job.label, diffId: job.diffId, maxEntries: job.maxEntries, digests });
    const found = digests?.blob && digests.tar ? { blob: digests.blob, tar: digests.tar, compression: layer.compression } : undefined;
    return { id: job.id, ok: true, record: transferableIndex(layer), digests: found };
  } finally {
    f.close();
  }
}

port?.on('message', (job: BlobJob) => {
  run(job).then(
    (r) => port.postMessage(r, r.ok && r.record ? [r.record] : []),
    (e: unknown) => port.postMessage({
      id: job.id, ok: false, message: e instanceof Error ? e.message : String(e), code: e instanceof ImageFormatError ? e.code : undefined,
    } satisfies BlobResult),
  );
});
