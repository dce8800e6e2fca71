import { Module } from '@nestjs/common';
import { AuditQueryResponder } from './audit/audit-query.responder';
import { ConsoleApiController } from './console/console-api.controller';
import { ConsoleController } from './console/console.controller';
import { PendingWatch } from './console/pending-watch.service';
import { GatesResponder } from './gates/gates.responder';
import { ApprovalsHttpController } from './gates/approvals.http.controller';
import { BacklogMetrics } from './gates/backlog.metrics';
import { DecisionPublisher } from './gates/decision.publisher';
import { DecisionSigner } from './gates/decision.signer';
import { GateSweeper } from './gates/gate.sweeper';
import { GatesRepository } from './gates/gates.repository';
import { GatesService } from './gates/gates.service';
import { Notifier } from './gates/notifier';

@Module({
  // ConsoleApiController first: its GET /v1/approvals/stream must match before GET /v1/approvals/:id.
  controllers: [ConsoleApiController, ApprovalsHttpController, ConsoleController],
  providers: [GatesRepository, DecisionSigner, DecisionPublisher, Notifier, GatesService, GateSweeper, GatesResponder, BacklogMetrics, PendingWatch, AuditQueryResponder],
})
export class ApprovalModule {}
