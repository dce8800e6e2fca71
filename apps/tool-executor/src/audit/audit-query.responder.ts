import { Inject, Injectable } from '@nestjs/common';
import type { OnApplicationBootstrap } from '@nestjs/common';
import { AuditQueryRequestSchema, QueueGroups, Subjects } from '@keel/contracts';
import type { AuditItem, AuditQueryRequest, AuditQueryResponse } from '@keel/contracts';
import { Bus } from '@keel/messaging';
import { DataSource } from '@keel/persistence';

type Row = { id: string; tenant: string; actor: string; action: string; target: string | null; details: Record<string, unknown>; trace_id: string | null; at: Date };

/** A tenant's rows of `tool_executor.audit_log`, newest first (the orchestrator's `GET /v1/admin/audit` merges them). */
export async function listToolAudit(db: Pick<DataSource, 'query'>, q: AuditQueryRequest): Promise<AuditItem[]> {
  const params: unknown[] = [q.tenant];
  let where = 'tenant = $1';
  if (q.action) where += ` AND action = $${params.push(q.action)}`;
  if (q.since) where += ` AND at >= $${params.push(q.since)}`;
  const rows: Row[] = await db.query(
    `SELECT id::text, tenant, actor, action, target, details, trace_id, at FROM tool_executor.audit_log
      WHERE ${where} ORDER BY at DESC, id DESC LIMIT $${params.push(q.limit)}`,
    params,
  );
  return rows.map((r) => ({
    service: 'tool-executor', id: r.id, tenant: r.tenant, actor: r.actor, actorKeyId: null, actorName: null, action: r.action, target: r.target,
    details: r.details, traceId: r.trace_id, at: r.at.toISOString(),
  }));
}

/** `keel.v1.audit.query.tool-executor` (request/reply, queue group `tool-executor`). */
@Injectable()
export class AuditQueryResponder implements OnApplicationBootstrap {
  constructor(@Inject(Bus) private readonly bus: Bus, @Inject(DataSource) private readonly db: DataSource) {}

  onApplicationBootstrap(): void {
    this.bus.serve({
      subject: Subjects.auditQuery('tool-executor'), queue: QueueGroups.toolExecutor, schema: AuditQueryRequestSchema,
      handler: async (req): Promise<AuditQueryResponse> => ({ items: await listToolAudit(this.db, req) }),
    });
  }
}
