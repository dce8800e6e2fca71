import { Controller, Delete, Get, Inject, Param, Req } from '@nestjs/common';
import { KeelError } from '@keel/contracts';
import { RequireRoles } from '@keel/service-kit';
import type { AuthedRequest } from '@keel/service-kit';
import { AuditLog } from '../audit/audit-log';
import { MemoryService } from './memory.service';
import type { ForgetReport, UserMemoryExport } from './memory.repository';

const USER_ID = /^.{1,200}$/su;

/**
 * A user's memory, for data-subject requests: export everything Keel
 * remembers about them, or delete it (right to be forgotten). Admins of the
 * tenant only; another tenant's user is simply not there.
 */
@Controller('v1/memory/users')
export class MemoryHttpController {
  constructor(
    @Inject(MemoryService) private readonly memory: MemoryService,
    @Inject(AuditLog) private readonly audit: AuditLog,
  ) {}

  @Get(':userId')
  @RequireRoles('admin')
  export(@Req() req: AuthedRequest, @Param('userId') userId: string): Promise<UserMemoryExport> {
    return this.memory.exportUser(req.principal!.tenant, checked(userId));
  }

  /** 200 with what was deleted, per table (and the router's cached answers); 409 while a task of the user is unfinished, 503 when the router cannot be reached (nothing is deleted then). */
  @Delete(':userId')
  @RequireRoles('admin')
  async forget(@Req() req: AuthedRequest, @Param('userId') userId: string): Promise<{ userId: string; deleted: ForgetReport & { cacheEntries: number } }> {
    const principal = req.principal!;
    const deleted = await this.memory.forgetUser(principal.tenant, checked(userId), { keyId: principal.keyId, name: principal.name });
    // After the deletion's own transaction: a crash in between loses this row, never the deletion.
    await this.audit.record(null, { tenant: req.principal!.tenant, actor: req.principal!, action: 'memory.deleted', target: `user:${userId}`, details: { deleted } });
    return { userId, deleted };
  }
}

function checked(userId: string): string {
  if (!USER_ID.test(userId)) throw new KeelError('invalid_request', 'userId is 1-200 characters (as given in userId on POST /v1/tasks)');
  return userId;
}
