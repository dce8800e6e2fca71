import { Inject, Injectable } from '@nestjs/common';
import type { OnApplicationBootstrap } from '@nestjs/common';
import { ApprovalDecidedSchema } from '@keel/contracts';
import type { ApprovalDecided } from '@keel/contracts';
import { Bus, STREAMS } from '@keel/messaging';
import { LOGGER } from '@keel/service-kit';
import type { Logger } from '@keel/telemetry';
import { CheckpointRepository } from '../checkpoints/checkpoint.repository';
import { StepDispatcher } from '../steps/step.dispatcher';

/**
 * A human decided a gate (`keel.v1.approvals.decided`, JetStream): resume the
 * waiting step. The step runs again from its checkpoint with the stored model
 * turn, asks the approval service again (which now answers from the decided
 * gate), and executes or skips the call; nothing that already ran re-runs.
 */
@Injectable()
export class ApprovalDecisionsConsumer implements OnApplicationBootstrap {
  constructor(
    @Inject(Bus) private readonly bus: Bus,
    @Inject(CheckpointRepository) private readonly checkpoints: CheckpointRepository,
    @Inject(StepDispatcher) private readonly dispatcher: StepDispatcher,
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

  private async onDecision(d: ApprovalDecided): Promise<void> {
    const state = await this.checkpoints.load(d.taskId);
    if (!state || state.tenant !== d.tenant || state.status !== 'waiting_approval' || state.pending?.step !== d.step) {
      this.logger.info({ task_id: d.taskId, gate: d.gateId }, 'decision for a task that no longer waits on it; ignoring');
      return;
    }
    await this.dispatcher.dispatch(d.taskId, d.step, 'resume', state.traceparent, `:${d.gateId}`);
  }
}
