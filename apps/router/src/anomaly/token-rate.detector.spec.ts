import { TokenRateDetector } from './token-rate.detector';
import type { Trip } from './token-rate.detector';

const MIN = 60_000;

describe('TokenRateDetector', () => {
  let t = 0;
  const make = () => new TokenRateDetector({ factor: 10, minTokensPerWindow: 50_000, windowMs: MIN, halfLifeMs: 60 * MIN, cooldownMs: 10 * MIN, now: () => t });
  beforeEach(() => { t = 0; });

  it('does not trip a steady user, even a busy one, once its baseline is learnt', () => {
    const d = make();
    for (let m = 0; m < 180; m++) {
      t = m * MIN + 1;
      expect(d.record('user:acme:bob', 40_000)).toBeUndefined();
    }
  });

  it('trips a user whose rate jumps far above its own baseline, blocks it for the cooldown, then lets it go', () => {
    const d = make();
    for (let m = 0; m < 120; m++) { t = m * MIN + 1; d.record('user:acme:eve', 8_000); }
    t = 120 * MIN + 1;
    let trip: Trip | undefined;
    for (let i = 0; i < 20 && !trip; i++) trip = d.record('user:acme:eve', 10_000);
    if (!trip) throw new Error('expected a trip');
    expect(trip.key).toBe('user:acme:eve');
    expect(trip.rate).toBeGreaterThanOrEqual(10 * trip.baseline);
    expect(d.blocked(['user:acme:eve'])).toBeDefined();
    expect(d.blocked(['user:acme:bob'])).toBeUndefined();
    t += 10 * MIN + 1;
    expect(d.blocked(['user:acme:eve'])).toBeUndefined();
  });

  it('a first busy minute under the absolute floor is not an anomaly', () => {
    const d = make();
    t = 1;
    expect(d.record('user:acme:new', 49_000)).toBeUndefined();
    expect(d.record('user:acme:new', 2_000)).toMatchObject({ key: 'user:acme:new' });
  });

  it('compares a task with its agent\'s baseline', () => {
    const d = make();
    for (let m = 0; m < 120; m++) { t = m * MIN + 1; d.record(`task:${m}`, 6_000, 'agent:acme:demo'); }
    t = 120 * MIN + 1;
    let trip: Trip | undefined;
    for (let i = 0; i < 100 && !trip; i++) trip = d.record('task:runaway', 5_000, 'agent:acme:demo');
    expect(trip?.key).toBe('task:runaway');
  });
});
