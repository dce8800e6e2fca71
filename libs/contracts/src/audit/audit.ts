import { z } from 'zod';

/** The services that keep an audit table of their own (each in its own schema); the orchestrator merges them. */
export const AUDIT_SERVICES = ['orchestrator', 'approval', 'tool-executor', 'router'] as const;
export type AuditService = (typeof AUDIT_SERVICES)[number];
/** The services the orchestrator asks over `keel.v1.audit.query.<service>` (it reads its own table directly). */
export const AUDIT_PEERS = ['approval', 'tool-executor', 'router'] as const satisfies readonly AuditService[];

export const AUDIT_QUERY_MAX_LIMIT = 500;

/**
 * Request on `keel.v1.audit.query.<service>` (queue group: the service's own):
 * that service's audit rows of one tenant, newest first.
 */
export const AuditQueryRequestSchema = z.object({
  tenant: z.string().min(1).max(200),
  /** One action, e.g. `tool.called`. */
  action: z.string().max(100).regex(/^[a-z][a-z0-9_]*(\.[a-z][a-z0-9_]*)+$/).optional(),
  /** ISO 8601: rows at or after this instant. */
  since: z.iso.datetime({ offset: true }).optional(),
  limit: z.number().int().min(1).max(AUDIT_QUERY_MAX_LIMIT),
}).strict();
export type AuditQueryRequest = z.infer<typeof AuditQueryRequestSchema>;

/** One audit row, whichever service wrote it. */
export const AuditItemSchema = z.object({
  service: z.enum(AUDIT_SERVICES),
  /** The row's id in its service's table (unique per service). */
  id: z.string(),
  tenant: z.string(),
  /** Who acted: a key's name (a person or client), `task:<id>` (an agent's tool call), `deploy:<instance>`, `system`. */
  actor: z.string().nullable(),
  /** The acting API key, when a key acted. */
  actorKeyId: z.string().nullable(),
  actorName: z.string().nullable(),
  action: z.string(),
  target: z.string().nullable(),
  details: z.record(z.string(), z.unknown()),
  traceId: z.string().nullable(),
  at: z.string(),
});
export type AuditItem = z.infer<typeof AuditItemSchema>;

export const AuditQueryResponseSchema = z.object({ items: z.array(AuditItemSchema) });
export type AuditQueryResponse = z.infer<typeof AuditQueryResponseSchema>;
