// Integration tests of the `layerlens` CLI (node dist/cli.js) against a real Docker Engine.
// For every fixture under test/fixtures/images, built with BuildKit and with the legacy builder:
//  - `files --json` (engine source) equals the engine's own merged view (docker export);
//  - every layer size from the engine source equals the engine's history Size, and the history
//    rows align with the image config (empty_layer entries have no layer);
//  - the docker-save archive and gzip/zstd OCI layouts of the same image give the same `files`
//    output and the same analysis, except layer sizes: from an archive a layer's size is the sum
//    of regular-file sizes in its tar, which equals the engine's Size for BuildKit layers; for
//    layers the engine made itself (docker import, legacy builder) the engine adds symlink
//    target lengths.
// No engine = failure (requireEngine in before()), never a skip.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { rm } from 'node:fs/promises';
import * as path from 'node:path';
import * as E from '../support/engine';

const BUILDERS: E.Builder[] = ['buildkit', 'legacy'];

function sortByPath<T extends { path: string }>(xs: T[]): T[] {
  return [...xs].sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
}

/** First differing lines of two NDJSON outputs (for assertion messages). */
function ndjsonDiff(a: E.FilesJsonEntry[], b: E.FilesJsonEntry[], max = 10): string {
  const ma = new Map(a.map((e) => [e.path, JSON.stringify(e)]));
  const mb = new Map(b.map((e) => [e.path, JSON.stringify(e)]));
  const out: string[] = [];
  for (const [p, s] of ma) if (mb.get(p) !== s) out.push(`- ${s}\n+ ${mb.get(p) ?? '(missing)'}`);
  for (const [p, s] of mb) if (!ma.has(p)) out.push(`- (missing)\n+ ${s}`);
  if (out.length === 0 && a.length === b.length) out.push('(same entries, different order)');
  return out.slice(0, max).join('\n') + (out.length > max ? `\n... ${out.length - max} more` : '');
}

/** The analysis with the fields that legitimately depend on the source removed. */
function sourceIndependent(a: E.AnalyzeJson): unknown {
  return {
    schemaVersion: a.schemaVersion,
    image: { os: a.image.os, architecture: a.image.architecture },
    layers: a.layers.map(({ size: _size, ...rest }) => rest),
    history: a.history,
    efficiency: a.efficiency,
    wastedBytes: a.wastedBytes,
    hiddenBytes: a.hiddenBytes,
  };
}

for (const name of E.fixtureNames()) {
  for (const builder of BUILDERS) {
    describe(`fixture ${name} (${builder})`, () => {
      let tag = '';
      let work = '';
      const built = E.lazy(async () => E.buildFixture(name, { builder }));
      const archive = E.lazy(async () => E.saveArchive(tag, path.join(work, 'image.tar')));
      const ociGz = E.lazy(async () => E.ociLayout(tag, path.join(work, 'oci-gzip'), 'gzip', await archive()));
      const ociZstd = E.lazy(async () => E.ociLayout(tag, path.join(work, 'oci-zstd'), 'zstd', await archive()));
      const layerStats = E.lazy(async () => E.archiveLayerStats(await archive()));
      const history = E.lazy(async () => E.engineHistory(tag));
      const config = E.lazy(async () => E.imageConfig(tag));
      const engineFiles = E.lazy(async () => E.filesJson(`docker://${tag}`));
      const engineAnalyze = E.lazy(async () => E.analyzeJson(`docker://${tag}`));

      before(async () => {
        await E.requireEngine();
        const b = await built();
        tag = b.tag;
        work = await E.tempDir(`${name}-${builder}`);
      });
      after(async () => {
        if (work) await rm(work, { recursive: true, force: true });
      });

      it('files --json from the engine equals the docker export of a container', async () => {
        const expected = await E.dockerExportSet(tag, await layerStats());
        const actual = E.filesJsonSet(await engineFiles(), E.hardlinkTargets(await layerStats()));
        const problems = E.diffSets(expected, actual);
        assert.deepEqual(problems, [], `merged filesystem differs from docker export:\n${problems.join('\n')}`);
      });

      it('files --json entries are well formed', async () => {
        const entries = await engineFiles();
        const nLayers = (await config()).rootfs.diff_ids.length;
        const seen = new Set<string>();
        for (const e of entries) {
          assert.match(e.path, /^\/(?:[^/]+(?:\/[^/]+)*)?$/, `path not absolute/normalized: ${e.path}`);
          assert.ok(!seen.has(e.path), `duplicate path ${e.path}`);
          seen.add(e.path);
          if (e.deleted) {
            assert.equal(typeof e.deletedBy, 'number', `deletedBy missing: ${JSON.stringify(e)}`);
            assert.ok(Array.isArray(e.shippedIn), `shippedIn missing: ${JSON.stringify(e)}`);
            for (const l of e.shippedIn!) assert.ok(l >= 0 && l < e.deletedBy!, `shippedIn ${l} not below deletedBy: ${JSON.stringify(e)}`);
          } else {
            assert.ok(['file', 'dir', 'symlink', 'hardlink', 'char', 'block', 'fifo'].includes(e.type!), `bad type: ${JSON.stringify(e)}`);
            assert.match(e.mode!, /^[0-7]{4}$/, `mode not a 4-digit octal string: ${JSON.stringify(e)}`);
            assert.equal(typeof e.size, 'number');
            assert.ok(Number.isInteger(e.layer) && e.layer! >= 0 && e.layer! < nLayers, `bad layer: ${JSON.stringify(e)}`);
            assert.ok(Array.isArray(e.hides), `hides missing: ${JSON.stringify(e)}`);
            for (const h of e.hides!) assert.ok(h >= 0 && h < e.layer!, `hides ${h} not below layer: ${JSON.stringify(e)}`);
          }
        }
      });

      it('layer sizes from the engine equal the engine history sizes', async () => {
        const a = await engineAnalyze();
        const want = (await history()).filter((h) => !h.emptyLayer).map((h) => h.size);
        assert.deepEqual(a.layers.map((l) => l.size), want);
        const inspectSize = Number((await E.docker(['image', 'inspect', '--format', '{{.Size}}', tag])).trim());
        assert.equal(a.image.size, inspectSize, 'image.size from the engine should be the engine\'s image Size');
      });

      it('analyze --json: image, diffIDs and history aligned as the config defines', async () => {
        const a = await engineAnalyze();
        const cfg = await config();
        assert.equal(a.schemaVersion, 1);
        assert.equal(a.image.id, (await built()).id);
        assert.ok(a.image.repoTags.includes(tag), `repoTags ${JSON.stringify(a.image.repoTags)} lacks ${tag}`);
        assert.equal(a.image.os, cfg.os);
        assert.equal(a.image.architecture, cfg.architecture);
        assert.deepEqual(a.layers.map((l) => l.diffId), cfg.rootfs.diff_ids);
        assert.deepEqual(a.layers.map((l) => l.index), cfg.rootfs.diff_ids.map((_, i) => i));
        const h = await history();
        assert.deepEqual(
          a.history.map((x) => ({ index: x.index, createdBy: x.createdBy ?? '', emptyLayer: x.emptyLayer, layerIndex: x.layerIndex })),
          h.map((x, i) => ({ index: i, createdBy: cfg.history?.[i]?.created_by ?? '', emptyLayer: x.emptyLayer, layerIndex: x.layerIndex })),
        );
        for (const l of a.layers) {
          const row = h.find((x) => x.layerIndex === l.index)!;
          assert.equal(l.createdBy ?? '', cfg.history?.[h.indexOf(row)]?.created_by ?? '', `layer ${l.index} createdBy`);
        }
        assert.ok(a.efficiency > 0 && a.efficiency <= 1, `efficiency ${a.efficiency}`);
        assert.ok(a.wastedBytes >= 0 && a.hiddenBytes >= 0);
      });

      it('engine layer sizes vs the layer tars: regular-file bytes (+ symlink targets where the engine made the layer)', async () => {
        // Test-bed check of the documented size definitions (not of the CLI).
        const st = await layerStats();
        const h = (await history()).filter((x) => !x.emptyLayer);
        h.forEach((row, i) => {
          const buildkit = row.comment === 'buildkit.dockerfile.v0';
          const want = buildkit ? st[i].regularBytes : st[i].regularBytes + st[i].symlinkTargetBytes;
          assert.equal(row.size, want, `layer ${i} (${buildkit ? 'BuildKit' : 'engine-made'}): history ${row.size}, regular ${st[i].regularBytes}, symlink targets ${st[i].symlinkTargetBytes}`);
        });
      });

      const others: Array<[string, () => Promise<string>]> = [
        ['docker-archive', async () => `docker-archive:${await archive()}`],
        ['OCI layout (gzip)', async () => `oci:${await ociGz()}`],
        ['OCI layout (zstd)', async () => `oci:${await ociZstd()}`],
      ];
      for (const [label, source] of others) {
        it(`${label}: files --json identical to the engine source`, async () => {
          const src = await source();
          const a = await engineFiles();
          const b = await E.filesJson(src);
          assert.ok(JSON.stringify(a) === JSON.stringify(b), `${src} differs from docker://${tag}:\n${ndjsonDiff(a, b)}`);
        });

        it(`${label}: analyze --json identical except layer sizes (regular-file bytes)`, async () => {
          const src = await source();
          const a = await engineAnalyze();
          const b = await E.analyzeJson(src);
          assert.deepEqual(sourceIndependent(b), sourceIndependent(a));
          assert.deepEqual(b.layers.map((l) => l.size), (await layerStats()).map((s) => s.regularBytes), 'archive layer size = sum of regular-file sizes in the layer tar');
          if (label === 'docker-archive') assert.equal(b.image.id, a.image.id, 'a docker-save archive keeps the config digest = image id');
        });
      }

      // Source parsing does not depend on the builder: check the bare forms once per fixture.
      if (builder === 'buildkit') it('bare forms (image name, .tar path, OCI directory) equal the prefixed forms', async () => {
        const [eng, arc, oci] = [`docker://${tag}`, await archive(), await ociGz()];
        const pairs: Array<[string, string]> = [[eng, tag], [`docker-archive:${arc}`, arc], [`oci:${oci}`, oci]];
        for (const [prefixed, bare] of pairs) {
          const a = await E.filesJson(prefixed);
          const b = await E.filesJson(bare);
          assert.ok(JSON.stringify(sortByPath(a)) === JSON.stringify(sortByPath(b)), `${bare} differs from ${prefixed}:\n${ndjsonDiff(a, b)}`);
        }
      });

      if (name === 'fs-changes') {
        it('provenance of known paths (overwrite, delete, opaque dir, chmod, append, links, WORKDIR)', async () => {
          const byPath = new Map((await engineFiles()).map((e) => [e.path, e]));
          const get = (p: string): E.FilesJsonEntry => {
            const e = byPath.get(p);
            assert.ok(e, `${p} missing from files --json`);
            return e;
          };
          // Layer indexes (0 = the imported base): 1 creates /data, 2 overwrite, 3 deletes,
          // 4 opaque dir, 5 chmod, 6 links, 7 append, 8 WORKDIR.
          const overwrite = get('/data/overwrite.txt');
          assert.deepEqual([overwrite.type, overwrite.size, overwrite.layer, overwrite.hides], ['file', 15, 2, [1]]);
          const del = get('/data/delete-me.txt');
          assert.deepEqual([del.deleted, del.deletedBy, del.shippedIn], [true, 3, [1]]);
          const gone = get('/data/gone');
          assert.deepEqual([gone.deleted, gone.deletedBy], [true, 3]);
          assert.ok(!byPath.has('/data/gone/a') || byPath.get('/data/gone/a')!.deleted, '/data/gone/a must not be visible');
          const gone2 = get('/data/gone2');
          assert.deepEqual([gone2.type, gone2.layer], ['file', 3]);
          assert.ok(!byPath.has('/data/gone2/c') || byPath.get('/data/gone2/c')!.deleted, '/data/gone2/c must not be visible');
          const x = get('/data/opaque/x');
          assert.deepEqual([x.type, x.size, x.layer], ['file', 0, 4]);
          for (const p of ['/data/opaque/old1', '/data/opaque/sub', '/data/opaque/sub/old2']) {
            assert.ok(!byPath.has(p) || byPath.get(p)!.deleted, `${p} is under an opaque directory and must not be visible`);
          }
          const chmod = get('/data/chmod.sh');
          assert.deepEqual([chmod.mode, chmod.layer, chmod.hides], ['0755', 5, [1]]);
          const big = get('/data/big.bin');
          assert.deepEqual([big.size, big.layer, big.hides], [20971529, 7, [1]]);
          assert.equal(get('/data/links/rel-sym').type, 'symlink');
          assert.equal(get('/data/links/dangling').type, 'symlink');
          const hl = [get('/data/links/target.txt'), get('/data/links/hard.txt')];
          assert.deepEqual(hl.map((e) => e.type).sort(), ['file', 'hardlink'], 'one name of the link pair is the file, the other the hardlink');
          const work = get('/data/work');
          assert.deepEqual([work.type, work.layer], ['dir', 8]);
          // The 0-byte WORKDIR layer and the metadata-only history entries.
          const a = await engineAnalyze();
          assert.equal(a.layers[8].size, 0);
          assert.equal(a.history.filter((r) => r.emptyLayer).length, 6, 'ARG, ENV, LABEL, USER, EXPOSE, CMD');
          assert.ok(a.layers[7].hiddenBytes >= 0);
          assert.ok(a.hiddenBytes >= 20971520, `the 20 MiB lower copy of big.bin is hidden (hiddenBytes ${a.hiddenBytes})`);
        });
      }

      if (name === 'multistage') {
        it('multi-stage: only the final stage is in the image', async () => {
          const byPath = new Map((await engineFiles()).map((e) => [e.path, e]));
          assert.ok(!byPath.has('/build-only.bin'), 'a file of the build stage leaked into the final image');
          assert.equal(byPath.get('/opt/app/share/blob')?.size, 100000);
          assert.equal(byPath.get('/opt/app/bin/app-link')?.type, 'symlink');
          assert.equal(byPath.get('/usr/local/bin/app')?.mode, '0755');
          assert.equal((await engineAnalyze()).layers.length, 4);
        });
      }
    });
  }
}
