import { backoffDelay, RestartBackoff } from './backoff';

describe('restart backoff', () => {
  it('doubles from 1 s up to 30 s', () => {
    expect([0, 1, 2, 3, 4, 5, 6, 50].map((a) => backoffDelay(a))).toEqual([1000, 2000, 4000, 8000, 16000, 30000, 30000, 30000]);
  });

  it('climbs while a child keeps crashing fast', () => {
    const b = new RestartBackoff();
    expect([b.next(500), b.next(500), b.next(500)]).toEqual([1000, 2000, 4000]);
    expect(b.restarts).toBe(3);
  });

  it('starts again at 1 s after a run of 60 s or more', () => {
    const b = new RestartBackoff();
    b.next(100);
    b.next(100);
    b.next(100);
    expect(b.next(59_999)).toBe(8000);
    expect(b.next(60_000)).toBe(1000);
    expect(b.next(10)).toBe(2000);
  });

  it('takes custom limits', () => {
    const b = new RestartBackoff({ initialMs: 10, maxMs: 25, resetAfterMs: 100 });
    expect([b.next(0), b.next(0), b.next(0), b.next(100)]).toEqual([10, 20, 25, 10]);
  });
});
