// `layerlens secrets` against a real Docker Engine: an image built (BuildKit and the legacy
// builder) with a private key copied in then deleted by a later RUN, an `.env` holding an AWS key
// pair, a token passed as a build arg and used in a RUN, and a token file written and removed
// within one RUN. Every key and token is made at test time (openssl genrsa, random characters in
// the providers' formats), never a real one. The first three are found at their layers and
// Dockerfile lines; the fourth has no file finding, but its token in the RUN text of the history
// is found; no value appears in any output; the plain base image has no finding. `ci
// --highest-secrets 0` fails on the image and passes on the base.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import * as os from 'node:os';
import * as path from 'node:path';
import * as E from '../support/engine';

function randomOf(alphabet: string, n: number): string {
  const b = randomBytes(n);
  return Array.from(b, (x) => alphabet[x % alphabet.length]).join('');
}
const UPPER_DIGITS = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567';
const ALNUM = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789';

interface Finding { rule: string; path?: string; history?: number; layer: number | null; line: number | null; deletedBy: number | null; at: number; message: string }
interface SecretsJson { schemaVersion: number; found: number; findings: Finding[] }

const DOCKERFILE = (base: string): string => [
  `FROM ${base}`,                                                         // 1
  'ARG NPM_TOKEN',                                                        // 2
  'COPY deploy_key.pem /root/.ssh/id_rsa',                                // 3
  'COPY app.env /app/.env',                                               // 4
  'RUN test -n "$NPM_TOKEN" && echo "//registry.npmjs.org/:_authToken used" > /app/npm-note', // 5
  'RUN echo TOKEN_PLACEHOLDER > /tmp/gh-token && wc -c /tmp/gh-token && rm /tmp/gh-token', // 6
  'RUN rm /root/.ssh/id_rsa',                                             // 7
  '',
].join('\n');

for (const builder of ['buildkit', 'legacy'] as const) {
  describe(`layerlens secrets (${builder})`, () => {
    let work = '';
    let tag = '';
    let base = '';
    const values: string[] = [];
    let dockerfile = '';

    before(async () => {
      await E.ensureBaseImage();
      base = E.BASE_IMAGE;
      work = await mkdtemp(path.join(os.tmpdir(), 'layerlens-secrets-'));
      const keyFile = path.join(work, 'deploy_key.pem');
      await E.runOk('openssl', ['genrsa', '-out', keyFile, '2048']);
      const key = await readFile(keyFile, 'utf8');
      // Every base64 line of the key body is a value that must never be printed.
      values.push(...key.split('\n').filter((l) => l.length > 40 && !l.startsWith('-----')));
      const awsId = 'AKIA' + randomOf(UPPER_DIGITS, 16);
      // secretlint's AWS rule ends a secret key at a word boundary: one ending in '/' or '+' (about
      // 1 in 30 random keys) is found by the .env rule only, so the last character is alphanumeric.
      const awsSecret = randomOf(ALNUM + '/+', 39) + randomOf(ALNUM, 1);
      const npmToken = 'npm_' + randomOf(ALNUM, 36);
      const ghToken = 'ghp_' + randomOf(ALNUM, 36);
      values.push(awsId, awsSecret, npmToken, ghToken);
      await writeFile(path.join(work, 'app.env'), `APP_NAME=demo\nAWS_ACCESS_KEY_ID=${awsId}\nAWS_SECRET_ACCESS_KEY=${awsSecret}\n`);
      dockerfile = path.join(work, 'Dockerfile');
      await writeFile(dockerfile, DOCKERFILE(base).replace('TOKEN_PLACEHOLDER', ghToken));
      tag = `layerlens-test/secrets:${builder}`;
      await E.docker(['build', '--network=none', '-q', '--build-arg', `NPM_TOKEN=${npmToken}`, '-t', tag, work], {
        env: { DOCKER_BUILDKIT: builder === 'buildkit' ? '1' : '0' }, timeoutMs: 600_000,
      });
    });

    after(async () => {
      if (work) await rm(work, { recursive: true, force: true });
      if (tag) await E.run(E.DOCKER, ['rmi', '-f', tag]);
    });

    const noValue = (text: string): void => {
      for (const v of values) assert.ok(!text.includes(v), `a secret value was printed: ${v.slice(0, 6)}…`);
    };

    it('finds the key, the .env pair and the build arg at their layers and lines, and the RUN-text token in the history', async () => {
      const r = await E.cli(['secrets', tag, '--json', '--dockerfile', dockerfile]);
      assert.equal(r.code, 1, r.stderr);
      noValue(r.stdout + r.stderr);
      const out = JSON.parse(r.stdout) as SecretsJson;
      assert.equal(out.schemaVersion, 1);
      assert.equal(out.found, out.findings.length);
      const hist = await E.analyzeJson(tag);
      const layerOfLine = (createdBy: RegExp): number => {
        const h = hist.history.find((x) => createdBy.test(x.createdBy));
        assert.ok(h && h.layerIndex !== null, `no layer for ${createdBy}`);
        return h.layerIndex as number;
      };
      const keyLayer = layerOfLine(/deploy_key\.pem|COPY file:.*\/root\/\.ssh\/id_rsa/);
      const envLayer = layerOfLine(/app\.env|COPY file:.*\/app\/\.env/);
      const rmLayer = layerOfLine(/rm \/root\/\.ssh\/id_rsa/);

      // 1. The private key: in the COPY's layer, line 3, deleted by line 7's layer, still shipped.
      const key = out.findings.filter((f) => f.path === '/root/.ssh/id_rsa');
      assert.ok(key.some((f) => f.rule.startsWith('privatekey/')), JSON.stringify(out.findings));
      for (const f of key) {
        assert.equal(f.layer, keyLayer);
        assert.equal(f.line, 3);
        assert.equal(f.deletedBy, rmLayer);
      }
      // 2. The .env pair: both the key ID and the secret, line 4, still in the final image.
      const env = out.findings.filter((f) => f.path === '/app/.env');
      assert.ok(env.some((f) => f.rule === 'aws/AWSAccessKeyID' && f.at === 2), JSON.stringify(env));
      assert.ok(env.some((f) => f.rule === 'aws/AWSSecretAccessKey' && f.at === 3), JSON.stringify(env));
      for (const f of env) { assert.equal(f.layer, envLayer); assert.equal(f.line, 4); assert.equal(f.deletedBy, null); }
      // 3. The build arg, recorded in line 5's RUN entry.
      const arg = out.findings.find((f) => f.rule === 'build-arg');
      assert.ok(arg && arg.history !== undefined, JSON.stringify(out.findings));
      assert.equal(arg.line, 5);
      assert.match(hist.history[arg.history!].createdBy, /NPM_TOKEN=/);
      // 4. The token file written and removed in one RUN: no file finding, the RUN text is found.
      assert.ok(!out.findings.some((f) => f.path === '/tmp/gh-token'));
      const gh = out.findings.find((f) => f.rule.startsWith('github/') && f.history !== undefined);
      assert.ok(gh, JSON.stringify(out.findings));
      assert.equal(gh.line, 6);
      // Nothing else: every finding is one of these.
      for (const f of out.findings) {
        assert.ok(f.path === '/root/.ssh/id_rsa' || f.path === '/app/.env' || f.history !== undefined, `unexpected finding ${JSON.stringify(f)}`);
      }
    });

    it('prints no value in the text form either, and exits 1', async () => {
      const r = await E.cli(['secrets', tag]);
      assert.equal(r.code, 1, r.stderr);
      noValue(r.stdout + r.stderr);
      assert.match(r.stdout, /\/root\/\.ssh\/id_rsa:1 \(deleted or replaced in layer \d+: still ships in layer \d+\)/);
      assert.match(r.stdout, /secrets? found \(values masked\)/);
    });

    it('is a ci rule: --highest-secrets 0 fails on the image', async () => {
      const r = await E.cli(['ci', tag, '--json', '--lowest-efficiency', 'off', '--highest-user-wasted-percent', 'off', '--highest-secrets', '0']);
      assert.equal(r.code, 1, r.stderr);
      noValue(r.stdout + r.stderr);
      const res = JSON.parse(r.stdout) as { pass: boolean; rules: Array<{ rule: string; status: string; actual: number }> };
      const rule = res.rules.find((x) => x.rule === 'highestSecrets');
      assert.equal(rule?.status, 'fail');
      assert.ok(rule!.actual >= 5);
    });

    it('finds nothing in the plain base image', async () => {
      const r = await E.cli(['secrets', base, '--json']);
      assert.equal(r.code, 0, r.stderr);
      assert.equal((JSON.parse(r.stdout) as SecretsJson).found, 0);
      const ci = await E.cli(['ci', base, '--highest-secrets', '0', '--lowest-efficiency', 'off', '--highest-user-wasted-percent', 'off']);
      assert.equal(ci.code, 0, ci.stdout + ci.stderr);
    });
  });
}
