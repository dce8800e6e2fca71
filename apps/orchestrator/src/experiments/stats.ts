/**
 * Significance of a difference in success rate between two variants: the
 * pooled two-proportion z-test, two-sided (docs/experiments.md). It is a
 * normal approximation, so it answers only when each group has at least
 * MIN_TASKS_PER_VARIANT finished tasks and the pooled rate predicts at least
 * MIN_EXPECTED successes and failures in each; otherwise "not enough data".
 */
export const MIN_TASKS_PER_VARIANT = 30;
export const MIN_EXPECTED = 5;

export type ZTestResult =
  | { status: 'ok'; z: number; pValue: number; difference: number }
  | { status: 'not_enough_data'; reason: string; difference: number | null };

/** Complementary error function (Numerical Recipes' Chebyshev fit; relative error below 1.2e-7 everywhere). */
export function erfc(x: number): number {
  const z = Math.abs(x);
  const t = 1 / (1 + 0.5 * z);
  const r = t * Math.exp(-z * z - 1.26551223 + t * (1.00002368 + t * (0.37409196 + t * (0.09678418 + t * (-0.18628806
    + t * (0.27886807 + t * (-1.13520398 + t * (1.48851587 + t * (-0.82215223 + t * 0.17087277)))))))));
  return x >= 0 ? r : 2 - r;
}

/** Two-sided p-value of a standard normal statistic. */
export const twoSidedP = (z: number): number => Math.min(1, erfc(Math.abs(z) / Math.SQRT2));

/**
 * Compares `b` (x2 successes of n2) against the baseline `a` (x1 of n1).
 * `difference` is rate(b) − rate(a).
 */
export function twoProportionZTest(x1: number, n1: number, x2: number, n2: number, minN = MIN_TASKS_PER_VARIANT): ZTestResult {
  const difference = n1 > 0 && n2 > 0 ? x2 / n2 - x1 / n1 : null;
  if (n1 < minN || n2 < minN) {
    return { status: 'not_enough_data', reason: `needs at least ${minN} finished tasks per variant (have ${n1} and ${n2})`, difference };
  }
  const p = (x1 + x2) / (n1 + n2);
  const least = Math.min(n1, n2);
  if (least * p < MIN_EXPECTED || least * (1 - p) < MIN_EXPECTED) {
    return { status: 'not_enough_data', reason: `too few ${least * p < MIN_EXPECTED ? 'successes' : 'failures'} for the normal approximation (fewer than ${MIN_EXPECTED} expected per variant)`, difference };
  }
  const se = Math.sqrt(p * (1 - p) * (1 / n1 + 1 / n2));
  const z = (x2 / n2 - x1 / n1) / se;
  return { status: 'ok', z, pValue: twoSidedP(z), difference: difference! };
}
