// secretlint's recommended rule set as a SecretLinter, loaded on first use (the two packages are
// ~0.3 MB of code that only the secrets check needs). Messages come masked (`maskSecrets`); AWS
// access key IDs are looked for too (the rule set's `enableIDScanRule`).
import { fingerprint, type SecretHit, type SecretLinter } from './secrets';

const PREFIX = '@secretlint/secretlint-rule-';

let loading: Promise<SecretLinter> | undefined;

/** The linter, loaded once. */
export function secretlintLinter(): Promise<SecretLinter> {
  return (loading ??= load());
}

async function load(): Promise<SecretLinter> {
  const [{ lintSource }, { creator }] = await Promise.all([import('@secretlint/core'), import('@secretlint/secretlint-rule-preset-recommend')]);
  const config = {
    rules: [{
      id: '@secretlint/secretlint-rule-preset-recommend',
      rule: creator,
      rules: [{ id: '@secretlint/secretlint-rule-aws', options: { enableIDScanRule: true } }],
    }],
  };
  return {
    async lint(filePath: string, text: string): Promise<SecretHit[]> {
      const ext = /\.[^./]+$/.exec(filePath)?.[0] ?? '';
      const r = await lintSource({ source: { content: text, filePath, ext, contentType: 'text' }, options: { config: config as never, maskSecrets: true } });
      return r.messages.map((m) => ({
        rule: `${m.ruleId.startsWith(PREFIX) ? m.ruleId.slice(PREFIX.length) : m.ruleId}/${m.messageId}`,
        at: m.loc.start.line,
        // A long mask (a private key's) says no more than a short one.
        message: m.message.replace(/\*{9,}/g, '********'),
        fingerprint: fingerprint(text.slice(m.range[0], m.range[1])),
      }));
    },
  };
}
