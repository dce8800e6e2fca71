import { Inject, Injectable } from '@nestjs/common';
import type { OnApplicationBootstrap } from '@nestjs/common';
import { ApprovalDecidedSchema, gateResumeSuffix, KeelError } from '@keel/contracts';
import type { ApprovalDecided } from '@keel/contracts';
import { Bus, STREAMS } from '@keel/messaging';
import { LOGGER } from '@keel/service-kit';
import type { Logger } from '@keel/telemetry';
import { counter } from '@keel/telemetry';
import { CheckpointRepository } from '../checkpoints/checkpoint.repository';
import type { NewEvent } from '../checkpoints/checkpoint.repository';
import { TaskEventsService } from '../events/task-events.service';
import { StepDispatcher } from '../steps/step.dispatcher';
import { DecisionVerifier } from './decision.verifier';

const refused = counter('keel_approval_messages_refused_total', 'Gate messages from the approval service refused by the orchestrator (bad signature or other arguments)', ['kind']);

/**
 * Gate transitions from the approval service (`keel.v1.approvals.decided`,
 * JetStream), each verified first (`DecisionVerifier`: HMAC and arguments):
 * - `decided` (a person approved or rejected) and `expired` (nobody decided
 *   in time): resume the waiting step. It runs again from its checkpoint with
 *   the stored model turn, asks the approval service again (which answers from
 *   the gate: run, rejected, or rejected as expired), and executes or skips the
 *   call; nothing that already ran re-runs. An expiry is recorded as an
 *   `approval.expired` event first.
 * - `escalated`: the gate moved to the next group; recorded as an
 *   `approval.escalated` event, the task keeps waiting.
 */
@Injectable()
export class ApprovalDecisionsConsumer implements OnApplicationBootstrap {
  constructor(
    @Inject(Bus) private readonly bus: Bus,
    @Inject(CheckpointRepository) private readonly checkpoints: CheckpointRepository,
    @Inject(StepDispatcher) private readonly dispatcher: StepDispatcher,
    @Inject(TaskEventsService) private readonly events: TaskEventsService,
    @Inject(DecisionVerifier) private readonly verifier: DecisionVerifier,
    @Inject(LOGGER) private readonly logger: Logger,
  ) {}

  async onApplicationBootstrap(): Promise<void> {
    await this.bus.consume({
      stream: STREAMS.approvals,
      durable: 'orchestrator-approvals',
      schema: ApprovalDecidedSchema,
      handler: (d) => this.onDecision(d),
    });
  }

  async onDecision(d: ApprovalDecided): Promise<void> {
    const state = await this.checkpoints.head(d.taskId);
    if (state && state.tenant === d.tenant && state.status === 'running' && state.step === d.step - 1) {
      // Decided before the step that opened the gate committed its pause (a fast or automated approver): try again shortly.
      throw new KeelError('unavailable', `task ${d.taskId} has not parked step ${d.step} yet`, { retryable: true, retryAfterMs: 200 });
    }
    if (!state || state.tenant !== d.tenant || state.status !== 'waiting_approval' || state.pending?.step !== d.step) {
      this.logger.info({ task_id: d.taskId, gate: d.gateId, kind: d.kind }, 'gate message for a task that no longer waits on it; ignoring');
      return;
    }
    const problem = this.verifier.problem(d, state.pending);
    if (problem) {
      refused.inc({ kind: d.kind });
      this.logger.error({ task_id: d.taskId, gate: d.gateId, kind: d.kind, revision: d.revision }, `refused an approval message: ${problem}`);
      return;
    }
    if (d.kind === 'escalated') {
      await this.record(d.taskId, { type: 'approval.escalated', data: { step: d.step, index: d.index, gateId: d.gateId, level: d.level, group: d.group, expiresAt: d.expiresAt } });
      return;
    }
    if (d.kind === 'expired') {
      await this.record(d.taskId, { type: 'approval.expired', data: { step: d.step, index: d.index, gateId: d.gateId, reason: d.reason } });
    }
    // An approval of one call travels with the resume, so the step need not ask the approval service again.
    const approved = d.kind === 'decided' && d.decision === 'approve' && d.index !== undefined
      ? { approved: { gateId: d.gateId, index: d.index, revision: d.revision, argsHash: d.argsHash, signature: d.signature, tenant: d.tenant } }
      : {};
    await this.dispatcher.dispatch(d.taskId, d.step, 'resume', state.traceparent, gateResumeSuffix(d.gateId, d.revision), approved);
  }

  /** Appended to the task's event log (durable), then published live like every other event. */
  private async record(taskId: string, event: NewEvent): Promise<void> {
    this.events.publish(await this.checkpoints.appendEvents(taskId, [event]));
  }
}
