import { TokenBuckets } from './token-bucket';

describe('TokenBuckets (fake clock)', () => {
  let now = 0;
  const clock = () => now;
  beforeEach(() => {
    now = 1_000;
  });

  it('lets a burst through at once, then refuses until tokens refill', () => {
    const b = new TokenBuckets(100, clock);
    const limit = { ratePerSec: 5, burst: 10 };
    for (let i = 0; i < 10; i++) expect(b.take('a', limit).ok).toBe(true);
    const refused = b.take('a', limit);
    expect(refused).toEqual({ ok: false, retryAfterMs: 200 }); // 1 token at 5/s
    now += 199;
    expect(b.take('a', limit).ok).toBe(false);
    now += 1;
    expect(b.take('a', limit).ok).toBe(true);
    expect(b.take('a', limit).ok).toBe(false);
  });

  it('refills at the rate and never above the burst', () => {
    const b = new TokenBuckets(100, clock);
    const limit = { ratePerSec: 2, burst: 4 };
    for (let i = 0; i < 4; i++) b.take('a', limit);
    expect(b.tokens('a', limit)).toBe(0);
    now += 1_000;
    expect(b.tokens('a', limit)).toBeCloseTo(2);
    now += 60_000;
    expect(b.tokens('a', limit)).toBe(4);
    let admitted = 0;
    while (b.take('a', limit).ok) admitted++;
    expect(admitted).toBe(4);
  });

  it('computes retry-after from the missing fraction of a token, rounded up', () => {
    const b = new TokenBuckets(100, clock);
    const limit = { ratePerSec: 3, burst: 1 };
    expect(b.take('a', limit).ok).toBe(true);
    expect(b.waitMs('a', limit)).toBe(334); // 1/3 s, rounded up
    now += 100;
    expect(b.waitMs('a', limit)).toBe(234);
    expect(b.waitMs('a', { ratePerSec: 0.5, burst: 1 })).toBe(1_400); // 0.3 tokens there; the limit in force decides the rate
    expect(b.waitMs('a', limit, 2)).toBe(Number.POSITIVE_INFINITY); // more than the burst never fits
  });

  it('a refused take spends nothing', () => {
    const b = new TokenBuckets(100, clock);
    const limit = { ratePerSec: 1, burst: 1 };
    b.take('a', limit);
    for (let i = 0; i < 50; i++) b.take('a', limit);
    now += 1_000;
    expect(b.take('a', limit).ok).toBe(true);
  });

  it('keys are independent', () => {
    const b = new TokenBuckets(100, clock);
    const limit = { ratePerSec: 1, burst: 1 };
    expect(b.take('a', limit).ok).toBe(true);
    expect(b.take('a', limit).ok).toBe(false);
    expect(b.take('b', limit).ok).toBe(true);
  });

  it('stays bounded under many distinct keys, evicting the least recently used', () => {
    const b = new TokenBuckets(3, clock);
    const limit = { ratePerSec: 1, burst: 1 };
    b.take('hot', limit);
    for (let i = 0; i < 10_000; i++) {
      b.take(`hostile-${i}`, limit);
      if (i % 2 === 0) expect(b.take('hot', limit).ok).toBe(false); // touched often: stays, still empty
      expect(b.size).toBeLessThanOrEqual(3);
    }
    expect(b.size).toBe(3);
    expect(b.take('hot', limit).ok).toBe(false);
    // An evicted key starts again full: at most one burst is forgotten.
    expect(b.take('hostile-0', limit).ok).toBe(true);
  });
});
