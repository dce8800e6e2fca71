import { Body, Controller, HttpCode, Inject, Post } from '@nestjs/common';
import { KeelError, ScreenRequestSchema } from '@keel/contracts';
import type { ScreenResponse } from '@keel/contracts';
import { formatIssues } from '@keel/messaging';
import { RequireRoles } from '@keel/service-kit';
import { ScreenService } from './screen.service';

/** `POST /v1/screen {text, channel}` for operators testing a policy. */
@Controller('v1/screen')
export class ScreenHttpController {
  constructor(@Inject(ScreenService) private readonly screening: ScreenService) {}

  @Post()
  @HttpCode(200)
  @RequireRoles('viewer', 'submitter', 'approver')
  async screen(@Body() body: unknown): Promise<ScreenResponse> {
    const parsed = ScreenRequestSchema.safeParse(body);
    if (!parsed.success) throw new KeelError('invalid_request', `invalid screen request: ${formatIssues(parsed.error)}`);
    return this.screening.screen(parsed.data);
  }
}
