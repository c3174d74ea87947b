// `layerlens ci`: dive's three rules, and with --baseline the image's size growth against another
// image or a saved `analyze --json`. The rules come from flags over a rule file: --ci-config, else
// `.layerlens-ci.yaml`, else dive's `.dive-ci`, in the current directory. Exit 1 when a rule fails.
import { promises as fs } from 'node:fs';
import { baselineOfAnalysis, baselineOfAnalyzeJson, compareWithBaseline, parseGrowthLimit, type BaselineFacts, type GrowthLimit } from '../core/present/baseline';
import { DIVE_DEFAULT_RULES, ciMarkdown, evaluateCi, parseRuleValue, rulesFromDocument, type CiRules } from '../core/present/ci';
import { SCHEMA_VERSION } from '../core/present/report';
import { Out, UsageError, load, loadWithReader, needSource, type Args } from './common';

/** Rule files read from the current directory when --ci-config is not given, first found wins. */
const DEFAULT_CONFIGS = ['.layerlens-ci.yaml', '.dive-ci'];

async function readRuleFile(args: Args): Promise<{ path: string; text: string } | null> {
  const flag = args.flags.get('ci-config');
  if (typeof flag === 'string') {
    const text = await fs.readFile(flag, 'utf8').catch((e: NodeJS.ErrnoException) => { throw new UsageError(`cannot read CI config ${flag}: ${e.message}`); });
    return { path: flag, text };
  }
  for (const path of DEFAULT_CONFIGS) {
    const text = await fs.readFile(path, 'utf8').catch((e: NodeJS.ErrnoException) => {
      if (e.code === 'ENOENT') return null;
      throw new UsageError(`cannot read CI config ${path}: ${e.message}`);
    });
    if (text !== null) return { path, text };
  }
  return null;
}

/** A saved `analyze --json` (a file whose first non-blank byte is `{`), else null. */
async function readJsonBaseline(spec: string): Promise<BaselineFacts | null> {
  const st = await fs.stat(spec).catch(() => null);
  if (!st?.isFile()) return null;
  const fh = await fs.open(spec, 'r');
  let head: string;
  try {
    const b = Buffer.alloc(64);
    const { bytesRead } = await fh.read(b, 0, 64, 0);
    head = b.subarray(0, bytesRead).toString('latin1');
  } finally {
    await fh.close();
  }
  if (!/^\s*\{/.test(head)) return null;
  if (st.size > 64 * 1024 * 1024) throw new UsageError(`${spec}: a saved analyze --json larger than 64 MiB`);
  let doc: unknown;
  try { doc = JSON.parse(await fs.readFile(spec, 'utf8')); } catch (e) { throw new UsageError(`${spec}: not valid JSON (${(e as Error).message})`); }
  try { return baselineOfAnalyzeJson(doc, spec); } catch (e) { throw new UsageError((e as Error).message); }
}

export async function cmdCi(args: Args, out: Out): Promise<number> {
  const source = needSource(args);
  const format = args.flags.has('json') ? 'json' : args.flags.get('format') ?? 'text';
  if (format !== 'text' && format !== 'json' && format !== 'markdown') throw new UsageError(`--format must be text, json or markdown, got '${String(format)}'`);
  let rules: CiRules = { ...DIVE_DEFAULT_RULES };
  let growthLimit: GrowthLimit | null = null;
  const file = await readRuleFile(args);
  if (file) {
    // yaml (dist/vendor/yaml.js) is loaded only when there is a config to read.
    const { parse: parseYaml } = await import('yaml');
    try {
      const read = rulesFromDocument(parseYaml(file.text));
      rules = read.rules;
      if (read.highestSizeGrowth !== undefined) growthLimit = read.highestSizeGrowth;
      for (const k of read.ignored) process.stderr.write(`layerlens: warning: ${file.path}: '${k}' is not a rule layerlens knows; ignored\n`);
    } catch (e) {
      throw new UsageError(`${file.path}: ${(e as Error).message}`);
    }
  }
  const flagRule = (flag: string, rule: keyof CiRules): void => {
    const v = args.flags.get(flag);
    if (typeof v === 'string') {
      try { rules[rule] = parseRuleValue(rule, v); } catch (e) { throw new UsageError(`--${flag}: ${(e as Error).message}`); }
    }
  };
  flagRule('lowest-efficiency', 'lowestEfficiency');
  flagRule('highest-wasted-bytes', 'highestWastedBytes');
  flagRule('highest-user-wasted-percent', 'highestUserWastedPercent');
  flagRule('highest-secrets', 'highestSecrets');
  const growthFlag = args.flags.get('highest-size-growth');
  if (typeof growthFlag === 'string') {
    try { growthLimit = parseGrowthLimit(growthFlag); } catch (e) { throw new UsageError(`--highest-size-growth: ${(e as Error).message}`); }
  }
  const baselineFlag = args.flags.get('baseline');
  if (typeof growthFlag === 'string' && typeof baselineFlag !== 'string') throw new UsageError('--highest-size-growth needs --baseline BASE (a source, or a saved analyze --json)');

  let baseline: BaselineFacts | undefined;
  if (typeof baselineFlag === 'string') {
    baseline = (await readJsonBaseline(baselineFlag)) ?? baselineOfAnalysis(await load(baselineFlag, args), baselineFlag);
  }
  const { analysis: a, reader } = await loadWithReader(source, args);
  let growth;
  try { growth = baseline ? compareWithBaseline(a, baseline, growthLimit) : undefined; } catch (e) { throw new UsageError((e as Error).message); }
  // The secrets check reads the image's candidate files: only when its rule is set.
  const secrets = rules.highestSecrets === null ? undefined : (await (await import('./contents')).secretsOf(a, reader)).findings.length;
  const res = evaluateCi(a, rules, growth, secrets);
  const name = a.image.repoTags[0] ?? a.image.id.slice(0, 19);
  if (format === 'json') {
    await out.line(JSON.stringify({
      schemaVersion: SCHEMA_VERSION, pass: res.pass, rules: res.results, efficiency: a.dive.efficiency, wastedBytes: a.dive.wastedBytes, userWastedPercent: a.dive.userWastedPercent,
      ...(growth ? { baseline: growth } : {}),
    }));
  } else if (format === 'markdown') {
    await out.line(ciMarkdown(a, name, res, growth).trimEnd());
  } else {
    await out.line(`layerlens ci: ${name}`);
    for (const l of res.lines) await out.line(l);
  }
  return res.pass ? 0 : 1;
}
