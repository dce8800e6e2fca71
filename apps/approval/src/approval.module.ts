import { Module } from '@nestjs/common';
import { ConsoleController } from './console/console.controller';
import { ApprovalCheckResponder } from './gates/approval-check.responder';
import { ApprovalsHttpController } from './gates/approvals.http.controller';
import { BacklogMetrics } from './gates/backlog.metrics';
import { DecisionPublisher } from './gates/decision.publisher';
import { GatesRepository } from './gates/gates.repository';
import { GatesService } from './gates/gates.service';

@Module({
  controllers: [ApprovalsHttpController, ConsoleController],
  providers: [GatesRepository, DecisionPublisher, GatesService, ApprovalCheckResponder, BacklogMetrics],
})
export class ApprovalModule {}
