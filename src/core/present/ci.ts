// dive's three CI rules, with dive's defaults and its way of switching a rule off
// ("disabled", "off", "false" or empty), Layer Lens' own size-growth rule against a baseline, and
// highestSecrets, off by default: the most secrets the image may ship (src/core/contents/secrets.ts;
// `0`: none). Rules come from flags or a `.layerlens-ci.yaml` of the same shape as `.dive-ci` (rules:
// lowestEfficiency, highestWastedBytes, highestUserWastedPercent, highestSecrets; or dive's
// config-file spellings lowest-efficiency, highest-wasted-bytes, highest-user-wasted-percent). As
// dive does, keys it does not know (dive's `plugins`, plugin rules) are ignored, with a warning.
import type { Analysis } from '../image/analysis';
import { formatGrowthLimit, growthMarkdown, growthText, mdCell, parseGrowthLimit, signedBytes, type GrowthLimit, type GrowthReport } from './baseline';
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

/** A rule file's key → the rule: dive's `.dive-ci` names, and its config file's (`.dive.yaml`). */
const RULE_KEYS: Record<string, keyof CiRules | 'highestSizeGrowth'> = {
  lowestEfficiency: 'lowestEfficiency',
  highestWastedBytes: 'highestWastedBytes',
  highestUserWastedPercent: 'highestUserWastedPercent',
  'lowest-efficiency': 'lowestEfficiency',
  'highest-wasted-bytes': 'highestWastedBytes',
  'highest-user-wasted-percent': 'highestUserWastedPercent',
  highestSecrets: 'highestSecrets',
  'highest-secrets': 'highestSecrets',
  highestSizeGrowth: 'highestSizeGrowth',
  'highest-size-growth': 'highestSizeGrowth',
};

export interface CiFileRules {
  rules: CiRules;
  /** highestSizeGrowth from the file (used with --baseline); undefined when the file has none. */
  highestSizeGrowth?: GrowthLimit | null;
  /** Keys of the file that are not rules Layer Lens knows (ignored, as dive ignores them). */
  ignored: string[];
}

/** Reads the `rules:` map of a parsed .layerlens-ci.yaml / .dive-ci document over the defaults. */
export function rulesFromDocument(doc: unknown, base: CiRules = DIVE_DEFAULT_RULES): CiFileRules {
  const out: CiFileRules = { rules: { ...base }, ignored: [] };
  if (doc !== null && doc !== undefined && (typeof doc !== 'object' || Array.isArray(doc))) throw new Error('a CI file must be a YAML map (with a "rules" map)');
  const d = (doc ?? {}) as Record<string, unknown>;
  for (const key of Object.keys(d)) if (key !== 'rules') out.ignored.push(key);
  const rules = d.rules;
  if (rules === undefined || rules === null) return out;
  if (typeof rules !== 'object' || Array.isArray(rules)) throw new Error('the CI file\'s "rules" must be a map');
  for (const [key, value] of Object.entries(rules as Record<string, unknown>)) {
    const rule = Object.hasOwn(RULE_KEYS, key) ? RULE_KEYS[key] : undefined;
    if (rule === undefined) out.ignored.push(`rules.${key}`);
    else if (rule === 'highestSizeGrowth') out.highestSizeGrowth = parseGrowthLimit(value);
    else out.rules[rule] = parseRuleValue(rule, value);
  }
  return out;
}

export interface CiResult {
  pass: boolean;
  lines: string[];
  results: Array<{ rule: keyof CiRules | 'highestSizeGrowth'; status: 'pass' | 'fail' | 'skip'; actual: number; limit: number | null }>;
}

/**
 * dive's rules on the analysis, highestSecrets when set (`secrets`: how many secrets the image
 * ships), and with a baseline comparison, the size-growth rule after them.
 */
export function evaluateCi(a: Analysis, rules: CiRules, growth?: GrowthReport, secrets?: number): CiResult {
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
  if (growth) {
    results.push({ rule: 'highestSizeGrowth', status: growth.status, actual: growth.growth, limit: growth.limitBytes });
    lines.push(...growthText(growth));
  }
  const pass = results.every((r) => r.status !== 'fail');
  const top = a.dive.inefficiencies.slice(0, 10);
  if (!pass && top.length) {
    lines.push('', '  Largest wasted paths (dive: every copy of a path seen in 2+ layers):');
    for (const x of top) lines.push(`    ${formatBytes(x.cumulative).padStart(9)}  ×${x.count}  ${x.path}`);
  }
  lines.push('', pass ? 'Result: PASS' : 'Result: FAIL');
  return { pass, lines, results };
}

const STATUS_MD = { pass: '✅ pass', fail: '❌ fail', skip: '➖ skip' } as const;

/**
 * `ci --format markdown`: the verdict, a table of the rules, and with a baseline its growth tables;
 * for a pull-request comment or $GITHUB_STEP_SUMMARY.
 */
export function ciMarkdown(a: Analysis, name: string, res: CiResult, growth?: GrowthReport): string {
  const out: string[] = [];
  out.push(`### Layer Lens CI: ${mdCell(name, true)} ${res.pass ? '✅ PASS' : '❌ FAIL'}`);
  out.push('');
  out.push('| Rule | Status | Image | Limit |');
  out.push('| --- | --- | ---: | ---: |');
  for (const r of res.results) {
    let actual: string;
    let limit: string;
    if (r.rule === 'highestWastedBytes') { actual = formatBytes(r.actual); limit = r.limit === null ? 'disabled' : formatBytes(r.limit); }
    else if (r.rule === 'highestSizeGrowth') { actual = signedBytes(r.actual); limit = growth?.limit ? formatGrowthLimit(growth.limit) : 'none'; }
    else { actual = formatPercent(r.actual, 2); limit = r.limit === null ? 'disabled' : formatPercent(r.limit, 2); }
    out.push(`| ${r.rule} | ${STATUS_MD[r.status]} | ${actual} | ${limit} |`);
  }
  out.push('');
  if (growth) out.push(...growthMarkdown(growth));
  const top = a.dive.inefficiencies.slice(0, 10);
  if (top.length) {
    out.push('<details><summary>Largest wasted paths (dive: every copy of a path seen in 2+ layers)</summary>');
    out.push('');
    out.push('| Path | Wasted | Copies |');
    out.push('| --- | ---: | ---: |');
    for (const x of top) out.push(`| ${mdCell(x.path, true)} | ${formatBytes(x.cumulative)} | ${x.count} |`);
    out.push('');
    out.push('</details>');
  }
  return out.join('\n').trimEnd() + '\n';
}
