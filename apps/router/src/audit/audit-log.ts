import { Inject, Injectable } from '@nestjs/common';
import type { OnApplicationBootstrap } from '@nestjs/common';
import { AuditQueryRequestSchema, QueueGroups, Subjects } from '@keel/contracts';
import type { AuditItem, AuditQueryRequest, AuditQueryResponse, Principal } from '@keel/contracts';
import { Bus } from '@keel/messaging';
import { DataSource } from '@keel/persistence';
import { currentTraceId } from '@keel/telemetry';

/** Anything that runs SQL: the DataSource, or the EntityManager of an open transaction (so the audit row commits with the change). */
export interface Queryable {
  query(sql: string, params?: unknown[]): Promise<unknown>;
}

export interface RouterAuditEntry {
  tenant: string;
  /** The admin's key that acted. */
  actor: Pick<Principal, 'keyId' | 'name'>;
  /** `budget.override_set`, `budget.override_removed`, `cache.invalidated`, `cache.user_forgotten`. */
  action: string;
  target?: string | null;
  details?: Record<string, unknown>;
}

type Row = { id: string; tenant: string; actor_key_id: string | null; actor_name: string | null; action: string; target: string | null; details: Record<string, unknown>; trace_id: string | null; at: Date };

/**
 * `router.audit_log` (append-only: triggers refuse UPDATE, DELETE and
 * TRUNCATE). Pass the transaction's EntityManager to `record` so the row
 * commits or rolls back with the change it describes.
 */
@Injectable()
export class RouterAuditLog {
  constructor(@Inject(DataSource) private readonly db: DataSource) {}

  async record(q: Queryable, entry: RouterAuditEntry): Promise<void> {
    await q.query(
      `INSERT INTO router.audit_log (tenant, actor_key_id, actor_name, action, target, details, trace_id)
       VALUES ($1, $2, $3, $4, $5, $6::jsonb, $7)`,
      [entry.tenant, entry.actor.keyId, entry.actor.name, entry.action, entry.target ?? null, JSON.stringify(entry.details ?? {}), currentTraceId() ?? null],
    );
  }

  /** A tenant's rows, newest first. */
  async list(q: AuditQueryRequest): Promise<AuditItem[]> {
    const params: unknown[] = [q.tenant];
    let where = 'tenant = $1';
    if (q.action) where += ` AND action = $${params.push(q.action)}`;
    if (q.since) where += ` AND at >= $${params.push(q.since)}`;
    const rows: Row[] = await this.db.query(
      `SELECT id::text, tenant, actor_key_id, actor_name, action, target, details, trace_id, at FROM router.audit_log
        WHERE ${where} ORDER BY at DESC, id DESC LIMIT $${params.push(q.limit)}`,
      params,
    );
    return rows.map((r) => ({
      service: 'router', id: r.id, tenant: r.tenant, actor: r.actor_name ?? r.actor_key_id, actorKeyId: r.actor_key_id, actorName: r.actor_name,
      action: r.action, target: r.target, details: r.details, traceId: r.trace_id, at: r.at.toISOString(),
    }));
  }
}

/** `keel.v1.audit.query.router` (request/reply, queue group `router`): for the orchestrator's merged `GET /v1/admin/audit`. */
@Injectable()
export class AuditQueryResponder implements OnApplicationBootstrap {
  constructor(@Inject(Bus) private readonly bus: Bus, @Inject(RouterAuditLog) private readonly audit: RouterAuditLog) {}

  onApplicationBootstrap(): void {
    this.bus.serve({
      subject: Subjects.auditQuery('router'), queue: QueueGroups.router, schema: AuditQueryRequestSchema,
      handler: async (req): Promise<AuditQueryResponse> => ({ items: await this.audit.list(req) }),
    });
  }
}
