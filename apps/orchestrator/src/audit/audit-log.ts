import { Inject, Injectable } from '@nestjs/common';
import { z } from 'zod';
import { DataSource } from '@keel/persistence';
import type { Principal } from '@keel/contracts';
import { currentTraceId } from '@keel/telemetry';

/** Anything that runs SQL: the DataSource, or the EntityManager of an open transaction (so the audit row commits with the change). */
export interface Queryable {
  query(sql: string, params?: unknown[]): Promise<unknown>;
}

export interface AuditEntry {
  tenant: string;
  /** The key that acted; a name alone for a non-key actor (`deploy:<instance>`); null for the system itself. */
  actor: Pick<Principal, 'keyId' | 'name'> | { keyId: null; name: string } | null;
  /** `<noun>.<verb>`, e.g. `api_key.created`, `memory.deleted`. */
  action: string;
  /** What was acted on: a key id, `user:<userId>`, ... */
  target?: string | null;
  /** Never a secret: keys are named by their prefix. */
  details?: Record<string, unknown>;
}

export interface AuditRecord {
  id: string;
  tenant: string;
  actorKeyId: string | null;
  actorName: string | null;
  action: string;
  target: string | null;
  details: Record<string, unknown>;
  traceId: string | null;
  at: string;
}

export const AUDIT_ACTION = /^[a-z][a-z0-9_]*(\.[a-z][a-z0-9_]*)+$/;
export const AUDIT_MAX_LIMIT = 500;
export const AUDIT_DEFAULT_LIMIT = 100;

/** `GET /v1/admin/audit` query: every value arrives as a string. */
export const AuditQuerySchema = z.object({
  action: z.string().max(100).regex(AUDIT_ACTION, 'action looks like api_key.created').optional(),
  since: z.iso.datetime({ offset: true, error: 'since is an ISO 8601 date-time, e.g. 2025-01-31T00:00:00Z' }).optional(),
  limit: z.string().regex(/^\d{1,4}$/, `limit is a whole number from 1 to ${AUDIT_MAX_LIMIT}`)
    .transform(Number)
    .pipe(z.number().int().min(1, `limit is a whole number from 1 to ${AUDIT_MAX_LIMIT}`).max(AUDIT_MAX_LIMIT, `limit is at most ${AUDIT_MAX_LIMIT}`))
    .optional(),
}).strict();
export type AuditQuery = z.output<typeof AuditQuerySchema>;

/**
 * The append-only audit log (`orchestrator.audit_log`; triggers refuse UPDATE,
 * DELETE and TRUNCATE). Pass the transaction's EntityManager to `record` so
 * the row commits or rolls back with the change it describes.
 */
@Injectable()
export class AuditLog {
  constructor(@Inject(DataSource) private readonly db: DataSource) {}

  /** Appends one entry on `q` (a transaction's EntityManager), or on the service's own pool when `q` is null. */
  async record(q: Queryable | null, entry: AuditEntry): Promise<void> {
    await (q ?? this.db).query(
      `INSERT INTO orchestrator.audit_log (tenant, actor_key_id, actor_name, action, target, details, trace_id)
       VALUES ($1, $2, $3, $4, $5, $6::jsonb, $7)`,
      [entry.tenant, entry.actor?.keyId ?? null, entry.actor?.name ?? null, entry.action, entry.target ?? null, JSON.stringify(entry.details ?? {}), currentTraceId() ?? null],
    );
  }

  /** A tenant's entries, newest first. */
  async list(tenant: string, query: AuditQuery = {}): Promise<AuditRecord[]> {
    const params: unknown[] = [tenant];
    let where = 'tenant = $1';
    if (query.action) where += ` AND action = $${params.push(query.action)}`;
    if (query.since) where += ` AND at >= $${params.push(query.since)}`;
    const limit = Math.min(query.limit ?? AUDIT_DEFAULT_LIMIT, AUDIT_MAX_LIMIT);
    const rows = await this.db.query<{ id: string; tenant: string; actor_key_id: string | null; actor_name: string | null; action: string; target: string | null; details: Record<string, unknown>; trace_id: string | null; at: Date }[]>(
      `SELECT id::text, tenant, actor_key_id, actor_name, action, target, details, trace_id, at
         FROM orchestrator.audit_log WHERE ${where} ORDER BY at DESC, id DESC LIMIT ${limit}`,
      params,
    );
    return rows.map((r) => ({
      id: r.id, tenant: r.tenant, actorKeyId: r.actor_key_id, actorName: r.actor_name, action: r.action, target: r.target,
      details: r.details, traceId: r.trace_id, at: r.at.toISOString(),
    }));
  }
}
