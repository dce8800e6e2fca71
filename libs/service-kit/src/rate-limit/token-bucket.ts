/** Tokens refill at `ratePerSec` up to `burst`; one request takes one token. */
export interface BucketLimit {
  ratePerSec: number;
  burst: number;
}

/** Milliseconds, monotonic (tests pass a fake). */
export type Clock = () => number;

interface Bucket {
  tokens: number;
  at: number;
}

/**
 * Token buckets by key, bounded: at most `maxKeys` buckets, the least
 * recently used evicted first (a Map keeps insertion order; every touch
 * re-inserts). Evicting a bucket forgets at most `burst` spent tokens, and a
 * bucket idle for `burst / rate` seconds is full anyway (the same as absent),
 * so hostile ids can cost memory only up to the bound, never unbounded growth.
 */
export class TokenBuckets {
  private readonly buckets = new Map<string, Bucket>();

  constructor(private readonly maxKeys = 10_000, private readonly now: Clock = () => performance.now()) {
    if (maxKeys < 1) throw new Error('maxKeys must be at least 1');
  }

  get size(): number {
    return this.buckets.size;
  }

  /** Tokens the bucket holds now (a bucket never seen is full). */
  tokens(key: string, limit: BucketLimit): number {
    return this.refilled(key, limit).tokens;
  }

  /** 0 when `cost` tokens are there now, else the milliseconds until they will be (rounded up, at least 1). */
  waitMs(key: string, limit: BucketLimit, cost = 1): number {
    const { tokens } = this.refilled(key, limit);
    if (tokens >= cost) return 0;
    if (cost > limit.burst) return Number.POSITIVE_INFINITY;
    return Math.max(1, Math.ceil(((cost - tokens) / limit.ratePerSec) * 1000));
  }

  /** Takes `cost` tokens when there are enough; else takes nothing and says how long to wait. */
  take(key: string, limit: BucketLimit, cost = 1): { ok: boolean; retryAfterMs: number } {
    const wait = this.waitMs(key, limit, cost);
    if (wait > 0) return { ok: false, retryAfterMs: wait };
    this.spend(key, limit, cost);
    return { ok: true, retryAfterMs: 0 };
  }

  /** Takes `cost` tokens unconditionally (callers check `waitMs` first, e.g. across several scopes at once). */
  spend(key: string, limit: BucketLimit, cost = 1): void {
    const b = this.refilled(key, limit);
    b.tokens -= cost;
    this.buckets.delete(key);
    if (this.buckets.size >= this.maxKeys) {
      const oldest = this.buckets.keys().next().value;
      if (oldest !== undefined) this.buckets.delete(oldest);
    }
    this.buckets.set(key, b);
  }

  private refilled(key: string, limit: BucketLimit): Bucket {
    const now = this.now();
    const b = this.buckets.get(key);
    if (!b) return { tokens: limit.burst, at: now };
    // Any use, refused ones too, makes a bucket recent: a throttled key is not evicted (and reset) by a flood of new ones.
    this.buckets.delete(key);
    this.buckets.set(key, b);
    const elapsed = Math.max(0, now - b.at) / 1000;
    b.tokens = Math.min(limit.burst, b.tokens + elapsed * limit.ratePerSec);
    b.at = now;
    return b;
  }
}
