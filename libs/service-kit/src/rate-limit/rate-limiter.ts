import { KeelError } from '@keel/contracts';
import type { BaseEnv } from '@keel/config';
import { counter } from '@keel/telemetry';
import { TokenBuckets } from './token-bucket';
import type { BucketLimit, Clock } from './token-bucket';

/**
 * Per-tenant and per-user rate limits (docs/rate-limits.md). Three scopes,
 * each a set of token buckets:
 *  - `tenant`: every authenticated REST request of a tenant;
 *  - `user`: requests naming a `userId` (task body, `:userId` route), per tenant + user;
 *  - `tenant_tasks`: task submissions of a tenant, REST and NATS together.
 * A request is admitted only when every scope it belongs to has a token, and
 * then takes one from each: a refused request spends nothing.
 * Buckets live in this process; the limits are divided by `KEEL_RATE_REPLICAS`.
 */
export type RateScope = 'tenant' | 'user' | 'tenant_tasks';

export interface TenantLimits {
  tenant: BucketLimit;
  user: BucketLimit;
  tasks: BucketLimit;
}

export interface TenantOverride {
  rps?: number;
  burst?: number;
  userRps?: number;
  userBurst?: number;
  tasksPerMin?: number;
  tasksBurst?: number;
}

export interface RateLimitSettings {
  enabled: boolean;
  /** Cluster-wide limits, before division by `replicas`. */
  defaults: TenantLimits;
  overrides: Record<string, TenantOverride>;
  replicas: number;
  maxKeys: number;
}

export type RateDecision = { ok: true } | { ok: false; scope: RateScope; retryAfterMs: number; limit: BucketLimit };

export interface RateRequest {
  tenant: string;
  userId?: string;
  /** Counts against the tenant's request budget (REST requests). */
  request?: boolean;
  /** Counts against the tenant's task-submission budget. */
  task?: boolean;
}

type RateEnv = Pick<BaseEnv, 'KEEL_RATE_LIMITS_ENABLED' | 'KEEL_RATE_TENANT_RPS' | 'KEEL_RATE_TENANT_BURST' | 'KEEL_RATE_USER_RPS' | 'KEEL_RATE_USER_BURST'
  | 'KEEL_RATE_TENANT_TASKS_PER_MIN' | 'KEEL_RATE_TENANT_TASKS_BURST' | 'KEEL_RATE_OVERRIDES' | 'KEEL_RATE_REPLICAS' | 'KEEL_RATE_MAX_KEYS'>;

export function rateLimitSettingsFromEnv(env: RateEnv): RateLimitSettings {
  const tasksPerMin = env.KEEL_RATE_TENANT_TASKS_PER_MIN;
  return {
    enabled: env.KEEL_RATE_LIMITS_ENABLED,
    defaults: {
      tenant: { ratePerSec: env.KEEL_RATE_TENANT_RPS, burst: env.KEEL_RATE_TENANT_BURST },
      user: { ratePerSec: env.KEEL_RATE_USER_RPS, burst: env.KEEL_RATE_USER_BURST },
      tasks: { ratePerSec: tasksPerMin / 60, burst: env.KEEL_RATE_TENANT_TASKS_BURST || Math.max(1, Math.ceil(tasksPerMin)) },
    },
    overrides: env.KEEL_RATE_OVERRIDES,
    replicas: env.KEEL_RATE_REPLICAS,
    maxKeys: env.KEEL_RATE_MAX_KEYS,
  };
}

const limited = counter('keel_rate_limited_total', 'Requests and task submissions refused (REST 429) or deferred (NATS intake) by a rate limit, by scope', ['scope']);

/** Longest user id kept in a bucket key (the body is not validated yet when the limit is checked). */
const MAX_ID = 200;

export class RateLimiter {
  private readonly buckets: Record<RateScope, TokenBuckets>;
  private readonly perTenant = new Map<string, TenantLimits>();
  private readonly base: TenantLimits;

  constructor(readonly settings: RateLimitSettings, clock?: Clock) {
    this.buckets = {
      tenant: new TokenBuckets(settings.maxKeys, clock),
      user: new TokenBuckets(settings.maxKeys, clock),
      tenant_tasks: new TokenBuckets(settings.maxKeys, clock),
    };
    this.base = this.divide(settings.defaults);
    for (const [tenant, o] of Object.entries(settings.overrides)) {
      const d = settings.defaults;
      this.perTenant.set(tenant, this.divide({
        tenant: { ratePerSec: o.rps ?? d.tenant.ratePerSec, burst: o.burst ?? d.tenant.burst },
        user: { ratePerSec: o.userRps ?? d.user.ratePerSec, burst: o.userBurst ?? d.user.burst },
        tasks: {
          ratePerSec: o.tasksPerMin !== undefined ? o.tasksPerMin / 60 : d.tasks.ratePerSec,
          burst: o.tasksBurst ?? (o.tasksPerMin !== undefined ? Math.max(1, Math.ceil(o.tasksPerMin)) : d.tasks.burst),
        },
      }));
    }
  }

  get enabled(): boolean {
    return this.settings.enabled;
  }

  /** This process's share of a tenant's limits. */
  limitsFor(tenant: string): TenantLimits {
    return this.perTenant.get(tenant) ?? this.base;
  }

  /** Admits (taking a token from every scope the request belongs to) or refuses (taking none). */
  check(req: RateRequest): RateDecision {
    if (!this.settings.enabled) return { ok: true };
    const limits = this.limitsFor(req.tenant);
    const checks: Array<{ scope: RateScope; key: string; limit: BucketLimit }> = [];
    if (req.request) checks.push({ scope: 'tenant', key: req.tenant, limit: limits.tenant });
    if (req.task) checks.push({ scope: 'tenant_tasks', key: req.tenant, limit: limits.tasks });
    if (req.userId) checks.push({ scope: 'user', key: `${req.tenant}\n${req.userId.slice(0, MAX_ID)}`, limit: limits.user });
    let worst: Extract<RateDecision, { ok: false }> | undefined;
    for (const c of checks) {
      const wait = this.buckets[c.scope].waitMs(c.key, c.limit);
      if (wait > 0 && (!worst || wait > worst.retryAfterMs)) worst = { ok: false, scope: c.scope, retryAfterMs: wait, limit: c.limit };
    }
    if (worst) {
      limited.inc({ scope: worst.scope });
      return worst;
    }
    for (const c of checks) this.buckets[c.scope].spend(c.key, c.limit);
    return { ok: true };
  }

  /**
   * For shedding load before a request is parsed: the refusal this tenant's
   * request budget would give right now, or null. Takes no token (the guard
   * does the real check later) and counts nothing twice.
   */
  shed(tenant: string): Extract<RateDecision, { ok: false }> | null {
    if (!this.settings.enabled) return null;
    const limit = this.limitsFor(tenant).tenant;
    const wait = this.buckets.tenant.waitMs(tenant, limit);
    if (wait <= 0) return null;
    limited.inc({ scope: 'tenant' });
    return { ok: false, scope: 'tenant', retryAfterMs: wait, limit };
  }

  /** Buckets held now, per scope (bounded by `maxKeys` each). */
  sizes(): Record<RateScope, number> {
    return { tenant: this.buckets.tenant.size, user: this.buckets.user.size, tenant_tasks: this.buckets.tenant_tasks.size };
  }

  private divide(l: TenantLimits): TenantLimits {
    const n = this.settings.replicas;
    const share = (b: BucketLimit): BucketLimit => ({ ratePerSec: b.ratePerSec / n, burst: Math.max(1, Math.round(b.burst / n)) });
    return { tenant: share(l.tenant), user: share(l.user), tasks: share(l.tasks) };
  }
}

/** The 429 a refused REST request gets; the error filter turns `retryAfterMs` into `Retry-After` (seconds, rounded up). */
export function rateLimitedError(d: Extract<RateDecision, { ok: false }>, retryable = false): KeelError {
  const what = d.scope === 'tenant' ? "this tenant's request rate" : d.scope === 'user' ? "this user's request rate" : "this tenant's task-submission rate";
  const seconds = Math.ceil(d.retryAfterMs / 1000);
  return new KeelError('rate_limited', `${what} limit is exceeded (${formatRate(d.limit)}); retry after ${seconds} s`, {
    retryable,
    retryAfterMs: d.retryAfterMs,
    details: { scope: d.scope, retryAfterMs: d.retryAfterMs },
  });
}

function formatRate(l: BucketLimit): string {
  const perSec = Number(l.ratePerSec.toPrecision(3));
  return `${perSec}/s, burst ${l.burst}`;
}

/**
 * The NATS task intake's throttle: a submission over its tenant's (or user's)
 * budget is not refused (the publisher is gone) but handed back to JetStream
 * with a delay. The delay spreads the tenant's waiting messages over the time
 * its budget needs to admit them (a random place in that queue), so a backlog
 * comes back at about the admitted rate instead of all at once.
 */
export class IntakeThrottle {
  /** Stream sequences of a tenant's deferred messages not yet seen again. */
  private readonly waiting = new Map<string, Set<number>>();

  constructor(private readonly limiter: RateLimiter, private readonly random: () => number = Math.random, private readonly maxDelayMs = 300_000) {}

  /** `null`: process it now; else defer it by `delayMs`. */
  admit(tenant: string, userId: string | undefined, streamSeq: number): { delayMs: number; error: KeelError } | null {
    const set = this.waiting.get(tenant);
    set?.delete(streamSeq);
    const d = this.limiter.check({ tenant, userId, task: true });
    if (d.ok) {
      if (set && set.size === 0) this.waiting.delete(tenant);
      return null;
    }
    const mine = set ?? new Set<number>();
    if (mine.size < 100_000) mine.add(streamSeq);
    this.waiting.delete(tenant);
    if (this.waiting.size >= this.limiter.settings.maxKeys) {
      const oldest = this.waiting.keys().next().value;
      if (oldest !== undefined) this.waiting.delete(oldest);
    }
    this.waiting.set(tenant, mine);
    const backlogMs = (mine.size / d.limit.ratePerSec) * 1000;
    const delayMs = Math.min(this.maxDelayMs, Math.ceil(d.retryAfterMs + backlogMs * this.random()));
    return { delayMs, error: rateLimitedError({ ...d, retryAfterMs: delayMs }, true) };
  }
}
