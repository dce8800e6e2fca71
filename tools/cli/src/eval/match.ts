import Ajv from 'ajv';
import type { ValidateFunction } from 'ajv';
import addFormats from 'ajv-formats';

/** Matching helpers shared by dataset validation and the scorers. Pure. */

/** `pattern` or `/pattern/flags`. Throws on a bad pattern. */
export function compileRegex(source: string): RegExp {
  const m = /^\/(.*)\/([dgimsuyv]*)$/s.exec(source);
  return m ? new RegExp(m[1], m[2].replace(/[gy]/g, '')) : new RegExp(source);
}

let ajv: Ajv | undefined;
const compiled = new WeakMap<object, ValidateFunction>();

/** Compiles (once per schema object) a JSON Schema with Ajv (draft-07, formats). Throws on an invalid schema. */
export function compileSchema(schema: Record<string, unknown>): ValidateFunction {
  const hit = compiled.get(schema);
  if (hit) return hit;
  if (!ajv) {
    ajv = new Ajv({ allErrors: true, strict: false, logger: false });
    addFormats(ajv);
  }
  const fn = ajv.compile(schema);
  compiled.set(schema, fn);
  return fn;
}

export function schemaErrors(fn: ValidateFunction): string {
  return (fn.errors ?? []).map((e) => `${e.instancePath || '(root)'} ${e.message ?? 'is invalid'}`).join('; ');
}

/**
 * Partial deep equality: every key of `expected` must be in `actual` with a
 * partially equal value; arrays must have the same length, element by
 * element; anything else is compared with Object.is (numbers: 1 and 1.0 are
 * one number in JSON anyway).
 */
export function partialMatch(expected: unknown, actual: unknown): boolean {
  if (Array.isArray(expected)) {
    return Array.isArray(actual) && actual.length === expected.length && expected.every((e, i) => partialMatch(e, actual[i]));
  }
  if (expected !== null && typeof expected === 'object') {
    if (actual === null || typeof actual !== 'object' || Array.isArray(actual)) return false;
    const a = actual as Record<string, unknown>;
    return Object.entries(expected as Record<string, unknown>).every(([k, v]) => k in a && partialMatch(v, a[k]));
  }
  return Object.is(expected, actual);
}

/** Where two values first differ under partialMatch, for a failure message ("expression: expected "2+2", got "2+3""). */
export function firstMismatch(expected: unknown, actual: unknown, path = ''): string | undefined {
  const here = path || '(value)';
  if (Array.isArray(expected)) {
    if (!Array.isArray(actual)) return `${here}: expected an array, got ${brief(actual)}`;
    if (actual.length !== expected.length) return `${here}: expected ${expected.length} items, got ${actual.length}`;
    for (const [i, e] of expected.entries()) {
      const m = firstMismatch(e, actual[i], `${path}[${i}]`);
      if (m) return m;
    }
    return undefined;
  }
  if (expected !== null && typeof expected === 'object') {
    if (actual === null || typeof actual !== 'object' || Array.isArray(actual)) return `${here}: expected an object, got ${brief(actual)}`;
    const a = actual as Record<string, unknown>;
    for (const [k, v] of Object.entries(expected as Record<string, unknown>)) {
      const p = path ? `${path}.${k}` : k;
      if (!(k in a)) return `${p}: missing`;
      const m = firstMismatch(v, a[k], p);
      if (m) return m;
    }
    return undefined;
  }
  return Object.is(expected, actual) ? undefined : `${here}: expected ${brief(expected)}, got ${brief(actual)}`;
}

export function brief(v: unknown, max = 80): string {
  const s = v === undefined ? 'undefined' : (JSON.stringify(v) ?? typeof v);
  return s.length > max ? `${s.slice(0, max - 1)}…` : s;
}
