// A worker thread (bundled as dist/blobworker.js) that indexes compressed layer blobs, one job at a
// time: it reads the file, decompresses it (gzip through zlib, zstd through fzstd) and walks the tar
// with the same code as the in-process path (indexLayerAt), then hands the index back as one
// indexCodec record, transferred without a copy. src/sources/blobPool.ts runs a few of these so the
// layers of a compressed OCI layout decompress on all cores instead of one after the other.
import { parentPort } from 'node:worker_threads';
import { indexLayerAt } from '../core/image/tar/archiveSeek';
import { ImageFormatError } from '../core/image/errors';
import { transferableIndex } from '../core/image/indexCodec';
import type { BlobJob, BlobResult } from '../sources/blobPool';
import { openFileAccess } from '../sources/fastRead';


const port = parentPort;

async function run(job: BlobJob): Promise<BlobResult> {
  const f = openFileAccess(job.path);
  try {
    const layer = await indexLayerAt(f.access, 0, f.stat.size, { label: job.label, diffId: job.diffId, maxEntries: job.maxEntries });
    return { id: job.id, ok: true, record: transferableIndex(layer) };
  } finally {
    f.close();
  }
}

port?.on('message', (job: BlobJob) => {
  run(job).then(
    (r) => port.postMessage(r, r.ok ? [r.record] : []),
    (e: unknown) => port.postMessage({
      id: job.id, ok: false, message: e instanceof Error ? e.message : String(e), code: e instanceof ImageFormatError ? e.code : undefined,
    } satisfies BlobResult),
  );
});
