import { Inject, Injectable } from '@nestjs/common';
import type { OnApplicationBootstrap } from '@nestjs/common';
import { ApprovalCheckRequestSchema, ApprovalWithdrawRequestSchema, QueueGroups, Subjects } from '@keel/contracts';
import type { ApprovalCheckResponse } from '@keel/contracts';
import { Bus } from '@keel/messaging';
import { GatesService } from './gates.service';

/**
 * The gate service's request/reply subjects (queue group `approval`): `keel.v1.approvals.check`, asked
 * before proposed tool calls run, and `keel.v1.approvals.withdraw`, sent when a task ends without its gates.
 */
@Injectable()
export class GatesResponder implements OnApplicationBootstrap {
  constructor(@Inject(Bus) private readonly bus: Bus, @Inject(GatesService) private readonly gates: GatesService) {}

  onApplicationBootstrap(): void {
    this.bus.serve({
      subject: Subjects.approvalsCheck,
      queue: QueueGroups.approval,
      schema: ApprovalCheckRequestSchema,
      handler: (req): Promise<ApprovalCheckResponse> => this.gates.check(req),
    });
    this.bus.serve({
      subject: Subjects.approvalsWithdraw,
      queue: QueueGroups.approval,
      schema: ApprovalWithdrawRequestSchema,
      handler: (req) => this.gates.withdraw(req),
    });
  }
}
