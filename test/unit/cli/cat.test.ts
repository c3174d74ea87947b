// The `layerlens` command (compiled, run as a process) on image files: `cat` writes the bytes of a
// file version, equal to the layer tar's, from `docker save` files (plain, gzip, zstd) and OCI
// layouts (plain, gzip, zstd blobs; and packed in a tar); anything but a regular file is one line
// on stderr and exit 2. Every command that reads an image prints its warnings on stderr; a layer
// that does not match its digest is one line and exit 2; --no-verify says it did not check.
import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as tar from 'tar-stream';
import { CLI_BUNDLE } from '../../support/repo';
import { dockerSave, gzip, makeTar, ociLayout, sha256, tarOfFiles, writeLayout, zstd, type ImageSpec } from '../support/tars';
import { runCli, type CliRun } from '../../support/cliRun';

const CLI = CLI_BUNDLE;

function cli(args: string[], env: NodeJS.ProcessEnv = {}): Promise<CliRun> {
  return runCli(CLI, args, env);
}

/** Regular files (and hardlinks, as their target's bytes) of a layer tar, by absolute path. */
async function filesOf(layer: Buffer): Promise<Map<string, Buffer>> {
  const ex = tar.extract();
  const out = new Map<string, Buffer>();
  const links: Array<[string, string]> = [];
  await new Promise<void>((resolve, reject) => {
    ex.on('entry', (h, body, next) => {
      const parts: Buffer[] = [];
      body.on('data', (b: unknown) => parts.push(b as Buffer));
      body.on('end', () => {
        if (h.type === 'file') out.set('/' + h.name, Buffer.concat(parts));
        if (h.type === 'link') links.push(['/' + h.name, '/' + h.linkname!]);
        next();
      });
    });
    ex.on('finish', resolve);
    ex.on('error', reject);
    ex.end(layer);
  });
  for (const [p, target] of links) if (out.has(target)) out.set(p, out.get(target)!);
  return out;
}

const binary = Buffer.from([0, 1, 2, 0xff, 0xfe, 0x00, 0x7f, 0x80, 0x0a, 0x0d]);

async function spec(): Promise<ImageSpec> {
  return {
    layers: [
      await makeTar([
        { name: 'etc/', type: 'directory' }, { name: 'etc/conf', body: 'one\n' }, { name: 'bin/', type: 'directory' },
        { name: 'bin/tool', body: binary }, { name: 'bin/sh', type: 'symlink', linkname: 'tool' }, { name: 'gone', body: 'x' },
        { name: '../tmp/evil', body: 'clamped\n' },
      ]),
      await makeTar([
        { name: 'etc/conf', body: 'two-and-longer\n' }, { name: 'etc/hard', type: 'link', linkname: 'etc/conf' },
        { name: '.wh.gone', body: '' }, { name: 'out', type: 'link', linkname: 'bin/tool' }, { name: 'big', size: 300_000 },
      ]),
    ],
    tag: 'cat:test',
  };
}

test('cat: the bytes of the visible version (or layer N\'s) equal the layer tar\'s, from every file form', async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'layerlens-cat-'));
  try {
    const s = await spec();
    const [l0, l1] = [await filesOf(s.layers[0]), await filesOf(s.layers[1])];
    const save = await dockerSave(s);
    const sources: string[] = [];
    for (const [name, bytes] of [['img.tar', save], ['img.tar.gz', gzip(save)], ['img.tar.zst', zstd(save)], ['oci.tar', await tarOfFiles(ociLayout(s, 'none'))]] as const) {
      fs.writeFileSync(path.join(dir, name), bytes);
      sources.push(path.join(dir, name));
    }
    for (const compress of ['none', 'gzip', 'zstd'] as const) {
      writeLayout(path.join(dir, compress), ociLayout(s, compress));
      sources.push(`oci:${path.join(dir, compress)}`);
    }
    const env = { LAYERLENS_CACHE_DIR: path.join(dir, 'cache') };
    const cases: Array<[string[], Buffer]> = [
      [['/etc/hard'], l1.get('/etc/hard')!], // visible: layer 1, a hardlink read in its layer
      [['etc/conf', '--layer', '0'], l0.get('/etc/conf')!],
      [['/bin/tool'], l0.get('/bin/tool')!],
      [['/big'], l1.get('/big')!],
    ];
    assert.equal(l1.get('/etc/hard')!.toString(), 'two-and-longer\n');
    for (const source of sources) {
      const runs = await Promise.all(cases.map(([args]) => cli(['cat', source, ...args], env)));
      runs.forEach((r, i) => {
        assert.equal(r.code, 0, `${source} ${cases[i][0].join(' ')}: ${r.stderr}`);
        assert.ok(r.stdout.equals(cases[i][1]), `${source} ${cases[i][0].join(' ')}: the layer tar's bytes`);
      });
    }
    // Without the cache, and with the layers hashed on a worker: the same bytes.
    const r = await cli(['cat', sources[0], '/bin/tool', '--no-cache'], { LAYERLENS_HASH_WORKERS: '1' });
    assert.equal(r.code, 0, r.stderr);
    assert.ok(r.stdout.equals(binary));
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test('cat: anything but a regular file is one line and exit 2, saying what it is', async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'layerlens-cat-'));
  try {
    const file = path.join(dir, 'img.tar');
    fs.writeFileSync(file, await dockerSave(await spec()));
    const cases: Array<[string[], RegExp]> = [
      [['/etc'], /^layerlens: \/etc is a directory in the image, not a regular file$/],
      [['/bin/sh'], /^layerlens: \/bin\/sh is a symlink to tool in the image, not a regular file$/],
      [['/gone'], /^layerlens: \/gone is not in the image: deleted in layer 1$/],
      [['/nope'], /^layerlens: \/nope is not in the image$/],
      [['/etc/hard', '--layer', '0'], /^layerlens: \/etc\/hard is not in layer 0$/],
      [['/gone', '--layer', '1'], /^layerlens: \/gone is deleted in layer 1$/],
      [['/out'], /^layerlens: \/out is a hardlink to \/bin\/tool, which layer 1 does not hold$/],
      [['/etc/conf', '--layer', '2'], /^layerlens: --layer must be a layer index from 0 to 1$/],
      [[], /^layerlens: cat needs a SOURCE and a PATH$/],
    ];
    const runs = await Promise.all(cases.map(([args]) => cli(['cat', file, ...args], { LAYERLENS_CACHE: 'off' })));
    runs.forEach((r, i) => {
      const [args, want] = cases[i];
      assert.equal(r.code, 2, args.join(' '));
      assert.equal(r.stdout.length, 0, `${args.join(' ')}: nothing on stdout`);
      const lines = r.stderr.split('\n').filter((l) => l && !l.startsWith('layerlens: warning:'));
      assert.equal(lines.length, 1, `${args.join(' ')}: one line: ${r.stderr}`);
      assert.match(lines[0], want);
    });
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test('warnings on stderr from every command; a layer that is not its digest: one line, exit 2; --no-verify says so', async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'layerlens-cat-'));
  try {
    const s = await spec();
    const file = path.join(dir, 'img.tar');
    fs.writeFileSync(file, await dockerSave(s));
    const env = { LAYERLENS_CACHE: 'off' };
    const climb = 'layerlens: warning: entry name \'../tmp/evil\' climbs above the root; read as /tmp/evil\n';
    for (const args of [['files', file], ['files', file, '--layer', '0'], ['analyze', file, '--json'], ['ci', file], ['explain', file, '--layer', '0'], ['cat', file, '/tmp/evil']]) {
      const r = await cli(args, env);
      assert.ok(r.code === 0 || (args[0] === 'ci' && r.code === 1), `${args.join(' ')}: ${r.stderr}`);
      assert.equal(r.stderr, climb, args.join(' '));
    }
    // Layer 1 rewritten (manifest and config as they were).
    const bad = path.join(dir, 'bad.tar');
    fs.writeFileSync(bad, await dockerSave(s, { bodies: new Map([[1, await makeTar([{ name: 'etc/conf', body: 'evil\n' }])]]) }));
    for (const args of [['analyze', bad], ['files', bad], ['cat', bad, '/etc/conf']]) {
      const r = await cli(args, env);
      assert.equal(r.code, 2, args.join(' '));
      assert.equal(r.stdout.length, 0);
      assert.match(r.stderr, new RegExp(`^layerlens: layer 1 \\(${sha256(s.layers[1]).slice(7)}/layer\\.tar\\) does not match its diffID ${sha256(s.layers[1])}: its tar hashes to sha256:[a-f0-9]{64} .*\n$`), args.join(' '));
    }
    const r = await cli(['analyze', bad, '--json', '--no-verify'], env);
    assert.equal(r.code, 0, r.stderr);
    assert.ok(JSON.parse(r.stdout.toString()).warnings.includes('layer digests were not checked (--no-verify)'));
    assert.match(r.stderr, /^layerlens: warning: layer digests were not checked \(--no-verify\)$/m);
    const cat = await cli(['cat', bad, '/etc/conf', '--no-verify'], env);
    assert.equal(cat.stdout.toString(), 'evil\n');
    assert.match(cat.stderr, /^layerlens: warning: layer digests were not checked \(--no-verify\)$/m);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test('--help lists cat and --no-verify', async () => {
  const r = await cli(['--help']);
  assert.equal(r.code, 0);
  assert.match(r.stdout.toString(), /^ {2}cat SOURCE PATH \[--layer N\] /m);
  assert.match(r.stdout.toString(), /--no-verify/);
});
