// `layerlens export`: dive's JSON export (`dive IMAGE --json FILE`), field for field, so that a
// pipeline reading dive's file reads this one. Per layer: its index, id (the archive member's
// directory), diffID, size (its tar's file bytes, as dive counts them), command and file list;
// for the image: its size, wasted bytes, efficiency and the paths dive calls inefficient.
//
// A layer's file list is dive's layer tree walked children first, names in byte order: every
// entry of the layer's tar (the last of a path's entries), the `.wh.NAME` markers with their own
// headers, and a zero record for a directory the tar never names (dive adds it bare). Opaque and
// AUFS markers are not in it, as in dive's.
import type { Analysis } from '../image/analysis';
import { ENTRY_TYPES, layerTableOf } from '../image/index/layerTable';
import type { EntryType } from '../image/types';
import { SCHEMA_VERSION } from './report';

/** One tar header as dive's export gives it (Go's filetree.FileInfo). */
export interface DiveFileInfo {
  path: string;
  typeFlag: number;
  linkName: string;
  size: number;
  fileMode: number;
  uid: number;
  gid: number;
  isDir: boolean;
}

export interface DiveExportLayer {
  index: number;
  id: string;
  digestId: string;
  sizeBytes: number;
  command: string;
  fileList: DiveFileInfo[];
}

export interface DiveExportImage {
  sizeBytes: number;
  inefficientBytes: number;
  efficiencyScore: number;
  fileReference: Array<{ count: number; sizeBytes: number; file: string }>;
}

/** tar type flags ('0', '1', …) by entry type. */
export const TYPE_FLAG: Readonly<Record<EntryType, number>> = { file: 48, hardlink: 49, symlink: 50, char: 51, block: 52, dir: 53, fifo: 54 };

/** Go's os.FileMode of a tar header (archive/tar's FileInfo().Mode()), from its type and mode bits. */
export function goFileMode(type: EntryType, mode: number): number {
  let m = mode & 0o777;
  if (mode & 0o4000) m += 2 ** 23; // ModeSetuid
  if (mode & 0o2000) m += 2 ** 22; // ModeSetgid
  if (mode & 0o1000) m += 2 ** 20; // ModeSticky
  if (type === 'dir') m += 2 ** 31; // ModeDir
  else if (type === 'symlink') m += 2 ** 27; // ModeSymlink
  else if (type === 'char') m += 2 ** 26 + 2 ** 21; // ModeDevice | ModeCharDevice
  else if (type === 'block') m += 2 ** 26; // ModeDevice
  else if (type === 'fifo') m += 2 ** 25; // ModeNamedPipe
  return m;
}

/** The record dive gives a directory its tree holds without a header of its own. */
const BARE: Omit<DiveFileInfo, 'path'> = { typeFlag: 0, linkName: '', size: 0, fileMode: 0, uid: 0, gid: 0, isDir: false };

/** Go's sort.Strings: byte order of the UTF-8 encodings (code point order). */
function byteOrder(a: string, b: string): number {
  if (a === b) return 0;
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) {
    const x = a.codePointAt(i)!;
    const y = b.codePointAt(i)!;
    if (x !== y) return x < y ? -1 : 1;
    if (x > 0xffff) i++;
  }
  return a.length - b.length;
}

interface TreeNode { children: Map<string, TreeNode>; info?: DiveFileInfo }

function child(parent: TreeNode, name: string): TreeNode {
  let c = parent.children.get(name);
  if (!c) { c = { children: new Map() }; parent.children.set(name, c); }
  return c;
}

/** dive's file list of layer i. */
export function diveFileList(a: Analysis, i: number): DiveFileInfo[] {
  const t = layerTableOf(a.image.layers[i]);
  const c = t.cols;
  const root: TreeNode = { children: new Map() };
  // Our trie's node → dive's node (the same path), made with its ancestors when first reached.
  const mapped = new Map<number, TreeNode>([[0, root]]);
  const nodeOf = (n: number): TreeNode => {
    let d = mapped.get(n);
    if (!d) {
      d = child(nodeOf(c.nodeParent[n]), c.names[c.nodeName[n]]);
      mapped.set(n, d);
    }
    return d;
  };
  const rel = (p: string): string => p.slice(1);
  for (let e = 0; e < c.entNode.length; e++) {
    const type = ENTRY_TYPES[c.entType[e]];
    const node = nodeOf(c.entNode[e]);
    const link = c.entLink[e] >= 0 ? c.links[c.entLink[e]] : '';
    node.info = {
      path: rel(t.pathOf(c.entNode[e])), typeFlag: TYPE_FLAG[type],
      // A hardlink's target is kept as an absolute path; dive shows it as the tar names it (relative).
      linkName: type === 'hardlink' ? rel(link) : link,
      size: c.entSize[e], fileMode: goFileMode(type, c.entMode[e]), uid: c.entUid[e], gid: c.entGid[e], isDir: type === 'dir',
    };
  }
  t.whiteouts.forEach((w, k) => {
    const h = t.whiteoutHead(k);
    // The marker's own path: `.wh.` before the deleted name (a bare `.wh.` marks its directory: "dir/").
    const cut = w.endsWith('/') ? w.length - 1 : w.lastIndexOf('/');
    const dir = w.slice(0, cut);
    const name = '.wh.' + w.slice(cut + 1);
    const parent = dir === '' ? root : nodeOf(c.whiteNode[k] === c.whiteRaw[k] ? c.nodeParent[c.whiteRaw[k]] : c.whiteNode[k]);
    child(parent, name).info = {
      path: rel(`${dir}/${name}`), typeFlag: TYPE_FLAG[h.type], linkName: h.type === 'hardlink' ? rel(h.linkname ?? '/') : h.linkname ?? '',
      size: h.size, fileMode: goFileMode(h.type, h.mode), uid: h.uid, gid: h.gid, isDir: h.type === 'dir',
    };
  });
  const out: DiveFileInfo[] = [];
  const visit = (n: TreeNode): void => {
    for (const name of [...n.children.keys()].sort(byteOrder)) {
      const k = n.children.get(name)!;
      visit(k);
      out.push(k.info ?? { path: '', ...BARE });
    }
  };
  visit(root);
  return out;
}

/** dive's figures for the image, and the paths it calls inefficient in its export's order. */
export function diveExportImage(a: Analysis): DiveExportImage {
  return {
    sizeBytes: a.image.layers.reduce((s, l) => s + l.tarFileBytes, 0),
    inefficientBytes: a.dive.wastedBytes,
    efficiencyScore: a.dive.efficiency,
    fileReference: a.dive.inefficiencies.map((x) => ({ count: x.count, sizeBytes: x.cumulative, file: x.path })),
  };
}

/** Layer i of dive's export. */
export function diveExportLayer(a: Analysis, i: number): DiveExportLayer {
  const createdBy = a.layerHistory[i]?.createdBy;
  return {
    index: i,
    id: a.image.layerIds?.[i] ?? '',
    digestId: a.image.layers[i].diffId,
    sizeBytes: a.image.layers[i].tarFileBytes,
    command: createdBy === undefined ? '(missing)' : createdBy.replace(/^\/bin\/sh -c /, ''),
    fileList: diveFileList(a, i),
  };
}

/**
 * The export as JSON text, indented as dive writes it, a layer at a time (a layer's file list is
 * the only big part): `schemaVersion` first, then dive's `layer` and `image`.
 */
export function* diveExportJson(a: Analysis): Generator<string> {
  const indent = (s: string): string => s.replace(/\n/g, '\n    ');
  yield `{\n  "schemaVersion": ${SCHEMA_VERSION},\n  "layer": [`;
  for (let i = 0; i < a.image.layers.length; i++) {
    yield `    ${indent(JSON.stringify(diveExportLayer(a, i), null, 2))}${i + 1 < a.image.layers.length ? ',' : ''}`;
  }
  yield `  ],\n  "image": ${JSON.stringify(diveExportImage(a), null, 2).replace(/\n/g, '\n  ')}\n}`;
}
