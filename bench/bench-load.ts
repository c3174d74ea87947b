// Load benchmark: many Dockerfiles open at once and repeated analyses (and, with an engine,
// repeated builds and event subscriptions) must not leak memory, listeners or handles. Runs N
// cycles (default 50) of what the extension does, through the same core/sources/engine code
// without VS Code:
//   open    every fixture Dockerfile at once: parse, map to the image history, per-line infos and
//           CodeLens labels, the hover's instruction lookup at every line
//   analyze loadImage of the example archive (docker save, 76 MB) → analyze → Layers-view tree
//           model rows → explain of every layer (ImageService.show + tree + hovers)
//   build   with DOCKER_HOST set: POST /build of the example (BuildKit, cached after the first)
//           with the packed context, every message and trace decoded (the Build Image command);
//           plus one events() subscription opened and aborted (the extension's events stream)
//   close   drop every reference
// After each cycle: GC, then RSS, heap used, process listeners and active resources. Prints a
// table every 10 cycles and the last/first ratios (first = after cycle 1, when caches are warm).
//
//   node --expose-gc out/bench/bench-load.js [--cycles N] [--no-engine] [--json]
import { readFileSync, readdirSync, statSync } from 'node:fs';
import * as path from 'node:path';
import { analyze } from '../src/core/image/analysis';
import { parseDockerfile, instructionAtLine } from '../src/core/dockerfile/dockerfile';
import { explainLayer } from '../src/core/present/explain';
import { lensLabel, lineInfos } from '../src/core/present/lines';
import { mapHistory } from '../src/core/dockerfile/mapping';
import { historyFromConfig } from '../test/support/history';
import { TreeModel, type TreeEl } from '../src/core/present/treeModel';
import { decodeTraceAux } from '../src/core/dockerfile/traceWire';
import { createEngineClient } from '../src/engine/docker';
import { resolveEndpointFromProcess } from '../src/engine/endpoint';
import { loadImage } from '../src/sources/load';
import { packContext } from '../src/sources/contextManifest';
import { repoRoot } from '../test/support/repo';


const root = repoRoot();
const arg = (name: string): string | undefined => { const i = process.argv.indexOf(`--${name}`); return i > 0 ? process.argv[i + 1] : undefined; };
const cycles = Number(arg('cycles') ?? 50);
const useEngine = !process.argv.includes('--no-engine') && !!process.env.DOCKER_HOST;
const gc = (globalThis as { gc?: () => void }).gc;

function dockerfiles(): Array<{ name: string; text: string }> {
  const out: Array<{ name: string; text: string }> = [];
  const walk = (d: string): void => {
    for (const n of readdirSync(d)) {
      const p = path.join(d, n);
      if (statSync(p).isDirectory()) walk(p);
      else if (n === 'Dockerfile') out.push({ name: path.relative(root, p), text: readFileSync(p, 'utf8') });
    }
  };
  walk(path.join(root, 'test', 'fixtures'));
  out.push({ name: 'example/Dockerfile', text: readFileSync(path.join(root, 'example', 'Dockerfile'), 'utf8') });
  return out;
}

interface Sample { cycle: number; rssMB: number; heapMB: number; listeners: number; resources: number; ms: number }

function listenerCount(): number {
  return (process.eventNames() as Array<string | symbol>).reduce((n, e) => n + process.listenerCount(e), 0);
}

function resources(): number {
  // Timers, sockets, file handles… still open (the bench's own nothing once a cycle ends).
  return process.getActiveResourcesInfo().filter((r) => r !== 'TTYWrap').length;
}

async function main(): Promise<void> {
  if (!gc) throw new Error('run with node --expose-gc');
  const files = dockerfiles();
  const archive = path.join(root, 'example', 'image.tar.gz');
  const engine = useEngine ? createEngineClient(resolveEndpointFromProcess()) : undefined;
  const samples: Sample[] = [];
  let buildMessages = 0;
  let events = 0;
  for (let c = 1; c <= cycles; c++) {
    const t0 = Date.now();
    // analyze (the shown image)
    const image = await loadImage({ kind: 'docker-archive', path: archive });
    const a = analyze(image);
    const model = new TreeModel(a);
    const queue: TreeEl[] = [...model.layerRoots(), ...model.fileRoots({ wasteOnly: false })];
    for (let n = 0; queue.length && n < 3000; n++) {
      const el = queue.shift()!;
      const row = model.row(el);
      row.tooltip();
      if (row.collapsible !== 'none') queue.push(...model.children(el));
    }
    for (let l = 0; l < a.tree.layers.length; l++) explainLayer(a, l);
    // open every Dockerfile at once (CodeLens + hover work for each)
    const history = historyFromConfig(image.history.map((h) => ({ created_by: h.createdBy, empty_layer: h.emptyLayer })));
    const sizes = image.history.map((h) => (h.layerIndex === null ? 0 : a.layerSizes[h.layerIndex] ?? 0));
    const open = files.map((f) => {
      const m = parseDockerfile(f.text);
      const infos = lineInfos(mapHistory(m, history, { entrySizes: sizes }), sizes);
      infos.forEach(lensLabel);
      for (let line = 1; line <= f.text.split('\n').length; line++) instructionAtLine(m, line);
      return { m, infos };
    });
    // build + events (engine only)
    if (engine) {
      const ctx = packContext(path.join(root, 'example'));
      for await (const msg of engine.build(ctx.tar, { dockerfile: 'Dockerfile', tag: 'layerlens-bench/load:latest', version: '2', networkmode: 'none' })) {
        buildMessages++;
        if (msg.id === 'moby.buildkit.trace' && typeof msg.aux === 'string') decodeTraceAux(msg.aux);
        if (msg.error) throw new Error(`build failed: ${msg.error}`);
      }
      await ctx.manifest;
      const ac = new AbortController();
      const sub = (async () => { for await (const _ of engine.events(ac.signal, { minBackoffMs: 50 })) events++; })();
      await new Promise((r) => setTimeout(r, 50));
      ac.abort();
      await sub;
    }
    // close
    open.length = 0;
    const ms = Date.now() - t0;
    await new Promise((r) => setImmediate(r));
    gc();
    gc();
    const mem = process.memoryUsage();
    samples.push({ cycle: c, rssMB: mem.rss / 2 ** 20, heapMB: mem.heapUsed / 2 ** 20, listeners: listenerCount(), resources: resources(), ms });
    if (c === 1 || c % 10 === 0 || c === cycles) {
      const s = samples[samples.length - 1];
      process.stdout.write(`cycle ${String(c).padStart(3)}: rss ${s.rssMB.toFixed(1)} MB, heap ${s.heapMB.toFixed(1)} MB, listeners ${s.listeners}, active resources ${s.resources}, ${s.ms} ms\n`);
    }
  }
  const first = samples[0];
  const last = samples[samples.length - 1];
  const result = {
    cycles, dockerfiles: files.length, engine: !!engine, buildMessages, events,
    rssFirstMB: +first.rssMB.toFixed(1), rssLastMB: +last.rssMB.toFixed(1), rssRatio: +(last.rssMB / first.rssMB).toFixed(3),
    heapFirstMB: +first.heapMB.toFixed(1), heapLastMB: +last.heapMB.toFixed(1), heapRatio: +(last.heapMB / first.heapMB).toFixed(3),
    listenersFirst: first.listeners, listenersLast: last.listeners, resourcesFirst: first.resources, resourcesLast: last.resources,
  };
  process.stdout.write(`bench-load: ${cycles} cycles × (${files.length} Dockerfiles open, analyze example${engine ? ', build, events' : ''}): `
    + `RSS last/first ${result.rssRatio} (${result.rssFirstMB} → ${result.rssLastMB} MB), heap last/first ${result.heapRatio} `
    + `(${result.heapFirstMB} → ${result.heapLastMB} MB), listeners ${result.listenersFirst} → ${result.listenersLast}, `
    + `active resources ${result.resourcesFirst} → ${result.resourcesLast}\n`);
  if (process.argv.includes('--json')) process.stdout.write(JSON.stringify(result) + '\n');
}

main().catch((e: Error) => { process.stderr.write(`bench-load: ${e.stack ?? e.message}\n`); process.exitCode = 1; });
