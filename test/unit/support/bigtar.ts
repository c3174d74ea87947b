// Streams tars too big to hold in memory (a million entries is 512 MB of headers): a layer of
// `count` empty regular files made from 512-byte ustar headers, and a docker-save archive around it.
import { member, header } from './rawtar';

export function* manyEmptyEntries(count: number, opts: { dirs?: number; sameName?: boolean } = {}): Generator<Buffer> {
  const dirs = opts.dirs ?? 1000;
  const perChunk = 2048;
  // Every header is header({ name, type: '0', size: 0 }): one template, its name and checksum filled in
  // per entry (the time a case measures is then the product's, not the making of its input).
  const template = header({ name: '', type: '0', size: 0 });
  let base = 0;
  for (let i = 0; i < 512; i++) base += i >= 148 && i < 156 ? 0x20 : template[i];
  for (let i = 0; i < count;) {
    const n = Math.min(perChunk, count - i);
    const chunk = Buffer.allocUnsafe(n * 512);
    for (let k = 0; k < n; k++, i++) {
      const at = k * 512;
      template.copy(chunk, at);
      const name = opts.sameName ? 'same' : `d${i % dirs}/f${i}`;
      let sum = base;
      for (let j = 0; j < name.length; j++) {
        const c = name.charCodeAt(j);
        chunk[at + j] = c;
        sum += c;
      }
      chunk.write(sum.toString(8).padStart(6, '0') + '\0 ', at + 148, 'latin1');
    }
    yield chunk;
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
