// Streams tars too big to hold in memory (a million entries is 512 MB of headers): a layer of
// `count` empty regular files made from 512-byte ustar headers, and a docker-save archive around it.
import { member, header } from './rawtar';

export function* manyEmptyEntries(count: number, opts: { dirs?: number; sameName?: boolean } = {}): Generator<Buffer> {
  const dirs = opts.dirs ?? 1000;
  const perChunk = 2048;
  for (let i = 0; i < count;) {
    const n = Math.min(perChunk, count - i);
    const parts: Buffer[] = [];
    for (let k = 0; k < n; k++, i++) {
      const name = opts.sameName ? 'same' : `d${i % dirs}/f${i}`;
      parts.push(header({ name, type: '0', size: 0 }));
    }
    yield Buffer.concat(parts);
  }
  yield Buffer.alloc(1024);
}

/** A `docker save` archive whose one layer is `manyEmptyEntries(count)`, streamed. */
export function* bigSave(count: number, opts: { sameName?: boolean } = {}): Generator<Buffer> {
  const layerBytes = count * 512 + 1024;
  const diffId = 'sha256:' + '0'.repeat(64);
  yield header({ name: 'l0/layer.tar', type: '0', size: layerBytes });
  yield* manyEmptyEntries(count, opts);
  // layerBytes is a multiple of 512: no padding.
  const config = JSON.stringify({ architecture: 'amd64', os: 'linux', rootfs: { type: 'layers', diff_ids: [diffId] }, history: [{ created_by: 'RUN touch many' }] });
  yield member({ name: 'config.json' }, config);
  yield member({ name: 'manifest.json' }, JSON.stringify([{ Config: 'config.json', RepoTags: ['many:1'], Layers: ['l0/layer.tar'] }]));
  yield Buffer.alloc(1024);
}
