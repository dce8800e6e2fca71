import { baseEnvSchema, ConfigError, parseEnv } from '@keel/config';
import { registry } from '@keel/telemetry';
import { IntakeThrottle, RateLimiter, rateLimitedError, rateLimitSettingsFromEnv } from './rate-limiter';

const settings = (env: Record<string, string> = {}) => rateLimitSettingsFromEnv(parseEnv(baseEnvSchema, env));

describe('RateLimiter', () => {
  let now = 0;
  const clock = () => now;
  beforeEach(() => {
    now = 0;
  });

  it('has the documented defaults', () => {
    const s = settings();
    expect(s.enabled).toBe(true);
    expect(s.defaults).toEqual({
      tenant: { ratePerSec: 50, burst: 100 },
      user: { ratePerSec: 10, burst: 20 },
      tasks: { ratePerSec: 10, burst: 600 },
    });
    expect(s.replicas).toBe(1);
  });

  it('limits per tenant, and a refused request spends no other scope', () => {
    const l = new RateLimiter(settings({ KEEL_RATE_TENANT_RPS: '5', KEEL_RATE_TENANT_BURST: '10' }), clock);
    let ok = 0;
    for (let i = 0; i < 60; i++) if (l.check({ tenant: 'a', request: true, task: true }).ok) ok++;
    expect(ok).toBe(10);
    const refused = l.check({ tenant: 'a', request: true });
    expect(refused).toMatchObject({ ok: false, scope: 'tenant', retryAfterMs: 200 });
    expect(l.check({ tenant: 'b', request: true }).ok).toBe(true);
    // Only the 10 admitted submissions took task tokens.
    expect(l.check({ tenant: 'a', task: true }).ok).toBe(true);
  });

  it('limits one user of a tenant and serves another', () => {
    const l = new RateLimiter(settings({ KEEL_RATE_USER_RPS: '1', KEEL_RATE_USER_BURST: '3' }), clock);
    const results = Array.from({ length: 6 }, () => l.check({ tenant: 'a', userId: 'u1', request: true }).ok);
    expect(results).toEqual([true, true, true, false, false, false]);
    expect(l.check({ tenant: 'a', userId: 'u1', request: true })).toMatchObject({ ok: false, scope: 'user', retryAfterMs: 1000 });
    expect(l.check({ tenant: 'a', userId: 'u2', request: true }).ok).toBe(true);
    expect(l.check({ tenant: 'b', userId: 'u1', request: true }).ok).toBe(true); // users are per tenant
  });

  it('has a separate task-submission budget per minute', () => {
    const l = new RateLimiter(settings({ KEEL_RATE_TENANT_TASKS_PER_MIN: '60', KEEL_RATE_TENANT_TASKS_BURST: '2' }), clock);
    expect(l.check({ tenant: 'a', request: true, task: true }).ok).toBe(true);
    expect(l.check({ tenant: 'a', request: true, task: true }).ok).toBe(true);
    expect(l.check({ tenant: 'a', request: true, task: true })).toMatchObject({ ok: false, scope: 'tenant_tasks', retryAfterMs: 1000 });
    expect(l.check({ tenant: 'a', request: true }).ok).toBe(true); // other requests still pass
  });

  it('applies per-tenant overrides and divides by the replica count', () => {
    const l = new RateLimiter(settings({
      KEEL_RATE_TENANT_RPS: '10', KEEL_RATE_TENANT_BURST: '20', KEEL_RATE_REPLICAS: '2',
      KEEL_RATE_OVERRIDES: JSON.stringify({ big: { rps: 200, burst: 400 }, slow: { tasksPerMin: 6 } }),
    }), clock);
    expect(l.limitsFor('big').tenant).toEqual({ ratePerSec: 100, burst: 200 });
    expect(l.limitsFor('other').tenant).toEqual({ ratePerSec: 5, burst: 10 });
    expect(l.limitsFor('slow').tasks).toEqual({ ratePerSec: 0.05, burst: 3 });
    expect(l.limitsFor('slow').tenant).toEqual({ ratePerSec: 5, burst: 10 });
  });

  it('refuses a bad KEEL_RATE_OVERRIDES at start with a clear message', () => {
    expect(() => settings({ KEEL_RATE_OVERRIDES: '{nope' })).toThrow(ConfigError);
    expect(() => settings({ KEEL_RATE_OVERRIDES: '{nope' })).toThrow(/KEEL_RATE_OVERRIDES: must be JSON/);
    expect(() => settings({ KEEL_RATE_OVERRIDES: '{"a": {"rps": -1}}' })).toThrow(/KEEL_RATE_OVERRIDES: .*a\.rps/);
    expect(() => settings({ KEEL_RATE_OVERRIDES: '{"a": {"rsp": 5}}' })).toThrow(/KEEL_RATE_OVERRIDES: .*rsp/);
    expect(() => settings({ KEEL_RATE_TENANT_RPS: 'fast' })).toThrow(/KEEL_RATE_TENANT_RPS/);
  });

  it('is off when disabled', () => {
    const l = new RateLimiter(settings({ KEEL_RATE_LIMITS_ENABLED: 'false', KEEL_RATE_TENANT_BURST: '1' }), clock);
    for (let i = 0; i < 10; i++) expect(l.check({ tenant: 'a', request: true }).ok).toBe(true);
  });

  it('bounds its buckets whatever ids callers invent', () => {
    const l = new RateLimiter(settings({ KEEL_RATE_MAX_KEYS: '100' }), clock);
    for (let i = 0; i < 5_000; i++) l.check({ tenant: `t${i}`, userId: `u${i}`.repeat(1000), request: true, task: true });
    expect(l.sizes()).toEqual({ tenant: 100, user: 100, tenant_tasks: 100 });
  });

  it('counts refusals by scope', async () => {
    const l = new RateLimiter(settings({ KEEL_RATE_TENANT_BURST: '1' }), clock);
    const before = await count('tenant');
    l.check({ tenant: 'm', request: true });
    l.check({ tenant: 'm', request: true });
    l.check({ tenant: 'm', request: true });
    expect((await count('tenant')) - before).toBe(2);
  });

  it('a 429 carries scope and retry-after', () => {
    const e = rateLimitedError({ ok: false, scope: 'user', retryAfterMs: 1500, limit: { ratePerSec: 1, burst: 2 } });
    expect(e.httpStatus).toBe(429);
    expect(e.toJSON()).toMatchObject({ code: 'rate_limited', details: { scope: 'user', retryAfterMs: 1500 }, retryAfterMs: 1500 });
    expect(e.message).toMatch(/user's request rate .*retry after 2 s/);
  });
});

describe('IntakeThrottle', () => {
  it('defers over the limit with a delay that spreads the backlog, and admits again later', () => {
    let now = 0;
    const l = new RateLimiter(settings({ KEEL_RATE_TENANT_TASKS_PER_MIN: '60', KEEL_RATE_TENANT_TASKS_BURST: '1' }), () => now);
    const t = new IntakeThrottle(l, () => 1);
    expect(t.admit('a', undefined, 1)).toBeNull();
    const d2 = t.admit('a', undefined, 2)!;
    const d3 = t.admit('a', undefined, 3)!;
    expect(d2.error.code).toBe('rate_limited');
    expect(d2.error.retryable).toBe(true);
    expect(d2.delayMs).toBe(1000 + 1000); // retry-after + 1 waiting message at 1/s
    expect(d3.delayMs).toBe(1000 + 2000);
    expect(d3.error.retryAfterMs).toBe(d3.delayMs);
    now += 1000;
    expect(t.admit('a', undefined, 2)).toBeNull();
    expect(t.admit('b', undefined, 4)).toBeNull(); // another tenant is not held up
  });
});

async function count(scope: string): Promise<number> {
  const m = await registry.getSingleMetric('keel_rate_limited_total')?.get();
  return m?.values.filter((v) => v.labels.scope === scope).reduce((a, v) => a + v.value, 0) ?? 0;
}
