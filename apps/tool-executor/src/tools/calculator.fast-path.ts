import { all, create } from 'mathjs';
import type { MathNode } from 'mathjs';
import { KeelError } from '@keel/contracts';
import { MAX_RESULT_LENGTH } from './calculator.sandbox';

/**
 * In-process evaluation of plain scalar arithmetic, so "2+2" does not pay a worker
 * round trip (~3 ms of handler CPU). Only expressions whose tree is made of numbers,
 * + - * / % ^, unary minus, parentheses, a few scalar functions and pi / e qualify:
 * every one of those is O(1) on numbers, so with a node cap nothing here can allocate
 * or loop. Anything else (matrices, ranges, units, assignments, bignumbers, strings,
 * comparisons...) goes to the worker sandbox. Evaluation uses mathjs itself on the
 * same parse tree the worker would build, so results are the worker's results.
 */

/** Larger trees go to the worker: still O(n), but the fast path should stay sub-millisecond. */
export const FAST_PATH_MAX_NODES = 200;

const OPERATORS: ReadonlySet<string> = new Set(['add', 'subtract', 'multiply', 'divide', 'mod', 'pow', 'unaryMinus']);
export const FAST_PATH_FUNCTIONS: ReadonlySet<string> = new Set([
  'sqrt', 'abs', 'round', 'floor', 'ceil', 'min', 'max', 'log', 'exp', 'sin', 'cos', 'tan',
]);
const CONSTANTS: ReadonlySet<string> = new Set(['pi', 'e']);

// Our own instance: nothing reachable from a whitelisted tree can reconfigure it, and the
// worker's instance stays separate.
const math = create(all);

/** True when every node of `root` is whitelisted and there are at most FAST_PATH_MAX_NODES of them. */
export function isScalarTree(root: MathNode): boolean {
  let budget = FAST_PATH_MAX_NODES;
  const visit = (node: MathNode): boolean => {
    if (--budget < 0) return false;
    if (math.isConstantNode(node)) return typeof node.value === 'number';
    if (math.isSymbolNode(node)) return CONSTANTS.has(node.name);
    if (math.isParenthesisNode(node)) return visit(node.content);
    if (math.isOperatorNode(node)) return OPERATORS.has(node.fn) && node.args.every(visit);
    if (math.isFunctionNode(node)) {
      return math.isSymbolNode(node.fn) && FAST_PATH_FUNCTIONS.has(node.fn.name) && node.args.every(visit);
    }
    return false;
  };
  return visit(root);
}

function tryParse(expression: string): MathNode | undefined {
  try {
    return math.parse(expression);
  } catch {
    return undefined; // the worker reports parse errors, with its own wording
  }
}

/** Same checks and wording as the worker's `toResult`, for the two kinds of value scalar arithmetic yields. */
function toResult(value: unknown): number | string | undefined {
  if (typeof value === 'number') {
    if (!Number.isFinite(value)) throw new KeelError('tool_error', `calculator: the result is ${String(value)}, not a finite number`);
    return value;
  }
  // sqrt(-4), log(-1), (-8)^(1/3): complex, formatted like the worker does.
  if (math.isComplex(value)) {
    const text = math.format(value, { precision: 14 });
    if (/\b(?:NaN|Infinity)\b/.test(text)) throw new KeelError('tool_error', `calculator: the result (${text.slice(0, 200)}) is not finite`);
    if (text.length > MAX_RESULT_LENGTH) return undefined;
    return text;
  }
  return undefined;
}

/**
 * The value of `expression` if it is plain scalar arithmetic; `undefined` if it must go
 * to the worker (not whitelisted, or mathjs threw, so the worker words the error).
 * Throws a `tool_error` for a non-finite result, exactly as the worker would.
 */
export function evaluateScalar(expression: string): { result: number | string } | undefined {
  const node = tryParse(expression);
  if (node === undefined || !isScalarTree(node)) return undefined;
  let value: unknown;
  try {
    value = node.compile().evaluate(new Map<string, unknown>()) as unknown;
  } catch {
    return undefined;
  }
  const result = toResult(value);
  return result === undefined ? undefined : { result };
}
