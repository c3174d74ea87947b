// The image index against the object model on real and hostile archives: the fuzz corpus (each
// seed and 99 seeded mutations of it) and the bundled example image. Every record, figure,
// change, warning and dive figure must be identical (test/unit/core/image/image-index.test.ts
// holds the comparison and the random stacks).
import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import * as path from 'node:path';
import { gunzipSync } from 'node:zlib';
import { assembleArchive } from '../../src/core/image/tar/archive';
import { readArchiveStream } from '../../src/core/image/tar/archiveStream';
import type { ImageData } from '../../src/core/image/types';
import { buildCorpus } from '../fuzz/corpus';
import { Rng, mutateArchive } from '../fuzz/mutate';
import { repoRoot } from '../support/repo';
import { same } from '../unit/support/indexDiff';

async function imageOf(buf: Buffer): Promise<ImageData> {
  return assembleArchive(await readArchiveStream([buf]), { kind: 'docker-archive', ref: 'diff' });
}

test('image index: the fuzz corpus, mutated, and the bundled example give the object model\'s answers', async () => {
  const seeds = await buildCorpus();
  const r = new Rng(7);
  let compared = 0;
  for (const seed of seeds) {
    for (let m = 0; m < 100; m++) {
      const buf = m === 0 ? seed.buf : mutateArchive(seed.buf, r).buf;
      let image: ImageData;
      try { image = await imageOf(buf); } catch { continue; }
      same(image.layers, `${seed.name} mutation ${m}`);
      compared++;
    }
  }
  assert.ok(compared > 150, `${compared} images compared`);
  const example = await imageOf(gunzipSync(readFileSync(path.join(repoRoot(), 'example', 'image.tar.gz'))));
  assert.ok(example.layers.length > 2);
  same(example.layers, 'example');
});
