import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { KeelError } from '@keel/contracts';
import { CalculatorSandbox } from './calculator.sandbox';
import { MAX_EXPRESSION_LENGTH, calculatorTool } from './calculator.tool';
import type { ToolContext } from './tool.definition';
import { ToolRegistry } from './tool.registry';
import { keelFailure } from '@keel/testing';

function ctx(overrides: Partial<ToolContext> = {}): ToolContext {
  return { idempotencyKey: 't:1:0', allow: [], timeoutMs: 5_000, signal: new AbortController().signal, ...overrides };
}

const failure = keelFailure;

const sandbox = new CalculatorSandbox();
beforeAll(async () => {
  await sandbox.warmUp();
});
afterAll(async () => {
  await sandbox.dispose();
});

const tool = calculatorTool({ sandbox });
const run = (expression: string): Promise<unknown> => tool.execute({ expression }, ctx());

describe('calculator', () => {
  it('declares a pure, read-only, auto-approved tool', () => {
    expect(tool).toMatchObject({ name: 'calculator', permission: 'read', defaultRisk: 'auto', idempotency: 'pure' });
    expect(tool.parameters).toMatchObject({
      type: 'object',
      properties: { expression: { type: 'string', maxLength: MAX_EXPRESSION_LENGTH } },
      required: ['expression'],
      additionalProperties: false,
    });
  });

  it.each<[string, number | string]>([
    ['2 + 3 * 4', 14],
    ['(2 + 3) * 4', 20],
    ['2^10', 1024],
    ['10 % 3', 1],
    ['sqrt(16) / 2', 2],
    ['-7 / 2', -3.5],
    ['abs(-3) + round(2.5)', 6],
    ['det([1, 2; 3, 4])', -2],
    ['x = 3; x^2 + 1', 10],
    ['sqrt(-4)', '2i'],
    ['5 cm to inch', '1.9685039370079 inch'],
    ['[1, 2] * 2', '[2, 4]'],
    ['2 > 1', 'true'],
    ['bignumber(2)^100', '1.267650600228229401496703205376e+30'],
  ])('%s = %p', async (expression, expected) => {
    await expect(run(expression)).resolves.toEqual({ result: expected });
  });

  it('returns numbers as numbers', async () => {
    const { result } = (await run('sin(pi / 2)')) as { result: unknown };
    expect(result).toBe(1);
    expect(typeof ((await run('0.1 + 0.2')) as { result: unknown }).result).toBe('number');
  });

  it.each(['1/0', '-1/0', '0/0', 'log(0)', '[1, 1/0]', '2^10000'])('rejects the non-finite result of %s', async (expression) => {
    const err = await failure(run(expression));
    expect(err.code).toBe('tool_error');
    expect(err.retryable).toBe(false);
    expect(err.message).toMatch(/finite/);
  });

  it.each([
    ['2 +', /calculator: .*(end|Unexpected)/i],
    ['foo + 1', /Undefined symbol foo/],
    ['"abc" * 2', /calculator:/],
    ['sin', /did not produce a number/],
    ['x = 1;', /did not produce a value/],
  ])('reports %s as a tool_error', async (expression, pattern) => {
    const err = await failure(run(expression));
    expect(err.code).toBe('tool_error');
    expect(err.message).toMatch(pattern);
  });

  describe('restricted instance', () => {
    it.each([
      'import({x: 1}, {override: true})',
      'createUnit("furlong", "201.168 m")',
      'evaluate("1+1")',
      'parse("1+1")',
      'compile("1+1")',
      'parser()',
      'simplify("x + x")',
      'derivative("x^2", "x")',
      'rationalize("2x")',
      'resolve(parse("x"), {x: 1})',
      'reviver()',
      'config({number: "BigNumber"})',
      'typed("f", {"number": 1})',
      'f = config; f({number: "BigNumber"})',
      'map([1], evaluate)',
    ])('refuses %s', async (expression) => {
      const err = await failure(run(expression));
      expect(err.code).toBe('tool_error');
      expect(err.message).toMatch(/disabled/);
    });

    it('keeps the shared instance unchanged after an attempt to reconfigure it', async () => {
      await failure(run('config({number: "BigNumber"})'));
      await expect(run('1 / 3')).resolves.toEqual({ result: 1 / 3 });
    });

    it('refuses user-defined functions (unbounded recursion)', async () => {
      const err = await failure(run('f(x) = x > 0 ? f(x - 1) + f(x - 1) : 1; f(40)'));
      expect(err.message).toMatch(/defining functions is not supported/);
    });

    it('keeps no state between calls', async () => {
      await run('secret = 42');
      const err = await failure(run('secret'));
      expect(err.message).toMatch(/Undefined symbol secret/);
    });

    it('cannot reach JavaScript internals', async () => {
      for (const expression of ['[].constructor', 'sin.constructor("return process")()', '{}.__proto__']) {
        expect((await failure(run(expression))).code).toBe('tool_error');
      }
    });

    it('stops an expression that runs past its time limit, then keeps working', async () => {
      const started = Date.now();
      const err = await failure(tool.execute({ expression: 'inv(ones(400, 400) + identity(400))' }, ctx({ timeoutMs: 50 })));
      expect(err.code).toBe('tool_error');
      expect(err.message).toMatch(/took longer than 50 ms/);
      expect(Date.now() - started).toBeLessThan(2_000);
      await expect(run('1 + 1')).resolves.toEqual({ result: 2 });
    });

    it('caps the time at one second whatever the caller offers', async () => {
      const err = await failure(tool.execute({ expression: 'inv(ones(600, 600) + identity(600))' }, ctx({ timeoutMs: 60_000 })));
      expect(err.message).toMatch(/took longer than 1000 ms/);
    });

    it('stops an expression that allocates too much memory, then keeps working', async () => {
      const small = new CalculatorSandbox({ maxHeapMb: 64 });
      try {
        const err = await failure(small.evaluate('zeros(30000, 30000)', 10_000));
        expect(err.code).toBe('tool_error');
        expect(err.message).toMatch(/too much memory/);
        await expect(small.evaluate('2 * 21', 1_000)).resolves.toBe(42);
      } finally {
        await small.dispose();
      }
    });

    it('runs calls one at a time without mixing up results', async () => {
      const results = await Promise.all(['1 + 1', '2 * 3', '10 / 4', 'sqrt(81)'].map((expression) => run(expression)));
      expect(results).toEqual([{ result: 2 }, { result: 6 }, { result: 2.5 }, { result: 9 }]);
    });
  });

  it('does not run when the caller has already given up', async () => {
    const ac = new AbortController();
    ac.abort();
    const err = await failure(tool.execute({ expression: '1 + 1' }, ctx({ signal: ac.signal })));
    expect(err.message).toMatch(/cancelled/);
  });

  describe('argument validation', () => {
    const registry = new ToolRegistry([tool]);
    const parse = (raw: unknown): KeelError => {
      try {
        registry.parseArgs('calculator', raw);
      } catch (err) {
        if (err instanceof KeelError) return err;
        throw err;
      }
      throw new Error('expected validation to fail');
    };

    it('caps the expression length', () => {
      const err = parse({ expression: '1+'.repeat(600) + '1' });
      expect(err.code).toBe('validation_failed');
      expect(err.message).toContain(`arguments.expression: expression is longer than ${MAX_EXPRESSION_LENGTH} characters`);
    });
    it('rejects unknown keys, naming them', () => {
      const err = parse({ expression: '1', precision: 3 });
      expect(err.message).toContain('arguments.precision: unknown field (allowed: expression)');
    });
    it('rejects a missing or wrongly typed expression', () => {
      expect(parse({}).message).toContain('arguments.expression:');
      expect(parse({ expression: 42 }).message).toContain('arguments.expression: Invalid input: expected string');
      expect(parse({ expression: '' }).message).toContain('arguments.expression: expression is empty');
    });
  });
});
