import { raceAbort, sleep, untilAborted } from './timers';

describe('timers', () => {
  it('sleep resolves after the delay', async () => {
    const started = Date.now();
    await sleep(20);
    expect(Date.now() - started).toBeGreaterThanOrEqual(15);
  });

  it('sleep rejects with the abort reason when aborted', async () => {
    const controller = new AbortController();
    const pending = sleep(10_000, controller.signal);
    controller.abort(new Error('attempt timed out'));
    await expect(pending).rejects.toThrow('attempt timed out');
  });

  it('sleep rejects at once on an already aborted signal', async () => {
    await expect(sleep(10_000, AbortSignal.abort('gone'))).rejects.toThrow('gone');
  });

  it('untilAborted hangs until the signal aborts', async () => {
    const controller = new AbortController();
    setTimeout(() => controller.abort(new Error('stop')), 10);
    await expect(untilAborted(controller.signal)).rejects.toThrow('stop');
  });

  it('raceAbort returns the work result when it wins', async () => {
    await expect(raceAbort(Promise.resolve(42), new AbortController().signal)).resolves.toBe(42);
  });

  it('raceAbort gives up on work that ignores the signal', async () => {
    const controller = new AbortController();
    const never = new Promise<number>(() => undefined);
    setTimeout(() => controller.abort(new Error('too slow')), 10);
    await expect(raceAbort(never, controller.signal)).rejects.toThrow('too slow');
  });
});
