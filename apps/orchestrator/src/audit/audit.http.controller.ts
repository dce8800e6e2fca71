import { Controller, Get, Inject, Query, Req } from '@nestjs/common';
import { KeelError } from '@keel/contracts';
import { formatIssues } from '@keel/messaging';
import { RequireRoles } from '@keel/service-kit';
import type { AuthedRequest } from '@keel/service-kit';
import { AuditLog, AuditQuerySchema } from './audit-log';
import type { AuditRecord } from './audit-log';

/** The tenant's audit log, newest first: who changed keys, who deleted a user's memory. Admins of the tenant only. */
@Controller('v1/admin/audit')
export class AuditHttpController {
  constructor(@Inject(AuditLog) private readonly audit: AuditLog) {}

  @Get()
  @RequireRoles('admin')
  async list(@Req() req: AuthedRequest, @Query() query: Record<string, unknown>): Promise<{ items: AuditRecord[] }> {
    const parsed = AuditQuerySchema.safeParse(query);
    if (!parsed.success) throw new KeelError('invalid_request', `invalid audit query: ${formatIssues(parsed.error)}`, { details: parsed.error.issues });
    return { items: await this.audit.list(req.principal!.tenant, parsed.data) };
  }
}
