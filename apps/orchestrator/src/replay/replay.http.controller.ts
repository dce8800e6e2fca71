import { Body, Controller, Get, HttpCode, Inject, Param, Post, Req } from '@nestjs/common';
import { KeelError } from '@keel/contracts';
import { formatIssues } from '@keel/messaging';
import { RequireRoles } from '@keel/service-kit';
import type { AuthedRequest } from '@keel/service-kit';
import type { Comparison } from './compare';
import { ReplayRequestSchema } from './replay-plan';
import { ReplayService } from './replay.service';
import type { ReplayAccepted } from './replay.service';

/** `POST /v1/tasks/{id}/replay` and `GET /v1/tasks/{id}/compare` (docs/replay.md). */
@Controller('v1/tasks')
export class ReplayHttpController {
  constructor(@Inject(ReplayService) private readonly replays: ReplayService) {}

  @Post(':id/replay')
  @HttpCode(202)
  @RequireRoles('submitter')
  async replay(@Req() req: AuthedRequest, @Param('id') id: string, @Body() body: unknown): Promise<ReplayAccepted> {
    if (!req.is('application/json')) throw new KeelError('unsupported_media_type', 'send the body as JSON with Content-Type: application/json');
    const parsed = ReplayRequestSchema.safeParse(body);
    if (!parsed.success) throw new KeelError('invalid_request', `invalid replay: ${formatIssues(parsed.error)}`, { details: parsed.error.issues });
    return this.replays.replay(req.principal!.tenant, id, parsed.data);
  }

  @Get(':id/compare')
  @RequireRoles('viewer', 'submitter', 'approver')
  compare(@Req() req: AuthedRequest, @Param('id') id: string): Promise<Comparison> {
    return this.replays.compare(req.principal!.tenant, id);
  }
}
