import { z } from 'zod';

export const ROLES = ['admin', 'submitter', 'approver', 'viewer'] as const;
export const RoleSchema = z.enum(ROLES);
export type Role = z.infer<typeof RoleSchema>;

export interface Principal {
  keyId: string;
  tenant: string;
  role: Role;
  name: string;
}

/** Request on `keel.v1.auth.verify`: the raw key is sent only over the internal bus. */
export const VerifyKeyRequestSchema = z.object({ key: z.string().min(1).max(512) }).strict();
export const VerifyKeyResponseSchema = z.object({
  principal: z.object({ keyId: z.string(), tenant: z.string(), role: RoleSchema, name: z.string() }).nullable(),
});
export type VerifyKeyResponse = z.infer<typeof VerifyKeyResponseSchema>;
