// The house as docs/architecture.md draws it: every import between folders of src/ is an edge its
// table allows (type-only imports included), no folder holds more than 15 .ts files directly, and
// no import cycle exists between files.
import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import * as path from 'node:path';
import { repoRoot } from '../support/repo';

const root = repoRoot();

/** Every .ts file below src/, as '/'-separated paths relative to the repository. */
function sourceFiles(): string[] {
  return (readdirSync(path.join(root, 'src'), { recursive: true }) as string[])
    .filter((f) => f.endsWith('.ts'))
    .map((f) => `src/${f.split(path.sep).join('/')}`)
    .sort();
}

/** Relative imports of a file (import … from, export … from, import(), require()), resolved to files. */
export function importsOf(file: string, text: string): string[] {
  const out: string[] = [];
  const re = /\bfrom\s*['"](\.{1,2}\/[^'"]+)['"]|\bimport\s*\(\s*['"](\.{1,2}\/[^'"]+)['"]\s*\)|\brequire\s*\(\s*['"](\.{1,2}\/[^'"]+)['"]\s*\)|^\s*import\s*['"](\.{1,2}\/[^'"]+)['"]/gm;
  for (const m of text.matchAll(re)) {
    const spec = m[1] ?? m[2] ?? m[3] ?? m[4];
    const base = path.posix.normalize(path.posix.join(path.posix.dirname(file), spec));
    const hit = [`${base}.ts`, `${base}/index.ts`].find((c) => existsSync(path.join(root, c)));
    if (hit) out.push(hit);
  }
  return out;
}

/** The folders of the table in docs/architecture.md and what each may import. */
function documentedFolders(): Map<string, Set<string>> {
  const doc = readFileSync(path.join(root, 'docs/architecture.md'), 'utf8');
  const rows = new Map<string, Set<string>>();
  for (const line of doc.split('\n')) {
    const cells = line.split('|').map((c) => c.trim());
    if (cells.length < 5 || !/^`src\//.test(cells[1])) continue;
    const names = (c: string): string[] => [...c.matchAll(/`([^`]+)`/g)].map((m) => m[1]);
    rows.set(names(cells[1])[0], new Set(names(cells[3])));
  }
  return rows;
}

/** The documented folder a file belongs to: the longest row that is the file or a folder above it. */
function folderOf(file: string, folders: Iterable<string>): string | undefined {
  let best: string | undefined;
  for (const f of folders) if ((file === f || file.startsWith(f + '/')) && (!best || f.length > best.length)) best = f;
  return best;
}

test('docs/architecture.md: every folder of src/ has a row, and every import between folders is an edge it allows', () => {
  const rows = documentedFolders();
  assert.ok(rows.size >= 9, `the table has ${rows.size} rows`);
  const files = sourceFiles();
  const bad: string[] = [];
  let edges = 0;
  for (const f of files) {
    const from = folderOf(f, rows.keys());
    if (!from) { bad.push(`${f} is in no folder of the table`); continue; }
    for (const t of importsOf(f, readFileSync(path.join(root, f), 'utf8'))) {
      const to = folderOf(t, rows.keys());
      if (!to || to === from) continue;
      edges++;
      if (!rows.get(from)!.has(to)) bad.push(`${f} imports ${t}: ${from} may not import ${to}`);
    }
  }
  assert.deepEqual(bad, []);
  assert.ok(edges > 50, `${edges} imports between folders seen`);
});

test('no folder under src/ holds more than 15 .ts files directly', () => {
  const perDir = new Map<string, number>();
  for (const f of sourceFiles()) perDir.set(path.posix.dirname(f), (perDir.get(path.posix.dirname(f)) ?? 0) + 1);
  const over = [...perDir].filter(([, n]) => n > 15).map(([d, n]) => `${d}: ${n}`);
  assert.deepEqual(over, []);
});

/** The import cycles among `files` (Tarjan's strongly connected components of more than one file, or a file importing itself), each as one path round it. */
export function importCycles(graph: ReadonlyMap<string, readonly string[]>): string[][] {
  const index = new Map<string, number>();
  const low = new Map<string, number>();
  const stack: string[] = [];
  const onStack = new Set<string>();
  const components: string[][] = [];
  let next = 0;
  const visit = (v: string): void => {
    index.set(v, next);
    low.set(v, next);
    next++;
    stack.push(v);
    onStack.add(v);
    for (const w of graph.get(v) ?? []) {
      if (!index.has(w)) {
        visit(w);
        low.set(v, Math.min(low.get(v)!, low.get(w)!));
      } else if (onStack.has(w)) {
        low.set(v, Math.min(low.get(v)!, index.get(w)!));
      }
    }
    if (low.get(v) !== index.get(v)) return;
    const scc: string[] = [];
    for (let w = stack.pop()!; ; w = stack.pop()!) {
      onStack.delete(w);
      scc.push(w);
      if (w === v) break;
    }
    if (scc.length > 1 || (graph.get(v) ?? []).includes(v)) components.push(scc);
  };
  for (const v of [...graph.keys()].sort()) if (!index.has(v)) visit(v);
  // One cycle per component, for the message: the shortest way from its first file back to itself.
  return components.map((scc) => {
    const inside = new Set(scc);
    const start = [...scc].sort()[0];
    const from = new Map<string, string>();
    const queue = [start];
    for (let i = 0; i < queue.length; i++) {
      for (const w of graph.get(queue[i]) ?? []) {
        if (!inside.has(w)) continue;
        if (w === start) {
          const path = [start];
          for (let at = queue[i]; at !== start; at = from.get(at)!) path.splice(1, 0, at);
          return [...path, start];
        }
        if (!from.has(w)) { from.set(w, queue[i]); queue.push(w); }
      }
    }
    return [start, start];
  });
}

test('no import cycle between files of src/, type-only imports included', () => {
  const graph = new Map(sourceFiles().map((f) => [f, importsOf(f, readFileSync(path.join(root, f), 'utf8'))]));
  assert.ok(graph.size > 50, `${graph.size} files read`);
  assert.deepEqual(importCycles(graph).map((c) => c.join(' -> ')), []);
});

test('the cycle finder sees a cycle through type-only imports, a self-import, and no cycle in a diamond', () => {
  const g = new Map<string, string[]>([
    ['a.ts', ['b.ts']], ['b.ts', ['c.ts', 'd.ts']], ['c.ts', ['a.ts']], ['d.ts', []],
    ['e.ts', ['e.ts']],
    ['f.ts', ['g.ts', 'h.ts']], ['g.ts', ['i.ts']], ['h.ts', ['i.ts']], ['i.ts', []],
  ]);
  assert.deepEqual(importCycles(g), [['a.ts', 'b.ts', 'c.ts', 'a.ts'], ['e.ts', 'e.ts']]);
  const typeOnly = importsOf('src/vscode/codelens.ts', "import type { LayerLensContext } from './context';");
  assert.deepEqual(typeOnly, ['src/vscode/context.ts']);
});

test('the import reader sees every form of import the code uses', () => {
  const text = [
    "import { a } from './merge';", "import type { B } from '../image/types';", "export { c } from './indexCodec';",
    "const d = await import('./summary');", "const e = require('./efficiency');", "import './oci';",
    "import {\n  f,\n} from './tar/paths';", "import { g } from 'node:fs';", "import { h } from './missing';",
  ].join('\n');
  assert.deepEqual(importsOf('src/core/image/analysis.ts', text).sort(), [
    'src/core/image/efficiency.ts', 'src/core/image/indexCodec.ts', 'src/core/image/merge.ts', 'src/core/image/oci.ts',
    'src/core/image/summary.ts', 'src/core/image/tar/paths.ts', 'src/core/image/types.ts',
  ]);
});
