import { afterAll, beforeAll, describe, expect, it, jest } from '@jest/globals';
import { parse } from 'mathjs';
import { KeelError } from '@keel/contracts';
import { FAST_PATH_MAX_NODES, evaluateScalar, isScalarTree } from './calculator.fast-path';
import { CalculatorSandbox } from './calculator.sandbox';
import { calculatorTool } from './calculator.tool';
import type { ToolContext } from './tool.definition';

function ctx(): ToolContext {
  return { idempotencyKey: 't:1:0', allow: [], timeoutMs: 5_000, signal: new AbortController().signal };
}

const sandbox = new CalculatorSandbox();
beforeAll(async () => {
  await sandbox.warmUp();
});
afterAll(async () => {
  await sandbox.dispose();
});

describe('calculator fast path', () => {
  it('takes "2+2" in process and never calls the worker', async () => {
    const spy = jest.spyOn(sandbox, 'evaluate');
    try {
      const tool = calculatorTool({ sandbox });
      await expect(tool.execute({ expression: '2+2' }, ctx())).resolves.toEqual({ result: 4 });
      expect(spy).not.toHaveBeenCalled();
    } finally {
      spy.mockRestore();
    }
  });

  it.each(['zeros(3000,3000)', 'range(1,1e9)'])('sends %s to the worker sandbox', async (expression) => {
    expect(evaluateScalar(expression)).toBeUndefined();
    // A stub stands in for the worker: these expressions would allocate gigabytes there.
    const spy = jest.spyOn(sandbox, 'evaluate').mockResolvedValue('stubbed');
    try {
      const tool = calculatorTool({ sandbox });
      await expect(tool.execute({ expression }, ctx())).resolves.toEqual({ result: 'stubbed' });
      expect(spy).toHaveBeenCalledWith(expression, expect.any(Number));
    } finally {
      spy.mockRestore();
    }
  });

  it.each([
    'x = 3; x^2 + 1', '5 cm to inch', '[1, 2] * 2', '2 > 1', 'bignumber(2)^100', 'det([1, 2; 3, 4])', 'factorial(20)',
    'config({number: "BigNumber"})', 'sin.constructor', 'f(x) = x', '"abc" * 2', 'foo + 1', '2 +', 'max([1, 2])', 'sin(45 deg)',
    '2 == 2', 'true + 1', '+3', 'sqrt(1, 2)', 'round(1.5, 0.5)',
  ])('leaves %s to the worker', (expression) => {
    expect(evaluateScalar(expression)).toBeUndefined();
  });

  it('accepts only whitelisted trees within the node cap', () => {
    expect(isScalarTree(parse('-(3 + 4.5) * 2 ^ 3 / 7 % 5 + sqrt(abs(-9)) - min(1, max(2, 3)) + log(e) + exp(1) + sin(pi) + cos(0) + tan(1)'))).toBe(true);
    expect(isScalarTree(parse('round(2.5) + floor(1.5) + ceil(1.5)'))).toBe(true);
    expect(isScalarTree(parse(Array.from({ length: FAST_PATH_MAX_NODES }, () => '1').join('+')))).toBe(false);
  });

  it('rejects non-finite results with the worker\'s message', () => {
    for (const expression of ['1/0', '-1/0', '0/0', 'log(0)', '2^10000']) {
      let error: unknown;
      try {
        evaluateScalar(expression);
      } catch (err) {
        error = err;
      }
      expect(error).toBeInstanceOf(KeelError);
      expect((error as KeelError).message).toMatch(/^calculator: the result is -?(?:Infinity|NaN), not a finite number$/);
    }
  });

  it.each([
    '2 + 3 * 4', '(2 + 3) * 4', '2^10', '10 % 3', '-7 % 3', '7 % -3', '5.5 % 2', 'sqrt(16) / 2', '-7 / 2', 'abs(-3) + round(2.5)',
    'round(-2.5)', 'round(3.14159, 2)', 'floor(-0.5)', 'ceil(-0.5)', 'floor(0.99999999999999999)', 'sqrt(-4)', 'log(-1)', '(-8)^(1/3)',
    '-2^2', '2^-2', '2^3^2', '2 pi', '0.1 + 0.2', '1e-7 * 3', 'log(8, 2)', 'exp(1)', 'sin(pi / 2)', 'cos(pi)', 'tan(pi / 4)',
    'min(3, 1, 2)', 'max(-1, -5)', '50%', '100 + 5%', '1/3', '1e308 * 10', 'sqrt(2) * sqrt(2)', '-0', '3 (4 + 5)', '1 / 3 * 3',
  ])('gives the worker\'s answer for %s', async (expression) => {
    let fast: { result: number | string } | { error: string } | undefined;
    try {
      fast = evaluateScalar(expression);
    } catch (err) {
      fast = { error: (err as Error).message };
    }
    let slow: { result: number | string } | { error: string };
    try {
      slow = { result: await sandbox.evaluate(expression, 5_000) };
    } catch (err) {
      slow = { error: (err as Error).message };
    }
    if (fast !== undefined) expect(fast).toEqual(slow);
  });
});
