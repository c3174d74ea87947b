// Secrets that ship, on in-memory images and the real rule set (secretlint's recommended preset):
// keys and tokens made here (a PEM key from node:crypto, random tokens in the providers' formats),
// in copies the final image shows, hides or deleted; the history's build args (once per value)
// and RUN text; what is read (candidates only) and that no value is ever in a finding.
import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import { generateKeyPairSync, randomBytes } from 'node:crypto';
import { analyze, type Analysis } from '../../../../src/core/image/analysis';
import type { ImageData, LayerIndex } from '../../../../src/core/image/types';
import { FilesCollector } from '../../../../src/core/image/tar/layerRead';
import {
  NAMED_FILE_BYTES, SMALL_FILE_BYTES, dockerConfigHits, dotenvHits, isSecretCandidate, scanSecrets, secretCandidates,
  type ReadLayerFiles, type SecretFinding,
} from '../../../../src/core/contents/secrets';
import { secretlintLinter } from '../../../../src/core/contents/secretlint';
import { indexLayer } from '../../support/indexLayer';
import { makeTar, type TEntry } from '../../support/tars';

const ALNUM = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789';
const rand = (alphabet: string, n: number): string => Array.from(randomBytes(n), (x) => alphabet[x % alphabet.length]).join('');

interface Step { createdBy: string; entries?: TEntry[] }

async function image(steps: Step[]): Promise<{ a: Analysis; tars: Buffer[] }> {
  const layers: LayerIndex[] = [];
  const tars: Buffer[] = [];
  const history: ImageData['history'] = [];
  for (const [i, s] of steps.entries()) {
    const layerIndex = s.entries ? layers.length : null;
    if (s.entries) {
      const t = await makeTar(s.entries);
      tars.push(t);
      layers.push(await indexLayer([t], { hash: true }));
    }
    history.push({ index: i, createdBy: s.createdBy, emptyLayer: !s.entries, layerIndex });
  }
  const data: ImageData = {
    id: 'sha256:' + 'cd'.repeat(32), repoTags: ['secrets:test'], config: { os: 'linux', architecture: 'amd64' },
    diffIds: layers.map((l) => l.diffId), layers, history, source: { kind: 'docker-archive', ref: 'mem' }, warnings: [],
  };
  return { a: analyze(data), tars };
}

/** Reads a layer's picked files from its tar, counting what was asked for. */
function reader(tars: Buffer[], asked: string[]): ReadLayerFiles {
  return async (layer, want, maxBytes) => {
    const c = new FilesCollector((p, size) => { const w = want(p, size); if (w) asked.push(`${layer}:${p}`); return w; }, maxBytes);
    c.write(tars[layer]);
    return c.result();
  };
}

const dir = (name: string): TEntry => ({ name, type: 'directory' });

test('candidates: small files, and files named like credentials up to 1 MiB', () => {
  assert.ok(isSecretCandidate('/usr/share/doc/x/README', SMALL_FILE_BYTES));
  assert.ok(!isSecretCandidate('/usr/share/doc/x/README', SMALL_FILE_BYTES + 1));
  assert.ok(isSecretCandidate('/app/.env', SMALL_FILE_BYTES + 1));
  assert.ok(isSecretCandidate('/root/.ssh/id_ed25519', 200_000));
  assert.ok(isSecretCandidate('/srv/tls/server.key', NAMED_FILE_BYTES));
  assert.ok(!isSecretCandidate('/srv/tls/server.key', NAMED_FILE_BYTES + 1));
  assert.ok(!isSecretCandidate('/app/empty', 0));
});

test('.env lines: secret-named keys with a value; references and empty values are not', () => {
  const hits = dotenvHits('A=1\nDB_PASSWORD="pw-123"\nexport API_TOKEN=abc\nSECRET_KEY=\nGITHUB_TOKEN=${GITHUB_TOKEN}\nAUTHOR=me\n');
  assert.deepEqual(hits.map((h) => h.at), [2, 3]);
  for (const h of hits) assert.ok(!h.message.includes('pw-123') && !h.message.includes('abc'));
});

test('Docker config auths with credentials; an auths map of credential helpers only is not', () => {
  const auth = Buffer.from('user:' + rand(ALNUM, 20)).toString('base64');
  const hits = dockerConfigHits(JSON.stringify({ auths: { 'registry.example.com': { auth }, 'other.example': {} } }, null, 2));
  assert.equal(hits.length, 1);
  assert.equal(hits[0].rule, 'docker-config-auth');
  assert.equal(hits[0].at, 3);
  assert.ok(!hits[0].message.includes(auth));
  assert.deepEqual(dockerConfigHits(JSON.stringify({ auths: { 'x.example': {} }, credsStore: 'pass' })), []);
});

test('scan: every copy of every layer (deleted ones too), history build args once, RUN text; no value in any finding', async () => {
  const { privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048, privateKeyEncoding: { type: 'pkcs8', format: 'pem' }, publicKeyEncoding: { type: 'spki', format: 'pem' } });
  const awsId = 'AKIA' + rand('ABCDEFGHIJKLMNOPQRSTUVWXYZ234567', 16);
  const awsSecret = rand(ALNUM, 40);
  const npm = 'npm_' + rand(ALNUM, 36);
  const gh = 'ghp_' + rand(ALNUM, 36);
  const big = Buffer.alloc(SMALL_FILE_BYTES + 10, 'a');
  const { a, tars } = await image([
    { createdBy: '/bin/sh -c #(nop) ADD file:abc in / ', entries: [dir('etc/'), { name: 'etc/hostname', body: 'box\n' }, { name: 'bin/tool', body: Buffer.concat([Buffer.from('\0ELF'), Buffer.from(gh)]) }] },
    { createdBy: 'ARG NPM_TOKEN', entries: undefined },
    { createdBy: 'COPY deploy.pem /root/.ssh/id_rsa # buildkit', entries: [dir('root/'), dir('root/.ssh/'), { name: 'root/.ssh/id_rsa', body: privateKey, mode: 0o600 }] },
    { createdBy: 'COPY app.env /app/.env # buildkit', entries: [dir('app/'), { name: 'app/.env', body: `NAME=x\nAWS_ACCESS_KEY_ID=${awsId}\nAWS_SECRET_ACCESS_KEY=${awsSecret}\n` }, { name: 'app/big.txt', body: big }] },
    { createdBy: `RUN |1 NPM_TOKEN=${npm} /bin/sh -c npm ci # buildkit`, entries: [dir('app/'), { name: 'app/done', body: '' }] },
    { createdBy: `RUN |1 NPM_TOKEN=${npm} /bin/sh -c echo ${gh} > /tmp/t && rm /tmp/t # buildkit`, entries: [dir('tmp/')] },
    { createdBy: `RUN |1 NPM_TOKEN=${npm} /bin/sh -c rm /root/.ssh/id_rsa # buildkit`, entries: [dir('root/'), dir('root/.ssh/'), { name: 'root/.ssh/.wh.id_rsa', body: '' }] },
    { createdBy: 'COPY . /src # buildkit', entries: [dir('src/'), dir('src/.git/'), { name: 'src/.git/HEAD', body: 'ref: refs/heads/main\n' }] },
  ]);
  const asked: string[] = [];
  const lines = new Map([[1, 3], [2, 4], [3, 5], [4, 6], [5, 7], [6, 8]]);
  const scan = await scanSecrets(a.index, a.image.history, reader(tars, asked), await secretlintLinter(), {
    layer: (L) => lines.get(L) ?? null,
    history: (i) => (i === 0 ? 1 : i + 1),
  });
  const f = scan.findings;
  const show = JSON.stringify(f);
  for (const v of [awsId, awsSecret, npm, gh, ...privateKey.split('\n').filter((l) => l.length > 40)]) assert.ok(!show.includes(v), 'a value leaked into a finding');

  const key = f.filter((x) => x.path === '/root/.ssh/id_rsa');
  assert.equal(key.length, 1, show);
  assert.match(key[0].rule, /^privatekey\//);
  assert.deepEqual([key[0].layer, key[0].line, key[0].deletedBy], [1, 3, 5]);

  const env = f.filter((x) => x.path === '/app/.env');
  assert.deepEqual(env.map((x) => [x.rule, x.at]), [['aws/AWSAccessKeyID', 2], ['aws/AWSSecretAccessKey', 3]]);
  for (const x of env) assert.deepEqual([x.layer, x.line, x.deletedBy], [2, 4, null]);

  const git = f.filter((x) => x.rule === 'git-directory');
  assert.deepEqual(git.map((x) => [x.path, x.layer]), [['/src/.git', 6]]);

  const hist = f.filter((x): x is SecretFinding & { history: number } => x.history !== undefined);
  // The build arg is in three entries: reported once, at the first; the npm rule does not repeat it.
  assert.deepEqual(hist.map((x) => [x.rule, x.history, x.layer, x.line]), [['build-arg', 4, 3, 5], ['github/GITHUB_TOKEN', 5, 4, 6]]);

  // Read: the small files and the named ones; the binary file is read but not linted into a finding,
  // the big unnamed file is not read.
  assert.ok(!asked.some((p) => p.endsWith('/app/big.txt')));
  assert.ok(asked.includes('0:/bin/tool') && !f.some((x) => x.path === '/bin/tool'));
  assert.equal(scan.layersRead, new Set(asked.map((p) => p.split(':')[0])).size);
  assert.equal(f.length, key.length + env.length + git.length + hist.length);
});

test('candidates per layer include hidden copies', async () => {
  const { a } = await image([
    { createdBy: 'COPY a /s', entries: [{ name: 's/token.txt', body: 'x' }] },
    { createdBy: 'COPY b /s', entries: [{ name: 's/token.txt', body: 'yy' }] },
  ]);
  const c = secretCandidates(a.index);
  assert.deepEqual([...c.keys()].sort(), [0, 1]);
  assert.ok(c.get(0)!.has('/s/token.txt') && c.get(1)!.has('/s/token.txt'));
});
