import type { NextFunction, Request, Response } from 'express';
import { baseEnvSchema, parseEnv } from '@keel/config';
import type { Principal } from '@keel/contracts';
import { PrincipalResolver } from '../auth/api-key.guard';
import { earlyShed } from './early-shed';
import { RateLimiter, rateLimitSettingsFromEnv } from './rate-limiter';

class KnownKeys extends PrincipalResolver {
  constructor(private readonly known: Record<string, Principal>) {
    super();
  }
  resolve(key: string): Promise<Principal | null> {
    return Promise.resolve(this.known[key] ?? null);
  }
  override peek(key: string): Principal | null | undefined {
    return this.known[key];
  }
}

const principal = (tenant: string): Principal => ({ keyId: `k-${tenant}`, tenant, role: 'submitter', name: tenant });

function call(mw: ReturnType<typeof earlyShed>, path: string, key?: string) {
  const sent: { status?: number; headers: Record<string, string>; body?: unknown } = { headers: {} };
  const res = {
    setHeader: (k: string, v: string) => { sent.headers[k.toLowerCase()] = v; },
    status: (s: number) => { sent.status = s; return res; },
    json: (b: unknown) => { sent.body = b; return res; },
  } as unknown as Response;
  let passed = false;
  const next: NextFunction = () => { passed = true; };
  mw({ path, headers: key ? { authorization: `Bearer ${key}` } : {} } as Request, res, next);
  return { passed, sent };
}

describe('earlyShed', () => {
  let now = 0;
  const limiter = () => new RateLimiter(rateLimitSettingsFromEnv(parseEnv(baseEnvSchema, { KEEL_RATE_TENANT_RPS: '1', KEEL_RATE_TENANT_BURST: '2' })), () => now);

  it('refuses a known key of a tenant whose request bucket is empty, before anything else runs', () => {
    const l = limiter();
    const mw = earlyShed(l, new KnownKeys({ ka: principal('a'), kb: principal('b') }));
    // The guard spends the tenant's two tokens; the shed itself takes none.
    expect(call(mw, '/v1/tasks', 'ka').passed).toBe(true);
    expect(l.check({ tenant: 'a', request: true }).ok).toBe(true);
    expect(l.check({ tenant: 'a', request: true }).ok).toBe(true);
    const refused = call(mw, '/v1/tasks', 'ka');
    expect(refused.passed).toBe(false);
    expect(refused.sent).toMatchObject({ status: 429, headers: { 'retry-after': '1' }, body: { error: { code: 'rate_limited', details: { scope: 'tenant' } } } });
    // Another tenant, an unknown key, no key and routes outside /v1 go on to the guard.
    expect(call(mw, '/v1/tasks', 'kb').passed).toBe(true);
    expect(call(mw, '/v1/tasks', 'unknown').passed).toBe(true);
    expect(call(mw, '/v1/tasks').passed).toBe(true);
    expect(call(mw, '/readyz', 'ka').passed).toBe(true);
    // Once the bucket refills, the tenant is served again.
    now += 1_000;
    expect(call(mw, '/v1/tasks', 'ka').passed).toBe(true);
  });
});
