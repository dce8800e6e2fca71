import { Module } from '@nestjs/common';
import { PrincipalResolver } from '@keel/service-kit';
import { ApprovalDecisionsConsumer } from './approvals/approval-decisions.consumer';
import { DecisionVerifier } from './approvals/decision.verifier';
import { BatchSettledConsumer } from './batches/batch-settled.consumer';
import { ApiKeysHttpController } from './auth/api-keys.http.controller';
import { ApiKeysRepository } from './auth/api-keys.repository';
import { AuditHttpController } from './audit/audit.http.controller';
import { AuditLog } from './audit/audit-log';
import { AgentPolicyTracker } from './audit/agent-policies';
import { AuditFanout } from './audit/audit-fanout';
import { AuthVerifyResponder } from './auth/auth-verify.responder';
import { DbPrincipalResolver } from './auth/db-principal.resolver';
import { CheckpointRepository } from './checkpoints/checkpoint.repository';
import { TaskEventsService } from './events/task-events.service';
import { ExperimentsHttpController } from './experiments/experiments.http.controller';
import { ExperimentsRepository } from './experiments/experiments.repository';
import { ExperimentsService } from './experiments/experiments.service';
import { FeedbackHttpController } from './feedback/feedback.http.controller';
import { FeedbackRepository } from './feedback/feedback.repository';
import { MemoryHttpController } from './memory/memory.http.controller';
import { MemoryRepository } from './memory/memory.repository';
import { MemoryService } from './memory/memory.service';
import { PeersClient } from './peers/peers.client';
import { ReplayHttpController } from './replay/replay.http.controller';
import { ReplayRepository } from './replay/replay.repository';
import { ReplayService } from './replay/replay.service';
import { StepDispatcher } from './steps/step.dispatcher';
import { StepRunner } from './steps/step-runner.service';
import { TaskWatchdog } from './tasks/task-watchdog.service';
import { QueueMetrics } from './tasks/queue-metrics.service';
import { CancellationRegistry } from './steps/cancellation.registry';
import { TaskRepository } from './tasks/task.repository';
import { TaskTimelineResponder } from './tasks/task-timeline.responder';
import { TasksHttpController } from './tasks/tasks.http.controller';
import { TasksMessageController } from './tasks/tasks.message.controller';
import { TasksService } from './tasks/tasks.service';

@Module({
  controllers: [TasksHttpController, ReplayHttpController, MemoryHttpController, ApiKeysHttpController, AuditHttpController, ExperimentsHttpController, FeedbackHttpController],
  providers: [
    AuthVerifyResponder, AuditFanout, AgentPolicyTracker,
    TaskRepository, TasksService, TasksMessageController, TaskWatchdog, CancellationRegistry, QueueMetrics, TaskTimelineResponder,
    CheckpointRepository, TaskEventsService, PeersClient, StepDispatcher, StepRunner, DecisionVerifier, ApprovalDecisionsConsumer, BatchSettledConsumer,
    MemoryRepository, MemoryService,
    ReplayRepository, ReplayService,
    ExperimentsRepository, ExperimentsService, FeedbackRepository,
  ],
})
export class OrchestratorModule {}

/** Global (service-kit's infra module): the guard resolves keys through these, and the NATS verify responder shares the cache; AuditLog is injectable everywhere. */
export const orchestratorAuthProviders = [AuditLog, ApiKeysRepository, DbPrincipalResolver, { provide: PrincipalResolver, useExisting: DbPrincipalResolver }];
