import { Body, Controller, Get, Headers, HttpCode, Inject, Param, Post, Query, Req } from '@nestjs/common';
import type { Request } from 'express';
import { DecisionBodySchema, KeelError } from '@keel/contracts';
import { formatIssues } from '@keel/messaging';
import { RequireRoles } from '@keel/service-kit';
import type { AuthedRequest } from '@keel/service-kit';
import { LIST_FILTERS } from './gates.repository';
import type { ListFilter } from './gates.repository';
import { GatesService } from './gates.service';
import type { GateView } from './gates.service';

@Controller('v1/approvals')
export class ApprovalsHttpController {
  constructor(@Inject(GatesService) private readonly gates: GatesService) {}

  /** Newest first, at most 100, the caller's tenant only. `status=review_pending` is the review queue (review records nobody looked at yet). */
  @Get()
  @RequireRoles('approver', 'viewer')
  async list(@Req() req: AuthedRequest, @Query('status') status?: unknown): Promise<{ items: GateView[] }> {
    if (status !== undefined && !(typeof status === 'string' && (LIST_FILTERS as readonly string[]).includes(status))) {
      throw new KeelError('invalid_request', `status must be one of ${LIST_FILTERS.join(', ')}`);
    }
    return { items: await this.gates.list(req.principal!.tenant, status as ListFilter | undefined) };
  }

  @Get(':id')
  @RequireRoles('approver', 'viewer')
  get(@Req() req: AuthedRequest, @Param('id') id: string): Promise<GateView> {
    return this.gates.get(req.principal!.tenant, id);
  }

  /** `If-Match: "<argsHash>"` (optional) refuses the decision when the arguments are no longer the ones the caller saw. */
  @Post(':id/decision')
  @HttpCode(200)
  @RequireRoles('approver')
  async decide(@Req() req: AuthedRequest, @Param('id') id: string, @Body() body: unknown, @Headers('if-match') ifMatch?: string): Promise<GateView> {
    requireJson(req);
    const parsed = DecisionBodySchema.safeParse(body);
    if (!parsed.success) throw new KeelError('invalid_request', `invalid decision: ${formatIssues(parsed.error)}`, { details: parsed.error.issues });
    const expect = ifMatch?.trim().replace(/^W\//, '').replace(/^"(.*)"$/, '$1');
    return this.gates.decide(req.principal!, id, parsed.data, expect || undefined);
  }
}

function requireJson(req: Request): void {
  if (!req.is('application/json')) {
    throw new KeelError('unsupported_media_type', 'send the body as JSON with Content-Type: application/json');
  }
}
