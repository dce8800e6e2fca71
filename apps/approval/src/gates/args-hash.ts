import { createHash } from 'node:crypto';

/** sha256 of canonical JSON (object keys sorted at every level), so equal arguments always hash alike. */
export function argsHash(args: unknown): string {
  return createHash('sha256').update(JSON.stringify(canonical(args))).digest('hex');
}

function canonical(v: unknown): unknown {
  if (Array.isArray(v)) return v.map(canonical);
  if (v && typeof v === 'object') {
    // Code-unit order, not localeCompare: the hash must not depend on the machine's locale.
    return Object.fromEntries(Object.keys(v).sort().map((k) => [k, canonical((v as Record<string, unknown>)[k])]));
  }
  return v;
}
