// An ImageData around indexed layers, one history entry per layer, for tests that analyze stacks.
import type { ImageData } from '../../../src/core/image/types';

export function imageOfLayers(layers: ImageData['layers']): ImageData {
  return {
    id: 'sha256:' + 'cd'.repeat(32), repoTags: [], config: { os: 'linux', architecture: 'amd64' },
    diffIds: layers.map((l) => l.diffId), layers,
    history: layers.map((_, i) => ({ index: i, createdBy: `/bin/sh -c step ${i}`, emptyLayer: false, layerIndex: i })),
    source: { kind: 'docker-archive', ref: 'mem' }, warnings: [],
  };
}
