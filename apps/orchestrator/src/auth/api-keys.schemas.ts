import { z } from 'zod';
import { RoleSchema } from '@keel/contracts';

/** The longest lifetime a key may be given: two years. */
export const MAX_KEY_LIFETIME_DAYS = 730;
const DAY_MS = 86_400_000;
export const MAX_ROTATION_GRACE_SECONDS = 86_400;

const name = z.string().trim().min(1, 'name is 1–100 characters').max(100, 'name is 1–100 characters');
const expiresAt = z.iso.datetime({ offset: true, error: 'expiresAt is an ISO 8601 date-time with a time zone, e.g. 2026-01-31T00:00:00Z' });
const expiresInDays = z.number({ error: 'expiresInDays is a whole number of days' }).int('expiresInDays is a whole number of days')
  .min(1, 'expiresInDays is at least 1').max(MAX_KEY_LIFETIME_DAYS, `expiresInDays is at most ${MAX_KEY_LIFETIME_DAYS} (two years)`);

/** Expiry fields shared by create and rotate: at most one of them; absent means the key does not expire. */
const expiry = { expiresAt: expiresAt.optional(), expiresInDays: expiresInDays.optional() };

function checkExpiry(v: { expiresAt?: string; expiresInDays?: number }, ctx: z.RefinementCtx): void {
  const r = resolveExpiry(v);
  if ('error' in r) ctx.addIssue({ code: 'custom', message: r.error, path: [v.expiresAt !== undefined ? 'expiresAt' : 'expiresInDays'] });
}

export const CreateApiKeySchema = z.object({
  tenant: z.string().min(1).max(200).optional(),
  role: RoleSchema,
  name,
  ...expiry,
}).strict().superRefine(checkExpiry);
export type CreateApiKeyRequest = z.infer<typeof CreateApiKeySchema>;

export const RotateApiKeySchema = z.object({
  graceSeconds: z.number({ error: 'graceSeconds is a whole number of seconds' }).int('graceSeconds is a whole number of seconds')
    .min(0, 'graceSeconds is at least 0').max(MAX_ROTATION_GRACE_SECONDS, `graceSeconds is at most ${MAX_ROTATION_GRACE_SECONDS} (one day)`).optional(),
  ...expiry,
}).strict().superRefine(checkExpiry);
export type RotateApiKeyRequest = z.infer<typeof RotateApiKeySchema>;

/**
 * The expiry a request asks for, checked against `now`: in the future and at
 * most two years away; `undefined` when the request names none. Returns an
 * error message a person can act on instead of throwing.
 */
export function resolveExpiry(req: { expiresAt?: string; expiresInDays?: number }, now = new Date()): { expiresAt: Date | undefined } | { error: string } {
  if (req.expiresAt !== undefined && req.expiresInDays !== undefined) return { error: 'give expiresAt or expiresInDays, not both' };
  if (req.expiresInDays !== undefined) return { expiresAt: new Date(now.getTime() + req.expiresInDays * DAY_MS) };
  if (req.expiresAt === undefined) return { expiresAt: undefined };
  const at = new Date(req.expiresAt);
  if (at.getTime() <= now.getTime()) return { error: `expiresAt ${req.expiresAt} is not in the future` };
  if (at.getTime() > now.getTime() + MAX_KEY_LIFETIME_DAYS * DAY_MS) return { error: `expiresAt is more than ${MAX_KEY_LIFETIME_DAYS} days (two years) away` };
  return { expiresAt: at };
}

/** Key ids are UUIDs; anything else cannot name a key (404 rather than a database error). */
export const KEY_ID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
