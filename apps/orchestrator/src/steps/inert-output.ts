/**
 * Tool output that can skip the tool-output screen: a pure tool's result
 * (our own code, fed only the model's arguments) made of numbers, booleans
 * and null in a small shape with plain keys cannot carry instructions. Any
 * string value, any unusual key, or any output of a tool that reaches the
 * outside world is screened.
 */
export function isInert(value: unknown, depth = 0): boolean {
  if (value === null || typeof value === 'number' || typeof value === 'boolean') return true;
  if (depth > 4 || typeof value !== 'object') return false;
  const entries = Array.isArray(value) ? value.map((v) => ['', v] as const) : Object.entries(value);
  return entries.length <= 50 && entries.every(([k, v]) => /^[A-Za-z_]{0,20}$/.test(k) && isInert(v, depth + 1));
}

