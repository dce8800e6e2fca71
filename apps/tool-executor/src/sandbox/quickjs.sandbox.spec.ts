import { afterAll, describe, expect, it } from '@jest/globals';
import { QuickJsSandbox } from './quickjs.sandbox';

const js = new QuickJsSandbox({ memoryMb: 32, outputBytes: 4096 });
afterAll(async () => {
  await js.dispose();
});

describe('QuickJsSandbox (language "js")', () => {
  it('returns the JSON value of the last expression and the console output', async () => {
    const r = await js.run({ code: 'const xs = [1, 2, 3];\nconsole.log("sum", xs.reduce((a, b) => a + b), {k: 1});\n({ doubled: xs.map((x) => x * 2), n: null })', timeoutMs: 2_000 });
    expect(r).toMatchObject({ exitCode: 0, stdout: 'sum 6 {"k":1}\n', stderr: '', truncated: false, result: { doubled: [2, 4, 6], n: null } });
    expect(r.killed).toBeUndefined();
  });

  it('leaves result out when the value has no JSON form, and writes warn/error to stderr', async () => {
    const r = await js.run({ code: 'console.error("bad"); console.warn("careful"); undefined', timeoutMs: 2_000 });
    expect(r).toMatchObject({ exitCode: 0, stdout: '', stderr: 'bad\ncareful\n' });
    expect(r).not.toHaveProperty('result');
    expect((await js.run({ code: '2n ** 70n', timeoutMs: 2_000 })).result).toBe('1180591620717411303424');
  });

  it('awaits a promise as the last value, and reports a rejection as an uncaught error', async () => {
    expect((await js.run({ code: '(async () => { await null; return 42; })()', timeoutMs: 2_000 })).result).toBe(42);
    const r = await js.run({ code: 'Promise.reject(new TypeError("nope"))', timeoutMs: 2_000 });
    expect(r).toMatchObject({ exitCode: 1, stderr: expect.stringMatching(/^Uncaught TypeError: nope/) });
  });

  it('reports a thrown error with exit code 1', async () => {
    const r = await js.run({ code: 'function f() { throw new RangeError("boom"); }\nf()', timeoutMs: 2_000 });
    expect(r).toMatchObject({ exitCode: 1, stdout: '' });
    expect(r.stderr).toMatch(/^Uncaught RangeError: boom\n/);
    expect(r.killed).toBeUndefined();
  });

  it('has no host APIs: no require, process, fetch, timers or WebAssembly', async () => {
    const r = await js.run({ code: '[typeof require, typeof process, typeof fetch, typeof setTimeout, typeof WebAssembly, typeof globalThis.Buffer, typeof std, typeof os]', timeoutMs: 2_000 });
    expect(r.result).toEqual(Array(8).fill('undefined'));
  });

  it('stops a busy loop at the deadline', async () => {
    const r = await js.run({ code: 'for (;;) {}', timeoutMs: 300 });
    expect(r).toMatchObject({ exitCode: 1, killed: 'timeout' });
    expect((await js.run({ code: '1 + 1', timeoutMs: 1_000 })).result).toBe(2); // the worker is still usable
  });

  it('stops a run that allocates past its memory limit', async () => {
    const r = await js.run({ code: 'const a = []; for (;;) a.push({ i: a.length, s: "abc" + a.length });', timeoutMs: 20_000 });
    expect(r).toMatchObject({ exitCode: 1, killed: 'memory' });
    expect(r.stderr).toMatch(/out of memory/);
  }, 30_000);

  it('terminates the worker when a slow builtin keeps the interrupt check from running, then starts a new one', async () => {
    const slow = new QuickJsSandbox({ memoryMb: 32, graceMs: 100 });
    try {
      // Each iteration is one long builtin call: QuickJS checks its deadline only between them.
      const r = await slow.run({ code: 'const a = []; for (;;) a.push("x".repeat(1 << 16) + a.length);', timeoutMs: 200 });
      expect(r).toMatchObject({ killed: 'timeout' });
      expect((await slow.run({ code: '"still " + "here"', timeoutMs: 2_000 })).result).toBe('still here');
    } finally {
      await slow.dispose();
    }
  }, 30_000);

  it('caps output and stops a run that keeps printing', async () => {
    const r = await js.run({ code: 'for (;;) console.log("y".repeat(100))', timeoutMs: 10_000 });
    expect(r).toMatchObject({ truncated: true, killed: 'output' });
    expect(Buffer.byteLength(r.stdout) + Buffer.byteLength(r.stderr)).toBeLessThanOrEqual(4096 + 200);
  });

  it('runs each snippet in a fresh context', async () => {
    await js.run({ code: 'globalThis.leak = 1', timeoutMs: 1_000 });
    expect((await js.run({ code: 'typeof leak', timeoutMs: 1_000 })).result).toBe('undefined');
  });
});
