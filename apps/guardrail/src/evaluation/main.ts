/**
 * `npm run guardrail:eval`: measures the guardrail on the held-out test files.
 *
 *   node apps/guardrail/dist/evaluation/main.js [--data <dir>] [--json <file>] [--latency-inputs 400] [--latency-rounds 3]
 *                                              [--sections injection,spans,latency]   (spans = pii,secrets)
 *
 * 1. Injection / jailbreak on injection-test.jsonl, through the full screen() (rules +
 *    classifier + everything else), with the default thresholds. A row is FLAGGED when
 *    - user:        the verdict is `block` or `escalate` (what fails an orchestrator task);
 *    - tool_output: the injection score is >= ESCALATE_THRESHOLD, i.e. `prompt_injection` or
 *                   `jailbreak` is among the categories — exactly the case in which the screener
 *                   removes instruction-like text (the check below asserts the two agree).
 *    Per label, positives are the rows with that label and negatives are the benign rows of the
 *    same channel (rows of the other attack label are left out); "any-attack" pools both labels.
 *    FPR = flagged benign / benign. The same tables are printed for the rules alone (rule score
 *    >= 0.5, the pre-classifier behaviour) for comparison.
 * 2. PII and secrets (spans.eval.ts); `--sections pii` or `--sections secrets` runs one of them.
 * 3. Latency of screen() on 4,096-character inputs cut from the test texts.
 *
 * Nothing here feeds back into training: thresholds come from the model file, chosen by
 * cross-validation on the training file (see data/injection-model.report.md).
 */

import * as fs from 'node:fs';
import * as path from 'node:path';
import type { ScreenChannel, ScreenResponse } from '@keel/contracts';
import { injectionModel } from '../screening/injection.classifier';
import { analyse, ESCALATE_THRESHOLD, INSTRUCTION_PLACEHOLDER, screen } from '../screening/screener';
import { argValue, confusion, formatTable, fpr, percentile, prf, readJsonl, resolveDataDir, sourceFamily } from './dataset';
import type { Confusion, InjectionRow } from './dataset';
import { evaluatePii, evaluateSecrets, formatPiiReport, formatSecretsReport } from './spans.eval';

type AttackGroup = 'injection' | 'jailbreak' | 'any-attack';
const GROUPS: readonly AttackGroup[] = ['injection', 'jailbreak', 'any-attack'];
const CHANNELS: readonly ('user' | 'tool_output' | 'all')[] = ['user', 'tool_output', 'all'];

export interface BinaryMetrics extends Confusion {
  positives: number;
  negatives: number;
  precision: number;
  recall: number;
  f1: number;
  fpr: number;
}

function binary(c: Confusion): BinaryMetrics {
  return { ...c, positives: c.tp + c.fn, negatives: c.fp + c.tn, ...prf(c.tp, c.fp, c.fn), fpr: fpr(c.fp, c.tn) };
}

interface Judged {
  row: InjectionRow;
  flagged: boolean;
  rulesFlagged: boolean;
}

/** True when screen() treats the row as an attack (see the file comment). */
export function isFlagged(res: ScreenResponse, channel: ScreenChannel): boolean {
  if (channel === 'user') return res.verdict === 'block' || res.verdict === 'escalate';
  return res.categories.includes('prompt_injection') || res.categories.includes('jailbreak');
}

function inGroup(label: InjectionRow['label'], g: AttackGroup): boolean {
  return g === 'any-attack' ? label !== 'benign' : label === g;
}

function metricsFor(rows: readonly Judged[], channel: 'user' | 'tool_output' | 'all', g: AttackGroup, by: 'flagged' | 'rulesFlagged'): BinaryMetrics {
  const sel = rows.filter((r) => (channel === 'all' || r.row.channel === channel) && (r.row.label === 'benign' || inGroup(r.row.label, g)));
  return binary(confusion(sel.map((r) => ({ actual: r.row.label !== 'benign', predicted: r[by] }))));
}

export interface InjectionEvaluation {
  file: string;
  rows: number;
  definition: string;
  thresholds: { escalateScore: number; classifier: Record<'user' | 'tool_output', { escalate: number; block: number }> };
  /** [channel][group] */
  screen: Record<string, Record<string, BinaryMetrics>>;
  rulesOnly: Record<string, Record<string, BinaryMetrics>>;
  /** User rows: verdict `block` alone. */
  userBlockOnly: BinaryMetrics;
  perLanguage: { lang: string; attacks: number; recall: number; benign: number; fpr: number }[];
  /** Per channel and source family (the `source` repository, BIPIA split by context type). */
  perSource: { channel: string; source: string; attacks: number; recall: number; benign: number; fpr: number }[];
  /** tool_output rows whose "flagged" status disagrees with placeholder insertion (should be 0). */
  removalMismatches: number;
}

export function evaluateInjection(dataDir: string, file = 'injection-test.jsonl'): InjectionEvaluation {
  const rows = readJsonl<InjectionRow>(path.join(dataDir, file));
  let removalMismatches = 0;
  const userBlock: { actual: boolean; predicted: boolean }[] = [];
  const judged: Judged[] = rows.map((row) => {
    const res = screen({ text: row.text, channel: row.channel });
    const flagged = isFlagged(res, row.channel);
    if (row.channel === 'tool_output' && flagged !== (res.redacted?.includes(INSTRUCTION_PLACEHOLDER) ?? false)) removalMismatches++;
    if (row.channel === 'user') userBlock.push({ actual: row.label !== 'benign', predicted: res.verdict === 'block' });
    const rulesFlagged = analyse(row.text, row.channel, { classifier: false }).injectionScore >= ESCALATE_THRESHOLD;
    return { row, flagged, rulesFlagged };
  });
  const table = (by: 'flagged' | 'rulesFlagged'): Record<string, Record<string, BinaryMetrics>> =>
    Object.fromEntries(CHANNELS.map((ch) => [ch, Object.fromEntries(GROUPS.map((g) => [g, metricsFor(judged, ch, g, by)]))]));
  const langs = [...new Set(rows.map((r) => r.lang))].sort();
  const perLanguage = langs.map((lang) => {
    const sel = judged.filter((j) => j.row.lang === lang);
    const attacks = sel.filter((j) => j.row.label !== 'benign');
    const benign = sel.filter((j) => j.row.label === 'benign');
    return {
      lang,
      attacks: attacks.length,
      recall: attacks.length === 0 ? NaN : attacks.filter((j) => j.flagged).length / attacks.length,
      benign: benign.length,
      fpr: benign.length === 0 ? NaN : benign.filter((j) => j.flagged).length / benign.length,
    };
  }).sort((a, b) => b.attacks + b.benign - (a.attacks + a.benign));
  const families = new Map<string, Judged[]>();
  for (const j of judged) {
    const key = `${j.row.channel}\t${sourceFamily(j.row.source)}`;
    const list = families.get(key);
    if (list === undefined) families.set(key, [j]);
    else list.push(j);
  }
  const perSource = [...families].map(([key, sel]) => {
    const [channel, source] = key.split('\t');
    const attacks = sel.filter((j) => j.row.label !== 'benign');
    const benign = sel.filter((j) => j.row.label === 'benign');
    return {
      channel,
      source,
      attacks: attacks.length,
      recall: attacks.length === 0 ? NaN : attacks.filter((j) => j.flagged).length / attacks.length,
      benign: benign.length,
      fpr: benign.length === 0 ? NaN : benign.filter((j) => j.flagged).length / benign.length,
    };
  }).sort((a, b) => (a.channel === b.channel ? (a.source < b.source ? -1 : 1) : a.channel < b.channel ? 1 : -1));
  const model = injectionModel();
  const res: InjectionEvaluation = {
    file,
    rows: rows.length,
    definition: 'user: flagged = verdict block|escalate; tool_output: flagged = injection score >= escalate threshold (instruction-like text removed)',
    thresholds: { escalateScore: ESCALATE_THRESHOLD, classifier: { user: model.thresholds.user, tool_output: model.thresholds.tool_output } },
    screen: table('flagged'),
    rulesOnly: table('rulesFlagged'),
    userBlockOnly: binary(confusion(userBlock)),
    perLanguage,
    perSource,
    removalMismatches,
  };
  return res;
}

const f3 = (x: number): string => (Number.isNaN(x) ? '–' : x.toFixed(3));

function metricsTable(m: Record<string, Record<string, BinaryMetrics>>): string {
  const rows: (string | number)[][] = [];
  for (const ch of CHANNELS) {
    for (const g of GROUPS) {
      const x = m[ch][g];
      if (x.positives === 0) continue;
      rows.push([ch, g, x.positives, x.negatives, x.tp, x.fp, x.fn, f3(x.precision), f3(x.recall), f3(x.f1), f3(x.fpr)]);
    }
  }
  return formatTable(['channel', 'label', 'pos', 'neg', 'tp', 'fp', 'fn', 'precision', 'recall', 'f1', 'FPR'], rows);
}

export function formatInjectionReport(e: InjectionEvaluation): string {
  const t = e.thresholds.classifier;
  const out: string[] = [];
  out.push(`Injection / jailbreak — ${e.file} (${e.rows} rows)`);
  out.push(`flagged: ${e.definition}`);
  out.push(`classifier thresholds (from the model file, chosen by CV on the train file): user p >= ${t.user.escalate} escalate, >= ${t.user.block} block; tool_output p >= ${t.tool_output.escalate} per sentence${injectionModel().shortText === undefined ? '' : `; user messages of < ${injectionModel().shortText!.maxWords} words: p >= ${injectionModel().shortText!.user.escalate} escalate, >= ${injectionModel().shortText!.user.block} block`}`);
  out.push('', 'screen() (rules + classifier):', metricsTable(e.screen));
  const b = e.userBlockOnly;
  out.push('', `user, verdict block alone: precision ${f3(b.precision)} recall ${f3(b.recall)} FPR ${f3(b.fpr)}`);
  out.push('', 'rules alone (rule score >= 0.5; the behaviour before the classifier):', metricsTable(e.rulesOnly));
  out.push('', 'per language (both channels; recall over injection+jailbreak rows, FPR over benign rows):');
  out.push(formatTable(['lang', 'attacks', 'recall', 'benign', 'FPR'], e.perLanguage.map((l) => [l.lang, l.attacks, f3(l.recall), l.benign, f3(l.fpr)])));
  out.push('', 'per source (recall over attack rows, FPR over benign rows):');
  out.push(formatTable(['channel', 'source', 'attacks', 'recall', 'benign', 'FPR'], e.perSource.map((x) => [x.channel, x.source, x.attacks, f3(x.recall), x.benign, f3(x.fpr)])));
  if (e.removalMismatches > 0) out.push('', `WARNING: ${e.removalMismatches} tool_output rows where "flagged" and text removal disagree`);
  return out.join('\n');
}

// ---------------------------------------------------------------------------------------------
// Latency

export interface LatencyStats {
  inputs: number;
  inputChars: number;
  p50Ms: number;
  p99Ms: number;
  maxMs: number;
  meanMs: number;
  /** UTF-8 megabytes (10^6 bytes) of input screened per second of screen() time. */
  throughputMBps: number;
}

export interface LatencyEvaluation {
  description: string;
  warmup: number;
  perChannel: Record<'user' | 'tool_output', LatencyStats>;
  overall: LatencyStats;
  /**
   * Each input's fastest round, then p50/p99 over the inputs: the code's own cost per input with the
   * machine's preemptions and collections filtered out (on a shared VM they dominate the plain p99).
   */
  fastestPerInput: Record<'user' | 'tool_output', { inputs: number; p50Ms: number; p99Ms: number }>;
}

const INPUT_CHARS = 4096;

/** Deterministic 4,096-char inputs: test texts joined in a seeded order and cut; every 4th carries a base64 payload. */
export function latencyInputs(rows: readonly InjectionRow[], count: number): string[] {
  const order = rows.map((_, i) => i);
  let seed = 12345;
  const rand = (): number => {
    seed = (Math.imul(seed, 1103515245) + 12345) >>> 0;
    return seed / 4294967296;
  };
  for (let i = order.length - 1; i > 0; i--) {
    const j = Math.floor(rand() * (i + 1));
    [order[i], order[j]] = [order[j], order[i]];
  }
  const stream = order.map((i) => rows[i].text).join('\n\n');
  const attacks = rows.filter((r) => r.label !== 'benign' && r.text.length < 600).map((r) => r.text);
  const out: string[] = [];
  const step = Math.max(1, Math.floor((stream.length - INPUT_CHARS) / count));
  for (let k = 0; k < count; k++) {
    let text = stream.slice(k * step, k * step + INPUT_CHARS);
    if (k % 4 === 0 && attacks.length > 0) {
      // A base64 payload (an attack or a config blob) in the middle, keeping the length at 4,096.
      const payload = k % 8 === 0 ? attacks[k % attacks.length] : `export API_TOKEN=ghp_${'x1Y2z3'.repeat(6)}\nDEBUG=false`;
      const b64 = Buffer.from(payload, 'utf8').toString('base64').slice(0, 1500);
      const at = Math.floor(text.length / 2);
      text = `${text.slice(0, at)} ${b64} ${text.slice(at)}`.slice(0, INPUT_CHARS);
    }
    out.push(text);
  }
  return out;
}

function stats(times: number[], inputs: readonly string[]): LatencyStats {
  const sorted = [...times].sort((a, b) => a - b);
  const total = times.reduce((a, b) => a + b, 0);
  const bytes = inputs.reduce((a, s) => a + Buffer.byteLength(s, 'utf8'), 0);
  return {
    inputs: times.length,
    inputChars: INPUT_CHARS,
    p50Ms: percentile(sorted, 50),
    p99Ms: percentile(sorted, 99),
    maxMs: sorted[sorted.length - 1],
    meanMs: total / times.length,
    throughputMBps: bytes / 1e6 / (total / 1000),
  };
}

export function evaluateLatency(dataDir: string, count = 400, rounds = 3, file = 'injection-test.jsonl'): LatencyEvaluation {
  const rows = readJsonl<InjectionRow>(path.join(dataDir, file));
  const inputs = latencyInputs(rows, count);
  const warmup = 300;
  for (let i = 0; i < warmup; i++) screen({ text: inputs[i % inputs.length], channel: i % 2 === 0 ? 'user' : 'tool_output' });
  const times: Record<'user' | 'tool_output', number[]> = { user: [], tool_output: [] };
  // Rounds alternate the channels, so a burst of machine noise does not land on one channel only.
  for (let r = 0; r < rounds; r++) {
    for (const channel of ['user', 'tool_output'] as const) {
      for (const text of inputs) {
        const t0 = process.hrtime.bigint();
        screen({ text, channel });
        times[channel].push(Number(process.hrtime.bigint() - t0) / 1e6);
      }
    }
  }
  const repeated = Array.from({ length: rounds }, () => inputs).flat();
  const fastest = (all: number[]): { inputs: number; p50Ms: number; p99Ms: number } => {
    // times[c][r * count + i] is round r of input i.
    const best = inputs.map((_, i) => Math.min(...Array.from({ length: rounds }, (_unused, r) => all[r * inputs.length + i])));
    best.sort((a, b) => a - b);
    return { inputs: best.length, p50Ms: percentile(best, 50), p99Ms: percentile(best, 99) };
  };
  return {
    description: `screen() on ${count} inputs of ${INPUT_CHARS} chars per channel × ${rounds} rounds (test texts joined and cut; every 4th with a base64 payload), after ${warmup} warm-up calls; one thread; percentiles over all ${count * rounds} calls per channel`,
    warmup,
    perChannel: { user: stats(times.user, repeated), tool_output: stats(times.tool_output, repeated) },
    overall: stats([...times.user, ...times.tool_output], [...repeated, ...repeated]),
    fastestPerInput: { user: fastest(times.user), tool_output: fastest(times.tool_output) },
  };
}

export function formatLatencyReport(l: LatencyEvaluation): string {
  const row = (name: string, s: LatencyStats): (string | number)[] => [name, s.inputs, s.p50Ms.toFixed(3), s.p99Ms.toFixed(3), s.maxMs.toFixed(3), s.meanMs.toFixed(3), s.throughputMBps.toFixed(2)];
  return [
    `Latency — ${l.description}`,
    formatTable(['channel', 'inputs', 'p50 ms', 'p99 ms', 'max ms', 'mean ms', 'MB/s'], [row('user', l.perChannel.user), row('tool_output', l.perChannel.tool_output), row('both', l.overall)]),
    'each input\'s fastest round (the code\'s cost without the machine\'s preemptions and collections):',
    formatTable(['channel', 'inputs', 'p50 ms', 'p99 ms'], (['user', 'tool_output'] as const).map((c) => [c, l.fastestPerInput[c].inputs, l.fastestPerInput[c].p50Ms.toFixed(3), l.fastestPerInput[c].p99Ms.toFixed(3)])),
  ].join('\n');
}

// ---------------------------------------------------------------------------------------------

export function main(argv: string[]): void {
  const dataDir = resolveDataDir(argv);
  const jsonOut = argValue(argv, 'json');
  const latencyCount = Number(argValue(argv, 'latency-inputs') ?? 400);
  const latencyRounds = Number(argValue(argv, 'latency-rounds') ?? 3);
  const sections = new Set((argValue(argv, 'sections') ?? 'injection,spans,latency').split(','));
  for (const s of sections) if (!['injection', 'spans', 'pii', 'secrets', 'latency'].includes(s)) throw new Error(`unknown section "${s}" (injection, spans = pii + secrets, pii, secrets, latency)`);
  const figures: Record<string, unknown> = { generatedAt: new Date().toISOString(), node: process.version };
  const out = (s: string): void => {
    process.stdout.write(`${s}\n\n`);
  };
  out(`guardrail evaluation — data ${dataDir}`);

  if (sections.has('injection')) {
    const injection = evaluateInjection(dataDir);
    figures.injection = injection;
    out(formatInjectionReport(injection));
  }

  // PII and secrets: measured by spans.eval.ts.
  if (sections.has('spans') || sections.has('pii')) {
    const pii = evaluatePii(dataDir);
    figures.pii = pii;
    out(formatPiiReport(pii));
  }
  if (sections.has('spans') || sections.has('secrets')) {
    const secrets = evaluateSecrets(dataDir);
    figures.secrets = secrets;
    out(formatSecretsReport(secrets));
  }

  if (sections.has('latency')) {
    const latency = evaluateLatency(dataDir, latencyCount, latencyRounds);
    figures.latency = latency;
    out(formatLatencyReport(latency));
  }

  if (jsonOut !== undefined) {
    fs.writeFileSync(jsonOut, `${JSON.stringify(figures, null, 2)}\n`);
    out(`wrote ${jsonOut}`);
  }
}

if (require.main === module) {
  try {
    main(process.argv.slice(2));
  } catch (e) {
    process.stderr.write(`guardrail:eval: ${(e as Error).message}\n`);
    process.exit(1);
  }
}
