import { createHash, createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import { z } from 'zod';

/**
 * Integrity of approval decisions. The approval service signs every decision
 * (and every other gate transition it publishes) with a key shared with the
 * orchestrator: HMAC-SHA256 over `gateId|revision|argsHash|decision|tenant`.
 * A message replayed against another gate, revision, tenant or arguments, or
 * a decision row altered in the database, does not verify.
 */
export interface SignedDecision {
  gateId: string;
  revision: number;
  argsHash: string;
  /** approve, reject, expired or escalated. */
  decision: string;
  tenant: string;
}

export const signatureInput = (d: SignedDecision): string => [d.gateId, String(d.revision), d.argsHash, d.decision, d.tenant].join('|');

export function decisionSignature(key: string, d: SignedDecision): string {
  return createHmac('sha256', key).update(signatureInput(d)).digest('hex');
}

/** Constant-time comparison; false for a missing or malformed signature. */
export function verifyDecisionSignature(key: string, d: SignedDecision, signature: string | null | undefined): boolean {
  if (typeof signature !== 'string' || !/^[0-9a-f]{64}$/.test(signature)) return false;
  const expected = Buffer.from(decisionSignature(key, d), 'hex');
  return timingSafeEqual(expected, Buffer.from(signature, 'hex'));
}

/** `KEEL_APPROVAL_SIGNING_KEY`, read by the approval service (signs) and the orchestrator (verifies): the same value in both. */
export const SigningKeyEnvSchema = z.string().min(32, 'must be at least 32 characters, e.g. `openssl rand -hex 32`').optional();

let generated: string | undefined;

/**
 * The configured key, or one random key per process (with `generated: true`
 * so the caller warns): then no other process can verify what this one
 * signs, so deployments must set one shared value.
 */
export function resolveSigningKey(configured: string | undefined): { key: string; generated: boolean } {
  if (configured) return { key: configured, generated: false };
  generated ??= randomBytes(32).toString('hex');
  return { key: generated, generated: true };
}

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
