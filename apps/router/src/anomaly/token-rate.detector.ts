/**
 * Runaway spend detection (the router issue's anomaly rule): a user, or a
 * task, whose token rate over the last minute is far above its own baseline
 * is circuit-broken for a cooldown, with an alert.
 *
 * - rate: tokens in the last `windowMs` (1 min), per key;
 * - baseline: an exponentially weighted average of that per-minute rate,
 *   updated once per elapsed window (half-life `halfLifeMs`, 1 h). A user's
 *   baseline is their own; a task has no history of its own, so a task is
 *   compared with its agent's baseline per task;
 * - trip: rate ≥ `factor` × baseline (10×) AND rate ≥ `minTokensPerWindow`
 *   (50,000/min), so a quiet user's first busy minute is not an anomaly;
 *   with no baseline yet, only the absolute floor × factor trips.
 *
 * State is per router replica (in memory): each replica sees its share of a
 * user's traffic, which is what it can act on without a coordination hop.
 */
export interface DetectorOptions {
  factor: number;
  minTokensPerWindow: number;
  windowMs: number;
  halfLifeMs: number;
  cooldownMs: number;
  now?: () => number;
}

export interface Trip {
  key: string;
  rate: number;
  baseline: number;
  until: number;
}

interface Series {
  events: { at: number; tokens: number }[];
  sum: number;
  baseline: number;
  baselineAt: number;
}

export class TokenRateDetector {
  private readonly series = new Map<string, Series>();
  private readonly tripped = new Map<string, Trip>();
  private readonly now: () => number;

  constructor(private readonly opts: DetectorOptions) {
    this.now = opts.now ?? Date.now;
  }

  /** The trip in force for any of these keys, if one is. */
  blocked(keys: readonly string[]): Trip | undefined {
    const t = this.now();
    for (const key of keys) {
      const trip = this.tripped.get(key);
      if (trip && trip.until > t) return trip;
      if (trip) this.tripped.delete(key);
    }
    return undefined;
  }

  /**
   * Records tokens spent under `key` and returns a new trip if the rate is now
   * anomalous. `baselineKey` names whose baseline to compare with (a task uses its agent's).
   */
  record(key: string, tokens: number, baselineKey = key): Trip | undefined {
    const t = this.now();
    const s = this.window(key, t);
    s.events.push({ at: t, tokens });
    s.sum += tokens;
    const base = baselineKey === key ? s : this.window(baselineKey, t);
    if (baselineKey !== key) {
      // The agent's series learns from its tasks' traffic too.
      base.events.push({ at: t, tokens });
      base.sum += tokens;
    }
    const baseline = base.baseline;
    const threshold = Math.max(this.opts.minTokensPerWindow, this.opts.factor * baseline);
    if (s.sum >= threshold && !this.blocked([key])) {
      const trip = { key, rate: s.sum, baseline, until: t + this.opts.cooldownMs };
      this.tripped.set(key, trip);
      return trip;
    }
    return undefined;
  }

  private window(key: string, t: number): Series {
    let s = this.series.get(key);
    if (!s) {
      s = { events: [], sum: 0, baseline: 0, baselineAt: t };
      this.series.set(key, s);
    }
    // Fold every whole elapsed window into the baseline, then drop what fell out of the window.
    while (t - s.baselineAt >= this.opts.windowMs) {
      const end = s.baselineAt + this.opts.windowMs;
      const inWindow = s.events.filter((e) => e.at > end - this.opts.windowMs && e.at <= end).reduce((a, e) => a + e.tokens, 0);
      const alpha = 1 - Math.pow(0.5, this.opts.windowMs / this.opts.halfLifeMs);
      s.baseline = s.baseline + alpha * (inWindow - s.baseline);
      s.baselineAt = end;
      if (s.events.length === 0) {
        // Idle for long: decay in one step instead of looping over every empty window.
        const idle = Math.floor((t - s.baselineAt) / this.opts.windowMs);
        s.baseline *= Math.pow(1 - alpha, idle);
        s.baselineAt += idle * this.opts.windowMs;
      }
    }
    while (s.events.length && s.events[0].at <= t - this.opts.windowMs) s.sum -= s.events.shift()!.tokens;
    if (this.series.size > 100_000) this.series.clear();
    return s;
  }
}
