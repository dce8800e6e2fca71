import { Controller, Get, Inject, Param, Query, Req } from '@nestjs/common';
import { KeelError } from '@keel/contracts';
import { formatIssues } from '@keel/messaging';
import { RequireRoles } from '@keel/service-kit';
import type { AuthedRequest } from '@keel/service-kit';
import { ExperimentQuerySchema, ExperimentsService } from './experiments.service';
import type { ExperimentResults } from './experiments.service';

const AGENT = /^[a-z0-9][a-z0-9_-]{0,62}$/;

/** Per-variant results of an agent's A/B experiment, for the caller's tenant (docs/experiments.md). */
@Controller('v1/experiments')
export class ExperimentsHttpController {
  constructor(@Inject(ExperimentsService) private readonly experiments: ExperimentsService) {}

  @Get(':agent')
  @RequireRoles('viewer')
  async results(@Req() req: AuthedRequest, @Param('agent') agent: string, @Query() query: Record<string, unknown>): Promise<ExperimentResults> {
    if (!AGENT.test(agent)) throw new KeelError('invalid_request', `"${agent.slice(0, 80)}" is not an agent name (lowercase letters, digits, - and _)`);
    const parsed = ExperimentQuerySchema.safeParse(query);
    if (!parsed.success) throw new KeelError('invalid_request', `invalid experiment query: ${formatIssues(parsed.error)}`, { details: parsed.error.issues });
    return this.experiments.results(req.principal!.tenant, agent, parsed.data);
  }
}
