/**
 * Restart delays for a crashing child, like a Kubernetes CrashLoopBackOff:
 * 1 s, 2 s, 4 s … capped at 30 s, back to 1 s once a run lasted 60 s.
 */
export interface BackoffOptions {
  initialMs: number;
  maxMs: number;
  /** A run at least this long counts as healthy and resets the ladder. */
  resetAfterMs: number;
}

export const DEFAULT_BACKOFF: BackoffOptions = { initialMs: 1000, maxMs: 30_000, resetAfterMs: 60_000 };

export function backoffDelay(attempt: number, opts: BackoffOptions = DEFAULT_BACKOFF): number {
  // Cap the exponent so a long crash loop never overflows to Infinity.
  return Math.min(opts.maxMs, opts.initialMs * 2 ** Math.min(attempt, 30));
}

export class RestartBackoff {
  private attempt = 0;

  constructor(private readonly opts: BackoffOptions = DEFAULT_BACKOFF) {}

  /** The delay before the next restart, given how long the run that just ended lasted. */
  next(uptimeMs: number): number {
    if (uptimeMs >= this.opts.resetAfterMs) this.attempt = 0;
    const delay = backoffDelay(this.attempt, this.opts);
    this.attempt += 1;
    return delay;
  }

  /** How many restarts in a row so far (after the reset rule). */
  get restarts(): number {
    return this.attempt;
  }
}
