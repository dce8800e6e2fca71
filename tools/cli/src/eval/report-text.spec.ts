import { baselineFrom, compareBaseline } from './baseline';
import { buildReport, percentile, summarise } from './report';
import type { ReportContext } from './report';
import { formatReport } from './report-text';
import type { CaseResult } from './runner';

function result(id: string, o: Partial<CaseResult> = {}): CaseResult {
  const pass = o.pass ?? true;
  return {
    id, tags: [], source: 'evals/suite/s.jsonl:1', input: 'in', taskId: `task-${id}`, status: pass ? 'succeeded' : 'failed', output: 'out', error: null, pass,
    scorers: pass ? [{ scorer: 'status', pass: true }] : [{ scorer: 'status', pass: false, reason: 'expected status succeeded, got failed' }, { scorer: 'toolCalls', pass: false, reason: 'call 1: expected calculator, there was none' }],
    failed: pass ? [] : ['status', 'toolCalls'], latencyMs: 100, steps: 2, costUsd: 0.00001, events: 5, ...o,
  };
}
const ctx: ReportContext = { dataset: ['evals/suite'], files: ['evals/suite/s.jsonl'], keelUrl: 'http://k', runId: 'r', startedAt: 0, finishedAt: 4000, concurrency: 8, judgeAgent: 'judge', tags: [] };

describe('terminal report', () => {
  it('has a row per case with result, failed scorers, latency, steps and cost, then the failures, totals and failing ids', () => {
    const text = formatReport(buildReport([result('calc-1'), result('calc-2', { pass: false, latencyMs: 1500 })], ctx), { colour: false });
    const lines = text.split('\n');
    expect(lines[0]).toMatch(/^case\s+result\s+failed scorers\s+latency\s+steps\s+cost$/);
    expect(lines[1]).toMatch(/^calc-1\s+pass\s+-\s+100 ms\s+2\s+\$0\.000010$/);
    expect(lines[2]).toMatch(/^calc-2\s+FAIL\s+status, toolCalls\s+1\.5 s\s+2\s+\$0\.000010$/);
    expect(text).toContain('  calc-2  evals/suite/s.jsonl:1  task task-calc-2\n    status: expected status succeeded, got failed\n    toolCalls: call 1: expected calculator, there was none');
    expect(text).toContain('2 cases: 1 passed, 1 failed (50.0 %) in 4.0 s (0.5 cases/s, concurrency 8)');
    expect(lines.at(-1)).toBe('failing (1): calc-2');
    expect(text).not.toContain('\u001b[');
  });

  it('lists the baseline comparison and ends with no failing cases when all pass', () => {
    const results = [result('a'), result('b')];
    const cmp = compareBaseline(baselineFrom([{ id: 'a', pass: false }, { id: 'old', pass: true }]), results, 'evals/baseline.json');
    const text = formatReport(buildReport(results, ctx, cmp), { colour: true });
    expect(text).toContain('baseline evals/baseline.json: ');
    expect(text).toContain('1 improvement: a');
    expect(text).toContain('new cases (not in the baseline): b (pass)');
    expect(text).toContain('missing cases (in the baseline, not run): old');
    expect(text.split('\n').at(-1)).toContain('failing: none');
  });

  it('summarises latency percentiles, cost and scorers', () => {
    const s = summarise([result('a', { latencyMs: 10 }), result('b', { latencyMs: 30, pass: false }), result('c', { latencyMs: 20, judge: { agent: 'judge', pass: true, reason: 'ok', costUsd: 0.5 } })], 1000);
    expect(s).toMatchObject({ total: 3, passed: 2, failed: 1, casesPerSecond: 3, judgeCostUsd: 0.5, steps: 6, latencyMs: { p50: 20, p95: 30, max: 30, mean: 20 } });
    expect(s.scorers).toEqual({ status: { pass: 2, fail: 1 }, toolCalls: { pass: 0, fail: 1 } });
    expect(percentile([], 50)).toBe(0);
  });
});
