import { readFileSync, writeFileSync } from 'node:fs';
import { z } from 'zod';

/**
 * Baselines: the pass state of each case in a run that was accepted. A new
 * run compared with one lists regressions (passed then, fails now),
 * improvements (failed then, passes now), new cases and missing ones.
 */
export const BaselineSchema = z.object({
  version: z.literal(1),
  savedAt: z.string().optional(),
  dataset: z.array(z.string()).optional(),
  cases: z.record(z.string(), z.object({ pass: z.boolean() }).strict()),
}).strict();
export type Baseline = z.output<typeof BaselineSchema>;

export class BaselineError extends Error {
  constructor(message: string) {
    super(message);
    this.name = new.target.name;
  }
}

export interface PassState {
  id: string;
  pass: boolean;
}

export interface BaselineComparison {
  file?: string;
  /** Passed in the baseline, fail now. */
  regressions: string[];
  /** Failed in the baseline, pass now. */
  improvements: string[];
  /** Not in the baseline (with their pass state now). */
  added: PassState[];
  /** In the baseline, not in this run (removed, renamed, or left out by --tags). */
  missing: string[];
  unchanged: number;
}

export type BaselineMark = 'regression' | 'improvement' | 'new' | 'unchanged';

export function baselineFrom(results: readonly PassState[], dataset: string[] = [], savedAt = new Date().toISOString()): Baseline {
  const cases: Baseline['cases'] = {};
  for (const r of [...results].sort((a, b) => a.id.localeCompare(b.id))) cases[r.id] = { pass: r.pass };
  return { version: 1, savedAt, dataset, cases };
}

export function parseBaseline(text: string, file: string): Baseline {
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (err) {
    throw new BaselineError(`${file}: not valid JSON: ${(err as Error).message}`);
  }
  const parsed = BaselineSchema.safeParse(raw);
  if (!parsed.success) {
    throw new BaselineError(`${file}: not a keel eval baseline: ${parsed.error.issues.map((i) => `${i.path.join('.') || '(root)'}: ${i.message}`).join('; ')}`);
  }
  return parsed.data;
}

export function loadBaseline(file: string): Baseline {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    throw new BaselineError(`cannot read baseline ${file}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
  }
  return parseBaseline(text, file);
}

export function saveBaseline(file: string, baseline: Baseline): void {
  writeFileSync(file, `${JSON.stringify(baseline, null, 2)}\n`);
}

export function compareBaseline(baseline: Baseline, results: readonly PassState[], file?: string): BaselineComparison {
  const out: BaselineComparison = { ...(file ? { file } : {}), regressions: [], improvements: [], added: [], missing: [], unchanged: 0 };
  const seen = new Set<string>();
  for (const r of results) {
    seen.add(r.id);
    const before = baseline.cases[r.id];
    if (!before) out.added.push({ id: r.id, pass: r.pass });
    else if (before.pass && !r.pass) out.regressions.push(r.id);
    else if (!before.pass && r.pass) out.improvements.push(r.id);
    else out.unchanged++;
  }
  out.missing = Object.keys(baseline.cases).filter((id) => !seen.has(id));
  return out;
}

export function markOf(id: string, cmp: BaselineComparison | undefined): BaselineMark | undefined {
  if (!cmp) return undefined;
  if (cmp.regressions.includes(id)) return 'regression';
  if (cmp.improvements.includes(id)) return 'improvement';
  if (cmp.added.some((a) => a.id === id)) return 'new';
  return 'unchanged';
}

/**
 * The exit code of a run: 0 when every case passes or, compared with a
 * baseline, when nothing regressed (a case that failed in the baseline may
 * still fail); 1 otherwise. Usage errors (2) never get this far.
 */
export function exitCodeFor(results: readonly PassState[], cmp?: BaselineComparison): 0 | 1 {
  if (cmp) return cmp.regressions.length === 0 ? 0 : 1;
  return results.every((r) => r.pass) ? 0 : 1;
}
