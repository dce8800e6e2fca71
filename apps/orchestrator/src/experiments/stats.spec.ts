import { erfc, MIN_TASKS_PER_VARIANT, twoProportionZTest, twoSidedP } from './stats';

describe('two-proportion z-test', () => {
  it('erfc and the two-sided p-value match reference values', () => {
    expect(erfc(0)).toBeCloseTo(1, 7);
    expect(erfc(1)).toBeCloseTo(0.157299207, 7);
    expect(erfc(-1)).toBeCloseTo(1.842700793, 7);
    expect(twoSidedP(1.959963984540054)).toBeCloseTo(0.05, 6);
    expect(twoSidedP(2.5758293035489)).toBeCloseTo(0.01, 6);
    expect(twoSidedP(0)).toBe(1);
  });

  it('45/100 vs 60/100 gives z = 2.124, p = 0.0337 (as statsmodels proportions_ztest)', () => {
    const t = twoProportionZTest(45, 100, 60, 100);
    expect(t.status).toBe('ok');
    if (t.status !== 'ok') return;
    expect(t.z).toBeCloseTo(2.12398, 4);
    expect(t.pValue).toBeCloseTo(0.033672, 5);
    expect(t.difference).toBeCloseTo(0.15, 10);
  });

  it('200/1000 vs 230/1000 is not significant (z = 1.633, p = 0.1025); the sign follows the direction', () => {
    const up = twoProportionZTest(200, 1000, 230, 1000);
    const down = twoProportionZTest(230, 1000, 200, 1000);
    expect(up.status === 'ok' && up.z).toBeCloseTo(1.63287, 4);
    expect(up.status === 'ok' && up.pValue).toBeCloseTo(0.102496, 5);
    expect(down.status === 'ok' && down.z).toBeCloseTo(-1.63287, 4);
  });

  it('equal rates give z = 0 and p = 1', () => {
    const t = twoProportionZTest(50, 100, 50, 100);
    expect(t).toEqual({ status: 'ok', z: 0, pValue: 1, difference: 0 });
  });

  it('says "not enough data" below the minimum n, and when successes or failures are too few', () => {
    const small = twoProportionZTest(10, 12, 3, 12);
    expect(small.status).toBe('not_enough_data');
    expect(small.status === 'not_enough_data' && small.reason).toContain(`at least ${MIN_TASKS_PER_VARIANT}`);
    const allPass = twoProportionZTest(40, 40, 39, 40);
    expect(allPass.status === 'not_enough_data' && allPass.reason).toContain('too few failures');
    const allFail = twoProportionZTest(0, 40, 2, 40);
    expect(allFail.status === 'not_enough_data' && allFail.reason).toContain('too few successes');
  });
});
