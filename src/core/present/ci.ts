// dive's three CI rules, with dive's defaults and its way of switching a rule off
// ("disabled", "off", "false" or empty). Rules come from flags or a `.layerlens-ci.yaml` of the
// same shape as `.dive-ci` (rules: lowestEfficiency, highestWastedBytes, highestUserWastedPercent),
// and a fourth of Layer Lens's own, off by default: highestSecrets, the most secrets the image may
// ship (src/core/contents/secrets.ts; `0`: none).
import type { Analysis } from '../image/analysis';
import { formatBytes, formatPercent, parseBytes } from './format';

export interface CiRules {
  lowestEfficiency: number | null;
  highestWastedBytes: number | null;
  highestUserWastedPercent: number | null;
  highestSecrets: number | null;
}

export const DIVE_DEFAULT_RULES: CiRules = { lowestEfficiency: 0.9, highestWastedBytes: null, highestUserWastedPercent: 0.1, highestSecrets: null };

const OFF = new Set(['', 'disabled', 'off', 'false']);

export function parseRuleValue(name: keyof CiRules, raw: unknown): number | null {
  if (raw === null || raw === undefined) return null;
  const s = String(raw).trim();
  if (OFF.has(s.toLowerCase())) return null;
  if (name === 'highestWastedBytes') return parseBytes(s);
  if (name === 'highestSecrets') {
    const n = Number(s);
    if (!Number.isInteger(n) || n < 0) throw new Error(`highestSecrets must be a count (0 or more, or "disabled"), got '${s}'`);
    return n;
  }
  const v = Number(s);
  if (!Number.isFinite(v) || v < 0 || v > 1) throw new Error(`${name} must be a ratio between 0 and 1 (or "disabled"), got '${s}'`);
  return v;
}

/** Reads the `rules:` map of a parsed .layerlens-ci.yaml / .dive-ci document over the defaults. */
export function rulesFromDocument(doc: unknown, base: CiRules = DIVE_DEFAULT_RULES): CiRules {
  const out = { ...base };
  const rules = (doc as { rules?: Record<string, unknown> } | null)?.rules;
  if (rules === undefined || rules === null) return out;
  if (typeof rules !== 'object') throw new Error('the CI file\'s "rules" must be a map');
  for (const key of Object.keys(rules)) {
    if (!(key in out)) throw new Error(`unknown CI rule '${key}' (known: ${Object.keys(out).join(', ')})`);
    out[key as keyof CiRules] = parseRuleValue(key as keyof CiRules, rules[key]);
  }
  return out;
}

export interface CiResult {
  pass: boolean;
  lines: string[];
  results: Array<{ rule: keyof CiRules; status: 'pass' | 'fail' | 'skip'; actual: number; limit: number | null }>;
}

/** `secrets`: how many secrets the image ships (needed when highestSecrets is set). */
export function evaluateCi(a: Analysis, rules: CiRules, secrets?: number): CiResult {
  const results: CiResult['results'] = [];
  const lines: string[] = [];
  const check = (rule: keyof CiRules, actual: number, limit: number | null, ok: (x: number, l: number) => boolean, show: (x: number) => string, cmp: string): void => {
    if (limit === null) {
      results.push({ rule, status: 'skip', actual, limit });
      lines.push(`  SKIP: ${rule} (disabled) — actual ${show(actual)}`);
      return;
    }
    const pass = ok(actual, limit);
    results.push({ rule, status: pass ? 'pass' : 'fail', actual, limit });
    lines.push(`  ${pass ? 'PASS' : 'FAIL'}: ${rule}: ${show(actual)} ${pass ? '' : 'not '}${cmp} ${show(limit)}`);
  };
  check('lowestEfficiency', a.dive.efficiency, rules.lowestEfficiency, (x, l) => x >= l, (x) => formatPercent(x, 2), '≥');
  check('highestWastedBytes', a.dive.wastedBytes, rules.highestWastedBytes, (x, l) => x <= l, formatBytes, '≤');
  check('highestUserWastedPercent', a.dive.userWastedPercent, rules.highestUserWastedPercent, (x, l) => x <= l, (x) => formatPercent(x, 2), '≤');
  if (rules.highestSecrets !== null && secrets === undefined) throw new Error('evaluateCi: highestSecrets needs the secrets count');
  // Listed only when set: the count is known only after the image's files are read.
  if (rules.highestSecrets !== null) check('highestSecrets', secrets ?? 0, rules.highestSecrets, (x, l) => x <= l, (x) => String(x), '≤');
  const pass = results.every((r) => r.status !== 'fail');
  const top = a.dive.inefficiencies.slice(0, 10);
  if (!pass && top.length) {
    lines.push('', '  Largest wasted paths (dive: every copy of a path seen in 2+ layers):');
    for (const x of top) lines.push(`    ${formatBytes(x.cumulative).padStart(9)}  ×${x.count}  ${x.path}`);
  }
  lines.push('', pass ? 'Result: PASS' : 'Result: FAIL');
  return { pass, lines, results };
}
