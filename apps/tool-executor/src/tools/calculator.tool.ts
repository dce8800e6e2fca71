import { z } from 'zod';
import { KeelError } from '@keel/contracts';
import { evaluateScalar } from './calculator.fast-path';
import { CalculatorSandbox } from './calculator.sandbox';
import { parametersOf } from './tool.definition';
import type { ToolContext, ToolDefinition } from './tool.definition';

export const MAX_EXPRESSION_LENGTH = 1_000;
/** Arithmetic finishes in microseconds; anything slower is an attempt to burn CPU. */
export const CALCULATOR_TIME_LIMIT_MS = 1_000;

export const CalculatorArgsSchema = z.strictObject({
  expression: z.string()
    .min(1, 'expression is empty')
    .max(MAX_EXPRESSION_LENGTH, `expression is longer than ${MAX_EXPRESSION_LENGTH} characters`)
    .describe('A math expression, e.g. "(3 + 4) * 2", "sqrt(2) / 3", "5 cm to inch", "det([1, 2; 3, 4])".'),
});
export type CalculatorArgs = z.infer<typeof CalculatorArgsSchema>;

export interface CalculatorToolOptions {
  /** Defaults to one sandbox (one worker thread) shared by the process. */
  sandbox?: CalculatorSandbox;
}

let shared: CalculatorSandbox | undefined;
function sharedSandbox(): CalculatorSandbox {
  shared ??= new CalculatorSandbox();
  return shared;
}

export function calculatorTool(options: CalculatorToolOptions = {}): ToolDefinition<CalculatorArgs> {
  const sandbox = (): CalculatorSandbox => options.sandbox ?? sharedSandbox();
  return {
    name: 'calculator',
    description:
      'Evaluates an arithmetic expression exactly and returns {result}. Supports + - * / ^ %, parentheses, ' +
      'functions such as sqrt, log, sin (radians, or "45 deg"), matrices, units ("5 cm to inch") and constants (pi, e). ' +
      'Use it instead of doing arithmetic in your head.',
    argsSchema: CalculatorArgsSchema,
    parameters: parametersOf(CalculatorArgsSchema),
    permission: 'read',
    defaultRisk: 'auto',
    idempotency: 'pure',
    async execute(args: CalculatorArgs, ctx: ToolContext): Promise<{ result: number | string }> {
      if (ctx.signal.aborted) {
        throw new KeelError('tool_error', 'calculator: cancelled before it ran because the caller\'s deadline passed');
      }
      // Plain scalar arithmetic (most calls) cannot allocate or loop: evaluated here, no worker hop.
      const fast = evaluateScalar(args.expression);
      if (fast !== undefined) return fast;
      const limit = Math.max(1, Math.min(CALCULATOR_TIME_LIMIT_MS, ctx.timeoutMs));
      return { result: await sandbox().evaluate(args.expression, limit) };
    },
    warmUp(): void {
      // Loading mathjs in the worker takes 0.3-0.8 s: start it now, off the caller's path.
      sandbox().warmUp().catch(() => undefined);
    },
  };
}
