import { Inject, Injectable } from '@nestjs/common';
import type { OnApplicationBootstrap } from '@nestjs/common';
import { AuditQueryRequestSchema, QueueGroups, Subjects } from '@keel/contracts';
import type { AuditItem, AuditQueryResponse } from '@keel/contracts';
import { Bus } from '@keel/messaging';
import { GatesRepository } from '../gates/gates.repository';
import type { AuditRow } from '../gates/gates.repository';

/** One `approval.audit_log` row as the merged audit log shows it: the gate is the target. */
export const toAuditItem = (r: AuditRow): AuditItem => ({
  service: 'approval', id: r.id, tenant: r.tenant, actor: r.actor, actorKeyId: typeof r.details.keyId === 'string' ? r.details.keyId : null, actorName: r.actor,
  action: r.action, target: r.gateId ? `gate:${r.gateId}` : null, details: r.details, traceId: r.traceId, at: r.at.toISOString(),
});

/** `keel.v1.audit.query.approval` (request/reply, queue group `approval`): a tenant's gate audit rows for the orchestrator's `GET /v1/admin/audit`. */
@Injectable()
export class AuditQueryResponder implements OnApplicationBootstrap {
  constructor(@Inject(Bus) private readonly bus: Bus, @Inject(GatesRepository) private readonly gates: GatesRepository) {}

  onApplicationBootstrap(): void {
    this.bus.serve({
      subject: Subjects.auditQuery('approval'), queue: QueueGroups.approval, schema: AuditQueryRequestSchema,
      handler: async (req): Promise<AuditQueryResponse> => ({ items: (await this.gates.auditOf(req.tenant, req)).map(toAuditItem) }),
    });
  }
}
