import { KeelError } from '@keel/contracts';
import { isRetryableStatus } from '../providers/provider';
import { sleep as realSleep } from './timers';
import type { Sleep } from './timers';

export interface RetryPolicyOptions {
  /** Retries after the first attempt (so `retries + 1` attempts at most). */
  retries: number;
  /** Delay before the first retry; doubles for each further retry. */
  baseDelayMs: number;
  /** Cap on a computed backoff (after jitter). */
  maxDelayMs: number;
  /** Extra random delay as a fraction of the backoff: 0.5 adds 0–50 %. */
  jitter: number;
  /** Cap on a provider's Retry-After, so one header cannot park a step for minutes. */
  maxRetryAfterMs: number;
  /** Returns [0, 1); injectable for tests. */
  random: () => number;
  sleep: Sleep;
}

/** design.md "Defaults": 3 retries, 1 s / 2 s / 4 s + 0–50 % jitter. */
export const DEFAULT_RETRY_OPTIONS: RetryPolicyOptions = {
  retries: 3,
  baseDelayMs: 1_000,
  maxDelayMs: 30_000,
  jitter: 0.5,
  maxRetryAfterMs: 30_000,
  random: Math.random,
  sleep: realSleep,
};

/** Statuses that say "this request is wrong": retrying cannot help (design.md). */
export const NEVER_RETRY_STATUSES: ReadonlySet<number> = new Set([400, 401, 403, 404, 422]);

export interface RetryInput {
  /** The attempt that just failed (1-based). */
  attempt: number;
  error: unknown;
  now: number;
  /** Absolute deadline (epoch ms) for all attempts together. */
  deadline: number;
}

export type RetryDecision =
  | { retry: true; delayMs: number; source: 'backoff' | 'retry-after' }
  | { retry: false; reason: 'not_retryable' | 'retries_exhausted' }
  | { retry: false; reason: 'deadline'; delayMs: number; remainingMs: number };

export class RetryPolicy {
  readonly options: Readonly<RetryPolicyOptions>;

  constructor(options: Partial<RetryPolicyOptions> = {}) {
    const merged = { ...DEFAULT_RETRY_OPTIONS, ...options };
    for (const key of ['retries', 'baseDelayMs', 'maxDelayMs', 'maxRetryAfterMs'] as const) {
      if (!Number.isFinite(merged[key]) || merged[key] < 0) throw new RangeError(`retry policy: ${key} must be a non-negative number (got ${merged[key]})`);
    }
    if (!Number.isInteger(merged.retries)) throw new RangeError(`retry policy: retries must be a whole number (got ${merged.retries})`);
    if (!(merged.jitter >= 0 && merged.jitter <= 1)) throw new RangeError(`retry policy: jitter must be between 0 and 1 (got ${merged.jitter})`);
    this.options = merged;
  }

  /** Status codes decide first; otherwise the error's own `retryable` flag. */
  isRetryable(error: unknown): boolean {
    const status = statusOf(error);
    if (status !== undefined) return !NEVER_RETRY_STATUSES.has(status) && isRetryableStatus(status);
    // Errors that are not KeelErrors are bugs in a provider adapter, not transient faults.
    return error instanceof KeelError && error.retryable;
  }

  /** Backoff before retry number `retry` (1-based): base × 2^(retry-1) × (1 + jitter × random), capped. */
  backoffMs(retry: number): number {
    const { baseDelayMs, maxDelayMs, jitter, random } = this.options;
    const exponential = baseDelayMs * 2 ** Math.max(0, retry - 1);
    return Math.min(maxDelayMs, Math.round(exponential * (1 + jitter * random())));
  }

  /** Whether to try again after `attempt` failed, and after how long. */
  decide({ attempt, error, now, deadline }: RetryInput): RetryDecision {
    if (!this.isRetryable(error)) return { retry: false, reason: 'not_retryable' };
    if (attempt > this.options.retries) return { retry: false, reason: 'retries_exhausted' };
    const retryAfter = error instanceof KeelError ? error.retryAfterMs : undefined;
    // Retry-After is the provider telling us when it will accept us again: use it as given.
    const decision: RetryDecision = retryAfter !== undefined
      ? { retry: true, delayMs: Math.min(retryAfter, this.options.maxRetryAfterMs), source: 'retry-after' }
      : { retry: true, delayMs: this.backoffMs(attempt), source: 'backoff' };
    const remainingMs = deadline - now;
    // The next attempt must start before the deadline, or sleeping is wasted time.
    if (now + decision.delayMs >= deadline) return { retry: false, reason: 'deadline', delayMs: decision.delayMs, remainingMs };
    return decision;
  }

  sleep(ms: number, signal?: AbortSignal): Promise<void> {
    return this.options.sleep(ms, signal);
  }
}

function statusOf(error: unknown): number | undefined {
  if (typeof error !== 'object' || error === null || !('status' in error)) return undefined;
  const status = error.status;
  return typeof status === 'number' ? status : undefined;
}
