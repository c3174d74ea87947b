import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import { DIVE_DEFAULT_RULES, evaluateCi, parseRuleValue, rulesFromDocument } from '../../../../src/core/present/ci';
import type { Analysis } from '../../../../src/core/image/analysis';
import { formatBytes, parseBytes, shortCreatedBy } from '../../../../src/core/present/format';

test('CI rules: dive defaults, "disabled" forms, sizes and ratios', () => {
  assert.deepEqual(rulesFromDocument(null).rules, DIVE_DEFAULT_RULES);
  assert.deepEqual(rulesFromDocument({ rules: { lowestEfficiency: 0.95, highestWastedBytes: '20MB', highestUserWastedPercent: 'disabled' } }).rules,
    { lowestEfficiency: 0.95, highestWastedBytes: 20_000_000, highestUserWastedPercent: null, highestSecrets: null });
  assert.equal(rulesFromDocument({ rules: { highestSecrets: 0 } }).rules.highestSecrets, 0);
  assert.equal(parseRuleValue('highestSecrets', 'off'), null);
  assert.throws(() => parseRuleValue('highestSecrets', '0.5'), /count/);
  for (const off of ['', 'off', 'false', 'Disabled']) assert.equal(parseRuleValue('lowestEfficiency', off), null);
  assert.throws(() => parseRuleValue('lowestEfficiency', '1.5'), /between 0 and 1/);
  assert.throws(() => rulesFromDocument({ rules: ['lowestEfficiency'] }), /"rules" must be a map/);
  assert.throws(() => rulesFromDocument('rules'), /must be a YAML map/);
});

test('CI rules: dive\'s config-file spellings, the size-growth rule, and unknown keys ignored and named', () => {
  const r = rulesFromDocument({
    plugins: ['plugin1'], ci: true,
    rules: { 'lowest-efficiency': '0.8', 'highest-wasted-bytes': '19Mb', 'highest-user-wasted-percent': 0.6, 'plugin1/rule1': 'error', highestSizeGrowth: '5%', nope: 1 },
  });
  assert.deepEqual(r.rules, { lowestEfficiency: 0.8, highestWastedBytes: 19_000_000, highestUserWastedPercent: 0.6, highestSecrets: null });
  assert.deepEqual(r.highestSizeGrowth, { percent: 5 });
  assert.deepEqual(r.ignored, ['plugins', 'ci', 'rules.plugin1/rule1', 'rules.nope']);
  assert.deepEqual(rulesFromDocument({ rules: { 'highest-size-growth': '2MB' } }).highestSizeGrowth, { bytes: 2_000_000 });
  assert.equal(rulesFromDocument({ rules: { highestSizeGrowth: 'disabled' } }).highestSizeGrowth, null);
  assert.throws(() => rulesFromDocument({ rules: { highestSizeGrowth: 'lots' } }), /highestSizeGrowth must be a size/);
});

test('sizes parse and print like docker and dive', () => {
  assert.equal(parseBytes('20MB'), 20_000_000);
  assert.equal(parseBytes('1.5GiB'), 1.5 * 1024 ** 3);
  assert.equal(parseBytes('1234'), 1234);
  assert.throws(() => parseBytes('lots'));
  assert.equal(formatBytes(0), '0 B');
  assert.equal(formatBytes(999), '999 B');
  assert.equal(formatBytes(24_300_000), '24.3 MB');
  assert.equal(formatBytes(5_120_000_000), '5.12 GB');
  assert.equal(formatBytes(100_000), '100 kB');
});

test('created_by strings shorten to Dockerfile-like text', () => {
  assert.equal(shortCreatedBy('/bin/sh -c #(nop)  ENV A=b'), 'ENV A=b');
  assert.equal(shortCreatedBy('/bin/sh -c apk add x'), 'RUN apk add x');
  assert.equal(shortCreatedBy('RUN /bin/sh -c echo hi # buildkit'), 'RUN /bin/sh -c echo hi');
  assert.equal(shortCreatedBy('|1 V=2 /bin/sh -c make'), 'RUN make');
});

test('globs for layerLens.imageForDockerfile keys', async () => {
  const { globToRegExp } = await import('../../../../src/core/image/tar/paths');
  assert.ok(globToRegExp('Dockerfile').test('Dockerfile'));
  assert.ok(!globToRegExp('Dockerfile').test('a/Dockerfile'));
  assert.ok(globToRegExp('**/Dockerfile').test('a/b/Dockerfile'));
  assert.ok(globToRegExp('docker/*.Dockerfile').test('docker/app.Dockerfile'));
  assert.ok(!globToRegExp('docker/*.Dockerfile').test('docker/x/app.Dockerfile'));
  assert.ok(!globToRegExp('a.b').test('axb'), 'dots are literal');
});

test('highestSecrets: listed only when set; fails above its limit; needs the count', () => {
  const a = { dive: { efficiency: 1, wastedBytes: 0, userWastedPercent: 0, inefficiencies: [] } } as unknown as Analysis;
  assert.equal(evaluateCi(a, DIVE_DEFAULT_RULES).results.length, 3);
  const rules = { ...DIVE_DEFAULT_RULES, highestSecrets: 0 };
  const fail = evaluateCi(a, rules, undefined, 2);
  assert.equal(fail.pass, false);
  assert.deepEqual(fail.results[3], { rule: 'highestSecrets', status: 'fail', actual: 2, limit: 0 });
  assert.equal(evaluateCi(a, rules, undefined, 0).pass, true);
  assert.throws(() => evaluateCi(a, rules), /needs the secrets count/);
});
