import type { BaselineComparison, BaselineMark } from './baseline';
import { exitCodeFor, markOf } from './baseline';
import type { CaseResult } from './runner';

/**
 * The report of one `keel eval` run: what the JSON report holds, and what the
 * terminal and HTML reports are rendered from.
 */
export interface ReportCase extends CaseResult {
  baseline?: BaselineMark;
}

export interface EvalSummary {
  total: number;
  passed: number;
  failed: number;
  /** 0..1 */
  passRate: number;
  casesPerSecond: number;
  costUsd: number;
  judgeCostUsd: number;
  steps: number;
  latencyMs: { p50: number; p95: number; max: number; mean: number };
  /** Passes and failures per scorer. */
  scorers: Record<string, { pass: number; fail: number }>;
}

export interface EvalReport {
  version: 1;
  /** The dataset paths as given (files or directories). */
  dataset: string[];
  /** The dataset files read. */
  files: string[];
  keelUrl: string;
  runId: string;
  startedAt: string;
  finishedAt: string;
  durationMs: number;
  concurrency: number;
  judgeAgent: string;
  tags: string[];
  summary: EvalSummary;
  baseline?: BaselineComparison;
  /** Ids of the failing cases, in dataset order. */
  failing: string[];
  exitCode: 0 | 1;
  cases: ReportCase[];
}

export interface ReportContext {
  dataset: string[];
  files: string[];
  keelUrl: string;
  runId: string;
  startedAt: number;
  finishedAt: number;
  concurrency: number;
  judgeAgent: string;
  tags: string[];
}

/** Nearest-rank percentile of sorted numbers. */
export function percentile(sorted: readonly number[], p: number): number {
  if (sorted.length === 0) return 0;
  const rank = Math.ceil((p / 100) * sorted.length);
  return sorted[Math.min(sorted.length, Math.max(1, rank)) - 1];
}

export function summarise(results: readonly CaseResult[], durationMs: number): EvalSummary {
  const passed = results.filter((r) => r.pass).length;
  const latencies = results.map((r) => r.latencyMs).sort((a, b) => a - b);
  const scorers: EvalSummary['scorers'] = {};
  for (const r of results) {
    for (const s of r.scorers) {
      const slot = (scorers[s.scorer] ??= { pass: 0, fail: 0 });
      if (s.pass) slot.pass++;
      else slot.fail++;
    }
  }
  return {
    total: results.length,
    passed,
    failed: results.length - passed,
    passRate: results.length === 0 ? 1 : passed / results.length,
    casesPerSecond: durationMs > 0 ? results.length / (durationMs / 1000) : 0,
    costUsd: results.reduce((s, r) => s + r.costUsd, 0),
    judgeCostUsd: results.reduce((s, r) => s + (r.judge?.costUsd ?? 0), 0),
    steps: results.reduce((s, r) => s + r.steps, 0),
    latencyMs: {
      p50: percentile(latencies, 50),
      p95: percentile(latencies, 95),
      max: latencies.at(-1) ?? 0,
      mean: latencies.length ? latencies.reduce((a, b) => a + b, 0) / latencies.length : 0,
    },
    scorers,
  };
}

export function buildReport(results: readonly CaseResult[], ctx: ReportContext, baseline?: BaselineComparison): EvalReport {
  const durationMs = Math.max(0, ctx.finishedAt - ctx.startedAt);
  return {
    version: 1,
    dataset: ctx.dataset,
    files: ctx.files,
    keelUrl: ctx.keelUrl,
    runId: ctx.runId,
    startedAt: new Date(ctx.startedAt).toISOString(),
    finishedAt: new Date(ctx.finishedAt).toISOString(),
    durationMs,
    concurrency: ctx.concurrency,
    judgeAgent: ctx.judgeAgent,
    tags: ctx.tags,
    summary: summarise(results, durationMs),
    ...(baseline ? { baseline } : {}),
    failing: results.filter((r) => !r.pass).map((r) => r.id),
    exitCode: exitCodeFor(results, baseline),
    cases: results.map((r) => {
      const mark = markOf(r.id, baseline);
      return mark ? { ...r, baseline: mark } : { ...r };
    }),
  };
}
