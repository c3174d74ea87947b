// Layers sidebar scaling (issue 4): the tree model on synthetic images of 10k, 40k and 150k files
// with one directory of 10k entries, 3 layers (overwrites and a whiteout so provenance matters).
// Baseline, in the same run: analyze() of the same image (reading is already done). Printed:
// the time to show the root, to expand the 10k directory (children + a row for each visible one),
// and to list every path for "Find File in Image…", each as a ratio of the baseline.
//   node out/bench/bench-tree.js [--sizes 10000,40000,150000]
import { performance } from 'node:perf_hooks';
import { analyze } from '../src/core/image/analysis';
import { TreeModel } from '../src/core/present/treeModel';
import type { ImageData, LayerEntry, LayerIndex } from '../src/core/image/types';

function layer(entries: LayerEntry[], whiteouts: string[] = []): LayerIndex {
  const bytes = entries.reduce((a, e) => a + e.size, 0);
  return { diffId: '', entries, whiteouts, opaqueDirs: [], tarFileBytes: bytes, tarEntries: entries.length + whiteouts.length, tarBytes: 0, compression: 'none', warnings: [] };
}

function image(files: number): ImageData {
  const e = (path: string, type: LayerEntry['type'], size = 0): LayerEntry => ({ path, type, size, mode: type === 'dir' ? 0o755 : 0o644, uid: 0, gid: 0, mtime: 0 });
  const base: LayerEntry[] = [e('/big', 'dir'), e('/srv', 'dir')];
  for (let i = 0; i < 10_000; i++) base.push(e(`/big/f${i}`, 'file', 100 + (i % 50)));
  const rest = files - 10_000;
  const perDir = 100;
  for (let d = 0; d < rest / perDir; d++) {
    base.push(e(`/srv/d${d}`, 'dir'));
    for (let i = 0; i < perDir; i++) base.push(e(`/srv/d${d}/f${i}`, 'file', 1000));
  }
  const upper: LayerEntry[] = [e('/big', 'dir')];
  for (let i = 0; i < 10_000; i += 10) upper.push(e(`/big/f${i}`, 'file', 200));
  const layers = [layer(base), layer(upper, ['/srv/d0']), layer([e('/app', 'dir'), e('/app/x', 'file', 5)])];
  return {
    id: 'sha256:bench', repoTags: ['bench:tree'], config: { os: 'linux', architecture: 'amd64' }, diffIds: layers.map(() => ''), layers,
    history: layers.map((_, i) => ({ index: i, createdBy: `RUN step ${i}`, emptyLayer: false, layerIndex: i })),
    source: { kind: 'docker-archive', ref: 'bench' }, warnings: [],
  };
}

function time<T>(f: () => T): [T, number] {
  const t0 = performance.now();
  const r = f();
  return [r, performance.now() - t0];
}

const arg = process.argv.indexOf('--sizes');
const sizes = (arg > 0 ? process.argv[arg + 1] : '10000,40000,150000').split(',').map(Number);
console.log('files    analyze(ms)  root(ms) ratio  expand-10k(ms) ratio  all-paths(ms) ratio');
for (const n of sizes) {
  const img = image(n);
  const [a, tAnalyze] = time(() => analyze(img));
  const m = new TreeModel(a);
  const [roots, tRoot] = time(() => m.fileRoots({ wasteOnly: false }).map((el) => m.row(el)));
  const bigEl = m.fileRoots({ wasteOnly: false }).find((el) => m.row(el).label === 'big')!;
  // What the view does on expand: the children, and a row for each (VS Code asks for every item).
  const [kids, tExpand] = time(() => m.children(bigEl).map((k) => m.row(k)));
  const [paths, tPaths] = time(() => { const out: string[] = []; for (const [p] of a.tree.walk()) out.push(p); return out; });
  if (kids.length !== 10_000 || roots.length < 2 || paths.length < n) throw new Error('unexpected tree shape');
  const r = (x: number): string => (x / tAnalyze).toFixed(3);
  console.log(`${String(n).padEnd(8)} ${tAnalyze.toFixed(0).padStart(11)}  ${tRoot.toFixed(1).padStart(8)} ${r(tRoot)}  ${tExpand.toFixed(0).padStart(14)} ${r(tExpand)}  ${tPaths.toFixed(0).padStart(13)} ${r(tPaths)}`);
}
