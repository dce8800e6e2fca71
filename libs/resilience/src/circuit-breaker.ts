/**
 * Circuit breakers keyed by name (the router: a model deployment `provider/model`;
 * the tool-executor: a tool): after `failureThreshold` consecutive failures one
 * opens and calls skip that target (the caller falls back) for `cooldownMs`;
 * then one probe is let through (half-open): a success closes it, a failure
 * opens it again. State is per replica: each replica learns a dead target within
 * a few calls, and nothing needs coordinating.
 */
export type BreakerState = 'closed' | 'open' | 'half_open';

export interface BreakerOptions {
  failureThreshold: number;
  cooldownMs: number;
  now?: () => number;
  onChange?: (deployment: string, state: BreakerState) => void;
}

interface Entry {
  state: BreakerState;
  failures: number;
  openedAt: number;
  probing: boolean;
}

export class CircuitBreakers {
  private readonly entries = new Map<string, Entry>();
  private readonly now: () => number;

  constructor(private readonly opts: BreakerOptions) {
    this.now = opts.now ?? Date.now;
  }

  private entry(deployment: string): Entry {
    let e = this.entries.get(deployment);
    if (!e) {
      e = { state: 'closed', failures: 0, openedAt: 0, probing: false };
      this.entries.set(deployment, e);
    }
    return e;
  }

  /** May a call go to this deployment now? A half-open breaker admits one probe at a time. */
  allow(deployment: string): boolean {
    const e = this.entry(deployment);
    if (e.state === 'closed') return true;
    if (e.state === 'open') {
      if (this.now() - e.openedAt < this.opts.cooldownMs) return false;
      this.set(deployment, e, 'half_open');
    }
    if (e.probing) return false;
    e.probing = true;
    return true;
  }

  success(deployment: string): void {
    const e = this.entry(deployment);
    e.failures = 0;
    e.probing = false;
    if (e.state !== 'closed') this.set(deployment, e, 'closed');
  }

  failure(deployment: string): void {
    const e = this.entry(deployment);
    e.failures += 1;
    e.probing = false;
    if (e.state === 'half_open' || (e.state === 'closed' && e.failures >= this.opts.failureThreshold)) {
      e.openedAt = this.now();
      this.set(deployment, e, 'open');
    }
  }

  state(deployment: string): BreakerState {
    return this.entry(deployment).state;
  }

  private set(deployment: string, e: Entry, state: BreakerState): void {
    e.state = state;
    this.opts.onChange?.(deployment, state);
  }
}
