import { Controller, Get, Inject, Query, Req } from '@nestjs/common';
import { KeelError } from '@keel/contracts';
import { formatIssues } from '@keel/messaging';
import { RequireRoles } from '@keel/service-kit';
import type { AuthedRequest } from '@keel/service-kit';
import { AuditQuerySchema } from './audit-log';
import { AuditFanout } from './audit-fanout';
import type { MergedAudit } from './audit-fanout';

/**
 * The tenant's audit log, newest first, merged from every service that keeps
 * one (docs/audit.md): key changes, memory deletions, approvals, high-risk
 * tool calls, budget overrides, cache invalidations, agent policy changes.
 * Admins of the tenant only.
 */
@Controller('v1/admin/audit')
export class AuditHttpController {
  constructor(@Inject(AuditFanout) private readonly audit: AuditFanout) {}

  @Get()
  @RequireRoles('admin')
  async list(@Req() req: AuthedRequest, @Query() query: Record<string, unknown>): Promise<MergedAudit> {
    const parsed = AuditQuerySchema.safeParse(query);
    if (!parsed.success) throw new KeelError('invalid_request', `invalid audit query: ${formatIssues(parsed.error)}`, { details: parsed.error.issues });
    return this.audit.query(req.principal!.tenant, parsed.data);
  }
}
