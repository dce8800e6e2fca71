import { Inject, Injectable } from '@nestjs/common';
import type { OnApplicationBootstrap } from '@nestjs/common';
import { ApprovalCheckRequestSchema, QueueGroups, Subjects } from '@keel/contracts';
import type { ApprovalCheckResponse } from '@keel/contracts';
import { Bus } from '@keel/messaging';
import { GatesService } from './gates.service';

/** `keel.v1.approvals.check` (request/reply, queue group `approval`): the orchestrator asks before it runs proposed tool calls. */
@Injectable()
export class ApprovalCheckResponder implements OnApplicationBootstrap {
  constructor(@Inject(Bus) private readonly bus: Bus, @Inject(GatesService) private readonly gates: GatesService) {}

  onApplicationBootstrap(): void {
    this.bus.serve({
      subject: Subjects.approvalsCheck,
      queue: QueueGroups.approval,
      schema: ApprovalCheckRequestSchema,
      handler: (req): Promise<ApprovalCheckResponse> => this.gates.check(req),
    });
  }
}
