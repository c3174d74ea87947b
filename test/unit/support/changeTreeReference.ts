// One layer's change rows in the Layers view, computed over the object model (MergedTree: a trie
// of objects built from the layer's change objects) for the differential test of the TreeModel,
// which reads the image index's change trie.
import { nodePath, type LayerChange, type MergedNode, type MergedTree } from '../../../src/core/image/merge';

export interface ChangeRowRef {
  depth: number;
  label: string;
  path: string;
  kind: string | null;
  added: number;
  modified: number;
  deleted: number;
  bytes: number;
}

interface Trie {
  name: string;
  path: string;
  change?: LayerChange;
  children: Map<string, Trie>;
  added: number;
  modified: number;
  deleted: number;
  bytes: number;
}

function trieOf(changes: readonly LayerChange[]): Trie {
  const root: Trie = { name: '', path: '/', children: new Map(), added: 0, modified: 0, deleted: 0, bytes: 0 };
  for (const c of changes) {
    let n = root;
    const trail = [root];
    for (const part of nodePath(c.node).split('/')) {
      if (part === '') continue;
      let next = n.children.get(part);
      if (!next) n.children.set(part, (next = { name: part, path: n.path === '/' ? `/${part}` : `${n.path}/${part}`, children: new Map(), added: 0, modified: 0, deleted: 0, bytes: 0 }));
      n = next;
      trail.push(n);
    }
    n.change = c;
    for (const t of trail) {
      t[c.kind]++;
      t.bytes += c.bytes;
    }
  }
  return root;
}

/** Whether `layer`'s copy of a node is replaced or deleted by a later layer. */
function hiddenLater(layer: number, node: MergedNode): boolean {
  const i = node.copies.findIndex((c) => c.layer === layer);
  if (i < 0) return false;
  if (node.copies.some((c, k) => k > i && !(c.type === 'dir' && node.copies[i].type === 'dir'))) return true;
  return !node.live && node.deletedBy !== null && node.deletedBy > layer;
}

function hasWaste(layer: number, t: Trie): boolean {
  const c = t.change;
  if (c && c.bytes > 0 && (c.kind === 'deleted' || hiddenLater(layer, c.node))) return true;
  return [...t.children.values()].some((k) => hasWaste(layer, k));
}

/** Every change row of `layer`, depth-first in the view's order (directories first, then by name; chains compacted). */
export function changeRowsOfTree(tree: MergedTree, layer: number, wasteOnly: boolean): ChangeRowRef[] {
  const out: ChangeRowRef[] = [];
  const visit = (t: Trie, depth: number): void => {
    const isDir = (k: Trie): number => (k.children.size > 0 || k.change?.node.type === 'dir' ? 0 : 1);
    const kids = [...t.children.values()].sort((a, b) => isDir(a) - isDir(b) || (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
    for (let k of kids) {
      let label = k.name;
      while (!k.change && k.children.size === 1) {
        const only = [...k.children.values()][0];
        if (only.children.size === 0) break;
        label += '/' + only.name;
        k = only;
      }
      if (wasteOnly && !hasWaste(layer, k)) continue;
      out.push({ depth, label, path: k.path, kind: k.change?.kind ?? null, added: k.added, modified: k.modified, deleted: k.deleted, bytes: k.bytes });
      visit(k, depth + 1);
    }
  };
  visit(trieOf(tree.layers[layer].changes), 0);
  return out;
}
