import { KeelError } from '@keel/contracts';
import { ProviderError } from '../providers/provider';
import { DEFAULT_RETRY_OPTIONS, RetryPolicy } from './retry-policy';

const far = 10_000_000;

describe('RetryPolicy', () => {
  it('has the design defaults', () => {
    expect(DEFAULT_RETRY_OPTIONS).toMatchObject({ retries: 3, baseDelayMs: 1000, jitter: 0.5 });
  });

  it('backs off 1 s / 2 s / 4 s without jitter', () => {
    const policy = new RetryPolicy({ random: () => 0 });
    expect([1, 2, 3].map((n) => policy.backoffMs(n))).toEqual([1000, 2000, 4000]);
  });

  it('keeps jitter within 0–50 % of the backoff', () => {
    let seed = 7;
    const random = (): number => {
      seed = (seed * 16807) % 2147483647;
      return (seed - 1) / 2147483646;
    };
    const policy = new RetryPolicy({ random });
    for (let i = 0; i < 500; i++) {
      for (const [retry, base] of [[1, 1000], [2, 2000], [3, 4000]]) {
        const delay = policy.backoffMs(retry);
        expect(delay).toBeGreaterThanOrEqual(base);
        expect(delay).toBeLessThanOrEqual(base * 1.5);
      }
    }
    expect(new RetryPolicy({ random: () => 0.999999 }).backoffMs(3)).toBe(6000);
  });

  it('caps the backoff at maxDelayMs', () => {
    expect(new RetryPolicy({ random: () => 0.9, maxDelayMs: 2500 }).backoffMs(3)).toBe(2500);
  });

  it.each([408, 429, 500, 502, 503, 504])('retries status %i', (status) => {
    const policy = new RetryPolicy({ random: () => 0 });
    expect(policy.decide({ attempt: 1, error: ProviderError.fromStatus(status, 'x'), now: 0, deadline: far }))
      .toEqual({ retry: true, delayMs: 1000, source: 'backoff' });
  });

  it.each([400, 401, 403, 404, 422])('never retries status %i, even if an error claims it is retryable', (status) => {
    const policy = new RetryPolicy();
    const err = new ProviderError('provider_error', 'x', { status, retryable: true });
    expect(policy.decide({ attempt: 1, error: err, now: 0, deadline: far })).toEqual({ retry: false, reason: 'not_retryable' });
  });

  it('retries timeouts and malformed output', () => {
    const policy = new RetryPolicy({ random: () => 0 });
    expect(policy.isRetryable(new ProviderError('timeout', 'slow'))).toBe(true);
    expect(policy.isRetryable(new ProviderError('provider_error', 'malformed model output', { retryable: true }))).toBe(true);
  });

  it('does not retry non-retryable KeelErrors or foreign errors', () => {
    const policy = new RetryPolicy();
    expect(policy.isRetryable(new KeelError('script_exhausted', 'done'))).toBe(false);
    expect(policy.isRetryable(new TypeError('bug'))).toBe(false);
  });

  it('stops after the configured number of retries', () => {
    const policy = new RetryPolicy({ retries: 2, random: () => 0 });
    const error = ProviderError.fromStatus(503, 'down');
    expect(policy.decide({ attempt: 2, error, now: 0, deadline: far })).toMatchObject({ retry: true, delayMs: 2000 });
    expect(policy.decide({ attempt: 3, error, now: 0, deadline: far })).toEqual({ retry: false, reason: 'retries_exhausted' });
  });

  it('uses Retry-After instead of the backoff, capped', () => {
    const policy = new RetryPolicy({ random: () => 0.9, maxRetryAfterMs: 5000 });
    expect(policy.decide({ attempt: 1, error: ProviderError.fromStatus(429, 'slow down', 100), now: 0, deadline: far }))
      .toEqual({ retry: true, delayMs: 100, source: 'retry-after' });
    expect(policy.decide({ attempt: 1, error: ProviderError.fromStatus(429, 'slow down', 60_000), now: 0, deadline: far }))
      .toEqual({ retry: true, delayMs: 5000, source: 'retry-after' });
  });

  it('never sleeps past the deadline', () => {
    const policy = new RetryPolicy({ random: () => 0 });
    const error = ProviderError.fromStatus(503, 'down');
    expect(policy.decide({ attempt: 1, error, now: 1000, deadline: 1999 }))
      .toEqual({ retry: false, reason: 'deadline', delayMs: 1000, remainingMs: 999 });
    expect(policy.decide({ attempt: 1, error, now: 1000, deadline: 2001 })).toMatchObject({ retry: true, delayMs: 1000 });
    expect(policy.decide({ attempt: 1, error: ProviderError.fromStatus(429, 'x', 5000), now: 0, deadline: 4000 }))
      .toMatchObject({ retry: false, reason: 'deadline' });
  });

  it('rejects nonsense configuration', () => {
    expect(() => new RetryPolicy({ retries: -1 })).toThrow(/retries/);
    expect(() => new RetryPolicy({ retries: 1.5 })).toThrow(/whole number/);
    expect(() => new RetryPolicy({ jitter: 2 })).toThrow(/jitter/);
  });

  it('sleeps with the injected sleep', async () => {
    const slept: number[] = [];
    const policy = new RetryPolicy({ sleep: async (ms) => { slept.push(ms); } });
    await policy.sleep(1234);
    expect(slept).toEqual([1234]);
  });
});
