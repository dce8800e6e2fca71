import { CircuitBreakers } from './circuit-breaker';
import type { BreakerState } from './circuit-breaker';

describe('CircuitBreakers', () => {
  let t = 0;
  const changes: [string, BreakerState][] = [];
  const make = () => new CircuitBreakers({ failureThreshold: 3, cooldownMs: 1000, now: () => t, onChange: (d, s) => changes.push([d, s]) });
  beforeEach(() => { t = 0; changes.length = 0; });

  it('opens after consecutive failures and skips the deployment during the cooldown', () => {
    const b = make();
    for (let i = 0; i < 2; i++) b.failure('openai/gpt-4o');
    expect(b.allow('openai/gpt-4o')).toBe(true);
    b.failure('openai/gpt-4o');
    expect(b.state('openai/gpt-4o')).toBe('open');
    t = 999;
    expect(b.allow('openai/gpt-4o')).toBe(false);
    expect(b.allow('anthropic/claude')).toBe(true); // per deployment
  });

  it('lets one probe through after the cooldown; success closes, failure re-opens', () => {
    const b = make();
    for (let i = 0; i < 3; i++) b.failure('d');
    t = 1000;
    expect(b.allow('d')).toBe(true);
    expect(b.state('d')).toBe('half_open');
    expect(b.allow('d')).toBe(false); // one probe at a time
    b.failure('d');
    expect(b.state('d')).toBe('open');
    t = 2100;
    expect(b.allow('d')).toBe(true);
    b.success('d');
    expect(b.state('d')).toBe('closed');
    expect(changes.map(([, s]) => s)).toEqual(['open', 'half_open', 'open', 'half_open', 'closed']);
  });

  it('a success resets the failure count', () => {
    const b = make();
    b.failure('d');
    b.failure('d');
    b.success('d');
    b.failure('d');
    b.failure('d');
    expect(b.state('d')).toBe('closed');
  });
});
