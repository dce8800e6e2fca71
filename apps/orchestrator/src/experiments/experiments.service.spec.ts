import type { VariantAggregate } from './experiments.repository';
import { summarize } from './experiments.service';

const row = (variant: string, succeeded: number, failed: number, extra: Partial<VariantAggregate> = {}): VariantAggregate => ({
  variant, tasks: succeeded + failed, succeeded, failed, cancelled: 0, active: 0, firstAt: null, lastAt: null,
  meanLatencyMs: 1200.04, p50LatencyMs: 1000, p95LatencyMs: 3000, meanCostUsd: 0.0012, feedbackCount: 0, meanFeedbackScore: null, ...extra,
});

describe('experiment results', () => {
  const declared = { name: 'tone', variants: [{ name: 'control', weight: 70 }, { name: 'warm', weight: 30 }] };

  it('compares each variant with the first declared one by a z-test, in declared order', () => {
    const r = summarize('tone', declared, [row('warm', 60, 40, { feedbackCount: 4, meanFeedbackScore: 0.5 }), row('control', 45, 55)]);
    expect(r.baseline).toBe('control');
    expect(r.variants.map((v) => [v.name, v.share, v.successRate])).toEqual([['control', 0.7, 0.45], ['warm', 0.3, 0.6]]);
    expect(r.variants[0].comparison).toBeNull();
    expect(r.variants[1].comparison).toMatchObject({ against: 'control', status: 'ok', difference: 0.15, z: 2.124, significant: true });
    expect(r.variants[1].comparison?.pValue).toBeCloseTo(0.033672, 5);
    expect(r.variants[1].feedback).toEqual({ count: 4, meanScore: 0.5 });
    expect(r.variants[1].latencyMs).toEqual({ mean: 1200, p50: 1000, p95: 3000 });
  });

  it('lists a declared variant without tasks, and one no longer declared, and says when data is short', () => {
    const r = summarize('tone', declared, [row('control', 10, 2), row('old', 3, 0)]);
    expect(r.variants.map((v) => [v.name, v.declared, v.tasks])).toEqual([['control', true, 12], ['warm', true, 0], ['old', false, 3]]);
    expect(r.variants[1]).toMatchObject({ successRate: null, comparison: { status: 'not_enough_data', significant: false, pValue: null } });
    expect(r.variants[1].comparison?.reason).toMatch(/at least 30/);
  });

  it('adjusts p-values for several comparisons (Bonferroni)', () => {
    const three = { name: 'tone', variants: [{ name: 'a' }, { name: 'b' }, { name: 'c' }] };
    const r = summarize('tone', three, [row('a', 45, 55), row('b', 60, 40), row('c', 45, 55)]);
    const b = r.variants[1].comparison!;
    expect(b.pValueAdjusted).toBeCloseTo(2 * b.pValue!, 5);
    expect(b.significant).toBe(false); // 0.067 after adjustment
  });
});
