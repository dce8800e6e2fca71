import { Controller, Get, Inject, Query, Req } from '@nestjs/common';
import { KeelError } from '@keel/contracts';
import { formatIssues } from '@keel/messaging';
import { RequireRoles } from '@keel/service-kit';
import type { AuthedRequest } from '@keel/service-kit';
import { FeedbackQuerySchema, FeedbackRepository } from './feedback.repository';
import type { FeedbackItem } from './feedback.repository';

/**
 * The tenant's user feedback with the tasks it rates, newest first:
 * `GET /v1/feedback?score=-1&since=&agent=&limit=`. `keel feedback-candidates`
 * turns the thumbs-down ones into eval dataset candidates.
 */
@Controller('v1/feedback')
export class FeedbackHttpController {
  constructor(@Inject(FeedbackRepository) private readonly feedback: FeedbackRepository) {}

  @Get()
  @RequireRoles('viewer')
  async list(@Req() req: AuthedRequest, @Query() query: Record<string, unknown>): Promise<{ items: FeedbackItem[] }> {
    const parsed = FeedbackQuerySchema.safeParse(query);
    if (!parsed.success) throw new KeelError('invalid_request', `invalid feedback query: ${formatIssues(parsed.error)}`, { details: parsed.error.issues });
    return { items: await this.feedback.list(req.principal!.tenant, parsed.data) };
  }
}
