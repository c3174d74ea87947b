// dive's own test suite, on dive's own test images (test/fixtures/dive, MIT, see its README): every
// value dive's Go tests assert on them, asserted here on what layerlens reads. Each test names the
// dive test file its expectations come from (paths in wagoodman/dive at d6c6919).
import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { CLI_BUNDLE, repoRoot } from '../../support/repo';
import { runCli, type CliRun } from '../../support/cliRun';
import { analyze } from '../../../src/core/image/analysis';
import { layerTableOf } from '../../../src/core/image/index/layerTable';
import { loadImage, parseSource } from '../../../src/sources/load';
import { LayerIndexCache } from '../../../src/sources/indexCache';
import { diveExportImage, diveExportLayer } from '../../../src/core/present/diveExport';
import { humanizeBytes, lsMode } from '../support/diveText';

const CLI = CLI_BUNDLE;
const DIVE = path.join(repoRoot(), 'test', 'fixtures', 'dive');
const IMAGE = path.join(DIVE, 'test-docker-image.tar');
const OCI = ['uncompressed', 'gzip', 'estargz', 'zstd'].map((c) => path.join(DIVE, `test-oci-${c}-image.tar`));

/** An empty working directory: no rule file of the repository's is picked up. */
const EMPTY = fs.mkdtempSync(path.join(os.tmpdir(), 'layerlens-dive-'));
const ENV = { LAYERLENS_CACHE: 'off' };

function cli(args: string[], cwd = EMPTY): Promise<CliRun> {
  return runCli(CLI, args, ENV, cwd);
}

async function json(args: string[], cwd = EMPTY): Promise<{ run: CliRun; doc: Record<string, unknown> }> {
  const run = await cli(args, cwd);
  return { run, doc: JSON.parse(run.stdout.toString()) as Record<string, unknown> };
}

interface AnalyzeDoc {
  image: { size: number };
  layers: Array<{ index: number; diffId: string; size: number; createdBy: string; entries: number }>;
  efficiency: number; wastedBytes: number; userWastedPercent: number;
}

interface DiveFileInfo { path: string; typeFlag: number; linkName: string; size: number; fileMode: number; uid: number; gid: number; isDir: boolean }
interface DiveExport {
  layer: Array<{ index: number; id: string; digestId: string; sizeBytes: number; command: string; fileList: DiveFileInfo[] }>;
  image: { sizeBytes: number; inefficientBytes: number; efficiencyScore: number; fileReference: Array<{ count: number; sizeBytes: number; file: string }> };
}

/** dive's snapshot of Test_Export (go-snaps: `[Test_Export - 1]`, the JSON, `---`). */
function diveExport(): DiveExport {
  const snap = fs.readFileSync(path.join(DIVE, 'export_test.snap'), 'utf8');
  const body = snap.slice(snap.indexOf('{'), snap.lastIndexOf('}') + 1);
  return JSON.parse(body) as DiveExport;
}

/** Go's os.FileMode of a tar header (archive/tar's FileInfo().Mode()), from a type and mode bits. */
function goFileMode(type: string, mode: number): number {
  let m = mode & 0o777;
  if (mode & 0o4000) m += 2 ** 23; // ModeSetuid
  if (mode & 0o2000) m += 2 ** 22; // ModeSetgid
  if (mode & 0o1000) m += 2 ** 20; // ModeSticky
  if (type === 'dir') m += 2 ** 31; // ModeDir
  if (type === 'symlink') m += 2 ** 27; // ModeSymlink
  if (type === 'char') m += 2 ** 26 + 2 ** 21; // ModeDevice | ModeCharDevice
  if (type === 'block') m += 2 ** 26; // ModeDevice
  if (type === 'fifo') m += 2 ** 25; // ModeNamedPipe
  return m;
}

const TYPE_FLAG: Record<string, number> = { file: 48, hardlink: 49, symlink: 50, char: 51, block: 52, dir: 53, fifo: 54 };

// dive/image/docker/image_archive_analysis_test.go (Test_Analysis):
// {0.9844212134184309, 1220598, 66237, 32025, 0.4834911001404049}
test('dive Test_Analysis: efficiency, size, user size, wasted bytes and user wasted percent', async () => {
  const { run, doc } = await json(['analyze', IMAGE, '--json']);
  assert.equal(run.code, 0, run.stderr);
  const a = doc as unknown as AnalyzeDoc;
  assert.equal(a.efficiency, 0.9844212134184309);
  assert.equal(a.image.size, 1220598);
  assert.equal(a.layers.reduce((t, l) => t + l.size, 0), 1220598);
  // dive's UserSizeByes: every layer's size but the first.
  assert.equal(a.image.size - a.layers[0].size, 66237);
  assert.equal(a.wastedBytes, 32025);
  assert.equal(a.userWastedPercent, 0.4834911001404049);
});

// cmd/dive/cli/internal/command/export/export_test.go (Test_Export) and its snapshot
// testdata/snapshots/export_test.snap: `layerlens export` prints dive's export, equal to the
// snapshot value for value and in its order: per layer its index, id (the archive member's
// directory), digest, size, command and file list (every tar entry, whiteout markers included,
// with its type flag, link name, size, Go file mode, uid, gid and isDir, in dive's tree order);
// for the image its size, wasted bytes, efficiency and its inefficient paths in order.
test('dive Test_Export: `layerlens export` equals dive\'s snapshot, every layer\'s id, digest, size, command and file list', async () => {
  const want = diveExport();
  const run = await cli(['export', IMAGE]);
  assert.equal(run.code, 0, run.stderr);
  assert.equal(run.stderr, '');
  const doc = JSON.parse(run.stdout.toString()) as DiveExport & { schemaVersion: number };
  assert.equal(doc.schemaVersion, 1);
  const { schemaVersion: _, ...ours } = doc;
  // Per layer first, for a readable failure; then the whole document (go-snaps stores the JSON
  // with its keys sorted: their order is not compared, every array's is).
  assert.equal(ours.layer.length, want.layer.length);
  for (const [i, w] of want.layer.entries()) {
    const { fileList, ...head } = ours.layer[i];
    const { fileList: wantList, ...wantHead } = w;
    assert.deepEqual(head, wantHead, `layer ${i}`);
    assert.deepEqual(fileList, wantList, `layer ${i} file list`);
  }
  assert.deepEqual(ours.image, want.image);
  assert.deepEqual(ours, want);
  // Whiteout markers are in it with their own headers (layer 7 deletes somefile3.txt, layer 9 /root/example).
  assert.deepEqual(ours.layer[7].fileList[0], { path: 'root/example/.wh.somefile3.txt', typeFlag: 48, linkName: '', size: 0, fileMode: 0, uid: 0, gid: 0, isDir: false });
  assert.equal(ours.layer[9].fileList[0].path, 'root/.wh.example');

  // analyze --json states the same figures.
  const { doc: ad } = await json(['analyze', IMAGE, '--json']);
  const a = ad as unknown as AnalyzeDoc;
  assert.equal(a.image.size, want.image.sizeBytes);
  assert.equal(a.wastedBytes, want.image.inefficientBytes);
  assert.equal(a.efficiency, want.image.efficiencyScore);
  for (const [i, w] of want.layer.entries()) {
    assert.equal(a.layers[i].diffId, w.digestId);
    assert.equal(a.layers[i].size, w.sizeBytes);
    assert.equal(a.layers[i].entries, w.fileList.length, `layer ${i} entry count`);
  }
});

// The same export when every layer comes from the cache's records (the whiteout headers and the
// layer ids survive them), and each layer's table holds the headers dive lists.
test('dive Test_Export through the layer cache: layers read back from records give the same export', async () => {
  const want = diveExport();
  const cacheDir = fs.mkdtempSync(path.join(os.tmpdir(), 'layerlens-dive-cache-'));
  try {
    const cache = new LayerIndexCache(cacheDir);
    const spec = await parseSource(IMAGE);
    await loadImage(spec, { cache });
    assert.equal(cache.stats.hits, 0);
    const warm = await loadImage(spec, { cache });
    assert.equal(cache.stats.hits, 14, 'every layer from its record');
    const a = analyze(warm);
    assert.deepEqual({ layer: want.layer.map((_, i) => diveExportLayer(a, i)), image: diveExportImage(a) }, want);
    for (const [i, w] of want.layer.entries()) {
      const t = layerTableOf(warm.layers[i]);
      const markers = t.whiteouts.map((p, k) => {
        const h = t.whiteoutHead(k);
        return { path: path.posix.join(path.posix.dirname(p), '.wh.' + path.posix.basename(p)).slice(1), typeFlag: TYPE_FLAG[h.type], linkName: h.linkname ?? '', size: h.size, fileMode: goFileMode(h.type, h.mode), uid: h.uid, gid: h.gid, isDir: h.type === 'dir' };
      });
      assert.deepEqual(markers, w.fileList.filter((f) => path.posix.basename(f.path).startsWith('.wh.')), `layer ${i} whiteouts`);
    }
  } finally {
    fs.rmSync(cacheDir, { recursive: true, force: true });
  }
});

// `files --layer N` prints the layer's own metadata: every added or modified path of every layer
// has the mode, owner and type dive's export gives that path in that layer (export_test.snap),
// e.g. layer 3's /root/example/somefile1.txt 0644 (layer 4 makes it 0444) and layer 7's
// /root/saved.txt 0644 (layer 13 makes it 0755).
test('files --layer N: each path\'s mode, owner and type are that layer\'s, as in dive\'s export', async () => {
  const want = diveExport();
  let checked = 0;
  for (const [i, w] of want.layer.entries()) {
    const run = await cli(['files', IMAGE, '--layer', String(i), '--json']);
    assert.equal(run.code, 0, run.stderr);
    const byPath = new Map(w.fileList.map((f) => ['/' + f.path, f]));
    for (const line of run.stdout.toString().trim().split('\n').filter(Boolean)) {
      const r = JSON.parse(line) as { path: string; change: string; mode: string; uid: number; gid: number; type: string };
      if (r.change === 'deleted') continue;
      const f = byPath.get(r.path);
      assert.ok(f, `layer ${i}: ${r.path} is not in dive's file list`);
      assert.equal(goFileMode(r.type, parseInt(r.mode, 8)), f.fileMode, `layer ${i}: ${r.path} mode`);
      assert.equal(TYPE_FLAG[r.type], f.typeFlag, `layer ${i}: ${r.path} type`);
      assert.deepEqual([r.uid, r.gid], [f.uid, f.gid], `layer ${i}: ${r.path} owner`);
      checked++;
    }
  }
  assert.ok(checked >= 400, `${checked} records checked`);
  const line = async (layer: number, p: string): Promise<string> => (await cli(['files', IMAGE, '--layer', String(layer)])).stdout.toString().split('\n').find((l) => l.split(/ +/).includes(p)) ?? '';
  assert.match(await line(3, '/root/example/somefile1.txt'), /^added +0644 0:0 +file +6405 /);
  assert.match(await line(4, '/root/example/somefile1.txt'), /^modified 0444 0:0 +file +6405 /);
  assert.match(await line(7, '/root/saved.txt'), /^added +0644 0:0 +file +6405 /);
  assert.match(await line(13, '/root/saved.txt'), /^modified 0755 0:0 +file +6405 /);
});

type CiDoc = { pass: boolean; rules: Array<{ rule: string; status: string; limit: number | null }> };
const statuses = (d: CiDoc): Record<string, string> => Object.fromEntries(d.rules.map((r) => [r.rule, r.status]));
const limits = (d: CiDoc): Record<string, number | null> => Object.fromEntries(d.rules.map((r) => [r.rule, r.limit]));

// cmd/dive/cli/internal/command/ci/evaluator_test.go (Test_Evaluator): four rule sets on
// test-docker-image.tar, the verdict and each rule's status (RuleFailed, RulePassed, RuleDisabled).
test('dive Test_Evaluator: allFail, allPass, allDisabled and mixedResults', async () => {
  const cases: Array<[string, string[], boolean, Record<string, string>]> = [
    ['allFail', ['0.99', '1B', '0.01'], false, { lowestEfficiency: 'fail', highestWastedBytes: 'fail', highestUserWastedPercent: 'fail' }],
    ['allPass', ['0.9', '50kB', '0.5'], true, { lowestEfficiency: 'pass', highestWastedBytes: 'pass', highestUserWastedPercent: 'pass' }],
    ['allDisabled', ['disabled', 'disabled', 'disabled'], true, { lowestEfficiency: 'skip', highestWastedBytes: 'skip', highestUserWastedPercent: 'skip' }],
    ['mixedResults', ['0.9', '1B', '0.5'], false, { lowestEfficiency: 'pass', highestWastedBytes: 'fail', highestUserWastedPercent: 'pass' }],
  ];
  for (const [name, [eff, wasted, pct], pass, want] of cases) {
    const { run, doc } = await json(['ci', IMAGE, '--json', '--lowest-efficiency', eff, '--highest-wasted-bytes', wasted, '--highest-user-wasted-percent', pct]);
    const d = doc as unknown as CiDoc;
    assert.equal(d.pass, pass, name);
    assert.equal(run.code, pass ? 0 : 1, name);
    assert.equal(d.rules.length, 3, name);
    assert.deepEqual(statuses(d), want, name);
  }
});

// evaluator_test.go (Test_Evaluator_Misconfigurations): seven rule sets dive refuses; layerlens
// refuses each with one line on stderr and exit 2, and prints nothing on stdout.
test('dive Test_Evaluator_Misconfigurations: each is refused (exit 2, one line)', async () => {
  const cases: Array<[string, string, string, string]> = [
    ['invalid_efficiency_too_high', '1.1', '50kB', '0.5'],
    ['invalid_efficiency_too_low', '-0.1', '50kB', '0.5'],
    ['invalid_efficiency_format', 'not_a_number', '50kB', '0.5'],
    ['invalid_wasted_bytes_format', '0.9', 'not_a_size', '0.5'],
    ['invalid_wasted_percent_high', '0.9', '50kB', '1.1'],
    ['invalid_wasted_percent_low', '0.9', '50kB', '-0.1'],
    ['invalid_wasted_percent_format', '0.9', '50kB', 'not_a_number'],
  ];
  for (const [name, eff, wasted, pct] of cases) {
    const run = await cli(['ci', IMAGE, '--lowest-efficiency', eff, '--highest-wasted-bytes', wasted, '--highest-user-wasted-percent', pct]);
    assert.equal(run.code, 2, name);
    assert.equal(run.stdout.length, 0, name);
    assert.equal(run.stderr.trim().split('\n').length, 1, `${name}: ${run.stderr}`);
    assert.match(run.stderr, /^layerlens: --(lowest-efficiency|highest-wasted-bytes|highest-user-wasted-percent): /, name);
  }
  // The same values in a rule file are refused too.
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'layerlens-dive-bad-'));
  fs.writeFileSync(path.join(dir, '.dive-ci'), 'rules:\n  lowestEfficiency: 1.1\n');
  const run = await cli(['ci', IMAGE], dir);
  assert.equal(run.code, 2);
  assert.match(run.stderr, /^layerlens: \.dive-ci: lowestEfficiency must be a ratio between 0 and 1/);
});

// cmd/dive/cli/cli_load_test.go (Test_LoadImage "from archive") and its snapshot
// testdata/snapshots/cli_load_test.snap: "[layers:14 files:451 size:1.2 MB]", efficiency 98.44 %,
// wastedBytes 32025, userWastedPercent 48.35 %, the inefficient files (2 × 13 kB /root/saved.txt,
// 2 × 13 kB /root/example/somefile1.txt, 2 × 6.4 kB /root/example/somefile3.txt) and PASS on all
// three rules with testdata/dive-enable-ci.yaml (dive's default lowest efficiency, 0.9, because
// the file's `lowest-efficiency-threshold` is no key dive knows; 20MB; 0.90).
test('dive Test_LoadImage from archive: counts, figures, inefficient files and the verdict with dive-enable-ci.yaml', async () => {
  const { doc } = await json(['analyze', IMAGE, '--json']);
  const a = doc as unknown as AnalyzeDoc;
  assert.equal(a.layers.length, 14);
  assert.equal(a.layers.reduce((t, l) => t + l.entries, 0), 451);
  assert.equal(a.image.size, 1220598); // humanize.Bytes: "1.2 MB"

  const { run, doc: ci } = await json(['ci', IMAGE, '--json', '--ci-config', path.join(DIVE, 'dive-enable-ci.yaml')]);
  assert.equal(run.code, 0, run.stderr);
  const d = ci as unknown as CiDoc;
  assert.equal(d.pass, true);
  assert.deepEqual(statuses(d), { lowestEfficiency: 'pass', highestWastedBytes: 'pass', highestUserWastedPercent: 'pass' });
  assert.deepEqual(limits(d), { lowestEfficiency: 0.9, highestWastedBytes: 20_000_000, highestUserWastedPercent: 0.9 });
  assert.match(run.stderr, /'rules\.lowest-efficiency-threshold' is not a rule layerlens knows; ignored/);
  assert.match(run.stderr, /'ci' is not a rule layerlens knows; ignored/);

  const text = (await cli(['ci', IMAGE, '--lowest-efficiency', '0.99'])).stdout.toString();
  assert.match(text, /lowestEfficiency: 98\.44 %/);
  assert.match(text, /highestUserWastedPercent: 48\.35 %/);
  const wasted = [...text.matchAll(/^ +(\S+ \S+) +×(\d+) +(\S+)$/gm)].map((m) => [m[2], m[1], m[3]]);
  assert.deepEqual(wasted, [['2', '12.8 kB', '/root/saved.txt'], ['2', '12.8 kB', '/root/example/somefile1.txt'], ['2', '6.41 kB', '/root/example/somefile3.txt']]);
});

// cmd/dive/cli/cli_ci_test.go (Test_CI_DefaultCIConfig): run in testdata/default-ci-config, dive
// reads its .dive-ci: lowest-efficiency "0.96", highest-wasted-bytes 19Mb,
// highest-user-wasted-percent "0.6".
test('dive Test_CI_DefaultCIConfig: .dive-ci in the current directory is read', async () => {
  const { run, doc } = await json(['ci', IMAGE, '--json'], path.join(DIVE, 'default-ci-config'));
  assert.equal(run.code, 0, run.stderr);
  assert.deepEqual(limits(doc as unknown as CiDoc), { lowestEfficiency: 0.96, highestWastedBytes: 19_000_000, highestUserWastedPercent: 0.6 });
  // .layerlens-ci.yaml, when present, is read instead.
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'layerlens-dive-both-'));
  fs.copyFileSync(path.join(DIVE, 'default-ci-config', '.dive-ci'), path.join(dir, '.dive-ci'));
  fs.writeFileSync(path.join(dir, '.layerlens-ci.yaml'), 'rules:\n  lowestEfficiency: 0.5\n');
  const both = await json(['ci', IMAGE, '--json'], dir);
  assert.deepEqual(limits(both.doc as unknown as CiDoc), { lowestEfficiency: 0.5, highestWastedBytes: null, highestUserWastedPercent: 0.1 });
});

// cli_ci_test.go (Test_CI_LegacyRules): testdata/config/dive-ci-legacy.yaml loads as
// lowest-efficiency 0.95, highest-wasted-bytes 20MB, highest-user-wasted-percent 0.2.
test('dive Test_CI_LegacyRules: the legacy rule file loads', async () => {
  const { run, doc } = await json(['ci', IMAGE, '--json', '--ci-config', path.join(DIVE, 'config', 'dive-ci-legacy.yaml')]);
  assert.equal(run.stderr, '');
  assert.deepEqual(limits(doc as unknown as CiDoc), { lowestEfficiency: 0.95, highestWastedBytes: 20_000_000, highestUserWastedPercent: 0.2 });
  assert.equal(run.code, 1); // user wasted 48.35 % > 20 %
});

// Taskfile.yaml (ci-test-linux-run, ci-test-mac-run) and Makefile: dive's release check runs
// `dive --source docker-archive IMAGE --ci --ci-config .data/.dive-ci` on the docker, kaniko and
// four OCI archives and needs each to pass. .data/.dive-ci has dive's `plugins` keys: ignored,
// with a warning.
test('dive\'s release check: every archive passes .data/.dive-ci, its plugin keys ignored with a warning', async () => {
  for (const img of [IMAGE, path.join(DIVE, 'test-kaniko-image.tar'), ...OCI]) {
    const { run, doc } = await json(['ci', img, '--json', '--ci-config', path.join(DIVE, '.dive-ci')]);
    assert.equal(run.code, 0, `${img}: ${run.stderr}`);
    assert.equal((doc as unknown as CiDoc).pass, true, img);
    assert.deepEqual(limits(doc as unknown as CiDoc), { lowestEfficiency: 0.95, highestWastedBytes: 20_000_000, highestUserWastedPercent: 0.5 });
    assert.deepEqual(run.stderr.trim().split('\n'), [
      `layerlens: warning: ${path.join(DIVE, '.dive-ci')}: 'plugins' is not a rule layerlens knows; ignored`,
      `layerlens: warning: ${path.join(DIVE, '.dive-ci')}: 'rules.plugin1/rule1' is not a rule layerlens knows; ignored`,
    ], img);
  }
  // The four OCI archives hold the same one-file image, compressed four ways: one diffID for three
  // (estargz rewrites the tar), every layer checked against it.
  const diffIds = await Promise.all(OCI.map(async (img) => ((await json(['analyze', img, '--json'])).doc as unknown as AnalyzeDoc).layers.map((l) => l.diffId)));
  assert.deepEqual(diffIds[0], diffIds[1]);
  assert.deepEqual(diffIds[0], diffIds[3]);
});

interface TreeRow { depth: number; name: string; attrs?: string }

/** dive's rendered tree (testdata/*.txt): each row's depth, name (with `→ target`) and attributes. */
function diveTree(file: string, attributes: boolean): TreeRow[] {
  const rows: TreeRow[] = [];
  for (const line of fs.readFileSync(path.join(DIVE, 'viewmodel', file), 'utf8').split('\n')) {
    if (!line) continue;
    const m = attributes ? /^(\S{10} +\d+:\d+ +[\d.]+ \w+) {2}(.*)$/.exec(line) : /^()(.*)$/.exec(line);
    assert.ok(m, line);
    const tree = /^((?:│ {3}| {4})*)(?:├|└)(?:──|─⊕) (.*)$/.exec(m[2]);
    assert.ok(tree, line);
    rows.push({ depth: tree[1].length / 4, name: tree[2], ...(attributes ? { attrs: m[1].replace(/ +/g, ' ') } : {}) });
  }
  return rows;
}

/** The merged filesystem of layers 0..top as dive's tree shows it: name-sorted, directories' sizes summed. */
async function ourTree(top: number, collapsed: string[], attributes: boolean): Promise<TreeRow[]> {
  const image = await loadImage(await parseSource(IMAGE));
  const ix = analyze({ ...image, layers: image.layers.slice(0, top + 1), diffIds: image.diffIds.slice(0, top + 1) }).index;
  const own = (n: number): number => (ix.typeOf(n) === 'file' ? ix.size[n] : 0);
  const sizes = new Map<string, number>();
  const live = [...ix.walk()].filter(([, n]) => ix.live[n]);
  for (const [p, n] of live) for (let d = p; d !== '/'; d = path.posix.dirname(d)) sizes.set(d, (sizes.get(d) ?? 0) + own(n));
  const rows: TreeRow[] = [];
  for (const [p, n] of live) {
    if (collapsed.some((c) => p.startsWith(c + '/'))) continue;
    const type = ix.typeOf(n);
    const link = ix.linkOf(n);
    // dive writes a hardlink's target as the tar has it (relative), Layer Lens as an absolute path.
    const name = path.posix.basename(p) + (link !== undefined ? ` → ${type === 'hardlink' ? link.replace(/^\//, '') : link}` : '');
    const attrs = `${lsMode(type, ix.mode[n])} ${ix.uid[n]}:${ix.gid[n]} ${humanizeBytes(type === 'dir' ? sizes.get(p) ?? 0 : own(n))}`;
    rows.push({ depth: p.split('/').length - 2, name, ...(attributes ? { attrs } : {}) });
  }
  return rows;
}

// cmd/dive/cli/internal/ui/v1/viewmodel/filetree_test.go with its testdata: TestFileTreeGoCase and
// TestFileTreeNoAttributes (layer 0's tree, every row with its mode, uid:gid and size, or its name
// only) and TestFileTreeSelectLayer (layers 0 and 1 merged, /bin collapsed). The other tests of
// that file (collapsing, paging, filters, layer ranges) are in
// test/unit/core/present/tree-model-dive.test.ts, on the sidebar's tree model.
test('dive\'s file tree view tests: the merged tree at a layer, each path\'s mode, owner and size', async () => {
  assert.deepEqual(await ourTree(0, [], true), diveTree('TestFileTreeGoCase.txt', true));
  assert.deepEqual(await ourTree(0, [], false), diveTree('TestFileTreeNoAttributes.txt', false));
  assert.deepEqual(await ourTree(1, ['/bin'], true), diveTree('TestFileTreeSelectLayer.txt', true));
});
